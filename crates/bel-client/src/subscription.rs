//! [`Subscription`]: the events a follower reads, each exactly once and in idx order, over
//! SQL or HTTP alike. A lost connection is retried after an exponential backoff with
//! jitter, from the cursor, so it costs time and never an event.
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};
use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};
use bel_core::pb::BuildEvent;
use bel_core::{ErrorClass, Rejection};
use futures_util::stream::{BoxStream, Stream, StreamExt};

use crate::error::{Error, Result};
use crate::sql::MAX_PAGE_LIMIT;

/// Longest long poll `bel serve` holds (its `wait_ms` bound).
pub const MAX_LONG_POLL_WAIT: Duration = Duration::from_secs(30);

/// How a follower pages, waits and reconnects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Events per page (1..=10000). Default 1000.
    pub page_limit: i64,
    /// SQL: longest wait between two polls when caught up and no NOTIFY arrives: bounds the
    /// latency when a wake-up was skipped or lost. Default 1 s.
    pub poll_interval: Duration,
    /// SQL: longest single `bel.wait_for_append` call when a page stopped at an append
    /// still in flight; after it the follower polls and, if still blocked, waits again.
    /// Default 5 s.
    pub append_wait_timeout: Duration,
    /// HTTP: how long the server may hold a request while there is nothing new (`wait_ms`,
    /// 1 ms..=30 s). Default 25 s.
    pub long_poll_wait: Duration,
    /// SQL on a standby ([`crate::PgGraphService::subscribe_replica`]): longest wait of one
    /// page read for the standby to replay up to the primary's horizon; after it the
    /// follower asks again. Default 5 s.
    pub replay_wait: Duration,
    /// When and how often to reconnect after a lost connection.
    pub reconnect: Reconnect,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            page_limit: 1000,
            poll_interval: Duration::from_secs(1),
            append_wait_timeout: Duration::from_secs(5),
            long_poll_wait: Duration::from_secs(25),
            replay_wait: Duration::from_secs(5),
            reconnect: Reconnect::default(),
        }
    }
}

impl SubscribeOptions {
    /// Checks the options; the follower refuses invalid ones with its first item.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| Err(Error::Rejected(Rejection::new(ErrorClass::InvalidValue, message)));
        if !(1..=MAX_PAGE_LIMIT).contains(&self.page_limit) {
            return invalid(format!("page_limit {} is out of range 1..={MAX_PAGE_LIMIT}", self.page_limit));
        }
        // Zero would turn waiting into a tight loop of queries.
        if self.poll_interval.as_millis() == 0 {
            return invalid("poll_interval must be at least 1 ms".into());
        }
        if self.append_wait_timeout.as_millis() == 0 {
            return invalid("append_wait_timeout must be at least 1 ms".into());
        }
        if self.replay_wait.as_millis() == 0 {
            return invalid("replay_wait must be at least 1 ms".into());
        }
        if self.long_poll_wait.as_millis() == 0 || self.long_poll_wait > MAX_LONG_POLL_WAIT {
            return invalid(format!("long_poll_wait must be 1 ms..={} s", MAX_LONG_POLL_WAIT.as_secs()));
        }
        if self.reconnect.first_delay.is_zero() || self.reconnect.max_delay < self.reconnect.first_delay {
            return invalid("reconnect delays must satisfy 0 < first_delay <= max_delay".into());
        }
        Ok(())
    }
}

/// Reconnecting after a lost connection ([`Error::is_connection_lost`]): delays double
/// from `first_delay` up to `max_delay`, each stretched by a random part of itself so the
/// followers of one restarted server do not come back in step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reconnect {
    /// The first delay. Default 250 ms.
    pub first_delay: Duration,
    /// The longest delay. Default 30 s.
    pub max_delay: Duration,
    /// Attempts in a row before the error is yielded; `None` (the default) retries
    /// forever, `Some(0)` never.
    pub max_attempts: Option<usize>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect { first_delay: Duration::from_millis(250), max_delay: Duration::from_secs(30), max_attempts: None }
    }
}

impl Reconnect {
    fn delays(&self) -> ExponentialBackoff {
        let builder =
            ExponentialBuilder::default().with_min_delay(self.first_delay).with_max_delay(self.max_delay).with_jitter();
        match self.max_attempts {
            Some(attempts) => builder.with_max_times(attempts),
            None => builder.without_max_times(),
        }
        .build()
    }
}

/// Called before each reconnection wait with the error, the delay, and the idx the
/// follower resumes after.
type ReconnectObserver = Box<dyn Fn(&Error, Duration, i64) + Send + Sync>;

/// One fetched page, from the follower's point of view.
pub(crate) struct FollowedPage {
    /// The page's events, above everything delivered before.
    pub(crate) events: Vec<BuildEvent>,
    /// True when the follower reached the readable end of the log with this page: every
    /// matching event committed before the fetch is at or below the cursor.
    pub(crate) caught_up: bool,
}

