-- The log is append-only for every role, the superuser and the tables' owner included:
-- UPDATE, DELETE and TRUNCATE of bel.events and bel.event_partitions are refused by
-- triggers (42501), with a DETAIL and a HINT saying what to do instead.
\set VERBOSITY verbose
SET client_min_messages = warning;
DROP EXTENSION IF EXISTS bel CASCADE;
CREATE EXTENSION bel;
RESET client_min_messages;

select bel.bel_append('{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/a"]}}');

update bel.events set build_request_id = 'b2';
delete from bel.events;
truncate bel.events;
truncate bel.events cascade;
update bel.event_partitions set partition_ref = 'data/b';
delete from bel.event_partitions;
truncate bel.event_partitions;
-- Also with the triggers' session_replication_role bypass.
set session_replication_role = replica;
delete from bel.events;
reset session_replication_role;

select idx, build_request_id from bel.events;
select partition_ref, idx from bel.event_partitions;
