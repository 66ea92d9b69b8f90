-- Fills a database that has bel 0.1.0 (CREATE EXTENSION bel VERSION '0.1.0') with every kind
-- of history, then keeps a copy of what it holds in schema upgrade_check (not part of the
-- extension, so pg_dump carries it along) for tests/upgrade/checks.sql to compare against.
-- Only functions whose SQL signature 0.1.0 shares with the current library are called here:
-- between installing a new library and ALTER EXTENSION UPDATE, the old SQL definitions run
-- against it (see docs/upgrades.md). tests/upgrade/written-by-0.1.0.sql holds what this file
-- wrote through the 0.1.0 library itself; checks.sql expects the same history from both, so
-- regenerate that file (as its header says) when this one changes.
\set ON_ERROR_STOP on
\set QUIET on
-- results are not needed, only errors (on stderr)
\o /dev/null
SET client_min_messages = warning;

-- b-old-1: a complete build of two partitions by two job runs.
SELECT bel.bel_append('{"eventId":"old-1:received","buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a/1","data/b/1"],"message":"nightly"}}');
SELECT bel.bel_append('{"eventId":"old-1:planning","buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
-- an idempotent retry: the same event again writes nothing
SELECT bel.bel_append('{"eventId":"old-1:planning","buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
SELECT bel.bel_append_batch('[
  {"eventId":"old-1:a:requested","buildRequestId":"b-old-1","partition":{"partitionRef":"data/a/1","status":"PARTITION_REQUESTED"}},
  {"eventId":"old-1:b:requested","buildRequestId":"b-old-1","partition":{"partitionRef":"data/b/1","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b-old-1","partition":{"partitionRef":"data/a/1","status":"PARTITION_ANALYZED"}},
  {"buildRequestId":"b-old-1","partition":{"partitionRef":"data/b/1","status":"PARTITION_ANALYZED"}}
]');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","jobRun":{"jobRunId":"j-old-1a","jobLabel":"etl/a","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","jobRun":{"jobRunId":"j-old-1b","jobLabel":"etl/b","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/b/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","partition":{"partitionRef":"data/a/1","status":"PARTITION_BUILDING","jobRunId":"j-old-1a"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","partition":{"partitionRef":"data/b/1","status":"PARTITION_BUILDING","jobRunId":"j-old-1b"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","jobRun":{"jobRunId":"j-old-1a","status":"JOB_RUN_RUNNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","jobRun":{"jobRunId":"j-old-1b","status":"JOB_RUN_RUNNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","partition":{"partitionRef":"data/a/1","status":"PARTITION_AVAILABLE","jobRunId":"j-old-1a"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","partition":{"partitionRef":"data/b/1","status":"PARTITION_AVAILABLE","jobRunId":"j-old-1b"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","jobRun":{"jobRunId":"j-old-1a","status":"JOB_RUN_COMPLETED","exitCode":0,"message":"wrote 10 rows"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-1","jobRun":{"jobRunId":"j-old-1b","status":"JOB_RUN_COMPLETED","exitCode":0}}');
SELECT bel.bel_append('{"eventId":"old-1:completed","buildRequestId":"b-old-1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');

-- An append that rolls back leaves a hole in idx: the cursor passes it, nothing reuses it.
BEGIN;
SELECT bel.bel_append('{"buildRequestId":"b-rolled-back","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/x/1"]}}');
ROLLBACK;

-- b-old-2: delegates data/a/1 to b-old-1 and builds data/c/1 (the reports of data/a/1).
SELECT bel.bel_append('{"buildRequestId":"b-old-2","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/c/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","delegation":{"partitionRef":"data/a/1","delegatedToBuildRequestId":"b-old-1","message":"input built by b-old-1"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","partition":{"partitionRef":"data/c/1","status":"PARTITION_REQUESTED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","partition":{"partitionRef":"data/c/1","status":"PARTITION_ANALYZED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","jobRun":{"jobRunId":"j-old-2","jobLabel":"reports/c","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/c/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","partition":{"partitionRef":"data/c/1","status":"PARTITION_BUILDING","jobRunId":"j-old-2"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","jobRun":{"jobRunId":"j-old-2","status":"JOB_RUN_RUNNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","partition":{"partitionRef":"data/c/1","status":"PARTITION_AVAILABLE","jobRunId":"j-old-2"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","jobRun":{"jobRunId":"j-old-2","status":"JOB_RUN_COMPLETED","exitCode":0}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-2","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');

-- An invalidation: data/b/1 is AVAILABLE no longer.
SELECT bel.bel_append('{"eventId":"invalidate:data/b/1","invalidation":{"partitionRef":"data/b/1","reason":"late upstream data"}}');

-- b-old-3: still running across the upgrade (checks.sql finishes it).
SELECT bel.bel_append('{"buildRequestId":"b-old-3","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/b/1","data/d/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/b/1","status":"PARTITION_REQUESTED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/d/1","status":"PARTITION_REQUESTED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/b/1","status":"PARTITION_ANALYZED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/d/1","status":"PARTITION_ANALYZED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","jobRun":{"jobRunId":"j-old-3","jobLabel":"etl/bd","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/b/1","data/d/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/b/1","status":"PARTITION_BUILDING","jobRunId":"j-old-3"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","partition":{"partitionRef":"data/d/1","status":"PARTITION_BUILDING","jobRunId":"j-old-3"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-3","jobRun":{"jobRunId":"j-old-3","status":"JOB_RUN_RUNNING"}}');

-- b-old-4: fails (its partition and job run fail first).
SELECT bel.bel_append('{"buildRequestId":"b-old-4","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/e/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","partition":{"partitionRef":"data/e/1","status":"PARTITION_REQUESTED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","partition":{"partitionRef":"data/e/1","status":"PARTITION_ANALYZED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","jobRun":{"jobRunId":"j-old-4","jobLabel":"etl/e","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/e/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","partition":{"partitionRef":"data/e/1","status":"PARTITION_BUILDING","jobRunId":"j-old-4"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","jobRun":{"jobRunId":"j-old-4","status":"JOB_RUN_RUNNING"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","partition":{"partitionRef":"data/e/1","status":"PARTITION_FAILED","jobRunId":"j-old-4","message":"disk full"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","jobRun":{"jobRunId":"j-old-4","status":"JOB_RUN_FAILED","exitCode":3,"message":"disk full"}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-4","buildRequest":{"status":"BUILD_REQUEST_FAILED","message":"data/e/1 failed"}}');

-- b-old-5: cancelled before it requested anything.
SELECT bel.bel_append('{"buildRequestId":"b-old-5","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/f/1"]}}');
SELECT bel.bel_append('{"buildRequestId":"b-old-5","buildRequest":{"status":"BUILD_REQUEST_CANCELLED","message":"superseded"}}');

-- b-old-pb: received as binary protobuf, {buildRequestId:"bp", buildRequest:{status:RECEIVED,
-- requestedPartitions:["p/1"]}}; checks.sql moves it on.
SELECT bel.bel_append('\x22026270520708011203702f31'::bytea);
-- and one as text
SELECT bel.bel_append('{"buildRequestId":"b-old-text","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/t/1"]}}'::text);

-- A hole at the end too: the next idx after the upgrade (and after a restore) is past it.
BEGIN;
SELECT bel.bel_append('{"buildRequestId":"b-rolled-back","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/x/1"]}}');
ROLLBACK;

-- What the database holds now, for checks.sql to compare against.
DROP SCHEMA IF EXISTS upgrade_check CASCADE;
CREATE SCHEMA upgrade_check;
CREATE TABLE upgrade_check.events AS
    SELECT idx, event_type, schema_version, event_id, build_request_id, partition_ref, job_run_id, job_label,
           payload, created_at
    FROM bel.events;
CREATE TABLE upgrade_check.event_partitions AS SELECT partition_ref, idx FROM bel.event_partitions;
CREATE TABLE upgrade_check.known_partitions AS SELECT partition_ref FROM bel.known_partitions;
CREATE TABLE upgrade_check.build_request_state AS
    SELECT build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at, updated_at
    FROM bel.build_request_state;
CREATE TABLE upgrade_check.job_run_state AS
    SELECT job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx,
           last_idx, created_at, updated_at
    FROM bel.job_run_state;
CREATE TABLE upgrade_check.partition_state AS
    SELECT partition_ref, status, build_request_id, job_run_id, last_idx, updated_at FROM bel.partition_state;
CREATE TABLE upgrade_check.list_events AS SELECT * FROM bel.list_events(0, '{}', 10000);
CREATE TABLE upgrade_check.job_runs AS SELECT * FROM bel.job_runs();
CREATE TABLE upgrade_check.build_summaries AS
    SELECT build_request_id, bel.build_summary(build_request_id) AS summary FROM bel.build_request_state;
CREATE TABLE upgrade_check.sequence AS SELECT last_value FROM bel.events_idx_seq;

DO $$
DECLARE
    n bigint := (SELECT count(*) FROM bel.events);
    last bigint := (SELECT last_value FROM bel.events_idx_seq);
BEGIN
    IF n <> 61 THEN
        RAISE EXCEPTION 'fill: % events written, expected 61', n;
    END IF;
    -- the rolled-back appends left holes, in the middle and at the end
    IF last <> n + 2 OR (SELECT max(idx) FROM bel.events) <> n + 1 THEN
        RAISE EXCEPTION 'fill: expected idx 1..% with two holes, the last at %; sequence at %', n + 2, n + 2, last;
    END IF;
    IF EXISTS (SELECT 1 FROM bel.verify()) THEN
        RAISE EXCEPTION 'fill: bel.verify() is not empty before the upgrade';
    END IF;
END
$$;
