//! The load the crash test kills the server under: writers that keep appending whole build
//! lifecycles and followers that keep paging, both reconnecting after a crash and carrying
//! on where they were (writers with the same events, followers from their cursor).
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::Rng;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Client, NoTls};

use crate::support::{full_build, page};

pub const WRITERS: usize = 8;
/// Of the writers, these PREPARE every transaction and then COMMIT PREPARED it.
const TWO_PHASE_WRITERS: usize = 2;
pub const FILTERS: [&str; 4] =
    ["{}", "{}", r#"{"partitionPatterns":["w1/**"]}"#, r#"{"partitionPatterns":["w*/data/users/*"]}"#];
/// After the writers stop, followers must reach the end of the log within this.
const DRAIN_WITHIN: Duration = Duration::from_secs(60);
const RECONNECT_PAUSE: Duration = Duration::from_millis(20);

/// What writers and followers observed, shared with the test.
pub struct Shared {
    /// (idx, eventId) of every acknowledged append: its COMMIT returned OK.
    acked: Mutex<Vec<(i64, String)>>,
    acked_count: AtomicUsize,
    /// The largest idx any follower read.
    max_followed: AtomicI64,
    stop_writers: AtomicBool,
    /// Set once the writers stopped: the last committed idx, where followers may stop.
    drain_target: AtomicI64,
}

impl Shared {
    pub fn new() -> Arc<Self> {
        Arc::new(Shared {
            acked: Mutex::new(Vec::new()),
            acked_count: AtomicUsize::new(0),
            max_followed: AtomicI64::new(0),
            stop_writers: AtomicBool::new(false),
            drain_target: AtomicI64::new(-1),
        })
    }

    fn acknowledge(&self, appended: impl IntoIterator<Item = (i64, String)>) {
        let mut acked = self.acked.lock().unwrap();
        acked.extend(appended);
        self.acked_count.store(acked.len(), Ordering::SeqCst);
    }

    /// The acknowledged appends so far, and the largest idx acknowledged or followed.
    pub fn observed(&self) -> (Vec<(i64, String)>, i64) {
        let acked = self.acked.lock().unwrap().clone();
        let max_acked = acked.iter().map(|(i, _)| *i).max().unwrap_or(0);
        (acked, max_acked.max(self.max_followed.load(Ordering::SeqCst)))
    }

    /// Waits until `n` more appends are acknowledged than now: the load is running.
    pub async fn wait_for_acks(&self, n: usize, within: Duration) {
        let target = self.acked_count.load(Ordering::SeqCst) + n;
        let started = Instant::now();
        while self.acked_count.load(Ordering::SeqCst) < target {
            assert!(started.elapsed() < within, "writers acknowledged fewer than {n} appends in {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    fn drain_target(&self) -> Option<i64> {
        Some(self.drain_target.load(Ordering::SeqCst)).filter(|t| *t >= 0)
    }
}

/// Whether a failed call failed because the server went away (the crash), as opposed to
/// an error bel or the test should not produce.
fn is_crash(e: &tokio_postgres::Error) -> bool {
    match e.code() {
        // Connection lost, reset or refused: no SQLSTATE.
        None => true,
        // 57P01..57P03 (shutdown, crash of another process, cannot connect now), 08xxx.
        Some(code) => code.code().starts_with("57") || code.code().starts_with("08"),
    }
}

fn expect_crash(e: &tokio_postgres::Error, who: &str) {
    assert!(is_crash(e), "{who}: unexpected error: {e} ({:?})", e.as_db_error());
}

async fn try_connect(dsn: &str) -> Option<Client> {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(client)
}

async fn try_connect_listening(dsn: &str) -> Option<(Client, UnboundedReceiver<String>)> {
    use futures_util::StreamExt;
    let (client, mut connection) = tokio_postgres::connect(dsn, NoTls).await.ok()?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(n) = message {
                let _ = tx.send(n.payload().to_owned());
            }
        }
    });
    client.batch_execute("LISTEN bel_events").await.ok()?;
    Some((client, rx))
}

/// Writer `w`'s builds, one after the other, every event with its own eventId.
struct Script {
    w: usize,
    build: usize,
    events: Vec<(String, String)>,
    pos: usize,
}

