//! `GraphService` (the seed's cross-graph API) and its Postgres implementation.
use std::future::Future;
use std::time::Duration;

use bel_core::pb::{BuildEvent, EventFilter, EventPage};
use tokio_postgres::Client;

use crate::connection::open_connection;
use crate::dsn::DatabaseConfig;
use crate::error::{Error, Result};
use crate::follow::SqlFollower;
use crate::partition::{self, partition_filter};
use crate::sql::{self, PartitionStatusRow};
use crate::subscription::{SubscribeOptions, Subscription};

/// The API graphs coordinate through: read the log since a cursor, follow it, wait for a
/// partition. [`PgGraphService`] (SQL) and [`crate::HttpGraphService`] (`bel serve`)
/// implement it alike, so code written against this trait switches transport by changing
/// the line that builds the service.
///
/// `list_events` returns events with `idx > since_idx` matching `filter`, in idx order, at
/// most `limit`, and an `EventPage::next_idx` that never passes an append still in flight,
/// so a caller that always passes the last `next_idx` back never misses an event.
pub trait GraphService {
    /// One page of the log after `since_idx` (the seed's minimal API).
    fn list_events(
        &self,
        since_idx: i64,
        filter: &EventFilter,
        limit: i64,
    ) -> impl Future<Output = Result<EventPage, Error>> + Send;

    /// Follows the log: a stream of every event with `idx > since_idx` matching `filter`,
    /// each exactly once and in idx order, forever, reconnecting after lost connections.
    /// It connects on first poll (inside a Tokio runtime), with its own connection.
    fn subscribe_with(&self, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Subscription;

    /// [`GraphService::subscribe_with`] with the default [`SubscribeOptions`].
    fn subscribe(&self, filter: EventFilter, since_idx: i64) -> Subscription {
        self.subscribe_with(filter, since_idx, SubscribeOptions::default())
    }

    /// Waits until `partition_ref` is AVAILABLE and returns its status. It reads the
    /// partition's history (an index lookup) and decides only once caught up, so an old
    /// AVAILABLE that was invalidated since is never taken for the current state.
    ///
    /// Errors with [`Error::PartitionFailed`] when the partition is FAILED (a partition
    /// not known yet, REQUESTED, ANALYZED, BUILDING or INVALIDATED is waited on), and
    /// with [`Error::Timeout`] after `timeout` (`Duration::MAX` waits indefinitely).
    fn wait_for_partition(
        &self,
        partition_ref: &str,
        timeout: Duration,
    ) -> impl Future<Output = Result<PartitionStatusRow>> + Send;
}

/// A [`GraphService`] over one tokio-postgres connection to a database with
/// `CREATE EXTENSION bel`, plus the rest of the SQL API.
///
/// TLS as the connection string's `sslmode` says (see [`crate::SslMode`]). Calls are
/// pipelined on the one connection; wrap the service in an `Arc` to share it between
/// tasks. Followers ([`GraphService::subscribe`]) and partition waits open a dedicated
/// connection each, with the same configuration.
pub struct PgGraphService {
    client: Client,
    config: DatabaseConfig,
}

impl PgGraphService {
    /// Connects with a libpq-style connection string: `host=... user=... dbname=...` or a
    /// `postgresql://user@host/db` URL, with `sslmode` and `sslrootcert` as in libpq. Must
    /// be called inside a Tokio runtime (the connection is driven by a spawned task).
    pub async fn connect(dsn: &str) -> Result<Self> {
        Self::connect_with_config(DatabaseConfig::parse(dsn)?).await
    }

    /// Connects with an already built configuration (a [`DatabaseConfig`], or a
    /// tokio-postgres `Config`).
    pub async fn connect_with_config(config: impl Into<DatabaseConfig>) -> Result<Self> {
        let config = config.into();
        let connection = open_connection(&config).await?;
        Ok(PgGraphService { client: connection.client, config })
    }

    /// The underlying client, for SQL this type does not wrap (or for
    /// `client().transaction()` together with the functions in [`crate::sql`]).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The connection configuration, as used for followers' dedicated connections.
    pub fn config(&self) -> &DatabaseConfig {
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

    /// The transitions of the state diagrams `bel_append` enforces. See [`sql::transitions`].
    pub async fn transitions(&self) -> Result<Vec<sql::Transition>> {
        sql::transitions(&self.client).await
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

    /// The stream opens a dedicated connection that `LISTEN`s on `bel_events` on first
    /// poll; NOTIFY wakes it, polling every `poll_interval` is the fallback.
    fn subscribe_with(&self, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Subscription {
        Subscription::new(self.config.clone(), filter, since_idx, options)
    }

    async fn wait_for_partition(&self, partition_ref: &str, timeout: Duration) -> Result<PartitionStatusRow> {
        let follower =
            SqlFollower::new(self.config.clone(), partition_filter(partition_ref), 0, SubscribeOptions::default());
        partition::wait_for_partition(follower, partition_ref, timeout).await
    }
}
