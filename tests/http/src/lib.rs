//! Helpers of the `bel serve` tests: a fresh database per test, a server started
//! in-process on a free port, an HTTP client that reads pages and metrics, event builders
//! and a follower that pages through `/v1/events` with the cursor the server returns.
use std::future::Future;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bel_serve::{ServeConfig, ServeError, Server};
use serde_json::Value;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_postgres::{Client, GenericClient, NoTls};

/// The base DSN (a superuser on a running cluster with bel installed) from `BEL_TEST_DSN`.
/// `None` means "skip": allowed only outside CI, so `cargo test --workspace` on a laptop
/// passes, while CI (which sets `CI`; scripts/test.sh always sets `BEL_TEST_DSN`) fails
/// instead of silently testing nothing.
pub fn base_dsn(test: &str) -> Option<String> {
    env_or_skip(test, "BEL_TEST_DSN")
}

/// The value of `var`, `None` to skip outside CI, a panic in CI.
pub fn env_or_skip(test: &str, var: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(value) if !value.trim().is_empty() => Some(value),
        _ if std::env::var("CI").is_ok_and(|ci| !ci.is_empty()) => {
            panic!("{test}: {var} is not set and CI is: run these tests through `bash scripts/test.sh http`")
        }
        _ => {
            eprintln!("skipping {test}: {var} is not set (scripts/test.sh http sets it)");
            None
        }
    }
}

pub async fn connect(dsn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.expect("connect");
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// A new database `bel_http_<name>` with the extension created; returns its DSN.
pub async fn fresh_db(base: &str, name: &str) -> String {
    let db = format!("bel_http_{name}");
    let admin = connect(base).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create db");
    // libpq key=value syntax: a later key overrides an earlier one.
    let dsn = format!("{base} dbname={db}");
    connect(&dsn).await.batch_execute("CREATE EXTENSION bel").await.expect("create extension");
    dsn
}

/// A `bel serve` running in this process.
pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    /// A server for `dsn` on a free loopback port.
    pub async fn start(dsn: &str) -> Self {
        Self::start_at(dsn, "127.0.0.1:0".parse().unwrap(), 8).await
    }

    /// A server for `dsn` on `addr` with `pool_size` pooled connections.
    pub async fn start_at(dsn: &str, addr: SocketAddr, pool_size: usize) -> Self {
        let mut config = ServeConfig::new(dsn.parse().expect("dsn"));
        config.listen = addr;
        config.pool_size = pool_size;
        let server = Server::bind(config).await.expect("bind");
        let addr = server.local_addr();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.run_until(async move {
            let _ = stopped.await;
        }));
        TestServer { addr, stop: Some(stop), task }
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn http(&self) -> Http {
        Http::new(&self.url())
    }

    /// Shuts the server down (waiting long polls answer at once) and waits until it stopped.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stopped = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        stopped.expect("the server stops within 10 s").expect("server task").expect("server result");
    }
}

/// One HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    /// When the whole body had arrived.
    pub arrived: Instant,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as an EventPage in proto3 JSON.
    pub fn page(&self) -> Page {
        assert_eq!(self.status, 200, "{}", String::from_utf8_lossy(&self.body));
        Page::from_json(&self.json())
    }
}

/// An HTTP client for one server.
#[derive(Clone)]
pub struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    pub fn new(base: &str) -> Self {
        let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("client");
        Http { client, base: base.to_owned() }
    }

    /// GETs `path` (with its query string) with extra headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> Result<Answer, reqwest::Error> {
        let mut request = self.client.get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes().await?.to_vec();
        Ok(Answer { status, headers, body, arrived: Instant::now() })
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.get_with(path, &[]).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// The value of one sample of /metrics, e.g. `bel_long_polls_waiting` or
    /// `bel_http_requests_total{route="/v1/events",status="200"}`; 0 when absent.
    pub async fn metric(&self, sample: &str) -> f64 {
        let text = String::from_utf8(self.get("/metrics").await.body).expect("utf-8");
        metric_value(&text, sample)
    }
}

/// One sample's value in OpenMetrics text; 0 when absent.
pub fn metric_value(text: &str, sample: &str) -> f64 {
    text.lines().find_map(|line| line.strip_prefix(sample)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
}

/// An EventPage from its proto3 JSON.
#[derive(Debug, Clone)]
pub struct Page {
    pub events: Vec<(i64, Value)>,
    pub next_idx: i64,
    pub has_more: bool,
    pub in_flight_idx: i64,
}

fn int64(value: &Value) -> i64 {
    match value {
        Value::String(s) => s.parse().expect("int64 string"),
        other => panic!("int64 values are strings in proto3 JSON, got {other}"),
    }
}

impl Page {
    pub fn from_json(json: &Value) -> Self {
        let events = json["events"].as_array().expect("events").iter().map(|e| (int64(&e["idx"]), e.clone())).collect();
        Page {
            events,
            next_idx: int64(&json["nextIdx"]),
            has_more: json["hasMore"].as_bool().expect("hasMore"),
            in_flight_idx: int64(&json["inFlightIdx"]),
        }
    }

    pub fn idxs(&self) -> Vec<i64> {
        self.events.iter().map(|(idx, _)| *idx).collect()
    }
}

/// Waits until `condition` holds, checking every 5 ms; panics with `what` after `limit`.
pub async fn until<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub async fn append(client: &impl GenericClient, event: &Value) -> i64 {
    client.query_one("select bel.bel_append($1::text)", &[&event.to_string()]).await.expect("append").get(0)
}

/// `BUILD_REQUEST_RECEIVED` of a new build requesting `partitions`.
pub fn build_received(build: &str, partitions: &[&str]) -> Value {
    serde_json::json!({
        "buildRequestId": build,
        "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": partitions},
    })
}

