//! Waiting for an append in flight to end, for followers whose page stopped below it.
use std::time::{Duration, Instant};

use pgrx::pg_sys;

use super::locks::is_in_flight;

/// The first probe's sleep; it doubles up to `MAX_SLEEP_US`. Most appends a follower waits
/// for end within a millisecond or two, so the early sleeps are sub-millisecond: a latch
/// wait's timeout is whole milliseconds, which made every such wait last at least 1 ms.
const FIRST_SLEEP_US: i64 = 50;
/// Caps the polling at 200 probes a second for an append that stays open long.
const MAX_SLEEP_US: i64 = 5_000;

/// Polls the append's in-flight lock with a short, growing sleep (interruptible:
/// statement_timeout and cancel work). Polling, rather than a blocking lock wait, keeps a
/// timeout from having to be caught as an ERROR.
pub fn wait_for_append(idx: i64, timeout_ms: i32) -> bool {
    let deadline = Instant::now() + Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
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
            // SAFETY: waits on this backend's latch with a timeout; exits on postmaster death.
            unsafe {
                pg_sys::WaitLatch(
                    pg_sys::MyLatch,
                    (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                    nap_us / 1_000,
                    pg_sys::PG_WAIT_EXTENSION,
                );
                pg_sys::ResetLatch(pg_sys::MyLatch);
            }
        }
        pg_sys::check_for_interrupts!();
        sleep_us = (sleep_us * 2).min(MAX_SLEEP_US);
    }
}
