//! Rows written by an append without a statement: straight to the table access method and
//! to every index through the executor's own calls (`table_tuple_insert`,
//! `simple_table_tuple_update`, `ExecInsertIndexTuples`, and for INSERT ... ON CONFLICT DO
//! NOTHING its speculative insertion), each row in per-row memory as COPY FROM does. The
//! table's constraints are checked (NOT NULL here, CHECK by `row_checks`, compiled once per
//! backend), each unique index checks its key (a duplicate eventId raises 23505 as an INSERT
//! would), the heap and index writes are WAL-logged as any statement's. What it saves is the
//! statement: a prepared INSERT or UPDATE starts an executor per call (plan locks, a node
//! tree, a projection per row, for an UPDATE a scan to find the row), and the executor parses
//! and plans the table's CHECK constraints again for each one (about a third of a lone
//! append's instructions together; callgrind, docs/benchmarks.md).
//!
//! What a statement would do and this does not, refused rather than skipped: triggers of the
//! kind of write (any, even disabled ones, and the internal ones of foreign keys referencing
//! the table), rules, row security forced on the owner, column defaults or generated columns
//! outside the columns written by an insert, generated columns on an updated table (a table
//! changed after bel created it). An update keeps the values of columns it does not write, as
//! an UPDATE does. Privileges are not checked: the append functions are SECURITY DEFINER, run
//! as the tables' owner. A read-only transaction never gets here: an append refuses it first
//! (25006, `append::append`). The log's rows are only ever inserted: UPDATE, DELETE and
//! TRUNCATE of `bel.events` and `bel.event_partitions` never come this way, and their
//! append-only triggers stand.
use std::ffi::CStr;
use std::rc::Rc;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgBox, PgLogLevel, PgMemoryContexts, PgSqlErrorCode};

use crate::errors::internal;
use crate::row_checks::CompiledChecks;

/// How a `RowWriter` writes its rows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Write {
    /// INSERT: a unique index that holds the key already raises 23505 (`insert`).
    Insert,
    /// INSERT ... ON CONFLICT DO NOTHING: such a row is skipped (`insert_if_absent`).
    InsertIfAbsent,
    /// UPDATE of a row the transaction has locked or inserted, found by its tid (`update`).
    Update,
}

/// A row's physical address in its table (`ctid`).
pub type Tid = pg_sys::ItemPointerData;

