//! WAL positions this server has written (a primary) or replayed (a standby), in the form
//! `pg_last_wal_replay_lsn()` reports: the end of the last record.
use pgrx::pg_sys;

use super::lsn::Lsn;

/// `MAXALIGN(sizeof(...))` of the page headers: the first page of a segment has the long one.
fn page_header_sizes() -> (u64, u64) {
    let maxalign = |n: usize| (n as u64).div_ceil(8) * 8;
    (
        maxalign(std::mem::size_of::<pg_sys::XLogPageHeaderData>()),
        maxalign(std::mem::size_of::<pg_sys::XLogLongPageHeaderData>()),
    )
}

/// The end of the last WAL record reserved on this server: every record inserted before
/// the call (every commit record written before it) ends at or before it.
///
/// `GetXLogInsertRecPtr` gives the insert position as the start of the next record: right
/// after a page boundary, it points past the page header, while the record before ends
/// at the boundary itself, and a standby that replayed that record reports the boundary.
/// Such a position is moved back to the boundary, so a standby reaches it without waiting
/// for a record that may not come.
pub fn inserted_upto() -> Lsn {
    // SAFETY: reads the shared insert position under its spinlock.
    let lsn = unsafe { pg_sys::GetXLogInsertRecPtr() };
    // SAFETY: set once at startup from the control file.
    let segment = u64::try_from(unsafe { pg_sys::wal_segment_size }).unwrap_or(u64::MAX).max(1);
    let page = u64::from(pg_sys::XLOG_BLCKSZ);
    let (short_header, long_header) = page_header_sizes();
    let in_segment = lsn % segment;
    if in_segment == long_header {
        Lsn(lsn - long_header)
    } else if in_segment > page && lsn % page == short_header {
        Lsn(lsn - short_header)
    } else {
        Lsn(lsn)
    }
}

/// How far this server has applied the WAL: the replay position on a standby, everything
/// written on a primary (a standby promoted while a reader waits becomes one).
pub fn applied_upto() -> Lsn {
    // SAFETY: reads shared recovery state.
    if unsafe { pg_sys::RecoveryInProgress() } {
        // SAFETY: reads the replay position under its spinlock; no timeline wanted.
        Lsn(unsafe { pg_sys::GetXLogReplayRecPtr(std::ptr::null_mut()) })
    } else {
        inserted_upto()
    }
}

/// Makes sure the WAL up to `lsn` reaches disk, and so the standbys, soon, without waiting
/// for it: records inserted but not flushed (a transaction still running, a page pruned)
/// would otherwise wait for the next commit, which may be far off when the log is quiet.
/// The WAL writer flushes up to here within `wal_writer_delay`, as for an asynchronous commit.
pub fn request_flush(lsn: Lsn) {
    // SAFETY: reads the shared flush position; no timeline wanted.
    let flushed = unsafe { pg_sys::GetFlushRecPtr(std::ptr::null_mut()) };
    if lsn.0 > flushed {
        // SAFETY: records a flush request for the WAL writer (spinlock, maybe a latch set).
        unsafe { pg_sys::XLogSetAsyncXactLSN(lsn.0) };
    }
}
