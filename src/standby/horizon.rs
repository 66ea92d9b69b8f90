//! The primary's half: its no-loss horizon, with a WAL position a standby must have
//! replayed before it serves the events below that horizon.
use bel_core::{ErrorClass, Rejection};
use pgrx::pg_sys;
use pgrx::prelude::*;

use super::lsn::Lsn;
use super::wal;
use crate::errors::raise;
use crate::no_loss::{horizon, Horizon};
use crate::spi::statements::statements;

pub struct PrimaryHorizon {
    pub horizon: Horizon,
    /// At or after the commit record of every transaction that appended an idx <= the
    /// horizon.
    pub lsn: Lsn,
}

/// The horizon, then the end of the WAL inserted so far. Every append at or below the
/// horizon has ended, and a transaction inserts its commit record before it releases its
/// in-flight lock, so those commit records were inserted before the horizon was read, and
/// end at or before the LSN read after it. (Rolled-back appends need nothing replayed: a
/// standby never shows their rows.) The insert position, not the flush position: an
/// asynchronous commit (`synchronous_commit = off`) releases its locks before its commit
/// record is flushed.
pub fn primary_horizon() -> PrimaryHorizon {
    refuse_on_standby();
    refuse_after_writes();
    let horizon = Spi::connect(|client| horizon(client, statements(client)));
    let lsn = wal::inserted_upto();
    wal::request_flush(lsn);
    PrimaryHorizon { horizon, lsn }
}

fn refuse_on_standby() {
    // SAFETY: reads shared recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        raise(
            Rejection::new(ErrorClass::WrongTransactionState, "bel.horizon must run on the primary")
                .detail("only the primary knows which appends are still in flight")
                .hint("call bel.horizon() on the primary and pass its horizon_idx and horizon_lsn to bel.list_events_page on the standby"),
        );
    }
}

/// The caller's own appends are not in flight for its own horizon (it sees them), but a
/// standby cannot see them before they commit: a horizon above them would let a follower
/// of the standby pass them for good. Any transaction that appended holds a transaction id.
fn refuse_after_writes() {
    // SAFETY: reads the current transaction's state.
    if unsafe { pg_sys::GetTopTransactionIdIfAny() } != pg_sys::TransactionId::INVALID {
        raise(
            Rejection::new(
                ErrorClass::WrongTransactionState,
                "bel.horizon must not run in a transaction that has written",
            )
            .detail("the transaction's own appends are not committed, so no standby can show them yet")
            .hint("call bel.horizon() in a transaction of its own (autocommit)"),
        );
    }
}
