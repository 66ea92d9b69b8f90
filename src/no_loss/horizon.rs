//! The horizon of the no-loss cursor: the largest idx under which every idx belongs to a
//! transaction that has committed or rolled back, and that no crash can hand out again.
//! Readers never return events above it, and never move a cursor past it.
//!
//! 1. Read L, the last allocated idx.
//!    - With bel preloaded (slots.rs): no lock; every writer marked its slot before its
//!      first allocation, so every idx <= L belongs to a transaction whose slot shows it,
//!      or that has ended.
//!    - Without (the fallback): under the allocation lock (exclusive). Writers allocate and
//!      take their in-flight lock under the same lock (shared), so every idx <= L belongs to
//!      a transaction that holds its in-flight lock or has ended. The lock is held for one
//!      read of the sequence, no statement: every append waits for it.
//! 2. The smallest in-flight idx m: from the slots and the list of prepared appends, or from
//!    a scan of the lock table.
//! 3. Unless every idx <= L is durable already (below), read C, the largest committed idx
//!    (no lock needed).
//! 4. horizon = min(L, m - 1, C). Every transaction that allocated an idx <= horizon has
//!    ended; its slot is emptied and its in-flight lock released only after its commit is
//!    visible, so a snapshot taken now sees all its events.
//!
//! C bounds it because an allocation is durable only once the WAL record that logged the
//! sequence's advance is flushed, and a rollback does not flush it: a crash can repeat idx
//! values that only rolled-back appends had taken. Every idx <= C is durable (C's commit
//! flushed the record that allocated it), so after a crash the sequence continues above any
//! cursor. C is not needed when the sequence page's LSN, read after L, is at or below the
//! flushed WAL: that LSN is at or after the record of the sequence's latest advance, which
//! logged a value at or above every value handed out before it (nextval logs ahead before it
//! returns a value), L included. Commits flush the WAL, so unless appends are between their
//! allocation and their commit this is the usual case, and a poll then runs no statement for
//! the horizon (the max(idx) probe was a third of a poll at the tail). With synchronous
//! replication, or an unlogged sequence, C is always read (allocation_durability).
//!
//! A reader inside its own append transaction sees its own appends: neither its in-flight
//! slot nor its lock holds it back, and C counts its rows. So that its cursor never passes
//! an idx a rollback and a crash could hand out again, it flushes the WAL up to the
//! sequence's record instead of reading C; where a local flush does not decide (synchronous
//! replication, an unlogged sequence) its horizon stays below its own first idx.
//!
//! Rolled-back appends release their lock and leave a hole nobody waits for; a
//! transaction that never appended holds no in-flight lock: neither stalls followers.
use pgrx::spi::SpiClient;
use pgrx::{pg_sys, IntoDatum};

use super::locks::{min_in_flight, AllocationGuard};
use super::{sequence_oid, slots};
use crate::errors::{internal, raise};
use crate::spi::run;
use crate::spi::statements::Statements;
use bel_core::{ErrorClass, Rejection};

#[derive(Debug, Clone, Copy)]
pub struct Horizon {
    /// Every idx <= this is committed or rolled back for good, and allocated durably.
    pub idx: i64,
    /// The smallest in-flight idx when one holds the horizon back, else None.
    pub in_flight: Option<i64>,
}

pub fn horizon(client: &SpiClient<'_>, st: &Statements) -> Horizon {
    refuse_transaction_snapshots();
    refuse_standby();
    let sequence = sequence_oid();
    let read_last_allocated = || {
        // SAFETY: pg_sequence_last_value(regclass) of bel's sequence; NULL (None) before its
        // first nextval.
        unsafe { pgrx::direct_function_call::<i64>(pg_sys::pg_sequence_last_value, &[sequence.into_datum()]) }
            .unwrap_or(0)
    };
    let (last_allocated, in_flight) = match slots::shared() {
        Some(shared) => {
            let last_allocated = read_last_allocated();
            (last_allocated, shared.min_in_flight())
        }
        None => {
            let last_allocated = {
                let _allocation = AllocationGuard::exclusive();
                read_last_allocated()
            };
            (last_allocated, min_in_flight())
        }
    };
    let in_flight = in_flight.filter(|m| *m <= last_allocated);
    // A reader inside its own append transaction is not held back by its own appends (it
    // sees them), and C counts them: its cursor may pass idx that only its transaction
    // holds, which a rollback and a crash could hand out again.
    let own_first = super::locks::in_flight_of_this_transaction();
    // After L was read: a record flushed now covers L.
    let durable_bound = match allocation_durability(sequence) {
        Durability::Durable => i64::MAX,
        Durability::NotFlushed(lsn) if own_first.is_some() => {
            // Rare (reads inside an append transaction): flush rather than hold the reader
            // below its own appends.
            // SAFETY: flushes this server's WAL up to an LSN already inserted (not in recovery).
            unsafe { pg_sys::XLogFlush(lsn) };
            i64::MAX
        }
        Durability::NotFlushed(_) | Durability::NotLocal => {
            let committed = run(client, &st.last_committed_idx, &[])
                .first()
                .get_one::<i64>()
                .unwrap_or_else(|e| internal("reading the last committed idx", e))
                .unwrap_or(0);
            match own_first {
                // Flushing here is not enough: the reader's own appends stay above it.
                Some(first) => committed.min(first - 1),
                None => committed,
            }
        }
    };
    match in_flight {
        Some(m) => Horizon { idx: (m - 1).min(durable_bound), in_flight: Some(m) },
        None => Horizon { idx: last_allocated.min(durable_bound), in_flight: None },
    }
}

