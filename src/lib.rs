//! bel: the Build Event Log as a Postgres extension.
//!
//! Layers (see the seed): storage is `sql/schema.sql` plus [`store`] (locking and loading
//! projection rows, writing an append's rows), [`write`] (the projection rows),
//! [`row_write`] (rows written without a statement) and [`no_loss`] (the cursor's locks and
//! horizon), with the [`spi`] layer; the query engine is `bel-core` (validation,
//! reducer, filters) driven by [`append`], [`read`], [`views`] and [`maintenance`]; the
//! SQL surface in [`api`] stays thin.
use pgrx::prelude::*;

mod api;
mod append;
mod errors;
mod event_id_probe;
mod event_input;
mod in_progress;
mod key_probe;
mod maintenance;
mod no_loss;
mod read;
mod relation_oids;
mod row_checks;
mod row_lock;
mod row_write;
mod spi;
mod standby;
mod store;
mod views;
mod write;

::pgrx::pg_module_magic!();

/// Loaded by `shared_preload_libraries` (the postmaster) or by a backend's first call.
#[pg_guard]
pub extern "C-unwind" fn _PG_init() {
    no_loss::init();
}

extension_sql_file!("../sql/schema.sql", name = "schema", bootstrap);
extension_sql_file!("../sql/roles.sql", name = "roles", finalize);

#[cfg(any(test, feature = "pg_test"))]
mod tests;

/// Required by `cargo pgrx test`.
#[cfg(test)]
pub mod pg_test {
    pub fn setup(_options: Vec<&str>) {}

    #[must_use]
    pub fn postgresql_conf_options() -> Vec<&'static str> {
        // The in-flight slots of the no-loss horizon (the lock-based fallback is tested by the
        // cluster steps: scripts/test.sh).
        vec!["shared_preload_libraries = 'bel'"]
    }
}
