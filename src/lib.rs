//! bel: the Build Event Log as a Postgres extension.
//!
//! Layers (see the seed): storage is `sql/schema.sql` plus [`store`] and [`cursor`];
//! the query engine is `bel-core` (validation, reducer) driven by [`append`], [`read`]
//! and [`views`]; the SQL surface in [`api`] stays thin.
use pgrx::prelude::*;

mod api;
mod append;
mod arrays;
mod cursor;
mod errors;
mod jsonb_text;
mod locks;
mod read;
mod statements;
mod store;
mod views;
mod wait;
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
