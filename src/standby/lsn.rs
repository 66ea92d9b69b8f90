//! `pg_lsn` as a Rust type: a WAL position, passed by value as a 64-bit integer.
use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::nullable::Nullable;
use pgrx::pgrx_sql_entity_graph::metadata::{ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable};
use pgrx::{pg_sys, FromDatum, IntoDatum};

use crate::errors::internal;

/// A WAL position (SQL `pg_lsn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Lsn(pub pg_sys::XLogRecPtr);

impl FromDatum for Lsn {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        // pg_lsn is a by-value 64-bit datum (LSNGetDatum = Int64GetDatum).
        (!is_null).then(|| Lsn(datum.value() as u64))
    }
}

impl IntoDatum for Lsn {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        Some(pg_sys::Datum::from(self.0))
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::PG_LSNOID
    }
}

// SAFETY: unboxes with FromDatum, as pgrx does for its own by-value types.
unsafe impl<'fcx> ArgAbi<'fcx> for Lsn {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        // SAFETY: the caller guarantees the argument is a pg_lsn datum.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| internal("a pg_lsn argument", "NULL reached a STRICT function"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: as above.
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

// SAFETY: the SQL type is pg_lsn, which FromDatum/IntoDatum read and write.
unsafe impl SqlTranslatable for Lsn {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(Lsn);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("pg_lsn"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("pg_lsn")));
}

// SAFETY: returns the by-value datum IntoDatum made.
unsafe impl BoxRet for Lsn {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
        // SAFETY: a pg_lsn datum for a function declared to return pg_lsn.
        unsafe { fcinfo.return_raw_datum(pg_sys::Datum::from(self.0)) }
    }
}
