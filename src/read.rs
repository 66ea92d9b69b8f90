//! The read path: one page of events after a cursor, matching a filter, never above the
//! no-loss horizon, answered from indexes.
use bel_core::filter::CompiledFilter;
use bel_core::pb::{BuildEvent, EventPage};
use bel_core::{ErrorClass, Rejection};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::spi::{SpiClient, SpiHeapTupleData};

use crate::errors::raise;
use crate::no_loss::{horizon, Horizon};
use crate::spi::arrays::SqlArray;
use crate::spi::jsonb_page::{self, PageEnd};
use crate::spi::jsonb_text::JsonbValue;
use crate::spi::statements::{statements, Statements};
use crate::spi::{get, run};

/// Largest page a call may ask for.
pub const MAX_LIMIT: i32 = 10_000;

/// One stored event as read.
pub struct EventRow {
    pub idx: i64,
    /// The event as stored: proto3 JSON without its idx.
    pub payload: JsonbValue,
}

impl EventRow {
    fn from_row(row: &SpiHeapTupleData<'_>) -> Option<Self> {
        Some(EventRow { idx: get(row, 1)?, payload: get(row, 2)? })
    }

    pub fn event(&self) -> BuildEvent {
        BuildEvent { idx: self.idx, ..crate::event_input::stored(&self.payload) }
    }

    /// The event with its idx, in proto3 JSON.
    pub fn event_json(&self) -> JsonbValue {
        jsonb_page::event_with_idx(self.idx, &self.payload)
    }
}

pub struct Page {
    pub rows: Vec<EventRow>,
    pub next_idx: i64,
    pub has_more: bool,
    pub in_flight_idx: i64,
}

impl Page {
    pub fn to_proto(&self) -> EventPage {
        EventPage {
            events: self.rows.iter().map(EventRow::event).collect(),
            next_idx: self.next_idx,
            has_more: self.has_more,
            in_flight_idx: self.in_flight_idx,
            replay_behind: false,
        }
    }

    /// The EventPage in proto3 JSON (events, nextIdx, hasMore, inFlightIdx), written from
    /// the stored events' jsonb (`spi::jsonb_page`), none of them printed or parsed.
    fn to_json(&self) -> JsonbValue {
        let end = PageEnd { next_idx: self.next_idx, has_more: self.has_more, in_flight_idx: self.in_flight_idx };
        jsonb_page::page(self.rows.iter().map(|r| (r.idx, &r.payload)), end)
    }
}

/// The columns `bel.list_events` returns beside an event, as stored.
pub struct EventColumns {
    pub event_type: String,
    pub build_request_id: Option<String>,
    pub partition_ref: Option<String>,
    pub job_run_id: Option<String>,
    pub job_label: Option<String>,
    pub created_at: Option<TimestampWithTimeZone>,
}

/// The stored columns of `rows`' events, in the same order. Pages read only idx and payload
/// (a follower needs no more); these rows are committed and never change, so a second
/// statement finds them as the first did.
pub fn event_columns(rows: &[EventRow]) -> Vec<EventColumns> {
    if rows.is_empty() {
        return Vec::new();
    }
    let idx: Vec<i64> = rows.iter().map(|r| r.idx).collect();
    Spi::connect(|client| {
        let st = statements(client);
        let found: Vec<(i64, EventColumns)> = run(client, &st.event_columns, &[idx.sql_array()])
            .filter_map(|row| {
                let columns = EventColumns {
                    event_type: get(&row, 2).unwrap_or_default(),
                    build_request_id: get(&row, 3),
                    partition_ref: get(&row, 4),
                    job_run_id: get(&row, 5),
                    job_label: get(&row, 6),
                    created_at: get(&row, 7),
                };
                Some((get(&row, 1)?, columns))
            })
            .collect();
        if found.len() != rows.len() || found.iter().zip(rows).any(|((idx, _), row)| *idx != row.idx) {
            crate::errors::internal("reading the columns of listed events", "an event read a moment ago is gone");
        }
        found.into_iter().map(|(_, columns)| columns).collect()
    })
}

