//! In-flight slots: the no-loss horizon without locks, when bel is in
//! `shared_preload_libraries` (docs/no-loss-cursor.md, "In-flight slots").
//!
//! Shared memory holds one slot per backend (indexed by `MyProc->pgprocno`) with the first idx
//! of that backend's transaction still in flight, and a short list of the first idx of
//! PREPAREd transactions. A writer publishes before it allocates and clears after its commit is
//! visible; a reader reads the sequence's last value, then the slots, and takes no lock of bel's
//! for it: writers never wait for a reader's horizon, readers never copy the lock table.
//!
//! Slot states: `EMPTY`; `ALLOCATING` (the backend is between the start of its first
//! allocation and its publication: the idx it gets may be at or below the last value a reader
//! read, so the reader waits for it, microseconds, no lock or I/O in between); a first idx.
//! Each slot also names its database (set once per backend, before its first publication):
//! every database has its own sequence, so only the reader's own database counts.
use std::cell::UnsafeCell;
use std::ffi::{c_void, CStr};
use std::sync::atomic::{fence, AtomicBool, AtomicI64, AtomicU32, Ordering::SeqCst};
use std::time::Instant;

use pgrx::pg_sys;
use pgrx::prelude::*;
use pgrx::{GucContext, GucFlags, GucRegistry, GucSetting};

use crate::errors::internal;

const EMPTY: i64 = 0;
const ALLOCATING: i64 = -1;
/// How often a follower waiting for a prepared append looks again (nothing wakes it).
const PREPARED_POLL_MS: i64 = 5;

#[repr(C)]
struct Slot {
    idx: AtomicI64,
    db: AtomicU32,
    /// Prepared entries only: bumped (under the list's lock) whenever the entry is claimed by a
    /// PREPARE, also by one with the same pair. A reader removes an entry it found ended only
    /// if this did not move since: a first idx can be in flight again in a database (DROP and
    /// CREATE EXTENSION, setval), and an ended entry must not take a new PREPARE's with it.
    generation: AtomicU32,
}

#[repr(C)]
struct Header {
    slots: u32,
    prepared: u32,
    /// The prepared transactions that survived a restart are in the list (see `seed_prepared`).
    prepared_seeded: AtomicBool,
    /// Broadcast whenever a slot that published an idx is emptied: a follower waiting for that
    /// append to end (`wait_for_end`) wakes at once instead of polling.
    slot_emptied: UnsafeCell<pg_sys::ConditionVariable>,
}

/// The shared memory of this postmaster's life, set by the startup hook (inherited by every
/// backend through fork); null when bel is not preloaded.
static mut SHARED: *mut Header = std::ptr::null_mut();
static mut PREV_REQUEST_HOOK: pg_sys::shmem_request_hook_type = None;
static mut PREV_STARTUP_HOOK: pg_sys::shmem_startup_hook_type = None;
/// Serializes the changes of the prepared list (adding, removing an entry; readers read it
/// without it): an entry is never removed after it was reused for another transaction.
static mut PREPARED_LOCK: *mut pg_sys::LWLock = std::ptr::null_mut();
const NAME: &CStr = c"bel in-flight slots";

/// Called from `_PG_init` while `shared_preload_libraries` loads: asks for the shared memory.
pub fn install_hooks() {
    // SAFETY: the postmaster is single-threaded while it loads preloaded libraries; hooks are
    // chained.
    unsafe {
        PREV_REQUEST_HOOK = pg_sys::shmem_request_hook;
        pg_sys::shmem_request_hook = Some(request_shmem);
        PREV_STARTUP_HOOK = pg_sys::shmem_startup_hook;
        pg_sys::shmem_startup_hook = Some(startup_shmem);
    }
}

/// Backends that can append (regular backends, background workers) and the auxiliary ones: a
/// bound on `pgprocno` of any process that runs bel. Prepared transactions' PGPROCs come after
/// these and have no slot (the prepared list covers them).
fn slot_count() -> u32 {
    // SAFETY: MaxBackends is final by the time shared memory is requested.
    let backends = unsafe { pg_sys::MaxBackends };
    u32::try_from(backends).unwrap_or(0) + pg_sys::NUM_AUXILIARY_PROCS
}

