//! Bad input gets the documented 400/404 body; the database's own refusals keep their
//! SQLSTATE.
use bel_http_tests::*;

async fn refused(http: &Http, path: &str, status: u16, code: &str, message: &str) {
    let answer = http.get(path).await;
    assert_eq!(answer.status, status, "{path}: {}", String::from_utf8_lossy(&answer.body));
    assert_eq!(answer.header("content-type"), Some("application/json"), "{path}");
    let body = answer.json();
    let keys: Vec<&str> = body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(keys, ["code", "hint", "message"], "{path}: {body}");
    assert_eq!(body["code"], code, "{path}: {body}");
    assert!(body["message"].as_str().unwrap().contains(message), "{path}: {body}");
    assert!(body["hint"].as_str().is_some_and(|hint| !hint.is_empty()), "{path}: {body}");
}

#[tokio::test]
async fn bad_parameters_get_the_documented_error_body() {
    let Some(base) = base_dsn("bad parameters") else { return };
    let dsn = fresh_db(&base, "errors").await;
    let server = TestServer::start(&dsn).await;
    let http = server.http();
    let cases: &[(&str, u16, &str, &str)] = &[
        ("/v1/events?since_idx=abc", 400, "22P02", "since_idx is not an integer: \"abc\""),
        ("/v1/events?since_idx=-5", 400, "22023", "since_idx must be >= 0, got -5"),
        ("/v1/events?limit=0", 400, "22023", "limit must be between 1 and 10000, got 0"),
        ("/v1/events?limit=10001", 400, "22023", "limit must be between 1 and 10000, got 10001"),
        ("/v1/events?wait_ms=30001", 400, "22023", "wait_ms must be between 0 and 30000, got 30001"),
        ("/v1/events?wait_ms=soon", 400, "22P02", "wait_ms is not an integer"),
        ("/v1/events?partition_pattern=data/%5Ba", 400, "22023", "invalid partition pattern \"data/[a\""),
        ("/v1/events?partition_ref=", 400, "22023", "empty or overlong value"),
        ("/v1/events?since=3", 400, "unknown_parameter", "unknown query parameter \"since\""),
        ("/v1/events?limit=5&limit=6", 400, "duplicate_parameter", "limit is given twice"),
        ("/v1/partitions?pattern=%7Ba", 400, "22023", "invalid partition pattern"),
        ("/v1/partitions?limit=0", 400, "22023", "limit must be between 1 and 10000"),
        ("/v1/builds?before_idx=x", 400, "22P02", "before_idx is not an integer"),
        ("/v1/job_runs?status=DONE", 400, "22023", "unknown job run status \"DONE\""),
        ("/v1/job_runs?job=x", 400, "unknown_parameter", "unknown query parameter \"job\""),
        ("/v1/builds/b1?verbose=1", 400, "unknown_parameter", "unknown query parameter \"verbose\""),
        ("/v1/nothing", 404, "not_found", "no route /v1/nothing"),
        ("/v1", 404, "not_found", "no route /v1"),
        // The database's own refusal: build_summary of an unknown build is P0002.
        ("/v1/builds/no-such-build", 404, "P0002", "no-such-build"),
    ];
    for (path, status, code, message) in cases {
        refused(&http, path, *status, code, message).await;
    }
    // Refusals are counted by route and status.
    assert!(http.metric("bel_http_requests_total{route=\"/v1/events\",status=\"400\"}").await >= 10.0);
    server.stop().await;
}