impl Script {
    fn new(w: usize) -> Self {
        let mut s = Script { w, build: 0, events: Vec::new(), pos: 0 };
        s.next_build();
        s
    }
    fn next_build(&mut self) {
        self.build += 1;
        let ds = if self.build.is_multiple_of(2) { "users" } else { "orders" };
        let (w, n) = (self.w, self.build);
        let events = full_build(&format!("w{w}-b{n}"), &format!("w{w}/data/{ds}/{n}"), &format!("w{w}-j{n}"), ds);
        self.events = events
            .into_iter()
            .enumerate()
            .map(|(i, json)| {
                let id = format!("w{w}-b{n}-e{i}");
                // Every event JSON starts with '{'; the eventId goes first.
                (id.clone(), format!(r#"{{"eventId":"{id}",{}"#, &json[1..]))
            })
            .collect();
        self.pos = 0;
    }
    /// The next 1..=k events, not yet acknowledged.
    fn peek(&mut self, k: usize) -> Vec<(String, String)> {
        if self.pos == self.events.len() {
            self.next_build();
        }
        self.events[self.pos..(self.pos + k).min(self.events.len())].to_vec()
    }
    fn advance(&mut self, k: usize) {
        self.pos += k;
    }
}

#[derive(Default)]
pub struct WriterReport {
    /// Transactions cut by a crash, sent again after reconnecting.
    pub cut: usize,
    /// Prepared transactions found after a restart and committed.
    pub resolved_prepared: usize,
}

/// A transaction that was (or may have been) prepared when the connection broke.
struct Prepared {
    gid: String,
    events: Vec<(String, String)>,
    idxs: Vec<i64>,
}

/// One transaction: BEGIN, the events, COMMIT (or ROLLBACK); with `two_phase`, PREPARE
/// TRANSACTION and then COMMIT (or ROLLBACK) PREPARED. Some(idx values) when it committed,
/// None when it rolled back on purpose. `prepared` is set just before the PREPARE is sent.
async fn transaction(
    c: &Client,
    events: &[(String, String)],
    two_phase: Option<String>,
    prepared: &mut Option<Prepared>,
    rollback: bool,
    delay: Duration,
) -> Result<Option<Vec<i64>>, tokio_postgres::Error> {
    c.batch_execute("BEGIN").await?;
    let mut idxs = Vec::with_capacity(events.len());
    for (_, json) in events {
        idxs.push(c.query_one("SELECT bel.bel_append($1::text)", &[json]).await?.get(0));
    }
    tokio::time::sleep(delay).await;
    let finish = if rollback { "ROLLBACK" } else { "COMMIT" };
    match two_phase {
        Some(gid) => {
            *prepared = Some(Prepared { gid: gid.clone(), events: events.to_vec(), idxs: idxs.clone() });
            c.batch_execute(&format!("PREPARE TRANSACTION '{gid}'")).await?;
            tokio::time::sleep(delay).await;
            c.batch_execute(&format!("{finish} PREPARED '{gid}'")).await?;
            *prepared = None;
        }
        None => c.batch_execute(finish).await?,
    }
    Ok((!rollback).then_some(idxs))
}

/// After a reconnect: a transaction of ours still prepared is committed (Some(its idx
/// values)); None when it is not prepared (it committed, rolled back or never got there:
/// sending its events again settles which).
async fn resolve(c: &Client, p: &Prepared) -> Result<Option<Vec<i64>>, tokio_postgres::Error> {
    let found = c.query("SELECT 1 FROM pg_prepared_xacts WHERE gid = $1", &[&p.gid]).await?;
    if found.is_empty() {
        return Ok(None);
    }
    c.batch_execute(&format!("COMMIT PREPARED '{}'", p.gid)).await?;
    Ok(Some(p.idxs.clone()))
}

async fn writer(dsn: String, w: usize, shared: Arc<Shared>) -> WriterReport {
    let two_phase = w < TWO_PHASE_WRITERS;
    let mut script = Script::new(w);
    let mut client: Option<Client> = None;
    let mut report = WriterReport::default();
    let mut prepared: Option<Prepared> = None;
    let mut attempt = 0;
    loop {
        if client.as_ref().is_none_or(Client::is_closed) {
            client = try_connect(&dsn).await;
        }
        let Some(c) = client.as_ref() else {
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        // Settle a transaction left prepared by a crash before anything else: it holds
        // the rows our next events lock, and the followers' horizon.
        if let Some(p) = &prepared {
            match resolve(c, p).await {
                Ok(Some(idxs)) => {
                    shared.acknowledge(idxs.into_iter().zip(p.events.iter().map(|(id, _)| id.clone())));
                    script.advance(p.events.len());
                    report.resolved_prepared += 1;
                    prepared = None;
                }
                Ok(None) => prepared = None,
                Err(e) => {
                    expect_crash(&e, &format!("writer {w}"));
                    client = None;
                    continue;
                }
            }
        }
        if shared.stop_writers.load(Ordering::SeqCst) {
            return report;
        }
        let (k, rollback, delay) = {
            let mut rng = rand::thread_rng();
            (rng.gen_range(1..=3), rng.gen_bool(0.1), Duration::from_millis(rng.gen_range(0..=5)))
        };
        attempt += 1;
        let gid = two_phase.then(|| format!("bel-crash-w{w}-{attempt}"));
        let events = script.peek(k);
        match transaction(c, &events, gid, &mut prepared, rollback, delay).await {
            Ok(Some(idxs)) => {
                shared.acknowledge(idxs.into_iter().zip(events.iter().map(|(id, _)| id.clone())));
                script.advance(events.len());
            }
            Ok(None) => {}
            Err(e) => {
                expect_crash(&e, &format!("writer {w}"));
                client = None;
                report.cut += 1;
            }
        }
    }
}

pub struct Followed {
    /// (idx, eventId) of every event read, in the order read.
    pub seen: Vec<(i64, String)>,
    /// Times it reconnected after a crash and resumed from its cursor.
    pub reconnects: usize,
}

async fn follower(dsn: String, filter: &'static str, shared: Arc<Shared>) -> Followed {
    let mut cursor = 0i64;
    let mut followed = Followed { seen: Vec::new(), reconnects: 0 };
    let mut connection: Option<(Client, UnboundedReceiver<String>)> = None;
    let mut drain_started: Option<Instant> = None;
    loop {
        if connection.as_ref().is_none_or(|(c, _)| c.is_closed()) {
            connection = try_connect_listening(&dsn).await;
        }
        let Some((c, wakeups)) = connection.as_mut() else {
            tokio::time::sleep(RECONNECT_PAUSE).await;
            continue;
        };
        let p = match page(c, cursor, filter, 50).await {
            Ok(p) => p,
            Err(e) => {
                expect_crash(&e, &format!("follower {filter}"));
                connection = None;
                followed.reconnects += 1;
                continue;
            }
        };
        for (idx, event) in &p.events {
            assert!(*idx > cursor, "follower {filter}: idx {idx} at or below its cursor {cursor}");
            followed.seen.push((*idx, event["eventId"].as_str().unwrap_or_default().to_owned()));
            cursor = *idx;
            shared.max_followed.fetch_max(*idx, Ordering::SeqCst);
        }
        assert!(p.next_idx >= cursor, "follower {filter}: nextIdx {} moved back below {cursor}", p.next_idx);
        cursor = p.next_idx;
        if p.has_more {
            continue;
        }
        if let Some(target) = shared.drain_target() {
            if cursor >= target && p.in_flight_idx == 0 {
                return followed;
            }
            let started = *drain_started.get_or_insert_with(Instant::now);
            assert!(started.elapsed() < DRAIN_WITHIN, "follower {filter} stalled at {cursor} (log ends at {target})");
        }
        if p.in_flight_idx != 0 {
            let waited = c.query_one("SELECT bel.wait_for_append($1, 1000)", &[&p.in_flight_idx]).await;
            if let Err(e) = waited {
                expect_crash(&e, &format!("follower {filter}"));
                connection = None;
                followed.reconnects += 1;
            }
        } else {
            let _ = tokio::time::timeout(Duration::from_millis(50), wakeups.recv()).await;
        }
    }
}

pub type Writers = Vec<JoinHandle<WriterReport>>;
pub type Followers = Vec<JoinHandle<Followed>>;

pub fn spawn(dsn: &str, shared: &Arc<Shared>) -> (Writers, Followers) {
    let followers = FILTERS.iter().map(|f| tokio::spawn(follower(dsn.to_owned(), f, shared.clone()))).collect();
    let writers = (0..WRITERS).map(|w| tokio::spawn(writer(dsn.to_owned(), w, shared.clone()))).collect();
    (writers, followers)
}

pub struct Report {
    /// Writer transactions cut by a crash and sent again.
    pub cut: usize,
    /// Transactions found prepared after a restart and committed.
    pub resolved_prepared: usize,
    pub followed: Vec<Followed>,
}

/// Stops the writers, then lets the followers read up to the end of the log.
pub async fn finish(dsn: &str, shared: &Arc<Shared>, writers: Writers, followers: Followers) -> Report {
    shared.stop_writers.store(true, Ordering::SeqCst);
    let (mut cut, mut resolved_prepared) = (0, 0);
    for w in writers {
        let report = w.await.expect("writer");
        cut += report.cut;
        resolved_prepared += report.resolved_prepared;
    }
    let c = try_connect(dsn).await.expect("connect");
    let last: i64 = c.query_one("SELECT coalesce(max(idx), 0) FROM bel.events", &[]).await.unwrap().get(0);
    shared.drain_target.store(last, Ordering::SeqCst);
    let mut followed = Vec::new();
    for f in followers {
        followed.push(f.await.expect("follower"));
    }
    Report { cut, resolved_prepared, followed }
}
