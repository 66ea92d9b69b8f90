//! Helpers shared by the client's tests against a running cluster: the test database,
//! event builders, concurrent writers with rollbacks, and a `bel serve` in this process.
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bel_client::{sql, BuildEvent, Error, EventFilter, GraphService, PgGraphService, SubscribeOptions, Subscription};
use bel_core::pb::PartitionStatus;
use bel_serve::{ServeConfig, ServeError, Server};
use futures_util::StreamExt;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The database the tests use (one with `CREATE EXTENSION bel`), from `BEL_TEST_DSN`.
/// `None` means "skip": allowed only outside CI, so `cargo test --workspace` on a laptop
/// without a database passes, while CI (which sets `CI`, and where scripts/test.sh always
/// sets `BEL_TEST_DSN`) fails instead of silently testing nothing.
pub fn test_dsn(test: &str) -> Option<String> {
    match decide_dsn(std::env::var("BEL_TEST_DSN").ok(), std::env::var("CI").ok()) {
        Ok(Some(dsn)) => Some(dsn),
        Ok(None) => {
            eprintln!("skipping {test}: set BEL_TEST_DSN to a database with CREATE EXTENSION bel");
            None
        }
        Err(message) => panic!("{test}: {message}"),
    }
}

/// Like [`test_dsn`] for any variable scripts/test.sh sets.
pub fn test_env(test: &str, var: &str) -> Option<String> {
    match decide_dsn(std::env::var(var).ok(), std::env::var("CI").ok()) {
        Ok(Some(value)) => Some(value),
        Ok(None) => {
            eprintln!("skipping {test}: {var} is not set (scripts/test.sh cluster sets it)");
            None
        }
        Err(message) => panic!("{test}: {}", message.replace("BEL_TEST_DSN", var)),
    }
}

/// The decision of [`test_dsn`] from the two variables: the DSN, skip, or fail.
pub fn decide_dsn(dsn: Option<String>, ci: Option<String>) -> Result<Option<String>, String> {
    match dsn {
        Some(dsn) if !dsn.trim().is_empty() => Ok(Some(dsn)),
        _ if ci.is_some_and(|ci| !ci.is_empty()) => {
            Err("BEL_TEST_DSN is not set and CI is: run these tests through `bash scripts/test.sh cluster`".into())
        }
        _ => Ok(None),
    }
}

/// A prefix unique to this run of a test, for partition refs and build ids.
pub fn run_id(test: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{test}-{}-{nanos}", std::process::id())
}

/// An event from proto3 JSON.
pub fn event(json: serde_json::Value) -> BuildEvent {
    bel_core::event::from_json(&json.to_string()).expect("test event is valid JSON")
}

/// A build request received for one partition.
pub fn received(build: &str, partition: &str) -> BuildEvent {
    event(serde_json::json!({
        "buildRequestId": build,
        "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [partition]}
    }))
}

/// Every step from a build request to `partition` AVAILABLE (build `build`, job run `job`).
pub fn partition_lifecycle(build: &str, partition: &str, job: &str) -> Vec<BuildEvent> {
    let steps = [
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [partition]}}),
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_PLANNING"}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_REQUESTED"}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_ANALYZED"}}),
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}}),
        serde_json::json!({"jobRun": {"jobRunId": job, "jobLabel": "etl", "status": "JOB_RUN_SCHEDULED", "targetPartitions": [partition]}}),
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}}),
        serde_json::json!({"jobRun": {"jobRunId": job, "status": "JOB_RUN_RUNNING"}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_BUILDING", "jobRunId": job}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_AVAILABLE", "jobRunId": job}}),
    ];
    steps
        .into_iter()
        .map(|mut step| {
            step["buildRequestId"] = serde_json::Value::String(build.to_string());
            event(step)
        })
        .collect()
}

/// A small deterministic generator: the tests need variety, not quality randomness.
pub struct Lcg(pub u64);

impl Lcg {
    /// A number below `below`.
    pub fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// `writers` concurrent connections each append `per_writer` build requests under
/// `bel-client-test/<run>/`, holding each transaction open for a random few ms and rolling
/// back about 15% of them. Returns the idx of every committed event.
pub async fn concurrent_writers(dsn: &str, run: &str, writers: u64, per_writer: u64) -> Result<BTreeSet<i64>, Error> {
    let mut tasks = Vec::new();
    for writer in 0..writers {
        let dsn = dsn.to_string();
        let run = run.to_string();
        tasks.push(tokio::spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let mut random = Lcg(writer + 1);
            let mut committed = Vec::new();
            for n in 0..per_writer {
                let tx = client.transaction().await?;
                let build = format!("{run}-w{writer}-{n}");
                let idx = sql::append(&tx, &received(&build, &format!("bel-client-test/{run}/w{writer}/{n}"))).await?;
                // Held open so commits land out of idx order and followers meet appends in flight.
                tokio::time::sleep(Duration::from_millis(random.next(15))).await;
                if random.next(100) < 15 {
                    tx.rollback().await?;
                } else {
                    tx.commit().await?;
                    committed.push(idx);
                }
            }
            Ok::<_, Error>(committed)
        }));
    }
    let mut committed = BTreeSet::new();
    for task in tasks {
        committed.extend(task.await.expect("writer task")?);
    }
    Ok(committed)
}

