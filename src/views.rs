//! The query engine's views of state for people and dashboards: the projections, read by
//! index (the replay that proves them is in `maintenance`).
use std::collections::BTreeMap;

use bel_core::filter::{CompiledFilter, RefRange};
use bel_core::pb::EventFilter;
use bel_core::state::{BuildRequest, JobRun, Partition};
use bel_core::status::Status;
use bel_core::{ErrorClass, Rejection};
use pgrx::prelude::*;
use serde_json::{json, Value};

use crate::errors::{raise, OrRaise};
use crate::read::MAX_LIMIT;
use crate::spi::{from_timestamptz, get, select, to_timestamptz};
use crate::store::{build_request_from_row, job_run_from_row, partition_from_row};

pub const PARTITION_COLUMNS: &str = "partition_ref, status, build_request_id, job_run_id, last_idx, updated_at";
pub const BUILD_REQUEST_COLUMNS: &str =
    "build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at";
pub const JOB_RUN_COLUMNS: &str = "job_run_id, build_request_id, job_label, status, target_partitions, exit_code, \
     message, first_idx, last_idx, created_at, updated_at";

/// Rows a view reads per statement when a glob decides in Rust which rows match.
const CHUNK_ROWS: i32 = 1000;

/// Partitions whose ref matches any of `patterns` (all when None) and sorts after
/// `after_ref`, in ref order, at most `limit` (all when None). Each pattern's literal
/// prefix bounds an index range scan of the projection; the glob decides.
pub fn partition_status(
    patterns: Option<Vec<String>>,
    after_ref: Option<String>,
    limit: Option<i32>,
) -> Vec<Partition> {
    let limit = limit.map(|l| check_limit("limit", l));
    let filter = patterns.map(|patterns| {
        CompiledFilter::new(&EventFilter { partition_patterns: patterns, ..Default::default() }).or_raise()
    });
    let ranges = match &filter {
        Some(f) => f.pattern_ranges(),
        None => vec![RefRange { lower: String::new(), upper: None }],
    };
    let wanted = limit.unwrap_or(usize::MAX);
    if wanted == 0 {
        return Vec::new();
    }
    let chunk = i32::try_from(wanted).unwrap_or(CHUNK_ROWS).clamp(1, CHUNK_ROWS);
    let sql = format!(
        "SELECT {PARTITION_COLUMNS} FROM bel.partition_state
         WHERE partition_ref > $1 AND ($2::text IS NULL OR partition_ref < $2) AND status IS NOT NULL
         ORDER BY partition_ref LIMIT $3"
    );
    Spi::connect(|client| {
        let mut found = Vec::new();
        // The ranges are disjoint and in order, so the rows come out in ref order.
        for range in ranges {
            // Keyset paging inside the range: strictly after the last ref seen.
            let mut last = match &after_ref {
                Some(after) if *after >= range.lower => after.clone(),
                // Nothing sorts below "", and `> prefix` alone would skip the ref equal to it.
                _ => predecessor_bound(&range.lower),
            };
            if range.upper.as_ref().is_some_and(|u| last >= *u) {
                continue;
            }
            loop {
                let rows: Vec<Partition> =
                    select(client, &sql, &[last.clone().into(), range.upper.clone().into(), chunk.into()])
                        .filter_map(|r| partition_from_row(&r))
                        .collect();
                let exhausted = rows.len() < chunk as usize;
                if let Some(p) = rows.last() {
                    last = p.partition_ref.clone();
                }
                for p in rows {
                    if filter.as_ref().is_none_or(|f| f.pattern_matches(&p.partition_ref)) {
                        found.push(p);
                        if found.len() >= wanted {
                            return found;
                        }
                    }
                }
                if exhausted {
                    break;
                }
            }
        }
        found
    })
}

/// A string that sorts just below `lower` for a `> $1` scan that must include `lower`
/// itself: `lower` without its last character, which sorts before it (and before every
/// string starting with `lower`), or "" for "" (no ref is empty: refs are checked).
fn predecessor_bound(lower: &str) -> String {
    let mut s = lower.to_owned();
    s.pop();
    s
}

/// How many partitions matching `patterns` (all when None) are in each status.
pub fn partition_counts(patterns: Option<Vec<String>>) -> Vec<(String, i64)> {
    let Some(patterns) = patterns else {
        return Spi::connect(|client| {
            select(
                client,
                "SELECT status, count(*) FROM bel.partition_state WHERE status IS NOT NULL GROUP BY status ORDER BY status",
                &[],
            )
            .filter_map(|r| Some((get::<String>(&r, 1)?, get::<i64>(&r, 2)?)))
            .collect()
        });
    };
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for p in partition_status(Some(patterns), None, None) {
        *counts.entry(p.status.short_name().to_owned()).or_default() += 1;
    }
    counts.into_iter().collect()
}

/// Build requests, newest first (by the idx of their first event), with a first idx below
/// `before_idx` (all when None), at most `limit`.
pub fn build_requests(before_idx: Option<i64>, limit: i32) -> Vec<BuildRequest> {
    let limit = check_limit("limit", limit);
    Spi::connect(|client| {
        let sql = format!(
            "SELECT {BUILD_REQUEST_COLUMNS} FROM bel.build_request_state
             WHERE status IS NOT NULL AND first_idx < coalesce($1, 9223372036854775807)
             ORDER BY first_idx DESC LIMIT $2"
        );
        select(client, &sql, &[before_idx.into(), (limit as i64).into()])
            .filter_map(|r| build_request_from_row(&r))
            .collect()
    })
}

/// The bound every paged view shares with list_events.
fn check_limit(name: &str, limit: i32) -> usize {
    if !(0..=MAX_LIMIT).contains(&limit) {
        raise(
            Rejection::new(ErrorClass::InvalidValue, format!("{name} must be between 0 and {MAX_LIMIT}, got {limit}"))
                .hint("page with the last row's key instead of one huge page"),
        );
    }
    limit as usize
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
            (Some(a), Some(b)) => Some((from_timestamptz(b) - from_timestamptz(a)) as f64 / 1e6),
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
    json!(to_timestamptz(m))
}

pub fn job_run_json(r: &JobRun) -> Value {
    json!({
        "jobRunId": r.job_run_id, "buildRequestId": r.build_request_id, "jobLabel": r.job_label,
        "status": r.status.short_name(), "targetPartitions": r.target_partitions, "exitCode": r.exit_code,
        "message": r.message, "firstIdx": r.first_idx, "lastIdx": r.last_idx,
        "createdAt": micros_json(r.created_at), "updatedAt": micros_json(r.updated_at),
    })
}

pub fn build_request_json(b: &BuildRequest) -> Value {
    json!({
        "buildRequestId": b.build_request_id, "status": b.status.short_name(),
        "requestedPartitions": b.requested_partitions, "delegations": b.delegations,
        "firstIdx": b.first_idx, "lastIdx": b.last_idx,
        "createdAt": micros_json(b.created_at), "updatedAt": micros_json(b.updated_at),
    })
}

pub fn partition_json(p: &Partition) -> Value {
    json!({
        "partitionRef": p.partition_ref, "status": p.status.short_name(), "buildRequestId": p.build_request_id,
        "jobRunId": p.job_run_id, "lastIdx": p.last_idx, "updatedAt": micros_json(p.updated_at),
    })
}
