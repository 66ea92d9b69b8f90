//! The advisory locks of the no-loss cursor (see docs/no-loss-cursor.md).
//!
//! bel takes its advisory locks with `LockAcquire` directly, in a key class of its own:
//! `locktag_field4` is one of the `CLASS_*` values below, which SQL's `pg_advisory_*`
//! functions never produce (they use 1 and 2), so no application lock can collide with
//! bel's. In `pg_locks` they show as `locktype = 'advisory'`, `objsubid` = the class,
//! `classid`/`objid` = the high/low 32 bits of the key.
use pgrx::pg_sys;

use super::slots;

/// Allocation lock (without the preloaded in-flight slots): writers hold it shared while they
/// allocate an idx and take its in-flight lock; a reader holds it exclusively while it reads
/// the last allocated idx.
pub const CLASS_ALLOCATION: u16 = 0xBE01;
/// In-flight lock, keyed by the first idx an appending transaction allocated; held until
/// that transaction ends.
pub const CLASS_IN_FLIGHT: u16 = 0xBE02;
/// Notifier lock: the one appending transaction that holds it sends NOTIFY; others skip.
pub const CLASS_NOTIFIER: u16 = 0xBE03;

const SHARE: pg_sys::LOCKMODE = pg_sys::ShareLock as pg_sys::LOCKMODE;
const EXCLUSIVE: pg_sys::LOCKMODE = pg_sys::ExclusiveLock as pg_sys::LOCKMODE;

fn tag(class: u16, key: i64) -> pg_sys::LOCKTAG {
    pg_sys::LOCKTAG {
        // SAFETY: MyDatabaseId is set once at backend start and only read here.
        locktag_field1: unsafe { pg_sys::MyDatabaseId }.to_u32(),
        locktag_field2: (key >> 32) as u32,
        locktag_field3: key as u32,
        locktag_field4: class,
        locktag_type: pg_sys::LockTagType::LOCKTAG_ADVISORY as u8,
        locktag_lockmethodid: pg_sys::USER_LOCKMETHOD as u8,
    }
}

fn key_of(tag: &pg_sys::LOCKTAG) -> i64 {
    ((tag.locktag_field2 as i64) << 32) | tag.locktag_field3 as i64
}

/// Held around a writer's allocation of an idx and its `mark_in_flight`, and, without
/// preloaded slots, by readers around their read of the last allocated idx.
///
/// With the in-flight slots of `shared_preload_libraries` (slots.rs) a writer's first
/// allocation of a transaction marks its slot ALLOCATING until `mark_in_flight` publishes the
/// idx, and readers take no lock. Without them it is the allocation lock: a transaction-level
/// lock released early, when the guard drops: on an error path that skips the drop (or any
/// path at all) the end of the (sub)transaction releases it, so no path can leave it held and
/// block followers past the transaction that took it (the slot's ALLOCATING mark is undone the
/// same way, by the subtransaction and transaction callbacks of slots.rs).
pub struct AllocationGuard {
    held: Held,
}

enum Held {
    Lock(pg_sys::LOCKMODE),
    /// This guard marked the slot ALLOCATING.
    Slot,
    /// The transaction already published its first idx: nothing to do.
    Nothing,
}

