//! A set of idx values returned in one call (materialize mode).
//!
//! A set-returning function in value-per-call mode (pgrx's `SetOfIterator`) is called once
//! per row, and every call of a SECURITY DEFINER function with SET clauses saves, sets and
//! restores its settings: 11% of the instructions of a 1,000-event `bel_append_batch`
//! went there (callgrind). Here the function runs once and hands the executor a
//! tuplestore, as PostgreSQL's own set-returning functions do (`InitMaterializedSRF`).
use pgrx::callconv::{BoxRet, FcInfo};
use pgrx::datum::Datum;
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::pg_sys::{self, SetFunctionReturnMode::SFRM_Materialize, SetFunctionReturnMode::SFRM_Materialize_Random};
use pgrx::pgrx_sql_entity_graph::metadata::{ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable};
use pgrx::{PgLogLevel, PgSqlErrorCode};

/// idx values, returned as the rows of a `RETURNS SETOF bigint` function (declared with
/// its SQL spelled out: pgrx generates `RETURNS SETOF` only for its iterators).
pub struct IdxSet(pub Vec<i64>);

// SAFETY: the SQL type of the values is bigint (int8), which `box_into` stores.
unsafe impl SqlTranslatable for IdxSet {
    const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!(IdxSet);
    const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
        pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
    const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("bigint"));
    const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("bigint")));
}

// SAFETY: fills the caller's ReturnSetInfo with a tuplestore of one int8 column in the
// query's memory context and returns the dummy datum materialize mode expects.
unsafe impl BoxRet for IdxSet {
    unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> Datum<'fcx> {
        // SAFETY: `fcinfo` is this call's; `resultinfo` is used only once checked to be a
        // ReturnSetInfo that allows materialize mode, whose econtext outlives the query.
        unsafe {
            let rsinfo = (*fcinfo.as_mut_ptr()).resultinfo.cast::<pg_sys::ReturnSetInfo>();
            let allowed = |mode: u32| !rsinfo.is_null() && (*rsinfo).allowedModes & mode as i32 != 0;
            if rsinfo.is_null() || (*rsinfo).type_ != pg_sys::NodeTag::T_ReturnSetInfo || !allowed(SFRM_Materialize) {
                ErrorReport::new(
                    PgSqlErrorCode::ERRCODE_FEATURE_NOT_SUPPORTED,
                    "set-valued function called in context that cannot accept a set",
                    "bel",
                )
                .report(PgLogLevel::ERROR);
            }
            let caller = pg_sys::MemoryContextSwitchTo((*(*rsinfo).econtext).ecxt_per_query_memory);
            let desc = pg_sys::CreateTemplateTupleDesc(1);
            pg_sys::TupleDescInitEntry(desc, 1, c"idx".as_ptr(), pg_sys::INT8OID, -1, 0);
            let store = pg_sys::tuplestore_begin_heap(allowed(SFRM_Materialize_Random), false, pg_sys::work_mem);
            for idx in self.0 {
                let mut values = [pg_sys::Datum::from(idx)];
                let mut nulls = [false];
                pg_sys::tuplestore_putvalues(store, desc, values.as_mut_ptr(), nulls.as_mut_ptr());
            }
            (*rsinfo).returnMode = SFRM_Materialize;
            (*rsinfo).setResult = store;
            (*rsinfo).setDesc = desc;
            pg_sys::MemoryContextSwitchTo(caller);
            fcinfo.return_raw_datum(pg_sys::Datum::from(0))
        }
    }
}
