//! The write path: validate events against the state diagrams, allocate idx values
//! under the no-loss protocol, insert the events and update the projections, all in the
//! caller's transaction.
use std::collections::{BTreeSet, HashMap};

use bel_core::event::{self, check_shape, involved_partitions, is_retry_of, Kind};
use bel_core::pb::BuildEvent;
use bel_core::rules::{apply, prepare};
use bel_core::state::{ChangedSet, State, TouchedKeys};
use bel_core::{ErrorClass, Rejection};
use pgrx::prelude::*;
use pgrx::{pg_sys, IntoDatum};

use crate::errors::raise;
use crate::event_id_probe::{self, EventIdProbe};
use crate::in_progress;
use crate::no_loss::{mark_in_flight, AllocationGuard};
use crate::relation_oids::bel_relation;
use crate::spi::planner_settings::with_planner_settings;
use crate::store::{self, EventRows};
use crate::write::HeldRows;

/// Most events accepted by one bel_append_batch call.
pub const MAX_BATCH_EVENTS: usize = 100_000;

/// Appends `events` atomically and returns their idx values, in order. With `batch`,
/// errors name the position of the failing event.
pub fn append(events: Vec<BuildEvent>, batch: bool) -> Vec<i64> {
    let at_position = |i: usize, e: Rejection| if batch { e.in_batch(i) } else { e };
    for (i, e) in events.iter().enumerate() {
        if let Err(r) = check_shape(e) {
            raise(at_position(i, r));
        }
    }
    // Before any row is locked or written (and even for a batch of retries, which writes
    // nothing), as a statement that writes is refused.
    // SAFETY: raises 25006 in a read-only transaction, as INSERT does.
    unsafe { pg_sys::PreventCommandIfReadOnly(c"bel_append".as_ptr()) };
    let now = crate::spi::now_micros();
    lock_log();
    let keys = TouchedKeys::of_events(&events);
    if let [event] = events.as_slice() {
        if keys.lone_created_build_request().is_some() {
            if let Some(idx) = append_lone_creation(event.clone(), now, at_position) {
                return vec![idx];
            }
        }
    }
    let ending = TouchedKeys::ending_builds(&events);
    if ending.is_empty() {
        // Locks, reads and writes without a statement: nothing to plan.
        return append_locked(events, keys, ending, now, at_position);
    }
    // Ending a build runs the path's one statement (in_progress.rs), planned under the
    // append's settings.
    with_planner_settings(|| Spi::connect(|_| append_locked(events, keys, ending, now, at_position)))
}

/// The general path: locks every entity the events touch, validates the events in order
/// against what it loaded, and writes them with the projections.
fn append_locked(
    events: Vec<BuildEvent>,
    mut keys: TouchedKeys,
    ending: Vec<String>,
    now: bel_core::state::Micros,
    at_position: impl Fn(usize, Rejection) -> Rejection,
) -> Vec<i64> {
    // Lock every entity the events touch, kind by kind and in key order (no deadlocks
    // between single-call appends); load them into a small State.
    let mut state = State::default();
    let mut held = HeldRows::default();
    store::lock_build_requests(&keys, &mut state, &mut held);
    keys.add_completion_partitions(&events, &state);
    // Under the build requests' locks: see in_progress.rs for why it sees all.
    let in_progress = in_progress::add_work_in_progress(ending, &mut keys);
    store::lock_job_runs(&keys, &mut state, &mut held);
    store::lock_partitions(&keys, &mut state, &mut held);
    in_progress.check_loaded(&state);

    // After the locks, so a concurrent duplicate that committed meanwhile is seen.
    let mut known_ids = find_event_ids(&events);
    // Every event with an eventId goes in (a later retry in the batch finds it): sized
    // once, not rehashed as a batch grows it (~2% of a 1,000-event batch, perf).
    known_ids.reserve(events.len());

    let mut results = Vec::with_capacity(events.len());
    let mut staged = Staged::default();
    for (i, e) in events.into_iter().enumerate() {
        if !e.event_id.is_empty() {
            if let Some((idx, stored)) = known_ids.get(&e.event_id) {
                if !is_retry_of(&e, stored) {
                    raise(at_position(i, event_id_conflict(&e.event_id, *idx)));
                }
                results.push(*idx);
                continue;
            }
        }
        let (idx, e) = staged.add(&mut state, e, now).unwrap_or_else(|r| raise(at_position(i, r)));
        if !e.event_id.is_empty() {
            known_ids.insert(e.event_id.clone(), (idx, e));
        }
        results.push(idx);
    }
    if !staged.rows.idx.is_empty() {
        store::write(staged.rows, staged.known_refs, &state, &staged.changed, &held);
    }
    results
}

/// A build request received alone, without taking locks first and without a statement:
/// it is validated against an absent build request (it reads nothing else), and the
/// write inserts the new row unless the build request exists (ON CONFLICT DO NOTHING),
/// writing the event only if that insert happened (`store::write_lone_creation`). The
/// insert is the lock: a racing creator of the same build waits for it. None when the
/// event needs the general path: its eventId is already stored (a retry, or a conflict),
/// or the build request exists (then its idx becomes a hole, like a rolled-back append's).
fn append_lone_creation(
    event: BuildEvent,
    now: bel_core::state::Micros,
    at_position: impl Fn(usize, Rejection) -> Rejection,
) -> Option<i64> {
    if !event.event_id.is_empty() && event_id_probe::is_stored(&event.event_id) {
        return None;
    }
    let mut state = State::default();
    let mut staged = Staged::default();
    let (idx, _) = staged.add(&mut state, event, now).unwrap_or_else(|r| raise(at_position(0, r)));
    if !store::write_lone_creation(staged.rows, staged.known_refs, &state, &staged.changed) {
        return None;
    }
    Some(idx)
}

