//! Reads binary jsonb in place (the on-disk format `jsonb_format` describes), without
//! printing it: the values of a container, and the length of the text `jsonb_out` would
//! print for a value, which is what an appended event's size is measured in. Anything
//! that is not as expected (it cannot be, for a datum PostgreSQL made) is `Unreadable`,
//! never a panic: the caller then takes the text path.
use std::ffi::CStr;

use pgrx::pg_sys;

use super::jsonb_format::{
    JB_CMASK, JB_FARRAY, JB_FOBJECT, JENTRY_HAS_OFF, JENTRY_ISBOOL_FALSE, JENTRY_ISBOOL_TRUE, JENTRY_ISCONTAINER,
    JENTRY_ISNULL, JENTRY_ISNUMERIC, JENTRY_ISSTRING, JENTRY_OFFLENMASK, JENTRY_TYPEMASK, VARHDRSZ,
};

/// jsonb's flag of a raw scalar (a one-element array standing for the scalar).
const JB_FSCALAR: u32 = 0x1000_0000;

/// Nesting deeper than this is left to the text path (serde_json's limit is 128 too), so
/// that reading never recurses without bound.
pub const MAX_DEPTH: usize = 128;

#[derive(Debug)]
pub struct Unreadable;

/// One value.
#[derive(Clone, Copy)]
pub enum Item<'a> {
    Null,
    Bool(bool),
    /// The string's bytes, in the database encoding, unescaped.
    String(&'a [u8]),
    /// A numeric varlena.
    Numeric(&'a [u8]),
    Array(Container<'a>),
    Object(Container<'a>),
}

/// An array or an object: its header word, JEntries and data.
#[derive(Clone, Copy)]
pub struct Container<'a> {
    bytes: &'a [u8],
    /// Elements of an array, pairs of an object.
    count: usize,
    entries: usize,
}

/// The value of a jsonb varlena (4-byte header, as `JsonbValue` holds it).
pub fn root(varlena: &[u8]) -> Result<Item<'_>, Unreadable> {
    let (container, flags) = Container::at(varlena.get(VARHDRSZ..).ok_or(Unreadable)?)?;
    if flags & JB_FSCALAR != 0 {
        return container.items(0).next().ok_or(Unreadable)?;
    }
    Ok(if flags & JB_FOBJECT != 0 { Item::Object(container) } else { Item::Array(container) })
}

impl<'a> Container<'a> {
    fn at(bytes: &'a [u8]) -> Result<(Self, u32), Unreadable> {
        let header = word(bytes, 0)?;
        let count = (header & JB_CMASK) as usize;
        let entries = match header & (JB_FOBJECT | JB_FARRAY) {
            JB_FARRAY => count,
            JB_FOBJECT => count * 2,
            _ => return Err(Unreadable),
        };
        Ok((Container { bytes, count, entries }, header))
    }

    /// Elements of an array, pairs of an object.
    pub fn len(&self) -> usize {
        self.count
    }

    /// The values from entry `first` on: an array's elements; an object's keys (from 0)
    /// or its values (from `len()`).
    pub fn items(&self, first: usize) -> Items<'a> {
        Items { container: *self, next: first, start: self.offset_of(first) }
    }

    fn entry(&self, i: usize) -> Result<u32, Unreadable> {
        word(self.bytes, 4 + 4 * i)
    }

    /// Where entry `index`'s data starts, from the data's start (getJsonbOffset): the
    /// lengths of the entries before it, back to the last one that stores its end offset.
    fn offset_of(&self, index: usize) -> usize {
        let mut offset = 0;
        for i in (0..index.min(self.entries)).rev() {
            let Ok(entry) = self.entry(i) else { return usize::MAX };
            offset += (entry & JENTRY_OFFLENMASK) as usize;
            if entry & JENTRY_HAS_OFF != 0 {
                break;
            }
        }
        offset
    }
}

