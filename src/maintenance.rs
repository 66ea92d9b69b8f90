//! Maintenance of the projections: `verify` replays the log with the pure reducer and
//! diffs it against the projections; `rebuild_projections` replaces them with the replay.
use std::collections::{BTreeMap, BTreeSet};

use bel_core::reducer::Reducer;
use bel_core::state::State;
use bel_core::status::Status;
use bel_core::{event, Rejection};
use pgrx::prelude::*;
use pgrx::spi::SpiClient;
use pgrx::JsonB;
use serde_json::Value;

use crate::errors::{internal, raise};
use crate::spi::{get, select};
use crate::store::{build_request_from_row, job_run_from_row, partition_from_row};
use crate::views::{
    build_request_json, job_run_json, partition_json, BUILD_REQUEST_COLUMNS, JOB_RUN_COLUMNS, PARTITION_COLUMNS,
};

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
        out.extend(stranded(&projected, &replayed));
        out
    })
}

/// One row per partition the replayed log leaves in progress under an ended build (logs
/// written before the no-dead-ends rule): `projected` is its projection, `replayed` the
/// replayed partition with `problem` (what is wrong, in words) and `ownerStatus`.
fn stranded(projected: &State, replayed: &State) -> Vec<Difference> {
    bel_core::in_progress::stranded_partitions(replayed)
        .into_iter()
        .map(|s| {
            let mut row = partition_json(s.partition);
            if let Value::Object(fields) = &mut row {
                fields.insert("problem".into(), Value::String(s.problem()));
                fields.insert("ownerStatus".into(), Value::String(s.owner.status.short_name().into()));
            }
            Difference {
                entity: "partition",
                key: s.partition.partition_ref.clone(),
                projected: projected.partitions.get(&s.partition.partition_ref).map(partition_json),
                replayed: Some(row),
            }
        })
        .collect()
}

/// Replaces the projections with a replay of the log. Locks the log first, like every
/// append (see append::lock_log), in SHARE ROW EXCLUSIVE mode: it waits for the appending
/// transactions in flight, blocks new appends (before they lock any projection row) and
/// other rebuilds until the calling transaction ends. Then the projections in EXCLUSIVE
/// mode: plain reads go on (they see the old rows until the rebuild commits), so a
/// transaction that read them and appends next cannot deadlock with it.
pub fn rebuild_projections() -> i64 {
    Spi::connect_mut(|client| {
        for sql in [
            "LOCK TABLE bel.events IN SHARE ROW EXCLUSIVE MODE",
            "LOCK TABLE bel.build_request_state, bel.job_run_state, bel.partition_state IN EXCLUSIVE MODE",
            "DELETE FROM bel.build_request_state",
            "DELETE FROM bel.job_run_state",
            "DELETE FROM bel.partition_state",
        ] {
            client.update(sql, None, &[]).unwrap_or_else(|e| internal(sql, e));
        }
        let (state, count) = replay_log(client);
        crate::write::insert_entities(&state);
        count
    })
}
