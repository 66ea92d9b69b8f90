//! Storage of the append path: locking and loading the entities an append touches,
//! writing the changed ones back, and inserting event rows.
use std::collections::{BTreeMap, BTreeSet};

use bel_core::pb::{BuildEvent, BuildRequestStatus, JobRunStatus, PartitionStatus};
use bel_core::state::{BuildRequest, ChangedSet, JobRun, Micros, Partition, State, TouchedKeys};
use bel_core::status::Status;

use bel_core::SCHEMA_VERSION;
use pgrx::spi::{SpiClient, SpiHeapTupleData};
use pgrx::{pg_sys, IntoDatum, JsonB};

use crate::relation_oids::bel_relation;
use crate::row_insert::{OnConflict, RowInserter};
use crate::spi::arrays::SqlArray;
use crate::spi::jsonb_build;
use crate::spi::jsonb_text::JsonbText;
use crate::spi::statements::{EntityStatements, Statements};
use crate::spi::{from_timestamptz, get, run, to_timestamptz};
use crate::write::{write_parts, Part, PartRows, Values};

fn status_of<S: Status>(name: Option<String>) -> Option<S> {
    name.and_then(|n| S::from_short_name(&n))
}

/// Locks and loads the entities of one kind, in key order. For keys an event may create, a
/// placeholder row is inserted first, so a racing creator waits on our uncommitted row; a
/// key whose placeholder we inserted is ours already (and absent), so only the other keys
/// are selected FOR UPDATE.
fn lock_kind<T>(
    client: &SpiClient<'_>,
    statements: &EntityStatements,
    keys: &BTreeMap<String, bool>,
    from_row: fn(&SpiHeapTupleData<'_>) -> Option<T>,
    loaded: &mut BTreeMap<String, T>,
    key_of: fn(&T) -> &String,
) {
    let mut creatable: Vec<String> = keys.iter().filter(|(_, c)| **c).map(|(k, _)| k.clone()).collect();
    let mut created = std::collections::BTreeSet::new();
    let inserted = match creatable.len() {
        0 => None,
        1 => Some(run(client, &statements.insert_placeholder, &[creatable.pop().into()])),
        _ => Some(run(client, &statements.insert_placeholders, &[creatable.sql_array()])),
    };
    for row in inserted.into_iter().flatten() {
        created.extend(get::<String>(&row, 1));
    }
    let mut select: Vec<String> = keys.keys().filter(|k| !created.contains(*k)).cloned().collect();
    let rows = match select.len() {
        0 => return,
        1 => run(client, &statements.lock_one, &[select.pop().into()]),
        _ => run(client, &statements.lock_many, &[select.sql_array()]),
    };
    for entity in rows.filter_map(|row| from_row(&row)) {
        loaded.insert(key_of(&entity).clone(), entity);
    }
}

/// Locks the build requests `keys` touches and loads them into `state`.
pub fn lock_build_requests(client: &SpiClient<'_>, st: &Statements, keys: &TouchedKeys, state: &mut State) {
    lock_kind(
        client,
        &st.build_requests,
        &keys.build_requests,
        build_request_from_row,
        &mut state.build_requests,
        |b| &b.build_request_id,
    );
}

pub fn lock_job_runs(client: &SpiClient<'_>, st: &Statements, keys: &TouchedKeys, state: &mut State) {
    lock_kind(client, &st.job_runs, &keys.job_runs, job_run_from_row, &mut state.job_runs, |r| &r.job_run_id);
}

pub fn lock_partitions(client: &SpiClient<'_>, st: &Statements, keys: &TouchedKeys, state: &mut State) {
    lock_kind(client, &st.partitions, &keys.partitions, partition_from_row, &mut state.partitions, |p| {
        &p.partition_ref
    });
}

/// A `bel.build_request_state` row in column order; None for a placeholder.
pub fn build_request_from_row(row: &SpiHeapTupleData<'_>) -> Option<BuildRequest> {
    let status = status_of::<BuildRequestStatus>(get(row, 2))?;
    let delegations = get::<JsonB>(row, 4)
        .and_then(|j| serde_json::from_value::<BTreeMap<String, String>>(j.0).ok())
        .unwrap_or_default();
    Some(BuildRequest {
        build_request_id: get(row, 1).unwrap_or_default(),
        status,
        requested_partitions: get(row, 3).unwrap_or_default(),
        delegations,
        first_idx: get(row, 5).unwrap_or_default(),
        last_idx: get(row, 6).unwrap_or_default(),
        created_at: get(row, 7).map(from_timestamptz).unwrap_or_default(),
        updated_at: get(row, 8).map(from_timestamptz).unwrap_or_default(),
    })
}

/// A `bel.job_run_state` row in column order; None for a placeholder.
pub fn job_run_from_row(row: &SpiHeapTupleData<'_>) -> Option<JobRun> {
    let status = status_of::<JobRunStatus>(get(row, 4))?;
    Some(JobRun {
        job_run_id: get(row, 1).unwrap_or_default(),
        build_request_id: get(row, 2).unwrap_or_default(),
        job_label: get(row, 3).unwrap_or_default(),
        status,
        target_partitions: get(row, 5).unwrap_or_default(),
        exit_code: get(row, 6),
        message: get(row, 7).unwrap_or_default(),
        first_idx: get(row, 8).unwrap_or_default(),
        last_idx: get(row, 9).unwrap_or_default(),
        created_at: get(row, 10).map(from_timestamptz).unwrap_or_default(),
        updated_at: get(row, 11).map(from_timestamptz).unwrap_or_default(),
    })
}

/// A `bel.partition_state` row (partition_ref, status, build_request_id, job_run_id,
/// last_idx, updated_at); None for a placeholder.
pub fn partition_from_row(row: &SpiHeapTupleData<'_>) -> Option<Partition> {
    let status = status_of::<PartitionStatus>(get(row, 2))?;
    Some(Partition {
        partition_ref: get(row, 1).unwrap_or_default(),
        status,
        build_request_id: get(row, 3).unwrap_or_default(),
        job_run_id: get(row, 4),
        last_idx: get(row, 5).unwrap_or_default(),
        updated_at: get(row, 6).map(from_timestamptz).unwrap_or_default(),
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

/// Writes every changed entity of `state` with one statement made of the parts that have
/// something to write, then the event rows (see `row_insert`).
pub fn write(
    client: &SpiClient<'_>,
    rows: EventRows,
    known_refs: BTreeSet<String>,
    state: &State,
    changed: &ChangedSet,
) {
    write_projections(client, known_refs, state, changed);
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
    // The columns and their order are the write statement's for the same part.
    let mut requests = RowInserter::open(
        bel_relation(c"build_request_state"),
        Part::BuildRequests.table(),
        &Part::BuildRequests.columns(),
        OnConflict::DoNothing,
    );
    let inserted = requests.insert_if_absent(|| {
        vec![
            b.build_request_id.as_str().into_datum(),
            b.status.short_name().into_datum(),
            b.requested_partitions.clone().into_datum(),
            Some(jsonb_build::to_jsonb(&b.delegations)),
            b.first_idx.into_datum(),
            b.last_idx.into_datum(),
            to_timestamptz(b.created_at).into_datum(),
            to_timestamptz(b.updated_at).into_datum(),
        ]
    });
    requests.close();
    if !inserted {
        return false;
    }
    if !known_refs.is_empty() {
        let mut known = RowInserter::open(
            bel_relation(c"known_partitions"),
            Part::KnownPartitions.table(),
            &Part::KnownPartitions.columns(),
            OnConflict::DoNothing,
        );
        // Sorted: concurrent appends insert shared keys in the same order.
        for partition in &known_refs {
            known.insert_if_absent(|| vec![partition.as_str().into_datum()]);
        }
        known.close();
    }
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
    let mut log = RowInserter::open(
        bel_relation(c"events"),
        "bel.events",
        &[
            "idx",
            "event_type",
            "schema_version",
            "event_id",
            "build_request_id",
            "partition_ref",
            "job_run_id",
            "job_label",
            "payload",
            "created_at",
        ],
        OnConflict::Raise,
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
    let mut partitions = RowInserter::open(
        bel_relation(c"event_partitions"),
        "bel.event_partitions",
        &["partition_ref", "idx"],
        OnConflict::Raise,
    );
    for (partition, idx) in involved_ref.iter().zip(involved_idx) {
        partitions.insert(|| vec![partition.as_str().into_datum(), idx.into_datum()]);
    }
    partitions.close();
}

/// The projections: newly named partitions and the changed entity rows.
fn write_projections(client: &SpiClient<'_>, known_refs: BTreeSet<String>, state: &State, changed: &ChangedSet) {
    let text = |v: Vec<String>| Values::Text(v.into_iter().map(Some).collect());
    let brs: Vec<&BuildRequest> = changed.build_requests.iter().filter_map(|k| state.build_requests.get(k)).collect();
    let runs: Vec<&JobRun> = changed.job_runs.iter().filter_map(|k| state.job_runs.get(k)).collect();
    let parts: Vec<&Partition> = changed.partitions.iter().filter_map(|k| state.partitions.get(k)).collect();
    let timestamps = |v: Vec<Micros>| Values::Timestamptz(v.into_iter().map(to_timestamptz).collect());
    let all = vec![
        PartRows { part: Part::KnownPartitions, columns: vec![text(known_refs.into_iter().collect())] },
        PartRows {
            part: Part::BuildRequests,
            columns: vec![
                text(brs.iter().map(|b| b.build_request_id.clone()).collect()),
                text(brs.iter().map(|b| b.status.short_name().to_owned()).collect()),
                Values::TextList(brs.iter().map(|b| b.requested_partitions.clone()).collect()),
                Values::Jsonb(
                    brs.iter()
                        .map(|b| JsonbText(serde_json::to_string(&b.delegations).unwrap_or_else(|_| "{}".to_owned())))
                        .collect(),
                ),
                Values::Int8(brs.iter().map(|b| b.first_idx).collect()),
                Values::Int8(brs.iter().map(|b| b.last_idx).collect()),
                timestamps(brs.iter().map(|b| b.created_at).collect()),
                timestamps(brs.iter().map(|b| b.updated_at).collect()),
            ],
        },
        PartRows {
            part: Part::JobRuns,
            columns: vec![
                text(runs.iter().map(|r| r.job_run_id.clone()).collect()),
                text(runs.iter().map(|r| r.build_request_id.clone()).collect()),
                text(runs.iter().map(|r| r.job_label.clone()).collect()),
                text(runs.iter().map(|r| r.status.short_name().to_owned()).collect()),
                Values::TextList(runs.iter().map(|r| r.target_partitions.clone()).collect()),
                Values::Int4(runs.iter().map(|r| r.exit_code).collect()),
                text(runs.iter().map(|r| r.message.clone()).collect()),
                Values::Int8(runs.iter().map(|r| r.first_idx).collect()),
                Values::Int8(runs.iter().map(|r| r.last_idx).collect()),
                timestamps(runs.iter().map(|r| r.created_at).collect()),
                timestamps(runs.iter().map(|r| r.updated_at).collect()),
            ],
        },
        PartRows {
            part: Part::Partitions,
            columns: vec![
                text(parts.iter().map(|p| p.partition_ref.clone()).collect()),
                text(parts.iter().map(|p| p.status.short_name().to_owned()).collect()),
                text(parts.iter().map(|p| p.build_request_id.clone()).collect()),
                Values::Text(parts.iter().map(|p| p.job_run_id.clone()).collect()),
                Values::Int8(parts.iter().map(|p| p.last_idx).collect()),
                timestamps(parts.iter().map(|p| p.updated_at).collect()),
            ],
        },
    ];
    write_parts(client, all);
}
