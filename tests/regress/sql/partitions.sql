-- Refusals of the partition diagram and its rules:
--   (none) | FAILED | INVALIDATED -> REQUESTED (the requesting build becomes the owner);
--   REQUESTED -> ANALYZED | FAILED; ANALYZED -> BUILDING | FAILED;
--   BUILDING -> AVAILABLE | FAILED (naming a RUNNING job run that targets it);
--   AVAILABLE -> INVALIDATED (by an invalidation event).
-- Only the owner moves a partition; a build that needs a partition another build owns or
-- that is AVAILABLE records a delegation (the refusal's HINT shows it).
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

select * from bel.bel_append_batch('[
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a","data/b"]}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}},
  {"buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}
]');

-- A first event other than REQUESTED.
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_ANALYZED"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');
-- Requesting a partition another build owns: delegate instead (the HINT is the event to send).
select bel.bel_append('{"buildRequestId":"b2","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');
-- Moving a partition another build owns.
select bel.bel_append('{"buildRequestId":"b2","partition":{"partitionRef":"data/a","status":"PARTITION_ANALYZED"}}');
-- REQUESTED again; a state skipped; INVALIDATED by a partition event.
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j1"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_INVALIDATED"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_ANALYZED"}}');

-- Delegations: to a partition nobody named, to one's own partition, to the wrong owner.
select bel.bel_append('{"buildRequestId":"b2","delegation":{"partitionRef":"data/zzz"}}');
select bel.bel_append('{"buildRequestId":"b1","delegation":{"partitionRef":"data/a"}}');
select bel.bel_append('{"buildRequestId":"b2","delegation":{"partitionRef":"data/a","delegatedToBuildRequestId":"b3"}}');
select bel.bel_append('{"buildRequestId":"b2","delegation":{"partitionRef":"data/a"}}');

-- Leaving BUILDING: without a job run, with one that does not exist, one not RUNNING, one
-- that does not target the partition.
select * from bel.bel_append_batch('[
  {"buildRequestId":"b1","partition":{"partitionRef":"data/b","status":"PARTITION_REQUESTED"}},
  {"buildRequestId":"b1","partition":{"partitionRef":"data/b","status":"PARTITION_ANALYZED"}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_ANALYSIS_COMPLETED"}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl/a","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/a"]}},
  {"buildRequestId":"b1","jobRun":{"jobRunId":"j2","jobLabel":"etl/b","status":"JOB_RUN_SCHEDULED","targetPartitions":["data/b"]}},
  {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_EXECUTING"}},
  {"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j1"}}
]');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_AVAILABLE"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_AVAILABLE","jobRunId":"j9"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_AVAILABLE","jobRunId":"j1"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j2","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_AVAILABLE","jobRunId":"j2"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","status":"JOB_RUN_RUNNING"}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_AVAILABLE","jobRunId":"j1"}}');

-- AVAILABLE: moving it again, requesting it from another build (delegate: HINT), and
-- invalidating a partition that is not AVAILABLE.
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_BUILDING","jobRunId":"j1"}}');
select bel.bel_append('{"buildRequestId":"b2","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');
select bel.bel_append('{"invalidation":{"partitionRef":"data/b","reason":"late data"}}');
select bel.bel_append('{"invalidation":{"partitionRef":"data/zzz","reason":"late data"}}');
select bel.bel_append('{"invalidation":{"partitionRef":"data/a","reason":"late data"}}');
select bel.bel_append('{"invalidation":{"partitionRef":"data/a","reason":"again"}}');
-- INVALIDATED: nobody produces it now, so delegating to it is refused; requesting works.
select bel.bel_append('{"buildRequestId":"b2","delegation":{"partitionRef":"data/a"}}');
select bel.bel_append('{"buildRequestId":"b2","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}');

select partition_ref, status, build_request_id, job_run_id from bel.partition_status() order by 1;
select count(*) as differences from bel.verify();
