//! `#[pg_test]`s of the SQL surface, run inside Postgres by `cargo pgrx test pg15`.
//! Concurrency, roles and the no-loss stress test live in tests/cluster (real connections).
use pgrx::prelude::*;

fn append(json: &str) -> i64 {
    Spi::get_one_with_args::<i64>("SELECT bel.bel_append($1::jsonb)", &[json.into()]).expect("append").expect("idx")
}

fn build_event(build: &str, status: &str, extra: &str) -> String {
    format!(r#"{{"buildRequestId":"{build}","buildRequest":{{"status":"BUILD_REQUEST_{status}"{extra}}}}}"#)
}

fn partition_event(build: &str, part: &str, status: &str, job: &str) -> String {
    format!(
        r#"{{"buildRequestId":"{build}","partition":{{"partitionRef":"{part}","status":"PARTITION_{status}","jobRunId":"{job}"}}}}"#
    )
}

fn job_event(build: &str, job: &str, status: &str, targets: &str) -> String {
    format!(
        r#"{{"buildRequestId":"{build}","jobRun":{{"jobRunId":"{job}","jobLabel":"etl","status":"JOB_RUN_{status}","targetPartitions":[{targets}]}}}}"#
    )
}

/// A whole successful build of one partition; returns the last idx.
fn full_build(build: &str, part: &str, job: &str) -> i64 {
    append(&build_event(build, "RECEIVED", &format!(r#","requestedPartitions":["{part}"]"#)));
    append(&build_event(build, "PLANNING", ""));
    append(&partition_event(build, part, "REQUESTED", ""));
    append(&partition_event(build, part, "ANALYZED", ""));
    append(&build_event(build, "ANALYSIS_COMPLETED", ""));
    append(&job_event(build, job, "SCHEDULED", &format!(r#""{part}""#)));
    append(&build_event(build, "EXECUTING", ""));
    append(&partition_event(build, part, "BUILDING", job));
    append(&job_event(build, job, "RUNNING", ""));
    append(&partition_event(build, part, "AVAILABLE", job));
    append(&job_event(build, job, "COMPLETED", ""));
    append(&build_event(build, "COMPLETED", ""))
}

fn count(sql: &str) -> i64 {
    Spi::get_one::<i64>(sql).expect("query").unwrap_or(0)
}

#[pg_schema]
mod tests {
    use super::*;

    #[pg_test]
    fn untyped_literal_append_returns_idx() {
        let idx = Spi::get_one::<i64>(
            r#"select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/users/2026-11-01"]}}')"#,
        )
        .unwrap()
        .unwrap();
        assert!(idx > 0);
        assert_eq!(count("select count(*) from bel.events"), 1);
        let status = Spi::get_one::<String>("select status from bel.build_request_state where build_request_id = 'b1'");
        assert_eq!(status.unwrap().as_deref(), Some("RECEIVED"));
    }

    #[pg_test]
    fn full_build_projects_and_verifies() {
        let last = full_build("b1", "data/users/2026-11-01", "j1");
        assert_eq!(count("select count(*) from bel.events"), 12);
        assert_eq!(count("select max(idx) from bel.events"), last);
        let status = Spi::get_one::<String>(
            "select status from bel.partition_status(array['data/users/*']) where partition_ref = 'data/users/2026-11-01'",
        );
        assert_eq!(status.unwrap().as_deref(), Some("AVAILABLE"));
        assert_eq!(count("select count(*) from bel.verify()"), 0);
        let summary = Spi::get_one::<pgrx::JsonB>("select bel.build_summary('b1')").unwrap().unwrap().0;
        assert_eq!(summary["status"], "COMPLETED");
        assert_eq!(summary["partitionsByStatus"]["AVAILABLE"][0], "data/users/2026-11-01");
        assert_eq!(summary["jobRunsByStatus"]["COMPLETED"][0], "j1");
        assert_eq!(summary["eventCount"], 12);
        assert_eq!(
            count("select count(*) from bel.job_runs('b1', 'etl') where status = 'COMPLETED' and exit_code = 0"),
            1
        );
    }

    #[pg_test]
    fn rebuild_reproduces_projections() {
        full_build("b1", "data/a/1", "j1");
        full_build("b2", "data/a/2", "j2");
        let before = Spi::get_one::<pgrx::JsonB>(
            "select jsonb_agg(to_jsonb(p) order by partition_ref) from bel.partition_status() p",
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(count("select bel.rebuild_projections()"), 24);
        let after = Spi::get_one::<pgrx::JsonB>(
            "select jsonb_agg(to_jsonb(p) order by partition_ref) from bel.partition_status() p",
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(before, after);
        assert_eq!(count("select count(*) from bel.verify()"), 0);
    }

    #[pg_test]
    fn verify_reports_a_tampered_projection() {
        full_build("b1", "data/a/1", "j1");
        Spi::run("update bel.partition_state set status = 'FAILED' where partition_ref = 'data/a/1'").unwrap();
        assert_eq!(count("select count(*) from bel.verify() where entity = 'partition' and key = 'data/a/1'"), 1);
    }

    #[pg_test]
    fn idempotent_retry_returns_first_idx() {
        let json = r#"{"eventId":"e-1","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}"#;
        let first = append(json);
        let again = append(json);
        assert_eq!(first, again);
        assert_eq!(count("select count(*) from bel.events"), 1);
    }

    #[pg_test(error = "build request \"b1\" is RECEIVED; allowed next states: PLANNING, FAILED, CANCELLED")]
    fn invalid_transition_names_allowed_states() {
        append(&build_event("b1", "RECEIVED", r#","requestedPartitions":["p"]"#));
        append(&build_event("b1", "EXECUTING", ""));
    }

    #[pg_test(error = "bel.events is append-only: DELETE is not allowed")]
    fn delete_is_refused() {
        append(&build_event("b1", "RECEIVED", r#","requestedPartitions":["p"]"#));
        Spi::run("delete from bel.events").unwrap();
    }

    #[pg_test(error = "bel.events is append-only: TRUNCATE is not allowed")]
    fn truncate_is_refused() {
        Spi::run("truncate bel.events").unwrap();
    }

    #[pg_test(error = "bel.events is append-only: UPDATE is not allowed")]
    fn update_is_refused_even_in_replica_mode() {
        append(&build_event("b1", "RECEIVED", r#","requestedPartitions":["p"]"#));
        Spi::run("set session_replication_role = replica").unwrap();
        Spi::run("update bel.events set event_type = 'partition'").unwrap();
    }

    #[pg_test(
        error = "event 1 of the batch: build request \"b1\" is RECEIVED; allowed next states: PLANNING, FAILED, CANCELLED"
    )]
    fn batch_errors_name_the_position() {
        Spi::run(
            r#"select bel.bel_append_batch('[
                {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}},
                {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}]')"#,
        )
        .unwrap();
    }

    #[pg_test]
    fn batch_appends_in_order() {
        let n = count(
            r#"select count(*) from bel.bel_append_batch('[
                {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}},
                {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
                {"buildRequestId":"b1","partition":{"partitionRef":"p","status":"PARTITION_REQUESTED"}}]')"#,
        );
        assert_eq!(n, 3);
        assert_eq!(count("select count(*) from bel.partition_status(array['p'])"), 1);
    }

    #[pg_test(
        error = "malformed BuildEvent JSON: unknown field `bogus`, expected one of `idx`, `event_id`, `eventId`, `timestamp`, `build_request_id`, `buildRequestId`, `build_request`, `buildRequest`, `partition`, `job_run`, `jobRun`, `delegation`, `invalidation` at line 1 column 8"
    )]
    fn unknown_fields_are_refused() {
        append(r#"{"bogus":1}"#);
    }

    #[pg_test]
    fn protobuf_append_and_binary_page() {
        use bel_core::pb;
        let event =
            bel_core::event::from_json(&build_event("b1", "RECEIVED", r#","requestedPartitions":["data/x/1"]"#))
                .unwrap();
        let bytes = prost::Message::encode_to_vec(&event);
        let idx = Spi::get_one_with_args::<i64>("select bel.bel_append($1::bytea)", &[bytes.into()]).unwrap().unwrap();
        let filter = prost::Message::encode_to_vec(&pb::EventFilter {
            partition_patterns: vec!["data/**".into()],
            ..Default::default()
        });
        let page_bytes =
            Spi::get_one_with_args::<Vec<u8>>("select bel.list_events_page(0, $1::bytea, 10)", &[filter.into()])
                .unwrap()
                .unwrap();
        let page: pb::EventPage = prost::Message::decode(page_bytes.as_slice()).unwrap();
        assert_eq!(page.events.len(), 1, "page: {page:?}");
        assert_eq!(page.events[0].idx, idx);
        assert_eq!(page.next_idx, idx);
        assert!(!page.has_more);
    }

    /// How pages were built by SQL before read.rs wrote them from the stored payloads
    /// (spi::jsonb_page): the reference their bytes are compared with. An unfiltered page:
    /// $1 since_idx, $2 the horizon, $3 limit, $4 the in-flight idx.
    const PAGE_BUILT_BY_SQL: &str = "SELECT jsonb_build_object(
         'events', coalesce(jsonb_agg(jsonb_build_object('idx', e.idx::text) || e.payload ORDER BY e.idx)
                            FILTER (WHERE e.n <= $3), '[]'::jsonb),
         'nextIdx', (CASE WHEN count(*) > $3 THEN coalesce(max(e.idx) FILTER (WHERE e.n <= $3), $1)
                          ELSE $2 END)::text,
         'hasMore', count(*) > $3,
         'inFlightIdx', CASE WHEN count(*) > $3 THEN '0' ELSE $4 END)
     FROM (SELECT x.idx, x.payload, row_number() OVER (ORDER BY x.idx) AS n FROM bel.events x
           WHERE x.idx > $1 AND x.idx <= $2 ORDER BY x.idx LIMIT $3 + 1) e";

    /// JSON pages are, byte for byte, the pages SQL built with jsonb_build_object, `||` and
    /// jsonb_agg, at every cursor and limit around holes, page ends, the log's end and a
    /// horizon below it held by an append in flight; and they are the protobuf twin's pages,
    /// whose events are decoded in place.
    #[pg_test]
    fn json_pages_are_the_bytes_sql_built() {
        use crate::no_loss::Horizon;
        use crate::read::{read_page, read_page_json, Below};
        use crate::spi::jsonb_text::JsonbValue;
        use bel_core::pb;
        let first = full_build("u1", "data/u/1", "ju1") - 12;
        // Idx values taken and never used: holes the pages must pass.
        Spi::run("select nextval('bel.events_idx_seq') from generate_series(1, 3)").unwrap();
        full_build("u2", "data/u/2", "ju2");
        // An event at the size limit (its stored text, with the idx added, is over it), its payload
        // stored compressed; pages of more than 32 events (JEntries that store offsets).
        let refs: Vec<String> = (0..1020).map(|i| format!("data/big/{i:04}/{}", "y".repeat(990))).collect();
        let event = |message: &str| {
            serde_json::json!({"buildRequestId": "u3", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED",
                "requestedPartitions": refs, "message": message}})
            .to_string()
        };
        let text_length = "select octet_length($1::jsonb::text)::bigint";
        let base = Spi::get_one_with_args::<i64>(text_length, &[event("").into()]).unwrap().unwrap() as usize;
        append(&event(&"x".repeat(bel_core::event::MAX_EVENT_BYTES - base)));
        let stored = "select octet_length(payload::text)::bigint from bel.events where build_request_id = 'u3'";
        // Stored with the fields bel fills in (eventId, time): over the limit as stored.
        assert!(count(stored) as usize > bel_core::event::MAX_EVENT_BYTES);
        let size = "select pg_column_size(payload)::bigint from bel.events where build_request_id = 'u3'";
        assert!(count(size) < 100_000, "stored compressed");
        full_build("u4", "data/u/4", "ju4");
        full_build("u5", "data/u/5", "ju5");
        let last = count("select last_value from bel.events_idx_seq");
        let filter = bel_core::filter::CompiledFilter::new(&pb::EventFilter::default()).unwrap();
        let (mut full, mut compared) = (0, 0);
        for h in [Horizon { idx: last, in_flight: None }, Horizon { idx: last - 5, in_flight: Some(last - 4) }] {
            for since in [first, first + 1, first + 11, first + 12, first + 13, first + 14, h.idx - 7, h.idx - 1] {
                for limit in [0, 1, 5, 12, 13, 40, 100] {
                    let below = Below::Replayed(h);
                    let page = read_page_json(since, &filter, limit, below);
                    let in_flight = h.in_flight.unwrap_or(0).to_string();
                    let by_sql = Spi::get_one_with_args::<JsonbValue>(
                        PAGE_BUILT_BY_SQL,
                        &[since.into(), h.idx.into(), limit.into(), in_flight.into()],
                    )
                    .unwrap()
                    .unwrap();
                    let text = page.text();
                    assert!(
                        page.bytes() == by_sql.bytes(),
                        "{h:?}, since {since}, limit {limit}: {text}\nSQL: {}",
                        by_sql.text()
                    );
                    let got: pb::EventPage = serde_json::from_str(&text).unwrap();
                    let proto = read_page(since, &filter, limit, below).to_proto();
                    assert_eq!(got, proto, "{h:?}, since {since}, limit {limit}: {text}");
                    assert!(got.events.iter().all(|e| e.idx <= h.idx && e.payload.is_some()), "{text}");
                    full += usize::from(got.has_more);
                    compared += got.events.len();
                }
            }
        }
        assert!(full > 0 && compared > 100, "{full} full pages, {compared} events");
        let widest = read_page(first, &filter, 100, Below::Replayed(Horizon { idx: last, in_flight: None }));
        assert!(widest.rows.len() > 32, "a page of {} events", widest.rows.len());
        // At or past the horizon: an empty page, the cursor unchanged.
        let h = Horizon { idx: last, in_flight: Some(last + 1) };
        let page = read_page_json(last, &filter, 10, Below::Replayed(h)).text();
        let empty: serde_json::Value = serde_json::from_str(&page).unwrap();
        assert_eq!(
            empty,
            serde_json::json!({"events": [], "nextIdx": last.to_string(), "hasMore": false, "inFlightIdx": (last + 1).to_string()})
        );
    }

    /// An event with its idx, as list_events returns it, is byte for byte
    /// `jsonb_build_object('idx', idx::text) || payload`, for the log's events and for every
    /// shape of object: keys that sort before, around and after "idx" (by length, then
    /// bytes), an "idx" of its own (kept, as `||` keeps it), more than 32 keys (JEntries that
    /// store offsets), numerics and containers after odd-length strings (padding), nesting.
    #[pg_test]
    fn events_with_their_idx_are_the_bytes_sql_makes() {
        use crate::spi::jsonb_text::JsonbValue;
        full_build("w1", "data/w/1", "jw1");
        let log = Spi::connect(|c| {
            c.select(
                "select idx, payload, jsonb_build_object('idx', idx::text) || payload from bel.events order by idx",
                None,
                &[],
            )
            .unwrap()
            .map(|r| {
                (
                    r.get::<i64>(1).unwrap().unwrap(),
                    r.get::<JsonbValue>(2).unwrap().unwrap(),
                    r.get::<JsonbValue>(3).unwrap().unwrap(),
                )
            })
            .collect::<Vec<_>>()
        });
        assert!(log.len() >= 12);
        let wide: String =
            (0..40).map(|i| format!(r#""k{i}{}": {i}"#, "x".repeat(i % 5))).collect::<Vec<_>>().join(", ");
        let objects = [
            "{}".to_owned(),
            r#"{"a": 1}"#.to_owned(),
            r#"{"id": "x", "ida": 2.50, "idy": [1, "odd", {"n": -1e20}], "abcd": {"x": "yz"}, "i": null}"#.to_owned(),
            r#"{"idx": "its own", "zzz": true, "zzzz": false}"#.to_owned(),
            r#"{"aaaa": "odd", "bbbb": 12345678901234567890123, "cccc": "o", "dddd": [[["é ✓ 😀"]]], "eeee": {}}"#
                .to_owned(),
            format!("{{{wide}}}"),
        ];
        let synthetic = objects.iter().enumerate().map(|(i, json)| {
            let idx = [1, 7, 42, 1234567890123, i64::MAX, 0][i];
            let row = Spi::get_two_with_args::<JsonbValue, JsonbValue>(
                "select $1::jsonb, jsonb_build_object('idx', $2::text) || $1::jsonb",
                &[json.as_str().into(), idx.into()],
            )
            .unwrap();
            (idx, row.0.unwrap(), row.1.unwrap())
        });
        for (idx, payload, by_sql) in log.into_iter().chain(synthetic) {
            let written = crate::spi::jsonb_page::event_with_idx(idx, &payload);
            assert!(written.bytes() == by_sql.bytes(), "idx {idx}: {} vs SQL {}", written.text(), by_sql.text());
        }
        // list_events: each event with its idx and its stored columns, in idx order.
        let columns = "idx, event_type, build_request_id, partition_ref, job_run_id, job_label, created_at::text";
        let listed = format!(
            "select string_agg(concat_ws('|', {columns}, event::text), E'\\n' order by idx) from bel.list_events(0, '{{}}', 1000)"
        );
        let stored = format!(
            "select string_agg(concat_ws('|', {columns}, (jsonb_build_object('idx', idx::text) || payload)::text), E'\\n' order by idx) from bel.events"
        );
        let (listed, stored) =
            (Spi::get_one::<String>(&listed).unwrap().unwrap(), Spi::get_one::<String>(&stored).unwrap().unwrap());
        assert_eq!(listed.lines().count(), 12);
        assert_eq!(listed, stored);
    }

    #[pg_test]
    fn pages_advance_past_non_matching_events() {
        full_build("b1", "data/users/1", "j1");
        full_build("b2", "data/orders/1", "j2");
        let page = Spi::get_one::<pgrx::JsonB>(
            r#"select bel.list_events_page(0, '{"partitionPatterns":["data/users/*"]}', 100)"#,
        )
        .unwrap()
        .unwrap()
        .0;
        let events = page["events"].as_array().unwrap();
        // RECEIVED, REQUESTED, ANALYZED, SCHEDULED, BUILDING, RUNNING, AVAILABLE, COMPLETED(job)
        assert_eq!(events.len(), 8, "page: {page}");
        assert_eq!(page["hasMore"], false);
        // The sequence is not rolled back between tests: compare with the log itself.
        let last = count("select max(idx) from bel.events");
        let first = count("select min(idx) from bel.events");
        assert_eq!(page["nextIdx"], last.to_string());
        let one = Spi::get_one::<pgrx::JsonB>(
            r#"select bel.list_events_page(0, '{"partitionPatterns":["data/users/*"]}', 1)"#,
        )
        .unwrap()
        .unwrap()
        .0;
        assert_eq!(one["hasMore"], true);
        assert_eq!(one["nextIdx"], first.to_string());
        // j2: its SCHEDULED, RUNNING, COMPLETED and the partition's BUILDING, AVAILABLE.
        assert_eq!(count("select count(*) from bel.list_events(0, '{\"jobRunIds\":[\"j2\"]}', 100)"), 5);
        assert_eq!(count("select count(*) from bel.list_events(0, '{\"jobLabels\":[\"etl\"]}', 100)"), 6);
        assert_eq!(count("select count(*) from bel.list_events(0, '{\"jobLabels\":[\"etl\"],\"partitionRefs\":[\"data/users/1\"]}', 100)"), 3);
        assert_eq!(count("select count(*) from bel.list_events(0, '{}', 0)"), 0);
    }

    fn texts(sql: &str) -> Vec<String> {
        Spi::connect(|c| {
            c.select(sql, None, &[])
                .expect("query")
                .map(|r| r.get::<String>(1).expect("column").expect("not null"))
                .collect()
        })
    }

    /// Requests partitions so they show in partition_status (REQUESTED, owned by `build`).
    fn request(build: &str, parts: &[&str]) {
        let list = parts.iter().map(|p| format!("\"{p}\"")).collect::<Vec<_>>().join(",");
        append(&build_event(build, "RECEIVED", &format!(r#","requestedPartitions":[{list}]"#)));
        append(&build_event(build, "PLANNING", ""));
        for p in parts {
            append(&partition_event(build, p, "REQUESTED", ""));
        }
    }

    #[pg_test]
    fn partition_status_pages_in_ref_order_with_globs() {
        request("pg1", &["data/a/1", "data/a/2", "data/a/3", "data/a.x", "data/b/1", "data/a"]);
        let all = "select partition_ref from bel.partition_status('{data/a/*,data/b/*}')";
        assert_eq!(texts(all), ["data/a/1", "data/a/2", "data/a/3", "data/b/1"]);
        // Pages of two, each after the previous page's last ref: the same rows, once.
        let page = |after: &str| {
            texts(&format!("select partition_ref from bel.partition_status('{{data/a/*,data/b/*}}', {after}, 2)"))
        };
        assert_eq!(page("null"), ["data/a/1", "data/a/2"]);
        assert_eq!(page("'data/a/2'"), ["data/a/3", "data/b/1"]);
        assert_eq!(page("'data/b/1'"), Vec::<String>::new());
        // No patterns: every partition, paged; a ref equal to a literal prefix is included.
        // ("." sorts before "/" in the C collation.)
        assert_eq!(
            texts("select partition_ref from bel.partition_status(null, 'data/a', 2)"),
            ["data/a.x", "data/a/1"]
        );
        assert_eq!(texts("select partition_ref from bel.partition_status(null, 'data/a/3', 3)"), ["data/b/1"]);
        assert_eq!(texts("select partition_ref from bel.partition_status('{data/a}')"), ["data/a"]);
        assert_eq!(count("select count(*) from bel.partition_status(null, null, 0)"), 0);
    }

    #[pg_test(error = "limit must be between 0 and 10000, got -1")]
    fn partition_status_refuses_a_negative_limit() {
        count("select count(*) from bel.partition_status(null, null, -1)");
    }

    #[pg_test]
    fn build_summary_times_are_utc_whatever_the_session_time_zone() {
        request("tz1", &["tz/1"]);
        Spi::run("SET LOCAL TimeZone = 'Asia/Tokyo'").expect("set TimeZone");
        let summary = Spi::get_one::<pgrx::JsonB>("select bel.build_summary('tz1')").unwrap().unwrap().0;
        for field in ["firstEventAt", "lastEventAt"] {
            let at = summary[field].as_str().unwrap_or_default();
            assert!(at.ends_with("+00:00"), "{field} = {at:?}");
        }
        assert!(summary["jobRuns"].as_array().is_some_and(|r| r.is_empty()));
    }

    #[pg_test]
    fn partition_counts_by_status() {
        request("pc1", &["c/x/1", "c/x/2", "c/y/1"]);
        full_build("pc2", "c/x/3", "pc2-j");
        let rows = |sql: &str| {
            Spi::connect(|c| {
                c.select(sql, None, &[])
                    .expect("query")
                    .map(|r| (r.get::<String>(1).unwrap().unwrap(), r.get::<i64>(2).unwrap().unwrap()))
                    .collect::<Vec<_>>()
            })
        };
        assert_eq!(
            rows("select * from bel.partition_counts('{c/x/*}')"),
            [("AVAILABLE".to_owned(), 1), ("REQUESTED".to_owned(), 2)]
        );
        assert_eq!(
            rows("select * from bel.partition_counts()"),
            [("AVAILABLE".to_owned(), 1), ("REQUESTED".to_owned(), 3)]
        );
    }

    #[pg_test]
    fn build_requests_newest_first_paged_by_first_idx() {
        request("br-old", &["br/1"]);
        request("br-mid", &["br/2"]);
        request("br-new", &["br/3"]);
        let ids = |sql: &str| texts(&format!("select build_request_id from bel.build_requests{sql}"));
        assert_eq!(ids("()"), ["br-new", "br-mid", "br-old"]);
        assert_eq!(ids("(null, 2)"), ["br-new", "br-mid"]);
        let mid_first = count("select first_idx from bel.build_request_state where build_request_id = 'br-mid'");
        assert_eq!(ids(&format!("({mid_first}, 2)")), ["br-old"]);
    }

    #[pg_test]
    fn transitions_come_from_the_core_tables() {
        let n = count("select count(*) from bel.transitions()");
        assert_eq!(n as usize, bel_core::diagram::all_transitions().len());
        assert_eq!(
            count("select count(*) from bel.transitions() where entity = 'partition' and from_state is null"),
            1
        );
    }

    /// The allocation lock is transaction-level: an ERROR raised while an append holds it,
    /// on a path that never releases it (a failpoint of test builds), still frees it when
    /// the subtransaction that failed is rolled back. A session-level lock would stay held
    /// and block every follower until this backend disconnects. With the in-flight slots
    /// (these tests preload bel), the slot marked ALLOCATING is cleared the same way, or
    /// every follower would wait for it.
    #[pg_test]
    fn an_error_that_skips_the_release_of_the_allocation_lock_still_frees_it() {
        crate::no_loss::fail_next_allocation();
        let before = count("select count(*) from bel.events");
        Spi::run(
            r#"DO $$ BEGIN
                 PERFORM bel.bel_append('{"buildRequestId":"b-fail","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p/fail"]}}'::jsonb);
                 RAISE EXCEPTION 'the failpoint did not fire';
               EXCEPTION WHEN internal_error THEN
                 NULL;
               END $$"#,
        )
        .expect("the append's error is caught in the block");
        assert_eq!(count("select count(*) from bel.events"), before, "the failed append wrote nothing");
        let allocation_locks = "select count(*) from pg_locks where pid = pg_backend_pid() \
             and locktype = 'advisory' and (objsubid::int & 65535) = x'BE01'::int";
        assert_eq!(count(allocation_locks), 0, "the allocation lock went with the failed subtransaction");
        assert_eq!(
            crate::no_loss::own_slot_allocating(),
            Some(false),
            "bel is preloaded, and its slot's ALLOCATING mark went with the failed subtransaction"
        );
        // And appends and reads go on in this transaction.
        let idx = append(&build_event("b-after", "RECEIVED", r#","requestedPartitions":["p/after"]"#));
        assert!(count("select count(*) from bel.list_events(0, '{}', 1000)") >= 1, "appended {idx}");
    }

    #[pg_test]
    fn transitions_show_their_conditions() {
        let with_condition = bel_core::diagram::all_transitions().iter().filter(|t| t.condition.is_some()).count();
        assert_eq!(
            count("select count(*) from bel.transitions() where condition is not null") as usize,
            with_condition
        );
        let building = Spi::get_one::<String>(
            "select condition from bel.transitions() where entity = 'partition' and to_state = 'BUILDING'",
        );
        assert_eq!(
            building.unwrap().as_deref(),
            Some("names a job run of the owning build that is SCHEDULED or RUNNING and targets the partition")
        );
    }

    /// The payload built in binary (spi/jsonb_build.rs) is byte for byte the jsonb that
    /// jsonb_in makes of the event's serde_json text, for every kind of field: strings with
    /// escapes and non-ASCII, enums, repeated strings (none, one, several), int32 (negative,
    /// large), the timestamp and the idx (int64 as strings).
    #[pg_test]
    fn payloads_built_in_binary_equal_jsonb_in_of_their_text() {
        let events = [
            build_event("b1", "RECEIVED", r#","requestedPartitions":["data/a","data/b","d/é ✓ 😀"]"#),
            r#"{"idx":"9223372036854775807","eventId":"e\"1\\","timestamp":"2026-11-30T12:00:00.123456Z","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_FAILED","message":"line 1\nline\t2 \u0001 \u001f"}}"#.to_owned(),
            r#"{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_FAILED","targetPartitions":[],"exitCode":-2147483648,"message":"x"}}"#.to_owned(),
            r#"{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_COMPLETED","exitCode":2147483647}}"#.to_owned(),
            partition_event("b1", "data/a", "BUILDING", "j1"),
            r#"{"buildRequestId":"b1","delegation":{"partitionRef":"data/a","delegatedToBuildRequestId":"b0","message":""}}"#.to_owned(),
            r#"{"buildRequestId":"b1","invalidation":{"partitionRef":"data/a","reason":"late data"}}"#.to_owned(),
        ];
        for json in events {
            // The event's text is serde_json's (bel_core::event::to_json_text).
            assert_binary_equals_jsonb_in(&bel_core::event::from_json(&json).unwrap());
        }
    }

    /// The binary encoder against jsonb_in for what bel's events do not hold but a value
    /// may: more than 32 elements or 16 pairs (JEntries that store offsets), keys of equal
    /// length (sorted by bytes), containers and numerics after odd-length strings (padding),
    /// numbers jsonb_in parses as numerics (negative, fractional, exponent, beyond i64),
    /// booleans, nulls, empty containers, nesting.
    #[pg_test]
    fn the_binary_encoder_equals_jsonb_in_for_every_json_shape() {
        let wide_object: serde_json::Map<String, serde_json::Value> =
            (0..40).map(|i| (format!("k{}", "x".repeat(i % 7)) + &i.to_string(), serde_json::json!(i))).collect();
        let values = [
            serde_json::json!({}),
            serde_json::json!([]),
            serde_json::json!({"b": 1, "a": 2, "ab": "x", "ba": [true, false, null], "c": {}, "": []}),
            serde_json::json!(["odd", 1, "odd3", {"n": -12.5}, "x", 1e300, 18446744073709551615u64, -9223372036854775808i64]),
            serde_json::json!((0..70)
                .map(|i| if i % 3 == 0 { serde_json::json!(i) } else { serde_json::json!("s".repeat(i)) })
                .collect::<Vec<_>>()),
            serde_json::Value::Object(wide_object),
            serde_json::json!({"nested": {"deeper": [[["é ✓ 😀", 0.1, {"z": null}]]]}, "q\"uote": "\\"}),
        ];
        for value in values {
            assert_binary_equals_jsonb_in(&value);
        }
        // A key given twice: the later value wins, as in jsonb_in.
        struct DuplicateKeys;
        impl serde::Serialize for DuplicateKeys {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                use serde::ser::SerializeMap;
                let mut map = serializer.serialize_map(None)?;
                for (key, value) in [("a", 1), ("bb", 2), ("a", 3), ("c", 4), ("bb", 5)] {
                    map.serialize_entry(key, &value)?;
                }
                map.end()
            }
        }
        assert_binary_equals_jsonb_in(&DuplicateKeys);
    }

    /// `json` as a jsonb argument would arrive (jsonb_in, read like a function argument).
    fn jsonb(json: &str) -> crate::spi::jsonb_text::JsonbValue {
        Spi::get_one_with_args::<crate::spi::jsonb_text::JsonbValue>("select $1::jsonb", &[json.into()])
            .unwrap()
            .unwrap()
    }

    /// Events read in place from binary jsonb (event_input) are the events bel-core reads
    /// from the text jsonb_out prints for them, for every field kind and spelling the proto3
    /// JSON mapping allows (original field names, enum numbers, int64 as number or string,
    /// timestamps with offsets, empty and absent fields), and they are read in place.
    #[pg_test]
    fn events_read_from_binary_jsonb_equal_events_read_from_their_text() {
        let events = [
            build_event("b1", "RECEIVED", r#","requestedPartitions":["data/a","data/b","d/é ✓ 😀"]"#),
            r#"{"idx":"12","eventId":"e\"1\\","timestamp":"2026-11-30T12:00:00.123456Z","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_FAILED","message":"line 1\nline\t2 \u0001 \u001f \u007f"}}"#.to_owned(),
            r#"{"idx":12,"timestamp":"2026-11-30T14:00:00+02:00","build_request_id":"b1","build_request":{"status":2,"requested_partitions":[]}}"#.to_owned(),
            r#"{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_FAILED","targetPartitions":[],"exitCode":-2147483648,"message":"x"}}"#.to_owned(),
            r#"{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_COMPLETED","exitCode":2147483647}}"#.to_owned(),
            r#"{"eventId":"","buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_COMPLETED","exitCode":0}}"#.to_owned(),
            partition_event("b1", "data/a", "BUILDING", "j1"),
            r#"{"buildRequestId":"b1","delegation":{"partitionRef":"data/a","delegatedToBuildRequestId":"b0","message":""}}"#.to_owned(),
            r#"{"buildRequestId":"b1","invalidation":{"partitionRef":"data/a","reason":"late data"}}"#.to_owned(),
        ];
        for json in events {
            let value = jsonb(&json);
            let text = value.text();
            let from_text = bel_core::event::from_json(&text).unwrap();
            let root = crate::spi::jsonb_read::root(value.bytes()).unwrap();
            assert_eq!(crate::event_input::decode(root), Some(from_text.clone()), "read in place: {text}");
            assert_eq!(crate::event_input::event(&value).unwrap(), from_text, "{text}");
        }
        let batch =
            jsonb(&format!("[{}, {}]", build_event("b2", "RECEIVED", ""), partition_event("b2", "p", "BUILDING", "j")));
        let from_text = bel_core::event::batch_from_json(&batch.text(), 10).unwrap();
        assert_eq!(crate::event_input::batch_in_place(&batch, 10), Some(from_text.clone()), "read in place");
        assert_eq!(crate::event_input::batch(&batch, 10).unwrap(), from_text);
    }

    /// Differential test of the two ways an event is read, over 3,000 generated JSON values
    /// (fixed seed): field names of the event and its payloads in both spellings, misspelt
    /// or unknown, with well-typed and wrongly typed values, enum names valid and not,
    /// numbers of every kind, escapes, nesting. Whatever the text path refuses, the binary
    /// reading must not accept; whatever it accepts, the binary reading must read the same.
    #[pg_test]
    fn the_binary_reading_accepts_exactly_what_the_text_reading_accepts() {
        let mut random = Random(0x5eed_1234_abcd_ef01);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..3000 {
            let value = random.event();
            let text = serde_json::to_string(&value).unwrap();
            let jsonb = jsonb(&text);
            let root = crate::spi::jsonb_read::root(jsonb.bytes()).unwrap();
            match bel_core::event::from_json(&jsonb.text()) {
                Ok(event) => {
                    accepted += 1;
                    assert_eq!(crate::event_input::decode(root), Some(event), "{text}");
                }
                Err(_) => {
                    refused += 1;
                    assert_eq!(crate::event_input::decode(root), None, "accepted in place but refused as text: {text}");
                }
            }
        }
        // Both outcomes are exercised, or the generator has drifted from the event schema.
        assert!(accepted > 300 && refused > 300, "accepted {accepted}, refused {refused}");
    }

    /// A small deterministic generator of event-like JSON (xorshift64*).
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a>(&mut self, choices: &[&'a str]) -> &'a str {
            choices[self.below(choices.len())]
        }

        fn event(&mut self) -> serde_json::Value {
            let payloads =
                ["buildRequest", "build_request", "partition", "jobRun", "job_run", "delegation", "invalidation"];
            let mut event = serde_json::Map::new();
            for key in ["idx", "eventId", "event_id", "timestamp", "buildRequestId", "build_request_id", "unknown"] {
                if self.below(3) == 0 {
                    event.insert(key.to_owned(), self.field(key, 0));
                }
            }
            if self.below(8) != 0 {
                event.insert(self.pick(&payloads).to_owned(), self.payload());
            }
            serde_json::Value::Object(event)
        }

        fn payload(&mut self) -> serde_json::Value {
            let keys = [
                "status",
                "requestedPartitions",
                "requested_partitions",
                "message",
                "partitionRef",
                "jobRunId",
                "jobLabel",
                "targetPartitions",
                "exitCode",
                "exit_code",
                "delegatedToBuildRequestId",
                "reason",
                "extra",
            ];
            let mut payload = serde_json::Map::new();
            for _ in 0..self.below(5) {
                let key = self.pick(&keys);
                payload.insert(key.to_owned(), self.field(key, 0));
            }
            serde_json::Value::Object(payload)
        }

        /// Usually a value of the field's type, sometimes anything.
        fn field(&mut self, key: &str, depth: usize) -> serde_json::Value {
            use serde_json::json;
            if self.below(4) == 0 {
                return self.any(depth);
            }
            match key {
                "idx" => [json!(self.below(1000)), json!(self.below(1000).to_string()), json!(-5), json!("x")]
                    [self.below(4)]
                .clone(),
                "timestamp" => json!(self.pick(&[
                    "2026-11-30T12:00:00Z",
                    "2026-11-30T12:00:00.5+02:00",
                    "yesterday",
                    "2026-13-01T00:00:00Z"
                ])),
                "status" => {
                    let names = [
                        "BUILD_REQUEST_RECEIVED",
                        "PARTITION_AVAILABLE",
                        "JOB_RUN_RUNNING",
                        "JOB_RUN_COMPLETED",
                        "DONE",
                    ];
                    if self.below(3) == 0 {
                        json!(self.below(12))
                    } else {
                        json!(self.pick(&names))
                    }
                }
                "requestedPartitions" | "requested_partitions" | "targetPartitions" => {
                    serde_json::Value::Array((0..self.below(4)).map(|_| self.string()).collect())
                }
                "exitCode" | "exit_code" => {
                    [json!(0), json!(-2147483648i64), json!(2147483648i64), json!(1.0), json!(1.5), json!("3")]
                        [self.below(6)]
                    .clone()
                }
                _ => self.string(),
            }
        }

        fn string(&mut self) -> serde_json::Value {
            serde_json::json!(self.pick(&[
                "",
                "data/p",
                "b1",
                "é ✓ 😀",
                "tab\there",
                "quote\"back\\slash",
                "\u{1}\u{1f}"
            ]))
        }

        fn any(&mut self, depth: usize) -> serde_json::Value {
            use serde_json::json;
            match self.below(if depth < 3 { 9 } else { 7 }) {
                0 => json!(null),
                1 => json!(self.below(2) == 0),
                2 => json!(self.below(100) as i64 - 50),
                3 => json!(18446744073709551615u64),
                4 => json!(-0.25),
                5 => json!(1e300),
                6 => self.string(),
                7 => serde_json::Value::Array((0..self.below(3)).map(|_| self.any(depth + 1)).collect()),
                _ => {
                    let key = self.pick(&["status", "a", "message"]).to_owned();
                    json!({ key: self.any(depth + 1) })
                }
            }
        }
    }

    /// Arguments read from a table arrive compressed or out of line (TOAST): they are read
    /// in place after detoasting, and stored as given.
    #[pg_test]
    fn events_stored_compressed_or_out_of_line_are_appended_as_given() {
        Spi::run("create table toasted (kind text, e jsonb)").unwrap();
        Spi::run("alter table toasted alter column e set storage external").unwrap();
        let event = |build: &str| {
            build_event(
                build,
                "RECEIVED",
                &format!(r#","requestedPartitions":["toast/p"],"message":"{}""#, "m".repeat(60_000)),
            )
        };
        Spi::run_with_args("insert into toasted values ('external', $1::jsonb)", &[event("toast-1").into()]).unwrap();
        Spi::run("alter table toasted alter column e set storage extended").unwrap();
        Spi::run_with_args("insert into toasted values ('compressed', $1::jsonb)", &[event("toast-2").into()]).unwrap();
        let batch = format!("[{}, {}]", event("toast-3"), build_event("toast-3", "PLANNING", ""));
        Spi::run_with_args("insert into toasted values ('batch', $1::jsonb)", &[batch.as_str().into()]).unwrap();
        assert_eq!(
            count("select count(*) from toasted where pg_column_compression(e) is not null"),
            2,
            "the compressed rows"
        );
        Spi::run("select bel.bel_append(e) from toasted where kind <> 'batch'").unwrap();
        Spi::run("select bel.bel_append_batch(e) from toasted where kind = 'batch'").unwrap();
        assert_eq!(
            count(
                "select count(*) from bel.events where build_request_id like 'toast-%'
                   and payload->'buildRequest'->>'message' = repeat('m', 60000)"
            ),
            3
        );
    }

    /// Reading in place stops where serde_json stops: 127 nested containers are read (by a
    /// type that takes any JSON), 128 are not, and the text length is computed for the same.
    #[pg_test]
    fn reading_in_place_nests_as_deep_as_serde_json() {
        use serde::Deserialize;
        for containers in [126, 127, 128, 500] {
            let text = format!("{}{}", "[".repeat(containers), "]".repeat(containers));
            let value = jsonb(&text);
            let root = crate::spi::jsonb_read::root(value.bytes()).unwrap();
            let in_place = serde_json::Value::deserialize(crate::spi::jsonb_de::Deserializer::new(root));
            let from_text = serde_json::from_str::<serde_json::Value>(&text);
            assert_eq!(in_place.is_ok(), from_text.is_ok(), "{containers} containers");
            assert_eq!(crate::spi::jsonb_read::text_length(root, 0).is_ok(), from_text.is_ok(), "{containers}");
            if let Ok(v) = in_place {
                assert_eq!(v, from_text.unwrap());
            }
        }
    }

    /// The size of an event read in place is the length of the text jsonb_out prints for it.
    #[pg_test]
    fn the_text_length_of_binary_jsonb_is_what_jsonb_out_prints() {
        let texts = [
            "{}",
            "[]",
            "null",
            "true",
            "false",
            "\"\"",
            "0",
            "-0",
            "1.50",
            "1e3",
            "-12345678901234567890.000001",
            "18446744073709551616",
            r#""\b\f\n\r\t\"\\ \u0001\u001f\u007f é ✓ 😀 /""#,
            r#"{"a": 1, "bb": [true, false, null, {}, []], "": {"x": "y"}, "c": [[1, [2, [3]]]]}"#,
            r#"[{"k": "v"}, "s", 1, 2.5, null]"#,
        ];
        let wide: Vec<String> = (0..70).map(|i| format!("\"k{i}\": [{i}, \"{}\"]", "x".repeat(i))).collect();
        let wide = format!("{{{}}}", wide.join(", "));
        for text in texts.iter().copied().chain([wide.as_str()]) {
            let value = jsonb(text);
            let root = crate::spi::jsonb_read::root(value.bytes()).unwrap();
            assert_eq!(crate::spi::jsonb_read::text_length(root, 0).unwrap(), value.text().len(), "{text}");
        }
    }

    /// What the binary reading does not accept goes to the text path, which refuses it as
    /// before, with the same class, message, detail and hint: malformed events, an event one
    /// byte over the size limit (and one at the limit, accepted either way), a batch that
    /// is not an array, has too many events, or a bad one.
    #[pg_test]
    fn events_refused_from_binary_jsonb_are_refused_as_from_their_text() {
        use bel_core::event::MAX_EVENT_BYTES;
        let sized = |length: usize| {
            let base =
                r#"{"buildRequestId": "big", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "message": "\n"}}"#;
            let padding = "x".repeat(length - base.len());
            base.replace("\\n", &format!("\\n{padding}"))
        };
        let at_limit = jsonb(&sized(MAX_EVENT_BYTES));
        assert_eq!(at_limit.text().len(), MAX_EVENT_BYTES);
        let root = crate::spi::jsonb_read::root(at_limit.bytes()).unwrap();
        assert!(crate::event_input::decode(root).is_some(), "an event at the limit is read in place");
        let refused = [
            sized(MAX_EVENT_BYTES + 1),
            r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED"},"priority":1}"#.to_owned(),
            r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_DONE"}}"#.to_owned(),
            r#"{"buildRequestId":7,"buildRequest":{"status":"BUILD_REQUEST_RECEIVED"}}"#.to_owned(),
            r#"{"buildRequestId":"b1","timestamp":"yesterday","buildRequest":{"status":"BUILD_REQUEST_RECEIVED"}}"#
                .to_owned(),
            r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":"p"}}"#
                .to_owned(),
            r#"{"eventId":null,"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED"}}"#.to_owned(),
            r#"["b1"]"#.to_owned(),
            r#""b1""#.to_owned(),
        ];
        for json in &refused {
            let value = jsonb(json);
            let from_text = bel_core::event::from_json(&value.text()).unwrap_err();
            assert_eq!(format!("{:?}", crate::event_input::event(&value).unwrap_err()), format!("{from_text:?}"));
        }
        for (json, max) in [
            (format!("{{\"events\": [{}]}}", build_event("b3", "RECEIVED", "")), 10),
            (
                format!(
                    "[{}, {}, {}]",
                    build_event("b3", "RECEIVED", ""),
                    build_event("b3", "PLANNING", ""),
                    build_event("b3", "PLANNING", "")
                ),
                2,
            ),
            (format!("[{}, {}]", build_event("b3", "RECEIVED", ""), refused[1]), 10),
            (format!("[{}, {}]", build_event("b3", "RECEIVED", ""), refused[0]), 10),
        ] {
            let value = jsonb(&json);
            let from_text = bel_core::event::batch_from_json(&value.text(), max).unwrap_err();
            assert_eq!(format!("{:?}", crate::event_input::batch(&value, max).unwrap_err()), format!("{from_text:?}"));
        }
    }

    fn assert_binary_equals_jsonb_in<T: serde::Serialize>(value: &T) {
        let text = serde_json::to_string(value).unwrap();
        let binary = crate::spi::jsonb_build::to_jsonb(value);
        let parsed = pgrx::IntoDatum::into_datum(crate::spi::jsonb_text::JsonbText(text.clone())).unwrap();
        // SAFETY: both are jsonb varlenas just made in the current memory context.
        let (binary, parsed) = unsafe { (varlena_bytes(binary), varlena_bytes(parsed)) };
        assert_eq!(binary, parsed, "{text}");
    }

    /// The bytes of a varlena datum (header included).
    unsafe fn varlena_bytes(datum: pg_sys::Datum) -> Vec<u8> {
        // SAFETY: the caller passes an untoasted varlena with a 4-byte header.
        unsafe {
            let ptr = datum.cast_mut_ptr::<pg_sys::varlena>();
            let len = pgrx::varsize_any(ptr);
            std::slice::from_raw_parts(ptr.cast::<u8>(), len).to_vec()
        }
    }

    /// A NUL character, which a protobuf string may carry, is refused as jsonb_in refuses
    /// the `\u0000` of the event's JSON text.
    #[pg_test(error = "unsupported Unicode escape sequence")]
    fn a_nul_character_in_a_protobuf_event_is_refused() {
        let mut event =
            bel_core::event::from_json(&build_event("nul", "RECEIVED", r#","requestedPartitions":["data/n"]"#))
                .unwrap();
        if let Some(bel_core::pb::build_event::Payload::BuildRequest(b)) = event.payload.as_mut() {
            b.message = "before\0after".to_owned();
        }
        let bytes = prost::Message::encode_to_vec(&event);
        Spi::get_one_with_args::<i64>("select bel.bel_append($1::bytea)", &[bytes.into()]).unwrap();
    }

    /// The log's rows are written without an INSERT statement (row_write.rs): every index of
    /// bel.events and bel.event_partitions still holds every row (amcheck's heapallindexed
    /// fails on a missing entry), created_at is the column's default, the table's CHECK
    /// constraints are enforced, and a table with an INSERT trigger or a default bel does not
    /// write is refused.
    #[pg_test]
    fn log_rows_are_indexed_dated_checked_and_never_pass_a_trigger() {
        build_in_progress("direct", "direct/p", "direct/o");
        let batch = format!(
            "[{}, {}]",
            build_event("direct-batch", "RECEIVED", r#","requestedPartitions":["direct/b1","direct/b2"]"#),
            build_event("direct-batch", "PLANNING", "").replacen('{', r#"{"eventId":"direct-batch-planning","#, 1)
        );
        Spi::run_with_args("select bel.bel_append_batch($1::jsonb)", &[batch.as_str().into()]).unwrap();
        Spi::run("create extension if not exists amcheck").unwrap();
        let checked = count(
            "select count(bt_index_check(i.indexrelid, true)) from pg_index i
             where i.indrelid in ('bel.events'::regclass, 'bel.event_partitions'::regclass)",
        );
        assert_eq!(checked, 6, "the events' 5 indexes and the partition index");
        assert_eq!(count("select count(*) from bel.events where job_label = 'etl' and job_run_id like 'direct-j%'"), 3);
        assert_eq!(count("select count(*) from bel.event_partitions where partition_ref like 'direct/b_'"), 2);
        assert_eq!(count("select count(*) from bel.events where created_at <> now()"), 0);

        Spi::run("alter table bel.events add constraint no_forbidden_build check (build_request_id <> 'forbidden')")
            .unwrap();
        let refused = refusal(&append_sql(&build_event("forbidden", "RECEIVED", r#","requestedPartitions":["f/1"]"#)));
        assert_eq!(refused["sqlstate"], "23514", "{refused}");

        Spi::run("create function public.direct_noop() returns trigger language plpgsql as 'begin return new; end'")
            .unwrap();
        Spi::run("create trigger audit after insert on bel.events for each row execute function public.direct_noop()")
            .unwrap();
        let refused = refusal(&append_sql(&build_event("audited", "RECEIVED", r#","requestedPartitions":["a/1"]"#)));
        assert_eq!(refused["sqlstate"], "0A000", "{refused}");
        assert_eq!(refused["message"], "bel.events has an INSERT trigger", "{refused}");
        assert!(refused["hint"].as_str().is_some_and(|h| h.contains("drop the trigger")), "{refused}");

        Spi::run("drop trigger audit on bel.events").unwrap();
        Spi::run("alter table bel.event_partitions add column note text default 'x'").unwrap();
        let refused = refusal(&append_sql(&build_event("noted", "RECEIVED", r#","requestedPartitions":["n/1"]"#)));
        assert_eq!(refused["sqlstate"], "0A000", "{refused}");
        assert_eq!(
            refused["message"], "column \"note\" of bel.event_partitions has a default that bel does not write",
            "{refused}"
        );
    }

    /// The projections are written without a statement too (write.rs): each changed row
    /// replaces the version the append holds, with every index entry a non-HOT update
    /// needs (amcheck's heapallindexed), equal to a replay (bel.verify), before and after a
    /// rebuild; a column bel does not write keeps its value, as under an UPDATE; an UPDATE
    /// trigger, or a generated column, on a projection is refused.
    #[pg_test]
    fn projection_rows_are_replaced_indexed_and_never_pass_a_trigger() {
        full_build("proj-1", "proj/p1", "proj/j1");
        build_in_progress("proj-2", "proj/p2", "proj/p3");
        let batch: Vec<String> = (0..40)
            .flat_map(|i| {
                let (b, p) = (format!("proj-b{i}"), format!("proj/b{i}"));
                [
                    build_event(&b, "RECEIVED", &format!(r#","requestedPartitions":["{p}"]"#)),
                    build_event(&b, "PLANNING", ""),
                    partition_event(&b, &p, "REQUESTED", ""),
                    partition_event(&b, &p, "ANALYZED", ""),
                ]
            })
            .collect();
        Spi::run_with_args("select bel.bel_append_batch($1::jsonb)", &[format!("[{}]", batch.join(",")).into()])
            .unwrap();
        Spi::run("create extension if not exists amcheck").unwrap();
        let projection_indexes = "select count(bt_index_check(i.indexrelid, true)) from pg_index i
             where i.indrelid in ('bel.build_request_state'::regclass, 'bel.job_run_state'::regclass,
                                  'bel.partition_state'::regclass, 'bel.known_partitions'::regclass)";
        assert_eq!(count(projection_indexes), 8, "2 + 3 + 2 indexes of the projections, 1 of the known partitions");
        assert_eq!(count("select count(*) from bel.verify()"), 0);
        assert_eq!(
            count(
                "select count(*) from bel.partition_state where partition_ref like 'proj/b%' and status = 'ANALYZED'"
            ),
            40
        );
        assert!(count("select bel.rebuild_projections()") > 0);
        assert_eq!(count(projection_indexes), 8);
        assert_eq!(count("select count(*) from bel.verify()"), 0);

        Spi::run("alter table bel.partition_state add column note text").unwrap();
        Spi::run("update bel.partition_state set note = 'kept' where partition_ref = 'proj/p2'").unwrap();
        append(&job_event("proj-2", "proj-2-j2", "RUNNING", ""));
        append(&partition_event("proj-2", "proj/p2", "BUILDING", "proj-2-j2"));
        let row = Spi::get_two::<String, String>(
            "select status, note from bel.partition_state where partition_ref = 'proj/p2'",
        )
        .unwrap();
        assert_eq!(row, (Some("BUILDING".to_owned()), Some("kept".to_owned())), "the unwritten column keeps its value");

        Spi::run("create function public.proj_noop() returns trigger language plpgsql as 'begin return new; end'")
            .unwrap();
        Spi::run(
            "create trigger audit after update on bel.partition_state for each row execute function public.proj_noop()",
        )
        .unwrap();
        let refused = refusal(&append_sql(&partition_event("proj-2", "proj/p2", "AVAILABLE", "proj-2-j2")));
        assert_eq!(refused["sqlstate"], "0A000", "{refused}");
        assert_eq!(refused["message"], "bel.partition_state has an UPDATE trigger", "{refused}");
        assert!(refused["hint"].as_str().is_some_and(|h| h.contains("drop the trigger")), "{refused}");
        Spi::run("drop trigger audit on bel.partition_state").unwrap();
        append(&partition_event("proj-2", "proj/p2", "AVAILABLE", "proj-2-j2"));

        Spi::run("alter table bel.job_run_state add column shout text generated always as (upper(status)) stored")
            .unwrap();
        let refused = refusal(&append_sql(&job_event("proj-2", "proj-2-j2", "COMPLETED", "")));
        assert_eq!(refused["sqlstate"], "0A000", "{refused}");
        assert_eq!(
            refused["message"], "column \"shout\" of bel.job_run_state is generated, which bel does not compute",
            "{refused}"
        );
        Spi::run("alter table bel.job_run_state drop column shout").unwrap();

        // A foreign key referencing a projection is checked by internal triggers bel's
        // writes would not run.
        Spi::run("create table public.build_notes (build text references bel.build_request_state)").unwrap();
        let refused = refusal(&append_sql(&build_event("proj-b0", "ANALYSIS_COMPLETED", "")));
        assert_eq!(refused["sqlstate"], "0A000", "{refused}");
        assert_eq!(
            refused["message"], "bel.build_request_state has a constraint checked by an UPDATE trigger",
            "{refused}"
        );
        Spi::run("drop table public.build_notes").unwrap();

        // bel reads and writes these columns as the types it created them with.
        Spi::run("alter table bel.partition_state alter column last_idx type numeric").unwrap();
        let refused = refusal(&append_sql(&partition_event("proj-b1", "proj/b1", "BUILDING", "")));
        assert_eq!(refused["sqlstate"], "0A000", "{refused}");
        assert_eq!(
            refused["message"], "column \"last_idx\" of bel.partition_state is not of the type bel created it with",
            "{refused}"
        );
    }

    /// A read-only transaction is refused before an append locks or writes anything, even
    /// an append that would write nothing (a retry of a stored event).
    #[pg_test]
    fn an_append_in_a_read_only_transaction_is_refused() {
        let event = build_event("ro", "RECEIVED", r#","requestedPartitions":["ro/p"]"#).replacen(
            '{',
            r#"{"eventId":"ro-1","#,
            1,
        );
        append(&event);
        for sql in [append_sql(&event), format!("select bel.bel_append_batch('[{event}]'::jsonb)")] {
            let refused = refusal(&format!("set local transaction_read_only = on; {sql}"));
            assert_eq!(refused["sqlstate"], "25006", "{refused}");
            assert_eq!(refused["message"], "cannot execute bel_append in a read-only transaction", "{refused}");
        }
    }

    #[pg_test]
    fn the_general_path_plans_under_the_append_settings_and_leaves_the_session_as_it_was() {
        let settings = "current_setting('plan_cache_mode') || ' ' || current_setting('jit') || ' '
                        || current_setting('enable_seqscan') || current_setting('enable_hashjoin')
                        || current_setting('enable_mergejoin')";
        let session = || Spi::get_one::<String>(&format!("select {settings}")).unwrap();
        let defaults = session();
        assert_eq!(defaults.as_deref(), Some("auto on ononon"), "the test session's defaults");
        // A CHECK constraint on the build request that an ending append updates reports the
        // settings in force there, on the general path whose one statement (the work in
        // progress of the ending build) is planned under them; as an error, which the
        // caller's subtransaction abort then unwinds.
        Spi::run(&format!(
            "create function public.report_settings() returns boolean language plpgsql as
             $$ begin raise exception '%', {settings}; end $$"
        ))
        .unwrap();
        Spi::run(
            "alter table bel.build_request_state add constraint report_settings
             check (status is distinct from 'CANCELLED' or public.report_settings())",
        )
        .unwrap();
        append(&build_event("settings", "RECEIVED", r#","requestedPartitions":["settings/p"]"#));
        append(&build_event("settings", "PLANNING", ""));
        let reported = refusal(&append_sql(&build_event("settings", "CANCELLED", "")));
        assert_eq!(reported["message"], "force_generic_plan off offoffoff", "{reported}");
        assert_eq!(session(), defaults, "restored after an error on the general path");

        Spi::run("alter table bel.build_request_state drop constraint report_settings").unwrap();
        full_build("settings-2", "settings/q", "settings/j");
        assert_eq!(session(), defaults, "restored after appends");
    }

    #[pg_test]
    fn a_log_table_renamed_after_an_append_is_looked_up_again() {
        // The first append caches the oids of bel's relations for this backend.
        append(&build_event("oid-1", "RECEIVED", r#","requestedPartitions":["oid/1"]"#));
        let renamed = refusal(&format!(
            "alter table bel.events rename to events_renamed; {}",
            append_sql(&build_event("oid-2", "RECEIVED", r#","requestedPartitions":["oid/2"]"#))
        ));
        assert_eq!(renamed["sqlstate"], "XX000", "{renamed}");
        assert_eq!(renamed["message"], "bel: catalog: relation bel.events does not exist", "{renamed}");
        // The rename was rolled back with the refusal's subtransaction: found again.
        append(&build_event("oid-3", "RECEIVED", r#","requestedPartitions":["oid/3"]"#));
        assert_eq!(count("select count(*) from bel.events where build_request_id like 'oid-%'"), 2);
    }

    /// The refusal of `sql` as {sqlstate, message, detail, hint}, caught in a plpgsql
    /// block (a subtransaction: the test's transaction goes on); null if it succeeded.
    fn refusal(sql: &str) -> serde_json::Value {
        Spi::run(
            "create or replace function pg_temp.refusal(sql text) returns jsonb language plpgsql as $$
             declare st text; msg text; det text; hin text;
             begin
               execute sql;
               return null;
             exception when others then
               get stacked diagnostics st = returned_sqlstate, msg = message_text, det = pg_exception_detail,
                                       hin = pg_exception_hint;
               return jsonb_build_object('sqlstate', st, 'message', msg, 'detail', det, 'hint', hin);
             end $$",
        )
        .unwrap();
        Spi::get_one_with_args::<pgrx::JsonB>("select pg_temp.refusal($1)", &[sql.into()])
            .unwrap()
            .map(|j| j.0)
            .unwrap_or(serde_json::Value::Null)
    }

    fn append_sql(json: &str) -> String {
        format!("select bel.bel_append('{}'::jsonb)", json.replace('\'', "''"))
    }

    /// `build` EXECUTING, requesting `part` (ANALYZED) and `other` (BUILDING under job run
    /// `<build>-j1`, RUNNING); `<build>-j2` SCHEDULED targets `part`.
    fn build_in_progress(build: &str, part: &str, other: &str) {
        append(&build_event(build, "RECEIVED", &format!(r#","requestedPartitions":["{part}","{other}"]"#)));
        append(&build_event(build, "PLANNING", ""));
        for p in [part, other] {
            append(&partition_event(build, p, "REQUESTED", ""));
            append(&partition_event(build, p, "ANALYZED", ""));
        }
        append(&build_event(build, "ANALYSIS_COMPLETED", ""));
        append(&job_event(build, &format!("{build}-j1"), "SCHEDULED", &format!(r#""{other}""#)));
        append(&job_event(build, &format!("{build}-j2"), "SCHEDULED", &format!(r#""{part}""#)));
        append(&build_event(build, "EXECUTING", ""));
        append(&job_event(build, &format!("{build}-j1"), "RUNNING", ""));
        append(&partition_event(build, other, "BUILDING", &format!("{build}-j1")));
    }

    #[pg_test(error = "job run \"nojob\" does not exist")]
    fn entering_building_names_an_existing_job_run() {
        // The example of issue 11, accepted before.
        append(&build_event("b", "RECEIVED", r#","requestedPartitions":["data/p"]"#));
        append(&build_event("b", "PLANNING", ""));
        append(&partition_event("b", "data/p", "REQUESTED", ""));
        append(&partition_event("b", "data/p", "ANALYZED", ""));
        append(
            r#"{"buildRequestId":"b","partition":{"partitionRef":"data/p","status":"PARTITION_BUILDING","jobRunId":"nojob"}}"#,
        );
    }

    #[pg_test]
    fn entering_building_refusals_have_their_sqlstates() {
        build_in_progress("eb", "eb/a", "eb/b");
        build_in_progress("eb2", "eb2/a", "eb2/b");
        let cases = [
            ("", "22023", "partition \"eb/a\" enters BUILDING but the event names no jobRunId"),
            ("nojob", "23503", "job run \"nojob\" does not exist"),
            (
                "eb2-j2",
                "23514",
                "partition \"eb/a\" cannot enter BUILDING under job run \"eb2-j2\": it belongs to build request \"eb2\", not \"eb\"",
            ),
            ("eb-j1", "23514", "partition \"eb/a\" cannot enter BUILDING under job run \"eb-j1\": it does not target the partition"),
        ];
        for (job, sqlstate, message) in cases {
            let r = refusal(&append_sql(&partition_event("eb", "eb/a", "BUILDING", job)));
            assert_eq!((r["sqlstate"].as_str(), r["message"].as_str()), (Some(sqlstate), Some(message)), "{r}");
        }
        append(&job_event("eb", "eb-j2", "SKIPPED", ""));
        let r = refusal(&append_sql(&partition_event("eb", "eb/a", "BUILDING", "eb-j2")));
        assert_eq!(r["sqlstate"], "23514", "{r}");
        assert!(r["message"].as_str().unwrap().ends_with("it is SKIPPED (ended)"), "{r}");
        // A SCHEDULED run of the owner that targets it is accepted.
        append(&job_event("eb", "eb-j3", "SCHEDULED", r#""eb/a""#));
        append(&partition_event("eb", "eb/a", "BUILDING", "eb-j3"));
        assert_eq!(count("select count(*) from bel.verify()"), 0);
    }

    #[pg_test]
    fn ending_a_build_with_work_in_progress_is_refused_and_its_hint_runs() {
        build_in_progress("dead", "dead/a", "dead/b");
        let failed = r#"{"eventId":"dead:failed","buildRequestId":"dead","buildRequest":{"status":"BUILD_REQUEST_FAILED","message":"it's over"}}"#;
        let r = refusal(&append_sql(failed));
        assert_eq!(r["sqlstate"], "23514", "{r}");
        assert_eq!(
            r["message"],
            "build request \"dead\" cannot become FAILED while it owns 2 partitions in progress (REQUESTED, \
             ANALYZED or BUILDING) and has 2 job runs in progress (SCHEDULED or RUNNING)"
        );
        assert_eq!(
            r["detail"],
            "partitions in progress: dead/a (ANALYZED), dead/b (BUILDING, job run dead-j1); job runs in progress: \
             dead-j1 (RUNNING), dead-j2 (SCHEDULED); only the owning build moves these partitions on, so ended now \
             it would leave them stranded"
        );
        let hint = r["hint"].as_str().expect("a hint");
        let at = hint.find("select bel.bel_append_batch(").expect("the batch call");
        assert_eq!(&hint[..at], "end them first, then the build, in one call:\n");
        assert!(hint.contains("it''s over"), "the sent event, quoted for SQL: {hint}");
        // The refusal wrote nothing; the hinted call ends everything, the build last.
        assert_eq!(count("select count(*) from bel.events where event_id = 'dead:failed'"), 0);
        Spi::run(&hint[at..]).unwrap();
        let text = |sql: &str| Spi::get_one::<String>(sql).unwrap().unwrap_or_default();
        assert_eq!(text("select status from bel.build_request_state where build_request_id = 'dead'"), "FAILED");
        assert_eq!(
            count("select count(*) from bel.partition_status('{dead/*}') where status = 'FAILED' and build_request_id = 'dead'"),
            2
        );
        assert_eq!(count("select count(*) from bel.job_runs('dead') where status = 'CANCELLED'"), 2);
        let last =
            Spi::get_one::<pgrx::JsonB>("select payload from bel.events order by idx desc limit 1").unwrap().unwrap().0;
        assert_eq!(
            (last["eventId"].as_str(), last["buildRequest"]["message"].as_str()),
            (Some("dead:failed"), Some("it's over"))
        );
        assert_eq!(count("select count(*) from bel.verify()"), 0);
        // The partitions are free again: another build requests one.
        append(&build_event("next", "RECEIVED", r#","requestedPartitions":["dead/a"]"#));
        append(&build_event("next", "PLANNING", ""));
        append(&partition_event("next", "dead/a", "REQUESTED", ""));
    }

    #[pg_test]
    fn completing_needs_its_job_runs_ended() {
        append(&build_event("cj", "RECEIVED", r#","requestedPartitions":["cj/a"]"#));
        append(&build_event("cj", "PLANNING", ""));
        append(&partition_event("cj", "cj/a", "REQUESTED", ""));
        append(&partition_event("cj", "cj/a", "ANALYZED", ""));
        append(&build_event("cj", "ANALYSIS_COMPLETED", ""));
        append(&job_event("cj", "cj-j", "SCHEDULED", r#""cj/a""#));
        append(&build_event("cj", "EXECUTING", ""));
        append(&job_event("cj", "cj-j", "RUNNING", ""));
        append(&partition_event("cj", "cj/a", "BUILDING", "cj-j"));
        append(&partition_event("cj", "cj/a", "AVAILABLE", "cj-j"));
        let r = refusal(&append_sql(&build_event("cj", "COMPLETED", "")));
        assert_eq!(r["sqlstate"], "23514", "{r}");
        assert_eq!(
            r["message"],
            "build request \"cj\" cannot complete while it has 1 job run in progress (SCHEDULED or RUNNING)"
        );
        assert_eq!(r["detail"], "job runs in progress: cj-j (RUNNING)");
        append(&job_event("cj", "cj-j", "COMPLETED", ""));
        append(&build_event("cj", "COMPLETED", ""));
    }

    #[pg_test]
    fn verify_reports_partitions_stranded_under_an_ended_build_by_an_old_log() {
        // What 0.1.0 accepted, written past bel_append here: BUILDING under a job run that
        // does not exist, then the build FAILED while owning it and another partition.
        append(&build_event("old", "RECEIVED", r#","requestedPartitions":["old/a","old/b"]"#));
        append(&build_event("old", "PLANNING", ""));
        append(&partition_event("old", "old/a", "REQUESTED", ""));
        append(&partition_event("old", "old/a", "ANALYZED", ""));
        append(&partition_event("old", "old/b", "REQUESTED", ""));
        for (kind, payload) in [
            (
                "partition",
                r#"{"buildRequestId":"old","partition":{"partitionRef":"old/a","status":"PARTITION_BUILDING","jobRunId":"nojob"},"timestamp":"2026-01-01T00:00:00Z"}"#,
            ),
            (
                "build_request",
                r#"{"buildRequestId":"old","buildRequest":{"status":"BUILD_REQUEST_FAILED"},"timestamp":"2026-01-01T00:00:01Z"}"#,
            ),
        ] {
            Spi::run_with_args(
                "insert into bel.events (idx, event_type, schema_version, build_request_id, payload)
                 values (nextval('bel.events_idx_seq'), $1, 1, 'old', $2::jsonb)",
                &[kind.into(), payload.into()],
            )
            .unwrap();
        }
        // The replay accepts the old log (held to the rules of its time) ...
        assert!(count("select bel.rebuild_projections()") > 0);
        // ... and verify reports the two stranded partitions, nothing else.
        let rows = Spi::get_one::<pgrx::JsonB>(
            "select jsonb_agg(jsonb_build_object('entity', entity, 'key', key, 'projected', projected,
                                                 'replayed', replayed) order by key)
             from bel.verify()",
        )
        .unwrap()
        .unwrap()
        .0;
        let rows = rows.as_array().expect("rows");
        assert_eq!(rows.len(), 2, "{rows:?}");
        for (row, (key, status)) in rows.iter().zip([("old/a", "BUILDING"), ("old/b", "REQUESTED")]) {
            assert_eq!((row["entity"].as_str(), row["key"].as_str()), (Some("partition"), Some(key)));
            assert_eq!(row["projected"]["status"], status);
            assert_eq!(row["replayed"]["status"], status);
            assert_eq!(row["replayed"]["ownerStatus"], "FAILED");
            let problem = row["replayed"]["problem"].as_str().unwrap();
            assert!(
                problem.starts_with(&format!("owned by ended build request \"old\" (FAILED) while {status}")),
                "{problem}"
            );
        }
    }
}
