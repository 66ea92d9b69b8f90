//! The follower side of scripts/bench-followers.sh for followers of a standby, next to the
//! same followers of the primary (one program, so both sides cost the client the same).
//!
//!   bench_followers tail --primary DSN [--standby DSN] --followers N --seconds S --poll-ms MS
//!       N followers from the current end of the log, each with its own connections, polling
//!       pages of 1000 every MS ms when caught up (at once while a page says hasMore). With
//!       --standby: the horizon from the primary (bel.horizon(), when a page reached the last
//!       one) and the pages from the standby; without: bel.list_events_page on the primary.
//!   bench_followers catch-up --primary DSN [--standby DSN] --pages P
//!       one follower reading P pages of 1000 from idx 0 (the standby with one horizon, as a
//!       client catching up reuses it).
//! Prints one line: `polls <n> events <n> horizons <n> seconds <s>`.
use std::collections::HashMap;
use std::time::{Duration, Instant};

use bel_client::sql::{self, Horizon};
use bel_client::EventFilter;
use tokio_postgres::{Client, NoTls};

const PAGE: i64 = 1000;
const REPLAY_WAIT: Duration = Duration::from_secs(5);

#[derive(Default)]
struct Counts {
    polls: u64,
    events: u64,
    horizons: u64,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.polls += other.polls;
        self.events += other.events;
        self.horizons += other.horizons;
    }
}

async fn connect(dsn: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(dsn, NoTls).await.unwrap_or_else(|e| panic!("{dsn}: {e}"));
    tokio::spawn(async move {
        let _ = connection.await;
    });
    client
}

/// One follower: where its pages come from.
struct Follower {
    primary: Client,
    standby: Option<Client>,
    horizon: Option<Horizon>,
    cursor: i64,
    counts: Counts,
}

impl Follower {
    async fn new(primary: &str, standby: Option<&str>, cursor: i64) -> Self {
        let standby = match standby {
            Some(dsn) => Some(connect(dsn).await),
            None => None,
        };
        Follower { primary: connect(primary).await, standby, horizon: None, cursor, counts: Counts::default() }
    }

    /// Reads one page; true when it reached the end (nothing more readable now).
    async fn poll(&mut self) -> bool {
        let filter = EventFilter::default();
        let page = match &self.standby {
            None => sql::list_events_page(&self.primary, self.cursor, &filter, PAGE).await.expect("page"),
            Some(standby) => {
                let horizon = match self.horizon.filter(|h| self.cursor < h.idx) {
                    Some(h) => h,
                    None => {
                        self.counts.horizons += 1;
                        sql::horizon(&self.primary).await.expect("horizon")
                    }
                };
                self.horizon = Some(horizon);
                sql::list_events_page_at(standby, self.cursor, &filter, PAGE, &horizon, REPLAY_WAIT)
                    .await
                    .expect("page")
            }
        };
        self.counts.polls += 1;
        self.counts.events += page.events.len() as u64;
        self.cursor = self.cursor.max(page.next_idx);
        !page.has_more && !page.replay_behind
    }
}

fn args() -> (String, HashMap<String, String>) {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_default();
    let mut flags = HashMap::new();
    while let Some(key) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{key} needs a value"));
        flags.insert(key.trim_start_matches("--").to_owned(), value);
    }
    (mode, flags)
}

fn number(flags: &HashMap<String, String>, key: &str) -> u64 {
    flags.get(key).and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("--{key} <number> is required"))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let (mode, flags) = args();
    let primary = flags.get("primary").expect("--primary DSN is required").clone();
    let standby = flags.get("standby").cloned();
    let started;
    let mut total = Counts::default();
    match mode.as_str() {
        "tail" => {
            let (followers, seconds, poll_ms) =
                (number(&flags, "followers"), number(&flags, "seconds"), number(&flags, "poll-ms"));
            let tail: i64 = connect(&primary)
                .await
                .query_one("SELECT coalesce(max(idx), 0) FROM bel.events", &[])
                .await
                .expect("tail")
                .get(0);
            let mut ready = Vec::new();
            for _ in 0..followers {
                ready.push(Follower::new(&primary, standby.as_deref(), tail).await);
            }
            started = Instant::now();
            let deadline = started + Duration::from_secs(seconds);
            let tasks: Vec<_> = ready
                .into_iter()
                .map(|mut f| {
                    tokio::spawn(async move {
                        while Instant::now() < deadline {
                            if f.poll().await {
                                tokio::time::sleep(Duration::from_millis(poll_ms)).await;
                            }
                        }
                        f.counts
                    })
                })
                .collect();
            for t in tasks {
                total.add(&t.await.expect("follower"));
            }
        }
        "catch-up" => {
            let pages = number(&flags, "pages");
            let mut f = Follower::new(&primary, standby.as_deref(), 0).await;
            started = Instant::now();
            for _ in 0..pages {
                if f.poll().await {
                    break;
                }
            }
            total = f.counts;
        }
        other => panic!("unknown mode {other:?}: tail or catch-up"),
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("polls {} events {} horizons {} seconds {seconds:.3}", total.polls, total.events, total.horizons);
}
