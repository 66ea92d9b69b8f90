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
use pgrx::{pg_sys, PgLogLevel, PgSqlErrorCode};

use crate::errors::internal;
use crate::key_probe::KeyProbe;
use crate::row_write::{attribute_positions, Tid};
use crate::spi::Columns;
use crate::write::Part;

/// A projection table opened to lock its rows by key, FOR UPDATE.
pub struct RowLocker {
    probe: KeyProbe,
    /// For each of the part's columns, its attribute's position in the table's rows.
    attribute_of_column: Vec<usize>,
    part: Part,
}

impl RowLocker {
    /// Opens `part`'s table (ROW SHARE to the transaction's end, as SELECT ... FOR UPDATE
    /// locks it) and its primary key, under a snapshot taken now.
    pub fn open(part: Part) -> Self {
        let probe = KeyProbe::open(part.relation(), None, pg_sys::RowShareLock, true);
        // SAFETY: the probe keeps the table open.
        let attribute_of_column = unsafe { attribute_positions(probe.heap, part.table(), part.columns()) };
        RowLocker { probe, attribute_of_column, part }
    }

    /// Locks the row of `key` FOR UPDATE and reads it with `read` (given the part's columns
    /// in order); returns where the locked version is and what `read` made of it (None for a
    /// placeholder). None if there is no row of `key`.
    pub fn lock<T>(&mut self, key: &str, read: impl FnOnce(&LockedRow<'_>) -> Option<T>) -> Option<(Tid, Option<T>)> {
        if !self.probe.find(key) {
            return None;
        }
        // SAFETY: reads the transaction's isolation level (a backend-local global).
        let repeatable = unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32;
        let mut flags = pg_sys::TUPLE_LOCK_FLAG_LOCK_UPDATE_IN_PROGRESS;
        if !repeatable {
            flags |= pg_sys::TUPLE_LOCK_FLAG_FIND_LAST_VERSION;
        }
        let slot = self.probe.slot;
        // SAFETY: table_tuple_lock as ExecLockRows calls it, on the row the probe found in
        // the table's slot; it leaves the locked version there, read before the next probe.
        unsafe {
            let mut tid = (*slot).tts_tid;
            let mut failure = pg_sys::TM_FailureData::default();
            let result = pg_sys::table_tuple_lock(
                self.probe.heap,
                &mut tid,
                pg_sys::GetActiveSnapshot(),
                slot,
                pg_sys::GetCurrentCommandId(true),
                pg_sys::LockTupleMode::LockTupleExclusive,
                pg_sys::LockWaitPolicy::LockWaitBlock,
                flags as u8,
                &mut failure,
            );
            let found = match result {
                pg_sys::TM_Result::TM_Ok => {
                    let row = LockedRow { probe: &self.probe, attribute_of_column: &self.attribute_of_column };
                    let same_key = row.column::<String>(1).is_some_and(|k| k == key);
                    // `read` copies what it keeps into Rust values.
                    let read = self.probe.in_probe_memory(|| same_key.then(|| read(&row)));
                    read.map(|entity| ((*slot).tts_tid, entity))
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
            pg_sys::ExecClearTuple(slot);
            found
        }
    }

    pub fn close(self) {
        self.probe.close();
    }
}

/// A locked row, its columns numbered as the part's (`Part::columns`, from 1).
pub struct LockedRow<'a> {
    probe: &'a KeyProbe,
    attribute_of_column: &'a [usize],
}

impl Columns for LockedRow<'_> {
    fn column<T: pgrx::FromDatum + pgrx::IntoDatum>(&self, ordinal: usize) -> Option<T> {
        let attribute = *ordinal.checked_sub(1).and_then(|i| self.attribute_of_column.get(i))?;
        let (datum, is_null) = self.probe.attribute(attribute);
        // SAFETY: the attribute is one of the locked row's columns, of the type the part
        // declares (checked at open), which is the type the caller reads it as.
        unsafe { T::from_datum(datum, is_null) }
    }
}
