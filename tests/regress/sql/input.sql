-- Bad input to the append functions: every class is refused with its SQLSTATE (22P02
-- malformed, 22023 invalid value, 54000 too large), a message naming the field, and
-- nothing is written (the log stays empty: see the count at the end).
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

-- Malformed JSON (the text overload parses it itself; a jsonb literal is refused by
-- PostgreSQL before bel sees it).
select bel.bel_append('{"buildRequestId":"b1","buildRequest":');
select bel.bel_append('{"buildRequestId":"b1",'::jsonb);
-- Not an object.
select bel.bel_append('["b1"]');
select bel.bel_append('"b1"');
-- Unknown field.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]},"priority":1}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartition":["data/p"]}}');
-- A field of the wrong type.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":"data/p"}}');
select bel.bel_append('{"buildRequestId":7,"buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","timestamp":"yesterday","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}');
-- Unknown enum name and number.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_DONE","requestedPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"partitionRef":"data/p","status":"AVAILABLE"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":99,"requestedPartitions":["data/p"]}}');
-- The zero value of an enum, spelled out or left out.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_STATUS_UNSPECIFIED","requestedPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"requestedPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","targetPartitions":["data/p"]}}');
-- Missing keys.
select bel.bel_append('{"buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","partition":{"status":"PARTITION_REQUESTED"}}');
select bel.bel_append('{"buildRequestId":"b1","jobRun":{"status":"JOB_RUN_SCHEDULED","jobLabel":"etl","targetPartitions":["data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","delegation":{"delegatedToBuildRequestId":"b0"}}');
select bel.bel_append('{"invalidation":{"reason":"late data"}}');
-- No payload, or two.
select bel.bel_append('{"buildRequestId":"b1"}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]},"partition":{"partitionRef":"data/p","status":"PARTITION_REQUESTED"}}');
-- idx is the log's to assign.
select bel.bel_append('{"idx":"5","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}');
-- Bad values: no requested partition, the same partition twice, an empty partition ref,
-- control characters in an id.
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED"}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p","data/p"]}}');
select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":[""]}}');
select bel.bel_append('{"buildRequestId":"b\u0001","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}');
-- Too large: an id over 1024 bytes, a message making the event over 1 MiB, more than 10000
-- partitions in one event.
select bel.bel_append(json_build_object('buildRequestId', repeat('b', 1025),
    'buildRequest', json_build_object('status', 'BUILD_REQUEST_RECEIVED', 'requestedPartitions', array['data/p']))::text);
select bel.bel_append(json_build_object('buildRequestId', 'b1',
    'buildRequest', json_build_object('status', 'BUILD_REQUEST_RECEIVED', 'requestedPartitions', array['data/p'],
                                      'message', repeat('x', 1100000)))::text);
select bel.bel_append(json_build_object('buildRequestId', 'b1',
    'buildRequest', json_build_object('status', 'BUILD_REQUEST_RECEIVED',
                                      'requestedPartitions', (select array_agg('data/p' || i) from generate_series(1, 10001) i)))::text);
-- Binary protobuf: not a BuildEvent, a truncated one, an empty one (all fields absent).
select bel.bel_append('\xffffffff'::bytea);
select bel.bel_append('\x0a05'::bytea);
select bel.bel_append(''::bytea);
-- A build request event (build b1, partition data/p) whose status is 99: no such BuildRequestStatus.
select bel.bel_append('\x22026231520a08631206646174612f70'::bytea);

-- The batch form: not an array, a malformed element, too many events. Errors name the
-- position of the event (from 0).
select * from bel.bel_append_batch('{"buildRequestId":"b1"}');
select * from bel.bel_append_batch('[{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/p"]}}, {"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_PLANING"}}]');
select * from bel.bel_append_batch((select jsonb_agg('{}'::jsonb) from generate_series(1, 100001)));

-- Nothing above was written; the idx sequence was never touched by a refused shape.
select count(*) as events from bel.events;
select count(*) as partitions from bel.known_partitions;
