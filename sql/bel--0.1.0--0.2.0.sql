-- bel 0.1.0 -> 0.2.0, run by ALTER EXTENSION bel UPDATE (see docs/upgrades.md).
-- Brings a 0.1.0 database to exactly what a fresh 0.2.0 install creates (the schema from
-- sql/schema.sql, the functions from src/api.rs, the grants and settings of sql/roles.sql);
-- scripts/upgrade-test.sh compares the two catalogs. The log, its indexes and the
-- projections keep their rows: nothing here rewrites a table.
\echo Use "ALTER EXTENSION bel UPDATE TO '0.2.0'" to load this file. \quit

-- === storage ================================================================================
-- bel.build_requests pages by first_idx, newest first. build_request_state has one row per
-- build, so the index builds quickly (it blocks appends that create builds meanwhile).
CREATE INDEX build_request_state_first_idx ON bel.build_request_state (first_idx);

-- === functions ==============================================================================
-- partition_status gains paging (after_ref, limit): a new signature, so the 0.1.0 function
-- is replaced (the old one-argument calls still resolve, through the defaults).
DROP FUNCTION bel.partition_status(text[]);
CREATE FUNCTION bel.partition_status(
	"patterns" TEXT[] DEFAULT NULL,
	"after_ref" TEXT DEFAULT NULL,
	"limit" INT DEFAULT NULL
) RETURNS TABLE (
	"partition_ref" TEXT,
	"status" TEXT,
	"build_request_id" TEXT,
	"job_run_id" TEXT,
	"last_idx" bigint,
	"updated_at" timestamp with time zone
)
STABLE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'partition_status_wrapper';

CREATE FUNCTION bel.partition_counts(
	"patterns" TEXT[] DEFAULT NULL
) RETURNS TABLE (
	"status" TEXT,
	"partitions" bigint
)
STABLE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'partition_counts_wrapper';

CREATE FUNCTION bel.build_requests(
	"before_idx" bigint DEFAULT NULL,
	"limit" INT DEFAULT 50
) RETURNS TABLE (
	"build_request_id" TEXT,
	"status" TEXT,
	"requested_partitions" TEXT[],
	"first_idx" bigint,
	"last_idx" bigint,
	"created_at" timestamp with time zone,
	"updated_at" timestamp with time zone
)
STABLE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'build_requests_wrapper';

-- Followers on hot standbys (docs/no-loss-cursor.md): the primary's horizon with its WAL
-- position, and pages read below such a horizon (on a standby, once replayed).
CREATE FUNCTION bel.horizon() RETURNS TABLE (
	"horizon_idx" bigint,
	"horizon_lsn" pg_lsn,
	"in_flight_idx" bigint
)
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'horizon_wrapper';

CREATE FUNCTION bel.list_events_page(
	"since_idx" bigint,
	"filter" jsonb,
	"limit" INT,
	"horizon_idx" bigint,
	"horizon_lsn" pg_lsn,
	"replay_timeout_ms" INT DEFAULT 10000
) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'list_events_page_at_horizon_wrapper';

CREATE FUNCTION bel.list_events_page(
	"since_idx" bigint,
	"filter" TEXT,
	"limit" INT,
	"horizon_idx" bigint,
	"horizon_lsn" pg_lsn,
	"replay_timeout_ms" INT DEFAULT 10000
) RETURNS jsonb
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'list_events_page_at_horizon_text_wrapper';

CREATE FUNCTION bel.list_events_page(
	"since_idx" bigint,
	"filter" bytea,
	"limit" INT,
	"horizon_idx" bigint,
	"horizon_lsn" pg_lsn,
	"replay_timeout_ms" INT DEFAULT 10000
) RETURNS bytea
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'list_events_page_at_horizon_protobuf_wrapper';

