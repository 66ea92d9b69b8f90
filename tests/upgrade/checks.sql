-- Checks a database that tests/upgrade/fill.sql filled under bel 0.1.0 and that was then
-- updated (ALTER EXTENSION bel UPDATE) or restored from a dump: the extension is at the
-- installed default version, the log and the projections are exactly what fill.sql left,
-- every function of the current version works (this file calls each one, and fails when
-- bel has a function it does not call), the roles keep their rights, the cursor reads
-- the whole log and new appends continue the idx sequence without reusing an idx.
-- Any failed check raises, so psql -v ON_ERROR_STOP=1 exits non-zero.
\set ON_ERROR_STOP on
\set QUIET on
-- results are not needed, only errors (on stderr)
\o /dev/null
SET client_min_messages = warning;

CREATE FUNCTION pg_temp.check(ok boolean, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF ok IS NOT TRUE THEN
        RAISE EXCEPTION 'upgrade check failed: %', what;
    END IF;
END
$$;

-- rows of query a that query b lacks, and the other way round (with duplicates)
CREATE FUNCTION pg_temp.same_rows(a text, b text, what text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    missing bigint;
    extra bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', b, a) INTO missing;
    EXECUTE format('SELECT count(*) FROM ((%s) EXCEPT ALL (%s)) d', a, b) INTO extra;
    IF missing <> 0 OR extra <> 0 THEN
        RAISE EXCEPTION 'upgrade check failed: %: % rows missing, % rows not expected', what, missing, extra;
    END IF;
END
$$;

-- === the extension ==========================================================================
SELECT pg_temp.check(e.extversion = a.default_version,
                     format('bel is at %s, the installed default version is %s', e.extversion, a.default_version))
FROM pg_catalog.pg_extension e, pg_catalog.pg_available_extensions a
WHERE e.extname = 'bel' AND a.name = 'bel';

-- === the data, as fill.sql left it ===========================================================
SELECT pg_temp.same_rows(
    'SELECT idx, event_type, schema_version, event_id, build_request_id, partition_ref, job_run_id, job_label,
            payload, created_at FROM bel.events',
    'SELECT * FROM upgrade_check.events', 'bel.events (every column, payloads included)');
SELECT pg_temp.same_rows('SELECT partition_ref, idx FROM bel.event_partitions',
                         'SELECT * FROM upgrade_check.event_partitions', 'bel.event_partitions');
SELECT pg_temp.same_rows('SELECT partition_ref FROM bel.known_partitions',
                         'SELECT * FROM upgrade_check.known_partitions', 'bel.known_partitions');
SELECT pg_temp.same_rows(
    'SELECT build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at
     FROM bel.build_request_state',
    'SELECT * FROM upgrade_check.build_request_state', 'bel.build_request_state');
SELECT pg_temp.same_rows(
    'SELECT job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx,
            last_idx, created_at, updated_at FROM bel.job_run_state',
    'SELECT * FROM upgrade_check.job_run_state', 'bel.job_run_state');
SELECT pg_temp.same_rows(
    'SELECT partition_ref, status, build_request_id, job_run_id, last_idx, updated_at FROM bel.partition_state',
    'SELECT * FROM upgrade_check.partition_state', 'bel.partition_state');
SELECT pg_temp.check(s.last_value = c.last_value,
                     format('the idx sequence is at %s, was %s', s.last_value, c.last_value))
FROM bel.events_idx_seq s, upgrade_check.sequence c;
SELECT pg_temp.check(NOT EXISTS (SELECT 1 FROM bel.verify()), 'bel.verify() is empty');

-- === every function ==========================================================================
-- This file calls each of these; a function bel has and this list lacks fails here, so that
-- a new function is checked after an upgrade too (add a call below and its signature here).
SELECT pg_temp.check(missing IS NULL, 'tests/upgrade/checks.sql does not call: ' || missing)
FROM (SELECT pg_catalog.string_agg(sig, ', ' ORDER BY sig) AS missing FROM (
    SELECT p.oid::pg_catalog.regprocedure::text AS sig FROM pg_catalog.pg_proc p
    WHERE p.pronamespace = 'bel'::regnamespace
    EXCEPT
    SELECT pg_catalog.unnest(ARRAY[
        'bel.bel_append(jsonb)', 'bel.bel_append(text)', 'bel.bel_append(bytea)', 'bel.bel_append_batch(jsonb)',
        'bel.list_events(bigint,jsonb,integer)', 'bel.list_events_page(bigint,jsonb,integer)',
        'bel.list_events_page(bigint,text,integer)', 'bel.list_events_page(bigint,bytea,integer)',
        'bel.list_events_page(bigint,jsonb,integer,bigint,pg_lsn,integer)',
        'bel.list_events_page(bigint,text,integer,bigint,pg_lsn,integer)',
        'bel.list_events_page(bigint,bytea,integer,bigint,pg_lsn,integer)', 'bel.horizon()',
        'bel.wait_for_append(bigint,integer)', 'bel.partition_status(text[],text,integer)',
        'bel.partition_counts(text[])', 'bel.build_requests(bigint,integer)', 'bel.build_summary(text)',
        'bel.job_runs(text,text)', 'bel.transitions()', 'bel.verify()', 'bel.rebuild_projections()',
        'bel.refuse_change()'])) s) m;

-- Reads give what they gave before the upgrade.
SELECT pg_temp.same_rows('SELECT * FROM bel.list_events(0, ''{}'', 10000)', 'SELECT * FROM upgrade_check.list_events',
                         'bel.list_events(0) before and after');
SELECT pg_temp.same_rows('SELECT * FROM bel.job_runs()', 'SELECT * FROM upgrade_check.job_runs',
                         'bel.job_runs() before and after');
SELECT pg_temp.same_rows('SELECT build_request_id, bel.build_summary(build_request_id) FROM bel.build_request_state',
                         'SELECT * FROM upgrade_check.build_summaries', 'bel.build_summary(...) before and after');
SELECT pg_temp.same_rows(
    'SELECT partition_ref, status, build_request_id, job_run_id, last_idx, updated_at FROM bel.partition_status()',
    'SELECT * FROM upgrade_check.partition_state', 'bel.partition_status() and the projection');
SELECT pg_temp.same_rows('SELECT partition_ref FROM bel.partition_status(''{data/**}'', ''data/b/1'', 2)',
                         'VALUES (''data/c/1''), (''data/d/1'')', 'bel.partition_status paged after data/b/1');
SELECT pg_temp.same_rows('SELECT status, partitions FROM bel.partition_counts()',
                         'SELECT status, count(*) FROM upgrade_check.partition_state GROUP BY status',
                         'bel.partition_counts()');
SELECT pg_temp.same_rows('SELECT build_request_id, first_idx FROM bel.build_requests(NULL, 3)',
                         'SELECT build_request_id, first_idx FROM upgrade_check.build_request_state
                          ORDER BY first_idx DESC LIMIT 3', 'bel.build_requests(NULL, 3)');
SELECT pg_temp.check(count(*) >= 20, 'bel.transitions() lists the diagrams'' edges') FROM bel.transitions();
SELECT pg_temp.check(bel.wait_for_append(1, 100), 'bel.wait_for_append of an append long committed');
SELECT pg_temp.check(pg_catalog.octet_length(bel.list_events_page(0, ''::bytea, 10000)) >
                     10 * (SELECT count(*) FROM bel.events), 'bel.list_events_page(bytea) reads the log');
SELECT pg_temp.check((bel.list_events_page(0, '{"jobRunIds":["j-old-2"]}'::text, 100) -> 'events') =
                     (bel.list_events_page(0, '{"jobRunIds":["j-old-2"]}'::jsonb, 100) -> 'events'),
                     'bel.list_events_page(text) = (jsonb)');
-- Below the primary's own bel.horizon() (the standby read, here on the primary): the same events.
SELECT pg_temp.check((bel.list_events_page(0, '{}'::jsonb, 10000, h.horizon_idx, h.horizon_lsn) -> 'events') =
                     (bel.list_events_page(0, '{}'::jsonb, 10000) -> 'events')
                     AND (bel.list_events_page(0, '{}'::text, 10000, h.horizon_idx, h.horizon_lsn, 0) -> 'events') =
                     (bel.list_events_page(0, '{}'::jsonb, 10000) -> 'events')
                     AND bel.list_events_page(0, ''::bytea, 10000, h.horizon_idx, h.horizon_lsn) =
                     bel.list_events_page(0, ''::bytea, 10000)
                     AND h.in_flight_idx = 0,
                     'bel.list_events_page at bel.horizon() (jsonb, text, bytea) = the page without')
FROM bel.horizon() h;

-- The log stays append-only (bel.refuse_change), for the superuser too.
DO $$
BEGIN
    UPDATE bel.events SET payload = '{}' WHERE idx = 1;
    RAISE EXCEPTION 'upgrade check failed: UPDATE bel.events was allowed';
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;

-- === roles and grants ========================================================================
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'bel_upgrade_writer') THEN
        CREATE ROLE bel_upgrade_writer NOLOGIN IN ROLE bel_writer;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'bel_upgrade_reader') THEN
        CREATE ROLE bel_upgrade_reader NOLOGIN IN ROLE bel_reader;
    END IF;
END
$$;
-- (the copy of the data is not bel's: the roles may read it here)
GRANT USAGE ON SCHEMA upgrade_check TO bel_upgrade_reader, bel_upgrade_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA upgrade_check TO bel_upgrade_reader, bel_upgrade_writer;
SELECT pg_temp.check(NOT pg_catalog.has_function_privilege('public', p.oid, 'EXECUTE'),
                     p.oid::regprocedure || ' is executable by PUBLIC')
FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'bel'::regnamespace;
SELECT pg_temp.check(pg_catalog.has_function_privilege('bel_reader', p.oid, 'EXECUTE')
                     = (p.proname NOT IN ('bel_append', 'bel_append_batch', 'rebuild_projections', 'refuse_change')),
                     'bel_reader EXECUTE on ' || p.oid::regprocedure)
FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'bel'::regnamespace;
SELECT pg_temp.check(pg_catalog.has_function_privilege('bel_writer', p.oid, 'EXECUTE')
                     = (p.proname NOT IN ('rebuild_projections', 'refuse_change')),
                     'bel_writer EXECUTE on ' || p.oid::regprocedure)
FROM pg_catalog.pg_proc p WHERE p.pronamespace = 'bel'::regnamespace;
SELECT pg_temp.check(pg_catalog.has_table_privilege(r, c.oid, 'SELECT')
                     AND NOT pg_catalog.has_table_privilege(r, c.oid, 'INSERT, UPDATE, DELETE, TRUNCATE'),
                     r || ' may only SELECT ' || c.relname)
FROM pg_catalog.pg_class c, pg_catalog.unnest(ARRAY['bel_reader', 'bel_writer']) AS r
WHERE c.relnamespace = 'bel'::regnamespace AND c.relkind = 'r';

SET ROLE bel_upgrade_reader;
SELECT pg_temp.check(count(*) = (SELECT count(*) FROM upgrade_check.events), 'bel_reader reads the log')
FROM bel.list_events(0, '{}', 10000);
DO $$
BEGIN
    PERFORM bel.bel_append('{"buildRequestId":"b-reader","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/r/1"]}}'::jsonb);
    RAISE EXCEPTION 'upgrade check failed: bel_reader appended';
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;
RESET ROLE;
SET ROLE bel_upgrade_writer;
DO $$
BEGIN
    PERFORM bel.rebuild_projections();
    RAISE EXCEPTION 'upgrade check failed: bel_writer rebuilt the projections';
EXCEPTION WHEN insufficient_privilege THEN
    NULL;
END
$$;
RESET ROLE;

-- === the cursor reads the whole log, in pages ================================================
CREATE TEMP TABLE cursor_read (idx bigint);
DO $$
DECLARE
    cursor_idx bigint := 0;
    page jsonb;
    pages int := 0;
BEGIN
    LOOP
        page := bel.list_events_page(cursor_idx, '{}'::jsonb, 7);
        INSERT INTO cursor_read SELECT (e ->> 'idx')::bigint FROM jsonb_array_elements(page -> 'events') AS e;
        cursor_idx := (page ->> 'nextIdx')::bigint;
        pages := pages + 1;
        EXIT WHEN NOT (page ->> 'hasMore')::boolean;
        IF pages > 1000 THEN
            RAISE EXCEPTION 'upgrade check failed: the cursor did not reach the end of the log';
        END IF;
    END LOOP;
    CREATE TEMP TABLE cursor_end AS SELECT cursor_idx AS idx;
END
$$;
SELECT pg_temp.same_rows('SELECT idx FROM cursor_read', 'SELECT idx FROM upgrade_check.events',
                         'the cursor read every event once');

-- === appends continue ========================================================================
SET ROLE bel_upgrade_writer;
-- b-old-3 was building across the upgrade: it finishes now.
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/b/1","status":"PARTITION_AVAILABLE","jobRunId":"j-old-3"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/d/1","status":"PARTITION_AVAILABLE","jobRunId":"j-old-3"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","jobRun":{"jobRunId":"j-old-3","status":"JOB_RUN_COMPLETED","exitCode":0}}'::text);
SELECT bel.bel_append('{"buildRequestId":"b-old-3","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}'::jsonb);
-- bp (appended as protobuf) is cancelled: {buildRequestId:"bp", buildRequest:{status:CANCELLED}}
SELECT bel.bel_append('\x2202627052020807'::bytea);
-- a retried event of 0.1.0 still returns its first idx and writes nothing
SELECT pg_temp.check(bel.bel_append('{"eventId":"old-1:completed","buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}')
                     = (SELECT idx FROM upgrade_check.events WHERE event_id = 'old-1:completed'),
                     'an eventId appended under 0.1.0 is still idempotent');
-- a new build re-requests data/e/1, which failed under b-old-4
SELECT bel.bel_append_batch('[
  {"buildRequestId":"b-new-1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/e/1"]}},
  {"buildRequestId":"b-new-1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b-new-1","partition":{"partitionRef":"data/e/1","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b-new-1","partition":{"partitionRef":"data/e/1","status":"PARTITION_ANALYZED"}},
  {"buildRequestId":"b-new-1","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}},
  {"buildRequestId":"b-new-1","jobRun":{"jobRunId":"j-new-1","jobLabel":"etl/e","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/e/1"]}},
  {"buildRequestId":"b-new-1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}},
  {"buildRequestId":"b-new-1","partition":{"partitionRef":"data/e/1","status":"PARTITION_BUILDING","jobRunId":"j-new-1"}},
  {"buildRequestId":"b-new-1","jobRun":{"jobRunId":"j-new-1","status":"JOB_RUN_RUNNING"}},
  {"buildRequestId":"b-new-1","partition":{"partitionRef":"data/e/1","status":"PARTITION_AVAILABLE","jobRunId":"j-new-1"}},
  {"buildRequestId":"b-new-1","jobRun":{"jobRunId":"j-new-1","status":"JOB_RUN_COMPLETED","exitCode":0}},
  {"buildRequestId":"b-new-1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}
]');
RESET ROLE;

SELECT pg_temp.check(count(*) = 17, format('17 new events, found %s', count(*)))
FROM bel.events e WHERE NOT EXISTS (SELECT 1 FROM upgrade_check.events o WHERE o.idx = e.idx);
SELECT pg_temp.check(pg_catalog.min(e.idx) > (SELECT last_value FROM upgrade_check.sequence),
                     format('new events start at idx %s, after the last idx allocated before (%s): none reused',
                            pg_catalog.min(e.idx), (SELECT last_value FROM upgrade_check.sequence)))
FROM bel.events e WHERE NOT EXISTS (SELECT 1 FROM upgrade_check.events o WHERE o.idx = e.idx);
-- the follower at the end of the old log reads exactly the new events, in order
SELECT pg_temp.check(
    (SELECT pg_catalog.array_agg((e ->> 'idx')::bigint ORDER BY o)
     FROM pg_catalog.jsonb_array_elements(bel.list_events_page((SELECT idx FROM cursor_end), '{}'::jsonb, 1000) -> 'events')
          WITH ORDINALITY AS p(e, o))
    = (SELECT pg_catalog.array_agg(idx ORDER BY idx) FROM bel.events
       WHERE idx NOT IN (SELECT idx FROM upgrade_check.events)),
    'the cursor continues from where it stopped before the upgrade');
SELECT pg_temp.same_rows('SELECT partition_ref, status, build_request_id FROM bel.partition_status()',
                         'VALUES (''data/a/1'', ''AVAILABLE'', ''b-old-1''), (''data/b/1'', ''AVAILABLE'', ''b-old-3''),
                                 (''data/c/1'', ''AVAILABLE'', ''b-old-2''), (''data/d/1'', ''AVAILABLE'', ''b-old-3''),
                                 (''data/e/1'', ''AVAILABLE'', ''b-new-1'')',
                         'partition status after the new appends');
SELECT pg_temp.same_rows('SELECT build_request_id, status FROM bel.build_requests(NULL, 100)',
                         'VALUES (''b-old-1'', ''COMPLETED''), (''b-old-2'', ''COMPLETED''), (''b-old-3'', ''COMPLETED''),
                                 (''b-old-4'', ''FAILED''), (''b-old-5'', ''CANCELLED''), (''bp'', ''CANCELLED''),
                                 (''b-old-text'', ''RECEIVED''), (''b-new-1'', ''COMPLETED'')',
                         'build requests after the new appends');
SELECT pg_temp.check(NOT EXISTS (SELECT 1 FROM bel.verify()), 'bel.verify() is empty after the new appends');

-- rebuild_projections replays the whole log into the same projections.
CREATE TEMP TABLE projections_before AS
    SELECT 'b' AS t, to_jsonb(s) AS row FROM bel.build_request_state s
    UNION ALL SELECT 'j', to_jsonb(s) FROM bel.job_run_state s
    UNION ALL SELECT 'p', to_jsonb(s) FROM bel.partition_state s;
SELECT pg_temp.check(bel.rebuild_projections() = (SELECT count(*) FROM bel.events),
                     'bel.rebuild_projections() replays every event');
SELECT pg_temp.same_rows(
    'SELECT ''b'', to_jsonb(s) FROM bel.build_request_state s
     UNION ALL SELECT ''j'', to_jsonb(s) FROM bel.job_run_state s
     UNION ALL SELECT ''p'', to_jsonb(s) FROM bel.partition_state s',
    'SELECT t, row FROM projections_before', 'the projections after bel.rebuild_projections()');
SELECT pg_temp.check(NOT EXISTS (SELECT 1 FROM bel.verify()), 'bel.verify() is empty after rebuild_projections');

\echo 'upgrade checks passed'