pub fn build_status(build: &str, status: &str) -> Value {
    serde_json::json!({"buildRequestId": build, "buildRequest": {"status": format!("BUILD_REQUEST_{status}")}})
}

pub fn partition_status(build: &str, partition: &str, status: &str, job: &str) -> Value {
    serde_json::json!({
        "buildRequestId": build,
        "partition": {"partitionRef": partition, "status": format!("PARTITION_{status}"), "jobRunId": job},
    })
}

pub fn job_run(build: &str, job: &str, status: &str, label: &str, targets: &[&str]) -> Value {
    serde_json::json!({
        "buildRequestId": build,
        "jobRun": {"jobRunId": job, "jobLabel": label, "status": format!("JOB_RUN_{status}"), "targetPartitions": targets},
    })
}

/// The 12 events of a successful build of one partition by one job run.
pub fn full_build(build: &str, partition: &str, job: &str, label: &str) -> Vec<Value> {
    vec![
        build_received(build, &[partition]),
        build_status(build, "PLANNING"),
        partition_status(build, partition, "REQUESTED", ""),
        partition_status(build, partition, "ANALYZED", ""),
        build_status(build, "ANALYSIS_COMPLETED"),
        job_run(build, job, "SCHEDULED", label, &[partition]),
        build_status(build, "EXECUTING"),
        partition_status(build, partition, "BUILDING", job),
        job_run(build, job, "RUNNING", label, &[]),
        partition_status(build, partition, "AVAILABLE", job),
        job_run(build, job, "COMPLETED", label, &[]),
        build_status(build, "COMPLETED"),
    ]
}

/// Pages through `/v1/events` like a downstream graph: long polls, passes nextIdx back,
/// never moves its cursor otherwise, and checks every page's events are above the
/// cursor and ascending.
pub struct Follower {
    pub http: Http,
    pub query: String,
    pub since_idx: i64,
    pub seen: Vec<i64>,
    pub limit: u32,
    pub wait_ms: u32,
    /// Requests that failed (connection refused while the server restarted, 503).
    pub failures: usize,
}

impl Follower {
    /// `query` holds the filter parameters, e.g. `&partition_pattern=data/*` (or "").
    pub fn new(http: Http, query: &str) -> Self {
        Follower {
            http,
            query: query.to_owned(),
            since_idx: 0,
            seen: Vec::new(),
            limit: 50,
            wait_ms: 1000,
            failures: 0,
        }
    }

    /// One request; failures (connection errors, non-200) are counted and retried by
    /// the caller's next call after a short pause.
    pub async fn step(&mut self) {
        let path = format!(
            "/v1/events?since_idx={}&limit={}&wait_ms={}{}",
            self.since_idx, self.limit, self.wait_ms, self.query
        );
        match self.http.get_with(&path, &[]).await {
            Ok(answer) if answer.status == 200 => {
                let page = answer.page();
                let mut previous = self.since_idx;
                for idx in page.idxs() {
                    assert!(idx > previous, "event {idx} is not above {previous} (cursor {})", self.since_idx);
                    previous = idx;
                }
                assert!(page.next_idx >= self.since_idx, "nextIdx {} went back from {}", page.next_idx, self.since_idx);
                self.seen.extend(page.idxs());
                self.since_idx = page.next_idx;
            }
            _ => {
                self.failures += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    }

    /// Follows until `done(seen)` holds; panics after `limit`.
    pub async fn until(&mut self, limit: Duration, done: impl Fn(&[i64]) -> bool) {
        let deadline = Instant::now() + limit;
        while !done(&self.seen) {
            assert!(Instant::now() < deadline, "follower{} timed out with {} events seen", self.query, self.seen.len());
            self.step().await;
        }
    }
}

/// Asserts `seen` is exactly `committed` (sorted), in order, none twice.
pub fn assert_exactly(what: &str, seen: &[i64], committed: &[i64]) {
    let mut expected = committed.to_vec();
    expected.sort_unstable();
    assert!(seen.windows(2).all(|w| w[0] < w[1]), "{what}: out of order or repeated");
    let missing: Vec<_> = expected.iter().filter(|idx| seen.binary_search(idx).is_err()).take(10).collect();
    let extra: Vec<_> = seen.iter().filter(|idx| expected.binary_search(idx).is_err()).take(10).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{what}: missing {missing:?}, never committed {extra:?}");
    assert_eq!(seen.len(), expected.len(), "{what}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_samples() {
        let text = "# TYPE x counter\nbel_x_total{route=\"/v1/events\",status=\"200\"} 3\nbel_y 1.5\n# EOF\n";
        assert_eq!(metric_value(text, "bel_x_total{route=\"/v1/events\",status=\"200\"}"), 3.0);
        assert_eq!(metric_value(text, "bel_y"), 1.5);
        assert_eq!(metric_value(text, "bel_z"), 0.0);
    }

    #[test]
    fn exactly_once_in_order() {
        assert_exactly("ok", &[1, 2, 5], &[5, 1, 2]);
        assert!(std::panic::catch_unwind(|| assert_exactly("missing", &[1, 2], &[1, 2, 3])).is_err());
        assert!(std::panic::catch_unwind(|| assert_exactly("twice", &[1, 1, 2], &[1, 2])).is_err());
        assert!(std::panic::catch_unwind(|| assert_exactly("order", &[2, 1], &[1, 2])).is_err());
    }
}
