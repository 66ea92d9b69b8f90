-- Refusals of the build request diagram and its cross-entity rules:
--   (none) -> RECEIVED; RECEIVED -> PLANNING | FAILED | CANCELLED;
--   PLANNING -> ANALYSIS_COMPLETED | FAILED | CANCELLED; ANALYSIS_COMPLETED -> EXECUTING | ...;
--   EXECUTING -> COMPLETED | FAILED | CANCELLED; COMPLETED, FAILED, CANCELLED are terminal.
-- An event that is not a correct next state: 55000, DETAIL the event and the current state.
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

-- Any first event other than RECEIVED: the build request does not exist.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_CANCELLED"}}');

select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a","data/b"]}}');
-- RECEIVED twice; a state skipped; a state out of order.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');

-- COMPLETED while requested partitions are not AVAILABLE (23514): DETAIL lists them.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');

-- Terminal states accept nothing more.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_CANCELLED"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_FAILED"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');

-- Events of other entities naming a build that does not exist (23503) or that ended (23514).
select bel.bel_append('{"buildRequestId":"nobody","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');
select bel.bel_append('{"buildRequestId":"nobody","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"nobody","delegation":{"partitionRef":"data/a"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}}');
select bel.bel_append('{"buildRequestId":"b1","delegation":{"partitionRef":"data/a"}}');

-- What was accepted.
select idx, event_type, build_request_id, payload->'buildRequest'->>'status' as status from bel.events order by idx;
select count(*) as differences from bel.verify();
