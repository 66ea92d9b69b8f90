//! A serializable object or array built straight into binary jsonb (`pushJsonbValue`), as
//! jsonb_in would build it from the value's serde_json text, without printing that text and parsing
//! it again: the stored payload of an event (jsonb_in of its text was ~19k instructions per
//! event in bulk, callgrind, docs/benchmarks.md). The jsonb equals jsonb_in's of
//! `serde_json::to_string(value)`: the same fields (the same Serialize impl drives both),
//! numbers as serde_json prints them, and a NUL character refused as jsonb_in refuses
//! `\u0000`.
use std::fmt;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::pg_sys::{self, JsonbIteratorToken as Token};
use pgrx::{PgLogLevel, PgSqlErrorCode};
use serde::ser::{self, Serialize};

/// The jsonb datum of `value`, allocated in the current memory context.
pub fn to_jsonb<T: Serialize>(value: &T) -> pg_sys::Datum {
    let mut builder = Builder { state: std::ptr::null_mut(), containers: Vec::new(), root: std::ptr::null_mut() };
    if let Err(e) = value.serialize(&mut builder) {
        crate::errors::internal("building jsonb", e);
    }
    if builder.root.is_null() {
        crate::errors::internal("building jsonb", "the value is not an object or an array");
    }
    // SAFETY: root is the complete value pushJsonbValue returned for the outermost END.
    pg_sys::Datum::from(unsafe { pg_sys::JsonbValueToJsonb(builder.root) })
}

#[derive(Debug)]
pub struct BuildError(String);

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BuildError {}

