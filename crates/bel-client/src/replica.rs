//! Following the log on a hot standby (docs/no-loss-cursor.md, "Followers on hot
//! standbys"): the pages come from the standby, read below horizons from the primary. Only
//! the tiny calls go to the primary: `bel.horizon()`, `bel.wait_for_append` when an append
//! in flight holds the horizon, and the LISTEN for wake-ups (a standby cannot LISTEN).
//!
//! A horizon is reused while the cursor is below it (back-to-back pages need no call to the
//! primary) and fetched again when a page reaches it. A page the standby could not serve in
//! time (`replay_behind`) is asked again with the same horizon: the cursor never moves
//! without a page, so a lagging or paused standby delays events and never skips them.
use bel_core::pb::EventFilter;

use crate::connection::{open_connection, DrivenConnection};
use crate::cursor::{FollowAction, FollowCursor};
use crate::dsn::DatabaseConfig;
use crate::error::{Error, Result};
use crate::follow::NOTIFY_CHANNEL;
use crate::service::PgGraphService;
use crate::sql::{self, Horizon};
use crate::subscription::{FollowedPage, PageSource, SubscribeOptions, Subscription};

impl PgGraphService {
    /// Follows the log like [`crate::GraphService::subscribe_with`], reading the pages from
    /// `replica`, a hot standby (streaming replication) of this service's database: each
    /// event exactly once, in idx order, exactly as a follower of the primary gets them.
    /// The follower keeps one connection to the primary (this service's configuration) for
    /// the horizon, waits and wake-ups, and one to the replica; it connects on first poll
    /// and reconnects either as [`SubscribeOptions::reconnect`] says.
    pub fn subscribe_replica(
        &self,
        replica: impl Into<DatabaseConfig>,
        filter: EventFilter,
        since_idx: i64,
        options: SubscribeOptions,
    ) -> Subscription {
        let follower = ReplicaFollower::new(self.config().clone(), replica.into(), filter, since_idx, options.clone());
        Subscription::from_source(follower, since_idx, options)
    }
}

/// Which server a failed call went to.
#[derive(Clone, Copy)]
enum Server {
    Primary,
    Replica,
}

/// Pages through the log on a standby, with horizons from the primary.
pub(crate) struct ReplicaFollower {
    primary_config: DatabaseConfig,
    replica_config: DatabaseConfig,
    filter: EventFilter,
    options: SubscribeOptions,
    cursor: FollowCursor,
    next_action: FollowAction,
    /// The last horizon from the primary, while the cursor is below it.
    horizon: Option<Horizon>,
    primary: Option<DrivenConnection>,
    replica: Option<DrivenConnection>,
}

impl ReplicaFollower {
    fn new(
        primary_config: DatabaseConfig,
        replica_config: DatabaseConfig,
        filter: EventFilter,
        since_idx: i64,
        options: SubscribeOptions,
    ) -> Self {
        let cursor = FollowCursor::new(since_idx, options.page_limit);
        ReplicaFollower {
            primary_config,
            replica_config,
            filter,
            options,
            cursor,
            next_action: FollowAction::FetchPage,
            horizon: None,
            primary: None,
            replica: None,
        }
    }

    /// Performs the wait the previous page asked for (on the primary), then reads one page
    /// from the replica.
    async fn wait_and_fetch(
        &mut self,
        primary: &mut DrivenConnection,
        replica: &DrivenConnection,
    ) -> Result<FollowedPage, (Server, Error)> {
        let on_primary = |e: Error| (Server::Primary, e);
        match self.next_action {
            FollowAction::FetchPage => {}
            FollowAction::WaitForAppend(idx) => {
                let ended = sql::wait_for_append(&primary.client, idx, self.options.append_wait_timeout)
                    .await
                    .map_err(on_primary)?;
                self.cursor.append_wait_returned(idx, ended);
            }
            FollowAction::WaitForWakeup => {
                tokio::select! {
                    _ = primary.wakeups.recv() => {}
                    _ = tokio::time::sleep(self.options.poll_interval) => {}
                }
            }
        }
        // Waited: a failure below retries the fetch at once, not the wait.
        self.next_action = FollowAction::FetchPage;
        while primary.wakeups.try_recv().is_ok() {}

        let since_idx = self.cursor.since_idx();
        let (horizon, fresh) = match self.horizon.filter(|h| since_idx < h.idx) {
            Some(h) => (h, false),
            None => (sql::horizon(&primary.client).await.map_err(on_primary)?, true),
        };
        self.horizon = Some(horizon);
        let mut page = sql::list_events_page_at(
            &replica.client,
            since_idx,
            &self.filter,
            self.cursor.page_limit(),
            &horizon,
            self.options.replay_wait,
        )
        .await
        .map_err(|e| (Server::Replica, e))?;
        if page.replay_behind {
            // The standby already waited replay_wait: ask again at once, same horizon.
            self.next_action = FollowAction::FetchPage;
            return Ok(FollowedPage { events: Vec::new(), caught_up: false });
        }
        let at_horizon = !page.has_more && page.next_idx >= horizon.idx;
        if at_horizon {
            // The standby does not know what holds the primary's horizon; the horizon does.
            page.in_flight_idx = horizon.in_flight_idx;
        }
        let accepted = self.cursor.accept_page(page).map_err(|e| (Server::Replica, Error::PageContract(e)))?;
        let mut action = accepted.action;
        if action != FollowAction::FetchPage {
            self.horizon = None;
            if !fresh {
                // The end of an older horizon is not the end of the log: read on at once
                // with a fresh one before calling this caught up.
                action = FollowAction::FetchPage;
            }
        }
        self.next_action = action;
        Ok(FollowedPage { events: accepted.events, caught_up: action != FollowAction::FetchPage })
    }
}

impl PageSource for ReplicaFollower {
    async fn next_page(&mut self) -> Result<FollowedPage> {
        self.options.validate()?;
        // Taken out while in use, as in the SQL follower: a future dropped mid-query leaves
        // no half-finished exchange behind.
        let mut primary = match self.primary.take() {
            Some(connection) => connection,
            None => {
                let connection = open_connection(&self.primary_config).await?;
                // LISTEN before the first horizon, so any commit after it wakes us.
                connection.client.batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}")).await?;
                connection
            }
        };
        let replica = match self.replica.take() {
            Some(connection) => connection,
            None => match open_connection(&self.replica_config).await {
                Ok(connection) => connection,
                Err(error) => {
                    self.primary = Some(primary);
                    return Err(error);
                }
            },
        };
        let result = self.wait_and_fetch(&mut primary, &replica).await;
        match result {
            Ok(page) => {
                self.primary = Some(primary);
                self.replica = Some(replica);
                Ok(page)
            }
            Err((server, error)) => {
                let failed = match server {
                    Server::Primary => &primary,
                    Server::Replica => &replica,
                };
                let error = failed.explain(error);
                let lost = error.is_connection_lost();
                if !(lost && matches!(server, Server::Primary)) {
                    self.primary = Some(primary);
                } else {
                    // Wake-ups sent while disconnected are gone: fetch right after the
                    // next LISTEN instead of waiting first.
                    self.next_action = FollowAction::FetchPage;
                }
                if !(lost && matches!(server, Server::Replica)) {
                    self.replica = Some(replica);
                }
                Err(error)
            }
        }
    }

    fn since_idx(&self) -> i64 {
        self.cursor.since_idx()
    }
}
