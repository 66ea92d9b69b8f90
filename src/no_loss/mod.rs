//! The no-loss cursor (docs/no-loss-cursor.md), in one place: the advisory locks writers
//! take while an append is in flight ([`locks`]), the horizon readers stop below
//! ([`horizon`]), and waiting for an in-flight append to end ([`wait`]).
mod horizon;
mod locks;
mod wait;

pub use horizon::{horizon, Horizon};
pub use locks::{mark_in_flight, try_become_notifier, AllocationGuard};
pub use wait::wait_for_append;
