//! Storage of the append path: locking and loading the entities an append touches,
//! writing the changed ones back, and inserting event rows.
use std::collections::{BTreeMap, BTreeSet};

use bel_core::pb::{BuildRequestStatus, JobRunStatus, PartitionStatus};
use bel_core::state::{BuildRequest, ChangedSet, JobRun, Micros, Partition, State, TouchedKeys};
use bel_core::status::Status;
use pgrx::datum::DatumWithOid;
use pgrx::datum::TimestampWithTimeZone;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiHeapTupleData, SpiTupleTable};
use pgrx::{pg_sys, IntoDatum, JsonB};

use crate::arrays::SqlArray;
use crate::errors::internal;
use crate::jsonb_text::JsonbText;
use crate::statements::{write_statement, Statements, WriteMode, WriteShape};

/// Microseconds between the Unix epoch and Postgres' epoch (2000-01-01).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

pub fn to_timestamptz(unix_micros: Micros) -> TimestampWithTimeZone {
    let pg = unix_micros.saturating_sub(PG_EPOCH_OFFSET_MICROS);
    TimestampWithTimeZone::try_from(pg as pg_sys::TimestampTz).unwrap_or_else(|e| internal("timestamp out of range", e))
}

pub fn from_timestamptz(ts: TimestampWithTimeZone) -> Micros {
    pg_sys::TimestampTz::from(ts).saturating_add(PG_EPOCH_OFFSET_MICROS)
}

/// Unix microseconds of the current time.
pub fn now_micros() -> Micros {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }.saturating_add(PG_EPOCH_OFFSET_MICROS)
}

pub fn run<'c>(
    client: &SpiClient<'c>,
    stmt: &OwnedPreparedStatement,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> SpiTupleTable<'c> {
    client.select(stmt, None, args).unwrap_or_else(|e| internal("running a statement", e))
}

pub fn get<T: pgrx::FromDatum + IntoDatum>(row: &SpiHeapTupleData<'_>, ordinal: usize) -> Option<T> {
    row.get::<T>(ordinal).unwrap_or_else(|e| internal("reading a column", e))
}

fn status_of<S: Status>(name: Option<String>) -> Option<S> {
    name.and_then(|n| S::from_short_name(&n))
}

