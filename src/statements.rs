//! Every SPI statement bel runs, prepared once per backend and kept (planning a statement
//! can cost more than running it on the append path). Plans survive DDL: Postgres'
//! plan cache re-plans a kept statement whose tables changed.
use std::cell::OnceCell;

use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{pg_sys::PgOid, PgBuiltInOids as T};

use crate::errors::internal;

pub struct Statements {
    pub insert_build_request_placeholders: OwnedPreparedStatement,
    pub lock_build_requests: OwnedPreparedStatement,
    pub insert_job_run_placeholders: OwnedPreparedStatement,
    pub lock_job_runs: OwnedPreparedStatement,
    pub insert_partition_placeholders: OwnedPreparedStatement,
    pub lock_partitions: OwnedPreparedStatement,
    pub find_event_ids: OwnedPreparedStatement,
    pub last_allocated_idx: OwnedPreparedStatement,
    pub events_in_range: OwnedPreparedStatement,
    pub events_by_partitions: OwnedPreparedStatement,
    pub events_by_job_run_ids: OwnedPreparedStatement,
    pub events_by_job_labels: OwnedPreparedStatement,
    pub known_partitions_between: OwnedPreparedStatement,
    pub known_partitions_from: OwnedPreparedStatement,
}

const TEXT_ARRAY: PgOid = PgOid::BuiltIn(T::TEXTARRAYOID);
const INT8: PgOid = PgOid::BuiltIn(T::INT8OID);
const INT8_ARRAY: PgOid = PgOid::BuiltIn(T::INT8ARRAYOID);
const INT4: PgOid = PgOid::BuiltIn(T::INT4OID);
const INT4_ARRAY: PgOid = PgOid::BuiltIn(T::INT4ARRAYOID);
const TEXT: PgOid = PgOid::BuiltIn(T::TEXTOID);
const JSONB_ARRAY: PgOid = PgOid::BuiltIn(T::JSONBARRAYOID);
const TIMESTAMPTZ_ARRAY: PgOid = PgOid::BuiltIn(T::TIMESTAMPTZARRAYOID);
const JSONB: PgOid = PgOid::BuiltIn(T::JSONBOID);
const TIMESTAMPTZ: PgOid = PgOid::BuiltIn(T::TIMESTAMPTZOID);

/// Columns of an event row as every read returns them.
pub const EVENT_COLUMNS: &str =
    "e.idx, e.payload, e.event_type, e.build_request_id, e.partition_ref, e.job_run_id, e.job_label, e.created_at";

fn prepare(client: &SpiClient<'_>, sql: &str, args: &[PgOid]) -> OwnedPreparedStatement {
    // Mutable (read_only = false): each execution takes a fresh snapshot, which both the
    // row locks of the append path and the no-loss cursor rely on.
    match client.prepare_mut(sql, args) {
        Ok(stmt) => stmt.keep(),
        Err(e) => internal(&format!("preparing {sql}"), e),
    }
}

