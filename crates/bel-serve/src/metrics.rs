//! Prometheus metrics of the server (served at `/metrics` in the OpenMetrics text format),
//! and the middleware that counts requests by route and status.
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::state::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

/// The route label of requests no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Every metric the server exports. Names are part of the documented API (docs/http-api.md).
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    long_polls_waiting: Gauge,
    events_served: Counter,
    database_errors: Family<KindLabels, Counter>,
    last_idx_seen: Gauge,
    notifications: Counter,
    listen_connected: Gauge,
    page_queries: Counter,
    in_flight_waits: Counter,
    in_flight_waiters: Gauge,
}

fn latency_histogram() -> Histogram {
    // 0.25 ms .. ~8 s
    Histogram::new(exponential_buckets(0.00025, 2.0, 16))
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("bel_http_requests", "HTTP requests answered, by route and status code", requests.clone());
        let request_seconds = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        registry.register(
            "bel_http_request_duration_seconds",
            "Time from request to response head, by route (long polls include their wait)",
            request_seconds.clone(),
        );
        let long_polls_waiting = Gauge::default();
        registry.register(
            "bel_long_polls_waiting",
            "Long polls currently waiting for new events (they hold no database connection)",
            long_polls_waiting.clone(),
        );
        let events_served = Counter::default();
        registry.register("bel_events_served", "Events sent in /v1/events pages", events_served.clone());
        let database_errors = Family::<KindLabels, Counter>::default();
        // Every kind exported from the start (at 0), so a rate over it is defined.
        for kind in crate::db::DbError::KINDS {
            let _ = database_errors.get_or_create(&KindLabels { kind: kind.to_owned() });
        }
        registry.register(
            "bel_database_errors",
            "Failed database calls, by kind (unreachable, connection_lost, refused, unexpected)",
            database_errors.clone(),
        );
        let last_idx_seen = Gauge::default();
        registry.register(
            "bel_last_idx_seen",
            "Highest idx seen in a NOTIFY payload or in an event read",
            last_idx_seen.clone(),
        );
        let notifications = Counter::default();
        registry.register("bel_notifications_received", "NOTIFY bel_events wake-ups received", notifications.clone());
        let listen_connected = Gauge::default();
        registry.register(
            "bel_listen_connected",
            "1 while the LISTEN connection is up, 0 while it reconnects",
            listen_connected.clone(),
        );
        let page_queries = Counter::default();
        registry.register(
            "bel_event_page_queries",
            "bel.list_events_page calls made (identical concurrent requests share one)",
            page_queries.clone(),
        );
        let in_flight_waits = Counter::default();
        registry.register(
            "bel_in_flight_waits",
            "In-flight appends waited out with bel.wait_for_append (each wakes the long polls)",
            in_flight_waits.clone(),
        );
        let in_flight_waiters = Gauge::default();
        registry.register(
            "bel_in_flight_waiters",
            "Long polls whose page stopped below an append still in flight, waiting for it to end",
            in_flight_waiters.clone(),
        );
        Metrics {
            registry,
            requests,
            request_seconds,
            long_polls_waiting,
            events_served,
            database_errors,
            last_idx_seen,
            notifications,
            listen_connected,
            page_queries,
            in_flight_waits,
            in_flight_waiters,
        }
    }

    pub fn request(&self, route: &str, status: u16, seconds: f64) {
        self.requests.get_or_create(&RequestLabels { route: route.to_owned(), status: status.to_string() }).inc();
        self.request_seconds.get_or_create(&RouteLabels { route: route.to_owned() }).observe(seconds);
    }

    pub fn database_error(&self, kind: &str) {
        self.database_errors.get_or_create(&KindLabels { kind: kind.to_owned() }).inc();
    }

    /// Counts a long poll as waiting until the guard is dropped.
    pub fn long_poll_waiting(self: &Arc<Self>) -> WaitingGuard {
        self.long_polls_waiting.inc();
        WaitingGuard(self.clone())
    }

    pub fn events_served(&self, count: usize) {
        self.events_served.inc_by(count as u64);
    }

    /// Raises `bel_last_idx_seen` to `idx` if it is higher.
    pub fn idx_seen(&self, idx: i64) {
        self.last_idx_seen.inner().fetch_max(idx, Ordering::Relaxed);
    }

    pub fn notification(&self) {
        self.notifications.inc();
    }

    pub fn listen_connected(&self, connected: bool) {
        self.listen_connected.set(i64::from(connected));
    }

    pub fn page_query(&self) {
        self.page_queries.inc();
    }

    pub fn in_flight_wait(&self) {
        self.in_flight_waits.inc();
    }

    /// A long poll started (+1) or stopped (-1) waiting behind an in-flight append.
    pub fn in_flight_waiters(&self, change: i64) {
        self.in_flight_waiters.inc_by(change);
    }

    /// The OpenMetrics text of every metric.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

/// Keeps `bel_long_polls_waiting` raised while it lives.
pub struct WaitingGuard(Arc<Metrics>);

impl Drop for WaitingGuard {
    fn drop(&mut self) {
        self.0.long_polls_waiting.dec();
    }
}

/// Middleware (a route layer, so the matched route template is known): counts the request
/// under its route template, e.g. `/v1/builds/{id}`, never the raw path.
pub async fn track(State(state): State<AppState>, path: MatchedPath, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let response = next.run(request).await;
    state.metrics().request(path.as_str(), response.status().as_u16(), started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_metric_is_exported() {
        let metrics = Arc::new(Metrics::new());
        metrics.request("/v1/events", 200, 0.001);
        metrics.database_error("unreachable");
        assert!(metrics.encode().contains("bel_database_errors_total{kind=\"refused\"} 0"));
        metrics.events_served(3);
        metrics.idx_seen(42);
        metrics.idx_seen(7);
        metrics.listen_connected(true);
        metrics.page_query();
        metrics.in_flight_wait();
        metrics.in_flight_waiters(1);
        metrics.notification();
        let waiting = metrics.long_poll_waiting();
        let text = metrics.encode();
        drop(waiting);
        for line in [
            "bel_http_requests_total{route=\"/v1/events\",status=\"200\"} 1",
            "bel_http_request_duration_seconds_count{route=\"/v1/events\"} 1",
            "bel_long_polls_waiting 1",
            "bel_events_served_total 3",
            "bel_database_errors_total{kind=\"unreachable\"} 1",
            "bel_last_idx_seen 42",
            "bel_notifications_received_total 1",
            "bel_listen_connected 1",
            "bel_event_page_queries_total 1",
            "bel_in_flight_waits_total 1",
            "bel_in_flight_waiters 1",
        ] {
            assert!(text.contains(line), "{line} missing from\n{text}");
        }
        assert!(metrics.encode().contains("bel_long_polls_waiting 0"));
    }
}
