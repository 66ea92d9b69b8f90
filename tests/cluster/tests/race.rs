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

/// Appends two events at once on two connections, each after a random 0-2 ms delay;
/// asserts that exactly one succeeds and returns the other's error.
async fn race_with_one_winner(
    (a, ea): (&tokio_postgres::Client, &str),
    (b, eb): (&tokio_postgres::Client, &str),
    round: usize,
) -> tokio_postgres::Error {
    let (delay_a, delay_b) = (rand::thread_rng().gen_range(0..3), rand::thread_rng().gen_range(0..3));
    let (ra, rb) = tokio::join!(
        async {
            sleep_ms(delay_a).await;
            append(a, ea).await
        },
        async {
            sleep_ms(delay_b).await;
            append(b, eb).await
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
        let loser = race_with_one_winner((&a, &ea), (&b, &eb), round).await;
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
        let loser = race_with_one_winner((&a, &ea), (&b, &eb), round).await;
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
