//! The work in progress of the builds an append ends (`bel_core::in_progress`: partitions
//! they own in REQUESTED..BUILDING, job runs SCHEDULED or RUNNING). The rules refuse the
//! end while there is any, so the append must see all of it: this finds its keys, which
//! the append then locks and loads with the others. Only an append ending a build pays
//! for the query; every other append (the lone BUILD_REQUEST_RECEIVED among them) skips it.
//!
//! Why nothing is missed, from what every append locks (builds, then job runs, then
//! partitions, each in key order; see append.rs):
//! - The set changes only under the ending build's row lock. Every event but an
//!   invalidation locks the row of the build it names before anything else, and the rules
//!   let only the owning build move its partitions (REQUESTED by another build is accepted
//!   only from FAILED or INVALIDATED, which are not in progress) and only the job run's own
//!   build send its events. An invalidation moves AVAILABLE to INVALIDATED: never in
//!   progress either. The ending append takes that row lock before this query and holds
//!   it until it commits, so the set cannot change in between.
//! - The query reads the latest committed state (PostgreSQL's foreign-key checks do the
//!   same under REPEATABLE READ), so it sees what appends of the build that committed while
//!   this one waited for the row did, in any isolation level.
//! - Its keys are locked FOR UPDATE together with the other keys of their kind, in key
//!   order: no new lock order, so no new deadlock. An append of another build touching one
//!   of them (requesting it, delegating it, completing on it) reads or refuses it under
//!   that row lock and holds no build row this one waits for (builds are locked first).
//! - Under REPEATABLE READ or SERIALIZABLE the transaction's snapshot may not see a row
//!   the query found (created after the snapshot): [`Found::check_loaded`] then fails the
//!   append with 40001, as PostgreSQL fails a FOR UPDATE of a row changed after the
//!   snapshot, and the caller retries.
use std::cell::OnceCell;
use std::ffi::{c_char, CString};

use bel_core::in_progress::{JOB_RUN_STATUSES, PARTITION_STATUSES};
use bel_core::state::{State, TouchedKeys};
use bel_core::status::Status;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, FromDatum, IntoDatum, PgLogLevel, PgSqlErrorCode};

use crate::errors::internal;

/// The keys of the work in progress found for an append.
#[derive(Default)]
pub struct Found {
    partitions: Vec<String>,
    job_runs: Vec<String>,
}

/// Finds the work in progress of the `ending` builds (`TouchedKeys::ending_builds` of the
/// events), after their rows are locked, and adds its keys to `keys` (to be locked and
/// loaded like the events' own). Inside an SPI connection when any build ends (see
/// append.rs).
pub fn add_work_in_progress(ending: Vec<String>, keys: &mut TouchedKeys) -> Found {
    if ending.is_empty() {
        return Found::default();
    }
    let found = query_latest(ending);
    keys.add_in_progress(&found.partitions, &found.job_runs);
    found
}

impl Found {
    /// After locking and loading: every key found is loaded, or the transaction's snapshot
    /// is older than the rows (REPEATABLE READ, SERIALIZABLE) and the append fails with
    /// 40001 instead of validating against a state without them.
    pub fn check_loaded(&self, state: &State) {
        let missing = self.partitions.iter().find(|k| !state.partitions.contains_key(*k)).map(|k| ("partition", k));
        let missing =
            missing.or_else(|| self.job_runs.iter().find(|k| !state.job_runs.contains_key(*k)).map(|k| ("job run", k)));
        if let Some((what, key)) = missing {
            ErrorReport::new(
                PgSqlErrorCode::ERRCODE_T_R_SERIALIZATION_FAILURE,
                format!(
                    "could not serialize the end of a build: {what} {key:?} changed after this transaction's snapshot"
                ),
                "bel",
            )
            .set_detail("a build ends only without work in progress, which this snapshot does not show whole")
            .set_hint("retry the transaction")
            .report(PgLogLevel::ERROR);
        }
    }
}

/// `(kind, key)` rows: 'p' partitions, 'j' job runs. Indexed by build_request_id in both
/// projections; the statuses are the core's.
fn query_text() -> String {
    let quoted = |names: Vec<&str>| names.iter().map(|n| format!("'{n}'")).collect::<Vec<_>>().join(", ");
    format!(
        "SELECT 'p'::text, partition_ref FROM bel.partition_state
          WHERE build_request_id = ANY($1::text[]) AND status IN ({})
         UNION ALL
         SELECT 'j'::text, job_run_id FROM bel.job_run_state
          WHERE build_request_id = ANY($1::text[]) AND status IN ({})",
        quoted(PARTITION_STATUSES.iter().map(|s| s.short_name()).collect()),
        quoted(JOB_RUN_STATUSES.iter().map(|s| s.short_name()).collect()),
    )
}

// Prepared once per backend and kept (SPI_keepplan), like the statements of
// spi/statements.rs; raw SPI because only SPI_execute_snapshot runs a plan on a snapshot
// of our choosing, which pgrx does not wrap.
thread_local! {
    static PLAN: OnceCell<pg_sys::SPIPlanPtr> = const { OnceCell::new() };
}

fn plan() -> pg_sys::SPIPlanPtr {
    PLAN.with(|cell| {
        *cell.get_or_init(|| {
            let sql = CString::new(query_text()).unwrap_or_else(|e| internal("work in progress query", e));
            let mut types = [pg_sys::TEXTARRAYOID];
            // SAFETY: called inside an SPI connection (the append's); SPI_prepare raises on
            // a bad query, and the kept plan lives in the backend's top memory context.
            unsafe {
                let plan = pg_sys::SPI_prepare(sql.as_ptr(), 1, types.as_mut_ptr());
                if plan.is_null() || pg_sys::SPI_keepplan(plan) != 0 {
                    internal("preparing the work in progress query", pg_sys::SPI_result);
                }
                plan
            }
        })
    })
}

/// The work in progress of `builds` in the latest committed state.
fn query_latest(builds: Vec<String>) -> Found {
    let plan = plan();
    let mut values = [builds.into_datum().unwrap_or_else(|| internal("work in progress query", "NULL array"))];
    let nulls = [b' ' as c_char];
    let mut found = Found::default();
    // SAFETY: inside the append's SPI connection; the plan takes one text[] argument. The
    // latest snapshot is copied by SPI before use (read_only = false, as in PostgreSQL's
    // RI checks). The result table is read before the next SPI call and freed after.
    unsafe {
        let rc = pg_sys::SPI_execute_snapshot(
            plan,
            values.as_mut_ptr(),
            nulls.as_ptr(),
            pg_sys::GetLatestSnapshot(),
            std::ptr::null_mut(),
            false,
            false,
            0,
        );
        if rc != pg_sys::SPI_OK_SELECT as i32 {
            internal("running the work in progress query", rc);
        }
        let table = pg_sys::SPI_tuptable;
        for i in 0..pg_sys::SPI_processed as usize {
            let tuple = *(*table).vals.add(i);
            let column = |n: i32| {
                let mut is_null = false;
                let datum = pg_sys::SPI_getbinval(tuple, (*table).tupdesc, n, &mut is_null);
                String::from_datum(datum, is_null).unwrap_or_default()
            };
            match column(1).as_str() {
                "p" => found.partitions.push(column(2)),
                _ => found.job_runs.push(column(2)),
            }
        }
        pg_sys::SPI_freetuptable(table);
    }
    found
}
