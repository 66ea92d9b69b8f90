//! Long polls: they answer soon after a matching commit (woken by NOTIFY, or by the end of
//! an in-flight append that sent none), and time out when nothing matching arrives.
use std::time::{Duration, Instant};

use bel_http_tests::*;

/// The bound the issue sets: a long poll answers within 100 ms of a matching commit.
const WAKE_BOUND: Duration = Duration::from_millis(100);

async fn horizon(http: &Http) -> i64 {
    http.get("/v1/events?limit=1&partition_ref=nothing").await.page().next_idx
}

async fn until_waiting(http: &Http, sample: &str, at_least: f64) {
    until(sample, Duration::from_secs(10), || async { http.metric(sample).await >= at_least }).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_poll_answers_within_100ms_of_a_matching_commit() {
    let Some(base) = base_dsn("long poll wake") else { return };
    let dsn = fresh_db(&base, "long_poll_wake").await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();
    let writer = connect(&dsn).await;
    let mut latencies = Vec::new();
    for round in 0..10 {
        let since = horizon(&http).await;
        let partition = format!("data/wake/{round}");
        let poll = {
            let http = http.clone();
            let path = format!("/v1/events?since_idx={since}&partition_ref={partition}&wait_ms=10000");
            tokio::spawn(async move { http.get(&path).await })
        };
        until_waiting(&http, "bel_long_polls_waiting", 1.0).await;
        // Non-matching commits wake the poll, which reads again and keeps waiting.
        append(&writer, &build_received(&format!("other-{round}"), &["data/other"])).await;
        let idx = append(&writer, &build_received(&format!("wake-{round}"), &[&partition])).await;
        let committed = Instant::now();
        let answer = poll.await.expect("poll");
        assert_eq!(answer.page().idxs(), vec![idx], "round {round}");
        assert_eq!(answer.header("cache-control"), Some("no-store"));
        latencies.push(answer.arrived.saturating_duration_since(committed));
    }
    latencies.sort();
    eprintln!(
        "commit -> long poll answer: p50 {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    assert!(latencies.iter().all(|l| *l < WAKE_BOUND), "{latencies:?}");
    server.stop().await;
}

/// A commit may send no NOTIFY: only one transaction committing at a time sends one, and a
/// PREPAREd transaction never does (COMMIT PREPARED is the deterministic way to get such a
/// commit). The poll must still wake, through the in-flight waiter, within the same bound.
/// Needs the http step's own cluster (max_prepared_transactions > 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_without_notify_still_wakes_the_poll_through_the_in_flight_waiter() {
    let Some(base) = env_or_skip("in-flight wake", "BEL_TEST_HTTP_DSN") else { return };
    let db = "bel_http_in_flight";
    let gid = "bel_http_silent_append";
    // A prepared transaction left by a failed run would keep the database from being dropped.
    let admin = connect(&base).await;
    if admin.query_opt("select 1 from pg_prepared_xacts where gid = $1", &[&gid]).await.unwrap().is_some() {
        connect(&format!("{base} dbname={db}"))
            .await
            .batch_execute(&format!("ROLLBACK PREPARED '{gid}'"))
            .await
            .unwrap();
    }
    let dsn = fresh_db(&base, "in_flight").await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();
    until_waiting(&http, "bel_listen_connected", 1.0).await;
    let since = horizon(&http).await;

    let writer = connect(&dsn).await;
    writer.batch_execute("BEGIN").await.unwrap();
    let idx = append(&writer, &build_received("silent", &["data/in-flight/1"])).await;
    writer.batch_execute(&format!("PREPARE TRANSACTION '{gid}'")).await.unwrap();
    let poll = {
        let http = http.clone();
        let path = format!("/v1/events?since_idx={since}&partition_pattern=data/in-flight/*&wait_ms=10000");
        tokio::spawn(async move { http.get(&path).await })
    };
    // The poll's page stopped below the prepared append, which the poll now waits out.
    until_waiting(&http, "bel_in_flight_waiters", 1.0).await;
    let notifications = http.metric("bel_notifications_received_total").await;
    let waits = http.metric("bel_in_flight_waits_total").await;
    writer.batch_execute(&format!("COMMIT PREPARED '{gid}'")).await.unwrap();
    let committed = Instant::now();
    let answer = poll.await.unwrap();
    let latency = answer.arrived.saturating_duration_since(committed);
    assert_eq!(answer.page().idxs(), vec![idx]);
    eprintln!("commit without NOTIFY -> long poll answer: {latency:?}");
    assert!(latency < WAKE_BOUND, "{latency:?}");
    assert_eq!(http.metric("bel_notifications_received_total").await, notifications, "the commit sent no NOTIFY");
    assert!(http.metric("bel_in_flight_waits_total").await > waits);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_poll_times_out_with_an_empty_page_and_the_extensions_next_idx() {
    let Some(base) = base_dsn("long poll timeout") else { return };
    let dsn = fresh_db(&base, "long_poll_timeout").await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();
    let writer = connect(&dsn).await;
    append(&writer, &build_received("before", &["data/before"])).await;

    let quiet = "/v1/events?since_idx=0&partition_ref=data/quiet";
    let immediate = http.get(quiet).await.page();
    let started = Instant::now();
    let answer = http.get(&format!("{quiet}&wait_ms=300")).await;
    let waited = started.elapsed();
    let page = answer.page();
    assert!(waited >= Duration::from_millis(300), "answered after {waited:?}");
    assert!(waited < Duration::from_millis(1300), "answered after {waited:?}");
    assert!(page.events.is_empty() && !page.has_more);
    assert_eq!(page.next_idx, immediate.next_idx);
    assert_eq!(answer.header("cache-control"), Some("no-store"));

    // Commits that do not match wake the poll but do not end it; the page it answers with
    // is the extension's, past those commits, exactly what a plain read says.
    let poll = {
        let http = http.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            (http.get(&format!("{quiet}&wait_ms=500")).await, started.elapsed())
        })
    };
    until_waiting(&http, "bel_long_polls_waiting", 1.0).await;
    for n in 0..3 {
        append(&writer, &build_received(&format!("unrelated-{n}"), &["data/unrelated"])).await;
    }
    let (answer, waited) = poll.await.unwrap();
    let page = answer.page();
    assert!(waited >= Duration::from_millis(500), "answered after {waited:?}");
    assert!(page.events.is_empty());
    assert_eq!(page.next_idx, http.get(quiet).await.page().next_idx);
    assert!(page.next_idx > immediate.next_idx, "the cursor moves past non-matching events");

    // wait_ms=0 answers at once.
    let started = Instant::now();
    http.get(&format!("{quiet}&wait_ms=0")).await.page();
    assert!(started.elapsed() < Duration::from_millis(250));
    server.stop().await;
}
