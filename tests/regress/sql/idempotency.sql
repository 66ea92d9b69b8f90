-- eventId: a retried event (same eventId, same event) returns the first idx and writes
-- nothing; a different event under a used eventId is refused (23505). A batch is all or
-- nothing: one refused event and none of the batch is written.
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

select bel.bel_append('{"eventId":"b1:received","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');
select bel.bel_append('{"eventId":"b1:received","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');
select bel.bel_append('{"eventId":"b1:planning","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}');
-- A retry after the state moved on is still answered with the first idx.
select bel.bel_append('{"eventId":"b1:received","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');
-- The same eventId for a different event.
select bel.bel_append('{"eventId":"b1:planning","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_CANCELLED"}}');
select bel.bel_append('{"eventId":"b1:received","buildRequestId":"b2","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');
-- The same eventId twice in one batch for different events.
select * from bel.bel_append_batch('[
  {"eventId":"b3:received","buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/c"]}},
  {"eventId":"b3:received","buildRequestId":"b3","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}}
]');
-- Retries inside a batch return their first idx too.
select * from bel.bel_append_batch('[
  {"eventId":"b1:planning","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"eventId":"b1:a:requested","buildRequestId":"b1","partition":{"partitionRef":"data/a","status":"PARTITION_REQUESTED"}}
]');

-- All or nothing: the third event is refused, the first two are not written either.
select * from bel.bel_append_batch('[
  {"buildRequestId":"b4","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/d"]}},
  {"buildRequestId":"b4","buildRequest":{"status":"BUILD_REQUEST_PLANNING"}},
  {"buildRequestId":"b4","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}
]');
select bel.build_summary('b4');
-- Inside a transaction, a refused append aborts the transaction (the caller's savepoint can
-- keep the earlier appends, as here).
begin;
select bel.bel_append('{"buildRequestId":"b5","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/e"]}}');
savepoint before_bad;
select bel.bel_append('{"buildRequestId":"b5","buildRequest":{"status":"BUILD_REQUEST_COMPLETED"}}');
rollback to savepoint before_bad;
commit;
-- A new build's RECEIVED reusing an eventId stored earlier in the same transaction: the
-- stored event is seen (refused as a conflict, not written as a second row).
begin;
select bel.bel_append('{"eventId":"b6:received","buildRequestId":"b6","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/f"]}}');
select bel.bel_append('{"eventId":"b6:received","buildRequestId":"b7","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/f"]}}');
rollback;

select idx, event_id, build_request_id, event_type from bel.events order by idx;
select count(*) as differences from bel.verify();
