//! The SPI statements bel runs, prepared once per backend and kept (planning a statement
//! can cost more than running it on the append path). Plans survive DDL: Postgres' plan
//! cache re-plans a kept statement whose tables changed.
use std::cell::OnceCell;

use pgrx::spi::{OwnedPreparedStatement, SpiClient};
use pgrx::{pg_sys::PgOid, PgBuiltInOids as T};

use super::prepare;

pub struct Statements {
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

// The statement cache. Why leaking into `'static` is safe and bounded: a backend is one
// process running one thread, so a thread-local is per backend and nothing is shared or sent
// between threads; a kept statement (`SPI_keepplan`) lives in the backend's top memory
// context until the backend exits, exactly as long as the leaked box that owns its handle;
// DDL does not invalidate the handle (the plan cache re-plans it on next use); and there is
// one `Statements` per backend, so the memory leaked is fixed.
thread_local! {
    static STATEMENTS: OnceCell<&'static Statements> = const { OnceCell::new() };
}

/// The backend's fixed statements, prepared on first use.
pub fn statements(client: &SpiClient<'_>) -> &'static Statements {
    STATEMENTS.with(|cell| *cell.get_or_init(|| Box::leak(Box::new(Statements::prepare_all(client)))))
}
