//! Reads binary jsonb in place (the on-disk format `jsonb_format` describes), without
//! printing it: the values of a container, and the length of the text `jsonb_out` would
//! print for a value, which is what an appended event's size is measured in. Anything
//! that is not as expected (it cannot be, for a datum PostgreSQL made) is `Unreadable`,
//! never a panic: the caller then takes the text path.
use std::ffi::CStr;

use pgrx::pg_sys;

use super::jsonb_format::{
    JB_CMASK, JB_FARRAY, JB_FOBJECT, JB_FSCALAR, JENTRY_HAS_OFF, JENTRY_ISBOOL_FALSE, JENTRY_ISBOOL_TRUE,
    JENTRY_ISCONTAINER, JENTRY_ISNULL, JENTRY_ISNUMERIC, JENTRY_ISSTRING, JENTRY_OFFLENMASK, JENTRY_TYPEMASK, VARHDRSZ,
};

/// Containers nested deeper than this are left to the text path, whose serde_json reads at
/// most 127 (its recursion limit of 128 counts down to 0), so that reading in place never
/// accepts what the text path refuses nor recurses without bound.
pub const MAX_NESTED_CONTAINERS: usize = 127;

#[derive(Debug, Clone, Copy)]
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

    /// The container's bytes (header, JEntries, data): a jsonb container of its own, its
    /// offsets relative to its start.
    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
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
    fn offset_of(&self, index: usize) -> Result<usize, Unreadable> {
        let mut offset = 0;
        for i in (0..index.min(self.entries)).rev() {
            let entry = self.entry(i)?;
            offset += (entry & JENTRY_OFFLENMASK) as usize;
            if entry & JENTRY_HAS_OFF != 0 {
                break;
            }
        }
        Ok(offset)
    }
}

/// The values of a container's entries, in order.
pub struct Items<'a> {
    container: Container<'a>,
    next: usize,
    /// Where the next entry's data starts, from the data's start.
    start: Result<usize, Unreadable>,
}

impl<'a> Iterator for Items<'a> {
    type Item = Result<Item<'a>, Unreadable>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.next >= self.container.entries {
            return None;
        }
        let item = self.read();
        // After an unreadable entry nothing more is read.
        self.next = if item.is_ok() { self.next + 1 } else { self.container.entries };
        Some(item)
    }
}

impl<'a> Items<'a> {
    fn read(&mut self) -> Result<Item<'a>, Unreadable> {
        let c = self.container;
        let start = self.start?;
        let entry = c.entry(self.next)?;
        let field = (entry & JENTRY_OFFLENMASK) as usize;
        let end = if entry & JENTRY_HAS_OFF != 0 { field } else { start.checked_add(field).ok_or(Unreadable)? };
        let data_start = 4 + 4 * c.entries;
        let slice = |from: usize| {
            let from = data_start.checked_add(from).ok_or(Unreadable)?;
            let to = data_start.checked_add(end).ok_or(Unreadable)?;
            c.bytes.get(from..to).ok_or(Unreadable)
        };
        // Numerics and containers start on a 4-byte boundary (the padding is theirs).
        let aligned = start.checked_next_multiple_of(4).ok_or(Unreadable);
        let item = match entry & JENTRY_TYPEMASK {
            JENTRY_ISNULL => Item::Null,
            JENTRY_ISBOOL_FALSE => Item::Bool(false),
            JENTRY_ISBOOL_TRUE => Item::Bool(true),
            JENTRY_ISSTRING => Item::String(slice(start)?),
            JENTRY_ISNUMERIC => Item::Numeric(slice(aligned?)?),
            JENTRY_ISCONTAINER => {
                let (container, flags) = Container::at(slice(aligned?)?)?;
                if flags & JB_FOBJECT != 0 {
                    Item::Object(container)
                } else {
                    Item::Array(container)
                }
            }
            _ => return Err(Unreadable),
        };
        self.start = Ok(end);
        Ok(item)
    }
}

fn word(bytes: &[u8], at: usize) -> Result<u32, Unreadable> {
    let b = bytes.get(at..at + 4).ok_or(Unreadable)?;
    Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
}

/// The length of the text jsonb_out prints for `item` (JsonbToCString without indent:
/// `{"key": value, ...}`, `[a, b]`, strings escaped by escape_json, numerics by
/// numeric_out). `containers` counts the containers around it.
pub fn text_length(item: Item<'_>, containers: usize) -> Result<usize, Unreadable> {
    if matches!(item, Item::Array(_) | Item::Object(_)) && containers >= MAX_NESTED_CONTAINERS {
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
                length += text_length(element?, containers + 1)?;
            }
            length
        }
        Item::Object(c) => {
            // Each pair: key, ": ", value; pairs separated by ", ".
            let mut length = 2 + 2 * c.len().saturating_sub(1) + 2 * c.len();
            for value in c.items(0).take(c.len()).chain(c.items(c.len())) {
                length += text_length(value?, containers + 1)?;
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
