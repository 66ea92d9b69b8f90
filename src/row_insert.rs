//! Rows written by an append without a statement: straight to the table access method and
//! to every index through the executor's own calls (`table_tuple_insert`,
//! `ExecInsertIndexTuples`, and for INSERT ... ON CONFLICT DO NOTHING its speculative
//! insertion), each row in per-row memory as COPY FROM does. The table's constraints are
//! checked (NOT NULL here, CHECK by `row_checks`, compiled once per backend), each unique
//! index checks its key (a duplicate eventId raises 23505 as an INSERT would), the heap and
//! index inserts are WAL-logged as any insert's. What it saves is the statement: a prepared
//! INSERT starts an executor per call (plan locks, a node tree, a projection per row), and
//! the executor parses and plans the table's CHECK constraints again for each one (about a
//! third of a lone append's instructions together; callgrind, docs/benchmarks.md).
//!
//! What an INSERT would do and this does not, refused rather than skipped: INSERT triggers
//! (any, even disabled ones) and column defaults or generated columns outside the columns
//! written (a table changed after bel created it). Privileges are not checked: the append
//! functions are SECURITY DEFINER, run as the tables' owner. A read-only transaction never
//! gets here: the idx is allocated (`nextval`, 25006 there) before any row is written.
//! UPDATE, DELETE and TRUNCATE never come this way: the append-only triggers stand.
use std::ffi::CStr;
use std::rc::Rc;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgBox, PgLogLevel, PgMemoryContexts, PgSqlErrorCode};

use crate::errors::internal;
use crate::row_checks::CompiledChecks;

/// What an insert does when a unique index already holds its key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Raise 23505, as a plain INSERT does (`insert`).
    Raise,
    /// Skip the row, as INSERT ... ON CONFLICT DO NOTHING does (`insert_if_absent`).
    DoNothing,
}

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
    on_conflict: OnConflict,
    command_id: pg_sys::CommandId,
}

