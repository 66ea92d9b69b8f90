//! The SPI layer every other module runs its SQL through: executing a statement, reading a
//! column, preparing statements once per backend ([`statements`]), passing arrays and jsonb
//! without round trips through text ([`arrays`], [`jsonb_text`]; jsonb written by
//! [`jsonb_build`] and `jsonb_format`, read by [`jsonb_read`] and [`jsonb_de`]), the append's
//! planner settings ([`planner_settings`]), and timestamps. Errors here are bugs or resource
//! failures (XX000 with context), but for jsonb's own refusals, raised as jsonb_in raises
//! them (22P05 for a NUL character, 54000 for a value past jsonb's size limits).
use pgrx::datum::{DatumWithOid, TimestampWithTimeZone};
use pgrx::pg_sys;
use pgrx::pg_sys::PgOid;
use pgrx::spi::{OwnedPreparedStatement, SpiClient, SpiHeapTupleData, SpiTupleTable};

use crate::errors::internal;
use bel_core::state::Micros;

pub mod arrays;
pub mod jsonb_build;
pub mod jsonb_de;
mod jsonb_format;
pub mod jsonb_page;
pub mod jsonb_read;
pub mod jsonb_text;
pub mod planner_settings;
pub mod statements;

/// Prepares `sql` and keeps the plan for the life of the backend.
pub fn prepare(client: &SpiClient<'_>, sql: &str, args: &[PgOid]) -> OwnedPreparedStatement {
    // Mutable (read_only = false): each execution takes a fresh snapshot, which both the
    // row locks of the append path and the no-loss cursor rely on.
    match client.prepare_mut(sql, args) {
        Ok(stmt) => stmt.keep(),
        Err(e) => internal(&format!("preparing {sql}"), e),
    }
}

/// Runs a prepared statement.
pub fn run<'c>(client: &SpiClient<'c>, stmt: &OwnedPreparedStatement, args: &[DatumWithOid<'_>]) -> SpiTupleTable<'c> {
    client.select(stmt, None, args).unwrap_or_else(|e| internal("running a statement", e))
}

/// Runs ad-hoc SQL (views and maintenance, where planning is not the cost).
pub fn select<'c>(client: &SpiClient<'c>, sql: &str, args: &[DatumWithOid<'_>]) -> SpiTupleTable<'c> {
    client.select(sql, None, args).unwrap_or_else(|e| internal(sql, e))
}

/// Column `ordinal` (1-based) of `row`; None for NULL.
pub fn get<T: pgrx::FromDatum + pgrx::IntoDatum>(row: &SpiHeapTupleData<'_>, ordinal: usize) -> Option<T> {
    row.get::<T>(ordinal).unwrap_or_else(|e| internal("reading a column", e))
}

/// A row's columns by 1-based ordinal: a row of an SPI result, or one bel read from its
/// table itself (`row_lock`).
pub trait Columns {
    /// Column `ordinal`; None for NULL.
    fn column<T: pgrx::FromDatum + pgrx::IntoDatum>(&self, ordinal: usize) -> Option<T>;
}

impl Columns for SpiHeapTupleData<'_> {
    fn column<T: pgrx::FromDatum + pgrx::IntoDatum>(&self, ordinal: usize) -> Option<T> {
        get(self, ordinal)
    }
}

/// Microseconds between the Unix epoch and Postgres' epoch (2000-01-01).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

pub fn to_timestamptz(unix_micros: Micros) -> TimestampWithTimeZone {
    let pg = unix_micros.saturating_sub(PG_EPOCH_OFFSET_MICROS);
    TimestampWithTimeZone::try_from(pg as pg_sys::TimestampTz).unwrap_or_else(|e| internal("timestamp out of range", e))
}

pub fn from_timestamptz(ts: TimestampWithTimeZone) -> Micros {
    pg_sys::TimestampTz::from(ts).saturating_add(PG_EPOCH_OFFSET_MICROS)
}

/// Unix microseconds of the current time.
pub fn now_micros() -> Micros {
    // SAFETY: reads the clock.
    unsafe { pg_sys::GetCurrentTimestamp() }.saturating_add(PG_EPOCH_OFFSET_MICROS)
}
