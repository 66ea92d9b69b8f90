//! Waiting for an append in flight to end, for followers whose page stopped below it.
use std::time::{Duration, Instant};

use pgrx::pg_sys;

use super::locks::is_in_flight;
use super::slots;

/// The first probe's sleep; it doubles up to `MAX_SLEEP_US`. Most appends a follower waits
/// for end within a millisecond or two, so the early sleeps are sub-millisecond: a latch
/// wait's timeout is whole milliseconds, which made every such wait last at least 1 ms.
const FIRST_SLEEP_US: i64 = 50;
/// Caps the polling at 200 probes a second for an append that stays open long.
const MAX_SLEEP_US: i64 = 5_000;

/// Waits until the append whose first idx is `idx` commits or rolls back (true) or
/// `timeout_ms` passes (false). With the in-flight slots the append's end wakes the waiter
/// (slots.rs); without, the append's in-flight lock is polled with a short, growing sleep.
/// Interruptible either way (statement_timeout, cancel); neither waits in the lock manager,
/// where a timeout would have to be caught as an ERROR.
pub fn wait_for_append(idx: i64, timeout_ms: i32) -> bool {
    let deadline = Instant::now() + Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
    match slots::shared() {
        Some(shared) => shared.wait_for_end(idx, deadline),
        None => poll_lock(idx, deadline),
    }
}

fn poll_lock(idx: i64, deadline: Instant) -> bool {
    let mut sleep_us: i64 = FIRST_SLEEP_US;
    loop {
        if !is_in_flight(idx) {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        let left_us = i64::try_from((deadline - now).as_micros()).unwrap_or(i64::MAX);
        let nap_us = sleep_us.min(left_us).max(1);
        if nap_us < 1_000 {
            // SAFETY: a plain sub-millisecond sleep; interrupts are checked right after.
            unsafe { pg_sys::pg_usleep(nap_us) };
        } else {
            nap_on_latch(nap_us / 1_000);
        }
        pg_sys::check_for_interrupts!();
        sleep_us = (sleep_us * 2).min(MAX_SLEEP_US);
    }
}

/// Sleeps on this backend's latch for up to `ms` milliseconds (wait event Extension in
/// pg_stat_activity); exits if the postmaster dies.
pub(super) fn nap_on_latch(ms: i64) {
    // SAFETY: waits on this backend's latch with a timeout, then resets it.
    unsafe {
        pg_sys::WaitLatch(
            pg_sys::MyLatch,
            (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
            ms,
            pg_sys::PG_WAIT_EXTENSION,
        );
        pg_sys::ResetLatch(pg_sys::MyLatch);
    }
}
