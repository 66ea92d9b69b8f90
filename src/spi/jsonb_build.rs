//! A serializable object or array turned straight into binary jsonb, as jsonb_in would store
//! the value's serde_json text, without printing that text and parsing it again: the stored
//! payload of an event, and a build request's delegations. The value's Serialize impl (the
//! one that prints its text) builds a compact tree (strings in one buffer, no map per
//! object), which `jsonb_format` writes in jsonb's on-disk format. Numbers are numerics
//! made as jsonb_in makes them from serde_json's text, and a NUL character is refused as
//! jsonb_in refuses `\u0000`. Building the payload through `pushJsonbValue` cost 12.8k
//! instructions per bulk event, `jsonb_in` of its text ~19k (callgrind, docs/benchmarks.md).
use std::ops::Range;

use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgLogLevel, PgSqlErrorCode};
use serde::ser::{self, Serialize};

use super::jsonb_format::{jsonb_datum, Node, SerdeError};

/// The jsonb datum of `value`, allocated in the current memory context.
pub fn to_jsonb<T: Serialize>(value: &T) -> pg_sys::Datum {
    // Sized for an event: most need no reallocation.
    let mut tree =
        Tree { nodes: Vec::with_capacity(32), text: Vec::with_capacity(512), open: Vec::with_capacity(4), root: None };
    if let Err(e) = value.serialize(&mut tree) {
        crate::errors::internal("building jsonb", e);
    }
    let Some(root) = tree.root else {
        crate::errors::internal("building jsonb", "the value is not an object or an array");
    };
    jsonb_datum(&tree.nodes, &tree.text, root)
}

/// A container being built: its elements so far, and for an object the key of the value
/// that comes next.
enum Open {
    Array(Vec<usize>),
    Object { pairs: Vec<(Range<usize>, usize)>, key: Option<Range<usize>> },
}

struct Tree {
    nodes: Vec<Node>,
    /// The bytes of every key and string.
    text: Vec<u8>,
    open: Vec<Open>,
    /// The whole value, once its outermost container has ended.
    root: Option<usize>,
}

type Result<T = ()> = std::result::Result<T, SerdeError>;

/// Puts an object's pairs in jsonb's key order (uniqueifyJsonbObject): shorter keys first,
/// then by bytes; of equal keys only the last given stays.
fn sort_keys(pairs: &mut Vec<(Range<usize>, usize)>, text: &[u8]) {
    // Sorted by (length, bytes, the later given first): dedup keeps the first of equals.
    // Values are given in order, so the later given has the larger node id.
    pairs.sort_unstable_by(|(a, va), (b, vb)| {
        a.len().cmp(&b.len()).then_with(|| text[a.clone()].cmp(&text[b.clone()])).then_with(|| vb.cmp(va))
    });
    pairs.dedup_by(|(later, _), (kept, _)| text[later.clone()] == text[kept.clone()]);
}

impl Tree {
    /// Adds a complete value as the next element of the open container.
    fn add(&mut self, node: Node) -> Result {
        let id = self.nodes.len();
        self.nodes.push(node);
        match self.open.last_mut() {
            Some(Open::Array(elements)) => elements.push(id),
            Some(Open::Object { pairs, key }) => {
                let key = key.take().ok_or_else(|| SerdeError("an object value without a key".into()))?;
                pairs.push((key, id));
            }
            None => match self.nodes[id] {
                Node::Array(_) | Node::Object(_) => self.root = Some(id),
                _ => return Err(SerdeError("a scalar outside an object or array".into())),
            },
        }
        Ok(())
    }

    fn begin_array(&mut self) {
        self.open.push(Open::Array(Vec::new()));
    }

    fn begin_object(&mut self) {
        self.open.push(Open::Object { pairs: Vec::new(), key: None });
    }

    fn end(&mut self) -> Result {
        let node = match self.open.pop() {
            Some(Open::Array(elements)) => Node::Array(elements),
            Some(Open::Object { mut pairs, .. }) => {
                sort_keys(&mut pairs, &self.text);
                Node::Object(pairs)
            }
            None => return Err(SerdeError("an end without a beginning".into())),
        };
        self.add(node)
    }

    fn key(&mut self, key: &str) -> Result {
        let range = self.string(key);
        match self.open.last_mut() {
            Some(Open::Object { key: next, .. }) => {
                *next = Some(range);
                Ok(())
            }
            _ => Err(SerdeError("a key outside an object".into())),
        }
    }

