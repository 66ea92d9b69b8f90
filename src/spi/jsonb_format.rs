//! Writes a JSON tree in jsonb's on-disk format, as PostgreSQL's `convertToJsonb`
//! (src/backend/utils/adt/jsonb_util.c) writes the value jsonb_in parsed: a container is a
//! header word (count and kind), one JEntry per element (for an object: every key, sorted
//! by length and then bytes, then every value in the same order), then the elements' data;
//! every 32nd JEntry, the first included, holds the running end offset instead of its own
//! length; nested containers and numerics start on a 4-byte boundary. The format is fixed
//! on disk (pg_upgrade keeps it). pg_tests compare the bytes with jsonb_in's.
use pgrx::pg_sys::panic::ErrorReport;
use pgrx::{pg_sys, PgLogLevel, PgSqlErrorCode};

// From src/include/utils/jsonb.h.
pub(super) const JENTRY_OFFLENMASK: u32 = 0x0FFF_FFFF;
pub(super) const JENTRY_TYPEMASK: u32 = 0x7000_0000;
pub(super) const JENTRY_HAS_OFF: u32 = 0x8000_0000;
pub(super) const JENTRY_ISSTRING: u32 = 0x0000_0000;
pub(super) const JENTRY_ISNUMERIC: u32 = 0x1000_0000;
pub(super) const JENTRY_ISBOOL_FALSE: u32 = 0x2000_0000;
pub(super) const JENTRY_ISBOOL_TRUE: u32 = 0x3000_0000;
pub(super) const JENTRY_ISNULL: u32 = 0x4000_0000;
pub(super) const JENTRY_ISCONTAINER: u32 = 0x5000_0000;
pub(super) const JB_OFFSET_STRIDE: usize = 32;
pub(super) const JB_CMASK: u32 = 0x0FFF_FFFF;
pub(super) const JB_FOBJECT: u32 = 0x2000_0000;
pub(super) const JB_FARRAY: u32 = 0x4000_0000;
/// A raw scalar: a one-element array standing for the scalar.
pub(super) const JB_FSCALAR: u32 = 0x1000_0000;
pub(super) const VARHDRSZ: usize = 4;

/// An error of serde's traits over jsonb (building a tree, reading a value): its message.
/// Callers raise it as an internal error or take the text path; it never reaches a user.
#[derive(Debug)]
pub struct SerdeError(pub String);

impl std::fmt::Display for SerdeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for SerdeError {}

impl serde::ser::Error for SerdeError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        SerdeError(msg.to_string())
    }
}

impl serde::de::Error for SerdeError {
    fn custom<M: std::fmt::Display>(msg: M) -> Self {
        SerdeError(msg.to_string())
    }
}

/// A JSON value, its strings held in the tree's `text` (byte ranges).
pub enum Node {
    Null,
    Bool(bool),
    String(std::ops::Range<usize>),
    /// A PostgreSQL numeric, made as jsonb_in makes it.
    Numeric(pg_sys::Datum),
    /// Element nodes.
    Array(Vec<usize>),
    /// (key, value node) pairs in jsonb's key order (shorter keys first, then by bytes),
    /// each key once.
    Object(Vec<(std::ops::Range<usize>, usize)>),
}

/// The jsonb datum of the tree whose root is `root` (an array or an object), allocated in
/// the current memory context.
pub fn jsonb_datum(nodes: &[Node], text: &[u8], root: usize) -> pg_sys::Datum {
    let mut writer = Writer { nodes, text, out: Buffer::with_capacity(16 * nodes.len() + text.len()) };
    let (_, length) = writer.value(root);
    writer.out.into_datum(length, if matches!(nodes[root], Node::Object(_)) { Kind::Object } else { Kind::Array })
}

struct Writer<'t> {
    nodes: &'t [Node],
    text: &'t [u8],
    out: Buffer,
}

/// The kind of a container, as jsonb's size errors name it.
#[derive(Clone, Copy)]
pub(super) enum Kind {
    Array,
    Object,
}

