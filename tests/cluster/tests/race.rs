//! Concurrency with real connections: racing requests, no deadlocks, projections intact.
//! Who waits for whom, step by step, is in the isolation specs (tests/isolation/specs):
//! these tests race real appends many times.
mod support;
use rand::Rng;
use support::*;

async fn prepare_builds(c: &tokio_postgres::Client, builds: &[&str], part: &str) {
    for b in builds {
        append(c, &build_event(b, "RECEIVED", &[part])).await.unwrap();
        append(c, &build_event(b, "PLANNING", &[])).await.unwrap();
    }
}

/// Runs two calls at once, each after a random 0-2 ms delay; asserts that exactly one
/// succeeds and returns the other's error.
async fn race_with_one_winner<T: std::fmt::Debug, U: std::fmt::Debug>(
    call_a: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    call_b: impl std::future::Future<Output = Result<U, tokio_postgres::Error>>,
    round: usize,
) -> tokio_postgres::Error {
    let (delay_a, delay_b) = (rand::thread_rng().gen_range(0..3), rand::thread_rng().gen_range(0..3));
    let (ra, rb) = tokio::join!(
        async {
            sleep_ms(delay_a).await;
            call_a.await
        },
        async {
            sleep_ms(delay_b).await;
            call_b.await
        }
    );
    assert!(ra.is_ok() != rb.is_ok(), "round {round}: exactly one wins ({ra:?} / {rb:?})");
    match (ra, rb) {
        (Err(e), _) | (_, Err(e)) => e,
        (Ok(_), Ok(_)) => unreachable!("asserted above"),
    }
}

#[tokio::test]
async fn exactly_one_of_two_racing_requests_wins_every_time() {
    let dsn = fresh_db("race_many").await;
    let setup = connect(&dsn).await;
    let a = connect(&dsn).await;
    let b = connect(&dsn).await;
    for round in 0..40 {
        let part = format!("data/race/{round}");
        let (b1, b2) = (format!("r{round}a"), format!("r{round}b"));
        prepare_builds(&setup, &[&b1, &b2], &part).await;
        let ea = partition_event(&b1, &part, "REQUESTED", "");
        let eb = partition_event(&b2, &part, "REQUESTED", "");
        let loser = race_with_one_winner(append(&a, &ea), append(&b, &eb), round).await;
        assert_eq!(sqlstate(&loser), "23514", "round {round}: {loser}");
    }
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.verify()").await, 0);
}

fn received(build: &str, event_id: &str, part: &str) -> String {
    format!(
        r#"{{"eventId":"{event_id}","buildRequestId":"{build}","buildRequest":{{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["{part}"]}}}}"#
    )
}

