//! Followers on hot standbys (docs/no-loss-cursor.md, "Followers on hot standbys"): the
//! primary computes the no-loss horizon and the WAL position that covers it
//! (`bel.horizon()`, [`horizon`]); a standby serves the events below that horizon once it
//! has replayed that far ([`replay`]). Only the horizon call reaches the primary.
mod horizon;
mod lsn;
mod replay;
mod wal;

pub use horizon::primary_horizon;
pub use lsn::Lsn;
pub use replay::{replay_behind_json, replay_behind_page, replayed_horizon};