impl ser::Error for BuildError {
    fn custom<M: fmt::Display>(msg: M) -> Self {
        BuildError(msg.to_string())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

struct Builder {
    state: *mut pg_sys::JsonbParseState,
    /// The containers open around the next value: in an object it is a field's value, in
    /// an array an element.
    containers: Vec<Container>,
    /// The whole value, once its outermost container has ended.
    root: *mut pg_sys::JsonbValue,
}

type Result<T = ()> = std::result::Result<T, BuildError>;

impl Builder {
    fn push(&mut self, token: Token::Type, value: Option<&mut pg_sys::JsonbValue>) -> *mut pg_sys::JsonbValue {
        let value = value.map_or(std::ptr::null_mut(), |v| v as *mut _);
        // SAFETY: state is this builder's parse state; scalars point at palloc'd strings or
        // numerics that outlive the build (the current memory context).
        unsafe { pg_sys::pushJsonbValue(&mut self.state, token, value) }
    }

    fn scalar(&mut self, mut value: pg_sys::JsonbValue) -> Result {
        let token = match self.containers.last() {
            Some(Container::Array) => Token::WJB_ELEM,
            Some(Container::Object) => Token::WJB_VALUE,
            None => return Err(BuildError("a scalar outside an object or array".into())),
        };
        self.push(token, Some(&mut value));
        Ok(())
    }

    fn begin(&mut self, container: Container) {
        let token = if container == Container::Object { Token::WJB_BEGIN_OBJECT } else { Token::WJB_BEGIN_ARRAY };
        self.push(token, None);
        self.containers.push(container);
    }

    fn end(&mut self) -> Result {
        let token = match self.containers.pop() {
            Some(Container::Object) => Token::WJB_END_OBJECT,
            Some(Container::Array) => Token::WJB_END_ARRAY,
            None => return Err(BuildError("an end without a beginning".into())),
        };
        let value = self.push(token, None);
        if self.containers.is_empty() {
            self.root = value;
        }
        Ok(())
    }

    fn key(&mut self, key: &str) -> Result {
        let mut key = string(key)?;
        self.push(Token::WJB_KEY, Some(&mut key));
        Ok(())
    }

    fn number(&mut self, numeric: pg_sys::Numeric) -> Result {
        let mut value = pg_sys::JsonbValue { type_: pg_sys::jbvType::jbvNumeric, ..Default::default() };
        value.val.numeric = numeric;
        self.scalar(value)
    }

    /// A float as serde_json writes it: null if not finite, else its shortest form.
    fn float(&mut self, finite: bool, text: serde_json::Result<String>) -> Result {
        if !finite {
            return ser::Serializer::serialize_unit(self);
        }
        let text = text.map_err(|e| BuildError(e.to_string()))?;
        self.number_text(&text)
    }

    /// A number from its JSON text (what jsonb_in does with it).
    fn number_text(&mut self, text: &str) -> Result {
        let text = std::ffi::CString::new(text).map_err(|e| BuildError(e.to_string()))?;
        // SAFETY: numeric_in parses valid numeric text (serde_json's number output).
        let datum = unsafe {
            pgrx::direct_function_call_as_datum(
                pg_sys::numeric_in,
                &[
                    pgrx::IntoDatum::into_datum(text.as_c_str()),
                    pgrx::IntoDatum::into_datum(pg_sys::InvalidOid),
                    pgrx::IntoDatum::into_datum(-1i32),
                ],
            )
        };
        let datum = datum.ok_or_else(|| BuildError("numeric_in returned NULL".into()))?;
        self.number(datum.cast_mut_ptr())
    }
}

/// A jsonb string of `s`, copied into palloc'd memory (pushJsonbValue keeps the pointer).
fn string(s: &str) -> Result<pg_sys::JsonbValue> {
    if s.contains('\0') {
        // jsonb_in's refusal of the \u0000 that serde_json writes for it.
        ErrorReport::new(
            PgSqlErrorCode::ERRCODE_UNTRANSLATABLE_CHARACTER,
            "unsupported Unicode escape sequence",
            "bel",
        )
        .set_detail("\\u0000 cannot be converted to text.")
        .report(PgLogLevel::ERROR);
    }
    let len = i32::try_from(s.len()).map_err(|_| BuildError("a string over 2 GB".into()))?;
    // SAFETY: palloc returns len bytes (palloc(0) is valid), filled from s.
    let copy = unsafe {
        let copy = pg_sys::palloc(s.len()).cast::<u8>();
        std::ptr::copy_nonoverlapping(s.as_ptr(), copy, s.len());
        copy
    };
    let mut value = pg_sys::JsonbValue { type_: pg_sys::jbvType::jbvString, ..Default::default() };
    value.val.string = pg_sys::JsonbValue__bindgen_ty_1__bindgen_ty_1 { len, val: copy.cast() };
    Ok(value)
}

impl<'a> ser::Serializer for &'a mut Builder {
    type Ok = ();
    type Error = BuildError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result {
        let mut value = pg_sys::JsonbValue { type_: pg_sys::jbvType::jbvBool, ..Default::default() };
        value.val.boolean = v;
        self.scalar(value)
    }
    fn serialize_i8(self, v: i8) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i16(self, v: i16) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i32(self, v: i32) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_i64(self, v: i64) -> Result {
        // SAFETY: builds a numeric in the current memory context.
        self.number(unsafe { pg_sys::int64_to_numeric(v) })
    }
    fn serialize_u8(self, v: u8) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u16(self, v: u16) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u32(self, v: u32) -> Result {
        self.serialize_i64(i64::from(v))
    }
    fn serialize_u64(self, v: u64) -> Result {
        match i64::try_from(v) {
            Ok(v) => self.serialize_i64(v),
            Err(_) => self.number_text(&v.to_string()),
        }
    }
    fn serialize_f32(self, v: f32) -> Result {
        // Printed as an f32: widened to f64, 0.1 would print as 0.10000000149011612.
        self.float(v.is_finite(), serde_json::to_string(&v))
    }
    fn serialize_f64(self, v: f64) -> Result {
        self.float(v.is_finite(), serde_json::to_string(&v))
    }
    fn serialize_char(self, v: char) -> Result {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }
    fn serialize_str(self, v: &str) -> Result {
        let value = string(v)?;
        self.scalar(value)
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        // serde_json: an array of numbers.
        self.begin(Container::Array);
        for b in v {
            self.serialize_u8(*b)?;
        }
        self.end()
    }
    fn serialize_none(self) -> Result {
        self.serialize_unit()
    }
    fn serialize_some<T: ?Sized + Serialize>(self, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_unit(self) -> Result {
        self.scalar(pg_sys::JsonbValue { type_: pg_sys::jbvType::jbvNull, ..Default::default() })
    }
    fn serialize_unit_struct(self, _: &'static str) -> Result {
        self.serialize_unit()
    }
    fn serialize_unit_variant(self, _: &'static str, _: u32, variant: &'static str) -> Result {
        self.serialize_str(variant)
    }
    fn serialize_newtype_struct<T: ?Sized + Serialize>(self, _: &'static str, value: &T) -> Result {
        value.serialize(self)
    }
    fn serialize_newtype_variant<T: ?Sized + Serialize>(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        value: &T,
    ) -> Result {
        self.begin(Container::Object);
        self.key(variant)?;
        value.serialize(&mut *self)?;
        self.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self> {
        self.begin(Container::Array);
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Self> {
        self.begin(Container::Object);
        self.key(variant)?;
        self.begin(Container::Array);
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self> {
        self.begin(Container::Object);
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        self.begin(Container::Object);
        Ok(self)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Self> {
        self.begin(Container::Object);
        self.key(variant)?;
        self.begin(Container::Object);
        Ok(self)
    }
}

/// The serde traits of the containers: each value in turn (after its key, for objects),
/// then the end of the container, and of the object around it for an enum variant's.
macro_rules! container {
    ($trait:ident, keyed, ends = $ends:literal) => {
        impl ser::$trait for &mut Builder {
            type Ok = ();
            type Error = BuildError;
            fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result {
                self.key(key)?;
                value.serialize(&mut **self)
            }
            fn end(self) -> Result {
                (0..$ends).try_for_each(|_| Builder::end(self))
            }
        }
    };
    ($trait:ident, $method:ident, ends = $ends:literal) => {
        impl ser::$trait for &mut Builder {
            type Ok = ();
            type Error = BuildError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result {
                (0..$ends).try_for_each(|_| Builder::end(self))
            }
        }
    };
}

container!(SerializeSeq, serialize_element, ends = 1);
container!(SerializeTuple, serialize_element, ends = 1);
container!(SerializeTupleStruct, serialize_field, ends = 1);
container!(SerializeTupleVariant, serialize_field, ends = 2);
container!(SerializeStruct, keyed, ends = 1);
container!(SerializeStructVariant, keyed, ends = 2);

impl ser::SerializeMap for &mut Builder {
    type Ok = ();
    type Error = BuildError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result {
        // serde_json's map keys: strings, and numbers and bools written as strings.
        let key = serde_json::to_value(key).map_err(|e| BuildError(e.to_string()))?;
        match key {
            serde_json::Value::String(s) => self.key(&s),
            serde_json::Value::Number(n) => self.key(&n.to_string()),
            serde_json::Value::Bool(b) => self.key(if b { "true" } else { "false" }),
            _ => Err(BuildError("a map key that is not a string".into())),
        }
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        Builder::end(self)
    }
}