impl Writer<'_> {
    /// Appends the data of node `node`; returns its JEntry type and its data's length
    /// (which the enclosing container checks).
    fn value(&mut self, node: usize) -> (u32, usize) {
        match &self.nodes[node] {
            Node::Null => (JENTRY_ISNULL, 0),
            Node::Bool(false) => (JENTRY_ISBOOL_FALSE, 0),
            Node::Bool(true) => (JENTRY_ISBOOL_TRUE, 0),
            Node::String(range) => (JENTRY_ISSTRING, self.out.string(&self.text[range.clone()])),
            Node::Numeric(numeric) => {
                // SAFETY: a numeric is a plain varlena, made by the tree's builder and not toasted.
                let bytes = unsafe {
                    let ptr = numeric.cast_mut_ptr::<pg_sys::varlena>();
                    std::slice::from_raw_parts(ptr.cast::<u8>(), pgrx::varsize_any(ptr))
                };
                (JENTRY_ISNUMERIC, self.out.numeric(bytes))
            }
            Node::Array(elements) => {
                let (start, entries) = self.out.container(elements.len(), Kind::Array);
                let mut ends = Ends::new(Kind::Array);
                for (i, &element) in elements.iter().enumerate() {
                    let (kind, length) = self.value(element);
                    self.out.set_entry(entries, i, ends.entry(i, kind, length));
                }
                (JENTRY_ISCONTAINER, self.out.len() - start)
            }
            Node::Object(pairs) => {
                let count = pairs.len();
                let (start, entries) = self.out.container(count, Kind::Object);
                let mut ends = Ends::new(Kind::Object);
                for (i, (key, _)) in pairs.iter().enumerate() {
                    let length = self.out.string(&self.text[key.clone()]);
                    self.out.set_entry(entries, i, ends.entry(i, JENTRY_ISSTRING, length));
                }
                for (i, &(_, value)) in pairs.iter().enumerate() {
                    let (kind, length) = self.value(value);
                    self.out.set_entry(entries, count + i, ends.entry(count + i, kind, length));
                }
                (JENTRY_ISCONTAINER, self.out.len() - start)
            }
        }
    }
}

/// A jsonb varlena being written: its bytes, the 4-byte header reserved first.
pub(super) struct Buffer {
    bytes: Vec<u8>,
}