/// Every transaction prepared at once (`max_prepared_transactions`) plus one being prepared per
/// backend are the live entries (a claim of an existing pair reuses its entry); twice the
/// former leaves room for ended entries not yet pruned.
fn prepared_capacity() -> u32 {
    // SAFETY: reads a postmaster GUC by name; missing_ok = true returns NULL if unknown.
    let max_prepared = unsafe {
        let v = pg_sys::GetConfigOption(c"max_prepared_transactions".as_ptr(), true, false);
        if v.is_null() {
            0
        } else {
            CStr::from_ptr(v).to_str().ok().and_then(|s| s.parse::<u32>().ok()).unwrap_or(0)
        }
    };
    2 * max_prepared + slot_count()
}

fn shmem_size(slots: u32, prepared: u32) -> usize {
    std::mem::size_of::<Header>().next_multiple_of(8)
        + (slots as usize + prepared as usize) * std::mem::size_of::<Slot>()
}

#[pg_guard]
unsafe extern "C-unwind" fn request_shmem() {
    // SAFETY: chained hook of the postmaster, called once before shared memory is created.
    unsafe {
        if let Some(prev) = PREV_REQUEST_HOOK {
            prev();
        }
        pg_sys::RequestAddinShmemSpace(shmem_size(slot_count(), prepared_capacity()));
        pg_sys::RequestNamedLWLockTranche(NAME.as_ptr(), 1);
    }
}

#[pg_guard]
unsafe extern "C-unwind" fn startup_shmem() {
    // SAFETY: chained hook, run by the postmaster after every (re)creation of shared memory
    // (a crash restart zeroes it anew), under AddinShmemInitLock as the docs of
    // ShmemInitStruct ask.
    unsafe {
        if let Some(prev) = PREV_STARTUP_HOOK {
            prev();
        }
        let (slots, prepared) = (slot_count(), prepared_capacity());
        let lock = &raw mut (*pg_sys::MainLWLockArray.add(21)).lock; // AddinShmemInitLock
        pg_sys::LWLockAcquire(lock, pg_sys::LWLockMode::LW_EXCLUSIVE);
        let mut found = false;
        let header = pg_sys::ShmemInitStruct(NAME.as_ptr(), shmem_size(slots, prepared), &mut found).cast::<Header>();
        if !found {
            std::ptr::write_bytes(header.cast::<u8>(), 0, shmem_size(slots, prepared));
            (*header).slots = slots;
            (*header).prepared = prepared;
            pg_sys::ConditionVariableInit((*header).slot_emptied.get());
        }
        pg_sys::LWLockRelease(lock);
        PREPARED_LOCK = &raw mut (*pg_sys::GetNamedLWLockTranche(NAME.as_ptr())).lock;
        SHARED = header;
    }
}

static SLOTS_ON: GucSetting<bool> = GucSetting::<bool>::new(true);
static SLOTS_OFF: GucSetting<bool> = GucSetting::<bool>::new(false);

/// `bel.in_flight_slots` (read-only): on when bel was preloaded and readers use the slots, off
/// when they use the allocation lock and the lock table.
pub fn define_setting(preloaded: bool) {
    GucRegistry::define_bool_guc(
        c"bel.in_flight_slots",
        c"Whether the no-loss horizon reads in-flight slots in shared memory (bel in shared_preload_libraries).",
        c"off: readers take the allocation lock and scan the lock table (docs/no-loss-cursor.md).",
        if preloaded { &SLOTS_ON } else { &SLOTS_OFF },
        GucContext::Internal,
        GucFlags::default(),
    );
}

/// The slots, when bel is preloaded (else the lock-based horizon of locks.rs is used).
pub fn shared() -> Option<&'static Shared> {
    // SAFETY: SHARED is set once per postmaster life before any backend starts.
    let header = unsafe { SHARED };
    if header.is_null() {
        None
    } else {
        // SAFETY: Shared is a transparent view of the header and the arrays behind it.
        Some(unsafe { &*(header as *const Shared) })
    }
}