/// Where candidate events come from: the idx range itself (empty filter) or an index.
enum Source {
    Range,
    Partitions(Vec<String>),
    JobRunIds(Vec<String>),
    JobLabels(Vec<String>),
}

pub fn check_bounds(since_idx: i64, limit: i32) {
    if since_idx < 0 {
        raise(
            Rejection::new(ErrorClass::InvalidValue, format!("since_idx must be >= 0, got {since_idx}"))
                .hint("start from 0 to read the log from its beginning"),
        );
    }
    if !(0..=MAX_LIMIT).contains(&limit) {
        raise(
            Rejection::new(ErrorClass::InvalidValue, format!("limit must be between 0 and {MAX_LIMIT}, got {limit}"))
                .hint("page through the log with next_idx instead of one huge page"),
        );
    }
}

/// The horizon a page is read below.
#[derive(Clone, Copy)]
pub enum Below {
    /// This server's no-loss horizon, computed for the read (on the primary).
    OwnHorizon,
    /// A horizon the primary computed that this server has replayed (src/standby).
    Replayed(Horizon),
}

/// Events with idx > since_idx matching `filter`, ascending, at most `limit`, all at or
/// below the horizon. `next_idx` moves past every event scanned, matching or not.
pub fn read_page(since_idx: i64, filter: &CompiledFilter, limit: i32, below: Below) -> Page {
    check_bounds(since_idx, limit);
    Spi::connect(|client| {
        let st = statements(client);
        let h = match below {
            Below::OwnHorizon => horizon(client, st),
            Below::Replayed(h) => h,
        };
        page_below(client, st, since_idx, filter, limit, h)
    })
}

/// [`read_page`] as an EventPage in proto3 JSON.
pub fn read_page_json(since_idx: i64, filter: &CompiledFilter, limit: i32, below: Below) -> JsonbValue {
    read_page(since_idx, filter, limit, below).to_json()
}

fn page_below(
    client: &SpiClient<'_>,
    st: &Statements,
    since_idx: i64,
    filter: &CompiledFilter,
    limit: i32,
    h: Horizon,
) -> Page {
    let in_flight = h.in_flight.unwrap_or(0);
    let empty = |next_idx| Page { rows: Vec::new(), next_idx, has_more: false, in_flight_idx: in_flight };
    if since_idx >= h.idx {
        return empty(since_idx);
    }
    let plan = choose_plan(client, st, filter, h.idx - since_idx);
    // The source guarantees its own field; other non-empty fields are checked per event.
    let must_check = field_count(filter) > plan.covered_fields;
    // A walk of the log stops at a fixed idx window, so a page's cost stays bounded when
    // matches are rare; the window depends on the cursor only, so the page does not change
    // when the log grows.
    let scan_upto = match plan.source {
        Source::Range if must_check => h.idx.min(since_idx.saturating_add(LOG_WALK_WINDOW)),
        _ => h.idx,
    };
    let want = limit as usize + 1;
    // Rows per statement: a page's worth, more when rows are checked here (most may fail).
    let batch_rows = if must_check { want.max(WALK_BATCH_ROWS) } else { want };
    let mut matched: Vec<EventRow> = Vec::new();
    let mut cursor = since_idx;
    loop {
        let batch = fetch(client, st, &plan.source, cursor, scan_upto, batch_rows as i32);
        let exhausted = batch.len() < batch_rows;
        for row in batch {
            cursor = row.idx;
            if !must_check || filter.matches(&row.event()) {
                matched.push(row);
                if matched.len() == want {
                    break;
                }
            }
        }
        if matched.len() == want || exhausted {
            break;
        }
    }
    if matched.len() == want {
        matched.truncate(limit as usize);
        let next_idx = matched.last().map_or(since_idx, |r| r.idx);
        Page { rows: matched, next_idx, has_more: true, in_flight_idx: 0 }
    } else if scan_upto < h.idx {
        // The window was walked and more of the log is readable: the caller goes on at once.
        Page { rows: matched, next_idx: scan_upto, has_more: true, in_flight_idx: 0 }
    } else {
        Page { rows: matched, next_idx: h.idx, has_more: false, in_flight_idx: in_flight }
    }
}

