//! Rows appended to the log's tables (bel.events, bel.event_partitions) without a statement:
//! straight to the table access method and to every index, the way COPY FROM writes rows.
//! The table's constraints are checked (NOT NULL, and CHECK by `row_checks`, compiled once
//! per backend), each unique index checks its key
//! (a duplicate eventId raises 23505 as an INSERT would), the heap and index inserts are
//! WAL-logged as any insert's. What it saves is the statement: a prepared INSERT starts an
//! executor per call (plan locks, a node tree, a projection per row), about a third of a
//! lone append's instructions (callgrind, docs/benchmarks.md).
//!
//! It runs no INSERT triggers, so a table that has one is refused with an error rather than
//! written behind the trigger's back. UPDATE, DELETE and TRUNCATE never come this way: the
//! append-only triggers stand as they are.
use std::ffi::CStr;
use std::rc::Rc;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgBox, PgLogLevel, PgMemoryContexts, PgSqlErrorCode};

use crate::errors::internal;
use crate::row_checks::CompiledChecks;

/// An open table and its indexes, inserting rows of the columns named at `open`.
pub struct RowInserter {
    estate: *mut pg_sys::EState,
    result_relation: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    relation: pg_sys::Relation,
    /// For each column given to `insert`, its attribute's position in the table's rows.
    attribute_of_column: Vec<usize>,
    /// Positions of the NOT NULL attributes.
    not_null: Vec<usize>,
    checks: Rc<CompiledChecks>,
    table: String,
    command_id: pg_sys::CommandId,
}

impl RowInserter {
    /// Opens table `relid` (called `name` in errors), taking ROW EXCLUSIVE as an INSERT
    /// would, for rows of `columns` (by name; every other column is NULL).
    pub fn open(relid: pg_sys::Oid, name: &str, columns: &[&CStr]) -> Self {
        // SAFETY: the executor's own set-up for inserting into one relation (CopyFrom's):
        // a range table of one entry, locked before it is opened, the result relation and
        // its indexes opened from it, a slot of the table's row type. Everything is
        // allocated in the EState's memory, freed by `close` or with the transaction.
        unsafe {
            pg_sys::LockRelationOid(relid, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE);
            let estate = pg_sys::CreateExecutorState();
            let inserter = PgMemoryContexts::For((*estate).es_query_cxt).switch_to(|_| {
                let mut entry = PgBox::<pg_sys::RangeTblEntry>::alloc_node(pg_sys::NodeTag::T_RangeTblEntry);
                entry.rtekind = pg_sys::RTEKind::RTE_RELATION;
                entry.relid = relid;
                entry.relkind = pg_sys::RELKIND_RELATION as std::ffi::c_char;
                entry.rellockmode = pg_sys::RowExclusiveLock as std::ffi::c_int;
                entry.requiredPerms = pg_sys::ACL_INSERT as pg_sys::AclMode;
                let range_table = pg_sys::lappend(std::ptr::null_mut(), entry.into_pg().cast());
                pg_sys::ExecInitRangeTable(estate, range_table);
                let result_relation =
                    PgBox::<pg_sys::ResultRelInfo>::alloc_node(pg_sys::NodeTag::T_ResultRelInfo).into_pg();
                pg_sys::ExecInitResultRelation(estate, result_relation, 1);
                let relation = (*result_relation).ri_RelationDesc;
                refuse_insert_triggers(relation, name);
                pg_sys::ExecOpenIndices(result_relation, false);
                let slot = pg_sys::table_slot_create(relation, std::ptr::null_mut());
                RowInserter {
                    estate,
                    result_relation,
                    slot,
                    relation,
                    attribute_of_column: columns.iter().map(|c| attribute_position(relation, name, c)).collect(),
                    not_null: not_null_attributes(relation),
                    checks: CompiledChecks::of(relation),
                    table: name.to_owned(),
                    command_id: pg_sys::GetCurrentCommandId(true),
                }
            });
            inserter
        }
    }