/// A view of the shared memory: the header, then `slots` slots, then `prepared` entries.
#[repr(transparent)]
pub struct Shared(Header);

impl Shared {
    fn slots(&self) -> &[Slot] {
        let base = std::ptr::from_ref(&self.0).cast::<u8>();
        // SAFETY: the startup hook sized the segment for this many slots after the header.
        unsafe {
            std::slice::from_raw_parts(
                base.add(std::mem::size_of::<Header>().next_multiple_of(8)).cast::<Slot>(),
                self.0.slots as usize,
            )
        }
    }
    fn prepared(&self) -> &[Slot] {
        // SAFETY: the prepared entries follow the slots in the same segment.
        unsafe {
            std::slice::from_raw_parts(self.slots().as_ptr().add(self.0.slots as usize), self.0.prepared as usize)
        }
    }
    fn my_slot(&self) -> &Slot {
        // SAFETY: MyProc is set in every backend that runs a transaction.
        let procno = unsafe { (*pg_sys::MyProc).pgprocno };
        usize::try_from(procno)
            .ok()
            .and_then(|i| self.slots().get(i))
            .unwrap_or_else(|| internal("in-flight slots", format!("no slot for pgprocno {procno}")))
    }

    /// Writers, before their first allocation of a transaction: readers that see this wait for
    /// the idx to be published.
    pub fn begin_allocating(&self) {
        register_backend(self);
        self.my_slot().idx.store(ALLOCATING, SeqCst);
    }

    /// Writers: the allocation failed before it was published (nothing to wait for).
    pub fn end_allocating_unpublished(&self) {
        let _ = self.my_slot().idx.compare_exchange(ALLOCATING, EMPTY, SeqCst, SeqCst);
    }

    /// Writers: `idx` is the first idx of this transaction, the key of its in-flight lock.
    pub fn publish(&self, idx: i64) {
        self.my_slot().idx.store(idx, SeqCst);
        PUBLISHED.set(Some(idx));
    }

    #[cfg(any(test, feature = "pg_test"))]
    pub fn own_slot_allocating(&self) -> bool {
        self.my_slot().idx.load(SeqCst) == ALLOCATING
    }

    fn clear(&self) {
        let previous = self.my_slot().idx.swap(EMPTY, SeqCst);
        PUBLISHED.set(None);
        if previous > EMPTY {
            // SAFETY: the condition variable was initialized with the shared memory.
            unsafe { pg_sys::ConditionVariableBroadcast(self.0.slot_emptied.get()) };
        }
    }

    /// This backend's database, and the slots of every other backend: what a reader looks at
    /// (its own transaction sees its own appends).
    fn other_backends(&self) -> (u32, impl Iterator<Item = &Slot>) {
        // SAFETY: MyProc and MyDatabaseId are set in a backend running a transaction.
        let (me, db) = unsafe { ((*pg_sys::MyProc).pgprocno, pg_sys::MyDatabaseId.to_u32()) };
        let me = usize::try_from(me).ok();
        (db, self.slots().iter().enumerate().filter(move |(i, _)| Some(*i) != me).map(|(_, slot)| slot))
    }

    /// Whether `idx` is the first idx of a transaction of this database still in flight, in
    /// another backend or prepared. The slot is emptied once the commit is visible (before the
    /// in-flight lock goes), so a follower that sees it ended reads the append's events.
    fn in_flight(&self, idx: i64) -> bool {
        if idx <= EMPTY {
            // No first idx is below 1, and the slot states EMPTY and ALLOCATING are not idx.
            return false;
        }
        let (db, mut others) = self.other_backends();
        let in_a_slot = others.any(|slot| slot.idx.load(SeqCst) == idx && slot.db.load(SeqCst) == db);
        // A PREPARE lists the transaction before it empties the slot. A listed entry may have
        // ended already (entries are pruned lazily): its lock says.
        in_a_slot
            || (self.prepared().iter().any(|e| e.idx.load(SeqCst) == idx && e.db.load(SeqCst) == db)
                && super::locks::is_in_flight_in(db, idx))
    }