impl AllocationGuard {
    /// Writers: concurrent appends allocate in parallel.
    pub fn shared() -> Self {
        let guard = match slots::shared() {
            Some(shared) if in_flight_of_this_transaction().is_none() => {
                // Locked before the slot is marked, so that the allocation waits for no
                // heavyweight lock (an ALTER SEQUENCE queued behind a reader) while readers wait
                // for the slot.
                lock_sequence();
                shared.begin_allocating();
                AllocationGuard { held: Held::Slot }
            }
            Some(_) => AllocationGuard { held: Held::Nothing },
            None => Self::acquire(SHARE),
        };
        #[cfg(any(test, feature = "pg_test"))]
        if FAIL_NEXT_ALLOCATION.replace(false) {
            // A path that never releases the lock or the slot: only the (sub)transaction's end can.
            std::mem::forget(guard);
            pgrx::error!("bel failpoint: an error while the allocation lock is held");
        }
        guard
    }
    /// Readers without slots: exclusive, so no allocation is half done while the last idx is read.
    pub fn exclusive() -> Self {
        Self::acquire(EXCLUSIVE)
    }
    fn acquire(mode: pg_sys::LOCKMODE) -> Self {
        let t = tag(CLASS_ALLOCATION, 0);
        // SAFETY: a valid tag of the user lock method, transaction level (owned by the
        // current resource owner); blocking waits are interruptible.
        unsafe { pg_sys::LockAcquire(&t, mode, false, false) };
        AllocationGuard { held: Held::Lock(mode) }
    }
}

impl Drop for AllocationGuard {
    fn drop(&mut self) {
        match self.held {
            Held::Lock(mode) => {
                let t = tag(CLASS_ALLOCATION, 0);
                // SAFETY: releases the one transaction-level hold `acquire` took (a transaction's
                // lock may be released before the transaction ends).
                unsafe { pg_sys::LockRelease(&t, mode, false) };
            }
            Held::Slot => {
                if let Some(shared) = slots::shared() {
                    shared.end_allocating_unpublished();
                }
            }
            Held::Nothing => {}
        }
    }
}

/// bel's sequence, locked as nextval locks it (RowExclusiveLock, on the fast path; nextval
/// then finds it held).
fn lock_sequence() {
    let seq = super::sequence_oid();
    // SAFETY: a transaction-level lock on an existing relation.
    unsafe { pg_sys::LockRelationOid(seq, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE) };
}

