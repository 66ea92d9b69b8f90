//! Events and pages as readers get them, written in binary jsonb straight from the stored
//! payloads: an event is its payload with `"idx"` added (proto3 JSON prints an int64 as a
//! string), a page is `{"events": [...], "hasMore": .., "nextIdx": "..", "inFlightIdx": ".."}`.
//! The payload's keys, strings, numerics and nested containers are copied as they are
//! stored (a container's offsets are relative to its own start); only the event's outer
//! object and the page are written anew. The result is, byte for byte, what
//! `jsonb_build_object('idx', idx::text) || payload` and `jsonb_agg` make, which decode and
//! re-encode every value of every event: that cost 40.7k instructions per event of a page,
//! 1.8x a plain `jsonb_agg` of the payloads (callgrind, docs/benchmarks.md). pg_tests
//! compare the bytes.
use std::io::Write;

use super::jsonb_format::{
    too_large, Buffer, Ends, Kind, JENTRY_ISBOOL_FALSE, JENTRY_ISBOOL_TRUE, JENTRY_ISCONTAINER, JENTRY_ISNULL,
    JENTRY_ISNUMERIC, JENTRY_ISSTRING, JENTRY_OFFLENMASK,
};
use super::jsonb_read::{self, Container, Item, Unreadable};
use super::jsonb_text::JsonbValue;

const IDX_KEY: &[u8] = b"idx";

/// One stored event with its idx, as readers see it.
pub fn event_with_idx(idx: i64, payload: &JsonbValue) -> JsonbValue {
    let mut out = Buffer::with_capacity(payload.bytes().len() + 32);
    let length = write_event(&mut out, idx, payload);
    JsonbValue::from_varlena(out.into_varlena(length, Kind::Object))
}

/// The fields of an EventPage after its events.
pub struct PageEnd {
    pub next_idx: i64,
    pub has_more: bool,
    pub in_flight_idx: i64,
}

/// An EventPage in proto3 JSON of `events` (idx, stored payload), in their order.
pub fn page<'a>(events: impl ExactSizeIterator<Item = (i64, &'a JsonbValue)> + Clone, end: PageEnd) -> JsonbValue {
    // Room for the whole page, up to jsonb's limit (a larger page is refused below).
    let size: usize = events.clone().map(|(_, payload)| payload.bytes().len() + 48).sum();
    let mut out = Buffer::with_capacity((size + 96).min(JENTRY_OFFLENMASK as usize));
    // The page's keys in jsonb's order (by length, then bytes).
    let keys: [&[u8]; 4] = [b"events", b"hasMore", b"nextIdx", b"inFlightIdx"];
    let (page_start, page_entries) = out.container(keys.len(), Kind::Object);
    let mut page = Ends::new(Kind::Object);
    for (i, key) in keys.iter().enumerate() {
        let length = out.string(key);
        out.set_entry(page_entries, i, page.entry(i, JENTRY_ISSTRING, length));
    }
    let (events_start, event_entries) = out.container(events.len(), Kind::Array);
    let mut array = Ends::new(Kind::Array);
    for (i, (idx, payload)) in events.enumerate() {
        let length = write_event(&mut out, idx, payload);
        out.set_entry(event_entries, i, array.entry(i, JENTRY_ISCONTAINER, length));
    }
    let events_length = out.len() - events_start;
    // The array as a whole (header and JEntries too), as convertJsonbArray checks it.
    if events_length > JENTRY_OFFLENMASK as usize {
        too_large(Kind::Array);
    }
    out.set_entry(page_entries, 4, page.entry(4, JENTRY_ISCONTAINER, events_length));
    let has_more = if end.has_more { JENTRY_ISBOOL_TRUE } else { JENTRY_ISBOOL_FALSE };
    out.set_entry(page_entries, 5, page.entry(5, has_more, 0));
    let mut digits = Digits::default();
    let length = out.string(digits.of(end.next_idx));
    out.set_entry(page_entries, 6, page.entry(6, JENTRY_ISSTRING, length));
    let length = out.string(digits.of(end.in_flight_idx));
    out.set_entry(page_entries, 7, page.entry(7, JENTRY_ISSTRING, length));
    let length = out.len() - page_start;
    JsonbValue::from_varlena(out.into_varlena(length, Kind::Object))
}