impl Statements {
    fn prepare_all(c: &SpiClient<'_>) -> Self {
        let events_range = format!(
            "SELECT {EVENT_COLUMNS} FROM bel.events e WHERE e.idx > $1 AND e.idx <= $2 ORDER BY e.idx LIMIT $3"
        );
        // Per value: an ordered index range scan with LIMIT, merged and cut again, so a
        // page costs O(values x limit) index tuples whatever the size of the log.
        let by_partitions = format!(
            "SELECT {EVENT_COLUMNS} FROM bel.events e WHERE e.idx IN (
                 SELECT DISTINCT c.idx FROM unnest($1::text[]) AS v(ref)
                 CROSS JOIN LATERAL (
                     SELECT ep.idx FROM bel.event_partitions ep
                     WHERE ep.partition_ref = v.ref AND ep.idx > $2 AND ep.idx <= $3
                     ORDER BY ep.idx LIMIT $4) c
                 ORDER BY c.idx LIMIT $4)
             ORDER BY e.idx"
        );
        let by_column = |column: &str| {
            format!(
                "SELECT {EVENT_COLUMNS} FROM bel.events e WHERE e.idx IN (
                     SELECT DISTINCT c.idx FROM unnest($1::text[]) AS v(val)
                     CROSS JOIN LATERAL (
                         SELECT x.idx FROM bel.events x
                         WHERE x.{column} = v.val AND x.idx > $2 AND x.idx <= $3
                         ORDER BY x.idx LIMIT $4) c
                     ORDER BY c.idx LIMIT $4)
                 ORDER BY e.idx"
            )
        };
        // The placeholder inserts get their keys sorted and unnest them in the target list (a
        // ProjectSet: array order, nothing sorted or materialised), so concurrent appends
        // insert shared keys in the same order.
        Statements {
            insert_build_request_placeholders: prepare(
                c,
                "INSERT INTO bel.build_request_state (build_request_id)
                 SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING build_request_id",
                &[TEXT_ARRAY],
            ),
            lock_build_requests: prepare(
                c,
                "SELECT build_request_id, status, requested_partitions, delegations, first_idx, last_idx,
                        created_at, updated_at
                 FROM bel.build_request_state WHERE build_request_id = ANY($1::text[])
                 ORDER BY build_request_id FOR UPDATE",
                &[TEXT_ARRAY],
            ),
            insert_job_run_placeholders: prepare(
                c,
                "INSERT INTO bel.job_run_state (job_run_id)
                 SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING job_run_id",
                &[TEXT_ARRAY],
            ),
            lock_job_runs: prepare(
                c,
                "SELECT job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message,
                        first_idx, last_idx, created_at, updated_at
                 FROM bel.job_run_state WHERE job_run_id = ANY($1::text[])
                 ORDER BY job_run_id FOR UPDATE",
                &[TEXT_ARRAY],
            ),
            insert_partition_placeholders: prepare(
                c,
                "INSERT INTO bel.partition_state (partition_ref)
                 SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING partition_ref",
                &[TEXT_ARRAY],
            ),
            lock_partitions: prepare(
                c,
                "SELECT partition_ref, status, build_request_id, job_run_id, last_idx, updated_at
                 FROM bel.partition_state WHERE partition_ref = ANY($1::text[])
                 ORDER BY partition_ref FOR UPDATE",
                &[TEXT_ARRAY],
            ),
            find_event_ids: prepare(
                c,
                "SELECT event_id, idx, payload FROM bel.events WHERE event_id = ANY($1::text[])",
                &[TEXT_ARRAY],
            ),
            last_allocated_idx: prepare(
                c,
                "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM bel.events_idx_seq",
                &[],
            ),
            events_in_range: prepare(c, &events_range, &[INT8, INT8, INT4]),
            events_by_partitions: prepare(c, &by_partitions, &[TEXT_ARRAY, INT8, INT8, INT4]),
            events_by_job_run_ids: prepare(c, &by_column("job_run_id"), &[TEXT_ARRAY, INT8, INT8, INT4]),
            events_by_job_labels: prepare(c, &by_column("job_label"), &[TEXT_ARRAY, INT8, INT8, INT4]),
            known_partitions_between: prepare(
                c,
                "SELECT partition_ref FROM bel.known_partitions
                 WHERE partition_ref >= $1 AND partition_ref < $2 ORDER BY partition_ref",
                &[TEXT, TEXT],
            ),
            known_partitions_from: prepare(
                c,
                "SELECT partition_ref FROM bel.known_partitions WHERE partition_ref >= $1 ORDER BY partition_ref",
                &[TEXT],
            ),
        }
    }
}

thread_local! {
    static STATEMENTS: OnceCell<&'static Statements> = const { OnceCell::new() };
}

