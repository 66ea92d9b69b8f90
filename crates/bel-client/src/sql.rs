//! One function per SQL call of the bel API, over any [`GenericClient`] (a `Client` or a
//! `Transaction`), so callers can append inside their own transactions. The SQL texts
//! cast every parameter, which picks the right overload (`bel_append` has jsonb, text
//! and bytea variants).
use std::time::{Duration, SystemTime};

use bel_core::pb::{BuildEvent, EventFilter, EventPage, PartitionStatus};
use bel_core::status::Status;
use bel_core::{ErrorClass, Rejection};
use prost::Message;
use tokio_postgres::types::PgLsn;
use tokio_postgres::{GenericClient, Row};

use crate::error::{Error, Result};

/// Largest page `bel.list_events_page` serves.
pub const MAX_PAGE_LIMIT: i64 = 10_000;

/// One row of `bel.partition_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionStatusRow {
    /// The partition.
    pub partition_ref: String,
    /// The status's short name as the server returns it, e.g. `AVAILABLE`.
    pub status: String,
    /// The owning build request.
    pub build_request_id: Option<String>,
    /// The job run that produced (or is producing) the partition.
    pub job_run_id: Option<String>,
    /// idx of the last event that changed the partition.
    pub last_idx: Option<i64>,
    /// When the partition last changed.
    pub updated_at: Option<SystemTime>,
}

impl PartitionStatusRow {
    /// The status as the proto enum, or `None` for a name this client does not know.
    pub fn status(&self) -> Option<PartitionStatus> {
        PartitionStatus::from_short_name(&self.status)
    }
}

/// `bel.bel_append(bytea)`: appends one event (sent as binary protobuf) and returns its
/// idx. With an `eventId` appended before, returns the first event's idx and writes nothing.
pub async fn append(client: &impl GenericClient, event: &BuildEvent) -> Result<i64> {
    let row = client.query_one("select bel.bel_append($1::bytea)", &[&event.encode_to_vec()]).await?;
    Ok(row.try_get(0)?)
}

/// `bel.bel_append_batch(jsonb)`: appends events all or nothing, returning one idx per
/// event in order. An empty batch returns at once without a round trip.
pub async fn append_batch(client: &impl GenericClient, events: &[BuildEvent]) -> Result<Vec<i64>> {
    if events.is_empty() {
        return Ok(Vec::new());
    }
    // The batch function takes proto3 JSON (there is no bytea twin); pbjson produces the
    // canonical mapping the server parses.
    let batch = serde_json::to_value(events).map_err(|e| {
        Error::Rejected(Rejection::new(ErrorClass::Malformed, format!("cannot encode events as JSON: {e}")))
    })?;
    let rows = client
        .query(
            "select idx from bel.bel_append_batch($1::jsonb) with ordinality as appended(idx, position) \
             order by position",
            &[&batch],
        )
        .await?;
    let idxs = rows.iter().map(|row| row.try_get::<_, i64>(0)).collect::<Result<Vec<_>, _>>()?;
    if idxs.len() != events.len() {
        return Err(Error::Decode {
            what: "bel.bel_append_batch result",
            reason: format!("{} idx values for {} events", idxs.len(), events.len()),
        });
    }
    Ok(idxs)
}

/// `bel.list_events_page(bigint, bytea, int)`: one page of events with `idx > since_idx`
/// matching `filter`, in idx order, at most `limit` (0..=10000).
pub async fn list_events_page(
    client: &impl GenericClient,
    since_idx: i64,
    filter: &EventFilter,
    limit: i64,
) -> Result<EventPage> {
    let limit = page_limit_param(limit)?;
    // An empty filter encodes to zero bytes, which the server reads as "everything".
    let row = client
        .query_one(
            "select bel.list_events_page($1::bigint, $2::bytea, $3::int)",
            &[&since_idx, &filter.encode_to_vec(), &limit],
        )
        .await?;
    decode_page(&row)
}

/// The primary's no-loss horizon, from `bel.horizon()`: a standby serves the events at or
/// below `idx` once it has replayed the primary's WAL up to `lsn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Horizon {
    /// Every idx at or below it is committed or rolled back for good.
    pub idx: i64,
    /// The primary's WAL position at or after the commit records of those appends.
    pub lsn: PgLsn,
    /// The first idx of the append in flight that holds the horizon back (0 when none).
    pub in_flight_idx: i64,
}

/// `bel.horizon()`, on the primary (refused on a standby, and in a transaction that has
/// written).
pub async fn horizon(client: &impl GenericClient) -> Result<Horizon> {
    let row = client.query_one("select horizon_idx, horizon_lsn, in_flight_idx from bel.horizon()", &[]).await?;
    Ok(Horizon { idx: row.try_get(0)?, lsn: row.try_get(1)?, in_flight_idx: row.try_get(2)? })
}

/// `bel.list_events_page(bigint, bytea, int, bigint, pg_lsn, int)`, on a standby (or the
/// primary): [`list_events_page`] below `horizon`, once the server has replayed the
/// primary's WAL up to `horizon.lsn`. It waits up to `replay_wait` for that, then returns
/// an empty page with `replay_behind` set and the cursor unchanged. The timeout is capped
/// at `i32::MAX` milliseconds.
pub async fn list_events_page_at(
    client: &impl GenericClient,
    since_idx: i64,
    filter: &EventFilter,
    limit: i64,
    horizon: &Horizon,
    replay_wait: Duration,
) -> Result<EventPage> {
    let limit = page_limit_param(limit)?;
    let replay_wait_ms = i32::try_from(replay_wait.as_millis()).unwrap_or(i32::MAX);
    let row = client
        .query_one(
            "select bel.list_events_page($1::bigint, $2::bytea, $3::int, $4::bigint, $5::pg_lsn, $6::int)",
            &[&since_idx, &filter.encode_to_vec(), &limit, &horizon.idx, &horizon.lsn, &replay_wait_ms],
        )
        .await?;
    decode_page(&row)
}

