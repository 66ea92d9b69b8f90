//! End-to-end checks of `PgGraphService` against a real database with `CREATE EXTENSION bel`
//! named by `BEL_TEST_DSN` (without it: a failure under CI, a skip elsewhere). Every run works in
//! its own partition namespace (`bel-client-test/<run>/...`), so runs never collide and
//! the filters keep each run's reads to its own events.
use std::collections::BTreeSet;
use std::time::Duration;

use bel_client::{sql, BuildEvent, Error, EventFilter, GraphService, PgGraphService, SubscribeOptions};
use bel_client_tests::{run_id, test_dsn};
use bel_core::pb::PartitionStatus;
use futures_util::StreamExt;

fn event(json: serde_json::Value) -> BuildEvent {
    bel_core::event::from_json(&json.to_string()).expect("test event is valid JSON")
}

fn received(build: &str, partition: &str) -> BuildEvent {
    event(serde_json::json!({
        "buildRequestId": build,
        "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [partition]}
    }))
}

/// A small deterministic generator: the test needs variety, not quality randomness.
struct Lcg(u64);
impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 33) % below
    }
}

/// Concurrent writers with random delays inside their transactions and random rollbacks;
/// two followers must each see exactly the committed events, once each, in idx order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_see_every_committed_event_once_in_order() -> Result<(), Error> {
    let Some(dsn) = test_dsn("followers_see_every_committed_event_once_in_order") else {
        return Ok(());
    };
    let run = run_id("follow");
    let filter = EventFilter { partition_patterns: vec![format!("bel-client-test/{run}/**")], ..Default::default() };
    let service = PgGraphService::connect(&dsn).await?;
    let options = SubscribeOptions { page_limit: 7, poll_interval: Duration::from_millis(200), ..Default::default() };
    let followers: Vec<_> = (0..2).map(|_| service.subscribe_with(filter.clone(), 0, options.clone())).collect();

    let mut writers = Vec::new();
    for writer in 0..4u64 {
        let dsn = dsn.clone();
        let run = run.clone();
        writers.push(tokio::spawn(async move {
            let (mut client, connection) = tokio_postgres::connect(&dsn, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            let mut random = Lcg(writer + 1);
            let mut committed = Vec::new();
            for n in 0..30 {
                let tx = client.transaction().await?;
                let idx = sql::append(
                    &tx,
                    &received(&format!("{run}-w{writer}-{n}"), &format!("bel-client-test/{run}/w{writer}/{n}")),
                )
                .await?;
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
    for writer in writers {
        committed.extend(writer.await.expect("writer task")?);
    }

    for mut follower in followers {
        let mut delivered = Vec::new();
        while delivered.len() < committed.len() {
            let next = tokio::time::timeout(Duration::from_secs(30), follower.next()).await;
            let event = next.expect("follower delivers within 30 s").expect("follower stream never ends")?;
            delivered.push(event.idx);
        }
        // Nothing more arrives: no duplicates or strays after the last committed event.
        assert!(tokio::time::timeout(Duration::from_millis(600), follower.next()).await.is_err());
        assert!(delivered.windows(2).all(|w| w[0] < w[1]), "strictly increasing: {delivered:?}");
        assert_eq!(delivered, committed.iter().copied().collect::<Vec<_>>());
        assert!(follower.resume_idx() >= *committed.last().unwrap_or(&0));
    }

    // The plain GraphService read agrees with the followers.
    let page = service.list_events(0, &filter, 1000).await?;
    assert_eq!(page.events.iter().map(|e| e.idx).collect::<Vec<_>>(), committed.into_iter().collect::<Vec<_>>());
    Ok(())
}

/// wait_for_partition returns once the partition becomes AVAILABLE, appended while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_for_partition_sees_it_become_available() -> Result<(), Error> {
    let Some(dsn) = test_dsn("wait_for_partition_sees_it_become_available") else {
        return Ok(());
    };
    let run = run_id("wait");
    let build = format!("{run}-b");
    let partition = format!("bel-client-test/{run}/p");
    let service = PgGraphService::connect(&dsn).await?;

    let waiter = {
        let service = PgGraphService::connect(&dsn).await?;
        let partition = partition.clone();
        tokio::spawn(async move { service.wait_for_partition(&partition, Duration::from_secs(30)).await })
    };
    let steps = [
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [partition]}}),
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_PLANNING"}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_REQUESTED"}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_ANALYZED"}}),
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}}),
        serde_json::json!({"jobRun": {"jobRunId": format!("{run}-j"), "jobLabel": "etl", "status": "JOB_RUN_SCHEDULED", "targetPartitions": [partition]}}),
        serde_json::json!({"buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}}),
        serde_json::json!({"jobRun": {"jobRunId": format!("{run}-j"), "status": "JOB_RUN_RUNNING"}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_BUILDING", "jobRunId": format!("{run}-j")}}),
        serde_json::json!({"partition": {"partitionRef": partition, "status": "PARTITION_AVAILABLE", "jobRunId": format!("{run}-j")}}),
    ];
    let mut last_idx = 0;
    for mut step in steps {
        step["buildRequestId"] = serde_json::Value::String(build.clone());
        last_idx = service.append(&event(step)).await?;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let row = waiter.await.expect("waiter task")?;
    assert_eq!(row.status(), Some(PartitionStatus::PartitionAvailable));
    assert_eq!(row.last_idx, Some(last_idx));

    // Already available: answered from bel.partition_status at once.
    let again = service.wait_for_partition(&partition, Duration::from_secs(1)).await?;
    assert_eq!(again.status(), Some(PartitionStatus::PartitionAvailable));

    // An unknown partition times out.
    let missing = service.wait_for_partition(&format!("{partition}-missing"), Duration::from_millis(300)).await;
    assert!(matches!(missing, Err(Error::Timeout { .. })), "{missing:?}");
    Ok(())
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
