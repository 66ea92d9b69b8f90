//! The SPI statements bel runs, prepared once per backend and kept (planning a statement
//! can cost more than running it on the append path); the append's write statement, which
//! has a shape per combination of parts, is in `write.rs`. Plans survive DDL: Postgres'
//! plan cache re-plans a kept statement whose tables changed.
use std::cell::{OnceCell, RefCell};
use std::collections::HashMap;

use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{pg_sys::PgOid, PgBuiltInOids as T};

use super::prepare;

pub struct Statements {
    pub build_requests: EntityStatements,
    pub job_runs: EntityStatements,
    pub partitions: EntityStatements,
    pub find_event_ids: OwnedPreparedStatement,
    /// The largest committed idx (see no_loss/horizon.rs).
    pub last_committed_idx: OwnedPreparedStatement,
    pub events_in_range: OwnedPreparedStatement,
    pub event_columns: OwnedPreparedStatement,
    pub events_by_partitions: OwnedPreparedStatement,
    pub events_by_job_run_ids: OwnedPreparedStatement,
    pub events_by_job_labels: OwnedPreparedStatement,
    pub known_partitions_between: OwnedPreparedStatement,
    pub known_partitions_from: OwnedPreparedStatement,
}

const TEXT_ARRAY: PgOid = PgOid::BuiltIn(T::TEXTARRAYOID);
const INT8: PgOid = PgOid::BuiltIn(T::INT8OID);
const INT4: PgOid = PgOid::BuiltIn(T::INT4OID);
const TEXT: PgOid = PgOid::BuiltIn(T::TEXTOID);

/// Columns of an event row as every read returns them: the stored payload, to which read.rs
/// adds the idx (`spi::jsonb_page`); list_events reads its other columns with `event_columns`.
pub const EVENT_COLUMNS: &str = "e.idx, e.payload";

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
        Statements {
            build_requests: EntityStatements::prepare(
                c,
                "bel.build_request_state",
                "build_request_id",
                "build_request_id, status, requested_partitions, delegations, first_idx, last_idx, created_at,
                 updated_at",
            ),
            job_runs: EntityStatements::prepare(
                c,
                "bel.job_run_state",
                "job_run_id",
                "job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, first_idx,
                 last_idx, created_at, updated_at",
            ),
            partitions: EntityStatements::prepare(
                c,
                "bel.partition_state",
                "partition_ref",
                "partition_ref, status, build_request_id, job_run_id, last_idx, updated_at",
            ),
            find_event_ids: prepare(
                c,
                "SELECT event_id, idx, payload FROM bel.events WHERE event_id = ANY($1::text[])",
                &[TEXT_ARRAY],
            ),
            last_committed_idx: prepare(c, "SELECT coalesce(max(idx), 0) FROM bel.events", &[]),
            events_in_range: prepare(c, &events_range, &[INT8, INT8, INT4]),
            event_columns: prepare(
                c,
                "SELECT idx, event_type, build_request_id, partition_ref, job_run_id, job_label, created_at
                 FROM bel.events WHERE idx = ANY($1::int8[]) ORDER BY idx",
                &[PgOid::BuiltIn(T::INT8ARRAYOID)],
            ),
            events_by_partitions: prepare(c, &by_partitions, &[TEXT_ARRAY, INT8, INT8, INT4]),
            events_by_job_run_ids: prepare(c, &by_column("job_run_id"), &[TEXT_ARRAY, INT8, INT8, INT4]),
            events_by_job_labels: prepare(c, &by_column("job_label"), &[TEXT_ARRAY, INT8, INT8, INT4]),
            known_partitions_between: prepare(
                c,
                "SELECT partition_ref FROM bel.known_partitions
                 WHERE partition_ref >= $1 AND partition_ref < $2 ORDER BY partition_ref LIMIT $3",
                &[TEXT, TEXT, INT4],
            ),
            known_partitions_from: prepare(
                c,
                "SELECT partition_ref FROM bel.known_partitions WHERE partition_ref >= $1 ORDER BY partition_ref LIMIT $2",
                &[TEXT, INT4],
            ),
        }
    }
}

