-- Refusals of the job run diagram and its rules:
--   (none) -> SCHEDULED (its build is ANALYSIS_COMPLETED or EXECUTING; a label and targets);
--   SCHEDULED -> RUNNING | SKIPPED | CANCELLED; RUNNING -> COMPLETED | FAILED | CANCELLED;
--   COMPLETED, FAILED, SKIPPED, CANCELLED are terminal; a job run belongs to one build, its
--   label and targets never change.
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

select * from bel.bel_append_batch('[
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/b"]}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}
]');

-- Scheduled while its build is still PLANNING.
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
-- A first event other than SCHEDULED; SCHEDULED without a label or targets.
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_RUNNING","targetPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_SCHEDULED"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}}');
-- SCHEDULED again; a state skipped.
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_SCHEDULED"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_COMPLETED"}}');
-- Another build's event for this job run; a changed label; changed targets.
select bel.bel_append('{"buildRequestId":"b2","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl2","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING","targetPartitions":["data/a","data/b"]}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING"}}');
-- RUNNING -> SKIPPED, RUNNING again.
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_SKIPPED"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_FAILED","exitCode":3,"message":"out of memory"}}');
-- Terminal: nothing more.
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_COMPLETED"}}');
-- SKIPPED is terminal too.
select bel.bel_append('{"buildRequestId":"b2","jobRun":{"jobRunId":"j2","jobLabel":"etl","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/b"]}}');
select bel.bel_append('{"buildRequestId":"b2","jobRun":{"jobRunId":"j2","status":"JOB_RUN_SKIPPED"}}');
select bel.bel_append('{"buildRequestId":"b2","jobRun":{"jobRunId":"j2","status":"JOB_RUN_RUNNING"}}');

select job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message from bel.job_runs() order by 1;
select count(*) as differences from bel.verify();