#[cfg(any(test, feature = "pg_test"))]
thread_local! {
    static FAIL_NEXT_ALLOCATION: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Test builds only: the next append of this backend raises an ERROR right after it took
/// the allocation lock, skipping its release.
#[cfg(any(test, feature = "pg_test"))]
pub fn fail_next_allocation() {
    FAIL_NEXT_ALLOCATION.set(true);
}

/// The in-flight lock this backend holds for its current transaction, if any.
#[derive(Clone, Copy)]
struct InFlight {
    local_xid: pg_sys::LocalTransactionId,
    idx: i64,
}

thread_local! {
    static IN_FLIGHT: std::cell::Cell<Option<InFlight>> = const { std::cell::Cell::new(None) };
}

fn local_transaction_id() -> pg_sys::LocalTransactionId {
    // SAFETY: MyProc is valid in a backend running a transaction.
    unsafe { (*pg_sys::MyProc).lxid }
}

/// Marks `idx` as in flight unless this transaction already holds an in-flight lock (its
/// first idx is smaller than any later one, which is all readers need). Call with the
/// `AllocationGuard` that was taken before the idx was allocated still alive: with the slots,
/// its ALLOCATING mark covers the idx until this publishes it. A lock taken inside a rolled-back savepoint is gone with it;
/// `LockHeldByMe` notices and a new one is taken. Followers are woken when the
/// transaction commits (see wake.rs).
pub fn mark_in_flight(idx: i64) {
    if in_flight_of_this_transaction().is_some() {
        return;
    }
    super::wake::wake_followers_at_commit();
    let t = tag(CLASS_IN_FLIGHT, idx);
    // SAFETY: transaction-level lock on a fresh key; nobody else can hold it.
    unsafe { pg_sys::LockAcquire(&t, EXCLUSIVE, false, false) };
    IN_FLIGHT.set(Some(InFlight { local_xid: local_transaction_id(), idx }));
    if let Some(shared) = slots::shared() {
        shared.publish(idx);
    }
}

/// Whether this backend holds the in-flight lock of `idx`.
pub fn holds_in_flight(idx: i64) -> bool {
    let t = tag(CLASS_IN_FLIGHT, idx);
    // SAFETY: read-only lookup in the backend's local lock table.
    unsafe { pg_sys::LockHeldByMe(&t, EXCLUSIVE) }
}

/// The key of the in-flight lock the current transaction holds: its first idx still
/// appended (not rolled back with a savepoint). None when it has no append.
pub fn in_flight_of_this_transaction() -> Option<i64> {
    let held = IN_FLIGHT.get().filter(|h| h.local_xid == local_transaction_id())?;
    holds_in_flight(held.idx).then_some(held.idx)
}

/// The smallest in-flight idx of any other transaction in this database, from the lock
/// table. The caller's own appends are visible to it, so they do not hold it back.
pub fn min_in_flight() -> Option<i64> {
    // SAFETY: GetLockStatusData returns a palloc'd consistent copy of the lock table.
    unsafe {
        let data = pg_sys::GetLockStatusData();
        let n = usize::try_from((*data).nelements).unwrap_or(0);
        let db = pg_sys::MyDatabaseId.to_u32();
        let mut min: Option<i64> = None;
        for i in 0..n {
            let inst = &*(*data).locks.add(i);
            let t = &inst.locktag;
            if t.locktag_type == pg_sys::LockTagType::LOCKTAG_ADVISORY as u8
                && t.locktag_field4 == CLASS_IN_FLIGHT
                && t.locktag_field1 == db
                && inst.holdMask != 0
                && inst.pid != pg_sys::MyProcPid
            {
                let idx = key_of(t);
                min = Some(min.map_or(idx, |m| m.min(idx)));
            }
        }
        min
    }
}

/// The in-flight locks held by prepared transactions (no backend: pid 0), in every database:
/// (database, first idx).
pub fn prepared_in_flight() -> Vec<(u32, i64)> {
    // SAFETY: GetLockStatusData returns a palloc'd consistent copy of the lock table.
    unsafe {
        let data = pg_sys::GetLockStatusData();
        let n = usize::try_from((*data).nelements).unwrap_or(0);
        let mut found = Vec::new();
        for i in 0..n {
            let inst = &*(*data).locks.add(i);
            let t = &inst.locktag;
            if t.locktag_type == pg_sys::LockTagType::LOCKTAG_ADVISORY as u8
                && t.locktag_field4 == CLASS_IN_FLIGHT
                && inst.holdMask != 0
                && inst.pid == 0
            {
                found.push((t.locktag_field1, key_of(t)));
            }
        }
        found
    }
}

/// Whether some transaction holds the in-flight lock of `idx` (a non-blocking probe).
pub fn is_in_flight(idx: i64) -> bool {
    // SAFETY: MyDatabaseId is set once at backend start and only read here.
    is_in_flight_in(unsafe { pg_sys::MyDatabaseId }.to_u32(), idx)
}

/// `is_in_flight` in database `db`.
pub fn is_in_flight_in(db: u32, idx: i64) -> bool {
    let mut t = tag(CLASS_IN_FLIGHT, idx);
    t.locktag_field1 = db;
    // SAFETY: dontWait = true never blocks; on success we release at once.
    unsafe {
        let got = pg_sys::LockAcquire(&t, SHARE, true, true);
        if got == pg_sys::LockAcquireResult::LOCKACQUIRE_NOT_AVAIL {
            return true;
        }
        pg_sys::LockRelease(&t, SHARE, true);
        false
    }
}

/// Takes the notifier lock for this transaction if it is free (a committing appender, at
/// pre-commit). The winner sends the NOTIFY; at most one notifying transaction commits at
/// a time, the rest commit in parallel (NOTIFY serializes commits in Postgres).
pub fn try_become_notifier() -> bool {
    let t = tag(CLASS_NOTIFIER, 0);
    // SAFETY: transaction-level, non-blocking.
    unsafe { pg_sys::LockAcquire(&t, EXCLUSIVE, false, true) == pg_sys::LockAcquireResult::LOCKACQUIRE_OK }
}