/// A glob page within this many idx of the horizon walks the log instead of the partition
/// index: a follower at the tail then pays for the few events it scans, not for every
/// partition its glob matches.
const TAIL_GAP: i64 = 512;
/// A glob matching more known partitions than this is answered by walking the log: one
/// index range per partition would cost more than reading the events themselves.
const MAX_INDEXED_PARTITIONS: i32 = 2_000;
/// Most idx one call walks when it filters events itself (see `page_below`).
const LOG_WALK_WINDOW: i64 = 20_000;
/// Rows a walk reads per statement.
const WALK_BATCH_ROWS: usize = 512;

/// Where a page's candidate events come from, and how many filter fields that answers.
struct Plan {
    source: Source,
    covered_fields: usize,
}

/// The cheapest source for the filter: the most selective index, except for globs near the
/// tail or over many partitions, where walking the log costs what the page returns.
fn choose_plan(client: &SpiClient<'_>, st: &Statements, f: &CompiledFilter, gap: i64) -> Plan {
    let sorted = |set: &std::collections::HashSet<String>| -> Vec<String> {
        let mut v: Vec<String> = set.iter().cloned().collect();
        v.sort();
        v
    };
    let indexed = |source| Plan { source, covered_fields: 1 };
    let walk = Plan { source: Source::Range, covered_fields: 0 };
    if !f.job_run_ids.is_empty() {
        indexed(Source::JobRunIds(sorted(&f.job_run_ids)))
    } else if !f.partition_refs.is_empty() {
        indexed(Source::Partitions(sorted(&f.partition_refs)))
    } else if !f.partition_patterns.is_empty() {
        if gap <= TAIL_GAP {
            return walk;
        }
        match partitions_matching(client, st, f, MAX_INDEXED_PARTITIONS) {
            Some(refs) => indexed(Source::Partitions(refs)),
            None => walk,
        }
    } else if !f.job_labels.is_empty() {
        indexed(Source::JobLabels(sorted(&f.job_labels)))
    } else {
        walk
    }
}

/// Known partitions matching any pattern, or None when reading them would pass `cap`
/// rows of the known-partition index. Each pattern's literal prefix narrows the set with
/// an index range scan, globset decides.
fn partitions_matching(client: &SpiClient<'_>, st: &Statements, f: &CompiledFilter, cap: i32) -> Option<Vec<String>> {
    let mut refs = Vec::new();
    let mut read: i32 = 0;
    for range in f.pattern_ranges() {
        let left = cap - read + 1;
        let rows = match range.upper {
            Some(upper) => run(client, &st.known_partitions_between, &[range.lower.into(), upper.into(), left.into()]),
            None => run(client, &st.known_partitions_from, &[range.lower.into(), left.into()]),
        };
        for r in rows.filter_map(|row| get::<String>(&row, 1)) {
            read += 1;
            if read > cap {
                return None;
            }
            if f.pattern_matches(&r) {
                refs.push(r);
            }
        }
    }
    Some(refs)
}

fn field_count(f: &CompiledFilter) -> usize {
    [
        !f.partition_refs.is_empty(),
        !f.partition_patterns.is_empty(),
        !f.job_run_ids.is_empty(),
        !f.job_labels.is_empty(),
    ]
    .into_iter()
    .filter(|x| *x)
    .count()
}

fn fetch(client: &SpiClient<'_>, st: &Statements, source: &Source, after: i64, upto: i64, limit: i32) -> Vec<EventRow> {
    let rows = match source {
        Source::Range => run(client, &st.events_in_range, &[after.into(), upto.into(), limit.into()]),
        Source::Partitions(v) if v.is_empty() => return Vec::new(),
        Source::Partitions(v) => {
            run(client, &st.events_by_partitions, &[v.clone().sql_array(), after.into(), upto.into(), limit.into()])
        }
        Source::JobRunIds(v) => {
            run(client, &st.events_by_job_run_ids, &[v.clone().sql_array(), after.into(), upto.into(), limit.into()])
        }
        Source::JobLabels(v) => {
            run(client, &st.events_by_job_labels, &[v.clone().sql_array(), after.into(), upto.into(), limit.into()])
        }
    };
    rows.filter_map(|row| EventRow::from_row(&row)).collect()
}
