//! Shared helpers of the cluster tests: a fresh database per test, appends that expose
//! SQLSTATEs, a follower that pages with the no-loss cursor.
#![allow(dead_code)]
use std::time::Duration;

use futures_util::StreamExt;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// The base DSN (a superuser on a running cluster with bel installed). CI always sets it.
pub fn base_dsn() -> String {
    std::env::var("BEL_TEST_DSN").unwrap_or_else(|_| {
        panic!("BEL_TEST_DSN is not set: run the cluster tests through `bash scripts/test.sh cluster`")
    })
}

pub fn dsn_for(db: &str) -> String {
    // libpq key=value syntax: a later key overrides an earlier one.
    format!("{} dbname={db}", base_dsn())
}

pub fn dsn_as(db: &str, user: &str) -> String {
    format!("{} user={user}", dsn_for(db))
}

pub async fn connect(dsn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A connection whose asynchronous messages `pick` keeps arrive, as text, on the returned channel.
async fn connect_forwarding(
    dsn: &str,
    pick: fn(AsyncMessage) -> Option<String>,
) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (client, mut connection) = tokio_postgres::connect(dsn, NoTls).await.expect("connect");
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let Some(text) = pick(message) {
                let _ = tx.send(text);
            }
        }
    });
    (client, rx)
}

/// A connection whose NOTIFY messages arrive on the returned channel.
pub async fn connect_listening(dsn: &str) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    let (client, rx) = connect_forwarding(dsn, |m| match m {
        AsyncMessage::Notification(n) => Some(n.payload().to_owned()),
        _ => None,
    })
    .await;
    client.batch_execute("LISTEN bel_events").await.expect("listen");
    (client, rx)
}

/// A connection whose server notices (RAISE NOTICE, DEBUG messages the session asks for with
/// client_min_messages) arrive on the returned channel.
pub async fn connect_with_notices(dsn: &str) -> (Client, tokio::sync::mpsc::UnboundedReceiver<String>) {
    connect_forwarding(dsn, |m| match m {
        AsyncMessage::Notice(n) => Some(n.message().to_owned()),
        _ => None,
    })
    .await
}

/// A new database `bel_t_<name>` with the extension created; returns its DSN.
pub async fn fresh_db(name: &str) -> String {
    let db = format!("bel_t_{name}");
    let admin = connect(&base_dsn()).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create db");
    let dsn = dsn_for(&db);
    connect(&dsn).await.batch_execute("CREATE EXTENSION bel").await.expect("create extension");
    dsn
}

/// SQLSTATE of a failed call, or "" when it was not a server error.
pub fn sqlstate(e: &tokio_postgres::Error) -> String {
    e.code().map(|c| c.code().to_owned()).unwrap_or_default()
}

pub fn hint(e: &tokio_postgres::Error) -> String {
    e.as_db_error().and_then(|d| d.hint()).unwrap_or_default().to_owned()
}

pub async fn append(client: &Client, json: &str) -> Result<i64, tokio_postgres::Error> {
    client.query_one("SELECT bel.bel_append($1::text)", &[&json]).await.map(|r| r.get(0))
}

/// `bel.bel_append_batch` of `events` (JSON texts); the number of idx values returned.
pub async fn append_batch(client: &Client, events: &[String]) -> Result<u64, tokio_postgres::Error> {
    let json = format!("[{}]", events.join(","));
    client.execute("SELECT count(*) FROM bel.bel_append_batch($1::text::jsonb)", &[&json]).await
}

pub async fn count(client: &Client, sql: &str) -> i64 {
    client.query_one(sql, &[]).await.expect(sql).get(0)
}

pub fn build_event(build: &str, status: &str, requested: &[&str]) -> String {
    let extra = if requested.is_empty() {
        String::new()
    } else {
        format!(",\"requestedPartitions\":{}", serde_json::to_string(requested).unwrap())
    };
    format!(r#"{{"buildRequestId":"{build}","buildRequest":{{"status":"BUILD_REQUEST_{status}"{extra}}}}}"#)
}

pub fn partition_event(build: &str, part: &str, status: &str, job: &str) -> String {
    format!(
        r#"{{"buildRequestId":"{build}","partition":{{"partitionRef":"{part}","status":"PARTITION_{status}","jobRunId":"{job}"}}}}"#
    )
}

pub fn job_event(build: &str, job: &str, status: &str, label: &str, targets: &[&str]) -> String {
    format!(
        r#"{{"buildRequestId":"{build}","jobRun":{{"jobRunId":"{job}","jobLabel":"{label}","status":"JOB_RUN_{status}","targetPartitions":{}}}}}"#,
        serde_json::to_string(targets).unwrap()
    )
}

/// The 12 events of a successful build of one partition by one job run.
pub fn full_build(build: &str, part: &str, job: &str, label: &str) -> Vec<String> {
    vec![
        build_event(build, "RECEIVED", &[part]),
        build_event(build, "PLANNING", &[]),
        partition_event(build, part, "REQUESTED", ""),
        partition_event(build, part, "ANALYZED", ""),
        build_event(build, "ANALYSIS_COMPLETED", &[]),
        job_event(build, job, "SCHEDULED", label, &[part]),
        build_event(build, "EXECUTING", &[]),
        partition_event(build, part, "BUILDING", job),
        job_event(build, job, "RUNNING", label, &[]),
        partition_event(build, part, "AVAILABLE", job),
        job_event(build, job, "COMPLETED", label, &[]),
        build_event(build, "COMPLETED", &[]),
    ]
}

/// One EventPage, decoded from its proto3 JSON (absent fields are proto3 defaults).
#[derive(Debug, Clone)]
pub struct Page {
    pub events: Vec<(i64, serde_json::Value)>,
    pub next_idx: i64,
    pub has_more: bool,
    pub in_flight_idx: i64,
}

fn int64(v: &serde_json::Value) -> i64 {
    match v {
        serde_json::Value::String(s) => s.parse().expect("int64 string"),
        serde_json::Value::Number(n) => n.as_i64().expect("int64"),
        serde_json::Value::Null => 0,
        other => panic!("not an int64: {other}"),
    }
}

/// `bel.wait_for_append(idx, timeout_ms)`: true once the append holding in-flight `idx` ended,
/// false at the timeout.
pub async fn wait_for_append(client: &Client, idx: i64, timeout_ms: i32) -> bool {
    client.query_one("SELECT bel.wait_for_append($1, $2)", &[&idx, &timeout_ms]).await.unwrap().get(0)
}

pub async fn page(client: &Client, since: i64, filter: &str, limit: i32) -> Result<Page, tokio_postgres::Error> {
    let row = client
        .query_one("SELECT bel.list_events_page($1::bigint, $2::text::jsonb, $3::int)", &[&since, &filter, &limit])
        .await?;
    let json: serde_json::Value = row.get(0);
    let events = json["events"]
        .as_array()
        .map(|a| a.iter().map(|e| (int64(&e["idx"]), e.clone())).collect())
        .unwrap_or_default();
    Ok(Page {
        events,
        next_idx: int64(&json["nextIdx"]),
        has_more: json["hasMore"].as_bool().unwrap_or(false),
        in_flight_idx: int64(&json["inFlightIdx"]),
    })
}

pub async fn sleep_ms(ms: u64) {
    tokio::time::sleep(Duration::from_millis(ms)).await;
}
