//! End-to-end checks of `HttpGraphService` against a `bel serve` started in this process
//! over the test database named by `BEL_TEST_DSN` (without it: a failure under CI, a skip
//! elsewhere). The scenarios are the SQL tests' own (`bel_client_tests`): only the line
//! that builds the service differs.
use std::sync::Arc;
use std::time::Duration;

use bel_client::{Error, EventFilter, GraphService, HttpGraphService, PgGraphService, Reconnect, SubscribeOptions};
use bel_client_tests::{
    followers_see_every_committed_event_once, forward, next_event, received, run_id, test_dsn,
    wait_for_partition_sees_it_become_available, TestServer,
};
use tokio::sync::Notify;

fn any_port() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// Two HTTP followers under 8 concurrent writers with rollbacks: each sees exactly the
/// committed events, once each, in idx order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_followers_see_every_committed_event_once_in_order() -> Result<(), Error> {
    let Some(dsn) = test_dsn("http_followers_see_every_committed_event_once_in_order") else {
        return Ok(());
    };
    let server = TestServer::start(&dsn, any_port()).await;
    let service = HttpGraphService::new(&server.url())?;
    let options = SubscribeOptions { page_limit: 7, long_poll_wait: Duration::from_secs(2), ..Default::default() };
    followers_see_every_committed_event_once(&service, &dsn, &run_id("http-follow"), options).await?;
    server.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_partition_sees_it_become_available_over_http() -> Result<(), Error> {
    let Some(dsn) = test_dsn("wait_for_partition_sees_it_become_available_over_http") else {
        return Ok(());
    };
    let server = TestServer::start(&dsn, any_port()).await;
    let service = HttpGraphService::new(&server.url())?;
    wait_for_partition_sees_it_become_available(&service, &dsn, &run_id("http-wait")).await?;
    server.stop().await;
    Ok(())
}

/// A follower whose server stops mid-stream retries with backoff and, once a server is
/// back on the same address, delivers what was appended meanwhile: nothing lost, nothing
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http_follower_resumes_after_a_server_restart() -> Result<(), Error> {
    let Some(dsn) = test_dsn("an_http_follower_resumes_after_a_server_restart") else {
        return Ok(());
    };
    let run = run_id("http-restart");
    let writer = PgGraphService::connect(&dsn).await?;
    let append_batch = |name: &'static str| {
        let writer = &writer;
        let run = run.clone();
        async move {
            let mut idxs = Vec::new();
            for n in 0..10 {
                let partition = format!("bel-client-test/{run}/{name}/{n}");
                idxs.push(writer.append(&received(&format!("{run}-{name}-{n}"), &partition)).await?);
            }
            Ok::<_, Error>(idxs)
        }
    };

    let server = TestServer::start(&dsn, any_port()).await;
    let addr = server.addr;
    let service = HttpGraphService::new(&server.url())?;
    let reconnecting = Arc::new(Notify::new());
    let notify = Arc::clone(&reconnecting);
    let options = SubscribeOptions {
        long_poll_wait: Duration::from_secs(1),
        reconnect: Reconnect {
            first_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(500),
            max_attempts: None,
        },
        ..Default::default()
    };
    let filter = EventFilter { partition_patterns: vec![format!("bel-client-test/{run}/**")], ..Default::default() };
    let subscription = service.subscribe_with(filter, 0, options).on_reconnect(move |_, _, _| notify.notify_one());
    let mut events = forward(subscription);

    let before = append_batch("before").await?;
    for idx in &before {
        assert_eq!(next_event(&mut events).await?.idx, *idx);
    }

    server.stop().await;
    let during = append_batch("during").await?;
    // The follower has met the stopped server and is retrying.
    tokio::time::timeout(Duration::from_secs(10), reconnecting.notified()).await.expect("a reconnection attempt");
    let server = TestServer::start(&dsn, addr).await;

    for idx in &during {
        assert_eq!(next_event(&mut events).await?.idx, *idx, "the events appended while the server was down");
    }
    let sentinel = writer.append(&received(&format!("{run}-sentinel"), &format!("bel-client-test/{run}/s"))).await?;
    assert_eq!(next_event(&mut events).await?.idx, sentinel, "nothing twice after the restart");
    server.stop().await;
    Ok(())
}

/// The server's refusals arrive as errors with the SQLSTATE and hint; a server that is not
/// there is a lost connection (retried by followers), not a refusal.
#[tokio::test]
async fn http_errors_keep_the_sqlstate_and_hint() -> Result<(), Error> {
    let Some(dsn) = test_dsn("http_errors_keep_the_sqlstate_and_hint") else {
        return Ok(());
    };
    let server = TestServer::start(&dsn, any_port()).await;
    let service = HttpGraphService::new(&server.url())?;

    let bad_glob = EventFilter { partition_patterns: vec!["data/[a".into()], ..Default::default() };
    let error = service.list_events(0, &bad_glob, 10).await.expect_err("a bad glob is refused");
    assert!(matches!(&error, Error::Http(e) if e.status == 400), "{error}");
    assert_eq!(error.sqlstate(), Some("22023"), "{error}");
    assert!(error.hint().is_some(), "{error}");
    assert!(!error.is_connection_lost());

    // Refused before the round trip, with the same SQLSTATE.
    let error = service.list_events(0, &EventFilter::default(), 10_001).await.expect_err("limit out of range");
    assert_eq!(error.sqlstate(), Some("22023"));

    let page = service.list_events(0, &EventFilter::default(), 1).await?;
    assert!(page.events.len() <= 1);

    let addr = server.addr;
    server.stop().await;
    let error = HttpGraphService::new(&format!("http://{addr}"))?
        .list_events(0, &EventFilter::default(), 1)
        .await
        .expect_err("nobody listens");
    assert!(matches!(error, Error::Transport(_)) && error.is_connection_lost(), "{error}");
    Ok(())
}