/// What an append writes, gathered event by event.
#[derive(Default)]
struct Staged {
    rows: EventRows,
    /// Partitions only some events can name for the first time (see may_name_new_partitions);
    /// sorted and distinct, so concurrent appends insert shared keys in the same order.
    known_refs: BTreeSet<String>,
    changed: ChangedSet,
}

impl Staged {
    /// Validates `e` against `state`, allocates its idx, applies it and stages its rows.
    fn add(
        &mut self,
        state: &mut State,
        mut e: BuildEvent,
        now: bel_core::state::Micros,
    ) -> Result<(i64, BuildEvent), Rejection> {
        // After the retry check: a retry without a timestamp matches the stored one's.
        event::set_timestamp_if_absent(&mut e, now);
        prepare(state, &mut e)?;
        let idx = allocate_idx(crate::no_loss::sequence_oid());
        apply(state, &e, idx).merge_into(&mut self.changed);
        add_row(&mut self.rows, idx, &e);
        if may_name_new_partitions(&e) {
            self.known_refs.extend(involved_partitions(&e).into_iter().map(str::to_owned));
        }
        Ok((idx, e))
    }
}

fn event_id_conflict(event_id: &str, idx: i64) -> Rejection {
    Rejection::new(
        ErrorClass::EventIdConflict,
        format!("eventId {event_id:?} was already used by a different event (idx {idx})"),
    )
    .detail("a retried event must be identical to the first attempt")
    .hint("use a new eventId for a new event")
}

/// Stored events with any of the events' event_ids: event_id -> (idx, event).
fn find_event_ids(events: &[BuildEvent]) -> HashMap<String, (i64, BuildEvent)> {
    let mut ids: Vec<&str> = events.iter().filter(|e| !e.event_id.is_empty()).map(|e| e.event_id.as_str()).collect();
    let mut found = HashMap::new();
    if ids.is_empty() {
        return found;
    }
    // In index order, so the probes walk the index's pages in one direction.
    ids.sort_unstable();
    ids.dedup();
    let mut probe = EventIdProbe::open();
    for id in ids {
        if let Some(stored) = probe.find(id) {
            found.insert(id.to_owned(), (stored.idx, crate::event_input::stored(&stored.payload)));
        }
    }
    probe.close();
    found
}

fn add_row(rows: &mut EventRows, idx: i64, e: &BuildEvent) {
    let non_empty = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    rows.idx.push(idx);
    rows.event_type.push(event::kind(e).map(Kind::name).unwrap_or_default().to_owned());
    rows.event_id.push(non_empty(&e.event_id));
    rows.build_request_id.push(non_empty(&e.build_request_id));
    rows.partition_ref.push(event::partition_ref(e).map(str::to_owned));
    rows.job_run_id.push(event::job_run_id(e).map(str::to_owned));
    rows.job_label.push(event::job_label(e).map(str::to_owned));
    rows.events.push(e.clone());
    for r in involved_partitions(e) {
        rows.involved_ref.push(r.to_owned());
        rows.involved_idx.push(idx);
    }
}

/// Build request events (their requestedPartitions), a job run's SCHEDULED (its targets)
/// and a partition's REQUESTED. Every other event names partitions that one of these named
/// before: the rules require them to exist, or the job run to have them as targets.
fn may_name_new_partitions(e: &BuildEvent) -> bool {
    use bel_core::pb::{build_event::Payload, JobRunStatus, PartitionStatus};
    match &e.payload {
        Some(Payload::BuildRequest(_)) => true,
        Some(Payload::JobRun(j)) => j.status == JobRunStatus::JobRunScheduled as i32,
        Some(Payload::Partition(p)) => p.status == PartitionStatus::PartitionRequested as i32,
        _ => false,
    }
}

/// Locks the log before anything else, in the mode its insert takes anyway (ROW EXCLUSIVE;
/// a weak lock, taken on PostgreSQL's per-backend fast path). The log first, then the
/// projection rows: the order bel.rebuild_projections() locks in too, so an append never
/// holds a projection lock the rebuild waits for while it waits for the rebuild's lock on
/// the log (they deadlocked when appends reached the log last).
fn lock_log() {
    let events = bel_relation(c"events");
    // SAFETY: a transaction-level lock on an existing relation; waits are interruptible.
    unsafe { pg_sys::LockRelationOid(events, pg_sys::RowExclusiveLock as pg_sys::LOCKMODE) };
}

/// Allocates the next idx of `seq`. Under the shared allocation lock, so that a reader
/// holding it exclusively knows every idx up to the sequence's last value is in flight or ended.
fn allocate_idx(seq: pg_sys::Oid) -> i64 {
    let _allocation = AllocationGuard::shared();
    // SAFETY: nextval_oid takes the sequence's oid; it raises on exhaustion (the guard
    // releases the allocation lock while that error unwinds).
    let idx = unsafe { pgrx::direct_function_call::<i64>(pg_sys::nextval_oid, &[seq.into_datum()]) }
        .unwrap_or_else(|| crate::errors::internal("nextval", "returned NULL"));
    mark_in_flight(idx);
    idx
}