/// Locks and loads the entities of one kind, in key order. For keys an event may create, a
/// placeholder row is inserted first, so a racing creator waits on our uncommitted row; a
/// key whose placeholder we inserted is ours already (and absent), so only the other keys
/// are selected FOR UPDATE.
fn lock_kind<T>(
    client: &SpiClient<'_>,
    insert_placeholders: &OwnedPreparedStatement,
    lock: &OwnedPreparedStatement,
    keys: &BTreeMap<String, bool>,
    from_row: fn(&SpiHeapTupleData<'_>) -> Option<T>,
    loaded: &mut BTreeMap<String, T>,
    key_of: fn(&T) -> &String,
) {
    let creatable: Vec<String> = keys.iter().filter(|(_, c)| **c).map(|(k, _)| k.clone()).collect();
    let mut created = std::collections::BTreeSet::new();
    if !creatable.is_empty() {
        for row in run(client, insert_placeholders, &[creatable.sql_array()]) {
            created.extend(get::<String>(&row, 1));
        }
    }
    let select: Vec<String> = keys.keys().filter(|k| !created.contains(*k)).cloned().collect();
    if select.is_empty() {
        return;
    }
    for entity in run(client, lock, &[select.sql_array()]).filter_map(|row| from_row(&row)) {
        loaded.insert(key_of(&entity).clone(), entity);
    }
}

/// Locks the build requests `keys` touches and loads them into `state`.
pub fn lock_build_requests(client: &SpiClient<'_>, st: &Statements, keys: &TouchedKeys, state: &mut State) {
    lock_kind(
        client,
        &st.insert_build_request_placeholders,
        &st.lock_build_requests,
        &keys.build_requests,
        build_request_from_row,
        &mut state.build_requests,
        |b| &b.build_request_id,
    );
}

pub fn lock_job_runs(client: &SpiClient<'_>, st: &Statements, keys: &TouchedKeys, state: &mut State) {
    lock_kind(
        client,
        &st.insert_job_run_placeholders,
        &st.lock_job_runs,
        &keys.job_runs,
        job_run_from_row,
        &mut state.job_runs,
        |r| &r.job_run_id,
    );
}

pub fn lock_partitions(client: &SpiClient<'_>, st: &Statements, keys: &TouchedKeys, state: &mut State) {
    lock_kind(
        client,
        &st.insert_partition_placeholders,
        &st.lock_partitions,
        &keys.partitions,
        partition_from_row,
        &mut state.partitions,
        |p| &p.partition_ref,
    );
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

fn json_strings(items: &[String]) -> JsonB {
    JsonB(serde_json::Value::from(items.to_vec()))
}

/// Event rows gathered during an append (column arrays, one element per event).
#[derive(Default)]
pub struct EventRows {
    pub idx: Vec<i64>,
    pub event_type: Vec<String>,
    pub schema_version: Vec<i32>,
    pub event_id: Vec<Option<String>>,
    pub build_request_id: Vec<Option<String>>,
    pub partition_ref: Vec<Option<String>>,
    pub job_run_id: Vec<Option<String>>,
    pub job_label: Vec<Option<String>>,
    pub payload: Vec<JsonbText>,
    /// Flattened (partition_ref, idx) pairs for bel.event_partitions.
    pub involved_ref: Vec<String>,
    pub involved_idx: Vec<i64>,
}

/// Writes `rows` and every changed entity of `state` with one statement made of the parts
/// that have something to write. Returns false only for a lone creation (see
/// `WriteMode::LoneCreation`) whose build request existed: then nothing was written.
pub fn write(
    client: &SpiClient<'_>,
    rows: EventRows,
    known_refs: BTreeSet<String>,
    state: &State,
    changed: &ChangedSet,
    mode: WriteMode,
) -> bool {
    let (has_events, one_event) = (!rows.idx.is_empty(), rows.idx.len() == 1);
    let mut mask = 0u8;
    let mut args: Vec<DatumWithOid<'_>> = Vec::new();
    let mut part = |bit: usize, present: bool, datums: Vec<DatumWithOid<'static>>| {
        if present {
            mask |= 1 << bit;
            args.extend(datums);
        }
    };
    let EventRows {
        idx,
        event_type,
        schema_version,
        event_id,
        build_request_id,
        partition_ref,
        job_run_id,
        job_label,
        payload,
        involved_ref,
        involved_idx,
    } = rows;
    let events = if one_event {
        vec![
            idx.first().copied().into(),
            event_type.into_iter().next().into(),
            schema_version.first().copied().into(),
            event_id.into_iter().next().flatten().into(),
            build_request_id.into_iter().next().flatten().into(),
            partition_ref.into_iter().next().flatten().into(),
            job_run_id.into_iter().next().flatten().into(),
            job_label.into_iter().next().flatten().into(),
            payload.into_iter().next().into(),
        ]
    } else {
        vec![
            idx.sql_array(),
            event_type.sql_array(),
            schema_version.sql_array(),
            event_id.sql_array(),
            build_request_id.sql_array(),
            partition_ref.sql_array(),
            job_run_id.sql_array(),
            job_label.sql_array(),
            payload.sql_array(),
        ]
    };
    part(0, has_events, events);
    part(1, !involved_ref.is_empty(), vec![involved_ref.sql_array(), involved_idx.sql_array()]);
    part(2, !known_refs.is_empty(), vec![known_refs.into_iter().collect::<Vec<_>>().sql_array()]);

    let brs: Vec<&BuildRequest> = changed.build_requests.iter().filter_map(|k| state.build_requests.get(k)).collect();
    let build_requests = match (mode, brs.as_slice()) {
        (WriteMode::LoneCreation, [b]) => vec![
            b.build_request_id.clone().into(),
            b.status.short_name().to_owned().into(),
            b.requested_partitions.clone().sql_array(),
            JsonB(serde_json::to_value(&b.delegations).unwrap_or_default()).into(),
            b.first_idx.into(),
            b.last_idx.into(),
            to_timestamptz(b.created_at).into(),
            to_timestamptz(b.updated_at).into(),
        ],
        (WriteMode::LoneCreation, _) => internal("a lone creation", "it must change exactly one build request"),
        (WriteMode::Update, _) => vec![
            brs.iter().map(|b| b.build_request_id.clone()).collect::<Vec<_>>().sql_array(),
            brs.iter().map(|b| b.status.short_name().to_owned()).collect::<Vec<_>>().sql_array(),
            brs.iter().map(|b| json_strings(&b.requested_partitions)).collect::<Vec<_>>().sql_array(),
            brs.iter()
                .map(|b| JsonB(serde_json::to_value(&b.delegations).unwrap_or_default()))
                .collect::<Vec<_>>()
                .sql_array(),
            brs.iter().map(|b| b.first_idx).collect::<Vec<_>>().sql_array(),
            brs.iter().map(|b| b.last_idx).collect::<Vec<_>>().sql_array(),
            brs.iter().map(|b| to_timestamptz(b.created_at)).collect::<Vec<_>>().sql_array(),
            brs.iter().map(|b| to_timestamptz(b.updated_at)).collect::<Vec<_>>().sql_array(),
        ],
    };
    part(3, !brs.is_empty(), build_requests);

    let runs: Vec<&JobRun> = changed.job_runs.iter().filter_map(|k| state.job_runs.get(k)).collect();
    part(
        4,
        !runs.is_empty(),
        vec![
            runs.iter().map(|r| r.job_run_id.clone()).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.build_request_id.clone()).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.job_label.clone()).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.status.short_name().to_owned()).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| json_strings(&r.target_partitions)).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.exit_code).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.message.clone()).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.first_idx).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| r.last_idx).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| to_timestamptz(r.created_at)).collect::<Vec<_>>().sql_array(),
            runs.iter().map(|r| to_timestamptz(r.updated_at)).collect::<Vec<_>>().sql_array(),
        ],
    );

    let parts: Vec<&Partition> = changed.partitions.iter().filter_map(|k| state.partitions.get(k)).collect();
    part(
        5,
        !parts.is_empty(),
        vec![
            parts.iter().map(|p| p.partition_ref.clone()).collect::<Vec<_>>().sql_array(),
            parts.iter().map(|p| p.status.short_name().to_owned()).collect::<Vec<_>>().sql_array(),
            parts.iter().map(|p| p.build_request_id.clone()).collect::<Vec<_>>().sql_array(),
            parts.iter().map(|p| p.job_run_id.clone()).collect::<Vec<_>>().sql_array(),
            parts.iter().map(|p| p.last_idx).collect::<Vec<_>>().sql_array(),
            parts.iter().map(|p| to_timestamptz(p.updated_at)).collect::<Vec<_>>().sql_array(),
        ],
    );
    if mask == 0 {
        return true;
    }
    let result = run(client, write_statement(client, WriteShape { mask, mode, one_event }), &args);
    match mode {
        WriteMode::Update => true,
        WriteMode::LoneCreation => result.first().get_one::<i64>().ok().flatten() == Some(1),
    }
}
