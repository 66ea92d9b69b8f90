-- The bel demo: two builds, a delegation, an invalidation and one refused transition,
-- appended through the SQL API, then read back. Run by scripts/demo.sh against a fresh
-- database:  psql -X -v ON_ERROR_STOP=1 -d bel_demo -f scripts/demo.sql
\set QUIET on
\pset pager off
\set ON_ERROR_STOP on
\set ECHO queries
\pset tuples_only on
\pset format unaligned

CREATE EXTENSION bel;

\echo
\echo '== Build b-2026-11-01: a nightly build of two partitions ============================'
\echo '-- each bel_append returns the idx the log assigned'
select bel.bel_append('{"eventId":"b-2026-11-01:received","buildRequestId":"b-2026-11-01","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/users/2026-11-01","data/orders/2026-11-01"],"message":"nightly build for 2026-11-01"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:planning","buildRequestId":"b-2026-11-01","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
\echo '-- a graph process retrying after a timeout: same eventId, same event -> the first idx, nothing written'
select bel.bel_append('{"eventId":"b-2026-11-01:planning","buildRequestId":"b-2026-11-01","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
\echo '-- a batch is all or nothing: one idx per event, in order'
select bel.bel_append_batch('[
  {"eventId":"b-2026-11-01:users:requested","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_REQUESTED"}},
  {"eventId":"b-2026-11-01:orders:requested","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/orders/2026-11-01","status":"PARTITION_REQUESTED"}}
]');
select bel.bel_append('{"eventId":"b-2026-11-01:users:analyzed","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_ANALYZED"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:orders:analyzed","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/orders/2026-11-01","status":"PARTITION_ANALYZED"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:analysis-completed","buildRequestId":"b-2026-11-01","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
select bel.bel_append('{"eventId":"jr-users-20261101:scheduled","buildRequestId":"b-2026-11-01","jobRun":{"jobRunId":"jr-users-20261101","jobLabel":"etl/users","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/users/2026-11-01"]}}');
select bel.bel_append('{"eventId":"jr-orders-20261101:scheduled","buildRequestId":"b-2026-11-01","jobRun":{"jobRunId":"jr-orders-20261101","jobLabel":"etl/orders","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/orders/2026-11-01"]}}');
select bel.bel_append('{"eventId":"b-2026-11-01:executing","buildRequestId":"b-2026-11-01","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:users:building","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_BUILDING","jobRunId":"jr-users-20261101"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:orders:building","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/orders/2026-11-01","status":"PARTITION_BUILDING","jobRunId":"jr-orders-20261101"}}');
\echo '-- later job run events may leave out jobLabel and targetPartitions: the log fills them in'
select bel.bel_append('{"eventId":"jr-users-20261101:running","buildRequestId":"b-2026-11-01","jobRun":{"jobRunId":"jr-users-20261101","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"eventId":"jr-orders-20261101:running","buildRequestId":"b-2026-11-01","jobRun":{"jobRunId":"jr-orders-20261101","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:users:available","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_AVAILABLE","jobRunId":"jr-users-20261101"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:orders:available","buildRequestId":"b-2026-11-01","partition":{"partitionRef":"data/orders/2026-11-01","status":"PARTITION_AVAILABLE","jobRunId":"jr-orders-20261101"}}');
select bel.bel_append('{"eventId":"jr-users-20261101:completed","buildRequestId":"b-2026-11-01","jobRun":{"jobRunId":"jr-users-20261101","status":"JOB_RUN_COMPLETED","exitCode":0,"message":"wrote 1204311 rows"}}');
select bel.bel_append('{"eventId":"jr-orders-20261101:completed","buildRequestId":"b-2026-11-01","jobRun":{"jobRunId":"jr-orders-20261101","status":"JOB_RUN_COMPLETED","exitCode":0,"message":"wrote 88412 rows"}}');
select bel.bel_append('{"eventId":"b-2026-11-01:completed","buildRequestId":"b-2026-11-01","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');

\echo
\echo '== Build b-2026-11-01-reports: needs data/users/2026-11-01, which b-2026-11-01 built ===='
select bel.bel_append('{"eventId":"b-2026-11-01-reports:received","buildRequestId":"b-2026-11-01-reports","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["reports/daily-active-users/2026-11-01"]}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:planning","buildRequestId":"b-2026-11-01-reports","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
\echo '-- its input is already AVAILABLE: the build records a delegation instead of requesting it again'
select bel.bel_append('{"eventId":"b-2026-11-01-reports:users:delegated","buildRequestId":"b-2026-11-01-reports","delegation":{"partitionRef":"data/users/2026-11-01","delegatedToBuildRequestId":"b-2026-11-01","message":"input built by b-2026-11-01"}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:dau:requested","buildRequestId":"b-2026-11-01-reports","partition":{"partitionRef":"reports/daily-active-users/2026-11-01","status":"PARTITION_REQUESTED"}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:dau:analyzed","buildRequestId":"b-2026-11-01-reports","partition":{"partitionRef":"reports/daily-active-users/2026-11-01","status":"PARTITION_ANALYZED"}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:analysis-completed","buildRequestId":"b-2026-11-01-reports","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
select bel.bel_append('{"eventId":"jr-dau-20261101:scheduled","buildRequestId":"b-2026-11-01-reports","jobRun":{"jobRunId":"jr-dau-20261101","jobLabel":"reports/daily-active-users","status":"JOB_RUN_SCHEDULED","targetPartitions":["reports/daily-active-users/2026-11-01"]}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:executing","buildRequestId":"b-2026-11-01-reports","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');

\echo
\echo '== A refused transition: moving the AVAILABLE partition data/users/2026-11-01 to BUILDING =='
\set ON_ERROR_STOP off
\set VERBOSITY verbose
select bel.bel_append('{"eventId":"b-2026-11-01-reports:users:building","buildRequestId":"b-2026-11-01-reports","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_BUILDING","jobRunId":"jr-dau-20261101"}}');
\set VERBOSITY default
\set ON_ERROR_STOP on
\if :ERROR
\echo '=> refused as expected, nothing was written. SQLSTATE:' :LAST_ERROR_SQLSTATE
\else
\warn 'demo: bel accepted an invalid transition (AVAILABLE -> BUILDING)'
do $$ begin raise exception 'demo failed: an invalid transition was accepted'; end $$;
\endif

\echo
\echo '== ...and the reports build carries on =================================================='
select bel.bel_append('{"eventId":"b-2026-11-01-reports:dau:building","buildRequestId":"b-2026-11-01-reports","partition":{"partitionRef":"reports/daily-active-users/2026-11-01","status":"PARTITION_BUILDING","jobRunId":"jr-dau-20261101"}}');
select bel.bel_append('{"eventId":"jr-dau-20261101:running","buildRequestId":"b-2026-11-01-reports","jobRun":{"jobRunId":"jr-dau-20261101","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:dau:available","buildRequestId":"b-2026-11-01-reports","partition":{"partitionRef":"reports/daily-active-users/2026-11-01","status":"PARTITION_AVAILABLE","jobRunId":"jr-dau-20261101"}}');
select bel.bel_append('{"eventId":"jr-dau-20261101:completed","buildRequestId":"b-2026-11-01-reports","jobRun":{"jobRunId":"jr-dau-20261101","status":"JOB_RUN_COMPLETED","exitCode":0}}');
select bel.bel_append('{"eventId":"b-2026-11-01-reports:completed","buildRequestId":"b-2026-11-01-reports","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');

\echo
\echo '== Late orders arrive upstream: invalidate data/orders/2026-11-01 ========================'
select bel.bel_append('{"eventId":"invalidate:data/orders/2026-11-01:1","invalidation":{"partitionRef":"data/orders/2026-11-01","reason":"upstream re-delivered late orders for 2026-11-01"}}');

\pset tuples_only off
\pset format aligned
\echo
\echo '== The log ============================================================================='
select idx, event_type, build_request_id, partition_ref, job_run_id, event from bel.list_events(0, '{}', 1000);

\echo
\echo '== Everything that involves data/users/* (answered from the partition index) ==========='
select * from bel.list_events(0, '{"partitionPatterns":["data/users/*"]}', 100);

\echo
\echo '== Partition status ===================================================================='
select * from bel.partition_status();

\echo
\echo '== Job runs ============================================================================'
select job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message from bel.job_runs();

\echo
\echo '== Summary of build b-2026-11-01 ======================================================='
\pset format unaligned
\pset tuples_only on
select jsonb_pretty(bel.build_summary('b-2026-11-01'));
\pset format aligned
\pset tuples_only off

\echo
\echo '== Projections vs. a replay of the log (no rows = consistent) =========================='
select * from bel.verify();
\set ECHO none
select count(*) = 0 as verify_ok from bel.verify() \gset
\if :verify_ok
\echo '=> projections match the replayed log'
\else
\warn 'demo: bel.verify() reports differences between projections and replay'
do $$ begin raise exception 'demo failed: bel.verify() is not empty'; end $$;
\endif
