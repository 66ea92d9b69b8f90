//! The followers whose latency is measured, each on its own thread with its own
//! single-threaded runtime (so no follower waits for another's work, or the writers'):
//! - the client library's `subscribe` over SQL ([`PgGraphService`]) and over HTTP
//!   ([`HttpGraphService`] long-polling `bel serve`);
//! - LISTEN-and-poll followers, the baselines: woken by NOTIFY (or a fallback poll) they
//!   read one page and wait again. Of bel with `bel.list_events_page` (not waiting for
//!   the in-flight append that stopped a page, as the client does), and of the plain
//!   INSERT + NOTIFY table with `idx > cursor`.
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bel_client::{EventFilter, GraphService, HttpGraphService, PgGraphService, Subscription};
use futures_util::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio_postgres::{AsyncMessage, Client};

use crate::events::PLAIN_CHANNEL;
use crate::Failure;

/// Which follower.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    SqlSubscribe,
    HttpSubscribe,
    BelListenPoll,
    PlainListenPoll,
}

impl Kind {
    pub fn describe(self) -> &'static str {
        match self {
            Kind::SqlSubscribe => "bel: SQL subscribe (PgGraphService)",
            Kind::HttpSubscribe => "bel: HTTP long poll (HttpGraphService)",
            Kind::BelListenPoll => "bel: LISTEN + list_events_page",
            Kind::PlainListenPoll => "baseline: LISTEN + poll, INSERT+NOTIFY",
        }
    }
}

/// How long a LISTEN-and-poll follower waits for a NOTIFY before it reads anyway (the
/// client's default `poll_interval`).
const FALLBACK_POLL: Duration = Duration::from_secs(1);
/// Rows per page of the LISTEN-and-poll followers (the client's default page limit).
const PAGE_LIMIT: i64 = 1000;

/// An event a follower received, and when.
pub struct Received {
    pub idx: i64,
    pub event_id: String,
    pub at: Instant,
}

/// Where followers read from.
#[derive(Clone)]
pub struct Source {
    pub dsn: String,
    pub http_url: String,
    /// The bel followers' filter (the plain follower reads every row).
    pub filter: EventFilter,
    /// Event ids of the measured events start with this (the plain follower keeps only those).
    pub measured_prefix: String,
    pub since_idx: i64,
}

/// A follower running on its own thread.
pub struct Running {
    pub kind: Kind,
    /// How many events it has received so far.
    pub seen: Arc<AtomicUsize>,
    thread: JoinHandle<Result<Vec<Received>, Failure>>,
}

impl Running {
    /// Waits for the follower to stop (after the stop signal) and returns what it received.
    pub fn join(self) -> Result<Vec<Received>, Failure> {
        self.thread.join().map_err(|_| Failure::from(format!("the {:?} follower panicked", self.kind)))?
    }
}

/// Starts a follower of `source`; it runs until `stop` becomes true.
pub fn spawn(kind: Kind, source: Source, stop: watch::Receiver<bool>) -> Running {
    let seen = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&seen);
    let thread = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(follow(kind, source, stop, counter))
    });
    Running { kind, seen, thread }
}

