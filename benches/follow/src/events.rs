//! The events the benchmark appends, to bel (`bel_append` of binary protobuf) or to the
//! baseline table (a plain INSERT + NOTIFY), and how their commit is timed.
use std::time::Instant;

use bel_core::pb::build_event::Payload;
use bel_core::pb::{BuildEvent, BuildRequestEvent, BuildRequestStatus};
use tokio_postgres::Client;

use crate::Failure;

/// The baseline's NOTIFY channel.
pub const PLAIN_CHANNEL: &str = "bench_follow";

/// Where appends go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// `bel.bel_append`.
    Bel,
    /// `bench.plain_events` (a table made `LIKE bel.events INCLUDING ALL`) with
    /// `pg_notify` in the same transaction: the usual hand-made log.
    Plain,
}

/// A build request (RECEIVED) with its own id, eventId and partitions: the cheapest valid
/// append, new every time.
pub fn received(id: &str, partitions: Vec<String>) -> BuildEvent {
    BuildEvent {
        event_id: id.to_string(),
        build_request_id: id.to_string(),
        payload: Some(Payload::BuildRequest(BuildRequestEvent {
            status: BuildRequestStatus::BuildRequestReceived as i32,
            requested_partitions: partitions,
            ..Default::default()
        })),
        ..Default::default()
    }
}

const PLAIN_INSERT: &str = "with ins as (
    insert into bench.plain_events (event_type, schema_version, event_id, build_request_id, partition_ref, payload)
    values ('build_request', 1, $1, $1, $2, jsonb_build_object('eventId', $1::text, 'buildRequestId', $1::text))
    returning idx)
  select idx, pg_notify($3, idx::text) from ins";

/// Appends the event with id `id` about `partition` in the current transaction (or on its
/// own) and returns its idx.
pub async fn append(
    client: &impl tokio_postgres::GenericClient,
    target: Target,
    id: &str,
    partition: &str,
) -> Result<i64, Failure> {
    match target {
        Target::Bel => Ok(bel_client::sql::append(client, &received(id, vec![partition.to_string()])).await?),
        Target::Plain => Ok(client.query_one(PLAIN_INSERT, &[&id, &partition, &PLAIN_CHANNEL]).await?.try_get(0)?),
    }
}

/// Appends in an explicit transaction and returns the idx and the instant the COMMIT
/// returned: from then on any reader can see the event, so a follower's latency counts
/// from there.
pub async fn append_timed(
    client: &mut Client,
    target: Target,
    id: &str,
    partition: &str,
) -> Result<(i64, Instant), Failure> {
    let transaction = client.transaction().await?;
    let idx = append(&transaction, target, id, partition).await?;
    transaction.commit().await?;
    Ok((idx, Instant::now()))
}

/// Appends `event` to bel in an explicit transaction; returns when the COMMIT returned.
pub async fn append_event_timed(client: &mut Client, event: &BuildEvent) -> Result<(i64, Instant), Failure> {
    let transaction = client.transaction().await?;
    let idx = bel_client::sql::append(&transaction, event).await?;
    transaction.commit().await?;
    Ok((idx, Instant::now()))
}

/// The last idx of a log (the tail a follower starts from).
pub async fn tail_idx(client: &Client, target: Target) -> Result<i64, Failure> {
    let sql = match target {
        Target::Bel => "select coalesce(max(idx), 0) from bel.events",
        Target::Plain => "select coalesce(max(idx), 0) from bench.plain_events",
    };
    Ok(client.query_one(sql, &[]).await?.try_get(0)?)
}

/// A connection for the benchmark's own use, driven by a spawned task.
pub async fn connect(dsn: &str) -> Result<Client, Failure> {
    let (client, connection) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await?;
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            eprintln!("[bench] connection failed: {error}");
        }
    });
    Ok(client)
}