/// The statements that lock the rows of one projection (see `store::lock_kind`), for one
/// key (scalar: nothing to unnest or sort) and for several.
pub struct EntityStatements {
    /// Placeholder rows for keys an append may create; RETURNING the keys inserted. The
    /// keys come sorted and are unnested in the target list (a ProjectSet: array order,
    /// nothing sorted or materialised), so concurrent appends insert shared keys in the
    /// same order.
    pub insert_placeholder: OwnedPreparedStatement,
    pub insert_placeholders: OwnedPreparedStatement,
    /// The rows of existing keys, FOR UPDATE, in key order.
    pub lock_one: OwnedPreparedStatement,
    pub lock_many: OwnedPreparedStatement,
}

impl EntityStatements {
    fn prepare(c: &SpiClient<'_>, table: &str, key: &str, columns: &str) -> Self {
        EntityStatements {
            insert_placeholder: prepare(
                c,
                &format!("INSERT INTO {table} ({key}) VALUES ($1) ON CONFLICT DO NOTHING RETURNING {key}"),
                &[TEXT],
            ),
            insert_placeholders: prepare(
                c,
                &format!(
                    "INSERT INTO {table} ({key}) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING RETURNING {key}"
                ),
                &[TEXT_ARRAY],
            ),
            lock_one: prepare(c, &format!("SELECT {columns} FROM {table} WHERE {key} = $1 FOR UPDATE"), &[TEXT]),
            lock_many: prepare(
                c,
                &format!("SELECT {columns} FROM {table} WHERE {key} = ANY($1::text[]) ORDER BY {key} FOR UPDATE"),
                &[TEXT_ARRAY],
            ),
        }
    }
}

// The statement caches. Why leaking into `'static` is safe and bounded:
// - a backend is one process running one thread, so a thread-local is per backend and
//   nothing is shared or sent between threads;
// - a kept statement (`SPI_keepplan`) lives in the backend's top memory context until the
//   backend exits, exactly as long as the leaked box that owns its handle; DDL does not
//   invalidate the handle (the plan cache re-plans it on next use);
// - the caches never grow without bound: `STATEMENTS` holds one `Statements` per backend,
//   `BY_SHAPE` at most one statement per write shape, and the shapes are a small closed
//   set (see `MAX_SHAPES`), so the memory leaked per backend is fixed.
thread_local! {
    static STATEMENTS: OnceCell<&'static Statements> = const { OnceCell::new() };
    static BY_SHAPE: RefCell<HashMap<u32, &'static OwnedPreparedStatement>> = RefCell::new(HashMap::new());
}

/// The backend's fixed statements, prepared on first use.
pub fn statements(client: &SpiClient<'_>) -> &'static Statements {
    STATEMENTS.with(|cell| *cell.get_or_init(|| Box::leak(Box::new(Statements::prepare_all(client)))))
}

/// Keys of [`statement_for_shape`] are below this: shapes are bit sets of a few parts.
pub const MAX_SHAPES: u32 = 1 << 17;

/// The statement of a generated shape (`key < MAX_SHAPES` identifies it), prepared from
/// `sql()` on first use and kept.
pub fn statement_for_shape(
    client: &SpiClient<'_>,
    key: u32,
    sql: impl FnOnce() -> (String, Vec<PgOid>),
) -> &'static OwnedPreparedStatement {
    if key >= MAX_SHAPES {
        crate::errors::internal("statement cache", format!("shape key {key} is out of range"));
    }
    if let Some(stmt) = BY_SHAPE.with(|m| m.borrow().get(&key).copied()) {
        return stmt;
    }
    let (text, types) = sql();
    let stmt: &'static OwnedPreparedStatement = Box::leak(Box::new(prepare(client, &text, &types)));
    BY_SHAPE.with(|m| m.borrow_mut().insert(key, stmt));
    stmt
}
