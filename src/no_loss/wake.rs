//! Waking followers when appends commit: `NOTIFY bel_events, '<idx>'`, decided at
//! pre-commit, never while the transaction runs.
//!
//! - Commits stay parallel: a committing appender notifies only if it wins the notifier
//!   try-lock (Postgres serializes the commits of notifying transactions).
//! - A transaction that is PREPAREd never notified (Postgres refuses to PREPARE one that
//!   did): its followers wait on its in-flight lock instead (`bel.wait_for_append`), which
//!   COMMIT PREPARED or ROLLBACK PREPARED releases.
//! - A transaction that rolls back never took the notifier lock, so it cannot leave the
//!   appends that skipped the NOTIFY behind it unannounced.
use std::cell::Cell;
use std::ffi::{c_void, CStr};

use pgrx::prelude::*;
use pgrx::{pg_sys, IntoDatum};

use super::locks::{in_flight_of_this_transaction, try_become_notifier};

/// The NOTIFY channel followers LISTEN on.
pub const CHANNEL: &CStr = c"bel_events";

thread_local! {
    static REGISTERED: Cell<bool> = const { Cell::new(false) };
}

/// Makes this backend notify at the pre-commit of every transaction that appended (called
/// by the first append of a transaction; registers the callback once per backend).
pub fn wake_followers_at_commit() {
    if REGISTERED.get() {
        return;
    }
    // SAFETY: registers a static function for the rest of the backend's life.
    unsafe { pg_sys::RegisterXactCallback(Some(at_transaction_event), std::ptr::null_mut()) };
    REGISTERED.set(true);
}

#[pg_guard]
unsafe extern "C-unwind" fn at_transaction_event(event: pg_sys::XactEvent::Type, _arg: *mut c_void) {
    // PRE_COMMIT runs before Postgres queues the transaction's notifications; PRE_PREPARE
    // is deliberately left alone (see the module comment).
    if event == pg_sys::XactEvent::XACT_EVENT_PRE_COMMIT {
        notify_if_appended();
    }
}

/// Payload: the transaction's first idx still appended.
fn notify_if_appended() {
    let Some(idx) = in_flight_of_this_transaction() else {
        return;
    };
    if !try_become_notifier() {
        return;
    }
    let channel = CHANNEL.to_str().unwrap_or("bel_events");
    let payload = idx.to_string();
    // SAFETY: pg_notify(text, text) with two non-null text datums; it returns void.
    unsafe {
        pgrx::direct_function_call_as_datum(pg_sys::pg_notify, &[channel.into_datum(), payload.as_str().into_datum()]);
    }
}
