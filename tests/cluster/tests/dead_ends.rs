//! No dead ends under concurrency: a build's ending event and appends adding work to that
//! build, racing on real connections, serialize on the build's row (one of them wins, the
//! other is refused for a reason the rules give), never deadlock, and never leave a
//! partition in progress under an ended build (bel.verify() reports any: it stays empty).
//! REPEATABLE READ: an end whose snapshot predates new work fails with 40001.
mod support;
use rand::Rng;
use support::*;
use tokio_postgres::Client;

/// The SQL call a refusal's HINT shows (`select bel.bel_append_batch('[...]');`).
fn hinted_call(e: &tokio_postgres::Error) -> String {
    let hint = hint(e);
    let at = hint.find("select bel.bel_append_batch(").unwrap_or_else(|| panic!("no batch in the hint: {hint}"));
    hint[at..].to_owned()
}

/// The events a refusal inside a batch says to insert before the refused event.
fn events_to_insert(e: &tokio_postgres::Error) -> Vec<String> {
    let hint = hint(e);
    let at = hint.find("\n[").unwrap_or_else(|| panic!("no events in the hint: {hint}"));
    let events: serde_json::Value = serde_json::from_str(&hint[at + 1..]).expect("a JSON array");
    events.as_array().expect("array").iter().map(|e| e.to_string()).collect()
}

async fn append_all(c: &Client, events: &[String]) {
    for e in events {
        append(c, e).await.unwrap_or_else(|err| panic!("{e}: {err}"));
    }
}

/// Build `b` EXECUTING, owning `<b>/p` ANALYZED, with job run `<b>/j1` SCHEDULED for it.
fn executing_build(b: &str) -> Vec<String> {
    let p = format!("{b}/p");
    vec![
        build_event(b, "RECEIVED", &[&p]),
        build_event(b, "PLANNING", &[]),
        partition_event(b, &p, "REQUESTED", ""),
        partition_event(b, &p, "ANALYZED", ""),
        build_event(b, "ANALYSIS_COMPLETED", &[]),
        job_event(b, &format!("{b}/j1"), "SCHEDULED", "etl", &[&p]),
        build_event(b, "EXECUTING", &[]),
    ]
}

