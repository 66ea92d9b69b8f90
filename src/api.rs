//! The SQL surface (docs/sql-api.md). Every function is thin: decode, call the layer that
//! does the work, encode. All run SECURITY DEFINER with a pinned search_path, so roles
//! need only EXECUTE and nobody writes the tables directly.
use bel_core::event;
use bel_core::filter::CompiledFilter;
use bel_core::pb::EventFilter;
use bel_core::{ErrorClass, Rejection};
use pgrx::datum::TimestampWithTimeZone;
use pgrx::prelude::*;
use pgrx::JsonB;

mod idx_set;

use self::idx_set::IdxSet;
use crate::append::{append, MAX_BATCH_EVENTS};
use crate::errors::OrRaise;
use crate::event_input;
use crate::read::{event_columns, read_page, read_page_json, Below, EventColumns, EventRow};
use crate::spi::jsonb_text::JsonbValue;
use crate::spi::to_timestamptz;
use crate::standby::{self, Lsn};
use crate::{maintenance, views};

/// Appends one event given in proto3 JSON; returns its idx. Its size is that of the
/// jsonb's text.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn bel_append(event: JsonbValue) -> i64 {
    single(append(vec![event_input::event(&event).or_raise()], false))
}

/// Same as bel_append(jsonb); lets an untyped literal resolve (jsonb and bytea are both
/// "user-defined" type categories, so `bel_append('{...}')` would be ambiguous without it).
#[pg_extern(volatile, security_definer, name = "bel_append")]
#[search_path(pg_catalog, pg_temp)]
fn bel_append_text(event: &str) -> i64 {
    single(append(vec![event::from_json(event).or_raise()], false))
}

/// Appends one event given in binary protobuf (bel.v1.BuildEvent); returns its idx.
#[pg_extern(volatile, security_definer, name = "bel_append")]
#[search_path(pg_catalog, pg_temp)]
fn bel_append_protobuf(event: &[u8]) -> i64 {
    single(append(vec![event::from_protobuf(event).or_raise()], false))
}

fn single(idx: Vec<i64>) -> i64 {
    idx.first().copied().unwrap_or_else(|| crate::errors::internal("append", "no idx returned"))
}

/// Appends a JSON array of events, all or nothing; returns their idx values in order, in
/// one call ([`IdxSet`]). The declaration is the one pgrx generated when this returned an
/// iterator (the catalog is unchanged; tests/upgrade compares it).
#[pg_extern(sql = r#"
CREATE FUNCTION "bel_append_batch"(
	"events" jsonb /* JsonbValue */
) RETURNS SETOF bigint /* i64 */
STRICT VOLATILE SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
LANGUAGE c /* Rust */
AS 'MODULE_PATHNAME', 'bel_append_batch_wrapper';
"#)]
fn bel_append_batch(events: JsonbValue) -> IdxSet {
    IdxSet(append(event_input::batch(&events, MAX_BATCH_EVENTS).or_raise(), true))
}

fn filter_from_jsonb(filter: Option<JsonB>) -> CompiledFilter {
    match filter {
        None => CompiledFilter::new(&EventFilter::default()).or_raise(),
        Some(JsonB(value)) => {
            let parsed: EventFilter = serde_json::from_value(value)
                .map_err(|e| {
                    Rejection::new(ErrorClass::Malformed, format!("malformed EventFilter JSON: {e}"))
                        .hint("fields: partitionRefs, partitionPatterns, jobLabels, jobRunIds (arrays of strings)")
                })
                .or_raise();
            CompiledFilter::new(&parsed).or_raise()
        }
    }
}

/// Events with idx > since_idx matching the filter, in idx order, at most limit; never
/// beyond the no-loss horizon.
// pgrx needs the column list spelled out (no type alias) to name the SQL columns.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn list_events(
    since_idx: i64,
    filter: default!(Option<JsonB>, "'{}'"),
    limit: default!(i32, 1000),
) -> TableIterator<
    'static,
    (
        name!(idx, i64),
        name!(event, JsonbValue),
        name!(event_type, String),
        name!(build_request_id, Option<String>),
        name!(partition_ref, Option<String>),
        name!(job_run_id, Option<String>),
        name!(job_label, Option<String>),
        name!(created_at, Option<TimestampWithTimeZone>),
    ),
> {
    let page = read_page(since_idx, &filter_from_jsonb(filter), limit, Below::OwnHorizon);
    let columns = event_columns(&page.rows);
    TableIterator::new(page.rows.into_iter().zip(columns).map(|(r, c): (EventRow, EventColumns)| {
        (
            r.idx,
            r.event_json(),
            c.event_type,
            c.build_request_id,
            c.partition_ref,
            c.job_run_id,
            c.job_label,
            c.created_at,
        )
    }))
}

/// One EventPage in proto3 JSON: events, nextIdx, hasMore, inFlightIdx.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn list_events_page(since_idx: i64, filter: default!(Option<JsonB>, "'{}'"), limit: default!(i32, 1000)) -> JsonbValue {
    read_page_json(since_idx, &filter_from_jsonb(filter), limit, Below::OwnHorizon)
}

