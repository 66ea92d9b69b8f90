-- Roles and privileges. Functions run SECURITY DEFINER with a pinned search_path, so the
-- roles need EXECUTE only; nothing is granted to PUBLIC.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'bel_reader') THEN
        CREATE ROLE bel_reader NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'bel_writer') THEN
        CREATE ROLE bel_writer NOLOGIN;
    END IF;
END
$$;

REVOKE ALL ON SCHEMA bel FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA bel FROM PUBLIC;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA bel FROM PUBLIC;
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA bel FROM PUBLIC;

GRANT USAGE ON SCHEMA bel TO bel_reader, bel_writer;
GRANT SELECT ON ALL TABLES IN SCHEMA bel TO bel_reader, bel_writer;

GRANT EXECUTE ON FUNCTION
    bel.list_events(bigint, jsonb, integer),
    bel.list_events_page(bigint, jsonb, integer),
    bel.list_events_page(bigint, text, integer),
    bel.list_events_page(bigint, bytea, integer),
    bel.list_events_page(bigint, jsonb, integer, bigint, pg_lsn, integer),
    bel.list_events_page(bigint, text, integer, bigint, pg_lsn, integer),
    bel.list_events_page(bigint, bytea, integer, bigint, pg_lsn, integer),
    bel.horizon(),
    bel.wait_for_append(bigint, integer),
    bel.partition_status(text[], text, integer),
    bel.partition_counts(text[]),
    bel.build_requests(bigint, integer),
    bel.build_summary(text),
    bel.job_runs(text, text),
    bel.transitions(),
    bel.verify()
TO bel_reader, bel_writer;

GRANT EXECUTE ON FUNCTION
    bel.bel_append(jsonb),
    bel.bel_append(text),
    bel.bel_append(bytea),
    bel.bel_append_batch(jsonb)
TO bel_writer;
-- bel.rebuild_projections() stays with the owner (superuser): it rewrites the projections.

-- The kept SPI plans of these functions run with parameters whose values barely change
-- their best plan; a custom plan per call would re-plan every statement of every append.
-- A generic plan is made once per backend, possibly while the tables are still empty, and
-- kept while they grow: the append and read paths must never pick a sequential scan or a
-- hash/merge join over a whole table then, so those are off for them (every statement
-- they run is an index lookup or an ordered index range scan by design).
-- The append functions set the same five in code, around the statements of their general
-- path only (src/spi/planner_settings.rs): a function's SET clauses cost every call, and
-- a lone build request runs no statement.
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'bel'::regnamespace
               AND p.proname NOT IN ('refuse_change', 'bel_append', 'bel_append_batch')
    LOOP
        -- jit: bel's statements are small; with enable_seqscan off the one unavoidable
        -- sequential scan (of the idx sequence) would cost 1e10 and trigger JIT compilation
        -- on every call.
        EXECUTE format('ALTER FUNCTION %s SET plan_cache_mode = force_generic_plan SET jit = off', f);
    END LOOP;
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
             WHERE p.pronamespace = 'bel'::regnamespace
               AND p.proname IN ('list_events', 'list_events_page',
                                 'partition_status', 'build_summary', 'job_runs',
                                 'build_requests')
    LOOP
        EXECUTE format('ALTER FUNCTION %s SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off', f);
    END LOOP;
END
$$;

-- build_summary renders its times as jsonb strings, which follow the session's TimeZone:
-- pinned to UTC, like the events' own timestamps, so its output does not depend on the caller.
ALTER FUNCTION bel.build_summary(text) SET TimeZone = 'UTC';
