//! The log follower: pages through the log with the no-loss cursor, woken by NOTIFY,
//! polling as the fallback. The decisions live in [`crate::cursor::FollowCursor`]; this
//! module only performs them.
use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bel_core::pb::{BuildEvent, EventFilter};
use bel_core::{ErrorClass, Rejection};
use futures_util::stream::{BoxStream, Stream, StreamExt};
use tokio_postgres::Config;

use crate::connection::{open_connection, DrivenConnection};
use crate::cursor::{FollowAction, FollowCursor};
use crate::error::{Error, Result};
use crate::sql::{self, MAX_PAGE_LIMIT};

/// The NOTIFY channel appends signal on.
pub const NOTIFY_CHANNEL: &str = "bel_events";

/// How a follower pages and waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeOptions {
    /// Events per page (1..=10000). Default 1000.
    pub page_limit: i64,
    /// Longest wait between two polls when caught up and no NOTIFY arrives: bounds the
    /// latency when a wake-up was skipped or lost. Default 1 s.
    pub poll_interval: Duration,
    /// Longest single `bel.wait_for_append` call when a page stopped at an append still
    /// in flight; after it the follower polls and, if still blocked, waits again.
    /// Default 5 s.
    pub append_wait_timeout: Duration,
}

impl Default for SubscribeOptions {
    fn default() -> Self {
        SubscribeOptions {
            page_limit: 1000,
            poll_interval: Duration::from_secs(1),
            append_wait_timeout: Duration::from_secs(5),
        }
    }
}

impl SubscribeOptions {
    /// Checks the options; the follower refuses invalid ones with its first item.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_PAGE_LIMIT).contains(&self.page_limit) {
            return Err(Error::Rejected(Rejection::new(
                ErrorClass::InvalidValue,
                format!("page_limit {} is out of range 1..={MAX_PAGE_LIMIT}", self.page_limit),
            )));
        }
        // Zero would turn waiting into a tight loop of queries.
        if self.poll_interval.as_millis() == 0 {
            return Err(Error::Rejected(Rejection::new(
                ErrorClass::InvalidValue,
                "poll_interval must be at least 1 ms",
            )));
        }
        if self.append_wait_timeout.as_millis() == 0 {
            return Err(Error::Rejected(Rejection::new(
                ErrorClass::InvalidValue,
                "append_wait_timeout must be at least 1 ms",
            )));
        }
        Ok(())
    }
}

/// A stream of the log's events, each exactly once and in idx order (from
/// [`crate::PgGraphService::subscribe`]). It never ends on its own: it ends after it
/// yields an error, or when dropped (which closes its connection).
pub struct Subscription {
    events: BoxStream<'static, Result<BuildEvent>>,
    resume_idx: Arc<AtomicI64>,
}

impl Subscription {
    /// A follower of the log on its own connection, made with `config` on first poll
    /// (inside a Tokio runtime). Same as [`crate::PgGraphService::subscribe_with`], for
    /// callers that have no service connection to spare.
    pub fn new(config: Config, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Self {
        let resume_idx = Arc::new(AtomicI64::new(since_idx));
        let follower = Follower::new(config, filter, since_idx, options);
        let state = Some(Delivery { follower, pending: VecDeque::new(), resume_idx: Arc::clone(&resume_idx) });
        let events = futures_util::stream::unfold(state, |state| async move {
            let mut delivery = state?;
            match delivery.next_event().await {
                Ok(event) => Some((Ok(event), Some(delivery))),
                // Yield the error, then end: the caller resumes from resume_idx.
                Err(error) => Some((Err(error), None)),
            }
        })
        .boxed();
        Subscription { events, resume_idx }
    }

    /// The `since_idx` a new subscription should start from to continue exactly where
    /// this one stopped: every matching event at or below it has been yielded, none above.
    pub fn resume_idx(&self) -> i64 {
        self.resume_idx.load(Ordering::Acquire)
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
struct Delivery {
    follower: Follower,
    pending: VecDeque<BuildEvent>,
    resume_idx: Arc<AtomicI64>,
}

impl Delivery {
    async fn next_event(&mut self) -> Result<BuildEvent> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                // Once the page's last event is out, everything up to the page's cursor
                // (which may lie past it, over non-matching events) has been delivered.
                let resume = if self.pending.is_empty() { self.follower.cursor.since_idx() } else { event.idx };
                self.resume_idx.store(resume, Ordering::Release);
                return Ok(event);
            }
            let events = self.follower.next_page().await?.events;
            if events.is_empty() {
                self.resume_idx.store(self.follower.cursor.since_idx(), Ordering::Release);
            }
            self.pending.extend(events);
        }
    }
}

