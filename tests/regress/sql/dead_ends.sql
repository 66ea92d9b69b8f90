-- No dead ends (docs/sql-api.md, "No dead ends"):
--   entering BUILDING names a job run of the owning build that is SCHEDULED or RUNNING and
--   targets the partition (22023 none named, 23503 it does not exist, 23514 otherwise);
--   BUILDING -> FAILED may name any job run that targets the partition, or none;
--   a build ends (COMPLETED, FAILED, CANCELLED) only without work in progress: partitions
--   it owns in REQUESTED..BUILDING, job runs SCHEDULED or RUNNING (23514; the HINT of
--   FAILED/CANCELLED is the one call that ends them, then the build);
--   bel.verify() reports partitions an old log left in progress under an ended build.
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

select condition from bel.transitions() where entity = 'partition' and to_state = 'BUILDING';
select from_state, to_state, condition from bel.transitions()
 where entity = 'build_request' and to_state in ('COMPLETED', 'CANCELLED') order by 1, 2;

-- b1 EXECUTING owns data/a and data/b ANALYZED; j1 (RUNNING) targets data/a, j2
-- (SCHEDULED) data/b; b2 has j9 (SCHEDULED, data/a).
select count(*) from bel.bel_append_batch('[
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a","data/b"]}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_ANALYZED"}},
  {"buildRequestId":"b1","partition":{"partitionRef":"data/b","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b1","partition":{"partitionRef":"data/b","status":"PARTITION_ANALYZED"}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl/a","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j2","jobLabel":"etl/b","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/b"]}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j3","jobLabel":"etl/a","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING"}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j3","status":"JOB_RUN_SKIPPED"}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/c"]}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}},
  {"buildRequestId":"b2","jobRun":{"jobRunId":"j9","jobLabel":"etl/a","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}}
]');

-- Entering BUILDING: no job run, one that does not exist (the example of issue 11), one of
-- another build, an ended one, one that does not target the partition.
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"nojob"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j9"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j3"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j2"}}');
-- Under a RUNNING and under a SCHEDULED run of the owner that target them: accepted.
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j1"}}') > 0 as accepted;
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/b","status":"PARTITION_BUILDING","jobRunId":"j2"}}') > 0 as accepted;

-- Ending b1 with that work in progress: refused, the DETAIL lists it, the HINT ends it.
select bel.bel_append('{"eventId":"b1:cancelled","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_CANCELLED","message":"operator''s call"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');
-- The HINT's call, run as it stands.
DO $$
DECLARE hint text;
BEGIN
    PERFORM bel.bel_append('{"eventId":"b1:cancelled","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_CANCELLED","message":"operator''s call"}}');
    RAISE EXCEPTION 'the end was accepted';
EXCEPTION WHEN check_violation THEN
    GET STACKED DIAGNOSTICS hint = PG_EXCEPTION_HINT;
    EXECUTE substr(hint, strpos(hint, 'select bel.bel_append_batch('));
END
$$;
select payload - 'timestamp' as event from bel.events where build_request_id = 'b1' order by idx desc limit 5;
select partition_ref, status, build_request_id, job_run_id from bel.partition_status('{data/*}') order by 1;
select job_run_id, status, message from bel.job_runs('b1') order by 1;
-- Freed: b2 requests data/a.
select bel.bel_append('{"buildRequestId":"b2","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}') > 0 as accepted;

-- COMPLETED with every requested partition AVAILABLE but its job run still RUNNING.
select count(*) from bel.bel_append_batch('[
  {"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/d"]}},
  {"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b3","partition":{"partitionRef":"data/d","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b3","partition":{"partitionRef":"data/d","status":"PARTITION_ANALYZED"}},
  {"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}},
  {"buildRequestId":"b3","jobRun":{"jobRunId":"j-d","jobLabel":"etl/d","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/d"]}},
  {"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}},
  {"buildRequestId":"b3","jobRun":{"jobRunId":"j-d","status":"JOB_RUN_RUNNING"}},
  {"buildRequestId":"b3","partition":{"partitionRef":"data/d","status":"PARTITION_BUILDING","jobRunId":"j-d"}},
  {"buildRequestId":"b3","partition":{"partitionRef":"data/d","status":"PARTITION_AVAILABLE","jobRunId":"j-d"}}
]');
select bel.bel_append('{"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');
-- In a batch, the position of the refused event is named.
select * from bel.bel_append_batch('[
  {"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}},
  {"buildRequestId":"b3","jobRun":{"jobRunId":"j-d","status":"JOB_RUN_COMPLETED"}}
]');
select count(*) from bel.bel_append_batch('[
  {"buildRequestId":"b3","jobRun":{"jobRunId":"j-d","status":"JOB_RUN_COMPLETED"}},
  {"buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}
]');
select count(*) as differences from bel.verify();

-- A log written before these rules (events inserted past bel_append here, as 0.1.0
-- accepted them): b4 FAILED while data/e was BUILDING under a job run that does not exist.
select count(*) from bel.bel_append_batch('[
  {"buildRequestId":"b4","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/e"]}},
  {"buildRequestId":"b4","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b4","partition":{"partitionRef":"data/e","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b4","partition":{"partitionRef":"data/e","status":"PARTITION_ANALYZED"}}
]');
insert into bel.events (idx, event_type, schema_version, build_request_id, partition_ref, job_run_id, payload)
values (nextval('bel.events_idx_seq'), 'partition', 1, 'b4', 'data/e', 'nojob',
        '{"buildRequestId":"b4","partition":{"partitionRef":"data/e","status":"PARTITION_BUILDING","jobRunId":"nojob"},"timestamp":"2026-11-01T00:00:00Z"}'),
       (nextval('bel.events_idx_seq'), 'build_request', 1, 'b4', null, null,
        '{"buildRequestId":"b4","buildRequest":{"status":"BUILD_REQUEST_FAILED"},"timestamp":"2026-11-01T00:00:01Z"}');
-- The replay holds them to the rules of their time; verify reports the stranded partition.
select bel.rebuild_projections() > 0 as replayed;
select entity, key, projected->>'status' as projected_status, replayed->>'status' as replayed_status,
       replayed->>'ownerStatus' as owner_status, replayed->>'problem' as problem
  from bel.verify();
-- Nobody can request it again: the ended owner still holds it.
select bel.bel_append('{"buildRequestId":"b2","partition":{"partitionRef":"data/e","status":"PARTITION_REQUESTED"}}');
