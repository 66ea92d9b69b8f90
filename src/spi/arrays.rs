//! Arrays for statement parameters and for the rows bel writes, built with
//! `construct_md_array` from element types known at compile time. pgrx's generic `Vec<T>`
//! conversion looks the element and array types up in the catalog caches several times per
//! array; when an append passed about twenty arrays, those lookups were ~4% of a
//! single-event append (perf).
use std::ffi::c_char;

use pgrx::datum::DatumWithOid;
use pgrx::{pg_sys, IntoDatum};

use crate::errors::internal;

/// An element type: its oid, its array type's oid, and its storage (pg_type typlen,
/// typbyval, typalign).
struct Element {
    oid: pg_sys::Oid,
    array_oid: pg_sys::Oid,
    len: i32,
    by_value: bool,
    align: u8,
}

const TEXT: Element =
    Element { oid: pg_sys::TEXTOID, array_oid: pg_sys::TEXTARRAYOID, len: -1, by_value: false, align: b'i' };
// int8 is passed by value on 64-bit builds (FLOAT8PASSBYVAL), the only kind pgrx supports.
const INT8: Element =
    Element { oid: pg_sys::INT8OID, array_oid: pg_sys::INT8ARRAYOID, len: 8, by_value: true, align: b'd' };

/// A one-dimensional array of `elements` (None = SQL NULL element), as a parameter.
fn build(elements: Vec<Option<pg_sys::Datum>>, element: &Element) -> DatumWithOid<'static> {
    // SAFETY: `array` makes an array of `element.array_oid`'s type.
    unsafe { DatumWithOid::new(array(elements, element), element.array_oid) }
}

/// A one-dimensional array of `elements` (None = SQL NULL element).
fn array(elements: Vec<Option<pg_sys::Datum>>, element: &Element) -> pg_sys::Datum {
    let count = i32::try_from(elements.len()).unwrap_or_else(|e| internal("array too long", e));
    let mut nulls: Vec<bool> = elements.iter().map(Option::is_none).collect();
    let mut datums: Vec<pg_sys::Datum> = elements.into_iter().map(|d| d.unwrap_or(pg_sys::Datum::from(0))).collect();
    let mut dims = [count];
    let mut lower_bounds = [1];
    // SAFETY: `datums` and `nulls` hold `count` entries of the element type described by
    // `element`; construct_md_array copies them into a new palloc'd array (in the current
    // memory context) and does not keep the pointers.
    let array = unsafe {
        pg_sys::construct_md_array(
            datums.as_mut_ptr(),
            nulls.as_mut_ptr(),
            1,
            dims.as_mut_ptr(),
            lower_bounds.as_mut_ptr(),
            element.oid,
            element.len,
            element.by_value,
            element.align as c_char,
        )
    };
    pg_sys::Datum::from(array)
}

/// Conversion into an SQL array parameter.
pub trait SqlArray {
    fn sql_array(self) -> DatumWithOid<'static>;
}

impl SqlArray for Vec<String> {
    fn sql_array(self) -> DatumWithOid<'static> {
        build(self.iter().map(|s| s.as_str().into_datum()).collect(), &TEXT)
    }
}

impl SqlArray for Vec<i64> {
    fn sql_array(self) -> DatumWithOid<'static> {
        build(self.into_iter().map(|v| Some(pg_sys::Datum::from(v))).collect(), &INT8)
    }
}

/// A text[] datum of `values`, in the current memory context (a row's column).
pub fn text_array(values: &[String]) -> pg_sys::Datum {
    array(values.iter().map(|s| s.as_str().into_datum()).collect(), &TEXT)
}