    /// Waits until the append whose first idx is `idx` has ended (true) or `deadline` passed
    /// (false). A backend's append wakes it when its slot is emptied; the end of a prepared
    /// transaction (COMMIT PREPARED runs in whichever backend) is polled every
    /// `PREPARED_POLL_MS`. Interruptible: cancel and statement_timeout end it.
    pub fn wait_for_end(&self, idx: i64, deadline: Instant) -> bool {
        // Prepared transactions that survived a restart are listed before their idx is looked up.
        self.seed_prepared();
        if !self.in_flight(idx) {
            return true;
        }
        let cv = self.0.slot_emptied.get();
        // SAFETY: joins the wait list before the next check, so a broadcast after it wakes us;
        // an ERROR while sleeping leaves the list at transaction abort.
        unsafe { pg_sys::ConditionVariablePrepareToSleep(cv) };
        let (mut woken, mut timed_out) = (0u32, 0u32);
        let ended = loop {
            if !self.in_flight(idx) {
                break true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break false;
            }
            let nap_ms = i64::try_from(left.as_millis()).unwrap_or(i64::MAX).clamp(1, PREPARED_POLL_MS);
            // SAFETY: prepared to sleep on `cv` above; checks for interrupts.
            if unsafe { pg_sys::ConditionVariableTimedSleep(cv, nap_ms, pg_sys::PG_WAIT_EXTENSION) } {
                timed_out += 1;
            } else {
                woken += 1;
            }
        };
        // SAFETY: leaves the wait list joined above.
        unsafe { pg_sys::ConditionVariableCancelSleep() };
        // How the wait went, for whoever looks (a test checks that appends' ends do wake it:
        // without the broadcast every wait would still end, only up to PREPARED_POLL_MS late).
        // SAFETY: reads the session's log settings.
        if unsafe { pg_sys::message_level_is_interesting(pg_sys::DEBUG1 as i32) } {
            pgrx::debug1!(
                "bel: wait_for_append({idx}): ended {ended}, woken {woken} time(s), timed out {timed_out} time(s)"
            );
        }
        ended
    }

    /// Readers: the smallest first idx in flight in this database, from other backends and
    /// prepared transactions, as of after `last_allocated` was read. Every transaction that
    /// allocated an idx <= `last_allocated` either shows here or has ended (committed and
    /// visible, or rolled back). The reader's own transaction is skipped: it sees its appends.
    pub fn min_in_flight(&self) -> Option<i64> {
        fence(SeqCst);
        let (db, others) = self.other_backends();
        let mut min: Option<i64> = None;
        let mut keep = |idx: i64| min = Some(min.map_or(idx, |m: i64| m.min(idx)));
        for slot in others {
            if let Some(idx) = published_in(slot, db) {
                keep(idx);
            }
        }
        self.seed_prepared();
        let mut ended = Vec::new();
        for (i, entry) in self.prepared().iter().enumerate() {
            // The generation before the probe: a PREPARE that claims the entry after it bumps it.
            let generation = entry.generation.load(SeqCst);
            let idx = entry.idx.load(SeqCst);
            if idx == EMPTY || entry.db.load(SeqCst) != db {
                continue;
            }
            if super::locks::is_in_flight_in(db, idx) {
                keep(idx);
            } else {
                // Ended (its in-flight lock is released only after its end is visible).
                ended.push((i, generation));
            }
        }
        if !ended.is_empty() {
            self.remove_prepared(&ended);
        }
        min
    }

