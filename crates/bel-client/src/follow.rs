//! The SQL log follower: pages through the log with the no-loss cursor on its own
//! connection, woken by NOTIFY, polling as the fallback. The decisions live in
//! [`crate::cursor::FollowCursor`]; this module only performs them.
use bel_core::pb::EventFilter;

use crate::connection::{open_connection, DrivenConnection};
use crate::cursor::{FollowAction, FollowCursor};
use crate::dsn::DatabaseConfig;
use crate::error::{Error, Result};
use crate::sql;
use crate::subscription::{FollowedPage, PageSource, SubscribeOptions, Subscription};

/// The NOTIFY channel appends signal on.
pub const NOTIFY_CHANNEL: &str = "bel_events";

impl Subscription {
    /// A follower of the log on its own SQL connection, made with `config` on first poll
    /// (inside a Tokio runtime): every event with `idx > since_idx` matching `filter`. Same
    /// as [`crate::GraphService::subscribe_with`] on a [`crate::PgGraphService`], for
    /// callers that have no service connection to spare.
    pub fn new(
        config: impl Into<DatabaseConfig>,
        filter: EventFilter,
        since_idx: i64,
        options: SubscribeOptions,
    ) -> Self {
        let follower = SqlFollower::new(config.into(), filter, since_idx, options.clone());
        Subscription::from_source(follower, since_idx, options)
    }
}

/// Pages through the log on its own connection, waiting between pages as the cursor
/// decides.
pub(crate) struct SqlFollower {
    config: DatabaseConfig,
    filter: EventFilter,
    options: SubscribeOptions,
    cursor: FollowCursor,
    next_action: FollowAction,
    connection: Option<DrivenConnection>,
}

impl SqlFollower {
    pub(crate) fn new(config: DatabaseConfig, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Self {
        let cursor = FollowCursor::new(since_idx, options.page_limit);
        SqlFollower { config, filter, options, cursor, next_action: FollowAction::FetchPage, connection: None }
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

impl PageSource for SqlFollower {
    async fn next_page(&mut self) -> Result<FollowedPage> {
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

    fn since_idx(&self) -> i64 {
        self.cursor.since_idx()
    }
}
