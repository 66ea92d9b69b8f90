//! bel: the Build Event Log as a Postgres extension.
//!
//! Layers (see the seed): storage is `sql/schema.sql` plus [`store`] (projection rows),
//! [`write`] (the append's write statement) and [`no_loss`] (the cursor's locks and
//! horizon), all on the [`spi`] layer; the query engine is `bel-core` (validation,
//! reducer, filters) driven by [`append`], [`read`], [`views`] and [`maintenance`]; the
//! SQL surface in [`api`] stays thin.
use pgrx::prelude::*;

mod api;
mod append;
mod errors;
mod in_progress;
mod maintenance;
mod no_loss;
mod read;
mod spi;
mod standby;
mod store;
mod views;
mod write;

::pgrx::pg_module_magic!();

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
        vec![]
    }
}
