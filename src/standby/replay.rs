//! The standby's half: a page read below a horizon the primary computed, once this server
//! has replayed the WAL up to the horizon's LSN. The read never takes a horizon of its
//! own, so it runs on a hot standby (and on the primary alike).
use std::time::{Duration, Instant};

use bel_core::pb::EventPage;
use bel_core::{ErrorClass, Rejection};
use pgrx::{pg_sys, FromDatum, IntoDatum};

use super::lsn::Lsn;
use super::wal;
use crate::errors::{internal, raise};
use crate::no_loss::Horizon;
use crate::read::check_bounds;
use crate::spi::jsonb_text::{JsonbText, JsonbValue};

/// The horizon to read below, once replayed: every idx <= `idx` committed or rolled back
/// for good on the primary, every commit among them recorded in the WAL before `lsn`.
/// None when this server had not replayed up to `lsn` within `timeout_ms`: nothing may be
/// read then, since a commit not yet replayed looks like a rolled-back hole.
pub fn replayed_horizon(since_idx: i64, limit: i32, idx: i64, lsn: Lsn, timeout_ms: i32) -> Option<Horizon> {
    check_bounds(since_idx, limit);
    if idx < 0 {
        raise(
            Rejection::new(ErrorClass::InvalidValue, format!("horizon_idx must be >= 0, got {idx}"))
                .hint("pass the horizon_idx bel.horizon() returned on the primary"),
        );
    }
    if timeout_ms < 0 {
        raise(
            Rejection::new(ErrorClass::InvalidValue, format!("replay_timeout_ms must be >= 0, got {timeout_ms}"))
                .hint("0 answers at once; the default waits up to 10 s for the standby to replay"),
        );
    }
    refuse_transaction_snapshots();
    let horizon = Horizon { idx, in_flight: None };
    // At or past the horizon there is nothing to read: no need to wait for anything.
    (since_idx >= idx || wait_for_replay(lsn, timeout_ms)).then_some(horizon)
}

/// The snapshot of a REPEATABLE READ or SERIALIZABLE transaction was taken before the
/// wait, so it would not see the commits replayed during it: they would be skipped.
fn refuse_transaction_snapshots() {
    // SAFETY: reads the session's isolation level.
    if unsafe { pg_sys::XactIsoLevel } >= pg_sys::XACT_REPEATABLE_READ as i32 {
        raise(
            Rejection::new(ErrorClass::WrongTransactionState, "bel.list_events_page needs READ COMMITTED isolation")
                .detail("a REPEATABLE READ or SERIALIZABLE snapshot cannot see appends replayed after it was taken, so a cursor could skip them")
                .hint("read the log outside such transactions (the default READ COMMITTED is right)"),
        );
    }
}

/// Polls the replay position with a short, growing sleep on the process latch (the startup
/// process sets no latch of ours; interruptible: statement_timeout and cancel work).
/// Replay updates its position after it applied a record, commit records included, so a
/// snapshot taken once the position passed `lsn` sees every commit before it.
fn wait_for_replay(lsn: Lsn, timeout_ms: i32) -> bool {
    let deadline = Instant::now() + Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0));
    let mut nap_ms: i64 = 1;
    loop {
        if wal::applied_upto() >= lsn {
            return true;
        }
        // Rounded up: truncated, the last sub-millisecond would end the wait before its
        // timeout (a standby test saw a 100 ms wait answer in under 100 ms).
        let left = deadline.saturating_duration_since(Instant::now());
        let left_ms = i64::try_from(left.as_micros().div_ceil(1000)).unwrap_or(i64::MAX);
        if left_ms == 0 {
            return false;
        }
        // SAFETY: waits on this backend's latch with a timeout; exits on postmaster death.
        unsafe {
            pg_sys::WaitLatch(
                pg_sys::MyLatch,
                (pg_sys::WL_LATCH_SET | pg_sys::WL_TIMEOUT | pg_sys::WL_EXIT_ON_PM_DEATH) as i32,
                nap_ms.min(left_ms),
                pg_sys::PG_WAIT_EXTENSION,
            );
            pg_sys::ResetLatch(pg_sys::MyLatch);
        }
        pg_sys::check_for_interrupts!();
        nap_ms = (nap_ms * 2).min(5);
    }
}

/// The page answered when replay is behind: no events, the cursor unchanged, and
/// `replayBehind` set (proto3 JSON, int64 as strings like every page).
pub fn replay_behind_json(since_idx: i64) -> JsonbValue {
    let text =
        format!(r#"{{"events":[],"nextIdx":"{since_idx}","hasMore":false,"inFlightIdx":"0","replayBehind":true}}"#);
    let datum = JsonbText(text).into_datum();
    // SAFETY: jsonb_in made a jsonb datum; it is copied onto the Rust heap.
    unsafe {
        JsonbValue::from_polymorphic_datum(datum.unwrap_or_else(|| internal("a page", "NULL")), false, pg_sys::JSONBOID)
    }
    .unwrap_or_else(|| internal("a page", "NULL"))
}

/// [`replay_behind_json`] as a binary `bel.v1.EventPage`.
pub fn replay_behind_page(since_idx: i64) -> EventPage {
    EventPage { next_idx: since_idx, replay_behind: true, ..Default::default() }
}