    /// Copies `s` into the text; returns its range there.
    fn string(&mut self, s: &str) -> Range<usize> {
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
        let start = self.text.len();
        self.text.extend_from_slice(s.as_bytes());
        start..self.text.len()
    }

    /// A float as serde_json writes it: null if not finite, else its shortest form.
    fn float(&mut self, finite: bool, text: serde_json::Result<String>) -> Result {
        if !finite {
            return self.add(Node::Null);
        }
        let text = text.map_err(|e| SerdeError(e.to_string()))?;
        self.number_text(&text)
    }

    /// A number from its JSON text (what jsonb_in does with it).
    fn number_text(&mut self, text: &str) -> Result {
        let text = std::ffi::CString::new(text).map_err(|e| SerdeError(e.to_string()))?;
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
        let datum = datum.ok_or_else(|| SerdeError("numeric_in returned NULL".into()))?;
        self.add(Node::Numeric(datum))
    }
}

impl ser::Serializer for &mut Tree {
    type Ok = ();
    type Error = SerdeError;
    type SerializeSeq = Self;
    type SerializeTuple = Self;
    type SerializeTupleStruct = Self;
    type SerializeTupleVariant = Self;
    type SerializeMap = Self;
    type SerializeStruct = Self;
    type SerializeStructVariant = Self;

    fn serialize_bool(self, v: bool) -> Result {
        self.add(Node::Bool(v))
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
        let numeric = unsafe { pg_sys::int64_to_numeric(v) };
        self.add(Node::Numeric(pg_sys::Datum::from(numeric)))
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
        let range = self.string(v);
        self.add(Node::String(range))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result {
        // serde_json: an array of numbers.
        self.begin_array();
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
        self.add(Node::Null)
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
        self.begin_object();
        self.key(variant)?;
        value.serialize(&mut *self)?;
        self.end()
    }
    fn serialize_seq(self, _: Option<usize>) -> Result<Self> {
        self.begin_array();
        Ok(self)
    }
    fn serialize_tuple(self, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Self> {
        self.serialize_seq(Some(len))
    }
    fn serialize_tuple_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Self> {
        self.begin_object();
        self.key(variant)?;
        self.begin_array();
        Ok(self)
    }
    fn serialize_map(self, _: Option<usize>) -> Result<Self> {
        self.begin_object();
        Ok(self)
    }
    fn serialize_struct(self, _: &'static str, _: usize) -> Result<Self> {
        self.begin_object();
        Ok(self)
    }
    fn serialize_struct_variant(self, _: &'static str, _: u32, variant: &'static str, _: usize) -> Result<Self> {
        self.begin_object();
        self.key(variant)?;
        self.begin_object();
        Ok(self)
    }
}

/// The serde traits of the containers: each value in turn (after its key, for objects),
/// then the end of the container, and of the object around it for an enum variant's.
macro_rules! container {
    ($trait:ident, keyed, ends = $ends:literal) => {
        impl ser::$trait for &mut Tree {
            type Ok = ();
            type Error = SerdeError;
            fn serialize_field<T: ?Sized + Serialize>(&mut self, key: &'static str, value: &T) -> Result {
                self.key(key)?;
                value.serialize(&mut **self)
            }
            fn end(self) -> Result {
                (0..$ends).try_for_each(|_| Tree::end(self))
            }
        }
    };
    ($trait:ident, $method:ident, ends = $ends:literal) => {
        impl ser::$trait for &mut Tree {
            type Ok = ();
            type Error = SerdeError;
            fn $method<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
                value.serialize(&mut **self)
            }
            fn end(self) -> Result {
                (0..$ends).try_for_each(|_| Tree::end(self))
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

impl ser::SerializeMap for &mut Tree {
    type Ok = ();
    type Error = SerdeError;
    fn serialize_key<T: ?Sized + Serialize>(&mut self, key: &T) -> Result {
        // serde_json's map keys: strings, and numbers and bools written as strings.
        let key = serde_json::to_value(key).map_err(|e| SerdeError(e.to_string()))?;
        match key {
            serde_json::Value::String(s) => self.key(&s),
            serde_json::Value::Number(n) => self.key(&n.to_string()),
            serde_json::Value::Bool(b) => self.key(if b { "true" } else { "false" }),
            _ => Err(SerdeError("a map key that is not a string".into())),
        }
    }
    fn serialize_value<T: ?Sized + Serialize>(&mut self, value: &T) -> Result {
        value.serialize(&mut **self)
    }
    fn end(self) -> Result {
        Tree::end(self)
    }
}