/// Writes the event object (payload and idx) as a container; returns its length.
fn write_event(out: &mut Buffer, idx: i64, payload: &JsonbValue) -> usize {
    let fields = match jsonb_read::root(payload.bytes()) {
        Ok(Item::Object(fields)) => fields,
        _ => crate::errors::internal("reading a stored event", "its payload is not a JSON object"),
    };
    write_with_idx(out, idx, fields)
        .unwrap_or_else(|_| crate::errors::internal("reading a stored event", "unreadable jsonb"))
}

/// The object `fields` with the key "idx" added in jsonb's key order, unless it has one
/// (then, as with `||`, the object's own value stays).
fn write_with_idx(out: &mut Buffer, idx: i64, fields: Container<'_>) -> Result<usize, Unreadable> {
    let n = fields.len();
    // Where "idx" goes: before the first key that sorts after it.
    let mut at = n;
    let mut present = false;
    for (i, key) in fields.items(0).take(n).enumerate() {
        let Item::String(key) = key? else { return Err(Unreadable) };
        match (key.len(), key).cmp(&(IDX_KEY.len(), IDX_KEY)) {
            std::cmp::Ordering::Less => continue,
            std::cmp::Ordering::Equal => present = true,
            std::cmp::Ordering::Greater => {}
        }
        at = i;
        break;
    }
    let count = n + usize::from(!present);
    let mut digits = Digits::default();
    let (key, value) = (Item::String(IDX_KEY), Item::String(digits.of(idx)));
    let added = |item| (!present).then_some(item);
    let (start, entries) = out.container(count, Kind::Object);
    let mut ends = Ends::new(Kind::Object);
    for (slot, key) in with_added(fields, 0, at, added(key)).enumerate() {
        let Item::String(key) = key? else { return Err(Unreadable) };
        let length = out.string(key);
        out.set_entry(entries, slot, ends.entry(slot, JENTRY_ISSTRING, length));
    }
    for (slot, value) in (count..).zip(with_added(fields, n, at, added(value))) {
        let (kind, length) = copy(out, value?);
        out.set_entry(entries, slot, ends.entry(slot, kind, length));
    }
    Ok(out.len() - start)
}

/// The keys (`first` 0) or the values (`first` = len) of object `fields`, with `added` put
/// in at position `at`.
fn with_added<'a>(
    fields: Container<'a>,
    first: usize,
    at: usize,
    added: Option<Item<'a>>,
) -> impl Iterator<Item = Result<Item<'a>, Unreadable>> {
    let n = fields.len();
    fields.items(first).take(at).chain(added.map(Ok)).chain(fields.items(first + at).take(n - at))
}

/// Copies a stored value; returns its JEntry type and its data's length.
fn copy(out: &mut Buffer, item: Item<'_>) -> (u32, usize) {
    match item {
        Item::Null => (JENTRY_ISNULL, 0),
        Item::Bool(false) => (JENTRY_ISBOOL_FALSE, 0),
        Item::Bool(true) => (JENTRY_ISBOOL_TRUE, 0),
        Item::String(s) => (JENTRY_ISSTRING, out.string(s)),
        Item::Numeric(n) => (JENTRY_ISNUMERIC, out.numeric(n)),
        Item::Array(c) | Item::Object(c) => (JENTRY_ISCONTAINER, out.container_copy(c.bytes())),
    }
}

/// An int64's decimal digits, without allocating.
#[derive(Default)]
struct Digits {
    buffer: [u8; 20],
}

impl Digits {
    fn of(&mut self, value: i64) -> &[u8] {
        let mut cursor = std::io::Cursor::new(&mut self.buffer[..]);
        // 20 bytes hold any i64 ("-9223372036854775808").
        let _ = write!(cursor, "{value}");
        let written = cursor.position() as usize;
        &self.buffer[..written]
    }
}
