//! Whether an eventId is stored, by one probe of its unique index (bel.events_event_id_key)
//! under the snapshot a statement would take. A lone creation asks only this (a stored
//! eventId sends it down the general path, which reads the stored event): the prepared
//! lookup statement it replaces cost ~35k instructions per append, most of them starting
//! and ending an executor for one index probe (callgrind, docs/benchmarks.md).
use pgrx::{pg_sys, IntoDatum};

use crate::relation_oids::bel_relation;

/// Whether bel.events holds an event with `event_id`, as a statement run now would see it:
/// committed by others before now (READ COMMITTED) or before the transaction's snapshot
/// (REPEATABLE READ), or written earlier by this transaction.
pub fn is_stored(event_id: &str) -> bool {
    let events = bel_relation(c"events");
    let index = bel_relation(c"events_event_id_key");
    let Some(key_datum) = event_id.into_datum() else {
        crate::errors::internal("eventId probe", "a text datum of the eventId");
    };
    // SAFETY: the executor's own way to probe a unique index: the snapshot SPI would take
    // (the transaction's, with this command's id), the relations locked as a read locks
    // them (the log is locked ROW EXCLUSIVE already), one equality key in the column's
    // "C" collation, each resource released in reverse order.
    unsafe {
        pg_sys::PushCopiedSnapshot(pg_sys::GetTransactionSnapshot());
        pg_sys::UpdateActiveSnapshotCommandId();
        let heap = pg_sys::table_open(events, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let index = pg_sys::index_open(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        let mut key = pg_sys::ScanKeyData::default();
        pg_sys::ScanKeyInit(
            &mut key,
            1,
            pg_sys::BTEqualStrategyNumber as pg_sys::StrategyNumber,
            pg_sys::Oid::from(pg_sys::F_TEXTEQ),
            key_datum,
        );
        let scan = pg_sys::index_beginscan(heap, index, pg_sys::GetActiveSnapshot(), 1, 0);
        pg_sys::index_rescan(scan, &mut key, 1, std::ptr::null_mut(), 0);
        let slot = pg_sys::table_slot_create(heap, std::ptr::null_mut());
        let found = pg_sys::index_getnext_slot(scan, pg_sys::ScanDirection::ForwardScanDirection, slot);
        pg_sys::ExecDropSingleTupleTableSlot(slot);
        pg_sys::index_endscan(scan);
        pg_sys::index_close(index, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        pg_sys::table_close(heap, pg_sys::AccessShareLock as pg_sys::LOCKMODE);
        pg_sys::PopActiveSnapshot();
        found
    }
}
