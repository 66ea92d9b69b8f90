//! Client for bel, the Build Event Log (`docs/sql-api.md` and `docs/http-api.md` are the
//! contracts it programs against).
//!
//! - [`GraphService`]: the cross-graph API: `list_events(since_idx, filter, limit)` (the
//!   seed's), [`GraphService::subscribe`] (a [`Subscription`] stream that yields every
//!   matching event exactly once, in idx order, reconnecting by itself) and
//!   [`GraphService::wait_for_partition`]. Two implementations:
//!   - [`PgGraphService`] over tokio-postgres (binary protobuf on the wire; followers woken
//!     by `NOTIFY bel_events`, polling as the fallback; TLS per `sslmode`);
//!   - [`HttpGraphService`] over `bel serve` (long poll; http or https).
//!
//!   [`PgGraphService::subscribe_replica`] follows the log on a hot standby: pages from the
//!   standby, only the horizon from the primary.
//! - [`cursor`]: the pure rules that make following exact, shared by both.
//! - [`sql`]: one function per SQL call, usable inside your own transactions.
//!
//! Code written against the trait switches transport by changing the line that builds the
//! service:
//!
//! ```no_run
//! use bel_client::{GraphService, HttpGraphService, PgGraphService};
//! use bel_core::pb::EventFilter;
//! use futures_util::StreamExt;
//!
//! async fn follow_users(bel: &impl GraphService) -> Result<(), bel_client::Error> {
//!     let page = bel.list_events(0, &EventFilter::default(), 100).await?;
//!     let filter = EventFilter { partition_patterns: vec!["data/users/*".into()], ..Default::default() };
//!     let mut events = bel.subscribe(filter, page.next_idx);
//!     while let Some(event) = events.next().await {
//!         println!("{}", event?.idx);
//!     }
//!     Ok(())
//! }
//!
//! # async fn demo() -> Result<(), bel_client::Error> {
//! let bel = PgGraphService::connect("host=localhost dbname=builds user=graph sslmode=require").await?;
//! // or: let bel = HttpGraphService::new("http://127.0.0.1:8080")?;
//! follow_users(&bel).await
//! # }
//! ```

#![warn(missing_docs)]

mod connection;
pub mod cursor;
mod dsn;
mod error;
mod follow;
mod http;
mod partition;
mod replica;
mod service;
pub mod sql;
mod subscription;
mod tls;

pub use dsn::{DatabaseConfig, SslMode};
pub use error::{Error, HttpError, Result, SqlError};
pub use follow::NOTIFY_CHANNEL;
pub use http::{HttpGraphService, PROTOBUF_MEDIA_TYPE};
pub use service::{GraphService, PgGraphService};
pub use sql::{PartitionStatusRow, Transition};
pub use subscription::{Reconnect, SubscribeOptions, Subscription, MAX_LONG_POLL_WAIT};
pub use tls::{SqlTlsConnect, SqlTlsConnector, SqlTlsHandshake};

/// The generated protobuf types this API uses, re-exported for convenience.
pub use bel_core::pb::{BuildEvent, EventFilter, EventPage};
/// The HTTP client [`HttpGraphService::with_http_client`] takes, re-exported so callers
/// build it with the same version.
pub use reqwest;
