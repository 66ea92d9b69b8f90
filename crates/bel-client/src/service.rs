//! `GraphService` (the seed's cross-graph API) and its Postgres implementation.
use std::future::Future;
use std::time::Duration;

use bel_core::pb::{BuildEvent, EventFilter, EventPage};
use tokio_postgres::{Client, Config};

use crate::connection::open_connection;
use crate::error::{Error, Result};
use crate::follow::{SubscribeOptions, Subscription};
use crate::sql::{self, PartitionStatusRow};

/// The minimal API graphs coordinate through (from the seed): read the log since a cursor.
///
/// Implementations return events with `idx > since_idx` matching `filter`, in idx order,
/// at most `limit`, and an `EventPage::next_idx` that never passes an append still in
/// flight, so a caller that always passes the last `next_idx` back never misses an event.
pub trait GraphService {
    /// One page of the log after `since_idx`.
    fn list_events(
        &self,
        since_idx: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> impl Future<Output = Result<EventPage, Error>> + Send;
}

/// A [`GraphService`] over one tokio-postgres connection to a database with
/// `CREATE EXTENSION bel`, plus the rest of the SQL API and the log follower.
///
/// Connections are made without TLS. Calls are pipelined on the one connection; wrap the
/// service in an `Arc` to share it between tasks. Followers ([`PgGraphService::subscribe`])
/// open a dedicated connection each, with the same configuration.
pub struct PgGraphService {
    client: Client,
    config: Config,
}

impl PgGraphService {
    /// Connects with a libpq-style connection string: `host=... user=... dbname=...` or a
    /// `postgresql://user@host/db` URL. Must be called inside a Tokio runtime (the
    /// connection is driven by a spawned task).
    pub async fn connect(dsn: &str) -> Result<Self> {
        let config: Config = dsn.parse().map_err(Error::Connection)?;
        Self::connect_with_config(config).await
    }

    /// Connects with an already built configuration.
    pub async fn connect_with_config(config: Config) -> Result<Self> {
        let connection = open_connection(&config).await?;
        Ok(PgGraphService { client: connection.client, config })
    }

    /// The underlying client, for SQL this type does not wrap (or for
    /// `client().transaction()` together with the functions in [`crate::sql`]).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connection configuration, as used for followers' dedicated connections.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Appends one event (binary protobuf) and returns its idx. See [`sql::append`].
    pub async fn append(&self, event: &BuildEvent) -> Result<i64> {
        sql::append(&self.client, event).await
    }

    /// Appends events all or nothing and returns their idx values in order. See
    /// [`sql::append_batch`].
    pub async fn append_batch(&self, events: &[BuildEvent]) -> Result<Vec<i64>> {
        sql::append_batch(&self.client, events).await
    }

    /// Blocks until the append holding in-flight idx `idx` ends (true) or `timeout`
    /// passes (false). See [`sql::wait_for_append`].
    pub async fn wait_for_append(&self, idx: i64, timeout: Duration) -> Result<bool> {
        sql::wait_for_append(&self.client, idx, timeout).await
    }

    /// Current status of the partitions matching any of `patterns` (globs), or of all
    /// partitions when `patterns` is empty; ordered by partition ref.
    pub async fn partition_status(&self, patterns: &[String]) -> Result<Vec<PartitionStatusRow>> {
        sql::partition_status(&self.client, patterns).await
    }

    /// `bel.build_summary` of one build request, as JSON.
    pub async fn build_summary(&self, build_request_id: &str) -> Result<serde_json::Value> {
        sql::build_summary(&self.client, build_request_id).await
    }

    /// Follows the log from `since_idx` with the default [`SubscribeOptions`]; see
    /// [`PgGraphService::subscribe_with`].
    pub fn subscribe(&self, filter: EventFilter, since_idx: i64) -> Subscription {
        self.subscribe_with(filter, since_idx, SubscribeOptions::default())
    }

    /// Follows the log: a stream of every event with `idx > since_idx` matching `filter`,
    /// each exactly once and in idx order, forever. It opens a dedicated connection that
    /// `LISTEN`s on `bel_events` on first poll. The stream ends after yielding its first
    /// error; resume with a new subscription from [`Subscription::resume_idx`].
    pub fn subscribe_with(&self, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Subscription {
        Subscription::new(self.config.clone(), filter, since_idx, options)
    }
}

impl GraphService for PgGraphService {
    fn list_events(
        &self,
        since_idx: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> impl Future<Output = Result<EventPage, Error>> + Send {
        sql::list_events_page(&self.client, since_idx, filter, limit)
    }
}
