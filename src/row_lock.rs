//! Projection rows locked without a statement: what `SELECT ... WHERE key = $1 FOR UPDATE`
//! does, by the executor's own calls (an index scan of the primary key under the snapshot
//! the statement would take, then `table_tuple_lock` as `ExecLockRows` calls it). A
//! prepared `FOR UPDATE` statement cost an append ~60k instructions, most of them starting
//! and ending its executor, and an append that changes a build, a job run and a partition
//! ran three (callgrind, docs/benchmarks.md).
//!
//! As the statement: the lock waits for a transaction that holds the row; under READ
//! COMMITTED, a row updated meanwhile is locked in its newest version (the key it was found
//! by cannot change: bel never updates a key, and a row whose key someone else changed is
//! not returned, as the statement's recheck would drop it), and a row deleted meanwhile is
//! absent; under REPEATABLE READ or SERIALIZABLE, either is a serialization failure (40001).
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, IntoDatum, PgLogLevel, PgMemoryContexts, PgSqlErrorCode};

use crate::errors::internal;
use crate::row_write::{attribute_positions, Tid};
use crate::spi::Columns;
use crate::write::Part;

/// A projection table opened to lock its rows by key, FOR UPDATE.
pub struct RowLocker {
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    scan: pg_sys::IndexScanDesc,
    slot: *mut pg_sys::TupleTableSlot,
    /// For each of the part's columns, its attribute's position in the table's rows.
    attribute_of_column: Vec<usize>,
    /// Memory of one lock's key datum and of what `read` detoasts, reset after each, so that
    /// locking a batch's many keys keeps the backend's memory flat. (Not the scan's: an index
    /// scan keeps what it allocates in the context current at its first rescan.)
    per_key: pg_sys::MemoryContext,
    part: Part,
}