impl RowInserter {
    /// Opens table `relid` (called `name` in errors), taking ROW EXCLUSIVE as an INSERT
    /// would, for rows of `columns` (by name; every other column is NULL).
    pub fn open(relid: pg_sys::Oid, name: &str, columns: &[&str], on_conflict: OnConflict) -> Self {
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
                let range_table = pg_sys::lappend(std::ptr::null_mut(), entry.into_pg().cast());
                pg_sys::ExecInitRangeTable(estate, range_table);
                let result_relation =
                    PgBox::<pg_sys::ResultRelInfo>::alloc_node(pg_sys::NodeTag::T_ResultRelInfo).into_pg();
                pg_sys::ExecInitResultRelation(estate, result_relation, 1);
                let relation = (*result_relation).ri_RelationDesc;
                refuse_insert_triggers(relation, name);
                let attribute_of_column: Vec<usize> =
                    columns.iter().map(|c| attribute_position(relation, name, c)).collect();
                refuse_unwritten_defaults(relation, name, &attribute_of_column);
                // Speculative: the unique indexes get what ExecCheckIndexConstraints needs.
                pg_sys::ExecOpenIndices(result_relation, on_conflict == OnConflict::DoNothing);
                let slot = pg_sys::table_slot_create(relation, std::ptr::null_mut());
                RowInserter {
                    estate,
                    result_relation,
                    slot,
                    relation,
                    attribute_of_column,
                    not_null: not_null_attributes(relation),
                    checks: CompiledChecks::of(relation),
                    table: name.to_owned(),
                    on_conflict,
                    command_id: pg_sys::GetCurrentCommandId(true),
                }
            });
            inserter
        }
    }

    /// Inserts one row (opened with `OnConflict::Raise`). `values` makes its datums (one
    /// per column given to `open`, None for NULL); it runs in per-row memory, freed once
    /// the row and its index entries are written, so a batch of any size keeps the
    /// backend's memory flat.
    pub fn insert(&mut self, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) {
        if self.on_conflict != OnConflict::Raise {
            internal("a direct row insert", "insert() on a table opened for insert_if_absent()");
        }
        // SAFETY: the slot holds a checked row of this relation (fill); the heap insert and
        // the index entries are the executor's (ExecInsert's without ON CONFLICT).
        unsafe {
            let row_memory = self.fill(values);
            PgMemoryContexts::For(row_memory).switch_to(|_| {
                pg_sys::table_tuple_insert(self.relation, self.slot, self.command_id, 0, std::ptr::null_mut());
                pg_sys::ExecInsertIndexTuples(
                    self.result_relation,
                    self.slot,
                    self.estate,
                    false,
                    false,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                );
            });
            pg_sys::MemoryContextReset(row_memory);
        }
    }

    /// Inserts one row unless a unique index holds its key already (opened with
    /// `OnConflict::DoNothing`); returns whether it was inserted. This is INSERT ... ON
    /// CONFLICT DO NOTHING, by the executor's own protocol (ExecInsert): an uncommitted
    /// row with the key is waited for, the row goes in speculatively, and a racing
    /// inserter found by the index inserts sends it round again. As there, under
    /// REPEATABLE READ a conflicting row the transaction's snapshot cannot see is a
    /// serialization failure (40001), not a silent skip.
    pub fn insert_if_absent(&mut self, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) -> bool {
        if self.on_conflict != OnConflict::DoNothing {
            internal("a direct row insert", "insert_if_absent() on a table opened for insert()");
        }
        // SAFETY: as in ExecInsert for ON CONFLICT DO NOTHING with every unique index as
        // an arbiter (NIL): the pre-check waits for in-progress inserters, the speculative
        // insertion lock lets a racer wait for our outcome, and the speculative tuple is
        // confirmed or killed before the lock is released.
        unsafe {
            let row_memory = self.fill(values);
            let inserted = PgMemoryContexts::For(row_memory).switch_to(|_| loop {
                pgrx::check_for_interrupts!();
                let mut conflict = pg_sys::ItemPointerData::default();
                if !pg_sys::ExecCheckIndexConstraints(
                    self.result_relation,
                    self.slot,
                    self.estate,
                    &mut conflict,
                    std::ptr::null_mut(),
                ) {
                    self.refuse_if_invisible(&mut conflict);
                    break false;
                }
                let xid = pg_sys::GetCurrentTransactionId();
                let token = pg_sys::SpeculativeInsertionLockAcquire(xid);
                pg_sys::table_tuple_insert_speculative(
                    self.relation,
                    self.slot,
                    self.command_id,
                    0,
                    std::ptr::null_mut(),
                    token,
                );
                let mut racing_insert = false;
                pg_sys::ExecInsertIndexTuples(
                    self.result_relation,
                    self.slot,
                    self.estate,
                    false,
                    true,
                    &mut racing_insert,
                    std::ptr::null_mut(),
                );
                pg_sys::table_tuple_complete_speculative(self.relation, self.slot, token, !racing_insert);
                pg_sys::SpeculativeInsertionLockRelease(xid);
                if !racing_insert {
                    break true;
                }
            });
            pg_sys::MemoryContextReset(row_memory);
            inserted
        }
    }

    /// Under REPEATABLE READ or SERIALIZABLE, raises 40001 if the row at `tid` (the one
    /// that holds the key) is not visible to the transaction's snapshot and was not
    /// written by this transaction (ExecCheckTIDVisible).
    ///
    /// # Safety
    /// `tid` must point at a row of this relation.
    unsafe fn refuse_if_invisible(&mut self, tid: &mut pg_sys::ItemPointerData) {
        // SAFETY: reads the row version at tid into a slot of this relation.
        unsafe {
            if pg_sys::XactIsoLevel < pg_sys::XACT_REPEATABLE_READ as i32 {
                return;
            }
            let existing = pg_sys::table_slot_create(self.relation, std::ptr::null_mut());
            let any = std::ptr::addr_of_mut!(pg_sys::SnapshotAnyData);
            if !pg_sys::table_tuple_fetch_row_version(self.relation, tid, any, existing) {
                internal("ON CONFLICT check", "the conflicting row is gone");
            }
            let visible =
                pg_sys::table_tuple_satisfies_snapshot(self.relation, existing, pg_sys::GetTransactionSnapshot());
            let mut is_null = false;
            let xmin = pg_sys::slot_getsysattr(existing, pg_sys::MinTransactionIdAttributeNumber, &mut is_null);
            pg_sys::ExecDropSingleTupleTableSlot(existing);
            if !visible
                && !pg_sys::TransactionIdIsCurrentTransactionId(pg_sys::TransactionId::from(xmin.value() as u32))
            {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                    "could not serialize access due to concurrent update",
                    "bel",
                )
                .report(PgLogLevel::ERROR);
            }
        }
    }

    /// Makes the row's datums in per-row memory and stores them in the slot, checked
    /// against the table's NOT NULL and CHECK constraints. Returns the per-row memory,
    /// to be reset once the row is written.
    ///
    /// # Safety
    /// The slot must be this relation's (it is).
    unsafe fn fill(&mut self, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) -> pg_sys::MemoryContext {
        // SAFETY: the slot belongs to this relation and has its natts entries; datums are
        // made in the per-tuple context, which lives until the caller resets it.
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
                .set_detail("bel made this row itself from a validated event")
                .set_hint(CHANGED_TABLE_HINT)
                .report(PgLogLevel::ERROR);
            }
            pg_sys::ExecStoreVirtualTuple(slot);
            self.checks.check(slot, &self.table);
            row_memory
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
unsafe fn attribute_position(relation: pg_sys::Relation, name: &str, column: &str) -> usize {
    let wanted = column.as_bytes();
    // SAFETY: the caller keeps the relation open; attname is a NUL-padded NameData.
    unsafe { attributes(relation) }
        .iter()
        .position(|a| {
            let attname = &a.attname.data;
            !a.attisdropped
                && attname.len() > wanted.len()
                && attname[wanted.len()] == 0
                && attname[..wanted.len()].iter().zip(wanted).all(|(&x, &y)| x as u8 == y)
        })
        .unwrap_or_else(|| internal("catalog", format!("{name} has no column {column}")))
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

/// For constraint violations by rows bel makes itself: the table's constraints or columns
/// are not those bel created (or bel has a bug).
pub const CHANGED_TABLE_HINT: &str =
    "compare the table with a fresh install of bel; constraints or columns added to bel's tables are not supported";

/// Raises if a column that `open` was not asked to write has a default or is generated:
/// an INSERT would fill it in, a row written here would leave it NULL.
///
/// # Safety
/// `relation` must be open.
unsafe fn refuse_unwritten_defaults(relation: pg_sys::Relation, name: &str, written: &[usize]) {
    // SAFETY: the caller keeps the relation open.
    let unwritten = unsafe { attributes(relation) }
        .iter()
        .enumerate()
        .find(|(i, a)| !a.attisdropped && (a.atthasdef || a.attgenerated != 0) && !written.contains(i));
    if let Some((_, attribute)) = unwritten {
        // SAFETY: attname is a NUL-terminated NameData.
        let column = unsafe { CStr::from_ptr(attribute.attname.data.as_ptr()) }.to_string_lossy();
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
            format!("column \"{column}\" of {name} has a default that bel does not write"),
            "bel",
        )
        .set_detail("bel writes these rows without an INSERT statement, so column defaults are not applied")
        .set_hint(CHANGED_TABLE_HINT)
        .report(PgLogLevel::ERROR);
    }
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
