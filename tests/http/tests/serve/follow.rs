//! HTTP followers see every committed event exactly once, in order: under concurrent
//! writers that roll back, and across a restart of the server.
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bel_http_tests::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// What a writer committed: (idx, partition ref).
type Committed = Arc<Mutex<Vec<(i64, String)>>>;

/// `transactions` transactions of 1..=3 build requests each, a quarter rolled back, some
/// held open a little to overlap with other writers' commits.
async fn writer(dsn: String, writer: u64, transactions: usize, committed: Committed) {
    let mut client = connect(&dsn).await;
    let mut rng = StdRng::seed_from_u64(writer);
    for t in 0..transactions {
        let tx = client.transaction().await.expect("begin");
        let mut appended = Vec::new();
        for e in 0..rng.gen_range(1..=3) {
            let partition = format!("data/{}/w{writer}-{t}-{e}", if rng.gen_bool(0.5) { "even" } else { "odd" });
            let idx = append(&tx, &build_received(&format!("b-w{writer}-{t}-{e}"), &[&partition])).await;
            appended.push((idx, partition));
            if rng.gen_bool(0.3) {
                tokio::time::sleep(Duration::from_millis(rng.gen_range(0..4))).await;
            }
        }
        if rng.gen_bool(0.25) {
            tx.rollback().await.expect("rollback");
        } else {
            tx.commit().await.expect("commit");
            committed.lock().unwrap().extend(appended);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn http_followers_see_every_commit_once_in_order_under_8_writers_with_rollbacks() {
    let Some(base) = base_dsn("follow under writers") else { return };
    let dsn = fresh_db(&base, "follow_writers").await;
    let server = TestServer::start(&dsn).await;
    let committed: Committed = Arc::default();
    let writers: Vec<_> = (0..8).map(|w| tokio::spawn(writer(dsn.clone(), w, 40, committed.clone()))).collect();

    let mut everything = Follower::new(server.http(), "");
    let mut even = Follower::new(server.http(), "&partition_pattern=data/even/*");
    let writers_done = async {
        for w in writers {
            w.await.expect("writer");
        }
    };
    // Follow while the writers run, then until everything committed was seen.
    let following = async {
        for _ in 0..20 {
            everything.step().await;
            even.step().await;
        }
    };
    tokio::join!(writers_done, following);
    let committed = committed.lock().unwrap().clone();
    let all: Vec<i64> = committed.iter().map(|(idx, _)| *idx).collect();
    let evens: Vec<i64> = committed.iter().filter(|(_, p)| p.starts_with("data/even/")).map(|(idx, _)| *idx).collect();
    assert!(all.len() > 300, "the writers committed {} events", all.len());
    everything.until(Duration::from_secs(60), |seen| seen.len() >= all.len()).await;
    even.until(Duration::from_secs(60), |seen| seen.len() >= evens.len()).await;
    // Nothing more arrives (no event twice, none that was rolled back).
    everything.wait_ms = 300;
    even.wait_ms = 300;
    everything.step().await;
    even.step().await;
    assert_exactly("unfiltered follower", &everything.seen, &all);
    assert_exactly("data/even/* follower", &even.seen, &evens);
    assert_eq!(everything.failures + even.failures, 0);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_resumes_across_a_server_restart_with_nothing_lost() {
    let Some(base) = base_dsn("follow across restart") else { return };
    let dsn = fresh_db(&base, "follow_restart").await;
    let server = TestServer::start(&dsn).await;
    let addr = server.addr;
    let committed: Committed = Arc::default();
    let writing = tokio::spawn(writer(dsn.clone(), 99, 150, committed.clone()));

    let mut follower = Follower::new(server.http(), "");
    follower.limit = 10;
    follower.until(Duration::from_secs(30), |seen| seen.len() >= 40).await;
    assert!(!writing.is_finished(), "the server restarts while the log is still growing");
    server.stop().await;
    // The follower keeps asking while nothing listens on the address.
    for _ in 0..3 {
        follower.step().await;
    }
    assert!(follower.failures >= 3, "requests to the stopped server fail");
    let server = TestServer::start_at(&dsn, addr, 8).await;

    writing.await.expect("writer");
    let all: Vec<i64> = committed.lock().unwrap().iter().map(|(idx, _)| *idx).collect();
    follower.until(Duration::from_secs(60), |seen| seen.len() >= all.len()).await;
    follower.wait_ms = 300;
    follower.step().await;
    assert_exactly("follower across a restart", &follower.seen, &all);
    server.stop().await;
}