/// What the ending session knows of `b`'s work: it fails `<b>/p`, cancels `<b>/j1`, then
/// fails the build.
fn end_known_work(b: &str) -> Vec<String> {
    vec![
        partition_event(b, &format!("{b}/p"), "FAILED", ""),
        format!(r#"{{"buildRequestId":"{b}","jobRun":{{"jobRunId":"{b}/j1","status":"JOB_RUN_CANCELLED"}}}}"#),
        build_event(b, "FAILED", &[]),
    ]
}

/// Runs `adding` (new work for the build) and the end of the build (a batch from a view
/// without that work) at once on two connections, each after a random 0-2 ms delay.
/// Exactly one wins: if the new work committed first, the end is refused because of it
/// (23514; the batch with the events its HINT lists inserted then ends the build);
/// otherwise the new work is refused because the build ended.
async fn race_new_work_against_the_end(a: &Client, b: &Client, build: &str, adding: &[String], round: usize) {
    let (da, db) = (rand::thread_rng().gen_range(0..3), rand::thread_rng().gen_range(0..3));
    let (added, ended) = tokio::join!(
        async {
            sleep_ms(da).await;
            append_batch(a, adding).await
        },
        async {
            sleep_ms(db).await;
            append_batch(b, &end_known_work(build)).await
        }
    );
    match (added, ended) {
        (Ok(_), Err(e)) => {
            assert_eq!(sqlstate(&e), "23514", "round {round}: {e}");
            let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
            assert!(message.starts_with("event 2 of the batch: build request"), "round {round}: {message}");
            assert!(message.contains("cannot become FAILED while it"), "round {round}: {message}");
            let mut retry = end_known_work(build);
            let end = retry.pop().expect("the build's end");
            retry.extend(events_to_insert(&e));
            retry.push(end);
            append_batch(b, &retry).await.unwrap_or_else(|e| panic!("round {round}: the hinted batch fails: {e}"));
        }
        (Err(e), Ok(_)) => {
            assert_eq!(sqlstate(&e), "23514", "round {round}: {e}");
            let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
            assert!(message.contains("is FAILED (terminal)"), "round {round}: {message}");
        }
        (added, ended) => panic!("round {round}: exactly one wins: {added:?} / {ended:?}"),
    }
    let status: String = a
        .query_one("SELECT status FROM bel.build_request_state WHERE build_request_id = $1", &[&build])
        .await
        .unwrap()
        .get(0);
    assert_eq!(status, "FAILED", "round {round}");
}

#[tokio::test]
async fn a_new_partition_request_and_the_build_failing_serialize() {
    let dsn = fresh_db("dead_ends_request").await;
    let (setup, a, b) = (connect(&dsn).await, connect(&dsn).await, connect(&dsn).await);
    for round in 0..30 {
        let build = format!("rq{round}");
        append_all(&setup, &executing_build(&build)).await;
        let adding = [partition_event(&build, &format!("{build}/extra"), "REQUESTED", "")];
        race_new_work_against_the_end(&a, &b, &build, &adding, round).await;
    }
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.verify()").await, 0);
}

#[tokio::test]
async fn a_partition_entering_building_and_the_build_failing_serialize() {
    let dsn = fresh_db("dead_ends_building").await;
    let (setup, a, b) = (connect(&dsn).await, connect(&dsn).await, connect(&dsn).await);
    for round in 0..30 {
        let build = format!("bd{round}");
        append_all(&setup, &executing_build(&build)).await;
        // BUILDING under a job run scheduled in the same call: work the ending session does
        // not know about.
        let (p, j2) = (format!("{build}/p"), format!("{build}/j2"));
        let adding = [job_event(&build, &j2, "SCHEDULED", "etl", &[&p]), partition_event(&build, &p, "BUILDING", &j2)];
        race_new_work_against_the_end(&a, &b, &build, &adding, round).await;
    }
    assert_eq!(count(&setup, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// Blocks until the backend `pid` waits for a lock (bounded: 10 s).
async fn until_waiting_for_a_lock(observer: &Client, pid: i32) {
    for _ in 0..1000 {
        let waiting: i64 = observer
            .query_one("SELECT count(*) FROM pg_locks WHERE pid = $1 AND NOT granted", &[&pid])
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        sleep_ms(10).await;
    }
    panic!("backend {pid} never waited for a lock");
}

/// The same two orders made deterministic: the second append waits on the build's row
/// (seen in pg_locks) until the first commits, then is judged on what it committed.
#[tokio::test]
async fn the_second_of_the_two_waits_on_the_build_row_and_sees_the_first() {
    let dsn = fresh_db("dead_ends_wait").await;
    let (first, observer) = (connect(&dsn).await, connect(&dsn).await);
    let second = std::sync::Arc::new(connect(&dsn).await);
    let second_pid: i32 = second.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0);
    for (build, work_first) in [("wf", true), ("ef", false)] {
        append_all(&observer, &executing_build(build)).await;
        let work = partition_event(build, &format!("{build}/extra"), "REQUESTED", "");
        let end = build_event(build, "FAILED", &[]);
        let (first_event, second_event) = if work_first { (&work, &end) } else { (&end, &work) };
        if !work_first {
            // The build's own work must be ended for the end to go through alone.
            let own = end_known_work(build);
            append_batch(&observer, &own[..2]).await.unwrap();
        }
        first.batch_execute("BEGIN").await.unwrap();
        append(&first, first_event).await.unwrap();
        let waiting = {
            let (second, event) = (second.clone(), second_event.clone());
            tokio::spawn(async move { append(&second, &event).await })
        };
        until_waiting_for_a_lock(&observer, second_pid).await;
        first.batch_execute("COMMIT").await.unwrap();
        let e = waiting.await.unwrap().expect_err("the second is judged on the first's commit");
        assert_eq!(sqlstate(&e), "23514", "{e}");
        let message = e.as_db_error().map(|d| d.message().to_owned()).unwrap_or_default();
        if work_first {
            assert!(message.contains("cannot become FAILED while it owns 2 partitions in progress"), "{message}");
            assert!(hinted_call(&e).contains(&format!("{build}/extra")), "{e}");
        } else {
            assert!(message.contains("is FAILED (terminal)"), "{message}");
        }
    }
    assert_eq!(count(&observer, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// Builds over a shared pool of partitions, from six connections: requests race (the
/// losers delegate), and every build ends FAILED through the batch its refusal hints at,
/// while others request the partitions it frees. No deadlock, nothing stranded.
#[tokio::test]
async fn builds_ending_through_their_hint_among_concurrent_requests_never_deadlock() {
    let dsn = fresh_db("dead_ends_shared").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(6);
    let mut tasks = Vec::new();
    for w in 0..6 {
        let dsn = dsn.clone();
        tasks.push(tokio::spawn(async move {
            let c = connect(&dsn).await;
            let (mut ended_by_hint, mut n) = (0u32, 0);
            while std::time::Instant::now() < deadline {
                n += 1;
                let build = format!("w{w}-{n}");
                let mut parts: Vec<String> =
                    (0..3).map(|_| format!("shared/{}", rand::thread_rng().gen_range(0..10))).collect();
                parts.sort();
                parts.dedup();
                let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
                append(&c, &build_event(&build, "RECEIVED", &refs)).await.unwrap();
                append(&c, &build_event(&build, "PLANNING", &[])).await.unwrap();
                for p in &refs {
                    if let Err(e) = append(&c, &partition_event(&build, p, "REQUESTED", "")).await {
                        assert_ne!(sqlstate(&e), "40P01", "deadlock: {e}");
                        let delegation =
                            format!(r#"{{"buildRequestId":"{build}","delegation":{{"partitionRef":"{p}"}}}}"#);
                        if let Err(e) = append(&c, &delegation).await {
                            assert_ne!(sqlstate(&e), "40P01", "deadlock: {e}");
                        }
                    }
                }
                match append(&c, &build_event(&build, "FAILED", &[])).await {
                    Ok(_) => {}
                    Err(e) => {
                        assert_eq!(sqlstate(&e), "23514", "{e}");
                        c.batch_execute(&hinted_call(&e)).await.unwrap_or_else(|e| panic!("the hint fails: {e}"));
                        ended_by_hint += 1;
                    }
                }
            }
            ended_by_hint
        }));
    }
    let mut ended_by_hint = 0;
    for t in tasks {
        ended_by_hint += t.await.unwrap();
    }
    assert!(ended_by_hint > 0, "no build had work in progress to end");
    let c = connect(&dsn).await;
    assert_eq!(count(&c, "SELECT count(*) FROM bel.build_request_state WHERE status <> 'FAILED'").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// In REPEATABLE READ the snapshot is taken at the transaction's first query; work added
/// to the build by another session after it is invisible to the snapshot, but the end must
/// not be accepted without it: it fails with 40001 (a new row) or PostgreSQL's own 40001
/// (a row updated after the snapshot).
#[tokio::test]
async fn an_end_in_repeatable_read_never_misses_work_added_after_its_snapshot() {
    let dsn = fresh_db("dead_ends_rr").await;
    let (a, b) = (connect(&dsn).await, connect(&dsn).await);
    append_all(&a, &[build_event("rr", "RECEIVED", &["rr/p"]), build_event("rr", "PLANNING", &[])]).await;
    append_all(&a, &[partition_event("rr", "rr/old", "REQUESTED", ""), partition_event("rr", "rr/old", "FAILED", "")])
        .await;
    for (what, part) in [("a new partition row", "rr/p"), ("an updated partition row", "rr/old")] {
        a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.unwrap();
        count(&a, "SELECT count(*) FROM bel.partition_state").await; // the snapshot
        append(&b, &partition_event("rr", part, "REQUESTED", "")).await.unwrap();
        let e = append(&a, &build_event("rr", "FAILED", &[])).await.expect_err(what);
        assert_eq!(sqlstate(&e), "40001", "{what}: {e}");
        a.batch_execute("ROLLBACK").await.unwrap();
        // Retried, the end sees the work and is refused for it.
        let e = append(&a, &build_event("rr", "FAILED", &[])).await.expect_err(what);
        assert_eq!(sqlstate(&e), "23514", "{what}: {e}");
        assert!(hinted_call(&e).contains(part), "{what}: {e}");
        append(&a, &partition_event("rr", part, "FAILED", "")).await.unwrap();
    }
    // Nothing new since the snapshot: the end in REPEATABLE READ goes through.
    a.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ").await.unwrap();
    count(&a, "SELECT count(*) FROM bel.partition_state").await;
    append(&a, &build_event("rr", "FAILED", &[])).await.unwrap();
    a.batch_execute("COMMIT").await.unwrap();
    assert_eq!(count(&a, "SELECT count(*) FROM bel.verify()").await, 0);
}