fn decode_page(row: &Row) -> Result<EventPage> {
    let bytes: Option<Vec<u8>> = row.try_get(0)?;
    let bytes =
        bytes.ok_or_else(|| Error::Decode { what: "bel.v1.EventPage", reason: "the server returned NULL".into() })?;
    EventPage::decode(bytes.as_slice()).map_err(|e| Error::Decode { what: "bel.v1.EventPage", reason: e.to_string() })
}

pub(crate) fn page_limit_param(limit: i64) -> Result<i32> {
    if !(0..=MAX_PAGE_LIMIT).contains(&limit) {
        return Err(Error::Rejected(
            Rejection::new(ErrorClass::InvalidValue, format!("limit {limit} is out of range"))
                .hint(format!("use a limit between 0 and {MAX_PAGE_LIMIT}")),
        ));
    }
    // In range, so the conversion cannot fail; keep the error path anyway.
    i32::try_from(limit).map_err(|_| Error::Rejected(Rejection::new(ErrorClass::InvalidValue, "limit out of range")))
}

/// `bel.wait_for_append(idx, timeout_ms)`: blocks until the append holding in-flight idx
/// `idx` has committed or rolled back (true) or the timeout passed (false). The timeout
/// is capped at `i32::MAX` milliseconds.
pub async fn wait_for_append(client: &impl GenericClient, idx: i64, timeout: Duration) -> Result<bool> {
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    let row = client.query_one("select bel.wait_for_append($1::bigint, $2::int)", &[&idx, &timeout_ms]).await?;
    Ok(row.try_get::<_, Option<bool>>(0)?.unwrap_or(false))
}

/// `bel.partition_status(patterns)`: the current status of the partitions matching any of
/// the globs, or of every partition when `patterns` is empty.
pub async fn partition_status(client: &impl GenericClient, patterns: &[String]) -> Result<Vec<PartitionStatusRow>> {
    // NULL (not an empty array) means "all partitions".
    let patterns: Option<&[String]> = (!patterns.is_empty()).then_some(patterns);
    let rows = client
        .query(
            "select partition_ref, status, build_request_id, job_run_id, last_idx, updated_at \
             from bel.partition_status($1::text[]) order by partition_ref",
            &[&patterns],
        )
        .await?;
    rows.iter()
        .map(|row| {
            Ok(PartitionStatusRow {
                partition_ref: row.try_get(0)?,
                status: row.try_get(1)?,
                build_request_id: row.try_get(2)?,
                job_run_id: row.try_get(3)?,
                last_idx: row.try_get(4)?,
                updated_at: row.try_get(5)?,
            })
        })
        .collect()
}

/// `bel.build_summary(build_request_id)`: status, partitions and job runs by status,
/// delegations and times of one build request, as JSON. [`Error::NotFound`] when the
/// server returns NULL.
pub async fn build_summary(client: &impl GenericClient, build_request_id: &str) -> Result<serde_json::Value> {
    let row = client.query_one("select bel.build_summary($1::text)", &[&build_request_id]).await?;
    let summary: Option<serde_json::Value> = row.try_get(0)?;
    match summary {
        Some(serde_json::Value::Null) | None => {
            Err(Error::NotFound(format!("no build request {build_request_id:?} in the log")))
        }
        Some(summary) => Ok(summary),
    }
}

/// One transition of a state diagram, from `bel.transitions()`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    /// `build_request`, `job_run` or `partition`.
    pub entity: String,
    /// The state left; `None` for the entity's first state.
    pub from_state: Option<String>,
    /// The state entered.
    pub to_state: String,
}

/// `bel.transitions()`: every transition the state diagrams allow, in the server's order.
pub async fn transitions(client: &impl GenericClient) -> Result<Vec<Transition>> {
    let rows = client.query("select entity, from_state, to_state from bel.transitions()", &[]).await?;
    rows.iter()
        .map(|row| Ok(Transition { entity: row.try_get(0)?, from_state: row.try_get(1)?, to_state: row.try_get(2)? }))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_before_the_round_trip() {
        assert_eq!(page_limit_param(0).unwrap(), 0);
        assert_eq!(page_limit_param(10_000).unwrap(), 10_000);
        let err = page_limit_param(10_001).unwrap_err();
        assert_eq!(err.sqlstate(), Some("22023"));
        assert!(page_limit_param(-1).is_err());
        assert!(page_limit_param(i64::MAX).is_err());
    }

    #[test]
    fn status_names_map_to_the_enum() {
        let row = PartitionStatusRow {
            partition_ref: "p".into(),
            status: "AVAILABLE".into(),
            build_request_id: None,
            job_run_id: None,
            last_idx: Some(1),
            updated_at: None,
        };
        assert_eq!(row.status(), Some(PartitionStatus::PartitionAvailable));
        assert_eq!(PartitionStatusRow { status: "WEIRD".into(), ..row }.status(), None);
    }
}
