//! The query engine's views of state: projections read by index, and the replay that
//! proves them (verify, rebuild).
use std::collections::{BTreeMap, BTreeSet};

use bel_core::filter::CompiledFilter;
use bel_core::pb::EventFilter;
use bel_core::reducer::Reducer;
use bel_core::state::{BuildRequest, ChangedSet, JobRun, Partition, State};
use bel_core::status::Status;
use bel_core::{event, ErrorClass, Rejection};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;
use serde_json::{json, Value};

use crate::errors::{internal, raise, OrRaise};
use crate::read::prefix_upper_bound;
use crate::statements::statements;
use crate::store::{self, build_request_from_row, get, job_run_from_row, partition_from_row};
use crate::write::WriteMode;

const PARTITION_COLUMNS: &str = "partition_ref, status, build_request_id, job_run_id, last_idx, updated_at";
const BUILD_REQUEST_COLUMNS: &str =
    "build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at";
const JOB_RUN_COLUMNS: &str = "job_run_id, build_request_id, job_label, status, target_partitions, exit_code, \
     message, first_idx, last_idx, created_at, updated_at";

fn select<'c>(
    client: &SpiClient<'c>,
    sql: &str,
    args: &[pgrx::datum::DatumWithOid<'_>],
) -> pgrx::spi::SpiTupleTable<'c> {
    client.select(sql, None, args).unwrap_or_else(|e| internal(sql, e))
}

/// Partitions whose ref matches any of `patterns` (all when None), in ref order. Each
/// pattern's literal prefix bounds an index range scan of the projection.
pub fn partition_status(patterns: Option<Vec<String>>) -> Vec<Partition> {
    Spi::connect(|client| {
        let Some(patterns) = patterns else {
            let sql = format!(
                "SELECT {PARTITION_COLUMNS} FROM bel.partition_state WHERE status IS NOT NULL ORDER BY partition_ref"
            );
            return select(client, &sql, &[]).filter_map(|r| partition_from_row(&r)).collect();
        };
        let filter =
            CompiledFilter::new(&EventFilter { partition_patterns: patterns, ..Default::default() }).or_raise();
        let prefixes: BTreeSet<&str> =
            filter.partition_patterns.iter().map(|p| bel_core::filter::literal_prefix(p)).collect();
        let mut found: BTreeMap<String, Partition> = BTreeMap::new();
        for prefix in prefixes {
            let rows = match prefix_upper_bound(prefix) {
                Some(upper) => select(
                    client,
                    &format!("SELECT {PARTITION_COLUMNS} FROM bel.partition_state WHERE partition_ref >= $1 AND partition_ref < $2 AND status IS NOT NULL"),
                    &[prefix.into(), upper.into()],
                ),
                None => select(
                    client,
                    &format!("SELECT {PARTITION_COLUMNS} FROM bel.partition_state WHERE partition_ref >= $1 AND status IS NOT NULL"),
                    &[prefix.into()],
                ),
            };
            for p in rows.filter_map(|r| partition_from_row(&r)) {
                if filter.pattern_matches(&p.partition_ref) {
                    found.insert(p.partition_ref.clone(), p);
                }
            }
        }
        found.into_values().collect()
    })
}

pub fn job_runs(build_request_id: Option<String>, job_label: Option<String>) -> Vec<JobRun> {
    Spi::connect(|client| {
        let sql = format!(
            "SELECT {JOB_RUN_COLUMNS} FROM bel.job_run_state
             WHERE status IS NOT NULL AND ($1::text IS NULL OR build_request_id = $1)
               AND ($2::text IS NULL OR job_label = $2)
             ORDER BY first_idx"
        );
        select(client, &sql, &[build_request_id.into(), job_label.into()])
            .filter_map(|r| job_run_from_row(&r))
            .collect()
    })
}

