//! Projections are provably equal to a replay of the log: random valid histories from the
//! simulator are appended (JSON and binary), the projections compared with the simulator's
//! own fold and with bel.verify(); random invalid next events are refused with the SQLSTATE
//! of their mistake and write nothing.
mod support;
use bel_core::status::Status;
use bel_sim::{Sim, SimConfig};
use support::*;
use tokio_postgres::Client;

async fn append_event(
    c: &Client,
    event: &bel_core::pb::BuildEvent,
    binary: bool,
) -> Result<i64, tokio_postgres::Error> {
    if binary {
        let bytes = prost::Message::encode_to_vec(event);
        c.query_one("SELECT bel.bel_append($1::bytea)", &[&bytes]).await.map(|r| r.get(0))
    } else {
        append(c, &serde_json::to_string(event).unwrap()).await
    }
}

/// Runs one simulated history into the database; returns the simulator.
async fn run_history(c: &Client, seed: u64, binary: bool) -> (Sim, usize) {
    let config = SimConfig { builds: 14, partitions: 10, shared_partitions: false, ..Default::default() };
    let mut sim = Sim::new(seed, config);
    let mut refused = 0;
    let mut step = 0;
    while let Some(event) = sim.propose() {
        step += 1;
        if step % 5 == 0 {
            if let Some(bad) = sim.invalid_next_explained() {
                let before = count(c, "SELECT count(*) FROM bel.events").await;
                let e = append_event(c, &bad.event, binary).await.expect_err("an invalid event is refused");
                assert_eq!(
                    sqlstate(&e),
                    bad.mistake.expected_class().sqlstate(),
                    "seed {seed}: {:?}: {e}",
                    bad.mistake
                );
                assert_eq!(count(c, "SELECT count(*) FROM bel.events").await, before, "a refusal wrote nothing");
                refused += 1;
            }
        }
        let idx = append_event(c, &event, binary)
            .await
            .unwrap_or_else(|e| panic!("seed {seed}: a valid event was refused: {e}\n{event:?}"));
        sim.observe(idx, &event).expect("the simulator accepts what the log accepted");
    }
    (sim, refused)
}

async fn assert_projections_equal_sim(c: &Client, sim: &Sim) {
    let state = sim.state();
    let rows = c
        .query("SELECT partition_ref, status, build_request_id, job_run_id, last_idx FROM bel.partition_status()", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), state.partitions.len());
    for r in rows {
        let p = &state.partitions[&r.get::<_, String>(0)];
        assert_eq!(r.get::<_, String>(1), p.status.short_name());
        assert_eq!(r.get::<_, String>(2), p.build_request_id);
        assert_eq!(r.get::<_, Option<String>>(3), p.job_run_id);
        assert_eq!(r.get::<_, i64>(4), p.last_idx);
    }
    let rows = c
        .query("SELECT job_run_id, build_request_id, job_label, status, target_partitions, exit_code, first_idx, last_idx FROM bel.job_runs()", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), state.job_runs.len());
    for r in rows {
        let j = &state.job_runs[&r.get::<_, String>(0)];
        assert_eq!(r.get::<_, String>(1), j.build_request_id);
        assert_eq!(r.get::<_, String>(2), j.job_label);
        assert_eq!(r.get::<_, String>(3), j.status.short_name());
        assert_eq!(r.get::<_, Vec<String>>(4), j.target_partitions);
        assert_eq!(r.get::<_, Option<i32>>(5), j.exit_code);
        assert_eq!((r.get::<_, i64>(6), r.get::<_, i64>(7)), (j.first_idx, j.last_idx));
    }
    let rows = c.query("SELECT build_request_id, status, last_idx FROM bel.build_request_state", &[]).await.unwrap();
    assert_eq!(rows.len(), state.build_requests.len());
    for r in rows {
        let b = &state.build_requests[&r.get::<_, String>(0)];
        assert_eq!(r.get::<_, String>(1), b.status.short_name());
        assert_eq!(r.get::<_, i64>(2), b.last_idx);
    }
    assert_eq!(count(c, "SELECT count(*) FROM bel.verify()").await, 0, "projections == replay");
}

#[tokio::test]
async fn random_histories_project_exactly_what_replay_computes() {
    for (seed, binary) in [(1u64, false), (2, true), (3, false), (4, true)] {
        let dsn = fresh_db(&format!("props_{seed}")).await;
        let c = connect(&dsn).await;
        let (sim, refused) = run_history(&c, seed, binary).await;
        let events = count(&c, "SELECT count(*) FROM bel.events").await;
        println!("seed {seed}: {events} events, {refused} invalid events refused");
        assert!(events > 100, "a meaningful history");
        assert!(refused > 10);
        assert_projections_equal_sim(&c, &sim).await;
    }
}

#[tokio::test]
async fn rebuilding_the_projections_changes_nothing() {
    let dsn = fresh_db("props_rebuild").await;
    let c = connect(&dsn).await;
    let (sim, _) = run_history(&c, 11, false).await;
    let snapshot = "SELECT jsonb_agg(to_jsonb(p) ORDER BY partition_ref)::text FROM bel.partition_status() p";
    let before: String = c.query_one(snapshot, &[]).await.unwrap().get(0);
    let replayed: i64 = c.query_one("SELECT bel.rebuild_projections()", &[]).await.unwrap().get(0);
    assert_eq!(replayed, count(&c, "SELECT count(*) FROM bel.events").await);
    let after: String = c.query_one(snapshot, &[]).await.unwrap().get(0);
    assert_eq!(before, after);
    assert_projections_equal_sim(&c, &sim).await;
}
