//! The views over HTTP: partitions (globbed, paged, counted), builds (newest first,
//! paged), a build's summary, job runs; health and metrics.
use bel_http_tests::*;

async fn seed(dsn: &str) {
    let writer = connect(dsn).await;
    for (n, build) in ["b1", "b2", "b3"].iter().enumerate() {
        for event in full_build(build, &format!("data/users/2026-11-0{}", n + 1), &format!("j-{build}"), "etl") {
            append(&writer, &event).await;
        }
    }
    append(&writer, &build_received("b4", &["data/orders/2026-11-01"])).await;
    append(&writer, &build_status("b4", "PLANNING")).await;
    append(&writer, &partition_status("b4", "data/orders/2026-11-01", "REQUESTED", "")).await;
}

#[tokio::test]
async fn views_answer_json_and_page() {
    let Some(base) = base_dsn("views") else { return };
    let dsn = fresh_db(&base, "views").await;
    seed(&dsn).await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();

    let all = http.get("/v1/partitions").await;
    assert_eq!(all.header("cache-control"), Some("no-store"));
    let all = all.json();
    let refs: Vec<&str> =
        all["partitions"].as_array().unwrap().iter().map(|p| p["partitionRef"].as_str().unwrap()).collect();
    assert_eq!(
        refs,
        ["data/orders/2026-11-01", "data/users/2026-11-01", "data/users/2026-11-02", "data/users/2026-11-03"]
    );
    assert_eq!(all["counts"]["AVAILABLE"], 3);
    assert_eq!(all["counts"]["REQUESTED"], 1);
    assert_eq!(all["counts"]["FAILED"], 0);
    assert_eq!(all["next"], serde_json::Value::Null);
    let first = &all["partitions"][1];
    assert_eq!((first["status"].as_str(), first["buildRequestId"].as_str()), (Some("AVAILABLE"), Some("b1")));
    assert_eq!(first["jobRunId"], "j-b1");
    assert!(first["lastIdx"].is_i64());
    assert!(first["updatedAt"].as_str().unwrap().ends_with('Z'));

    let users = http.get("/v1/partitions?pattern=data/users/*&limit=2").await.json();
    assert_eq!(users["partitions"].as_array().unwrap().len(), 2);
    assert_eq!(users["counts"]["AVAILABLE"], 3, "counts cover every match, not the page");
    assert_eq!(users["next"], "data/users/2026-11-02");
    let rest = http.get("/v1/partitions?pattern=data/users/*&limit=2&after=data/users/2026-11-02").await.json();
    assert_eq!(rest["partitions"][0]["partitionRef"], "data/users/2026-11-03");
    assert_eq!(rest["next"], serde_json::Value::Null);
    let two = http.get("/v1/partitions?pattern=data/orders/*&pattern=data/users/2026-11-01").await.json();
    assert_eq!(two["partitions"].as_array().unwrap().len(), 2);

    let builds = http.get("/v1/builds?limit=3").await.json();
    let ids: Vec<&str> =
        builds["builds"].as_array().unwrap().iter().map(|b| b["buildRequestId"].as_str().unwrap()).collect();
    assert_eq!(ids, ["b4", "b3", "b2"], "newest first");
    assert_eq!(builds["builds"][1]["status"], "COMPLETED");
    assert_eq!(builds["builds"][0]["requestedPartitions"][0], "data/orders/2026-11-01");
    let next = builds["next"].as_i64().expect("a full page has a next cursor");
    let older = http.get(&format!("/v1/builds?limit=3&before_idx={next}")).await.json();
    assert_eq!(older["builds"][0]["buildRequestId"], "b1");
    assert_eq!(older["next"], serde_json::Value::Null);

    let summary = http.get("/v1/builds/b2").await.json();
    assert_eq!((summary["buildRequestId"].as_str(), summary["status"].as_str()), (Some("b2"), Some("COMPLETED")));

    let runs = http.get("/v1/job_runs?build_request_id=b2").await.json();
    assert_eq!(runs["jobRuns"].as_array().unwrap().len(), 1);
    assert_eq!(runs["jobRuns"][0]["jobRunId"], "j-b2");
    assert_eq!(runs["jobRuns"][0]["targetPartitions"][0], "data/users/2026-11-02");
    let completed = http.get("/v1/job_runs?status=COMPLETED&status=FAILED&limit=2").await.json();
    assert_eq!(completed["jobRuns"].as_array().unwrap().len(), 2);
    let after = completed["next"].as_i64().unwrap();
    let last = http.get(&format!("/v1/job_runs?status=COMPLETED&after_idx={after}")).await.json();
    assert_eq!(last["jobRuns"][0]["jobRunId"], "j-b3");
    assert_eq!(http.get("/v1/job_runs?status=RUNNING").await.json()["jobRuns"], serde_json::json!([]));

    let health = http.get("/healthz").await;
    assert_eq!(health.status, 200, "{}", String::from_utf8_lossy(&health.body));
    let named: i64 = connect(&base)
        .await
        .query_one(
            "select count(*) from pg_stat_activity where datname = 'bel_http_views' and application_name = 'bel serve'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(named >= 2, "the pool's and the LISTEN connections are named: {named}");
    let metrics = String::from_utf8(http.get("/metrics").await.body).unwrap();
    for name in [
        "bel_http_requests_total",
        "bel_long_polls_waiting",
        "bel_events_served_total",
        "bel_database_errors",
        "bel_last_idx_seen",
        "bel_listen_connected 1",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }
    assert!(metric_value(&metrics, "bel_http_requests_total{route=\"/v1/builds/{id}\",status=\"200\"}") >= 1.0);
    server.stop().await;
}