-- === privileges and settings of the new functions (as sql/roles.sql gives them) =============
REVOKE ALL ON FUNCTION
    bel.partition_status(text[], text, integer),
    bel.partition_counts(text[]),
    bel.build_requests(bigint, integer),
    bel.horizon(),
    bel.list_events_page(bigint, jsonb, integer, bigint, pg_lsn, integer),
    bel.list_events_page(bigint, text, integer, bigint, pg_lsn, integer),
    bel.list_events_page(bigint, bytea, integer, bigint, pg_lsn, integer)
FROM PUBLIC;
GRANT EXECUTE ON FUNCTION
    bel.partition_status(text[], text, integer),
    bel.partition_counts(text[]),
    bel.build_requests(bigint, integer),
    bel.horizon(),
    bel.list_events_page(bigint, jsonb, integer, bigint, pg_lsn, integer),
    bel.list_events_page(bigint, text, integer, bigint, pg_lsn, integer),
    bel.list_events_page(bigint, bytea, integer, bigint, pg_lsn, integer)
TO bel_reader, bel_writer;

ALTER FUNCTION bel.partition_status(text[], text, integer)
    SET plan_cache_mode = force_generic_plan SET jit = off
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION bel.partition_counts(text[])
    SET plan_cache_mode = force_generic_plan SET jit = off;
ALTER FUNCTION bel.build_requests(bigint, integer)
    SET plan_cache_mode = force_generic_plan SET jit = off
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION bel.horizon()
    SET plan_cache_mode = force_generic_plan SET jit = off;
ALTER FUNCTION bel.list_events_page(bigint, jsonb, integer, bigint, pg_lsn, integer)
    SET plan_cache_mode = force_generic_plan SET jit = off
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION bel.list_events_page(bigint, text, integer, bigint, pg_lsn, integer)
    SET plan_cache_mode = force_generic_plan SET jit = off
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;
ALTER FUNCTION bel.list_events_page(bigint, bytea, integer, bigint, pg_lsn, integer)
    SET plan_cache_mode = force_generic_plan SET jit = off
    SET enable_seqscan = off SET enable_hashjoin = off SET enable_mergejoin = off;

-- transitions gains a column, condition (what an edge needs besides the entity's own
-- state): a new result type, so the 0.1.0 function is replaced, with its grants and settings.
DROP FUNCTION bel.transitions();
CREATE FUNCTION bel.transitions() RETURNS TABLE (
	"entity" TEXT,
	"from_state" TEXT,
	"to_state" TEXT,
	"condition" TEXT
)
IMMUTABLE STRICT SECURITY DEFINER PARALLEL SAFE
SET search_path TO pg_catalog, pg_temp
LANGUAGE c
AS 'MODULE_PATHNAME', 'transitions_wrapper';
REVOKE ALL ON FUNCTION bel.transitions() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bel.transitions() TO bel_reader, bel_writer;
ALTER FUNCTION bel.transitions() SET plan_cache_mode = force_generic_plan SET jit = off;

-- build_summary's times in UTC whatever the caller's TimeZone (see sql/roles.sql).
ALTER FUNCTION bel.build_summary(text) SET TimeZone = 'UTC';

-- The append functions lose their planner SET clauses (search_path stays): they set the same
-- values in code around their general path's statements only (see sql/roles.sql).
ALTER FUNCTION bel.bel_append(jsonb)
    RESET plan_cache_mode RESET jit RESET enable_seqscan RESET enable_hashjoin RESET enable_mergejoin;
ALTER FUNCTION bel.bel_append(text)
    RESET plan_cache_mode RESET jit RESET enable_seqscan RESET enable_hashjoin RESET enable_mergejoin;
ALTER FUNCTION bel.bel_append(bytea)
    RESET plan_cache_mode RESET jit RESET enable_seqscan RESET enable_hashjoin RESET enable_mergejoin;
ALTER FUNCTION bel.bel_append_batch(jsonb)
    RESET plan_cache_mode RESET jit RESET enable_seqscan RESET enable_hashjoin RESET enable_mergejoin;
