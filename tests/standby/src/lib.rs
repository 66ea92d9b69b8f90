//! Helpers of the standby tests: a fresh database on the primary that the standby has
//! replayed, connections to both, writers with rollbacks, followers that collect what they
//! are given.
use std::time::{Duration, Instant};

use bel_client::{sql, BuildEvent, Subscription};
use futures_util::StreamExt;
use rand::{Rng, SeedableRng};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, NoTls};

/// A variable scripts/test.sh sets; these tests never run without it.
fn required_env(var: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.trim().is_empty())
        .unwrap_or_else(|| panic!("{var} is not set: run these tests through `bash scripts/test.sh standby`"))
}

/// A database of the pair, on the primary and (replayed) on its hot standby.
pub struct Pair {
    pub primary: String,
    pub standby: String,
}

pub async fn connect(dsn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A new database `bel_sb_<name>` with the extension, created on the primary; returns once
/// the standby has replayed it.
pub async fn fresh_pair(name: &str) -> Pair {
    let (primary_base, standby_base) = (required_env("BEL_TEST_PRIMARY_DSN"), required_env("BEL_TEST_STANDBY_DSN"));
    let db = format!("bel_sb_{name}");
    let admin = connect(&primary_base).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create db");
    // libpq key=value syntax: a later key overrides an earlier one.
    let pair = Pair { primary: format!("{primary_base} dbname={db}"), standby: format!("{standby_base} dbname={db}") };
    let primary = connect(&pair.primary).await;
    primary.batch_execute("CREATE EXTENSION bel").await.expect("create extension");
    wait_replayed(&primary, &connect(&standby_base).await).await;
    pair
}

/// Waits until the standby has replayed everything the primary wrote so far.
pub async fn wait_replayed(primary: &Client, standby: &Client) {
    let written: String = primary.query_one("SELECT pg_current_wal_insert_lsn()::text", &[]).await.unwrap().get(0);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let replayed: bool =
            standby.query_one("SELECT pg_last_wal_replay_lsn() >= $1::text::pg_lsn", &[&written]).await.unwrap().get(0);
        if replayed {
            return;
        }
        assert!(Instant::now() < deadline, "the standby did not replay up to {written} within 60 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SQLSTATE of a failed call, or "" when it was not a server error.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

/// A build request received for one partition.
pub fn received(build: &str, partition: &str) -> BuildEvent {
    let json = serde_json::json!({
        "buildRequestId": build,
        "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [partition]}
    });
    bel_core::event::from_json(&json.to_string()).expect("test event is valid JSON")
}

/// The partition writer `w` appends its `n`th event for.
pub fn partition_of(w: usize, n: u64) -> String {
    format!("data/sb/w{w}/{n}")
}

/// `writers` connections appending on the primary for `duration`: transactions of 1 to 3
/// events that pause inside (so appends are in flight while others commit) and roll back
/// one time in ten, leaving holes.
pub async fn run_writers(dsn: &str, writers: usize, duration: Duration, run: &str) {
    let deadline = Instant::now() + duration;
    let mut tasks = Vec::new();
    for w in 0..writers {
        let (dsn, run) = (dsn.to_owned(), run.to_owned());
        tasks.push(tokio::spawn(async move {
            let mut client = connect(&dsn).await;
            let mut rng = rand::rngs::StdRng::seed_from_u64(w as u64);
            let mut n = 0u64;
            while Instant::now() < deadline {
                let tx = client.transaction().await.unwrap();
                for _ in 0..rng.gen_range(1..=3) {
                    n += 1;
                    sql::append(&tx, &received(&format!("{run}-w{w}-{n}"), &partition_of(w, n))).await.unwrap();
                }
                tokio::time::sleep(Duration::from_micros(rng.gen_range(0..3000))).await;
                if rng.gen_bool(0.1) {
                    tx.rollback().await.unwrap();
                } else {
                    tx.commit().await.unwrap();
                }
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

/// The idx of every committed event whose partition matches `like` (SQL LIKE), in order.
pub async fn committed(primary: &Client, like: &str) -> Vec<i64> {
    primary
        .query("SELECT DISTINCT idx FROM bel.event_partitions WHERE partition_ref LIKE $1 ORDER BY idx", &[&like])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Runs a subscription in a task that sends the idx of each event it yields; the task ends
/// on the first error (which it panics with) or when the receiver is dropped.
pub fn deliveries(mut subscription: Subscription) -> (mpsc::UnboundedReceiver<i64>, JoinHandle<()>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let task = tokio::spawn(async move {
        while let Some(event) = subscription.next().await {
            let event: BuildEvent = event.expect("the subscription yields events, not errors");
            if tx.send(event.idx).is_err() {
                return;
            }
        }
    });
    (rx, task)
}

/// Receives until `last` was delivered (or 60 s passed: then returns what came).
pub async fn receive_until(rx: &mut mpsc::UnboundedReceiver<i64>, last: i64) -> Vec<i64> {
    let mut got = Vec::new();
    if last == 0 {
        return got;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while let Ok(Some(idx)) = tokio::time::timeout_at(deadline, rx.recv()).await {
        got.push(idx);
        if idx >= last {
            break;
        }
    }
    got
}
