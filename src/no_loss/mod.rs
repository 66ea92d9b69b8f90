//! The no-loss cursor (docs/no-loss-cursor.md), in one place: the advisory locks writers
//! take while an append is in flight ([`locks`]), the horizon readers stop below
//! ([`horizon`]), waiting for an in-flight append to end ([`wait`]) and the NOTIFY that
//! wakes followers when appends commit ([`wake`]).
mod horizon;
mod locks;
mod wait;
mod wake;

pub use horizon::{horizon, Horizon};
#[cfg(any(test, feature = "pg_test"))]
pub use locks::fail_next_allocation;
pub use locks::{mark_in_flight, AllocationGuard};
pub use wait::wait_for_append;
