//! jsonb without pgrx's `JsonB`, which turns every value into a `serde_json::Value` tree:
//! [`JsonbText`] carries JSON text to be stored as jsonb; [`JsonbValue`] carries the binary
//! jsonb itself (an appended event is read from it in place, see `event_input`; a follower's
//! page is assembled from the stored events without printing or parsing them).
use std::ffi::{CStr, CString};

use pgrx::callconv::{Arg, ArgAbi, BoxRet, FcInfo};
use pgrx::nullable::Nullable;
use pgrx::pgrx_sql_entity_graph::metadata::{ArgumentError, ReturnsError, ReturnsRef, SqlMappingRef, SqlTranslatable};
use pgrx::{direct_function_call, direct_function_call_as_datum, pg_sys, FromDatum, IntoDatum};

use crate::errors::internal;

/// JSON text to be stored as jsonb (`jsonb_in`).
pub struct JsonbText(pub String);

/// `jsonb_out` of a jsonb datum, copied into a String (the palloc'd text is freed).
///
/// # Safety
/// `datum` must be a detoasted jsonb varlena.
unsafe fn print(datum: pg_sys::Datum) -> String {
    // SAFETY: the caller passes a jsonb datum; jsonb_out returns a NUL-terminated string.
    unsafe {
        let Some(text) = direct_function_call::<&CStr>(pg_sys::jsonb_out, &[Some(datum)]) else {
            return String::new();
        };
        let owned = text.to_string_lossy().into_owned();
        pg_sys::pfree(text.as_ptr() as *mut std::ffi::c_void);
        owned
    }
}

impl IntoDatum for JsonbText {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        // serde_json never writes NUL bytes (they are escaped as \u0000).
        let text = CString::new(self.0).unwrap_or_else(|e| internal("JSON text with a NUL byte", e));
        // SAFETY: jsonb_in(cstring) parses valid JSON text; it raises on anything else.
        unsafe { direct_function_call_as_datum(pg_sys::jsonb_in, &[text.as_c_str().into_datum()]) }
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

// SAFETY: unboxes with FromDatum, like pgrx's own JsonB.
unsafe impl<'fcx> ArgAbi<'fcx> for JsonbValue {
    unsafe fn unbox_arg_unchecked(arg: Arg<'_, 'fcx>) -> Self {
        // SAFETY: the caller guarantees the argument is a jsonb datum.
        unsafe { arg.unbox_arg_using_from_datum() }
            .unwrap_or_else(|| internal("a jsonb argument", "NULL reached a STRICT function"))
    }

    unsafe fn unbox_nullable_arg(arg: Arg<'_, 'fcx>) -> Nullable<Self> {
        // SAFETY: as above.
        unsafe { arg.unbox_arg_using_from_datum() }.into()
    }
}

/// A binary jsonb value, held as the bytes of its varlena (4-byte header) on the Rust heap:
/// freed when dropped, whatever memory context it was read in (pgrx copies SPI results into
/// the transaction's context, where a palloc'd copy would stay until commit: a follower
/// polling in one long transaction would grow by every page it read).
pub struct JsonbValue(Vec<u8>);

impl JsonbValue {
    /// A whole jsonb varlena (4-byte header first), as `jsonb_format` writes it.
    pub(super) fn from_varlena(bytes: Vec<u8>) -> Self {
        JsonbValue(bytes)
    }

    /// The varlena's bytes (4-byte header first), empty for none.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The value as JSON text.
    pub fn text(&self) -> String {
        let Some(datum) = self.to_datum() else {
            return String::new();
        };
        // SAFETY: a jsonb datum, palloc'd above and freed once printed.
        unsafe {
            let text = print(datum);
            pg_sys::pfree(datum.cast_mut_ptr());
            text
        }
    }

    /// A palloc'd copy in the current memory context.
    pub fn to_datum(&self) -> Option<pg_sys::Datum> {
        if self.0.is_empty() {
            return None;
        }
        // SAFETY: palloc raises on failure; the bytes are a whole varlena.
        unsafe {
            let copy = pg_sys::palloc(self.0.len()).cast::<u8>();
            std::ptr::copy_nonoverlapping(self.0.as_ptr(), copy, self.0.len());
            Some(pg_sys::Datum::from(copy))
        }
    }
}

impl FromDatum for JsonbValue {
    unsafe fn from_polymorphic_datum(datum: pg_sys::Datum, is_null: bool, _: pg_sys::Oid) -> Option<Self> {
        if is_null {
            return None;
        }
        // SAFETY: `datum` is a jsonb varlena. A plain one (4-byte header, not compressed or
        // external: a value computed by a query) is copied as it is; any other is detoasted
        // into a palloc'd copy with a 4-byte header first, freed once copied.
        unsafe {
            let varlena = datum.cast_mut_ptr::<pg_sys::varlena>();
            let plain = pgrx::varlena::varatt_is_4b_u(varlena);
            let whole = if plain { varlena } else { pg_sys::pg_detoast_datum_copy(varlena) };
            let len = pgrx::varlena::varsize_any(whole);
            let bytes = std::slice::from_raw_parts(whole.cast::<u8>(), len).to_vec();
            if !plain {
                pg_sys::pfree(whole.cast());
            }
            Some(JsonbValue(bytes))
        }
    }
}

impl IntoDatum for JsonbValue {
    fn into_datum(self) -> Option<pg_sys::Datum> {
        self.to_datum()
    }

    fn type_oid() -> pg_sys::Oid {
        pg_sys::JSONBOID
    }
}

/// SQL type jsonb, and returning it from a function.
macro_rules! jsonb_sql_type {
    ($($ty:ident),*) => {$(
        // SAFETY: the SQL type is jsonb, which the type's FromDatum/IntoDatum read and write.
        unsafe impl SqlTranslatable for $ty {
            const TYPE_IDENT: &'static str = pgrx::pgrx_resolved_type!($ty);
            const TYPE_ORIGIN: pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin =
                pgrx::pgrx_sql_entity_graph::metadata::TypeOrigin::External;
            const ARGUMENT_SQL: Result<SqlMappingRef, ArgumentError> = Ok(SqlMappingRef::literal("jsonb"));
            const RETURN_SQL: Result<ReturnsRef, ReturnsError> = Ok(ReturnsRef::One(SqlMappingRef::literal("jsonb")));
        }

        // SAFETY: returns the datum IntoDatum made (jsonb), or NULL.
        unsafe impl BoxRet for $ty {
            unsafe fn box_into<'fcx>(self, fcinfo: &mut FcInfo<'fcx>) -> pgrx::datum::Datum<'fcx> {
                match self.into_datum() {
                    // SAFETY: a jsonb datum for a function declared to return jsonb.
                    Some(datum) => unsafe { fcinfo.return_raw_datum(datum) },
                    None => fcinfo.return_null(),
                }
            }
        }
    )*};
}

jsonb_sql_type!(JsonbValue);