/// A person's view of one build: status, requested partitions by status (with
/// delegations and the builds they wait on), job runs by status, times.
pub fn build_summary(build_request_id: &str) -> Value {
    Spi::connect(|client| {
        let sql = format!("SELECT {BUILD_REQUEST_COLUMNS} FROM bel.build_request_state WHERE build_request_id = $1");
        let Some(br) = select(client, &sql, &[build_request_id.into()]).find_map(|r| build_request_from_row(&r)) else {
            raise(
                Rejection::new(ErrorClass::NotFound, format!("build request {build_request_id:?} does not exist"))
                    .hint("list builds with: select distinct build_request_id from bel.build_request_state"),
            )
        };
        let partitions: BTreeMap<String, Partition> = select(
            client,
            &format!("SELECT {PARTITION_COLUMNS} FROM bel.partition_state WHERE partition_ref = ANY($1)"),
            &[br.requested_partitions.clone().into()],
        )
        .filter_map(|r| partition_from_row(&r))
        .map(|p| (p.partition_ref.clone(), p))
        .collect();
        let mut by_status: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        let mut partition_list = Vec::new();
        for r in &br.requested_partitions {
            let p = partitions.get(r);
            let status = p.map_or("NONE", |p| p.status.short_name());
            by_status.entry(status.to_owned()).or_default().push(json!(r));
            partition_list.push(json!({
                "partitionRef": r,
                "status": status,
                "ownerBuildRequestId": p.map(|p| p.build_request_id.clone()),
                "jobRunId": p.and_then(|p| p.job_run_id.clone()),
                "delegatedToBuildRequestId": br.delegations.get(r),
            }));
        }
        let delegations: Vec<Value> = br
            .delegations
            .iter()
            .map(|(r, to)| {
                json!({
                    "partitionRef": r,
                    "delegatedToBuildRequestId": to,
                    "partitionStatus": partitions.get(r).map(|p| p.status.short_name()),
                })
            })
            .collect();
        let runs = select(
            client,
            &format!("SELECT {JOB_RUN_COLUMNS} FROM bel.job_run_state WHERE build_request_id = $1 AND status IS NOT NULL ORDER BY first_idx"),
            &[build_request_id.into()],
        )
        .filter_map(|r| job_run_from_row(&r))
        .collect::<Vec<_>>();
        let mut runs_by_status: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        for r in &runs {
            runs_by_status.entry(r.status.short_name().to_owned()).or_default().push(json!(r.job_run_id));
        }
        let span = select(
            client,
            "SELECT count(*), min(idx), max(idx),
                    (SELECT created_at FROM bel.events WHERE idx = min(e.idx)),
                    (SELECT created_at FROM bel.events WHERE idx = max(e.idx))
             FROM bel.events e WHERE build_request_id = $1",
            &[build_request_id.into()],
        )
        .first();
        let event_count = span.get::<i64>(1).ok().flatten().unwrap_or(0);
        let first_at = span.get::<pgrx::datum::TimestampWithTimeZone>(4).ok().flatten();
        let last_at = span.get::<pgrx::datum::TimestampWithTimeZone>(5).ok().flatten();
        let duration = match (first_at, last_at) {
            (Some(a), Some(b)) => Some((store::from_timestamptz(b) - store::from_timestamptz(a)) as f64 / 1e6),
            _ => None,
        };
        json!({
            "buildRequestId": br.build_request_id,
            "status": br.status.short_name(),
            "requestedPartitions": partition_list,
            "partitionsByStatus": by_status,
            "delegations": delegations,
            "jobRuns": runs.iter().map(job_run_json).collect::<Vec<_>>(),
            "jobRunsByStatus": runs_by_status,
            "eventCount": event_count,
            "firstIdx": span.get::<i64>(2).ok().flatten(),
            "lastIdx": span.get::<i64>(3).ok().flatten(),
            "firstEventAt": first_at,
            "lastEventAt": last_at,
            "durationSeconds": duration,
        })
    })
}

fn micros_json(m: i64) -> Value {
    json!(store::to_timestamptz(m))
}

fn job_run_json(r: &JobRun) -> Value {
    json!({
        "jobRunId": r.job_run_id, "buildRequestId": r.build_request_id, "jobLabel": r.job_label,
        "status": r.status.short_name(), "targetPartitions": r.target_partitions, "exitCode": r.exit_code,
        "message": r.message, "firstIdx": r.first_idx, "lastIdx": r.last_idx,
        "createdAt": micros_json(r.created_at), "updatedAt": micros_json(r.updated_at),
    })
}

fn build_request_json(b: &BuildRequest) -> Value {
    json!({
        "buildRequestId": b.build_request_id, "status": b.status.short_name(),
        "requestedPartitions": b.requested_partitions, "delegations": b.delegations,
        "firstIdx": b.first_idx, "lastIdx": b.last_idx,
        "createdAt": micros_json(b.created_at), "updatedAt": micros_json(b.updated_at),
    })
}

fn partition_json(p: &Partition) -> Value {
    json!({
        "partitionRef": p.partition_ref, "status": p.status.short_name(), "buildRequestId": p.build_request_id,
        "jobRunId": p.job_run_id, "lastIdx": p.last_idx, "updatedAt": micros_json(p.updated_at),
    })
}

