//! The write path through real connections: the spec's example call, refusals with their
//! SQLSTATE and nothing written, binary protobuf, batches, idempotent retries.
mod support;
use support::*;

const SPEC_EXAMPLE: &str = r#"select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/users/2026-11-01"]}}')"#;

#[tokio::test]
async fn the_spec_example_returns_an_idx_and_a_bad_next_state_names_the_allowed_ones() {
    let dsn = fresh_db("spec_example").await;
    let c = connect(&dsn).await;
    let idx: i64 = c.query_one(SPEC_EXAMPLE, &[]).await.unwrap().get(0);
    assert!(idx > 0);
    let e = append(&c, &build_event("b1", "EXECUTING", &[])).await.expect_err("RECEIVED -> EXECUTING");
    assert_eq!(sqlstate(&e), "55000");
    let db = e.as_db_error().unwrap();
    assert_eq!(db.message(), "build request \"b1\" is RECEIVED; allowed next states: PLANNING, FAILED, CANCELLED");
    assert!(db.detail().unwrap_or_default().contains("RECEIVED"));
    assert!(db.hint().is_some());
    // The connection is healthy after the error.
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 1);
}

/// Every class of bad input: its SQLSTATE, nothing written, the backend alive.
#[tokio::test]
async fn bad_input_is_refused_with_its_sqlstate_and_writes_nothing() {
    let dsn = fresh_db("bad_input").await;
    let c = connect(&dsn).await;
    append(&c, &build_event("b1", "RECEIVED", &["p"])).await.unwrap();
    let huge = format!(
        r#"{{"buildRequestId":"b2","buildRequest":{{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p2"],"message":"{}"}}}}"#,
        "x".repeat(1 << 20)
    );
    let long_id = format!(
        r#"{{"buildRequestId":"{}","buildRequest":{{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}}}"#,
        "b".repeat(2000)
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("not json", "{not json".into(), "22P02"),
        ("a JSON array", "[]".into(), "22P02"),
        ("unknown field", r#"{"buildRequestId":"b1","bogus":1}"#.into(), "22P02"),
        ("unknown event kind", r#"{"buildRequestId":"b1","rebuild":{}}"#.into(), "22P02"),
        (
            "unknown enum name",
            r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_SHINY"}}"#.into(),
            "22P02",
        ),
        (
            "UNSPECIFIED enum",
            r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_STATUS_UNSPECIFIED"}}"#.into(),
            "22023",
        ),
        ("missing status", r#"{"buildRequestId":"b1","buildRequest":{}}"#.into(), "22023"),
        ("no payload", r#"{"buildRequestId":"b1"}"#.into(), "22023"),
        ("missing build id", r#"{"buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}"#.into(), "22023"),
        (
            "missing partition ref",
            r#"{"buildRequestId":"b1","partition":{"status":"PARTITION_REQUESTED"}}"#.into(),
            "22023",
        ),
        ("missing job run id", r#"{"buildRequestId":"b1","jobRun":{"status":"JOB_RUN_SCHEDULED"}}"#.into(), "22023"),
        (
            "idx set",
            r#"{"idx":"7","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}"#.into(),
            "22023",
        ),
        (
            "no requested partitions",
            r#"{"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_RECEIVED"}}"#.into(),
            "22023",
        ),
        ("oversized payload", huge, "54000"),
        ("oversized id", long_id, "54000"),
        ("unknown build", build_event("nope", "PLANNING", &[]), "55000"),
        ("event of an unknown build", partition_event("nope", "p", "REQUESTED", ""), "23503"),
    ];
    for (what, json, expected) in cases {
        let e = append(&c, &json).await.expect_err(what);
        assert_eq!(sqlstate(&e), expected, "{what}: {e}");
        assert!(!e.as_db_error().unwrap().message().is_empty());
        assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 1, "{what} wrote something");
    }
    // Binary protobuf: garbage bytes.
    let e = c.query_one("SELECT bel.bel_append($1::bytea)", &[&vec![0xffu8, 0xff, 0xff]]).await.expect_err("garbage");
    assert_eq!(sqlstate(&e), "22P02");
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 1);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}

#[tokio::test]
async fn binary_protobuf_append_is_the_same_event() {
    let dsn = fresh_db("protobuf").await;
    let c = connect(&dsn).await;
    let event = bel_core::event::from_json(&build_event("b1", "RECEIVED", &["data/x"])).unwrap();
    let bytes = prost::Message::encode_to_vec(&event);
    let idx: i64 = c.query_one("SELECT bel.bel_append($1::bytea)", &[&bytes]).await.unwrap().get(0);
    let stored: serde_json::Value =
        c.query_one("SELECT payload FROM bel.events WHERE idx = $1", &[&idx]).await.unwrap().get(0);
    assert_eq!(stored["buildRequest"]["requestedPartitions"][0], "data/x");
    assert_eq!(stored["buildRequest"]["status"], "BUILD_REQUEST_RECEIVED");
    assert!(stored["timestamp"].is_string(), "the log sets the timestamp");
}

#[tokio::test]
async fn a_batch_is_all_or_nothing() {
    let dsn = fresh_db("batch").await;
    let c = connect(&dsn).await;
    let good: Vec<serde_json::Value> =
        full_build("b1", "data/p", "j1", "etl").iter().map(|e| serde_json::from_str(e).unwrap()).collect();
    let mut bad = good.clone();
    bad.insert(5, serde_json::from_str(&build_event("b1", "COMPLETED", &[])).unwrap());
    let e = c
        .query("SELECT bel.bel_append_batch($1::text::jsonb)", &[&serde_json::to_string(&bad).unwrap()])
        .await
        .expect_err("one bad event");
    assert_eq!(sqlstate(&e), "55000");
    assert!(e.as_db_error().unwrap().message().starts_with("event 5 of the batch:"), "{e}");
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.partition_status()").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.build_request_state").await, 0);

    let rows = c
        .query("SELECT bel.bel_append_batch($1::text::jsonb)", &[&serde_json::to_string(&good).unwrap()])
        .await
        .unwrap();
    let idxs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(idxs.len(), 12);
    assert!(idxs.windows(2).all(|w| w[0] < w[1]), "in order");
    assert_eq!(count(&c, "SELECT count(*) FROM bel.partition_status() WHERE status = 'AVAILABLE'").await, 1);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}

#[tokio::test]
async fn retried_event_ids_return_the_first_idx_and_write_nothing() {
    let dsn = fresh_db("idempotent").await;
    let c = connect(&dsn).await;
    let e1 = r#"{"eventId":"e-1","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}"#;
    let first = append(&c, e1).await.unwrap();
    // A retry after a timeout: same event, no timestamp (the log set one the first time).
    assert_eq!(append(&c, e1).await.unwrap(), first);
    let e2 = r#"{"eventId":"e-2","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}"#;
    let second = append(&c, e2).await.unwrap();
    assert_eq!(append(&c, e2).await.unwrap(), second, "retried after the state moved on");
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 2);
    // In a batch, retried events return their idx too.
    let rows = c.query("SELECT bel.bel_append_batch($1::text::jsonb)", &[&format!("[{e1},{e2}]")]).await.unwrap();
    let idxs: Vec<i64> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(idxs, vec![first, second]);
    // Same eventId, different event: refused.
    let other = r#"{"eventId":"e-1","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_CANCELLED"}}"#;
    let e = append(&c, other).await.expect_err("eventId reuse");
    assert_eq!(sqlstate(&e), "23505");
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 2);
}

#[tokio::test]
async fn notify_wakes_a_listener_with_the_idx() {
    let dsn = fresh_db("notify").await;
    let (_listener, mut wakeups) = connect_listening(&dsn).await;
    let c = connect(&dsn).await;
    let idx = append(&c, &build_event("b1", "RECEIVED", &["p"])).await.unwrap();
    let payload = tokio::time::timeout(std::time::Duration::from_secs(5), wakeups.recv())
        .await
        .expect("a NOTIFY on bel_events")
        .unwrap();
    assert_eq!(payload, idx.to_string());
}
