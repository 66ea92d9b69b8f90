//! `bel serve` connecting to Postgres over TLS, as the DSN's `sslmode` says. The test
//! cluster runs with `ssl = on` and a certificate for `localhost` / 127.0.0.1 signed by a
//! throwaway CA (scripts/test.sh): `BEL_TEST_TLS_DSN` reaches it over TCP without host and
//! dbname (port, user), `BEL_TEST_TLS_ROOT_CERT` is the CA's certificate.
use std::time::{Duration, Instant};

use bel_http_tests::*;

struct Tls {
    base: String,
    root_cert: String,
}

fn tls(test: &str) -> Option<Tls> {
    Some(Tls { base: env_or_skip(test, "BEL_TEST_TLS_DSN")?, root_cert: env_or_skip(test, "BEL_TEST_TLS_ROOT_CERT")? })
}

/// With `sslmode=verify-full` every connection of the server (the pool's and the LISTEN
/// connection) is encrypted, pages are served and a long poll is woken by an append.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_verify_full_serves_over_tls_connections() {
    let Some(base) = base_dsn("verify_full") else { return };
    let Some(Tls { base: tls_base, root_cert }) = tls("verify_full") else { return };
    let plain_dsn = fresh_db(&base, "tls").await;
    let writer = connect(&plain_dsn).await;
    let first = append(&writer, &build_received("tls-b1", &["tls/p1"])).await;
    let application = format!("bel-serve-tls-{}", std::process::id());
    let dsn = format!(
        "host=localhost {tls_base} dbname=bel_http_tls application_name={application} \
         sslmode=verify-full sslrootcert={root_cert}"
    );
    let server = TestServer::start(&dsn).await;
    let http = server.http();

    let page = http.get("/v1/events?since_idx=0").await.page();
    assert_eq!(page.idxs(), [first]);
    // /healthz is 200 once the LISTEN connection is up too.
    until("healthz 200", Duration::from_secs(10), || async { http.get("/healthz").await.status == 200 }).await;

    // The LISTEN connection wakes a long poll: it answers with the event long before its
    // 20 s are up.
    let long_poll = {
        let http = http.clone();
        let since = page.next_idx;
        tokio::spawn(async move { http.get(&format!("/v1/events?since_idx={since}&wait_ms=20000")).await })
    };
    until("the long poll to wait", Duration::from_secs(10), || async {
        http.metric("bel_long_polls_waiting").await >= 1.0
    })
    .await;
    let appended = Instant::now();
    let second = append(&writer, &build_received("tls-b2", &["tls/p2"])).await;
    let answer = long_poll.await.expect("long poll task");
    assert_eq!(answer.page().idxs(), [second]);
    assert!(answer.arrived - appended < Duration::from_secs(10), "woken by the append, not by the timeout");

    // Every connection the server holds is encrypted (pool and LISTEN: at least two).
    let (connections, encrypted): (i64, i64) = {
        let row = writer
            .query_one(
                "select count(*), count(*) filter (where s.ssl) \
                 from pg_stat_activity a join pg_stat_ssl s using (pid) where a.application_name = $1",
                &[&application],
            )
            .await
            .expect("pg_stat_ssl");
        (row.get(0), row.get(1))
    };
    assert!(connections >= 2, "the pool's and the LISTEN connections: {connections}");
    assert_eq!(encrypted, connections, "every connection of the server uses TLS");
    server.stop().await;
}

/// A certificate that does not name the host: the server starts (it starts while the
/// database is unreachable, too) and answers 503 `database_unavailable` whose message says
/// why: the certificate was refused. `verify-ca` does not check the name and serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_for_another_host_answers_503_with_the_reason() {
    let Some(base) = base_dsn("wrong_host") else { return };
    let Some(Tls { base: tls_base, root_cert }) = tls("wrong_host") else { return };
    fresh_db(&base, "tls_wrong_host").await;
    let wrong_name = format!(
        "host=bel-wrong-name.invalid hostaddr=127.0.0.1 {tls_base} dbname=bel_http_tls_wrong_host \
         sslrootcert={root_cert}"
    );

    let server = TestServer::start(&format!("{wrong_name} sslmode=verify-full")).await;
    let http = server.http();
    for path in ["/v1/events?since_idx=0", "/healthz"] {
        let answer = http.get(path).await;
        assert_eq!(answer.status, 503, "{path}: {}", String::from_utf8_lossy(&answer.body));
        let body = answer.json();
        assert_eq!(body["code"], "database_unavailable", "{path}");
        let message = body["message"].as_str().expect("message");
        assert!(message.contains("TLS handshake"), "{path}: {message}");
        assert!(message.contains("certificate not valid for name \"bel-wrong-name.invalid\""), "{path}: {message}");
    }
    assert!(http.metric("bel_database_errors_total{kind=\"unreachable\"}").await >= 1.0);
    server.stop().await;

    let server = TestServer::start(&format!("{wrong_name} sslmode=verify-ca")).await;
    let http = server.http();
    until("healthz 200", Duration::from_secs(10), || async { http.get("/healthz").await.status == 200 }).await;
    server.stop().await;
}