async fn follow(
    kind: Kind,
    source: Source,
    stop: watch::Receiver<bool>,
    seen: Arc<AtomicUsize>,
) -> Result<Vec<Received>, Failure> {
    let mut received = ReceivedLog { events: Vec::new(), seen };
    match kind {
        Kind::SqlSubscribe => {
            let service = PgGraphService::connect(&source.dsn).await?;
            let events = service.subscribe(source.filter, source.since_idx);
            follow_stream(events, stop, &mut received).await?;
        }
        Kind::HttpSubscribe => {
            let service = HttpGraphService::new(&source.http_url)?;
            let events = service.subscribe(source.filter, source.since_idx);
            follow_stream(events, stop, &mut received).await?;
        }
        Kind::BelListenPoll => {
            let connection = listening(&source.dsn, bel_client::NOTIFY_CHANNEL).await?;
            let filter = source.filter;
            listen_poll(connection, source.since_idx, stop, &mut received, |client, since| {
                let filter = filter.clone();
                async move {
                    let page = bel_client::sql::list_events_page(client.as_ref(), since, &filter, PAGE_LIMIT).await?;
                    let events = page.events.into_iter().map(|event| (event.idx, event.event_id)).collect();
                    Ok((events, page.next_idx, page.has_more))
                }
            })
            .await?;
        }
        Kind::PlainListenPoll => {
            let connection = listening(&source.dsn, PLAIN_CHANNEL).await?;
            let prefix = source.measured_prefix;
            listen_poll(connection, source.since_idx, stop, &mut received, |client, since| {
                let prefix = prefix.clone();
                async move {
                    let rows = client
                        .query(
                            "select idx, event_id from bench.plain_events where idx > $1 order by idx limit $2",
                            &[&since, &PAGE_LIMIT],
                        )
                        .await?;
                    let has_more = rows.len() as i64 == PAGE_LIMIT;
                    let mut next_idx = since;
                    let mut events = Vec::new();
                    for row in rows {
                        let idx: i64 = row.try_get(0)?;
                        let event_id: String = row.try_get(1)?;
                        next_idx = idx;
                        if event_id.starts_with(&prefix) {
                            events.push((idx, event_id));
                        }
                    }
                    Ok((events, next_idx, has_more))
                }
            })
            .await?;
        }
    }
    Ok(received.events)
}

/// What a follower received, counted as it goes.
struct ReceivedLog {
    events: Vec<Received>,
    seen: Arc<AtomicUsize>,
}

impl ReceivedLog {
    fn push(&mut self, idx: i64, event_id: String, at: Instant) {
        self.events.push(Received { idx, event_id, at });
        self.seen.fetch_add(1, Ordering::Release);
    }
}

async fn follow_stream(
    mut events: Subscription,
    mut stop: watch::Receiver<bool>,
    received: &mut ReceivedLog,
) -> Result<(), Failure> {
    loop {
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            event = events.next() => match event {
                Some(event) => {
                    let event = event?;
                    received.push(event.idx, event.event_id, Instant::now());
                }
                None => return Err("the subscription ended".into()),
            },
        }
    }
}

/// A connection that LISTENs on `channel`, with its notifications.
struct Listening {
    client: Arc<Client>,
    notifications: mpsc::UnboundedReceiver<()>,
}

async fn listening(dsn: &str, channel: &str) -> Result<Listening, Failure> {
    let (client, mut connection) = tokio_postgres::connect(dsn, tokio_postgres::NoTls).await?;
    let (sender, notifications) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    if sender.send(()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    eprintln!("[bench] the LISTEN connection failed: {error}");
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {channel}")).await?;
    Ok(Listening { client: Arc::new(client), notifications })
}

/// One page: the (idx, eventId) of the events to deliver, nextIdx, hasMore.
type Page = (Vec<(i64, String)>, i64, bool);

/// Reads a page; when there was no more, waits for a NOTIFY (or the fallback poll).
async fn listen_poll<F, Fut>(
    mut listening: Listening,
    since_idx: i64,
    mut stop: watch::Receiver<bool>,
    received: &mut ReceivedLog,
    read_page: F,
) -> Result<(), Failure>
where
    F: Fn(Arc<Client>, i64) -> Fut,
    Fut: std::future::Future<Output = Result<Page, Failure>>,
{
    let mut cursor = since_idx;
    loop {
        // This read answers every notification that arrived before it.
        while listening.notifications.try_recv().is_ok() {}
        let (events, next_idx, has_more) = read_page(Arc::clone(&listening.client), cursor).await?;
        let at = Instant::now();
        for (idx, event_id) in events {
            received.push(idx, event_id, at);
        }
        cursor = cursor.max(next_idx);
        if has_more {
            continue;
        }
        tokio::select! {
            biased;
            _ = stop.wait_for(|stopped| *stopped) => return Ok(()),
            notification = listening.notifications.recv() => {
                if notification.is_none() {
                    return Err("the LISTEN connection closed".into());
                }
            }
            () = tokio::time::sleep(FALLBACK_POLL) => {}
        }
    }
}
