//! Stored events by eventId, by probes of its unique index (bel.events_event_id_key) under
//! the snapshot a statement would take (`key_probe`). An append looks up every eventId it is
//! given: a lone creation only asks whether one is stored (a stored eventId sends it down the
//! general path), the general path reads the stored events to tell retries from conflicts.
//! The prepared statements these probes replace cost ~35k instructions per single append,
//! most of them starting and ending an executor for one index probe, and a bitmap scan of
//! the sorted array of a batch's eventIds (callgrind, docs/benchmarks.md).
use pgrx::{pg_sys, FromDatum};

use crate::key_probe::KeyProbe;
use crate::relation_oids::bel_relation;
use crate::row_write::{attribute_positions, Column};
use crate::spi::jsonb_text::JsonbValue;

/// The columns a found event is read from, as the types its datums are read as.
const STORED_EVENT_COLUMNS: &[Column] = &[("idx", pg_sys::INT8OID), ("payload", pg_sys::JSONBOID)];

/// An event found by its eventId: its idx and its stored payload.
pub struct StoredEvent {
    pub idx: i64,
    pub payload: JsonbValue,
}

/// bel.events opened for probes by eventId, seeing what a statement started now would see:
/// rows committed by others before now (READ COMMITTED) or before the transaction's
/// snapshot (REPEATABLE READ), and rows written earlier by this transaction.
pub struct EventIdProbe {
    probe: KeyProbe,
}

impl EventIdProbe {
    /// Opens bel.events (ACCESS SHARE, as a read locks it; the log is locked ROW EXCLUSIVE
    /// already) and its eventId index.
    pub fn open() -> Self {
        let index = Some(bel_relation(c"events_event_id_key"));
        EventIdProbe { probe: KeyProbe::open(bel_relation(c"events"), index, pg_sys::AccessShareLock, false) }
    }

    /// The stored event with `event_id`, if any.
    pub fn find(&mut self, event_id: &str) -> Option<StoredEvent> {
        if !self.probe.find(event_id) {
            return None;
        }
        // Looked up on a find only: most probes find nothing (a lone creation's always).
        // SAFETY: the probe keeps the table open.
        let columns = unsafe { attribute_positions(self.probe.heap, "bel.events", STORED_EVENT_COLUMNS) };
        let (idx, idx_null) = self.probe.attribute(columns[0]);
        let (payload, payload_null) = self.probe.attribute(columns[1]);
        // SAFETY: the row's idx (int8) and payload (jsonb), copied onto the Rust heap (a
        // detoasted copy is made in the probe's memory).
        unsafe {
            let payload = self.probe.in_probe_memory(|| JsonbValue::from_datum(payload, payload_null));
            let found = i64::from_datum(idx, idx_null).zip(payload).map(|(idx, payload)| StoredEvent { idx, payload });
            pg_sys::ExecClearTuple(self.probe.slot);
            found
        }
    }

    pub fn close(self) {
        self.probe.close();
    }
}

/// Whether bel.events holds an event with `event_id` (see `EventIdProbe`).
pub fn is_stored(event_id: &str) -> bool {
    let mut probe = EventIdProbe::open();
    let stored = probe.find(event_id).is_some();
    probe.close();
    stored
}