impl RowLocker {
    /// Opens `part`'s table (ROW SHARE, as SELECT ... FOR UPDATE locks it) and its primary
    /// key, under a snapshot taken now.
    pub fn open(part: Part) -> Self {
        // SAFETY: as an executor sets up an index scan with row marks: the table locked
        // before it is opened, the snapshot made active (the transaction's, with this
        // command's id: a row the transaction wrote is seen), a scan of one key rescanned
        // per lock; `close` releases each in reverse order (an error's abort releases them).
        unsafe {
            pg_sys::PushCopiedSnapshot(pg_sys::GetTransactionSnapshot());
            pg_sys::UpdateActiveSnapshotCommandId();
            let heap = pg_sys::table_open(part.relation(), pg_sys::RowShareLock as pg_sys::LOCKMODE);
            let primary_key = pg_sys::RelationGetPrimaryKeyIndex(heap);
            if primary_key == pg_sys::InvalidOid {
                internal("locking a projection row", format!("{} has no primary key", part.table()));
            }
            let index = pg_sys::index_open(primary_key, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let scan = pg_sys::index_beginscan(heap, index, pg_sys::GetActiveSnapshot(), 1, 0);
            let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
            let attribute_of_column = attribute_positions(heap, part.table(), part.columns());
            let per_key = per_call_memory(c"bel row lock");
            RowLocker { heap, index, scan, slot, attribute_of_column, per_key, part }
        }
    }

    /// Locks the row of `key` FOR UPDATE and reads it with `read` (given the part's columns
    /// in order); returns where the locked version is and what `read` made of it (None for a
    /// placeholder). None if there is no row of `key`.
    pub fn lock<T>(&mut self, key: &str, read: impl FnOnce(&LockedRow<'_>) -> Option<T>) -> Option<(Tid, Option<T>)> {
        // SAFETY: the context is this locker's, alive until `close`, holds only
        // the previous call's allocations: freed here, whichever way that call returned.
        unsafe { pg_sys::MemoryContextReset(self.per_key) };
        // SAFETY: as above.
        let Some(key_datum) = (unsafe { PgMemoryContexts::For(self.per_key).switch_to(|_| key.into_datum()) }) else {
            internal("locking a projection row", "a text datum of the key");
        };
        // SAFETY: an equality key on the primary key's one column, in its "C" collation
        // (ScanKeyInit's); the slot is the table's; table_tuple_lock is called as
        // ExecLockRows calls it and leaves the locked version in the slot, read before the
        // next lock.
        unsafe {
            let mut scan_key = pg_sys::ScanKeyData::default();
            pg_sys::ScanKeyInit(
                &mut scan_key,
                1,
                pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
                pg_sys::Oid::from(pg_sys::F_TEXTEQ),
                key_datum,
            );
            pg_sys::index_rescan(self.scan, &mut scan_key, 1, std::ptr::null_mut(), 0);
            if !pg_sys::index_getnext_slot(self.scan, pg_sys::ScanDirection::ForwardScanDirection, self.slot) {
                return None;
            }
            let repeatable = pg_sys::XactIsoLevel >= pg_sys::XACT_REPEATABLE_READ as i32;
            let mut flags = pg_sys::TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;
            if !repeatable {
                flags |= pg_sys::TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
            }
            let mut tid = (*self.slot).tts_tid;
            let mut failure = pg_sys::TM_FailureData::default();
            let result = pg_sys::table_tuple_lock(
                self.heap,
                &mut tid,
                pg_sys::GetActiveSnapshot(),
                self.slot,
                pg_sys::GetCurrentCommandId(true),
                pg_sys::LockTupleMode::LockTupleExclusive,
                pg_sys::LockWaitPolicy::LockWaitBlock,
                flags as u8,
                &mut failure,
            );
            let found = match result {
                pg_sys::TM_Result::TM_Ok => {
                    pg_sys::slot_getallattrs(self.slot);
                    let row = LockedRow { slot: self.slot, attribute_of_column: &self.attribute_of_column };
                    let same_key = row.column::<String>(1).is_some_and(|k| k == key);
                    // `read` copies what it keeps into Rust values.
                    let read = PgMemoryContexts::For(self.per_key).switch_to(|_| same_key.then(|| read(&row)));
                    read.map(|entity| ((*self.slot).tts_tid, entity))
                }
                pg_sys::TM_Result::TM_Updated | pg_sys::TM_Result::TM_Deleted if repeatable => {
                    ErrorReport::new(
                        PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                        "could not serialize access due to concurrent update",
                        "bel",
                    )
                    .report(PgLogLevel::ERROR);
                    None
                }
                // Deleted after our snapshot and before we got the lock: gone, as the
                // statement would find it.
                pg_sys::TM_Result::TM_Deleted => None,
                other => internal(
                    "locking a projection row",
                    format!("{} {key:?}: unexpected table_tuple_lock result {other}", self.part.table()),
                ),
            };
            pg_sys::ExecClearTuple(self.slot);
            found
        }
    }

    pub fn close(self) {
        // SAFETY: undoes `open` in reverse, once (self is consumed); the table's lock is
        // kept to the end of the transaction, as a statement's.
        unsafe {
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::index_endscan(self.scan);
            pg_sys::index_close(self.index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            pg_sys::table_close(self.heap, pg_sys::NoLock as pg_sys::LOCKMODE);
            pg_sys::MemoryContextDelete(self.per_key);
            pg_sys::PopActiveSnapshot();
        }
    }
}

/// A locked row, its columns numbered as the part's (`Part::columns`, from 1).
pub struct LockedRow<'a> {
    slot: *mut pg_sys::TupleTableSlot,
    attribute_of_column: &'a [usize],
}

impl Columns for LockedRow<'_> {
    fn column<T: pgrx::FromDatum + pgrx::IntoDatum>(&self, ordinal: usize) -> Option<T> {
        let attribute = *ordinal.checked_sub(1).and_then(|i| self.attribute_of_column.get(i))?;
        // SAFETY: the slot holds the locked row, deformed (slot_getallattrs); the attribute
        // is one of its columns, of the type the part declares (checked at open), which is
        // the type the caller reads it as.
        unsafe { T::from_datum(*(*self.slot).tts_values.add(attribute), *(*self.slot).tts_isnull.add(attribute)) }
    }
}

/// A small memory context under the current one, for what one call of a loop allocates:
/// reset after each call, deleted with its owner (or with the transaction on an error).
pub(crate) fn per_call_memory(name: &'static std::ffi::CStr) -> pg_sys::MemoryContext {
    // SAFETY: a child of the current context, named by a static string.
    unsafe {
        pg_sys::AllocSetContextCreateExtended(
            pg_sys::CurrentMemoryContext,
            name.as_ptr(),
            pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
            pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
            pg_sys::ALLOCSET_SMALL_MAXSIZE as usize,
        )
    }
}
