//! End-to-end checks of `PgGraphService` against a real database with `CREATE EXTENSION bel`
//! named by `BEL_TEST_DSN` (without it: a failure under CI, a skip elsewhere). Every run works in
//! its own partition namespace (`bel-client-test/<run>/...`), so runs never collide and
//! the filters keep each run's reads to its own events.
use std::time::Duration;

use bel_client::{Error, PgGraphService, SubscribeOptions};
use bel_client_tests::{
    event, followers_see_every_committed_event_once, received, run_id, test_dsn,
    wait_for_partition_sees_it_become_available,
};

/// Two SQL followers under 8 concurrent writers with rollbacks: each sees exactly the
/// committed events, once each, in idx order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_see_every_committed_event_once_in_order() -> Result<(), Error> {
    let Some(dsn) = test_dsn("followers_see_every_committed_event_once_in_order") else {
        return Ok(());
    };
    let service = PgGraphService::connect(&dsn).await?;
    let options = SubscribeOptions { page_limit: 7, poll_interval: Duration::from_millis(200), ..Default::default() };
    followers_see_every_committed_event_once(&service, &dsn, &run_id("follow"), options).await
}

/// wait_for_partition returns once the partition becomes AVAILABLE, appended while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_partition_sees_it_become_available_over_sql() -> Result<(), Error> {
    let Some(dsn) = test_dsn("wait_for_partition_sees_it_become_available_over_sql") else {
        return Ok(());
    };
    let service = PgGraphService::connect(&dsn).await?;
    wait_for_partition_sees_it_become_available(&service, &dsn, &run_id("wait")).await
}

/// Server rejections keep SQLSTATE, message, DETAIL and HINT.
#[tokio::test]
async fn rejections_keep_sqlstate_detail_and_hint() -> Result<(), Error> {
    let Some(dsn) = test_dsn("rejections_keep_sqlstate_detail_and_hint") else {
        return Ok(());
    };
    let run = run_id("reject");
    let service = PgGraphService::connect(&dsn).await?;
    let bad = event(serde_json::json!({
        "buildRequestId": format!("{run}-never-received"),
        "buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}
    }));
    let error = service.append(&bad).await.expect_err("an EXECUTING build without RECEIVED is refused");
    assert_eq!(error.sqlstate(), Some("55000"), "{error}");
    assert!(error.detail().is_some() && error.hint().is_some(), "{error}");

    // A batch is all or nothing and returns one idx per event, in order.
    let build = format!("{run}-batch");
    let batch = [
        received(&build, &format!("bel-client-test/{run}/b")),
        event(serde_json::json!({"buildRequestId": build, "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}})),
    ];
    let idxs = service.append_batch(&batch).await?;
    assert!(idxs.len() == 2 && idxs[0] < idxs[1], "{idxs:?}");
    Ok(())
}

/// `bel.transitions()` lists every diagram, each with a first state.
#[tokio::test]
async fn transitions_list_every_diagram() -> Result<(), Error> {
    let Some(dsn) = test_dsn("transitions_list_every_diagram") else {
        return Ok(());
    };
    let transitions = PgGraphService::connect(&dsn).await?.transitions().await?;
    for entity in ["build_request", "job_run", "partition"] {
        assert!(
            transitions.iter().any(|t| t.entity == entity && t.from_state.is_none()),
            "no first state of {entity}: {transitions:?}"
        );
    }
    assert!(transitions
        .iter()
        .any(|t| t.entity == "partition" && t.from_state.as_deref() == Some("BUILDING") && t.to_state == "AVAILABLE"));
    Ok(())
}
