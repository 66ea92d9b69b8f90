-- bel storage: the append-only log, its indexes and the projections kept by bel_append.
-- partition refs, ids and labels use the "C" collation so that a glob's literal prefix
-- maps to a plain byte-range index scan.

CREATE SEQUENCE bel.events_idx_seq AS bigint MINVALUE 1 NO CYCLE CACHE 1;
COMMENT ON SEQUENCE bel.events_idx_seq IS
  'Allocates event idx values. CACHE 1 so that last_value is the last allocated idx (the no-loss cursor reads it).';

CREATE TABLE bel.events (
    idx              bigint      PRIMARY KEY,
    event_type       text        NOT NULL
        CHECK (event_type IN ('build_request', 'partition', 'job_run', 'delegation', 'invalidation')),
    schema_version   smallint    NOT NULL,
    event_id         text        COLLATE "C",
    build_request_id text        COLLATE "C",
    partition_ref    text        COLLATE "C",
    job_run_id       text        COLLATE "C",
    job_label        text        COLLATE "C",
    payload          jsonb       NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE bel.events IS
  'The build event log. Append-only: written only by bel.bel_append*, UPDATE/DELETE/TRUNCATE are refused.';
COMMENT ON COLUMN bel.events.payload IS 'The event in proto3 JSON (bel.v1.BuildEvent), without idx.';
COMMENT ON COLUMN bel.events.partition_ref IS 'The partition of a partition, delegation or invalidation event (display only; filters use bel.event_partitions).';
COMMENT ON COLUMN bel.events.job_run_id IS 'The job run a job run event is about, or the producing job run of a partition event.';

CREATE UNIQUE INDEX events_event_id_key ON bel.events (event_id) WHERE event_id IS NOT NULL;
CREATE INDEX events_build_request_idx ON bel.events (build_request_id, idx);
CREATE INDEX events_job_run_idx ON bel.events (job_run_id, idx) WHERE job_run_id IS NOT NULL;
CREATE INDEX events_job_label_idx ON bel.events (job_label, idx) WHERE job_label IS NOT NULL;

-- Every partition an event involves, for partition filters ("only scan events for relevant partitions").
CREATE TABLE bel.event_partitions (
    partition_ref text   COLLATE "C" NOT NULL,
    idx           bigint NOT NULL,
    PRIMARY KEY (partition_ref, idx)
);
COMMENT ON TABLE bel.event_partitions IS 'Index of events by involved partition (derived from bel.events, append-only too).';

-- Every partition ref ever named: globs are matched against this set (far smaller than the log).
CREATE TABLE bel.known_partitions (
    partition_ref text COLLATE "C" PRIMARY KEY
);

-- Projections: the current state of every entity, kept in the appending transaction.
-- A row whose status is NULL is a placeholder that an appending transaction inserted to
-- lock a key it is about to create; it never commits as NULL.
CREATE TABLE bel.build_request_state (
    build_request_id     text COLLATE "C" PRIMARY KEY,
    status               text,
    requested_partitions text[] NOT NULL DEFAULT '{}',
    delegations          jsonb  NOT NULL DEFAULT '{}',
    first_idx            bigint,
    last_idx             bigint,
    created_at           timestamptz,
    updated_at           timestamptz
);
-- Recent builds first (bel.build_requests pages by first_idx).
CREATE INDEX build_request_state_first_idx ON bel.build_request_state (first_idx);

CREATE TABLE bel.job_run_state (
    job_run_id        text COLLATE "C" PRIMARY KEY,
    build_request_id  text COLLATE "C",
    job_label         text COLLATE "C",
    status            text,
    target_partitions text[] NOT NULL DEFAULT '{}',
    exit_code         integer,
    message           text NOT NULL DEFAULT '',
    first_idx         bigint,
    last_idx          bigint,
    created_at        timestamptz,
    updated_at        timestamptz
);
CREATE INDEX job_run_state_build_idx ON bel.job_run_state (build_request_id);
CREATE INDEX job_run_state_label_idx ON bel.job_run_state (job_label);

CREATE TABLE bel.partition_state (
    partition_ref    text COLLATE "C" PRIMARY KEY,
    status           text,
    build_request_id text COLLATE "C",
    job_run_id       text COLLATE "C",
    last_idx         bigint,
    updated_at       timestamptz
);
CREATE INDEX partition_state_build_idx ON bel.partition_state (build_request_id);

-- Append-only, for every role including the owner: row triggers refuse UPDATE and DELETE,
-- a statement trigger refuses TRUNCATE. ENABLE ALWAYS keeps them firing under
-- session_replication_role = replica.
CREATE FUNCTION bel.refuse_change() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'bel.% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege',
              DETAIL = 'The build event log keeps every event forever; projections are rebuilt from it.',
              HINT = 'Append a new event with bel.bel_append instead (an invalidation, a FAILED or CANCELLED status).';
END
$$;

CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON bel.events
    FOR EACH ROW EXECUTE FUNCTION bel.refuse_change();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON bel.events
    FOR EACH STATEMENT EXECUTE FUNCTION bel.refuse_change();
CREATE TRIGGER event_partitions_append_only BEFORE UPDATE OR DELETE ON bel.event_partitions
    FOR EACH ROW EXECUTE FUNCTION bel.refuse_change();
CREATE TRIGGER event_partitions_no_truncate BEFORE TRUNCATE ON bel.event_partitions
    FOR EACH STATEMENT EXECUTE FUNCTION bel.refuse_change();
ALTER TABLE bel.events ENABLE ALWAYS TRIGGER events_append_only;
ALTER TABLE bel.events ENABLE ALWAYS TRIGGER events_no_truncate;
ALTER TABLE bel.event_partitions ENABLE ALWAYS TRIGGER event_partitions_append_only;
ALTER TABLE bel.event_partitions ENABLE ALWAYS TRIGGER event_partitions_no_truncate;

-- pg_dump keeps the log, its indexes and the projections (they are extension members).
SELECT pg_catalog.pg_extension_config_dump('bel.events', '');
SELECT pg_catalog.pg_extension_config_dump('bel.events_idx_seq', '');
SELECT pg_catalog.pg_extension_config_dump('bel.event_partitions', '');
SELECT pg_catalog.pg_extension_config_dump('bel.known_partitions', '');
SELECT pg_catalog.pg_extension_config_dump('bel.build_request_state', '');
SELECT pg_catalog.pg_extension_config_dump('bel.job_run_state', '');
SELECT pg_catalog.pg_extension_config_dump('bel.partition_state', '');
