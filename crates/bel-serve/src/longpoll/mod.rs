//! Long polls without a database connection per waiter.
//!
//! A waiting request holds only a `watch` receiver of the [`Hub`]'s wake-up generation.
//! Two background tasks bump it: the [`listener`] on every `NOTIFY bel_events` (and after
//! each reconnect, for what it missed), and the [`in_flight`] waiter when an append that
//! stopped some waiter's page ends (only one appending transaction at a time sends the
//! NOTIFY, so the others' commits are found this way). On a bump every waiter queries
//! again; identical queries share one database call ([`crate::coalesce`]).
pub mod in_flight;
pub mod listener;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bel_core::pb::EventFilter;
use prost::Message;
use tokio::sync::watch;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::coalesce::Coalescer;
use crate::db::{Db, DbError};
use crate::metrics::Metrics;
use crate::page::FetchedPage;
use crate::queries;
use in_flight::{InFlight, InFlightGuard};

/// Identical page queries: (since_idx, encoded filter, limit).
pub type PageKey = (i64, Vec<u8>, i32);
/// Shares identical concurrent page queries.
pub type PageCoalescer = Coalescer<PageKey, Arc<FetchedPage>, DbError>;

/// Where waiting requests learn that the log may have changed.
pub struct Hub {
    generation: watch::Sender<u64>,
    in_flight: Arc<InFlight>,
    listening: AtomicBool,
    shutdown: CancellationToken,
}

impl Hub {
    pub fn new(metrics: Arc<Metrics>, shutdown: CancellationToken) -> Self {
        Hub {
            generation: watch::Sender::new(0),
            in_flight: Arc::new(InFlight::new(metrics)),
            listening: AtomicBool::new(false),
            shutdown,
        }
    }

    /// Wakes every waiting request: new events may be readable.
    pub fn wake(&self) {
        self.generation.send_modify(|generation| *generation = generation.wrapping_add(1));
    }

    /// A receiver that sees every wake-up after this call.
    pub fn wakeups(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    /// Asks for a wake-up when the append holding in-flight `idx` ends, while the guard lives.
    pub fn watch_in_flight(&self, idx: i64) -> Option<InFlightGuard> {
        InFlight::watch(&self.in_flight, idx)
    }

    /// Whether the LISTEN connection is up (wake-ups on commit work).
    pub fn is_listening(&self) -> bool {
        self.listening.load(Ordering::Relaxed)
    }

    fn set_listening(&self, listening: bool) {
        self.listening.store(listening, Ordering::Relaxed);
    }

    pub fn in_flight(&self) -> &Arc<InFlight> {
        &self.in_flight
    }

    /// Cancelled when the server shuts down: waiting requests answer at once.
    pub fn shutdown(&self) -> &CancellationToken {
        &self.shutdown
    }
}

/// One `/v1/events` read.
#[derive(Debug, Clone)]
pub struct PageRequest {
    pub since_idx: i64,
    pub filter: EventFilter,
    pub limit: i32,
    /// How long to hold the request while the page would be empty (zero: answer at once).
    pub wait: Duration,
}

/// What a long poll needs from the server.
pub struct PageSource<'a> {
    pub db: &'a Db,
    pub hub: &'a Hub,
    pub pages: &'a Arc<PageCoalescer>,
    pub metrics: &'a Arc<Metrics>,
}

impl PageSource<'_> {
    /// The page for `request`: at once when it has events (or `wait` is zero); otherwise
    /// after the first wake-up that makes matching events readable, or an empty page with
    /// the last nextIdx when `wait` has passed (or the server is shutting down).
    pub async fn read(&self, request: &PageRequest) -> Result<Arc<FetchedPage>, DbError> {
        let deadline = Instant::now() + request.wait;
        let filter = request.filter.encode_to_vec();
        let mut since_idx = request.since_idx;
        loop {
            // Subscribed before the query: a wake-up during the query is not lost.
            let mut wakeups = self.hub.wakeups();
            let page = self.fetch(since_idx, &filter, request.limit).await?;
            if !page.is_empty() || request.wait.is_zero() || Instant::now() >= deadline {
                return Ok(page);
            }
            let in_flight = page.page().in_flight_idx;
            let _in_flight_watch = (in_flight != 0).then(|| self.hub.watch_in_flight(in_flight)).flatten();
            let _waiting = self.metrics.long_poll_waiting();
            tokio::select! {
                changed = wakeups.changed() => {
                    if changed.is_err() {
                        return Ok(page);
                    }
                }
                () = tokio::time::sleep_until(deadline) => return Ok(page),
                () = self.hub.shutdown().cancelled() => return Ok(page),
            }
            // Nothing matched up to nextIdx, so reading on from there gives the same page
            // a read from the request's since_idx would, for less work.
            since_idx = since_idx.max(page.page().next_idx);
        }
    }

    async fn fetch(&self, since_idx: i64, filter: &[u8], limit: i32) -> Result<Arc<FetchedPage>, DbError> {
        let db = self.db.clone();
        let metrics = self.metrics.clone();
        let key = (since_idx, filter.to_vec(), limit);
        let filter = filter.to_vec();
        let page = self
            .pages
            .get(key, move || async move {
                metrics.page_query();
                let page = queries::event_page(&db, since_idx, &filter, limit).await?;
                if let Some(last) = page.page().events.last() {
                    metrics.idx_seen(last.idx);
                }
                Ok(Arc::new(page))
            })
            .await?;
        Ok(page)
    }
}
