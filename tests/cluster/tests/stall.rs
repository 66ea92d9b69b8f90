//! The no-loss cursor, deterministically: an append in flight holds the horizon, a
//! rollback hole and an idle transaction do not, wait_for_append times out. The same and
//! more, step by step across sessions: tests/isolation/specs/follower.spec.
mod support;
use std::time::{Duration, Instant};
use support::*;

#[tokio::test]
async fn in_flight_append_holds_the_page_until_it_commits() {
    let dsn = fresh_db("stall_inflight").await;
    let a = connect(&dsn).await;
    let b = connect(&dsn).await;
    let follower = connect(&dsn).await;
    let first = append(&b, &build_event("b0", "RECEIVED", &["p0"])).await.unwrap();

    a.batch_execute("BEGIN").await.unwrap();
    let k = append(&a, &build_event("ba", "RECEIVED", &["pa"])).await.unwrap();
    let later = append(&b, &build_event("bb", "RECEIVED", &["pb"])).await.unwrap();
    assert!(later > k);

    let p = page(&follower, 0, "{}", 100).await.unwrap();
    let seen: Vec<i64> = p.events.iter().map(|(i, _)| *i).collect();
    assert_eq!(seen, vec![first], "only events below the in-flight append");
    assert_eq!(p.next_idx, k - 1);
    assert_eq!(p.in_flight_idx, k);
    assert!(!p.has_more);

    a.batch_execute("COMMIT").await.unwrap();
    let p = page(&follower, p.next_idx, "{}", 100).await.unwrap();
    let seen: Vec<i64> = p.events.iter().map(|(i, _)| *i).collect();
    assert_eq!(seen, vec![k, later]);
    assert_eq!(p.in_flight_idx, 0);
}

#[tokio::test]
async fn rollback_holes_and_idle_transactions_do_not_stall_followers() {
    let dsn = fresh_db("stall_holes").await;
    let w = connect(&dsn).await;
    let idle = connect(&dsn).await;
    let follower = connect(&dsn).await;
    // An idle open transaction that never appends (it even reads the log).
    idle.batch_execute("BEGIN; SELECT count(*) FROM bel.events;").await.unwrap();
    // A rolled-back append leaves a hole.
    w.batch_execute("BEGIN").await.unwrap();
    let hole = append(&w, &build_event("gone", "RECEIVED", &["p"])).await.unwrap();
    w.batch_execute("ROLLBACK").await.unwrap();
    // A rejected append also consumes nothing visible.
    let _ = append(&w, &build_event("gone", "COMPLETED", &[])).await.expect_err("unknown build");
    let after = append(&w, &build_event("kept", "RECEIVED", &["p"])).await.unwrap();
    assert!(after > hole);

    let p = page(&follower, 0, "{}", 100).await.unwrap();
    let seen: Vec<i64> = p.events.iter().map(|(i, _)| *i).collect();
    assert_eq!(seen, vec![after], "the hole is passed, the later event is returned");
    assert_eq!(p.next_idx, after);
    assert_eq!(p.in_flight_idx, 0);
    idle.batch_execute("COMMIT").await.unwrap();
}

/// That it wakes when the append ends is in tests/isolation/specs/follower.spec.
#[tokio::test]
async fn wait_for_append_times_out_while_the_append_is_in_flight() {
    let dsn = fresh_db("stall_wait").await;
    let a = connect(&dsn).await;
    let waiter = connect(&dsn).await;
    a.batch_execute("BEGIN").await.unwrap();
    let k = append(&a, &build_event("ba", "RECEIVED", &["pa"])).await.unwrap();

    let started = Instant::now();
    assert!(!wait_for_append(&waiter, k, 300).await, "still in flight: false after the timeout");
    assert!(started.elapsed() >= Duration::from_millis(290), "returned before its timeout");
    a.batch_execute("COMMIT").await.unwrap();
}

#[tokio::test]
async fn followers_in_repeatable_read_are_refused() {
    let dsn = fresh_db("stall_rr").await;
    let c = connect(&dsn).await;
    c.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.unwrap();
    let e = page(&c, 0, "{}", 10).await.expect_err("a fixed snapshot could skip late commits");
    assert_eq!(sqlstate(&e), "25000");
}
