//! Followers on a hot standby (docs/no-loss-cursor.md, "Followers on hot standbys"),
//! against a real primary and a real streaming standby (`scripts/test.sh standby`).
use std::time::Duration;

use bel_client::{sql, DatabaseConfig, EventFilter, EventPage, GraphService, PgGraphService, SubscribeOptions};
use bel_standby_tests::*;
use tokio_postgres::Client;

fn options(page_limit: i64) -> SubscribeOptions {
    SubscribeOptions {
        page_limit,
        poll_interval: Duration::from_millis(50),
        replay_wait: Duration::from_millis(200),
        ..Default::default()
    }
}

fn replica(pair: &Pair) -> DatabaseConfig {
    DatabaseConfig::parse(&pair.standby).unwrap()
}

fn glob(pattern: &str) -> EventFilter {
    EventFilter { partition_patterns: vec![pattern.into()], ..Default::default() }
}

fn idxs(page: &EventPage) -> Vec<i64> {
    page.events.iter().map(|e| e.idx).collect()
}

/// Checks a follower's deliveries against the committed events: same idx, same order.
fn assert_exact(name: &str, got: &[i64], expected: &[i64]) {
    let mut sorted = got.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let lost: Vec<_> = expected.iter().filter(|i| sorted.binary_search(i).is_err()).collect();
    let extra: Vec<_> = sorted.iter().filter(|i| expected.binary_search(i).is_err()).collect();
    assert!(lost.is_empty(), "{name}: lost {} events, first {:?}", lost.len(), &lost[..lost.len().min(10)]);
    assert!(extra.is_empty(), "{name}: delivered {} events that never committed: {extra:?}", extra.len());
    assert_eq!(got.len(), sorted.len(), "{name}: duplicated events");
    assert!(got.windows(2).all(|w| w[0] < w[1]), "{name}: reordered events");
    assert_eq!(got, expected, "{name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_on_the_standby_get_exactly_what_committed_on_the_primary() {
    let pair = fresh_pair("exact").await;
    let service = PgGraphService::connect(&pair.primary).await.unwrap();
    // Followers on the standby with several page sizes and a glob, and one on the primary.
    let followers = [
        ("standby, pages of 3", service.subscribe_replica(replica(&pair), EventFilter::default(), 0, options(3))),
        ("standby, pages of 50", service.subscribe_replica(replica(&pair), EventFilter::default(), 0, options(50))),
        ("standby, pages of 1000", service.subscribe_replica(replica(&pair), EventFilter::default(), 0, options(1000))),
        ("standby, glob data/sb/w3/*", service.subscribe_replica(replica(&pair), glob("data/sb/w3/*"), 0, options(20))),
        ("primary", service.subscribe_with(EventFilter::default(), 0, options(50))),
    ];
    let mut running: Vec<_> = followers.into_iter().map(|(name, s)| (name, deliveries(s))).collect();

    run_writers(&pair.primary, 8, Duration::from_secs(6), "exact").await;

    let primary = connect(&pair.primary).await;
    let all = committed(&primary, "%").await;
    let writer3 = committed(&primary, "data/sb/w3/%").await;
    assert!(all.len() > 1000, "the writers committed only {} events", all.len());
    let holes = all.last().copied().unwrap_or(0) - all.len() as i64;
    assert!(holes > 0, "rollbacks left holes below the last idx");
    for (name, (rx, task)) in &mut running {
        let expected = if name.contains("glob") { &writer3 } else { &all };
        let got = receive_until(rx, expected.last().copied().unwrap_or(0)).await;
        assert_exact(name, &got, expected);
        task.abort();
    }
    println!("{} events committed by 8 writers ({holes} idx rolled back), each follower got exactly them", all.len());
}

/// Replay paused on purpose: the standby cannot show what the primary committed since, so
/// a page below a fresh horizon waits and answers `replayBehind` with the cursor where it
/// was; followers wait, and get every event once replay resumes.
#[tokio::test]
async fn with_replay_paused_followers_wait_and_never_skip() {
    let pair = fresh_pair("paused").await;
    let service = PgGraphService::connect(&pair.primary).await.unwrap();
    let primary = connect(&pair.primary).await;
    let standby = connect(&pair.standby).await;
    let (mut rx, task) = deliveries(service.subscribe_replica(replica(&pair), EventFilter::default(), 0, options(7)));

    let mut appended = Vec::new();
    for n in 0..20 {
        appended.push(sql::append(&primary, &received(&format!("paused-a{n}"), &partition_of(0, n))).await.unwrap());
    }
    assert_eq!(receive_until(&mut rx, *appended.last().unwrap()).await, appended);

    standby.batch_execute("SELECT pg_wal_replay_pause()").await.unwrap();
    let result = async {
        wait_paused(&standby).await;
        // Committed on the primary while the standby does not replay, with a rollback hole.
        for n in 20..50 {
            appended
                .push(sql::append(&primary, &received(&format!("paused-a{n}"), &partition_of(0, n))).await.unwrap());
        }
        primary.batch_execute("BEGIN").await.unwrap();
        sql::append(&primary, &received("paused-rolled-back", "data/sb/rb")).await.unwrap();
        primary.batch_execute("ROLLBACK").await.unwrap();
        appended.push(sql::append(&primary, &received("paused-last", &partition_of(0, 50))).await.unwrap());

        let horizon = sql::horizon(&primary).await.unwrap();
        let last = *appended.last().unwrap();
        assert_eq!((horizon.idx, horizon.in_flight_idx), (last, 0));
        // The standby holds only the first 20: a page below the horizon must not be served.
        let page =
            sql::list_events_page_at(&standby, 20, &EventFilter::default(), 1000, &horizon, Duration::from_millis(300))
                .await
                .unwrap();
        assert!(page.replay_behind && page.events.is_empty() && page.next_idx == 20 && !page.has_more, "{page:?}");
        // What the LSN protects against: the same page with an LSN the standby has replayed
        // would move the cursor over 31 events the standby cannot see yet.
        let replayed: String = standby.query_one("SELECT pg_last_wal_replay_lsn()::text", &[]).await.unwrap().get(0);
        let stale = standby
            .query_one(
                "SELECT bel.list_events_page(20, '{}'::jsonb, 1000, $1, $2::text::pg_lsn, 0)->>'nextIdx'",
                &[&horizon.idx, &replayed],
            )
            .await
            .unwrap()
            .get::<_, String>(0);
        assert_eq!(
            stale,
            last.to_string(),
            "a page below an unreplayed horizon skips: the LSN check is what prevents it"
        );

        // The follower is waiting on the standby (inside the replay wait), and has not moved.
        wait_for_replay_waiter(&standby).await;
        assert!(rx.try_recv().is_err(), "nothing can be delivered while replay is paused");
        Ok::<i64, String>(last)
    }
    .await;
    standby.batch_execute("SELECT pg_wal_replay_resume()").await.unwrap();
    let last = result.unwrap();

    let got = receive_until(&mut rx, last).await;
    assert_exact("follower across the pause", &got, &appended[20..]);
    task.abort();
}

async fn wait_paused(standby: &Client) {
    for _ in 0..1000 {
        let state: String = standby.query_one("SELECT pg_get_wal_replay_pause_state()", &[]).await.unwrap().get(0);
        if state == "paused" {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("replay did not pause within 10 s");
}

/// Until a backend of the standby is waiting for replay inside a page read.
async fn wait_for_replay_waiter(standby: &Client) {
    for _ in 0..1000 {
        let waiting: i64 = standby
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                 WHERE query LIKE '%list_events_page%pg_lsn%' AND wait_event_type = 'Extension' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no follower waited for replay on the standby within 10 s");
}

/// A transaction left open on the primary holds WAL that nothing flushes for a while (it
/// may not commit for hours); the horizon's LSN covers it, so `bel.horizon()` asks the WAL
/// writer to flush up to it, and standby followers are not held back.
#[tokio::test]
async fn an_open_transaction_on_the_primary_does_not_hold_standby_followers() {
    let pair = fresh_pair("open").await;
    let primary = connect(&pair.primary).await;
    let standby = connect(&pair.standby).await;
    primary.batch_execute("CREATE TABLE other_work (x int)").await.unwrap();
    wait_replayed(&primary, &standby).await;
    // Once first, so that what it writes (catalog pages pruned in a new database) is flushed
    // by the append's commit: then the open transaction's insert is the only WAL not flushed.
    sql::horizon(&primary).await.unwrap();
    let open = connect(&pair.primary).await;
    open.batch_execute("SELECT count(*) FROM other_work").await.unwrap();
    let idx = sql::append(&primary, &received("open-1", "data/sb/open")).await.unwrap();
    open.batch_execute("BEGIN; INSERT INTO other_work VALUES (1)").await.unwrap();

    let horizon = sql::horizon(&primary).await.unwrap();
    assert_eq!(horizon.idx, idx);
    let page = sql::list_events_page_at(&standby, 0, &EventFilter::default(), 10, &horizon, Duration::from_secs(2))
        .await
        .unwrap();
    assert!(!page.replay_behind, "the standby reached the horizon's LSN within 2 s");
    assert_eq!(idxs(&page), vec![idx]);
    open.batch_execute("ROLLBACK").await.unwrap();
}

/// The jsonb page at `horizon` as text.
async fn page_json(c: &Client, cursor: i64, pattern: &str, limit: i32, horizon: &sql::Horizon) -> String {
    let filter = serde_json::json!({"partitionPatterns": [pattern]}).to_string();
    c.query_one(
        "SELECT bel.list_events_page($1, $2::text::jsonb, $3, $4, $5)::text",
        &[&cursor, &filter, &limit, &horizon.idx, &horizon.lsn],
    )
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn standbys_read_only_below_a_horizon_from_the_primary() {
    let pair = fresh_pair("calls").await;
    let primary = connect(&pair.primary).await;
    let standby = connect(&pair.standby).await;
    for n in 0..12 {
        sql::append(&primary, &received(&format!("calls-{n}"), &format!("data/sb/calls/{}", n % 3))).await.unwrap();
    }
    let horizon = sql::horizon(&primary).await.unwrap();
    let filter = glob("data/sb/calls/1");
    let wait = Duration::from_secs(10);

    // The same pages on the standby as on the primary, in both encodings and any page size.
    for limit in [1, 2, 5, 1000] {
        let mut cursor = 0;
        loop {
            let on_primary = sql::list_events_page(&primary, cursor, &filter, limit).await.unwrap();
            let at_horizon_on_primary =
                sql::list_events_page_at(&primary, cursor, &filter, limit, &horizon, wait).await.unwrap();
            let on_standby = sql::list_events_page_at(&standby, cursor, &filter, limit, &horizon, wait).await.unwrap();
            assert_eq!(on_standby, on_primary, "limit {limit}, cursor {cursor}");
            assert_eq!(at_horizon_on_primary, on_primary, "limit {limit}, cursor {cursor}");
            let (pattern, limit32) = ("data/sb/calls/1", limit as i32);
            assert_eq!(
                page_json(&standby, cursor, pattern, limit32, &horizon).await,
                page_json(&primary, cursor, pattern, limit32, &horizon).await
            );
            cursor = on_standby.next_idx;
            if !on_standby.has_more {
                break;
            }
        }
        assert_eq!(cursor, horizon.idx);
    }

    // Reads without a horizon and horizons themselves are the primary's.
    for (c, sql, state) in [
        (&standby, "SELECT bel.list_events_page(0, '{}', 10)", "25000"),
        (&standby, "SELECT * FROM bel.horizon()", "25000"),
        (&standby, "BEGIN ISOLATION LEVEL REPEATABLE READ; SELECT bel.list_events_page(0, '{}', 10, 1, '0/0')", "25000"),
        (&primary, "BEGIN; SELECT bel.bel_append('{\"buildRequestId\":\"calls-x\",\"buildRequest\":{\"status\":\"BUILD_REQUEST_RECEIVED\",\"requestedPartitions\":[\"data/x\"]}}'); SELECT * FROM bel.horizon()", "25000"),
        (&standby, "SELECT bel.list_events_page(0, '{}', 10, -1, '0/0')", "22023"),
        (&standby, "SELECT bel.list_events_page(0, '{}', 10, 1, '0/0', -1)", "22023"),
        (&standby, "SELECT bel.list_events_page(0, '{}', 10001, 1, '0/0')", "22023"),
        (&standby, "SELECT bel.list_events_page(-1, '{}', 10, 1, '0/0')", "22023"),
    ] {
        let err = c.batch_execute(sql).await.expect_err(sql);
        assert_eq!(sqlstate(&err), state, "{sql}: {err:?}");
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    // A horizon LSN no server has reached: an empty page, the cursor unchanged, even on the
    // primary, and after the timeout only.
    let ahead = sql::Horizon { lsn: u64::MAX.into(), ..horizon };
    for c in [&primary, &standby] {
        let started = std::time::Instant::now();
        let page = sql::list_events_page_at(c, 3, &EventFilter::default(), 10, &ahead, Duration::from_millis(100))
            .await
            .unwrap();
        assert!(page.replay_behind && page.events.is_empty() && page.next_idx == 3 && !page.has_more, "{page:?}");
        assert!(started.elapsed() >= Duration::from_millis(100));
    }
    // At or past the horizon nothing is waited for.
    let page =
        sql::list_events_page_at(&standby, horizon.idx, &EventFilter::default(), 10, &ahead, Duration::from_secs(30))
            .await
            .unwrap();
    assert!(!page.replay_behind && page.events.is_empty() && page.next_idx == horizon.idx, "{page:?}");
}