/// list_events_page for an untyped filter literal.
#[pg_extern(volatile, security_definer, name = "list_events_page")]
#[search_path(pg_catalog, pg_temp)]
fn list_events_page_text(since_idx: i64, filter: &str, limit: default!(i32, 1000)) -> JsonbValue {
    let filter = CompiledFilter::from_json(filter).or_raise();
    read_page_json(since_idx, &filter, limit, Below::OwnHorizon)
}

/// The binary twin: filter and page as protobuf (bel.v1.EventFilter / bel.v1.EventPage).
#[pg_extern(volatile, security_definer, name = "list_events_page")]
#[search_path(pg_catalog, pg_temp)]
fn list_events_page_protobuf(since_idx: i64, filter: &[u8], limit: default!(i32, 1000)) -> Vec<u8> {
    let page = read_page(since_idx, &filter_from_protobuf(filter), limit, Below::OwnHorizon);
    prost::Message::encode_to_vec(&page.to_proto())
}

fn filter_from_protobuf(filter: &[u8]) -> CompiledFilter {
    let parsed: EventFilter = prost::Message::decode(filter)
        .map_err(|e| Rejection::new(ErrorClass::Malformed, format!("malformed protobuf EventFilter: {e}")))
        .or_raise();
    CompiledFilter::new(&parsed).or_raise()
}

/// The primary's no-loss horizon for followers that read a standby: every idx <=
/// horizon_idx is committed or rolled back for good, the commit records of those appends
/// end at or before horizon_lsn, and in_flight_idx is the append that holds the horizon
/// back (0 when none). One row. Refused on a standby and in a transaction that has written.
#[allow(clippy::type_complexity)]
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn horizon() -> TableIterator<'static, (name!(horizon_idx, i64), name!(horizon_lsn, Lsn), name!(in_flight_idx, i64))> {
    let p = standby::primary_horizon();
    TableIterator::once((p.horizon.idx, p.lsn, p.horizon.in_flight.unwrap_or(0)))
}

/// One EventPage read below a horizon from `bel.horizon()` on the primary: on a standby,
/// once it has replayed the WAL up to horizon_lsn (waiting up to replay_timeout_ms; then
/// an empty page with the cursor unchanged and `replayBehind` set); on the primary at once.
#[pg_extern(volatile, security_definer, name = "list_events_page")]
#[search_path(pg_catalog, pg_temp)]
fn list_events_page_at_horizon(
    since_idx: i64,
    filter: JsonB,
    limit: i32,
    horizon_idx: i64,
    horizon_lsn: Lsn,
    replay_timeout_ms: default!(i32, 10000),
) -> JsonbValue {
    let filter = filter_from_jsonb(Some(filter));
    page_json_at_horizon(since_idx, &filter, limit, horizon_idx, horizon_lsn, replay_timeout_ms)
}

/// list_events_page at a horizon, for an untyped filter literal.
#[pg_extern(volatile, security_definer, name = "list_events_page")]
#[search_path(pg_catalog, pg_temp)]
fn list_events_page_at_horizon_text(
    since_idx: i64,
    filter: &str,
    limit: i32,
    horizon_idx: i64,
    horizon_lsn: Lsn,
    replay_timeout_ms: default!(i32, 10000),
) -> JsonbValue {
    let filter = CompiledFilter::from_json(filter).or_raise();
    page_json_at_horizon(since_idx, &filter, limit, horizon_idx, horizon_lsn, replay_timeout_ms)
}

fn page_json_at_horizon(
    since_idx: i64,
    filter: &CompiledFilter,
    limit: i32,
    horizon_idx: i64,
    horizon_lsn: Lsn,
    replay_timeout_ms: i32,
) -> JsonbValue {
    match standby::replayed_horizon(since_idx, limit, horizon_idx, horizon_lsn, replay_timeout_ms) {
        Some(h) => read_page_json(since_idx, filter, limit, Below::Replayed(h)),
        None => standby::replay_behind_json(since_idx),
    }
}

/// The binary twin of list_events_page at a horizon (protobuf filter and EventPage).
#[pg_extern(volatile, security_definer, name = "list_events_page")]
#[search_path(pg_catalog, pg_temp)]
fn list_events_page_at_horizon_protobuf(
    since_idx: i64,
    filter: &[u8],
    limit: i32,
    horizon_idx: i64,
    horizon_lsn: Lsn,
    replay_timeout_ms: default!(i32, 10000),
) -> Vec<u8> {
    let filter = filter_from_protobuf(filter);
    let page = match standby::replayed_horizon(since_idx, limit, horizon_idx, horizon_lsn, replay_timeout_ms) {
        Some(h) => read_page(since_idx, &filter, limit, Below::Replayed(h)).to_proto(),
        None => standby::replay_behind_page(since_idx),
    };
    prost::Message::encode_to_vec(&page)
}

/// Blocks until the append holding in-flight idx `idx` commits or rolls back (true), or
/// `timeout_ms` passes (false). Followers call it with a page's inFlightIdx instead of sleeping.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn wait_for_append(idx: i64, timeout_ms: default!(i32, 10000)) -> bool {
    crate::no_loss::wait_for_append(idx, timeout_ms)
}