    /// Adds a prepared transaction's first idx; Err when the list is full of live entries.
    fn register_prepared(&self, db: u32, idx: i64) -> Result<(), ()> {
        for pass in 0..2 {
            {
                let _lock = PreparedLock::exclusive();
                let entries = self.prepared();
                if let Some(e) = entries.iter().find(|e| e.idx.load(SeqCst) == idx && e.db.load(SeqCst) == db) {
                    // Maybe an ended transaction's entry a reader is about to remove: claimed.
                    e.generation.fetch_add(1, SeqCst);
                    return Ok(());
                }
                if let Some(e) = entries.iter().find(|e| e.idx.load(SeqCst) == EMPTY) {
                    // The database first: a reader that reads the idx reads this database.
                    e.db.store(db, SeqCst);
                    e.idx.store(idx, SeqCst);
                    e.generation.fetch_add(1, SeqCst);
                    return Ok(());
                }
            }
            if pass == 0 {
                // Full: drop the entries of prepared transactions that ended (any database).
                let ended: Vec<(usize, u32)> = self
                    .prepared()
                    .iter()
                    .enumerate()
                    .filter_map(|(i, e)| {
                        let generation = e.generation.load(SeqCst);
                        let (d, v) = (e.db.load(SeqCst), e.idx.load(SeqCst));
                        (v != EMPTY && !super::locks::is_in_flight_in(d, v)).then_some((i, generation))
                    })
                    .collect();
                self.remove_prepared(&ended);
            }
        }
        Err(())
    }

    /// Removes the entries (position, generation when found ended) of prepared transactions
    /// that ended, unless a PREPARE claimed the entry since (its generation moved).
    fn remove_prepared(&self, ended: &[(usize, u32)]) {
        let _lock = PreparedLock::exclusive();
        let entries = self.prepared();
        for &(i, generation) in ended {
            if let Some(e) = entries.get(i) {
                if e.generation.load(SeqCst) == generation {
                    e.idx.store(EMPTY, SeqCst);
                }
            }
        }
    }

    /// Shared memory starts empty at every postmaster start, but prepared transactions survive
    /// a restart with their locks: the first reader after a start copies their in-flight locks
    /// (the lock table's entries held by no backend, pid 0) into the list, once.
    fn seed_prepared(&self) {
        if self.0.prepared_seeded.load(SeqCst) {
            return;
        }
        for (db, idx) in super::locks::prepared_in_flight() {
            if self.register_prepared(db, idx).is_err() {
                internal("in-flight slots", "the list of prepared appends is full");
            }
        }
        self.0.prepared_seeded.store(true, SeqCst);
    }
}

/// The prepared list's LWLock, held while this lives (an ERROR releases it with the rest).
struct PreparedLock;

impl PreparedLock {
    fn exclusive() -> Self {
        // SAFETY: the lock was set up with the shared memory, before any backend started.
        unsafe { pg_sys::LWLockAcquire(PREPARED_LOCK, pg_sys::LWLockMode::LW_EXCLUSIVE) };
        PreparedLock
    }
}

impl Drop for PreparedLock {
    fn drop(&mut self) {
        // SAFETY: held since `exclusive`.
        unsafe { pg_sys::LWLockRelease(PREPARED_LOCK) };
    }
}

/// The first idx a slot publishes for database `db`, waiting while it is ALLOCATING.
fn published_in(slot: &Slot, db: u32) -> Option<i64> {
    let mut spins: u32 = 0;
    loop {
        let idx = slot.idx.load(SeqCst);
        // The database is set before the slot's first publication and changes only after the
        // backend cleared the slot and exited: a value read before it belongs to it, or to a
        // transaction that has ended.
        if idx == EMPTY || slot.db.load(SeqCst) != db {
            return None;
        }
        if idx != ALLOCATING {
            return Some(idx);
        }
        // Between an allocation's start and its publication: nextval and a lock-table insert,
        // no heavyweight lock wait (the sequence is locked before), so this ends in microseconds
        // unless the writer is descheduled or stopped; yield, then wait on the latch 1 ms at a
        // time, shown in pg_stat_activity as wait event Extension. Interruptible: cancel and
        // statement_timeout end it (no lock wait, so lock_timeout does not).
        pg_sys::check_for_interrupts!();
        spins = spins.saturating_add(1);
        if spins < 100 {
            std::thread::yield_now();
        } else {
            super::wait::nap_on_latch(1);
        }
    }
}

thread_local! {
    static REGISTERED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The idx this backend's slot publishes (its in-flight lock's key).
    static PUBLISHED: std::cell::Cell<Option<i64>> = const { std::cell::Cell::new(None) };
}