/// A follower over some transport: pages through the log with a
/// [`crate::cursor::FollowCursor`], waiting between pages as it decides.
pub(crate) trait PageSource: Send + 'static {
    /// Performs the wait the previous page asked for, then fetches the next page. After
    /// an error the cursor is unchanged and a later call retries (reconnecting).
    fn next_page(&mut self) -> impl Future<Output = Result<FollowedPage>> + Send;

    /// Every matching event at or below this idx has been returned in a page.
    fn since_idx(&self) -> i64;
}

/// Fetches the next page, retrying lost connections as `reconnect` says.
pub(crate) async fn next_page_reconnecting<S: PageSource>(
    source: &mut S,
    reconnect: &Reconnect,
    observer: Option<&ReconnectObserver>,
) -> Result<FollowedPage> {
    let mut delays = None;
    loop {
        match source.next_page().await {
            Err(error) if error.is_connection_lost() => {
                let Some(delay) = delays.get_or_insert_with(|| reconnect.delays()).next() else {
                    return Err(error);
                };
                if let Some(observer) = observer {
                    observer(&error, delay, source.since_idx());
                }
                tokio::time::sleep(delay).await;
            }
            result => return result,
        }
    }
}

/// A stream of the log's events, each exactly once and in idx order (from
/// [`crate::GraphService::subscribe`]). It never ends on its own: a lost connection is
/// retried (see [`Reconnect`]); any other error, or running out of attempts, is yielded
/// and ends it. Dropping it closes its connection.
pub struct Subscription {
    events: BoxStream<'static, Result<BuildEvent>>,
    resume_idx: Arc<AtomicI64>,
    observer: Arc<OnceLock<ReconnectObserver>>,
}

impl Subscription {
    pub(crate) fn from_source<S: PageSource>(source: S, since_idx: i64, options: SubscribeOptions) -> Self {
        let resume_idx = Arc::new(AtomicI64::new(since_idx));
        let observer = Arc::new(OnceLock::new());
        let delivery = Delivery {
            source,
            pending: VecDeque::new(),
            resume_idx: Arc::clone(&resume_idx),
            reconnect: options.reconnect,
            observer: Arc::clone(&observer),
        };
        let events = futures_util::stream::unfold(Some(delivery), |state| async move {
            let mut delivery = state?;
            match delivery.next_event().await {
                Ok(event) => Some((Ok(event), Some(delivery))),
                // Yield the error, then end: the caller may resume from resume_idx.
                Err(error) => Some((Err(error), None)),
            }
        })
        .boxed();
        Subscription { events, resume_idx, observer }
    }

    /// The `since_idx` a new subscription should start from to continue exactly where
    /// this one stopped: every matching event at or below it has been yielded, none above.
    pub fn resume_idx(&self) -> i64 {
        self.resume_idx.load(Ordering::Acquire)
    }

    /// Calls `observer` before each reconnection wait with the error, the delay and the
    /// idx the follower resumes after (e.g. to log it). Only the first observer set counts.
    pub fn on_reconnect(self, observer: impl Fn(&Error, Duration, i64) + Send + Sync + 'static) -> Self {
        // Already set: the first one stays, as documented.
        let _ = self.observer.set(Box::new(observer));
        self
    }
}

impl Stream for Subscription {
    type Item = Result<BuildEvent>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_next_unpin(cx)
    }
}

/// Hands a follower's pages out one event at a time, keeping `resume_idx` in step with
/// what was actually yielded (a page may be only partly consumed when the stream drops).
struct Delivery<S> {
    source: S,
    pending: VecDeque<BuildEvent>,
    resume_idx: Arc<AtomicI64>,
    reconnect: Reconnect,
    observer: Arc<OnceLock<ReconnectObserver>>,
}