/// Whether every value the sequence has handed out survives a crash.
enum Durability {
    /// The WAL record of its latest advance is flushed.
    Durable,
    /// That record ends at or before this LSN, not flushed yet.
    NotFlushed(pg_sys::XLogRecPtr),
    /// A local flush does not decide it: with synchronous replication configured, durable
    /// means on the synchronous standby too (a commit, and so C, is visible only once the
    /// standby has it; a local flush is not enough for a failover); an unlogged sequence is
    /// not WAL-logged (it restarts after a crash anyway).
    NotLocal,
}

/// The sequence page's LSN (that record's end, or later) against the WAL this server has
/// flushed.
fn allocation_durability(sequence: pg_sys::Oid) -> Durability {
    // SAFETY: SyncRepStandbyNames is the synchronous_standby_names setting, a
    // NUL-terminated string or NULL. The sequence (one page, block 0) is locked already by
    // pg_sequence_last_value (RowExclusiveLock, to the transaction's end); its page LSN is
    // read under a share lock of its buffer, which writers of the page lock exclusively.
    unsafe {
        let names = pg_sys::SyncRepStandbyNames;
        if !names.is_null() && *names != 0 {
            return Durability::NotLocal;
        }
        let relation = pg_sys::relation_open(sequence, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let logged = (*(*relation).rd_rel).relpersistence == pg_sys::RELPERSISTENCE_PERMANENT as std::ffi::c_char;
        let lsn = logged.then(|| {
            let buffer = pg_sys::ReadBuffer(relation, 0);
            pg_sys::LockBuffer(buffer, pg_sys::BUFFER_LOCK_SHARE as i32);
            let lsn = pg_sys::BufferGetLSNAtomic(buffer);
            pg_sys::UnlockReleaseBuffer(buffer);
            lsn
        });
        pg_sys::relation_close(relation, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        match lsn {
            None => Durability::NotLocal,
            Some(lsn) if lsn <= pg_sys::GetFlushRecPtr(std::ptr::null_mut()) => Durability::Durable,
            Some(lsn) => Durability::NotFlushed(lsn),
        }
    }
}

/// A standby's lock table does not hold the primary's in-flight locks, and its copy of the
/// sequence runs ahead of the primary's allocations: a horizon computed there is not exact.
fn refuse_standby() {
    // SAFETY: reads shared recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        raise(
            Rejection::new(ErrorClass::WrongTransactionState, "bel.list_events must run on the primary")
                .detail("a standby cannot see which appends are still in flight on the primary, so a cursor could skip late commits")
                .hint("follow the log on the primary server"),
        );
    }
}

/// In REPEATABLE READ or SERIALIZABLE the snapshot is fixed at the transaction's first
/// statement, so an append that ended after it would be invisible yet below the horizon:
/// it would be skipped for good.
fn refuse_transaction_snapshots() {
    // SAFETY: reads the session's isolation level.
    let level = unsafe { pg_sys::XactIsoLevel };
    if level >= pg_sys::XACT_REPEATABLE_READ as i32 {
        raise(
            Rejection::new(
                ErrorClass::WrongTransactionState,
                "bel.list_events needs READ COMMITTED isolation",
            )
            .detail("a REPEATABLE READ or SERIALIZABLE snapshot cannot see appends that commit after it was taken, so a cursor could skip them")
            .hint("read the log outside such transactions (the default READ COMMITTED is right)"),
        );
    }
}
