-- Bad input to the readers: since_idx, limit, the filter (JSON and binary), globs, the
-- isolation level the cursor needs, and the views' own arguments.
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/users/2026-11-01"]}}');

-- since_idx and limit (0..=10000).
select idx from bel.list_events(-1);
select idx from bel.list_events(0, '{}', -1);
select idx from bel.list_events(0, '{}', 10001);
select bel.list_events_page(0, '{}', 100000);
select idx from bel.list_events(0, '{}', 0);

-- The filter: malformed JSON, not an object, an unknown field, values that are not strings,
-- an empty value, too many values.
select bel.list_events_page(0, '{"partitionRefs":');
select idx from bel.list_events(0, '[]');
select idx from bel.list_events(0, '{"partitionRef":["data/users/2026-11-01"]}');
select idx from bel.list_events(0, '{"jobLabels":"etl"}');
select idx from bel.list_events(0, '{"jobRunIds":[7]}');
select idx from bel.list_events(0, '{"partitionRefs":[""]}');
select idx from bel.list_events(0, jsonb_build_object('partitionRefs', (select jsonb_agg('p' || i) from generate_series(1, 1001) i)));
-- Globs: an unclosed class, an unclosed alternation, a dangling escape.
select idx from bel.list_events(0, '{"partitionPatterns":["data/[users"]}');
select idx from bel.list_events(0, '{"partitionPatterns":["data/{users,orders"]}');
select idx from bel.list_events(0, '{"partitionPatterns":["data/users\\"]}');
-- The binary filter: not a bel.v1.EventFilter.
select bel.list_events_page(0, '\xffffffff'::bytea, 10);

-- The cursor needs READ COMMITTED (a fixed snapshot could skip a late commit).
begin isolation level repeatable read;
select idx from bel.list_events(0);
rollback;
begin isolation level serializable;
select bel.list_events_page(0);
rollback;

-- Views: an unknown build, paging limits.
select bel.build_summary('nobody');
select * from bel.partition_status(null, null, -1);
select * from bel.partition_status(null, null, 10001);
select * from bel.build_requests(null, -1);
select * from bel.partition_status('{"data/[users"}');
select * from bel.partition_counts('{"data/[users"}');

-- wait_for_append of an idx that is not in flight returns at once.
select bel.wait_for_append(12345, 1000);