impl<S: PageSource> Delivery<S> {
    async fn next_event(&mut self) -> Result<BuildEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                // Once the page's last event is out, everything up to the page's cursor
                // (which may lie past it, over non-matching events) has been delivered.
                let resume = if self.pending.is_empty() { self.source.since_idx() } else { event.idx };
                self.resume_idx.store(resume, Ordering::Release);
                return Ok(event);
            }
            let page = next_page_reconnecting(&mut self.source, &self.reconnect, self.observer.get()).await?;
            if page.events.is_empty() {
                self.resume_idx.store(self.source.since_idx(), Ordering::Release);
            }
            self.pending.extend(page.events);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[test]
    fn options_are_checked() {
        assert!(SubscribeOptions::default().validate().is_ok());
        for bad in [
            SubscribeOptions { page_limit: 0, ..Default::default() },
            SubscribeOptions { page_limit: MAX_PAGE_LIMIT + 1, ..Default::default() },
            SubscribeOptions { poll_interval: Duration::from_micros(10), ..Default::default() },
            SubscribeOptions { append_wait_timeout: Duration::ZERO, ..Default::default() },
            SubscribeOptions { long_poll_wait: Duration::ZERO, ..Default::default() },
            SubscribeOptions { replay_wait: Duration::from_micros(999), ..Default::default() },
            SubscribeOptions { long_poll_wait: Duration::from_secs(31), ..Default::default() },
            SubscribeOptions {
                reconnect: Reconnect { first_delay: Duration::ZERO, ..Default::default() },
                ..Default::default()
            },
            SubscribeOptions {
                reconnect: Reconnect { max_delay: Duration::from_millis(1), ..Default::default() },
                ..Default::default()
            },
        ] {
            assert_eq!(bad.validate().unwrap_err().sqlstate(), Some("22023"), "{bad:?}");
        }
    }

    #[test]
    fn reconnect_delays_grow_with_jitter_up_to_the_limit() {
        let reconnect = Reconnect {
            first_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(800),
            max_attempts: Some(6),
        };
        let delays: Vec<Duration> = reconnect.delays().collect();
        assert_eq!(delays.len(), 6);
        // Each delay is its exponential step plus a jitter of less than the step itself.
        for (delay, step) in delays.iter().zip([100u64, 200, 400, 800, 800, 800]) {
            let step = Duration::from_millis(step);
            assert!(*delay >= step && *delay < step * 2, "{delay:?} for step {step:?}");
        }
        assert_eq!(Reconnect { max_attempts: Some(0), ..reconnect }.delays().count(), 0);
    }

    /// A page source that plays a script: pages, and errors that count as lost connections
    /// (HTTP 503) or not (HTTP 400).
    struct Scripted {
        steps: VecDeque<Result<(Vec<i64>, i64)>>,
        since_idx: i64,
    }

    fn unavailable(status: u16) -> Error {
        Error::Http(Box::new(crate::error::HttpError {
            status,
            code: "database_unavailable".into(),
            message: "down".into(),
            hint: None,
        }))
    }

    impl PageSource for Scripted {
        async fn next_page(&mut self) -> Result<FollowedPage> {
            match self.steps.pop_front() {
                Some(Ok((idxs, next_idx))) => {
                    self.since_idx = next_idx;
                    let events = idxs.into_iter().map(|idx| BuildEvent { idx, ..Default::default() }).collect();
                    Ok(FollowedPage { events, caught_up: true })
                }
                Some(Err(error)) => Err(error),
                None => std::future::pending().await,
            }
        }

        fn since_idx(&self) -> i64 {
            self.since_idx
        }
    }

    fn fast_reconnect(max_attempts: Option<usize>) -> SubscribeOptions {
        SubscribeOptions {
            reconnect: Reconnect {
                first_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(2),
                max_attempts,
            },
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn lost_connections_are_retried_and_nothing_is_repeated_or_skipped() {
        let steps = VecDeque::from([
            Ok((vec![1, 2], 2)),
            Err(unavailable(503)),
            Err(unavailable(503)),
            Ok((vec![3], 5)),
            Ok((vec![], 9)),
            Ok((vec![10], 10)),
        ]);
        let seen = Arc::new(Mutex::new(Vec::new()));
        let seen_by_observer = Arc::clone(&seen);
        let mut subscription = Subscription::from_source(Scripted { steps, since_idx: 0 }, 0, fast_reconnect(None))
            .on_reconnect(move |error, _delay, resume| {
                seen_by_observer.lock().unwrap().push((error.sqlstate().map(str::to_string), resume));
            });
        let mut idxs = Vec::new();
        for _ in 0..4 {
            idxs.push(subscription.next().await.unwrap().unwrap().idx);
        }
        assert_eq!(idxs, [1, 2, 3, 10]);
        assert_eq!(subscription.resume_idx(), 10);
        // Two reconnections, both resuming after idx 2.
        assert_eq!(*seen.lock().unwrap(), [(None, 2), (None, 2)]);
    }

    #[tokio::test]
    async fn other_errors_and_exhausted_attempts_end_the_stream() {
        let steps = VecDeque::from([Ok((vec![1], 1)), Err(unavailable(400))]);
        let mut subscription = Subscription::from_source(Scripted { steps, since_idx: 0 }, 0, fast_reconnect(None));
        assert_eq!(subscription.next().await.unwrap().unwrap().idx, 1);
        assert!(matches!(subscription.next().await, Some(Err(Error::Http(e))) if e.status == 400));
        assert!(subscription.next().await.is_none());
        assert_eq!(subscription.resume_idx(), 1);

        let steps = VecDeque::from([Err(unavailable(503)), Err(unavailable(503)), Ok((vec![1], 1))]);
        let mut subscription = Subscription::from_source(Scripted { steps, since_idx: 0 }, 0, fast_reconnect(Some(1)));
        assert!(matches!(subscription.next().await, Some(Err(Error::Http(e))) if e.status == 503));
        assert!(subscription.next().await.is_none());
        assert_eq!(subscription.resume_idx(), 0);
    }
}
