//! Finding a row by one text key through a unique index, as an executor's index scan does,
//! without a statement: the snapshot a statement started now would take (the transaction's,
//! with this command's id, so rows the transaction wrote are seen), one scan key rescanned
//! per probe. The eventId lookup (`event_id_probe`) and the row locks (`row_lock`) are built
//! on it; a prepared statement for either cost ~35-60k instructions per call, most of them
//! starting and ending its executor (callgrind, docs/benchmarks.md).
use pgrx::{pg_sys, IntoDatum, PgMemoryContexts};

use crate::errors::internal;

/// A table and one of its unique indexes on a text column, opened for probes by key.
pub struct KeyProbe {
    pub heap: pg_sys::Relation,
    index: pg_sys::Relation,
    scan: pg_sys::IndexScanDesc,
    /// The row a probe found, until the next probe.
    pub slot: *mut pg_sys::TupleTableSlot,
    /// Memory of one probe's key datum and of what its caller detoasts from the row (see
    /// `in_probe_memory`), reset at the next probe, so that a batch's many keys keep the
    /// backend's memory flat. Not the scan's own: an index scan keeps what it allocates in
    /// the context current at its first rescan.
    per_probe: pg_sys::MemoryContext,
    /// The table's lock released at `close`: NoLock keeps it to the transaction's end.
    release: pg_sys::LOCKMODE,
}

impl KeyProbe {
    /// Opens table `heap` in `lock` mode and its index `index` (None: its primary key) under
    /// a snapshot taken now; `close` releases the table's lock unless `keep_lock`.
    pub fn open(heap: pg_sys::Oid, index: Option<pg_sys::Oid>, lock: u32, keep_lock: bool) -> Self {
        // SAFETY: as the executor sets up an index scan: the table locked before it is
        // opened, the snapshot made active, the scan on it; `close` releases each in reverse
        // order (an error's abort releases them).
        unsafe {
            pg_sys::PushCopiedSnapshot(pg_sys::GetTransactionSnapshot());
            pg_sys::UpdateActiveSnapshotCommandId();
            let heap = pg_sys::table_open(heap, lock as pg_sys::LOCKMODE);
            let index = index.unwrap_or_else(|| pg_sys::RelationGetPrimaryKeyIndex(heap));
            if index == pg_sys::InvalidOid {
                internal("an index probe", "the table has no primary key");
            }
            let index = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let scan = pg_sys::index_beginscan(heap, index, pg_sys::GetActiveSnapshot(), 1, 0);
            let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
            let per_probe = pg_sys::AllocSetContextCreateExtended(
                pg_sys::CurrentMemoryContext,
                c"bel index probe".as_ptr(),
                pg_sys::ALLOCSET_SMALL_MINSIZE as usize,
                pg_sys::ALLOCSET_SMALL_INITSIZE as usize,
                pg_sys::ALLOCSET_SMALL_MAXSIZE as usize,
            );
            let release = if keep_lock { pg_sys::NoLock } else { lock } as pg_sys::LOCKMODE;
            KeyProbe { heap, index, scan, slot, per_probe, release }
        }
    }

    /// Whether a row with `key` is visible to the snapshot; if so it is in `slot`.
    pub fn find(&mut self, key: &str) -> bool {
        // SAFETY: the context is this probe's, alive until `close`; it holds only the
        // previous probe's allocations, freed here whichever way that probe's caller went on.
        unsafe { pg_sys::MemoryContextReset(self.per_probe) };
        let Some(key_datum) = self.in_probe_memory(|| key.into_datum()) else {
            internal("an index probe", "a text datum of the key");
        };
        // SAFETY: an equality key on the index's first column, in the "C" collation
        // (ScanKeyInit's, the key columns' own); the slot is the table's.
        unsafe {
            let mut scan_key = pg_sys::ScanKeyData::default();
            pg_sys::ScanKeyInit(
                &mut scan_key,
                1,
                pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
                pg_sys::Oid::from(pg_sys::F_TEXTEQ),
                key_datum,
            );
            pg_sys::index_rescan(self.scan, &mut scan_key, 1, std::ptr::null_mut(), 0);
            pg_sys::index_getnext_slot(self.scan, pg_sys::ScanDirection::ForwardScanDirection, self.slot)
        }
    }

    /// Runs `f` in the probe's memory: what it allocates lives until the next probe.
    pub fn in_probe_memory<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: the context is alive until `close`, which consumes the probe.
        unsafe { PgMemoryContexts::For(self.per_probe).switch_to(|_| f()) }
    }

    /// Attribute `position` (0-based) of the row in `slot` (found, or locked since), its
    /// attributes deformed up to that one on first use.
    pub fn attribute(&self, position: usize) -> (pg_sys::Datum, bool) {
        let Ok(number) = i32::try_from(position + 1) else {
            internal("an index probe", "an attribute number out of range");
        };
        // SAFETY: the slot holds a row of the table, which has that attribute.
        unsafe {
            pg_sys::slot_getsomeattrs(self.slot, number);
            (*(*self.slot).tts_values.add(position), *(*self.slot).tts_isnull.add(position))
        }
    }

    pub fn close(self) {
        // SAFETY: undoes `open` in reverse, once (self is consumed).
        unsafe {
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::index_endscan(self.scan);
            pg_sys::index_close(self.index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            pg_sys::table_close(self.heap, self.release);
            pg_sys::MemoryContextDelete(self.per_probe);
            pg_sys::PopActiveSnapshot();
        }
    }
}