    /// Inserts one row. `values` makes its datums (one per column given to `open`, None
    /// for NULL); it runs in per-row memory, freed once the row and its index entries are
    /// written, so a batch of any size keeps the backend's memory flat.
    pub fn insert(&mut self, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) {
        // SAFETY: the slot belongs to this relation and has its natts entries; datums are
        // made in the per-tuple context, which lives until the reset after the inserts.
        unsafe {
            let econtext = pg_sys::MakePerTupleExprContext(self.estate);
            let row_memory = (*econtext).ecxt_per_tuple_memory;
            let values = PgMemoryContexts::For(row_memory).switch_to(|_| values());
            if values.len() != self.attribute_of_column.len() {
                internal("a direct row insert", "one value per column");
            }
            let slot = self.slot;
            pg_sys::ExecClearTuple(slot);
            let natts = (*(*slot).tts_tupleDescriptor).natts as usize;
            let datums = std::slice::from_raw_parts_mut((*slot).tts_values, natts);
            let nulls = std::slice::from_raw_parts_mut((*slot).tts_isnull, natts);
            datums.fill(pg_sys::Datum::from(0usize));
            nulls.fill(true);
            for (value, &attribute) in values.into_iter().zip(&self.attribute_of_column) {
                if let Some(datum) = value {
                    datums[attribute] = datum;
                    nulls[attribute] = false;
                }
            }
            if let Some(&attribute) = self.not_null.iter().find(|&&a| nulls[a]) {
                let column = attribute_name(self.relation, attribute);
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_NOT_NULL_VIOLATION,
                    format!(
                        "null value in column \"{column}\" of relation \"{}\" violates not-null constraint",
                        self.table
                    ),
                    "bel",
                )
                .report(PgLogLevel::ERROR);
            }
            pg_sys::ExecStoreVirtualTuple(slot);
            self.checks.check(slot, &self.table);
            pg_sys::table_tuple_insert(self.relation, slot, self.command_id, 0, std::ptr::null_mut());
            pg_sys::ExecInsertIndexTuples(
                self.result_relation,
                slot,
                self.estate,
                false,
                false,
                std::ptr::null_mut(),
                std::ptr::null_mut(),
            );
            pg_sys::MemoryContextReset(row_memory);
        }
    }

    /// Closes the indexes and the table (the lock is kept to the end of the transaction)
    /// and makes the rows visible to the transaction's next reads.
    pub fn close(self) {
        // SAFETY: undoes `open` in reverse, once (self is consumed).
        unsafe {
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::ExecCloseResultRelations(self.estate);
            pg_sys::ExecCloseRangeTableRelations(self.estate);
            pg_sys::FreeExecutorState(self.estate);
            pg_sys::CommandCounterIncrement();
        }
    }
}

/// The relation's attributes.
///
/// # Safety
/// `relation` must be open, and stay so while the result is used.
unsafe fn attributes<'r>(relation: pg_sys::Relation) -> &'r [pg_sys::FormData_pg_attribute] {
    // SAFETY: the caller keeps the relation open; its descriptor has natts attributes.
    unsafe {
        let descriptor = (*relation).rd_att;
        (*descriptor).attrs.as_slice((*descriptor).natts as usize)
    }
}

/// The name of the attribute at `position`.
///
/// # Safety
/// `relation` must be open and have that attribute.
unsafe fn attribute_name(relation: pg_sys::Relation, position: usize) -> String {
    // SAFETY: attname is a NUL-terminated NameData.
    unsafe { CStr::from_ptr(attributes(relation)[position].attname.data.as_ptr()).to_string_lossy().into_owned() }
}

/// The position of column `column` among the relation's attributes.
///
/// # Safety
/// `relation` must be open.
unsafe fn attribute_position(relation: pg_sys::Relation, name: &str, column: &CStr) -> usize {
    let wanted = column.to_bytes_with_nul();
    // SAFETY: the caller keeps the relation open; attname is a NUL-padded NameData.
    unsafe { attributes(relation) }
        .iter()
        .position(|a| {
            !a.attisdropped
                && a.attname.data.len() >= wanted.len()
                && a.attname.data[..wanted.len()].iter().zip(wanted).all(|(&x, &y)| x as u8 == y)
        })
        .unwrap_or_else(|| internal("catalog", format!("{name} has no column {}", column.to_string_lossy())))
}

/// Positions of the NOT NULL attributes of the relation.
///
/// # Safety
/// `relation` must be open.
unsafe fn not_null_attributes(relation: pg_sys::Relation) -> Vec<usize> {
    // SAFETY: the caller keeps the relation open.
    unsafe { attributes(relation) }
        .iter()
        .enumerate()
        .filter(|(_, a)| a.attnotnull && !a.attisdropped)
        .map(|(i, _)| i)
        .collect()
}

/// Raises if the relation has an INSERT trigger of any kind: rows written here would not fire it.
///
/// # Safety
/// `relation` must be open.
unsafe fn refuse_insert_triggers(relation: pg_sys::Relation, name: &str) {
    // SAFETY: the caller keeps the relation open; trigdesc is NULL or a valid descriptor.
    let has_insert_trigger = unsafe {
        let triggers = (*relation).trigdesc;
        !triggers.is_null() && {
            let t = &*triggers;
            t.trig_insert_before_row
                || t.trig_insert_after_row
                || t.trig_insert_instead_row
                || t.trig_insert_before_statement
                || t.trig_insert_after_statement
                || t.trig_insert_new_table
        }
    };
    if has_insert_trigger {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, format!("{name} has an INSERT trigger"), "bel")
            .set_detail("bel writes the log's rows without running INSERT triggers, so it would never fire")
            .set_hint("drop the trigger; to react to appends, LISTEN on bel_events or follow bel.list_events")
            .report(PgLogLevel::ERROR);
    }
}
