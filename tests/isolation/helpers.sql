-- Helpers of the isolation specs (tests/isolation/specs/*.spec), installed by
-- scripts/pg-regress.sh into the fresh database before the specs run. They live in schema
-- iso, outside the extension, so a spec's setup can drop and recreate bel (`CALL
-- iso.fresh()`: an empty log whose idx starts at 1 in every permutation, so outputs can show
-- idx values as they are) without losing them.
-- The bodies refer to bel, which each permutation creates: not checked at creation.
SET check_function_bodies = off;
CREATE SCHEMA iso;

-- Which backend is which spec session: each session's setup registers itself, so lock
-- holders found in pg_locks can be printed by session name.
CREATE TABLE iso.sessions (name text PRIMARY KEY, pid int NOT NULL);

CREATE PROCEDURE iso.fresh() LANGUAGE plpgsql AS $$
BEGIN
    SET LOCAL client_min_messages = warning; -- no "drop cascades to ..." notices
    DROP EXTENSION IF EXISTS bel CASCADE;
    CREATE EXTENSION bel;
    DELETE FROM iso.sessions;
END
$$;

CREATE PROCEDURE iso.register(name text) LANGUAGE sql AS $$
    INSERT INTO iso.sessions VALUES (name, pg_backend_pid())
$$;

-- Events in proto3 JSON, as a graph process sends them (empty arguments are left out).
CREATE FUNCTION iso.build_event(build text, status text, requested text[] DEFAULT NULL, event_id text DEFAULT NULL)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'eventId', event_id,
        'buildRequestId', build,
        'buildRequest', jsonb_build_object('status', 'BUILD_REQUEST_' || status, 'requestedPartitions', requested)))::text
$$;

CREATE FUNCTION iso.partition_event(build text, ref text, status text, job_run text DEFAULT NULL, event_id text DEFAULT NULL)
RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'eventId', event_id,
        'buildRequestId', build,
        'partition', jsonb_build_object('partitionRef', ref, 'status', 'PARTITION_' || status, 'jobRunId', job_run)))::text
$$;

CREATE FUNCTION iso.delegation_event(build text, ref text, delegated_to text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
    SELECT jsonb_build_object(
        'buildRequestId', build,
        'delegation', jsonb_build_object('partitionRef', ref, 'delegatedToBuildRequestId', delegated_to))::text
$$;

-- The outcome of an append on one line: its idx, or the refusal's SQLSTATE, message and
-- HINT (isolationtester prints only the message of an error). The append runs in a
-- subtransaction (the exception block), like an append under a savepoint.
CREATE FUNCTION iso.append(event text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    state text;
    message text;
    hint text;
BEGIN
    RETURN bel.bel_append(event)::text;
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS state = RETURNED_SQLSTATE, message = MESSAGE_TEXT, hint = PG_EXCEPTION_HINT;
    RETURN 'ERROR ' || state || ': ' || message || coalesce(' HINT: ' || nullif(hint, ''), '');
END
$$;

-- A page of the no-loss cursor, summarized: the idx values it returned, nextIdx, hasMore and
-- inFlightIdx (proto3 JSON leaves out default values: they are filled in here).
CREATE FUNCTION iso.page(since bigint, filter text DEFAULT '{}')
RETURNS TABLE (events text, next_idx bigint, has_more boolean, in_flight_idx bigint)
LANGUAGE sql AS $$
    SELECT coalesce((SELECT string_agg(e->>'idx', ',' ORDER BY (e->>'idx')::bigint)
                     FROM jsonb_array_elements(p->'events') e), ''),
           coalesce((p->>'nextIdx')::bigint, 0),
           coalesce((p->>'hasMore')::boolean, false),
           coalesce((p->>'inFlightIdx')::bigint, 0)
    FROM bel.list_events_page(since, filter::jsonb, 100) p
$$;

-- The log as (idx, kind, build, event id): what was written, without timestamps.
CREATE FUNCTION iso.log() RETURNS TABLE (idx bigint, event_type text, build_request_id text, event_id text)
LANGUAGE sql AS $$
    SELECT idx, event_type, build_request_id, event_id FROM bel.events ORDER BY idx
$$;

-- The sessions holding bel's advisory lock of class `class` (pg_locks shows the 16-bit class as a
-- signed objsubid; see src/no_loss/locks.rs: 0xBE02 in-flight, 0xBE03 notifier), with the
-- lock's key.
CREATE FUNCTION iso.holders(class int) RETURNS TABLE (session text, key bigint)
LANGUAGE sql AS $$
    SELECT s.name, (l.classid::bigint << 32) | l.objid::bigint
    FROM pg_locks l JOIN iso.sessions s ON s.pid = l.pid
    WHERE l.locktype = 'advisory' AND (l.objsubid::int & 65535) = class AND l.granted
      AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    ORDER BY 1, 2
$$;

-- Appends events one by one, printing nothing (for the setup blocks, whose result sets
-- isolationtester would print).
CREATE PROCEDURE iso.append_all(VARIADIC events text[]) LANGUAGE plpgsql AS $$
DECLARE
    e text;
BEGIN
    FOREACH e IN ARRAY events LOOP
        PERFORM bel.bel_append(e);
    END LOOP;
END
$$;
