-- The epilogue of the bel demo (scripts/demo.sh), after the two graphs ran: one refused
-- append, then the state both graphs left behind, read with the SQL API.
--   psql -X -v ON_ERROR_STOP=1 -d bel_demo -f scripts/demo.sql
\set QUIET on
\pset pager off
\set ON_ERROR_STOP on
\set ECHO queries

\echo
\echo '== A refused append: a second build requests data/users/2026-11-01, which users-2026-11-01 built =='
select bel.bel_append('{"buildRequestId":"users-2026-11-01-rerun","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/users/2026-11-01"]}}');
select bel.bel_append('{"buildRequestId":"users-2026-11-01-rerun","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
\set ON_ERROR_STOP off
\set VERBOSITY verbose
select bel.bel_append('{"buildRequestId":"users-2026-11-01-rerun","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_REQUESTED"}}');
\set VERBOSITY default
\set ON_ERROR_STOP on
\if :ERROR
\echo '=> refused, nothing was written. SQLSTATE:' :LAST_ERROR_SQLSTATE
\else
\warn 'demo: bel accepted a second owner for an AVAILABLE partition'
do $$ begin raise exception 'demo failed: an invalid append was accepted'; end $$;
\endif
\echo '-- as the HINT says, the build records a delegation instead, and is done'
select bel.bel_append('{"buildRequestId":"users-2026-11-01-rerun","delegation":{"partitionRef":"data/users/2026-11-01"}}');
select bel.bel_append('{"buildRequestId":"users-2026-11-01-rerun","buildRequest":{"status":"BUILD_REQUEST_CANCELLED","message":"already built"}}');

\echo
\echo '== Partition status of both graphs ====================================================='
select partition_ref, status, build_request_id, job_run_id, last_idx from bel.partition_status('{data/users/*,reports/*}');
select * from bel.partition_counts();

\echo
\echo '== Job runs that failed, and the retries that built their partitions ================'
select job_run_id, build_request_id, job_label, status, exit_code, message
  from bel.job_runs() where build_request_id in (select build_request_id from bel.job_runs() where status = 'FAILED');

\echo
\echo '== Recent builds =========================================================================='
select build_request_id, status, requested_partitions, first_idx, last_idx from bel.build_requests(null, 6);

\echo
\echo '== The log of one partition (answered from the partition index) ========================='
select idx, event_type, build_request_id, job_run_id from bel.list_events(0, '{"partitionRefs":["data/users/2026-11-02"]}', 100);

\echo
\echo '== Projections vs. a replay of the log (no rows = consistent) =========================='
select * from bel.verify();
\set ECHO none
select count(*) = 0 as verify_ok from bel.verify() \gset
\if :verify_ok
\echo '=> projections match the replayed log'
\else
\warn 'demo: bel.verify() reports differences between projections and replay'
do $$ begin raise exception 'demo failed: verify() is not empty'; end $$;
\endif