/// The values of a container's entries, in order.
pub struct Items<'a> {
    container: Container<'a>,
    next: usize,
    /// Where the next entry's data starts, from the data's start.
    start: usize,
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, Unreadable>;

    fn next(&mut self) -> Option<Self::Item> {
        let c = self.container;
        if self.next >= c.entries {
            return None;
        }
        let item = (|| {
            let entry = c.entry(self.next)?;
            let field = (entry & JENTRY_OFFLENMASK) as usize;
            let end = if entry & JENTRY_HAS_OFF != 0 { field } else { self.start + field };
            let data_start = 4 + 4 * c.entries;
            let slice = |from: usize| c.bytes.get(data_start + from..data_start + end).ok_or(Unreadable);
            let item = match entry & JENTRY_TYPEMASK {
                JENTRY_ISNULL => Item::Null,
                JENTRY_ISBOOL_FALSE => Item::Bool(false),
                JENTRY_ISBOOL_TRUE => Item::Bool(true),
                JENTRY_ISSTRING => Item::String(slice(self.start)?),
                // Numerics and containers start on a 4-byte boundary (the padding is theirs).
                JENTRY_ISNUMERIC => Item::Numeric(slice(self.start.next_multiple_of(4))?),
                JENTRY_ISCONTAINER => {
                    let (container, flags) = Container::at(slice(self.start.next_multiple_of(4))?)?;
                    if flags & JB_FOBJECT != 0 {
                        Item::Object(container)
                    } else {
                        Item::Array(container)
                    }
                }
                _ => return Err(Unreadable),
            };
            self.start = end;
            Ok(item)
        })();
        self.next += 1;
        Some(item)
    }
}

fn word(bytes: &[u8], at: usize) -> Result<u32, Unreadable> {
    let b = bytes.get(at..at + 4).ok_or(Unreadable)?;
    Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The length of the text jsonb_out prints for `item` (JsonbToCString without indent:
/// `{"key": value, ...}`, `[a, b]`, strings escaped by escape_json, numerics by
/// numeric_out).
pub fn text_length(item: Item<'_>, depth: usize) -> Result<usize, Unreadable> {
    if depth > MAX_DEPTH {
        return Err(Unreadable);
    }
    Ok(match item {
        Item::Null | Item::Bool(true) => 4,
        Item::Bool(false) => 5,
        Item::String(s) => escaped_length(s),
        Item::Numeric(n) => numeric_text(n)?.len(),
        Item::Array(c) => {
            let mut length = 2 + 2 * c.len().saturating_sub(1);
            for element in c.items(0) {
                length += text_length(element?, depth + 1)?;
            }
            length
        }
        Item::Object(c) => {
            // Each pair: key, ": ", value; pairs separated by ", ".
            let mut length = 2 + 2 * c.len().saturating_sub(1) + 2 * c.len();
            for value in c.items(0).take(c.len()).chain(c.items(c.len())) {
                length += text_length(value?, depth + 1)?;
            }
            length
        }
    })
}

/// escape_json's output length: quotes, two characters for \b \f \n \r \t " \, six for
/// any other control character (\u00XX), one for every other byte.
fn escaped_length(s: &[u8]) -> usize {
    // Most strings have nothing to escape: a count the compiler vectorizes tells.
    if s.iter().filter(|&&b| b < 0x20 || b == b'"' || b == b'\\').count() == 0 {
        return 2 + s.len();
    }
    2 + s
        .iter()
        .map(|&b| match b {
            b'\x08' | b'\x0c' | b'\n' | b'\r' | b'\t' | b'"' | b'\\' => 2,
            0..0x20 => 6,
            _ => 1,
        })
        .sum::<usize>()
}

/// numeric_out of a numeric varlena.
pub fn numeric_text(numeric: &[u8]) -> Result<String, Unreadable> {
    if numeric.len() < VARHDRSZ {
        return Err(Unreadable);
    }
    // SAFETY: a palloc'd (aligned) copy of the numeric's varlena for numeric_out, which
    // returns a palloc'd NUL-terminated string; both are freed here.
    unsafe {
        let copy = pg_sys::palloc(numeric.len()).cast::<u8>();
        std::ptr::copy_nonoverlapping(numeric.as_ptr(), copy, numeric.len());
        let text = pgrx::direct_function_call::<&CStr>(pg_sys::numeric_out, &[Some(pg_sys::Datum::from(copy))]);
        let owned = text.map(|t| t.to_string_lossy().into_owned());
        if let Some(t) = text {
            pg_sys::pfree(t.as_ptr() as *mut std::ffi::c_void);
        }
        pg_sys::pfree(copy.cast());
        owned.ok_or(Unreadable)
    }
}
