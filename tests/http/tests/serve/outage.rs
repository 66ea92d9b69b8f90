//! The database stops: requests get 503 with the error body, the server keeps running,
//! and it recovers by itself when the database is back (pool and LISTEN connection).
//! Runs against the http step's own cluster (BEL_TEST_HTTP_DSN, BEL_TEST_HTTP_PORT), which
//! it stops and starts (scripts/pg.sh; the step's BEL_PG_EXTRA_CONF is inherited).
use std::path::PathBuf;
use std::time::{Duration, Instant};

use bel_http_tests::*;

/// Starts or stops the outage cluster with scripts/pg.sh.
async fn pg(port: &str, action: &str) {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
    let status = tokio::process::Command::new("bash")
        .arg(script)
        .arg(action)
        .env("BEL_PG_PORT", port)
        .env("BEL_PG_ROOT", format!("/var/tmp/bel-{port}"))
        .status()
        .await
        .expect("run scripts/pg.sh");
    assert!(status.success(), "scripts/pg.sh {action} on port {port} failed");
}

/// Starts the cluster again if the test fails while it is stopped.
struct Restart(Option<String>);

impl Drop for Restart {
    fn drop(&mut self) {
        if let Some(port) = self.0.take() {
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg.sh");
            let _ = std::process::Command::new("bash")
                .arg(script)
                .arg("start")
                .env("BEL_PG_PORT", &port)
                .env("BEL_PG_ROOT", format!("/var/tmp/bel-{port}"))
                .status();
        }
    }
}

async fn healthy(http: &Http) -> bool {
    http.get("/healthz").await.status == 200
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_stopped_database_gives_503_and_the_server_recovers_by_itself() {
    let Some(base) = env_or_skip("database outage", "BEL_TEST_HTTP_DSN") else { return };
    let Some(port) = env_or_skip("database outage", "BEL_TEST_HTTP_PORT") else { return };
    let dsn = fresh_db(&base, "outage").await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();
    until("healthy", Duration::from_secs(10), || healthy(&http)).await;
    let health = http.get("/healthz").await.json();
    assert_eq!(health["status"], "ok");
    assert!(health["extensionVersion"].as_str().is_some_and(|v| !v.is_empty()), "{health}");
    let before = append(&connect(&dsn).await, &build_received("before-outage", &["data/outage/before"])).await;

    let restart = Restart(Some(port.clone()));
    pg(&port, "stop").await;
    for path in ["/v1/events?partition_pattern=data/outage/*", "/v1/partitions", "/v1/builds/before-outage"] {
        let answer = http.get(path).await;
        assert_eq!(answer.status, 503, "{path}: {}", String::from_utf8_lossy(&answer.body));
        let body = answer.json();
        assert_eq!(body["code"], "database_unavailable", "{path}: {body}");
        assert!(body["hint"].as_str().unwrap().contains("retry"), "{body}");
    }
    let health = http.get("/healthz").await;
    assert_eq!((health.status, health.json()["code"].as_str()), (503, Some("database_unavailable")));
    assert!(http.metric("bel_database_errors_total{kind=\"unreachable\"}").await >= 1.0);

    pg(&port, "start").await;
    let mut restart = restart;
    restart.0 = None;
    let down_since = Instant::now();
    until("healthy again", Duration::from_secs(30), || healthy(&http)).await;
    eprintln!("healthy {:?} after the database was back", down_since.elapsed());
    let page = http.get("/v1/events?partition_pattern=data/outage/*").await.page();
    assert_eq!(page.idxs(), vec![before]);

    // The LISTEN connection is back: a long poll wakes on the next commit.
    let poll = {
        let http = http.clone();
        let since = page.next_idx;
        tokio::spawn(async move {
            http.get(&format!("/v1/events?since_idx={since}&partition_pattern=data/outage/*&wait_ms=10000")).await
        })
    };
    until("waiting", Duration::from_secs(10), || async { http.metric("bel_long_polls_waiting").await >= 1.0 }).await;
    let after = append(&connect(&dsn).await, &build_received("after-outage", &["data/outage/after"])).await;
    let committed = Instant::now();
    let answer = poll.await.unwrap();
    assert_eq!(answer.page().idxs(), vec![after]);
    let latency = answer.arrived.saturating_duration_since(committed);
    assert!(latency < Duration::from_millis(100), "woken {latency:?} after the commit");
    server.stop().await;
}