impl Buffer {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let mut bytes = Vec::with_capacity(VARHDRSZ + capacity);
        bytes.resize(VARHDRSZ, 0);
        Buffer { bytes }
    }

    pub(super) fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Pads to a 4-byte boundary, writes a container's header word and reserves its
    /// JEntries (two per pair of an object); returns where the container's data (its
    /// padding included) starts and where its first JEntry is.
    pub(super) fn container(&mut self, count: usize, kind: Kind) -> (usize, usize) {
        let start = self.bytes.len();
        self.pad_to_int();
        let Some(count) = u32::try_from(count).ok().filter(|c| *c <= JB_CMASK) else {
            too_many(kind);
        };
        let (flag, entries) = match kind {
            Kind::Array => (JB_FARRAY, count as usize),
            Kind::Object => (JB_FOBJECT, 2 * count as usize),
        };
        self.bytes.extend_from_slice(&(count | flag).to_ne_bytes());
        let at = self.bytes.len();
        self.bytes.resize(at + entries * 4, 0);
        (start, at)
    }

    pub(super) fn set_entry(&mut self, entries: usize, i: usize, entry: u32) {
        let at = entries + i * 4;
        self.bytes[at..at + 4].copy_from_slice(&entry.to_ne_bytes());
    }

    fn pad_to_int(&mut self) -> usize {
        let padding = self.bytes.len().next_multiple_of(4) - self.bytes.len();
        self.bytes.resize(self.bytes.len() + padding, 0);
        padding
    }

    /// A string's (or key's) bytes; returns their length.
    pub(super) fn string(&mut self, bytes: &[u8]) -> usize {
        self.bytes.extend_from_slice(bytes);
        bytes.len()
    }

    /// A numeric varlena, on a 4-byte boundary; returns its length with the padding.
    pub(super) fn numeric(&mut self, varlena: &[u8]) -> usize {
        let padding = self.pad_to_int();
        self.bytes.extend_from_slice(varlena);
        padding + varlena.len()
    }

    /// A container of another jsonb value, copied as it is (its offsets are relative to its
    /// own start), on a 4-byte boundary; returns its length with the padding.
    pub(super) fn container_copy(&mut self, container: &[u8]) -> usize {
        let padding = self.pad_to_int();
        self.bytes.extend_from_slice(container);
        padding + container.len()
    }

    /// The finished value as a datum in the current memory context; `root_length` is the
    /// root container's data length (checked against jsonb's limit).
    pub(super) fn into_datum(self, root_length: usize, root: Kind) -> pg_sys::Datum {
        let bytes = self.into_varlena(root_length, root);
        // SAFETY: palloc returns bytes.len() bytes, filled from the whole varlena.
        unsafe {
            let datum = pg_sys::palloc(bytes.len()).cast::<u8>();
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), datum, bytes.len());
            pg_sys::Datum::from(datum)
        }
    }

    /// The finished value's varlena bytes (its header set), as `into_datum`.
    pub(super) fn into_varlena(self, root_length: usize, root: Kind) -> Vec<u8> {
        if root_length > JENTRY_OFFLENMASK as usize {
            too_large(root);
        }
        let mut bytes = self.bytes;
        // At most JENTRY_OFFLENMASK (checked above) and the header.
        let size = i32::try_from(bytes.len()).unwrap_or_else(|e| crate::errors::internal("building jsonb", e));
        // The first 4 bytes (reserved) become the varlena header of the total size, as
        // SET_VARSIZE_4B writes it (written bytewise: a Vec<u8> is not aligned for a u32).
        let header = if cfg!(target_endian = "little") { (size as u32) << 2 } else { size as u32 & 0x3FFF_FFFF };
        bytes[..VARHDRSZ].copy_from_slice(&header.to_ne_bytes());
        bytes
    }
}

/// The running end offset of a container's elements, stored by every JB_OFFSET_STRIDE'th
/// JEntry instead of its length so that a reader finds an element without summing every
/// length before it.
pub(super) struct Ends {
    total: usize,
    kind: Kind,
}

impl Ends {
    pub(super) fn new(kind: Kind) -> Self {
        Ends { total: 0, kind }
    }

    /// The JEntry of element `i`, whose data is `length` bytes: its length, or every
    /// JB_OFFSET_STRIDE'th its end offset. Raises if the container's data outgrows a JEntry.
    pub(super) fn entry(&mut self, i: usize, kind: u32, length: usize) -> u32 {
        self.total = self.total.saturating_add(length);
        if self.total > JENTRY_OFFLENMASK as usize {
            too_large(self.kind);
        }
        // Both fit in JENTRY_OFFLENMASK, checked above.
        if i.is_multiple_of(JB_OFFSET_STRIDE) {
            kind | self.total as u32 | JENTRY_HAS_OFF
        } else {
            kind | length as u32
        }
    }
}

/// jsonb's limit on a container's data, raised as PostgreSQL raises it.
pub(super) fn too_large(kind: Kind) -> ! {
    let what = match kind {
        Kind::Array => "array elements",
        Kind::Object => "object elements",
    };
    limit_exceeded(format!("total size of jsonb {what} exceeds the maximum of {JENTRY_OFFLENMASK} bytes"))
}

/// jsonb's limit on a container's elements (its header's count field).
fn too_many(kind: Kind) -> ! {
    let what = match kind {
        Kind::Array => "array elements",
        Kind::Object => "object pairs",
    };
    limit_exceeded(format!("number of jsonb {what} exceeds the maximum allowed ({JB_CMASK})"))
}

fn limit_exceeded(message: String) -> ! {
    ErrorReport::new(PgSqlErrorCode::ERRCODE_PROGRAM_LIMIT_EXCEEDED, message, "bel").report(PgLogLevel::ERROR);
    unreachable!("ERROR does not return")
}
