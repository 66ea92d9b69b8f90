//! Client for bel, the Build Event Log Postgres extension (`docs/sql-api.md` is the
//! contract it programs against).
//!
//! - [`GraphService`]: the seed's minimal cross-graph API, `list_events(since_idx,
//!   filter, limit)`, implemented by [`PgGraphService`] over tokio-postgres with binary
//!   protobuf on the wire.
//! - [`PgGraphService::subscribe`]: a [`Subscription`] stream that follows the log and
//!   yields every matching event exactly once, in idx order, woken by `NOTIFY bel_events`
//!   and polling as the fallback (see [`cursor`] for the rules that make it exact).
//! - [`PgGraphService::wait_for_partition`]: wait until a partition is AVAILABLE.
//! - [`sql`]: one function per SQL call, usable inside your own transactions.
//!
//! ```no_run
//! use bel_client::{GraphService, PgGraphService};
//! use bel_core::pb::EventFilter;
//! use futures_util::StreamExt;
//!
//! # async fn demo() -> Result<(), bel_client::Error> {
//! let bel = PgGraphService::connect("host=localhost dbname=builds user=graph").await?;
//! let page = bel.list_events(0, &EventFilter::default(), 100).await?;
//! let filter = EventFilter { partition_patterns: vec!["data/users/*".into()], ..Default::default() };
//! let mut events = bel.subscribe(filter, page.next_idx);
//! while let Some(event) = events.next().await {
//!     println!("{}", event?.idx);
//! }
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod connection;
pub mod cursor;
mod error;
mod follow;
mod partition;
mod service;
pub mod sql;

pub use error::{Error, Result, SqlError};
pub use follow::{SubscribeOptions, Subscription, NOTIFY_CHANNEL};
pub use service::{GraphService, PgGraphService};
pub use sql::PartitionStatusRow;

/// The generated protobuf types this API uses, re-exported for convenience.
pub use bel_core::pb::{BuildEvent, EventFilter, EventPage};