/// Every entity in the projections.
fn load_projections(client: &SpiClient<'_>) -> State {
    let mut state = State::default();
    let sql = format!("SELECT {BUILD_REQUEST_COLUMNS} FROM bel.build_request_state");
    for b in select(client, &sql, &[]).filter_map(|r| build_request_from_row(&r)) {
        state.build_requests.insert(b.build_request_id.clone(), b);
    }
    let sql = format!("SELECT {JOB_RUN_COLUMNS} FROM bel.job_run_state");
    for r in select(client, &sql, &[]).filter_map(|r| job_run_from_row(&r)) {
        state.job_runs.insert(r.job_run_id.clone(), r);
    }
    let sql = format!("SELECT {PARTITION_COLUMNS} FROM bel.partition_state");
    for p in select(client, &sql, &[]).filter_map(|r| partition_from_row(&r)) {
        state.partitions.insert(p.partition_ref.clone(), p);
    }
    state
}

/// Folds the whole log with the pure reducer, reading it in chunks through a cursor.
fn replay_log(client: &SpiClient<'_>) -> (State, i64) {
    let mut reducer = Reducer::new();
    let mut count = 0;
    let mut cursor = client.open_cursor("SELECT idx, payload FROM bel.events ORDER BY idx", &[]);
    loop {
        let chunk = cursor.fetch(10_000).unwrap_or_else(|e| internal("reading the log", e));
        if chunk.is_empty() {
            break;
        }
        for row in chunk {
            let idx: i64 = get(&row, 1).unwrap_or_default();
            let payload = get::<JsonB>(&row, 2).map(|j| j.0).unwrap_or_default();
            let applied = event::from_json_value(payload).and_then(|e| reducer.apply(idx, &e));
            if let Err(r) = applied {
                raise(
                    Rejection::new(r.class, format!("the stored event at idx {idx} does not replay: {}", r.message))
                        .hint("the log was written by an incompatible version or edited outside bel"),
                );
            }
            count += 1;
        }
    }
    (reducer.state, count)
}

/// One row of verify(): an entity whose projection and replay differ.
pub struct Difference {
    pub entity: &'static str,
    pub key: String,
    pub projected: Option<Value>,
    pub replayed: Option<Value>,
}

fn diff<T: PartialEq>(
    entity: &'static str,
    projected: &BTreeMap<String, T>,
    replayed: &BTreeMap<String, T>,
    to_json: fn(&T) -> Value,
    out: &mut Vec<Difference>,
) {
    let keys: BTreeSet<&String> = projected.keys().chain(replayed.keys()).collect();
    for key in keys {
        let (p, r) = (projected.get(key), replayed.get(key));
        if p != r {
            out.push(Difference { entity, key: key.clone(), projected: p.map(to_json), replayed: r.map(to_json) });
        }
    }
}

pub fn verify() -> Vec<Difference> {
    Spi::connect(|client| {
        let projected = load_projections(client);
        let (replayed, _) = replay_log(client);
        let mut out = Vec::new();
        diff("build_request", &projected.build_requests, &replayed.build_requests, build_request_json, &mut out);
        diff("job_run", &projected.job_runs, &replayed.job_runs, job_run_json, &mut out);
        diff("partition", &projected.partitions, &replayed.partitions, partition_json, &mut out);
        out
    })
}

/// Replaces the projections with a replay of the log. Takes a SHARE lock on the log, so it
/// waits for appends in flight and blocks new ones until the calling transaction ends.
pub fn rebuild_projections() -> i64 {
    Spi::connect_mut(|client| {
        for sql in [
            "LOCK TABLE bel.events IN SHARE MODE",
            "LOCK TABLE bel.build_request_state, bel.job_run_state, bel.partition_state IN ACCESS EXCLUSIVE MODE",
            "DELETE FROM bel.build_request_state",
            "DELETE FROM bel.job_run_state",
            "DELETE FROM bel.partition_state",
        ] {
            client.update(sql, None, &[]).unwrap_or_else(|e| internal(sql, e));
        }
        let (state, count) = replay_log(client);
        let st = statements(client);
        let all = ChangedSet {
            build_requests: state.build_requests.keys().cloned().collect(),
            job_runs: state.job_runs.keys().cloned().collect(),
            partitions: state.partitions.keys().cloned().collect(),
        };
        let as_vec = |s: &BTreeSet<String>| s.iter().cloned().collect::<Vec<_>>();
        store::run(client, &st.build_requests.insert_placeholders, &[as_vec(&all.build_requests).into()]);
        store::run(client, &st.job_runs.insert_placeholders, &[as_vec(&all.job_runs).into()]);
        store::run(client, &st.partitions.insert_placeholders, &[as_vec(&all.partitions).into()]);
        store::write(client, store::EventRows::default(), Default::default(), &state, &all, WriteMode::Update);
        count
    })
}
