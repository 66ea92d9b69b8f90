//! The no-loss cursor (docs/no-loss-cursor.md), in one place: the advisory locks writers
//! take while an append is in flight ([`locks`]), the horizon readers stop below
//! ([`horizon`]), waiting for an in-flight append to end ([`wait`]) and the NOTIFY that
//! wakes followers when appends commit ([`wake`]); with `shared_preload_libraries`, the
//! in-flight slots readers scan instead of locking ([`slots`]).
mod horizon;
mod locks;
mod slots;
mod wait;
mod wake;

use pgrx::pg_sys;

pub use horizon::{horizon, Horizon};
#[cfg(any(test, feature = "pg_test"))]
pub use locks::fail_next_allocation;
pub use locks::{mark_in_flight, AllocationGuard};
pub use wait::wait_for_append;

/// Called by `_PG_init`: under `shared_preload_libraries`, the in-flight slots' shared memory;
/// in every case the read-only setting `bel.in_flight_slots` that says which horizon is used.
pub fn init() {
    // SAFETY: read while the library loads.
    let preloading = unsafe { pg_sys::process_shared_preload_libraries_in_progress };
    if preloading {
        slots::install_hooks();
    }
    slots::define_setting(preloading);
}

/// Test builds only: whether this backend's slot is marked ALLOCATING (None without slots).
#[cfg(any(test, feature = "pg_test"))]
pub fn own_slot_allocating() -> Option<bool> {
    slots::shared().map(|s| s.own_slot_allocating())
}

/// The idx sequence, bel.events_idx_seq (the one place that names it).
pub(crate) fn sequence_oid() -> pg_sys::Oid {
    crate::relation_oids::bel_relation(c"events_idx_seq")
}
