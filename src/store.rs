//! Storage of the append path: locking and loading the entities an append touches,
//! writing the changed ones back, and inserting event rows.
use std::collections::{BTreeMap, BTreeSet};

use bel_core::pb::{BuildEvent, BuildRequestStatus, JobRunStatus, PartitionStatus};
use bel_core::state::{BuildRequest, ChangedSet, JobRun, Partition, State, TouchedKeys};
use bel_core::status::Status;

use bel_core::SCHEMA_VERSION;
use pgrx::{pg_sys, IntoDatum, JsonB};

use crate::relation_oids::bel_relation;
use crate::row_lock::{LockedRow, RowLocker};
use crate::row_write::{RowWriter, Tid, Write};
use crate::spi::jsonb_build;
use crate::spi::{from_timestamptz, Columns};
use crate::write::{build_request_row, insert_known_partitions, update_entities, HeldRows, Part};

fn status_of<S: Status>(name: Option<String>) -> Option<S> {
    name.and_then(|n| S::from_short_name(&n))
}

/// Locks and loads the entities of one kind, in key order, and records where their rows
/// are in `held`. For keys an event may create, a placeholder row is inserted first, so a
/// racing creator waits on our uncommitted row; a key whose placeholder we inserted is ours
/// already (and absent), so only the other keys are locked FOR UPDATE (`row_lock`).
fn lock_kind<T>(
    part: Part,
    keys: &BTreeMap<String, bool>,
    from_row: fn(&LockedRow<'_>) -> Option<T>,
    loaded: &mut BTreeMap<String, T>,
    held: &mut BTreeMap<String, Tid>,
) {
    let creatable: Vec<&String> = keys.iter().filter(|(_, c)| **c).map(|(k, _)| k).collect();
    if !creatable.is_empty() {
        let mut placeholders = part.open(Write::InsertIfAbsent);
        for key in creatable {
            if let Some(tid) = placeholders.insert_if_absent(|| part.placeholder(key)) {
                held.insert(key.clone(), tid);
            }
        }
        placeholders.close();
    }
    let existing: Vec<&String> = keys.keys().filter(|k| !held.contains_key(*k)).collect();
    if existing.is_empty() {
        return;
    }
    let mut locker = RowLocker::open(part);
    for key in existing {
        // A placeholder (never committed, so only this transaction's own) is held but not
        // loaded: the entity is absent, and creating it overwrites the placeholder.
        if let Some((tid, entity)) = locker.lock(key, from_row) {
            held.insert(key.clone(), tid);
            if let Some(entity) = entity {
                loaded.insert(key.clone(), entity);
            }
        }
    }
    locker.close();
}

/// Locks the build requests `keys` touches and loads them into `state`.
pub fn lock_build_requests(keys: &TouchedKeys, state: &mut State, held: &mut HeldRows) {
    let from_row = |row: &LockedRow<'_>| build_request_from_row(row);
    lock_kind(Part::BuildRequests, &keys.build_requests, from_row, &mut state.build_requests, &mut held.build_requests);
}

pub fn lock_job_runs(keys: &TouchedKeys, state: &mut State, held: &mut HeldRows) {
    let from_row = |row: &LockedRow<'_>| job_run_from_row(row);
    lock_kind(Part::JobRuns, &keys.job_runs, from_row, &mut state.job_runs, &mut held.job_runs);
}

pub fn lock_partitions(keys: &TouchedKeys, state: &mut State, held: &mut HeldRows) {
    let from_row = |row: &LockedRow<'_>| partition_from_row(row);
    lock_kind(Part::Partitions, &keys.partitions, from_row, &mut state.partitions, &mut held.partitions);
}

/// A `bel.build_request_state` row in column order; None for a placeholder.
pub fn build_request_from_row(row: &impl Columns) -> Option<BuildRequest> {
    let status = status_of::<BuildRequestStatus>(row.column(2))?;
    let delegations = row
        .column::<JsonB>(4)
        .and_then(|j| serde_json::from_value::<BTreeMap<String, String>>(j.0).ok())
        .unwrap_or_default();
    Some(BuildRequest {
        build_request_id: row.column(1).unwrap_or_default(),
        status,
        requested_partitions: row.column(3).unwrap_or_default(),
        delegations,
        first_idx: row.column(5).unwrap_or_default(),
        last_idx: row.column(6).unwrap_or_default(),
        created_at: row.column(7).map(from_timestamptz).unwrap_or_default(),
        updated_at: row.column(8).map(from_timestamptz).unwrap_or_default(),
    })
}

/// A `bel.job_run_state` row in column order; None for a placeholder.
pub fn job_run_from_row(row: &impl Columns) -> Option<JobRun> {
    let status = status_of::<JobRunStatus>(row.column(4))?;
    Some(JobRun {
        job_run_id: row.column(1).unwrap_or_default(),
        build_request_id: row.column(2).unwrap_or_default(),
        job_label: row.column(3).unwrap_or_default(),
        status,
        target_partitions: row.column(5).unwrap_or_default(),
        exit_code: row.column(6),
        message: row.column(7).unwrap_or_default(),
        first_idx: row.column(8).unwrap_or_default(),
        last_idx: row.column(9).unwrap_or_default(),
        created_at: row.column(10).map(from_timestamptz).unwrap_or_default(),
        updated_at: row.column(11).map(from_timestamptz).unwrap_or_default(),
    })
}

/// A `bel.partition_state` row (partition_ref, status, build_request_id, job_run_id,
/// last_idx, updated_at); None for a placeholder.
pub fn partition_from_row(row: &impl Columns) -> Option<Partition> {
    let status = status_of::<PartitionStatus>(row.column(2))?;
    Some(Partition {
        partition_ref: row.column(1).unwrap_or_default(),
        status,
        build_request_id: row.column(3).unwrap_or_default(),
        job_run_id: row.column(4),
        last_idx: row.column(5).unwrap_or_default(),
        updated_at: row.column(6).map(from_timestamptz).unwrap_or_default(),
    })
}

/// Event rows gathered during an append (column arrays, one element per event).
#[derive(Default)]
pub struct EventRows {
    pub idx: Vec<i64>,
    pub event_type: Vec<String>,
    pub event_id: Vec<Option<String>>,
    pub build_request_id: Vec<Option<String>>,
    pub partition_ref: Vec<Option<String>>,
    pub job_run_id: Vec<Option<String>>,
    pub job_label: Vec<Option<String>>,
    /// The events themselves, stored as the payload column: their proto3 JSON, built in
    /// binary jsonb (`spi::jsonb_build`).
    pub events: Vec<BuildEvent>,
    /// Flattened (partition_ref, idx) pairs for bel.event_partitions.
    pub involved_ref: Vec<String>,
    pub involved_idx: Vec<i64>,
}

/// Writes the newly named partitions, every changed entity of `state` over the row held
/// for it, then the event rows (all without a statement: see `write` and `row_write`).
pub fn write(rows: EventRows, known_refs: BTreeSet<String>, state: &State, changed: &ChangedSet, held: &HeldRows) {
    insert_known_partitions(&known_refs);
    update_entities(state, changed, held);
    insert_log_rows(rows);
}

/// Writes a lone creation (one event creating one build request, see the append path):
/// the build request's row unless the build request exists, and then its newly named
/// partitions and the event rows. The insert is the lock: a racing creator of the same
/// build waits for its outcome. Returns false, having written nothing, if the build
/// request existed.
pub fn write_lone_creation(rows: EventRows, known_refs: BTreeSet<String>, state: &State, changed: &ChangedSet) -> bool {
    let (Some(b), true, true, 1) = (
        changed.build_requests.iter().next().and_then(|k| state.build_requests.get(k)),
        changed.job_runs.is_empty(),
        changed.partitions.is_empty(),
        changed.build_requests.len(),
    ) else {
        crate::errors::internal("a lone creation", "it must change exactly one build request and nothing else");
    };
    let mut requests = Part::BuildRequests.open(Write::InsertIfAbsent);
    let inserted = requests.insert_if_absent_expecting_new(|| build_request_row(b)).is_some();
    requests.close();
    if !inserted {
        return false;
    }
    insert_known_partitions(&known_refs);
    insert_log_rows(rows);
    true
}

/// The event rows, into bel.events and bel.event_partitions.
fn insert_log_rows(rows: EventRows) {
    if rows.idx.is_empty() {
        return;
    }
    let EventRows {
        idx,
        event_type,
        event_id,
        build_request_id,
        partition_ref,
        job_run_id,
        job_label,
        events,
        involved_ref,
        involved_idx,
    } = rows;
    // The column's default, now(): the transaction's start.
    // SAFETY: reads the transaction's start time.
    let created_at = pg_sys::Datum::from(unsafe { pg_sys::GetCurrentTransactionStartTimestamp() });
    let mut log = RowWriter::open(
        bel_relation(c"events"),
        "bel.events",
        &[
            ("idx", pg_sys::INT8OID),
            ("event_type", pg_sys::TEXTOID),
            ("schema_version", pg_sys::INT2OID),
            ("event_id", pg_sys::TEXTOID),
            ("build_request_id", pg_sys::TEXTOID),
            ("partition_ref", pg_sys::TEXTOID),
            ("job_run_id", pg_sys::TEXTOID),
            ("job_label", pg_sys::TEXTOID),
            ("payload", pg_sys::JSONBOID),
            ("created_at", pg_sys::TIMESTAMPTZOID),
        ],
        Write::Insert,
    );
    for (i, event) in events.iter().enumerate() {
        log.insert(|| {
            vec![
                idx[i].into_datum(),
                event_type[i].as_str().into_datum(),
                SCHEMA_VERSION.into_datum(),
                event_id[i].as_deref().into_datum(),
                build_request_id[i].as_deref().into_datum(),
                partition_ref[i].as_deref().into_datum(),
                job_run_id[i].as_deref().into_datum(),
                job_label[i].as_deref().into_datum(),
                Some(jsonb_build::to_jsonb(event)),
                Some(created_at),
            ]
        });
    }
    log.close();
    if involved_ref.is_empty() {
        return;
    }
    let mut partitions = RowWriter::open(
        bel_relation(c"event_partitions"),
        "bel.event_partitions",
        &[("partition_ref", pg_sys::TEXTOID), ("idx", pg_sys::INT8OID)],
        Write::Insert,
    );
    for (partition, idx) in involved_ref.iter().zip(involved_idx) {
        partitions.insert(|| vec![partition.as_str().into_datum(), idx.into_datum()]);
    }
    partitions.close();
}