/// A column bel writes or reads without a statement: its name and the type of the datums
/// bel makes for it (a column of another type is refused, never written or read as this).
pub type Column = (&'static str, pg_sys::Oid);

/// An open table and its indexes, writing rows of the columns named at `open`.
pub struct RowWriter {
    estate: *mut pg_sys::EState,
    result_relation: *mut pg_sys::ResultRelInfo,
    slot: *mut pg_sys::TupleTableSlot,
    relation: pg_sys::Relation,
    /// For each column given to `insert`, its attribute's position in the table's rows.
    attribute_of_column: Vec<usize>,
    /// Positions of the NOT NULL attributes.
    not_null: Vec<usize>,
    /// Positions of the attributes `open` was not asked to write (an update copies them
    /// from the row it replaces) and a slot to read that row into; empty and None for
    /// bel's own tables as it creates them.
    unwritten: Vec<usize>,
    old_row: Option<*mut pg_sys::TupleTableSlot>,
    checks: Rc<CompiledChecks>,
    table: String,
    write: Write,
    command_id: pg_sys::CommandId,
}

impl RowWriter {
    /// Opens table `relid` (called `name` in errors), taking ROW EXCLUSIVE as an INSERT or
    /// UPDATE would, for rows of `columns` (every other column is NULL in an inserted row
    /// and keeps its value in an updated one). An update's first column is the row's key,
    /// which it never changes.
    pub fn open(relid: pg_sys::Oid, name: &str, columns: &[Column], write: Write) -> Self {
        // SAFETY: the executor's own set-up for writing into one relation (CopyFrom's):
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
                let entry = entry.into_pg();
                let range_table = pg_sys::lappend(std::ptr::null_mut(), entry.cast());
                pg_sys::ExecInitRangeTable(estate, range_table);
                let result_relation =
                    PgBox::<pg_sys::ResultRelInfo>::alloc_node(pg_sys::NodeTag::T_ResultRelInfo).into_pg();
                pg_sys::ExecInitResultRelation(estate, result_relation, 1);
                let relation = (*result_relation).ri_RelationDesc;
                refuse_unsupported(relation, name, write);
                // What an INSERT or UPDATE checks of its target: a plain table, and for an
                // UPDATE of a published table, its replica identity.
                let command =
                    if write == Write::Update { pg_sys::CmdType::CMD_UPDATE } else { pg_sys::CmdType::CMD_INSERT };
                pg_sys::CheckValidResultRel(result_relation, command);
                let attribute_of_column = attribute_positions(relation, name, columns);
                refuse_unwritten_defaults(relation, name, &attribute_of_column, write);
                let unwritten = unwritten_attributes(relation, &attribute_of_column);
                let old_row = (write == Write::Update && !unwritten.is_empty())
                    .then(|| pg_sys::table_slot_create(relation, std::ptr::null_mut()));
                if write == Write::Update {
                    // What an UPDATE's plan records (its SET list: every column but the
                    // key): btree uses it to tell an index whose key did not change (a hint
                    // for its bottom-up deletion).
                    for &attribute in attribute_of_column.iter().skip(1) {
                        (*entry).updatedCols = pg_sys::bms_add_member(
                            (*entry).updatedCols,
                            attribute as i32 + 1 - pg_sys::FirstLowInvalidHeapAttributeNumber,
                        );
                    }
                }
                // Speculative: the unique indexes get what ExecCheckIndexConstraints needs.
                pg_sys::ExecOpenIndices(result_relation, write == Write::InsertIfAbsent);
                let slot = pg_sys::table_slot_create(relation, std::ptr::null_mut());
                RowWriter {
                    estate,
                    result_relation,
                    slot,
                    relation,
                    attribute_of_column,
                    not_null: not_null_attributes(relation),
                    unwritten,
                    old_row,
                    checks: CompiledChecks::of(relation),
                    table: name.to_owned(),
                    write,
                    command_id: pg_sys::GetCurrentCommandId(true),
                }
            });
            inserter
        }
    }

    /// Inserts one row (opened with `Write::Insert`). `values` makes its datums (one
    /// per column given to `open`, None for NULL); it runs in per-row memory, freed once
    /// the row and its index entries are written, so a batch of any size keeps the
    /// backend's memory flat.
    pub fn insert(&mut self, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) {
        self.expect(Write::Insert);
        // SAFETY: the slot holds a checked row of this relation (fill); the heap insert and
        // the index entries are the executor's (ExecInsert's without ON CONFLICT).
        unsafe {
            let row_memory = self.fill(values, None);
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
    /// `Write::InsertIfAbsent`); returns the new row's tid if it was inserted. This is
    /// INSERT ... ON CONFLICT DO NOTHING, by the executor's own protocol (ExecInsert): an
    /// uncommitted row with the key is waited for, the row goes in speculatively, and a
    /// racing inserter found by the index inserts sends it round again. As there, under
    /// REPEATABLE READ a conflicting row the transaction's snapshot cannot see is a
    /// serialization failure (40001), not a silent skip.
    pub fn insert_if_absent(&mut self, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) -> Option<Tid> {
        self.insert_unless_present(values, true)
    }

    /// `insert_if_absent` for a key that is almost never present (a new build's): the row
    /// goes in speculatively first, and only a conflict its index entries report sends it
    /// through the pre-check (about 9k instructions a row saved; a present key costs a
    /// speculative row killed, which pruning reclaims).
    pub fn insert_if_absent_expecting_new(
        &mut self,
        values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>,
    ) -> Option<Tid> {
        self.insert_unless_present(values, false)
    }

    fn insert_unless_present(
        &mut self,
        values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>,
        mut pre_check: bool,
    ) -> Option<Tid> {
        self.expect(Write::InsertIfAbsent);
        // SAFETY: as in ExecInsert for ON CONFLICT DO NOTHING with every unique index as
        // an arbiter (NIL): the pre-check waits for in-progress inserters, the speculative
        // insertion lock lets a racer wait for our outcome, and the speculative tuple is
        // confirmed or killed before the lock is released.
        unsafe {
            let row_memory = self.fill(values, None);
            let inserted = PgMemoryContexts::For(row_memory).switch_to(|_| loop {
                pgrx::check_for_interrupts!();
                let mut conflict = pg_sys::ItemPointerData::default();
                if pre_check
                    && !pg_sys::ExecCheckIndexConstraints(
                        self.result_relation,
                        self.slot,
                        self.estate,
                        &mut conflict,
                        std::ptr::null_mut(),
                    )
                {
                    self.refuse_if_invisible(&mut conflict);
                    break None;
                }
                pre_check = true;
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
                    break Some((*self.slot).tts_tid);
                }
            });
            pg_sys::MemoryContextReset(row_memory);
            inserted
        }
    }

    /// Replaces the row at `tid` (opened with `Write::Update`), which this transaction has
    /// locked (SELECT ... FOR UPDATE) or inserted, so no other can have changed it: an
    /// UPDATE by the executor's own calls (ExecUpdate's without triggers), its index entries
    /// written unless the update is HOT. `values` as for `insert`.
    pub fn update(&mut self, tid: Tid, values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>) {
        self.expect(Write::Update);
        // SAFETY: tid is a row of this relation that the transaction holds; the slot holds
        // its new version, checked (fill). simple_table_tuple_update raises (XX000) if the
        // row was changed by anyone, which the lock rules out.
        unsafe {
            let row_memory = self.fill(values, Some(tid));
            PgMemoryContexts::For(row_memory).switch_to(|_| {
                let mut tid = tid;
                let mut update_indexes = false;
                pg_sys::simple_table_tuple_update(
                    self.relation,
                    &mut tid,
                    self.slot,
                    pg_sys::GetActiveSnapshot(),
                    &mut update_indexes,
                );
                if update_indexes {
                    pg_sys::ExecInsertIndexTuples(
                        self.result_relation,
                        self.slot,
                        self.estate,
                        true,
                        false,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                    );
                }
            });
            if let Some(old_row) = self.old_row {
                pg_sys::ExecClearTuple(old_row);
            }
            pg_sys::MemoryContextReset(row_memory);
        }
    }

    fn expect(&self, write: Write) {
        if self.write != write {
            internal("a direct row write", "a write of another kind than the table was opened for");
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
    /// against the table's NOT NULL and CHECK constraints; an update (`replacing`, the row
    /// it replaces) keeps that row's values of the columns it does not write. Returns the
    /// per-row memory, to be reset once the row is written.
    ///
    /// # Safety
    /// The slot must be this relation's (it is); `replacing` a row of it.
    unsafe fn fill(
        &mut self,
        values: impl FnOnce() -> Vec<Option<pg_sys::Datum>>,
        replacing: Option<Tid>,
    ) -> pg_sys::MemoryContext {
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
            if let (Some(mut tid), Some(old_row)) = (replacing, self.old_row) {
                // The old row stays in its slot (its buffer pinned) until `update` has
                // written the new one.
                let any = std::ptr::addr_of_mut!(pg_sys::SnapshotAnyData);
                if !pg_sys::table_tuple_fetch_row_version(self.relation, &mut tid, any, old_row) {
                    internal("a direct row update", "the locked row is gone");
                }
                pg_sys::slot_getallattrs(old_row);
                for &attribute in &self.unwritten {
                    datums[attribute] = *(*old_row).tts_values.add(attribute);
                    nulls[attribute] = *(*old_row).tts_isnull.add(attribute);
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
            if let Some(old_row) = self.old_row {
                pg_sys::ExecDropSingleTupleTableSlot(old_row);
            }
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

/// The positions of `columns` among the relation's attributes, each checked for its type.
///
/// # Safety
/// `relation` must be open.
pub(crate) unsafe fn attribute_positions(relation: pg_sys::Relation, name: &str, columns: &[Column]) -> Vec<usize> {
    columns
        .iter()
        .map(|&(column, type_oid)| {
            // SAFETY: the caller keeps the relation open.
            let position = unsafe { attribute_position(relation, name, column) };
            // SAFETY: as above; position is one of its attributes.
            if unsafe { attributes(relation) }[position].atttypid != type_oid {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    format!("column \"{column}\" of {name} is not of the type bel created it with"),
                    "bel",
                )
                .set_detail("bel reads and writes this column without a statement, as the type it created")
                .set_hint(CHANGED_TABLE_HINT)
                .report(PgLogLevel::ERROR);
            }
            position
        })
        .collect()
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

/// Positions of the relation's (live) attributes not among `written`.
///
/// # Safety
/// `relation` must be open.
unsafe fn unwritten_attributes(relation: pg_sys::Relation, written: &[usize]) -> Vec<usize> {
    // SAFETY: the caller keeps the relation open.
    unsafe { attributes(relation) }
        .iter()
        .enumerate()
        .filter(|(i, a)| !a.attisdropped && !written.contains(i))
        .map(|(i, _)| i)
        .collect()
}

/// Raises if a column that `open` was not asked to write would be filled in by a
/// statement: by its default or generation expression in an INSERT, by its generation
/// expression in an UPDATE. A row written here would leave it NULL or stale.
///
/// # Safety
/// `relation` must be open.
unsafe fn refuse_unwritten_defaults(relation: pg_sys::Relation, name: &str, written: &[usize], write: Write) {
    let filled_in = |a: &pg_sys::FormData_pg_attribute| match write {
        Write::Insert | Write::InsertIfAbsent => a.atthasdef || a.attgenerated != 0,
        Write::Update => a.attgenerated != 0,
    };
    // SAFETY: the caller keeps the relation open.
    let unwritten = unsafe { attributes(relation) }
        .iter()
        .enumerate()
        .find(|(i, a)| !a.attisdropped && filled_in(a) && !written.contains(i));
    if let Some((_, attribute)) = unwritten {
        // SAFETY: attname is a NUL-terminated NameData.
        let column = unsafe { CStr::from_ptr(attribute.attname.data.as_ptr()) }.to_string_lossy();
        let (message, detail) = if attribute.attgenerated != 0 {
            (
                format!("column \"{column}\" of {name} is generated, which bel does not compute"),
                "bel writes these rows without a statement, so generated columns are not computed",
            )
        } else {
            (
                format!("column \"{column}\" of {name} has a default that bel does not write"),
                "bel writes these rows without an INSERT statement, so column defaults are not applied",
            )
        };
        ErrorReport::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, message, "bel")
            .set_detail(detail)
            .set_hint(CHANGED_TABLE_HINT)
            .report(PgLogLevel::ERROR);
    }
}

/// Raises if the relation has what a statement would run and a row written here would
/// bypass: a trigger on the write `write` makes (INSERT or UPDATE, row or statement, enabled
/// or not; among them the internal ones of foreign keys referencing the table and of
/// deferrable constraints), a rule, or row security forced on its owner.
///
/// # Safety
/// `relation` must be open.
unsafe fn refuse_unsupported(relation: pg_sys::Relation, name: &str, write: Write) {
    let kind = if write == Write::Update { "UPDATE" } else { "INSERT" };
    let kind_bit = if write == Write::Update { pg_sys::TRIGGER_TYPE_UPDATE } else { pg_sys::TRIGGER_TYPE_INSERT };
    // SAFETY: the caller keeps the relation open; trigdesc is NULL or holds numtriggers
    // triggers; rd_rel is its pg_class row.
    let (trigger, has_rules, forced_row_security) = unsafe {
        let triggers = (*relation).trigdesc;
        let trigger = (!triggers.is_null())
            .then(|| {
                let all = std::slice::from_raw_parts((*triggers).triggers, (*triggers).numtriggers as usize);
                all.iter()
                    .find(|t| (t.tgtype as u32) & kind_bit != 0)
                    .map(|t| (CStr::from_ptr(t.tgname).to_string_lossy().into_owned(), t.tgisinternal))
            })
            .flatten();
        (trigger, (*(*relation).rd_rel).relhasrules, (*(*relation).rd_rel).relforcerowsecurity)
    };
    let refusal = match trigger {
        Some((trigger, false)) => Some((
            format!("{name} has an {kind} trigger"),
            format!("bel writes these rows without running {kind} triggers, so \"{trigger}\" would never fire"),
            "drop the trigger; to react to appends, LISTEN on bel_events or follow bel.list_events",
        )),
        Some((trigger, true)) => Some((
            format!("{name} has a constraint checked by an {kind} trigger"),
            format!(
                "a foreign key referencing {name}, or a deferrable constraint on it, is checked by trigger \"{trigger}\", \
                 which bel's writes do not run"
            ),
            "drop the constraint; reference bel's keys without a foreign key",
        )),
        None if has_rules => Some((
            format!("{name} has a rule"),
            "bel writes these rows without a statement, so rules would not apply".to_owned(),
            "drop the rule",
        )),
        None if forced_row_security => Some((
            format!("{name} forces row level security"),
            "bel writes these rows without a statement, so row security policies would not apply".to_owned(),
            "ALTER TABLE ... NO FORCE ROW LEVEL SECURITY",
        )),
        None => None,
    };
    if let Some((message, detail, hint)) = refusal {
        ErrorReport::new(PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED, message, "bel")
            .set_detail(detail)
            .set_hint(hint)
            .report(PgLogLevel::ERROR);
    }
}
