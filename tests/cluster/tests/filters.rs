//! list_events / list_events_page: every filter field and their combination, glob edge
//! cases, paging, limits, input validation, the binary twin, and reads from indexes.
mod support;
use bel_core::filter::CompiledFilter;
use support::*;
use tokio_postgres::Client;

/// A small log: builds of data/users/{1,2}, data/orders/1 and the partition literally
/// named data/*, a delegation and an invalidation.
async fn small_log(c: &Client) {
    let builds = [
        ("b1", "data/users/1", "j1", "etl/users"),
        ("b2", "data/users/2", "j2", "etl/users"),
        ("b3", "data/orders/1", "j3", "etl/orders"),
        ("b4", "data/*", "j4", "etl/star"),
    ];
    for (b, p, j, l) in builds {
        for e in full_build(b, p, j, l) {
            append(c, &e).await.unwrap();
        }
    }
    append(c, &build_event("b5", "RECEIVED", &["reports/dau/1"])).await.unwrap();
    append(c, &build_event("b5", "PLANNING", &[])).await.unwrap();
    append(c, r#"{"buildRequestId":"b5","delegation":{"partitionRef":"data/users/1"}}"#).await.unwrap();
    append(c, r#"{"invalidation":{"partitionRef":"data/orders/1","reason":"late data"}}"#).await.unwrap();
}

async fn listed(c: &Client, filter: &str) -> Vec<i64> {
    c.query("SELECT idx FROM bel.list_events(0, $1::text::jsonb, 10000)", &[&filter])
        .await
        .unwrap_or_else(|e| panic!("{filter}: {e}"))
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// What the filter must return, computed by the pure core on the stored events.
async fn expected(c: &Client, filter: &str) -> Vec<i64> {
    let f = CompiledFilter::from_json(filter).unwrap();
    c.query("SELECT idx, payload FROM bel.events ORDER BY idx", &[])
        .await
        .unwrap()
        .iter()
        .filter(|r| f.matches(&bel_core::event::from_json_value(r.get(1)).unwrap()))
        .map(|r| r.get(0))
        .collect()
}

#[tokio::test]
async fn every_field_and_combination_matches_the_documented_semantics() {
    let dsn = fresh_db("filters").await;
    let c = connect(&dsn).await;
    small_log(&c).await;
    // Hand-checked counts: a one-partition build involves its partition in 8 events
    // (RECEIVED, REQUESTED, ANALYZED, SCHEDULED, BUILDING, RUNNING, AVAILABLE, job COMPLETED).
    let cases: &[(&str, usize)] = &[
        ("{}", 52),
        (r#"{"partitionRefs":["data/users/1"]}"#, 9), // + the delegation
        (r#"{"partitionRefs":["data/users/1","data/orders/1"]}"#, 18), // + the invalidation
        (r#"{"partitionPatterns":["data/users/*"]}"#, 17),
        (r#"{"partitionPatterns":["data/users/*","data/orders/*"]}"#, 26),
        (r#"{"jobRunIds":["j1"]}"#, 5), // SCHEDULED, RUNNING, COMPLETED + BUILDING, AVAILABLE
        (r#"{"jobRunIds":["j1","j3"]}"#, 10),
        (r#"{"jobLabels":["etl/users"]}"#, 6), // the job run events of j1 and j2
        (r#"{"jobLabels":["etl/users"],"partitionRefs":["data/users/2"]}"#, 3), // AND across fields
        (r#"{"jobRunIds":["j1"],"partitionPatterns":["data/orders/*"]}"#, 0),
        (r#"{"jobRunIds":["j1","j2"],"jobLabels":["etl/users"],"partitionRefs":["data/users/1"]}"#, 3),
        (r#"{"partitionRefs":["data/users/1"],"partitionPatterns":["data/users/*"]}"#, 9),
        (r#"{"partitionRefs":["nope"]}"#, 0),
    ];
    for (filter, n) in cases {
        let got = listed(&c, filter).await;
        assert_eq!(got.len(), *n, "{filter}: {got:?}");
        assert_eq!(got, expected(&c, filter).await, "{filter}");
    }
}

#[tokio::test]
async fn glob_edge_cases() {
    let dsn = fresh_db("globs").await;
    let c = connect(&dsn).await;
    small_log(&c).await;
    let cases: &[(&str, usize)] = &[
        (r#"{"partitionPatterns":["**"]}"#, 35), // every event that involves a partition
        (r#"{"partitionPatterns":["*/users/*"]}"#, 17),
        (r#"{"partitionPatterns":["data/users/?"]}"#, 17),
        (r#"{"partitionPatterns":["data/[a-n]*/1"]}"#, 0),
        (r#"{"partitionPatterns":["data/[o-z]*/1"]}"#, 18),
        (r#"{"partitionPatterns":["data/[!u]*/1"]}"#, 9),
        (r#"{"partitionPatterns":["data/{users,orders}/1"]}"#, 18),
        (r#"{"partitionPatterns":["data/\\*"]}"#, 8), // only the ref literally named data/*
        (r#"{"partitionPatterns":["data/*"]}"#, 8),   // * stays within a segment
        (r#"{"partitionPatterns":["nothing/**"]}"#, 0),
    ];
    for (filter, n) in cases {
        let got = listed(&c, filter).await;
        assert_eq!(got.len(), *n, "{filter}: {got:?}");
        assert_eq!(got, expected(&c, filter).await, "{filter}");
    }
}

#[tokio::test]
async fn paging_through_ten_thousand_events_sees_each_once_in_order() {
    let dsn = fresh_db("paging").await;
    let c = connect(&dsn).await;
    for chunk in 0..10 {
        let events: Vec<serde_json::Value> = (0..84)
            .flat_map(|i| {
                let n = chunk * 84 + i;
                full_build(&format!("b{n}"), &format!("data/ds{}/{n}", n % 3), &format!("j{n}"), "etl")
            })
            .map(|e| serde_json::from_str(&e).unwrap())
            .collect();
        c.query("SELECT bel.bel_append_batch($1::text::jsonb)", &[&serde_json::to_string(&events).unwrap()])
            .await
            .unwrap();
    }
    let max: i64 = c.query_one("SELECT max(idx) FROM bel.events", &[]).await.unwrap().get(0);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 10_080);
    for (filter, limit) in [("{}", 7), ("{}", 100), (r#"{"partitionPatterns":["data/ds1/*"]}"#, 7), ("{}", 1000)] {
        let want = expected(&c, filter).await;
        let mut got = Vec::new();
        let mut cursor = 0;
        loop {
            let p = page(&c, cursor, filter, limit).await.unwrap();
            if p.has_more {
                assert_eq!(p.events.len(), limit as usize, "a page with more after it is full");
                assert_eq!(p.next_idx, p.events.last().unwrap().0);
            }
            got.extend(p.events.iter().map(|(i, _)| *i));
            assert!(p.next_idx >= cursor);
            cursor = p.next_idx;
            if !p.has_more {
                assert_eq!(p.next_idx, max, "the last page moves the cursor to the end of the log");
                break;
            }
        }
        assert_eq!(got, want, "{filter} limit {limit}");
    }
    // limit 1 over the first 300 events.
    let mut cursor = 0;
    for expected_idx in expected(&c, "{}").await.into_iter().take(300) {
        let p = page(&c, cursor, "{}", 1).await.unwrap();
        assert_eq!(p.events.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![expected_idx]);
        assert!(p.has_more);
        cursor = p.next_idx;
    }
}

#[tokio::test]
async fn empty_log_limit_zero_and_one() {
    let dsn = fresh_db("limits").await;
    let c = connect(&dsn).await;
    let p = page(&c, 0, "{}", 100).await.unwrap();
    assert!(p.events.is_empty() && !p.has_more && p.next_idx == 0 && p.in_flight_idx == 0);
    let first = append(&c, &build_event("b1", "RECEIVED", &["p"])).await.unwrap();
    let second = append(&c, &build_event("b1", "PLANNING", &[])).await.unwrap();
    let p = page(&c, 0, "{}", 0).await.unwrap();
    assert!(p.events.is_empty());
    assert_eq!(p.next_idx, 0, "limit 0 does not move the cursor");
    assert!(p.has_more, "limit 0 still says whether there is something to read");
    let p = page(&c, 0, r#"{"partitionRefs":["other"]}"#, 0).await.unwrap();
    assert!(!p.has_more);
    let p = page(&c, 0, "{}", 1).await.unwrap();
    assert_eq!(p.events[0].0, first);
    assert!(p.has_more);
    let p = page(&c, p.next_idx, "{}", 1).await.unwrap();
    assert_eq!(p.events[0].0, second);
    assert!(!p.has_more);
    assert_eq!(p.next_idx, second);
    // Cursor beyond the end: nothing, and the cursor stays.
    let p = page(&c, second + 100, "{}", 10).await.unwrap();
    assert!(p.events.is_empty() && p.next_idx == second + 100);
}

#[tokio::test]
async fn bad_reads_are_refused_with_their_sqlstate() {
    let dsn = fresh_db("bad_reads").await;
    let c = connect(&dsn).await;
    let cases: &[(i64, &str, i32, &str)] = &[
        (-1, "{}", 10, "22023"),
        (0, "{}", -1, "22023"),
        (0, "{}", 10_001, "22023"),
        (0, r#"{"bogus":[]}"#, 10, "22P02"),
        (0, r#"{"partitionRefs":"x"}"#, 10, "22P02"),
        (0, r#"{"partitionPatterns":["data/[a"]}"#, 10, "22023"),
        (0, r#"{"partitionRefs":[""]}"#, 10, "22023"),
    ];
    for (since, filter, limit, code) in cases {
        let e = page(&c, *since, filter, *limit).await.expect_err(filter);
        assert_eq!(sqlstate(&e), *code, "{since} {filter} {limit}: {e}");
    }
}

#[tokio::test]
async fn the_psql_calls_of_the_spec_resolve_and_the_binary_twin_agrees() {
    let dsn = fresh_db("psql_calls").await;
    let c = connect(&dsn).await;
    small_log(&c).await;
    let rows = c
        .query(r#"select * from bel.list_events(0, '{"partitionPatterns":["data/users/*"]}', 100)"#, &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 17);
    for r in &rows {
        let event: serde_json::Value = r.get("event");
        let idx: i64 = r.get("idx");
        assert_eq!(event["idx"], idx.to_string());
    }
    let n: i32 = c
        .query_one("select jsonb_array_length(bel.list_events_page(0, '{}', 10)->'events')", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(n, 10);
    c.query_one("select bel.list_events_page(0)", &[]).await.unwrap();

    let filter = bel_core::pb::EventFilter { partition_patterns: vec!["data/users/*".into()], ..Default::default() };
    let bytes = prost::Message::encode_to_vec(&filter);
    let binary: Vec<u8> = c
        .query_one("select bel.list_events_page($1::bigint, $2::bytea, $3::int)", &[&0i64, &bytes, &5i32])
        .await
        .unwrap()
        .get(0);
    let binary: bel_core::pb::EventPage = prost::Message::decode(binary.as_slice()).unwrap();
    let json = page(&c, 0, r#"{"partitionPatterns":["data/users/*"]}"#, 5).await.unwrap();
    assert_eq!(
        binary.events.iter().map(|e| e.idx).collect::<Vec<_>>(),
        json.events.iter().map(|(i, _)| *i).collect::<Vec<_>>()
    );
    assert_eq!((binary.next_idx, binary.has_more), (json.next_idx, json.has_more));
    assert_eq!(binary.events[0].build_request_id, "b1");
}

/// Selective reads come from indexes: the events table is never scanned sequentially.
#[tokio::test]
async fn selective_reads_do_not_scan_the_log() {
    let dsn = fresh_db("no_seq_scan").await;
    let c = connect(&dsn).await;
    for chunk in 0..20 {
        let events: Vec<serde_json::Value> = (0..84)
            .flat_map(|i| {
                let n = chunk * 84 + i;
                full_build(&format!("b{n}"), &format!("data/ds{}/{n}", n % 7), &format!("j{n}"), "etl")
            })
            .map(|e| serde_json::from_str(&e).unwrap())
            .collect();
        c.query("SELECT bel.bel_append_batch($1::text::jsonb)", &[&serde_json::to_string(&events).unwrap()])
            .await
            .unwrap();
    }
    c.batch_execute("ANALYZE bel.events; ANALYZE bel.event_partitions; ANALYZE bel.known_partitions").await.unwrap();
    let stats = "SELECT seq_scan, idx_scan FROM pg_stat_user_tables WHERE schemaname = 'bel' AND relname = 'events'";
    let reader = connect(&dsn).await;
    reader.batch_execute("SELECT pg_stat_force_next_flush()").await.unwrap();
    let before = c.query_one(stats, &[]).await.unwrap();
    let (seq_before, idx_before): (i64, i64) = (before.get(0), before.get(1));
    for filter in [
        r#"{"partitionRefs":["data/ds3/500"]}"#,
        r#"{"partitionPatterns":["data/ds3/5*"]}"#,
        r#"{"jobRunIds":["j77"]}"#,
        r#"{"jobLabels":["etl"]}"#,
    ] {
        for since in [0i64, 10_000] {
            page(&reader, since, filter, 100).await.unwrap();
        }
    }
    reader.batch_execute("SELECT pg_stat_force_next_flush()").await.unwrap();
    c.batch_execute("SELECT pg_stat_clear_snapshot()").await.unwrap();
    let after = c.query_one(stats, &[]).await.unwrap();
    let (seq_after, idx_after): (i64, i64) = (after.get(0), after.get(1));
    assert_eq!(seq_after, seq_before, "a selective read scanned bel.events sequentially");
    assert!(idx_after > idx_before, "the reads used the indexes");
}

/// Pages read in one long transaction do not pile up in it: what a read copies out of SPI
/// is freed when the call returns, not at commit (a follower may poll in one transaction).
#[tokio::test]
async fn reading_pages_in_one_transaction_does_not_grow_its_memory() {
    let dsn = fresh_db("page_memory").await;
    let c = connect(&dsn).await;
    let events: Vec<serde_json::Value> = (0..12)
        .flat_map(|n| full_build(&format!("b{n}"), &format!("data/m/{n}"), &format!("j{n}"), "etl"))
        .map(|e| serde_json::from_str(&e).unwrap())
        .collect();
    c.query("SELECT bel.bel_append_batch($1::text::jsonb)", &[&serde_json::to_string(&events).unwrap()]).await.unwrap();
    let transaction_bytes = "SELECT total_bytes FROM pg_backend_memory_contexts WHERE name = 'TopTransactionContext'";
    c.batch_execute("BEGIN").await.unwrap();
    // Warm up (statements prepared, caches filled), then measure 500 more pages.
    c.query("SELECT bel.list_events_page(0, '{}', 100) FROM generate_series(1, 10)", &[]).await.unwrap();
    let before: i64 = c.query_one(transaction_bytes, &[]).await.unwrap().get(0);
    let pages = c.query("SELECT bel.list_events_page(0, '{}', 100) FROM generate_series(1, 500)", &[]).await.unwrap();
    assert_eq!(pages.len(), 500);
    let after: i64 = c.query_one(transaction_bytes, &[]).await.unwrap().get(0);
    c.batch_execute("COMMIT").await.unwrap();
    // 500 pages of 100 events are ~15 MB; a leak of even one page per call would show.
    assert!(after - before < 1 << 20, "the transaction's memory grew by {} bytes over 500 pages", after - before);
}

/// Pages through the log with `filter` from `since`, as a follower does, and returns the
/// idx values it was given (checking the page contract on the way).
async fn follow_all(c: &Client, since: i64, filter: &str, limit: i32) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut cursor = since;
    loop {
        let p = page(c, cursor, filter, limit).await.unwrap_or_else(|e| panic!("{filter} from {cursor}: {e}"));
        assert!(p.events.len() <= limit as usize, "{filter}: page over its limit");
        for (idx, _) in &p.events {
            assert!(*idx > cursor && seen.last().is_none_or(|l| idx > l), "{filter}: {idx} out of order");
            seen.push(*idx);
        }
        assert!(p.next_idx >= cursor, "{filter}: the cursor went back from {cursor} to {}", p.next_idx);
        if !p.has_more {
            return seen;
        }
        assert!(p.next_idx > cursor, "{filter}: hasMore without progress at {cursor}");
        cursor = p.next_idx;
    }
}

/// A glob page is answered three ways (the partition index when the glob matches few
/// partitions and the cursor is far behind, a walk of the log near the tail, a walk in
/// bounded windows when the glob matches thousands of partitions): every way returns
/// exactly the events the pure filter selects, from any cursor, with any page size.
#[tokio::test]
async fn glob_pages_return_the_same_events_whichever_way_they_are_read() {
    let dsn = fresh_db("filters_glob_plans").await;
    let c = connect(&dsn).await;
    // 3,000 "wide" partitions (more than the index is used for) and 7 "narrow" ones, owned
    // by four builds; then 4,200 builds that each delegate one of each: ~25,000 events, a
    // log longer than one walk window (20,000 idx).
    let mut events = Vec::new();
    let owners: Vec<(String, Vec<String>)> = (0..3)
        .map(|b| (format!("wide-{b}"), (0..1000).map(|i| format!("wide/{b}/{i:04}")).collect()))
        .chain([("narrow".to_owned(), (0..7).map(|i| format!("narrow/{i}")).collect())])
        .collect();
    for (owner, refs) in &owners {
        let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
        events.push(build_event(owner, "RECEIVED", &refs));
        events.push(build_event(owner, "PLANNING", &[]));
        events.extend(refs.iter().map(|r| partition_event(owner, r, "REQUESTED", "")));
    }
    for i in 0..4_200 {
        let b = format!("n{i}");
        let narrow = format!("narrow/{}", i % 7);
        let wide = format!("wide/{}/{:04}", i % 3, i % 1000);
        events.push(build_event(&b, "RECEIVED", &[&narrow, &wide]));
        events.push(build_event(&b, "PLANNING", &[]));
        for part in [&narrow, &wide] {
            events.push(format!(r#"{{"buildRequestId":"{b}","delegation":{{"partitionRef":"{part}"}}}}"#));
        }
        events.push(build_event(&b, "CANCELLED", &[]));
    }
    for chunk in events.chunks(1_000) {
        let json = format!("[{}]", chunk.join(","));
        c.execute("SELECT count(*) FROM bel.bel_append_batch($1::text::jsonb)", &[&json]).await.unwrap();
    }
    let last: i64 = count(&c, "SELECT max(idx) FROM bel.events").await;
    assert!(last > 20_000, "the log must be longer than one walk window, it has {last} events");
    for filter in [
        r#"{"partitionPatterns":["narrow/*"]}"#,            // few partitions: the index
        r#"{"partitionPatterns":["wide/**"]}"#,             // 3,000 partitions: windows of the log
        r#"{"partitionPatterns":["wide/1/*","narrow/3"]}"#, // 1,001
        r#"{"partitionPatterns":["*/0*"]}"#,                // no literal prefix
    ] {
        let want = expected(&c, filter).await;
        assert!(!want.is_empty(), "{filter} selects nothing");
        for (since, limit) in [(0, 1000), (0, 7), (last - 300, 50), (last - 5_000, 10_000), (last - 1, 1)] {
            let expect: Vec<i64> = want.iter().copied().filter(|i| *i > since).collect();
            assert_eq!(follow_all(&c, since, filter, limit).await, expect, "{filter} from {since}, limit {limit}");
        }
    }
}