/// One fetched page, from the follower's point of view.
pub(crate) struct FollowedPage {
    /// The page's events, above everything delivered before.
    pub(crate) events: Vec<BuildEvent>,
    /// True when the follower reached the readable end of the log with this page: every
    /// matching event committed before the fetch is at or below the cursor.
    pub(crate) caught_up: bool,
}

/// Pages through the log on its own connection, waiting between pages as the cursor
/// decides.
pub(crate) struct Follower {
    config: Config,
    filter: EventFilter,
    options: SubscribeOptions,
    pub(crate) cursor: FollowCursor,
    next_action: FollowAction,
    connection: Option<DrivenConnection>,
}

impl Follower {
    pub(crate) fn new(config: Config, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Self {
        let cursor = FollowCursor::new(since_idx, options.page_limit);
        Follower { config, filter, options, cursor, next_action: FollowAction::FetchPage, connection: None }
    }

    /// Performs the wait the previous page asked for, then fetches the next page. After
    /// an error the cursor is unchanged and a later call retries (reconnecting when the
    /// connection was lost).
    pub(crate) async fn next_page(&mut self) -> Result<FollowedPage> {
        self.options.validate()?;
        // Taken out while in use: if this future is dropped mid-query, the next call
        // starts on a fresh connection instead of one with a half-finished exchange.
        let mut connection = match self.connection.take() {
            Some(connection) => connection,
            None => {
                let connection = open_connection(&self.config).await?;
                // LISTEN before the first fetch, so any commit after that fetch produces a
                // wake-up this connection receives.
                connection.client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await?;
                connection
            }
        };
        let result =
            Self::wait_and_fetch(&mut connection, &mut self.cursor, self.next_action, &self.filter, &self.options)
                .await;
        match result {
            Ok((page, action)) => {
                self.next_action = action;
                self.connection = Some(connection);
                Ok(page)
            }
            Err(error) => {
                let error = connection.explain(error);
                if error.is_connection_lost() {
                    // Wake-ups sent while disconnected are gone: the next connection
                    // fetches right after its LISTEN instead of waiting first.
                    self.next_action = FollowAction::FetchPage;
                } else {
                    self.connection = Some(connection);
                }
                Err(error)
            }
        }
    }

    async fn wait_and_fetch(
        connection: &mut DrivenConnection,
        cursor: &mut FollowCursor,
        action: FollowAction,
        filter: &EventFilter,
        options: &SubscribeOptions,
    ) -> Result<(FollowedPage, FollowAction)> {
        match action {
            FollowAction::FetchPage => {}
            FollowAction::WaitForAppend(idx) => {
                // Blocks exactly until the append that stopped the page ends: no sleep,
                // no dependence on its NOTIFY (which it may have skipped).
                let ended = sql::wait_for_append(&connection.client, idx, options.append_wait_timeout).await?;
                cursor.append_wait_returned(idx, ended);
            }
            FollowAction::WaitForWakeup => {
                // A closed channel (the connection task ended) returns at once; the fetch
                // below then reports why.
                tokio::select! {
                    _ = connection.wakeups.recv() => {}
                    _ = tokio::time::sleep(options.poll_interval) => {}
                }
            }
        }
        // Wake-ups that arrived before this fetch are answered by it: drop them so they
        // do not cause an empty extra poll.
        while connection.wakeups.try_recv().is_ok() {}

        let page = sql::list_events_page(&connection.client, cursor.since_idx(), filter, cursor.page_limit()).await?;
        let accepted = cursor.accept_page(page).map_err(Error::PageContract)?;
        let caught_up = accepted.action != FollowAction::FetchPage;
        Ok((FollowedPage { events: accepted.events, caught_up }, accepted.action))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_are_checked() {
        assert!(SubscribeOptions::default().validate().is_ok());
        for bad in [
            SubscribeOptions { page_limit: 0, ..Default::default() },
            SubscribeOptions { page_limit: MAX_PAGE_LIMIT + 1, ..Default::default() },
            SubscribeOptions { poll_interval: Duration::from_micros(10), ..Default::default() },
            SubscribeOptions { append_wait_timeout: Duration::ZERO, ..Default::default() },
        ] {
            assert_eq!(bad.validate().unwrap_err().sqlstate(), Some("22023"), "{bad:?}");
        }
    }
}
