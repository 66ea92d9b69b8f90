//! Stored events by eventId, by probes of its unique index (bel.events_event_id_key) under
//! the snapshot a statement would take. An append looks up every eventId it is given: a
//! lone creation only asks whether one is stored (a stored eventId sends it down the general
//! path), the general path reads the stored events to tell retries from conflicts. The
//! prepared statements these probes replace cost ~35k instructions per single append, most
//! of them starting and ending an executor for one index probe, and a bitmap scan of the
//! sorted array of a batch's eventIds (callgrind, docs/benchmarks.md).
use std::ffi::CStr;

use pgrx::{pg_sys, FromDatum, IntoDatum, PgMemoryContexts};

use crate::relation_oids::bel_relation;
use crate::row_lock::per_call_memory;
use crate::spi::jsonb_text::JsonbValue;

/// An event found by its eventId: its idx and its stored payload.
pub struct StoredEvent {
    pub idx: i64,
    pub payload: JsonbValue,
}

/// bel.events opened for probes by eventId, seeing what a statement started now would see:
/// rows committed by others before now (READ COMMITTED) or before the transaction's
/// snapshot (REPEATABLE READ), and rows written earlier by this transaction.
pub struct EventIdProbe {
    heap: pg_sys::Relation,
    index: pg_sys::Relation,
    scan: pg_sys::IndexScanDesc,
    slot: *mut pg_sys::TupleTableSlot,
    /// Memory of one probe's key datum and detoasted payload, reset after each (see
    /// `row_lock::per_call_memory`).
    per_probe: pg_sys::MemoryContext,
}

impl EventIdProbe {
    pub fn open() -> Self {
        let events = bel_relation(c"events");
        let index = bel_relation(c"events_event_id_key");
        // SAFETY: the executor's own way to probe an index: the snapshot SPI would take (the
        // transaction's, with this command's id) made active, the relations locked as a read
        // locks them (the log is locked ROW EXCLUSIVE already), one scan key rescanned per
        // probe; `close` releases each in reverse order (an error's abort releases them).
        unsafe {
            pg_sys::PushCopiedSnapshot(pg_sys::GetTransactionSnapshot());
            pg_sys::UpdateActiveSnapshotCommandId();
            let heap = pg_sys::table_open(events, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let index = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            let scan = pg_sys::index_beginscan(heap, index, pg_sys::GetActiveSnapshot(), 1, 0);
            let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
            EventIdProbe { heap, index, scan, slot, per_probe: per_call_memory(c"bel eventId probe") }
        }
    }

    /// The stored event with `event_id`, if any.
    pub fn find(&mut self, event_id: &str) -> Option<StoredEvent> {
        // SAFETY: the context is this probe's, alive until `close`, holds only
        // the previous call's allocations: freed here, whichever way that call returned.
        unsafe { pg_sys::MemoryContextReset(self.per_probe) };
        // SAFETY: as above.
        let key = unsafe { PgMemoryContexts::For(self.per_probe).switch_to(|_| event_id.into_datum()) };
        let Some(key_datum) = key else {
            crate::errors::internal("eventId probe", "a text datum of the eventId");
        };
        // SAFETY: one equality key on the index's only column, in the column's "C"
        // collation (ScanKeyInit's); the slot is the heap's, its attributes read while it
        // holds the row (the payload is copied out before the next probe).
        unsafe {
            let mut key = pg_sys::ScanKeyData::default();
            pg_sys::ScanKeyInit(
                &mut key,
                1,
                pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
                pg_sys::Oid::from(pg_sys::F_TEXTEQ),
                key_datum,
            );
            pg_sys::index_rescan(self.scan, &mut key, 1, std::ptr::null_mut(), 0);
            if !pg_sys::index_getnext_slot(self.scan, pg_sys::ScanDirection::ForwardScanDirection, self.slot) {
                return None;
            }
            pg_sys::slot_getallattrs(self.slot);
            let column =
                |attribute: usize| (*(*self.slot).tts_values.add(attribute), *(*self.slot).tts_isnull.add(attribute));
            // Looked up on a find only: most probes find nothing (a lone creation's always).
            let (idx, idx_null) = column(attribute(self.heap, c"idx"));
            let (payload, payload_null) = column(attribute(self.heap, c"payload"));
            // The payload is copied onto the Rust heap (a detoasted copy freed with the reset).
            let payload =
                PgMemoryContexts::For(self.per_probe).switch_to(|_| JsonbValue::from_datum(payload, payload_null));
            let found = i64::from_datum(idx, idx_null).zip(payload).map(|(idx, payload)| StoredEvent { idx, payload });
            pg_sys::ExecClearTuple(self.slot);
            found
        }
    }

    pub fn close(self) {
        // SAFETY: undoes `open` in reverse, once (self is consumed).
        unsafe {
            pg_sys::ExecDropSingleTupleTableSlot(self.slot);
            pg_sys::index_endscan(self.scan);
            pg_sys::index_close(self.index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            pg_sys::table_close(self.heap, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
            pg_sys::MemoryContextDelete(self.per_probe);
            pg_sys::PopActiveSnapshot();
        }
    }
}

/// Whether bel.events holds an event with `event_id` (see `EventIdProbe`).
pub fn is_stored(event_id: &str) -> bool {
    let mut probe = EventIdProbe::open();
    let stored = probe.find(event_id).is_some();
    probe.close();
    stored
}

/// The 0-based position of the heap's attribute `name`.
///
/// # Safety
/// `heap` must be open.
unsafe fn attribute(heap: pg_sys::Relation, name: &CStr) -> usize {
    // SAFETY: the caller keeps the relation open; attnameAttNum reads its descriptor.
    let number = unsafe { pg_sys::attnameAttNum(heap, name.as_ptr(), false) };
    usize::try_from(number - 1)
        .unwrap_or_else(|_| crate::errors::internal("catalog", format!("bel.events has no column {name:?}")))
}