/// Current status of the partitions matching any of `patterns` (globs; all when null), in
/// ref order; paged with `after_ref` (the last ref of the previous page) and `limit`
/// (0..=10000; null = all).
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn partition_status(
    patterns: default!(Option<Vec<String>>, "NULL"),
    after_ref: default!(Option<String>, "NULL"),
    limit: default!(Option<i32>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(partition_ref, String),
        name!(status, String),
        name!(build_request_id, String),
        name!(job_run_id, Option<String>),
        name!(last_idx, i64),
        name!(updated_at, TimestampWithTimeZone),
    ),
> {
    use bel_core::status::Status;
    TableIterator::new(views::partition_status(patterns, after_ref, limit).into_iter().map(|p| {
        (
            p.partition_ref,
            p.status.short_name().to_owned(),
            p.build_request_id,
            p.job_run_id,
            p.last_idx,
            to_timestamptz(p.updated_at),
        )
    }))
}

/// How many partitions matching any of `patterns` (all when null) are in each status.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn partition_counts(
    patterns: default!(Option<Vec<String>>, "NULL"),
) -> TableIterator<'static, (name!(status, String), name!(partitions, i64))> {
    TableIterator::new(views::partition_counts(patterns))
}

/// Build requests, newest first (by their first event's idx), paged with `before_idx`
/// (the previous page's last first_idx) and `limit` (0..=10000).
#[allow(clippy::type_complexity)]
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn build_requests(
    before_idx: default!(Option<i64>, "NULL"),
    limit: default!(i32, 50),
) -> TableIterator<
    'static,
    (
        name!(build_request_id, String),
        name!(status, String),
        name!(requested_partitions, Vec<String>),
        name!(first_idx, i64),
        name!(last_idx, i64),
        name!(created_at, TimestampWithTimeZone),
        name!(updated_at, TimestampWithTimeZone),
    ),
> {
    use bel_core::status::Status;
    TableIterator::new(views::build_requests(before_idx, limit).into_iter().map(|b| {
        (
            b.build_request_id,
            b.status.short_name().to_owned(),
            b.requested_partitions,
            b.first_idx,
            b.last_idx,
            to_timestamptz(b.created_at),
            to_timestamptz(b.updated_at),
        )
    }))
}

/// A build at a glance (jsonb): status, partitions by status, delegations, job runs, times.
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn build_summary(build_request_id: &str) -> JsonB {
    JsonB(views::build_summary(build_request_id))
}

/// Job runs, optionally of one build and/or one job label, in scheduling order.
#[allow(clippy::type_complexity)]
#[pg_extern(stable, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn job_runs(
    build_request_id: default!(Option<String>, "NULL"),
    job_label: default!(Option<String>, "NULL"),
) -> TableIterator<
    'static,
    (
        name!(job_run_id, String),
        name!(build_request_id, String),
        name!(job_label, String),
        name!(status, String),
        name!(target_partitions, Vec<String>),
        name!(exit_code, Option<i32>),
        name!(message, String),
        name!(first_idx, i64),
        name!(last_idx, i64),
        name!(created_at, TimestampWithTimeZone),
        name!(updated_at, TimestampWithTimeZone),
    ),
> {
    use bel_core::status::Status;
    TableIterator::new(views::job_runs(build_request_id, job_label).into_iter().map(|r| {
        (
            r.job_run_id,
            r.build_request_id,
            r.job_label,
            r.status.short_name().to_owned(),
            r.target_partitions,
            r.exit_code,
            r.message,
            r.first_idx,
            r.last_idx,
            to_timestamptz(r.created_at),
            to_timestamptz(r.updated_at),
        )
    }))
}

/// The state diagrams bel_append validates with, one row per edge, with what the edge
/// needs besides the entity's own state (NULL: nothing).
#[pg_extern(immutable, parallel_safe, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn transitions() -> TableIterator<
    'static,
    (
        name!(entity, String),
        name!(from_state, Option<String>),
        name!(to_state, String),
        name!(condition, Option<String>),
    ),
> {
    TableIterator::new(bel_core::diagram::all_transitions().into_iter().map(|t| {
        (t.entity.to_owned(), t.from_state.map(str::to_owned), t.to_state.to_owned(), t.condition.map(str::to_owned))
    }))
}

/// Entities whose projection differs from a replay of the whole log (empty = consistent).
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn verify() -> TableIterator<
    'static,
    (name!(entity, String), name!(key, String), name!(projected, Option<JsonB>), name!(replayed, Option<JsonB>)),
> {
    TableIterator::new(
        maintenance::verify()
            .into_iter()
            .map(|d| (d.entity.to_owned(), d.key, d.projected.map(JsonB), d.replayed.map(JsonB))),
    )
}

/// Rebuilds the projections from the log (recovery, upgrades); returns the events replayed.
#[pg_extern(volatile, security_definer)]
#[search_path(pg_catalog, pg_temp)]
fn rebuild_projections() -> i64 {
    maintenance::rebuild_projections()
}