/// The backend's prepared statements, prepared on first use.
pub fn statements(client: &SpiClient<'_>) -> &'static Statements {
    STATEMENTS.with(|cell| *cell.get_or_init(|| Box::leak(Box::new(Statements::prepare_all(client)))))
}

/// The parts of the statement that writes an append: event rows, the partition index,
/// newly named partitions, and the three projections. Each part is a data-modifying CTE
/// over its column arrays, unnested in lockstep in a target list (a ProjectSet, which
/// streams; `FROM unnest(...)` would materialise the rows in a tuplestore first).
#[derive(Clone, Copy)]
pub enum WritePart {
    Events,
    EventPartitions,
    KnownPartitions,
    BuildRequests,
    JobRuns,
    Partitions,
}

impl WritePart {
    pub const ALL: [WritePart; 6] = [
        WritePart::Events,
        WritePart::EventPartitions,
        WritePart::KnownPartitions,
        WritePart::BuildRequests,
        WritePart::JobRuns,
        WritePart::Partitions,
    ];

    /// Parameter types, in order.
    fn args(self, shape: WriteShape) -> &'static [PgOid] {
        match self {
            WritePart::Events if shape.one_event => &[INT8, TEXT, INT4, TEXT, TEXT, TEXT, TEXT, TEXT, JSONB],
            WritePart::BuildRequests if shape.mode == WriteMode::LoneCreation => {
                &[TEXT, TEXT, TEXT_ARRAY, JSONB, INT8, INT8, TIMESTAMPTZ, TIMESTAMPTZ]
            }
            WritePart::Events => &[
                INT8_ARRAY,
                TEXT_ARRAY,
                INT4_ARRAY,
                TEXT_ARRAY,
                TEXT_ARRAY,
                TEXT_ARRAY,
                TEXT_ARRAY,
                TEXT_ARRAY,
                JSONB_ARRAY,
            ],
            WritePart::EventPartitions => &[TEXT_ARRAY, INT8_ARRAY],
            WritePart::KnownPartitions => &[TEXT_ARRAY],
            WritePart::BuildRequests => &[
                TEXT_ARRAY,
                TEXT_ARRAY,
                JSONB_ARRAY,
                JSONB_ARRAY,
                INT8_ARRAY,
                INT8_ARRAY,
                TIMESTAMPTZ_ARRAY,
                TIMESTAMPTZ_ARRAY,
            ],
            WritePart::JobRuns => &[
                TEXT_ARRAY,
                TEXT_ARRAY,
                TEXT_ARRAY,
                TEXT_ARRAY,
                JSONB_ARRAY,
                INT4_ARRAY,
                TEXT_ARRAY,
                INT8_ARRAY,
                INT8_ARRAY,
                TIMESTAMPTZ_ARRAY,
                TIMESTAMPTZ_ARRAY,
            ],
            WritePart::Partitions => &[TEXT_ARRAY, TEXT_ARRAY, TEXT_ARRAY, TEXT_ARRAY, INT8_ARRAY, TIMESTAMPTZ_ARRAY],
        }
    }

    /// The CTE body; `p(i)` is the i-th parameter of this part. `guard` ends the SELECT of
    /// an insert (a lone creation writes its rows only if the build request was created).
    fn sql(self, p: impl Fn(usize) -> String, guard: &str, shape: WriteShape) -> String {
        match self {
            // One event: scalars, no set-returning functions to set up.
            WritePart::Events if shape.one_event => format!(
                "INSERT INTO bel.events (idx, event_type, schema_version, event_id, build_request_id,
                                         partition_ref, job_run_id, job_label, payload)
                 SELECT {}::bigint, {}::text, {}::int4, {}::text, {}::text, {}::text, {}::text, {}::text,
                        {}::jsonb{guard}",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8)
            ),
            WritePart::BuildRequests if shape.mode == WriteMode::LoneCreation => format!(
                "INSERT INTO bel.build_request_state (build_request_id, status, requested_partitions, delegations,
                                                      first_idx, last_idx, created_at, updated_at)
                 VALUES ({}::text, {}::text, {}::text[], {}::jsonb, {}::bigint, {}::bigint, {}::timestamptz,
                         {}::timestamptz)
                 ON CONFLICT DO NOTHING RETURNING 1",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7)
            ),
            WritePart::Events => format!(
                "INSERT INTO bel.events (idx, event_type, schema_version, event_id, build_request_id,
                                         partition_ref, job_run_id, job_label, payload)
                 SELECT unnest({}::bigint[]), unnest({}::text[]), unnest({}::int4[]), unnest({}::text[]),
                        unnest({}::text[]), unnest({}::text[]), unnest({}::text[]), unnest({}::text[]),
                        unnest({}::jsonb[]){guard}",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8)
            ),
            WritePart::EventPartitions => format!(
                "INSERT INTO bel.event_partitions (partition_ref, idx) SELECT unnest({}::text[]), unnest({}::bigint[]){guard}",
                p(0),
                p(1)
            ),
            WritePart::KnownPartitions => format!(
                // The refs come sorted and distinct (no DISTINCT: its sort costs more to set up than it saves).
                "INSERT INTO bel.known_partitions (partition_ref)
                 SELECT unnest({}::text[]){guard} ON CONFLICT DO NOTHING",
                p(0)
            ),
            WritePart::BuildRequests => format!(
                "UPDATE bel.build_request_state s SET
                     status = u.status, requested_partitions = ARRAY(SELECT jsonb_array_elements_text(u.requested)),
                     delegations = u.delegations, first_idx = u.first_idx, last_idx = u.last_idx,
                     created_at = u.created_at, updated_at = u.updated_at
                 FROM (SELECT unnest({}::text[]) AS id, unnest({}::text[]) AS status, unnest({}::jsonb[]) AS requested,
                              unnest({}::jsonb[]) AS delegations, unnest({}::bigint[]) AS first_idx,
                              unnest({}::bigint[]) AS last_idx, unnest({}::timestamptz[]) AS created_at,
                              unnest({}::timestamptz[]) AS updated_at) AS u
                 WHERE s.build_request_id = u.id",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7)
            ),
            WritePart::JobRuns => format!(
                "UPDATE bel.job_run_state s SET
                     build_request_id = u.build_request_id, job_label = u.job_label, status = u.status,
                     target_partitions = ARRAY(SELECT jsonb_array_elements_text(u.targets)),
                     exit_code = u.exit_code, message = u.message, first_idx = u.first_idx,
                     last_idx = u.last_idx, created_at = u.created_at, updated_at = u.updated_at
                 FROM (SELECT unnest({}::text[]) AS id, unnest({}::text[]) AS build_request_id,
                              unnest({}::text[]) AS job_label, unnest({}::text[]) AS status,
                              unnest({}::jsonb[]) AS targets, unnest({}::int4[]) AS exit_code,
                              unnest({}::text[]) AS message, unnest({}::bigint[]) AS first_idx,
                              unnest({}::bigint[]) AS last_idx, unnest({}::timestamptz[]) AS created_at,
                              unnest({}::timestamptz[]) AS updated_at) AS u
                 WHERE s.job_run_id = u.id",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6),
                p(7),
                p(8),
                p(9),
                p(10)
            ),
            WritePart::Partitions => format!(
                "UPDATE bel.partition_state s SET
                     status = u.status, build_request_id = u.build_request_id, job_run_id = u.job_run_id,
                     last_idx = u.last_idx, updated_at = u.updated_at
                 FROM (SELECT unnest({}::text[]) AS ref, unnest({}::text[]) AS status,
                              unnest({}::text[]) AS build_request_id, unnest({}::text[]) AS job_run_id,
                              unnest({}::bigint[]) AS last_idx, unnest({}::timestamptz[]) AS updated_at) AS u
                 WHERE s.partition_ref = u.ref",
                p(0),
                p(1),
                p(2),
                p(3),
                p(4),
                p(5)
            ),
        }
    }
}