/// Once per backend, before its first publication: the slot names this database, and the
/// callbacks that clear it are registered.
fn register_backend(shared: &Shared) {
    if REGISTERED.get() {
        return;
    }
    let slot = shared.my_slot();
    slot.idx.store(EMPTY, SeqCst);
    // SAFETY: MyDatabaseId is fixed for the backend's life.
    slot.db.store(unsafe { pg_sys::MyDatabaseId.to_u32() }, SeqCst);
    // SAFETY: registers static functions for the rest of the backend's life.
    unsafe {
        pg_sys::RegisterXactCallback(Some(at_transaction_event), std::ptr::null_mut());
        pg_sys::RegisterSubXactCallback(Some(at_subtransaction_event), std::ptr::null_mut());
        pg_sys::RegisterResourceReleaseCallback(Some(after_release), std::ptr::null_mut());
        pg_sys::before_shmem_exit(Some(at_exit), pg_sys::Datum::from(0));
    }
    REGISTERED.set(true);
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_event(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    let Some(shared) = shared() else { return };
    match event {
        // After ProcArrayEndTransaction: the commit is visible to new snapshots, the abort
        // final.
        pg_sys::XactEvent::XACT_EVENT_COMMIT | pg_sys::XactEvent::XACT_EVENT_ABORT => shared.clear(),
        // The backend's transaction becomes a prepared one that stays in flight: listed before
        // the slot is cleared at PREPARE, so a reader that finds the slot cleared finds the entry.
        pg_sys::XactEvent::XACT_EVENT_PRE_PREPARE => {
            if let Some(idx) = super::locks::in_flight_of_this_transaction() {
                // SAFETY: MyDatabaseId is fixed for the backend's life.
                let db = unsafe { pg_sys::MyDatabaseId.to_u32() };
                if shared.register_prepared(db, idx).is_err() {
                    internal("in-flight slots", "the list of prepared appends is full");
                }
            }
        }
        pg_sys::XactEvent::XACT_EVENT_PREPARE => shared.clear(),
        _ => {}
    }
}

/// An allocation cut by an error that a subtransaction catches: its ALLOCATING mark goes (the
/// guard's drop does it too, unless the path skipped it).
#[pg_guard]
unsafe extern "C-unwind" fn at_subtransaction_event(
    event: pg_sys::SubXactEvent::Type,
    _sub: pg_sys::SubTransactionId,
    _parent: pg_sys::SubTransactionId,
    _arg: *mut c_void,
) {
    if event == pg_sys::SubXactEvent::SUBXACT_EVENT_ABORT_SUB {
        if let Some(shared) = shared() {
            shared.end_allocating_unpublished();
        }
    }
}

/// The slot follows the in-flight lock: once the lock is gone, the slot is emptied. Before the
/// transaction ends that happens when a rolled-back savepoint (or plpgsql block) owned the lock:
/// it took every append of the transaction so far with it, and a later append publishes again.
/// Checked after each release of a resource owner's locks, wherever the lock was owned (a
/// portal of an outer level keeps it across the rollback of an inner one, and then the slot
/// stays too).
#[pg_guard]
unsafe extern "C-unwind" fn after_release(
    phase: pg_sys::ResourceReleasePhase::Type,
    _is_commit: bool,
    _is_top_level: bool,
    _arg: *mut c_void,
) {
    if phase != pg_sys::ResourceReleasePhase::RESOURCE_RELEASE_AFTER_LOCKS {
        return;
    }
    let Some(idx) = PUBLISHED.get() else { return };
    if !super::locks::holds_in_flight(idx) {
        if let Some(shared) = shared() {
            shared.clear();
        }
    }
}

/// Runs before the transaction of an exiting backend is aborted: that transaction can only
/// roll back now, so the slot may be cleared first.
#[pg_guard]
unsafe extern "C-unwind" fn at_exit(_code: i32, _arg: pg_sys::Datum) {
    if let Some(shared) = shared() {
        shared.clear();
    }
}