#[tokio::test]
async fn exactly_one_of_two_racing_creators_of_a_build_wins_every_time() {
    let dsn = fresh_db("race_create_many").await;
    let setup = connect(&dsn).await;
    let a = connect(&dsn).await;
    let b = connect(&dsn).await;
    for round in 0..40 {
        let build = format!("c{round}");
        let (ea, eb) =
            (received(&build, &format!("{build}a"), "data/ca"), received(&build, &format!("{build}b"), "data/cb"));
        let loser = race_with_one_winner(append(&a, &ea), append(&b, &eb), round).await;
        assert_eq!(sqlstate(&loser), "55000", "round {round}: {loser}");
    }
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.events").await, 40);
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// 8 connections build over a shared pool of partitions: requests race, the losers
/// delegate; nobody ever sees a deadlock, and projections equal the replayed log.
#[tokio::test]
async fn overlapping_appends_from_eight_connections_never_deadlock() {
    let dsn = fresh_db("no_deadlock").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(8);
    let mut tasks = Vec::new();
    for w in 0..8 {
        let dsn = dsn.clone();
        tasks.push(tokio::spawn(async move {
            let c = connect(&dsn).await;
            let mut n = 0;
            let mut stats = (0u32, 0u32);
            while std::time::Instant::now() < deadline {
                n += 1;
                let build = format!("w{w}-{n}");
                let parts: Vec<String> =
                    (0..3).map(|_| format!("shared/{}", rand::thread_rng().gen_range(0..12))).collect();
                let mut parts_ref: Vec<&str> = parts.iter().map(String::as_str).collect();
                parts_ref.sort();
                parts_ref.dedup();
                // One batch per build: RECEIVED, PLANNING, then request or delegate each partition.
                append(&c, &build_event(&build, "RECEIVED", &parts_ref)).await.unwrap();
                append(&c, &build_event(&build, "PLANNING", &[])).await.unwrap();
                for p in &parts_ref {
                    match append(&c, &partition_event(&build, p, "REQUESTED", "")).await {
                        Ok(_) => stats.0 += 1,
                        Err(e) => {
                            let code = sqlstate(&e);
                            assert_ne!(code, "40P01", "deadlock: {e}");
                            assert!(code == "23514" || code == "55000", "unexpected refusal {code}: {e}");
                            if code == "23514" {
                                let d =
                                    format!(r#"{{"buildRequestId":"{build}","delegation":{{"partitionRef":"{p}"}}}}"#);
                                if let Err(e) = append(&c, &d).await {
                                    assert_ne!(sqlstate(&e), "40P01", "deadlock: {e}");
                                }
                            }
                            stats.1 += 1;
                        }
                    }
                }
                // Fail the build so its partitions are released for the others.
                for p in &parts_ref {
                    let _ = append(&c, &partition_event(&build, p, "FAILED", "")).await;
                }
                append(&c, &build_event(&build, "FAILED", &[])).await.unwrap();
            }
            stats
        }));
    }
    let mut requested = 0;
    for t in tasks {
        requested += t.await.unwrap().0;
    }
    assert!(requested > 0);
    let c = connect(&dsn).await;
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// A lone BUILD_REQUEST_RECEIVED and a batch creating the same build race: the lone one's
/// insert of the build and the batch's placeholder row lock each other out, so the loser
/// waits and is refused as a second creation (55000), whichever path it took; never a 40001
/// or a duplicate key.
#[tokio::test]
async fn a_lone_creator_and_a_batch_creator_of_one_build_wait_for_each_other() {
    let dsn = fresh_db("race_create_paths").await;
    let setup = connect(&dsn).await;
    let a = connect(&dsn).await;
    let b = connect(&dsn).await;
    for round in 0..40 {
        let build = format!("m{round}");
        let lone = received(&build, &format!("{build}a"), "data/ma");
        let creating_batch = [received(&build, &format!("{build}b"), "data/mb"), build_event(&build, "PLANNING", &[])];
        let loser = race_with_one_winner(append(&a, &lone), append_batch(&b, &creating_batch), round).await;
        assert_eq!(sqlstate(&loser), "55000", "round {round}: {loser}");
    }
    // no placeholder row outlives its append
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.build_request_state WHERE status IS NULL").await, 0);
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// In REPEATABLE READ an append that would create a build, job run or partition created by
/// another transaction after its snapshot fails with 40001 (a retry then sees the entity).
#[tokio::test]
async fn a_creator_in_repeatable_read_fails_with_40001_when_the_entity_appeared_after_its_snapshot() {
    let dsn = fresh_db("race_create_rr").await;
    let a = connect(&dsn).await;
    let b = connect(&dsn).await;
    prepare_builds(&b, &["rr-owner", "rr-other"], "data/rr").await;
    // (what, appended before the snapshot, created after it, what the snapshot's append tries)
    let job = || job_event("rr-owner", "jr-rr", "SCHEDULED", "etl/rr", &["data/rr"]);
    let cases: [(&str, Vec<String>, Vec<String>, Vec<String>); 4] = [
        (
            "build request",
            vec![],
            vec![received("rr-new", "rr-new-b", "data/rr")],
            vec![received("rr-new", "rr-new-a", "data/rr"), build_event("rr-new", "PLANNING", &[])],
        ),
        (
            // One event: the lone creation path (no locks, ON CONFLICT DO NOTHING).
            "build request received alone",
            vec![],
            vec![received("rr-lone", "rr-lone-b", "data/rr")],
            vec![received("rr-lone", "rr-lone-a", "data/rr")],
        ),
        (
            "partition",
            vec![],
            vec![partition_event("rr-owner", "data/rr", "REQUESTED", "")],
            vec![partition_event("rr-other", "data/rr", "REQUESTED", "")],
        ),
        (
            "job run",
            vec![
                partition_event("rr-owner", "data/rr", "ANALYZED", ""),
                build_event("rr-owner", "ANALYSIS_COMPLETED", &[]),
            ],
            vec![job()],
            vec![job()],
        ),
    ];
    for (what, before, created_by_b, attempted_by_a) in cases {
        if !before.is_empty() {
            append_batch(&b, &before).await.expect(what);
        }
        a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.unwrap();
        count(&a, "SELECT count(*) FROM bel.events").await; // takes the snapshot
        append_batch(&b, &created_by_b).await.expect(what);
        let e = append_batch(&a, &attempted_by_a).await.expect_err(what);
        assert_eq!(sqlstate(&e), "40001", "{what}: {e}");
        a.batch_execute("ROLLBACK").await.unwrap();
    }
    assert_eq!(count(&b, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// Transactions that each append several new builds, one call at a time, in whatever order,
/// never wait for each other, so they never deadlock: appends lock the keys they create, not
/// anything shared by other keys. (A version that shared a lock between keys of one hash
/// bucket deadlocked here, and in the standby step's writers.)
#[tokio::test]
async fn transactions_creating_distinct_builds_call_by_call_never_deadlock() {
    let dsn = fresh_db("race_multi_call").await;
    let mut tasks = Vec::new();
    for w in 0..4 {
        let dsn = dsn.clone();
        tasks.push(tokio::spawn(async move {
            let mut c = connect(&dsn).await;
            for t in 0..120 {
                let tx = c.transaction().await.unwrap();
                for k in 0..4 {
                    let build = format!("mc-{w}-{t}-{k}");
                    let e = received(&build, &format!("{build}/r"), &format!("data/mc/{w}/{t}/{k}"));
                    tx.query_one("SELECT bel.bel_append($1::text)", &[&e])
                        .await
                        .unwrap_or_else(|e| panic!("{build}: {e}"));
                    let pause = rand::thread_rng().gen_range(0..2);
                    sleep_ms(pause).await;
                }
                tx.commit().await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let c = connect(&dsn).await;
    assert_eq!(count(&c, "SELECT count(*) FROM bel.build_request_state").await, 4 * 120 * 4);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}