/// How a write treats the build request part.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub enum WriteMode {
    /// Update locked rows (every other append).
    Update,
    /// A lone creation (one event): insert the build request unless it exists, and write
    /// the other parts only if it was inserted. The statement returns how many it inserted
    /// (0 or 1).
    LoneCreation,
}

/// Which write statement: the parts present (bit i = `WritePart::ALL[i]`), the mode, and
/// whether it writes exactly one event (scalar parameters for the event row).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct WriteShape {
    pub mask: u8,
    pub mode: WriteMode,
    pub one_event: bool,
}

thread_local! {
    static WRITE_STATEMENTS: std::cell::RefCell<std::collections::HashMap<WriteShape, &'static OwnedPreparedStatement>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// The write statement of `shape`, prepared on first use. An append of one kind
/// initialises only the tables it writes: executor start-up of unused parts cost more
/// than their (empty) work.
pub fn write_statement(client: &SpiClient<'_>, shape: WriteShape) -> &'static OwnedPreparedStatement {
    if let Some(stmt) = WRITE_STATEMENTS.with(|m| m.borrow().get(&shape).copied()) {
        return stmt;
    }
    const BUILD_REQUESTS_BIT: usize = 3;
    debug_assert!(matches!(WritePart::ALL[BUILD_REQUESTS_BIT], WritePart::BuildRequests));
    let lone = shape.mode == WriteMode::LoneCreation;
    let guard = if lone { format!(" WHERE EXISTS (SELECT 1 FROM w{BUILD_REQUESTS_BIT})") } else { String::new() };
    let mut ctes = Vec::new();
    let mut types = Vec::new();
    for (bit, part) in WritePart::ALL.iter().enumerate() {
        if shape.mask & (1 << bit) == 0 {
            continue;
        }
        let base = types.len();
        let cte = format!("w{bit} AS ({})", part.sql(|i| format!("${}", base + i + 1), &guard, shape));
        if lone && bit == BUILD_REQUESTS_BIT {
            // First in the list: the other parts refer to it.
            ctes.insert(0, cte);
        } else {
            ctes.push(cte);
        }
        types.extend_from_slice(part.args(shape));
    }
    let result = if lone { format!("SELECT count(*) FROM w{BUILD_REQUESTS_BIT}") } else { "SELECT 1".to_owned() };
    let sql = format!("WITH {} {result}", ctes.join(", "));
    let stmt: &'static OwnedPreparedStatement = Box::leak(Box::new(prepare(client, &sql, &types)));
    WRITE_STATEMENTS.with(|m| m.borrow_mut().insert(shape, stmt));
    stmt
}
