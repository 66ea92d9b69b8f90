//! Many followers of one filter: waiting holds no database connection, and one commit
//! wakes them all with a handful of queries, not one each.
use std::time::Duration;

use bel_http_tests::*;

const FOLLOWERS: usize = 200;
const POOL_SIZE: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_waiting_followers_share_queries_and_hold_no_connections() {
    let Some(base) = base_dsn("capacity") else { return };
    let dsn = fresh_db(&base, "capacity").await;
    let tagged = format!("{dsn} application_name=bel_http_capacity");
    let server = TestServer::start_at(&tagged, "127.0.0.1:0".parse().unwrap(), POOL_SIZE).await;
    let http = server.http();
    until("listening", Duration::from_secs(10), || async { http.get("/healthz").await.status == 200 }).await;
    let since = http.get("/v1/events?partition_pattern=data/cap/*").await.page().next_idx;

    let polls: Vec<_> = (0..FOLLOWERS)
        .map(|_| {
            let http = http.clone();
            let path = format!("/v1/events?since_idx={since}&partition_pattern=data/cap/*&wait_ms=20000");
            tokio::spawn(async move { http.get(&path).await })
        })
        .collect();
    until("every follower waiting", Duration::from_secs(20), || async {
        http.metric("bel_long_polls_waiting").await >= FOLLOWERS as f64
    })
    .await;
    let observer = connect(&base).await;
    let connections: i64 = observer
        .query_one("select count(*) from pg_stat_activity where application_name = 'bel_http_capacity'", &[])
        .await
        .unwrap()
        .get(0);
    assert!(connections <= (POOL_SIZE + 1) as i64, "{connections} connections for {FOLLOWERS} waiting polls");

    let queries_before = http.metric("bel_event_page_queries_total").await;
    let idx = append(&connect(&dsn).await, &build_received("cap", &["data/cap/1"])).await;
    for poll in polls {
        assert_eq!(poll.await.unwrap().page().idxs(), vec![idx]);
    }
    let queries = http.metric("bel_event_page_queries_total").await - queries_before;
    eprintln!(
        "{FOLLOWERS} waiting followers of one filter: {connections} database connections while waiting, \
         {queries} page queries to wake them all"
    );
    assert!(queries <= (FOLLOWERS / 10) as f64, "{queries} queries for {FOLLOWERS} followers");
    server.stop().await;
}