/// Runs `subscription` in a task that forwards what it yields.
pub fn forward(mut subscription: Subscription) -> mpsc::UnboundedReceiver<Result<BuildEvent, Error>> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(item) = subscription.next().await {
            if sender.send(item).is_err() {
                break;
            }
        }
    });
    receiver
}

/// The next event a forwarded follower yields, within 30 s.
pub async fn next_event(events: &mut mpsc::UnboundedReceiver<Result<BuildEvent, Error>>) -> Result<BuildEvent, Error> {
    let next = tokio::time::timeout(Duration::from_secs(30), events.recv()).await;
    next.expect("the follower delivers within 30 s").expect("the follower never ends")
}

/// The scenario both transports must pass: two followers of one run's partitions read
/// while 8 writers append concurrently, holding transactions open and rolling some back.
/// Each follower must yield exactly the committed events, in idx order, none twice: after
/// the last one, the next event it yields is a sentinel appended at the end.
pub async fn followers_see_every_committed_event_once(
    service: &impl GraphService,
    dsn: &str,
    run: &str,
    options: SubscribeOptions,
) -> Result<(), Error> {
    let filter = EventFilter { partition_patterns: vec![format!("bel-client-test/{run}/**")], ..Default::default() };
    let mut followers: Vec<_> =
        (0..2).map(|_| forward(service.subscribe_with(filter.clone(), 0, options.clone()))).collect();
    let committed = concurrent_writers(dsn, run, 8, 25).await?;
    let writer = PgGraphService::connect(dsn).await?;
    let sentinel =
        writer.append(&received(&format!("{run}-sentinel"), &format!("bel-client-test/{run}/sentinel"))).await?;

    for follower in &mut followers {
        let mut delivered = Vec::new();
        while delivered.len() < committed.len() {
            delivered.push(next_event(follower).await?.idx);
        }
        assert_eq!(delivered, committed.iter().copied().collect::<Vec<_>>(), "in idx order, each once");
        assert_eq!(next_event(follower).await?.idx, sentinel, "nothing between the last event and the sentinel");
    }

    // The plain page read agrees with the followers.
    let page = service.list_events(0, &filter, 1000).await?;
    let mut expected: Vec<i64> = committed.into_iter().collect();
    expected.push(sentinel);
    assert_eq!(page.events.iter().map(|e| e.idx).collect::<Vec<_>>(), expected);
    Ok(())
}

/// The other scenario both transports must pass: `wait_for_partition` returns once the
/// partition becomes AVAILABLE (appended while it waits), at once when it already is,
/// and times out for a partition nobody builds.
pub async fn wait_for_partition_sees_it_become_available(
    service: &impl GraphService,
    dsn: &str,
    run: &str,
) -> Result<(), Error> {
    let partition = format!("bel-client-test/{run}/p");
    let writer = PgGraphService::connect(dsn).await?;
    let appending = async {
        let mut last_idx = 0;
        for event in partition_lifecycle(&format!("{run}-b"), &partition, &format!("{run}-j")) {
            last_idx = writer.append(&event).await?;
            // Spread out, so the waiter sees the partition in several states first.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok::<_, Error>(last_idx)
    };
    let (row, last_idx) = tokio::join!(service.wait_for_partition(&partition, Duration::from_secs(30)), appending);
    let row = row?;
    assert_eq!(row.status(), Some(PartitionStatus::PartitionAvailable));
    assert_eq!(row.last_idx, Some(last_idx?));

    let again = service.wait_for_partition(&partition, Duration::from_secs(5)).await?;
    assert_eq!(again.status(), Some(PartitionStatus::PartitionAvailable));

    let missing = service.wait_for_partition(&format!("{partition}-missing"), Duration::from_millis(300)).await;
    assert!(matches!(missing, Err(Error::Timeout { .. })), "{missing:?}");
    Ok(())
}

/// A `bel serve` running in this process.
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), ServeError>>,
}

impl TestServer {
    /// A server for `dsn` on `addr` (port 0: a free port).
    pub async fn start(dsn: &str, addr: SocketAddr) -> Self {
        let mut config = ServeConfig::new(dsn.parse().expect("dsn"));
        config.listen = addr;
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

    /// Shuts the server down and waits until it stopped (its port is then free).
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let stopped = tokio::time::timeout(Duration::from_secs(10), &mut self.task).await;
        stopped.expect("the server stops within 10 s").expect("server task").expect("server result");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_dsn_ci_fails_and_elsewhere_skips() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(decide_dsn(some("host=x"), some("true")), Ok(some("host=x")));
        assert_eq!(decide_dsn(some("host=x"), None), Ok(some("host=x")));
        assert!(decide_dsn(None, some("true")).is_err());
        assert!(decide_dsn(some("  "), some("1")).is_err());
        assert_eq!(decide_dsn(None, None), Ok(None));
        assert_eq!(decide_dsn(None, some("")), Ok(None));
    }
}
