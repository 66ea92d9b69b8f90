//! THE stress test of the no-loss cursor: 8 writers with random delays inside their
//! transactions, rollbacks and rejected events; 4 followers (two unfiltered, two with
//! globs) woken by NOTIFY; an idle open transaction and a rollback loop on the side.
//! Every follower must see exactly the committed events matching its filter, in order.
mod support;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bel_core::filter::CompiledFilter;
use rand::Rng;
use support::*;

const WRITERS: usize = 8;
const WRITE_FOR: Duration = Duration::from_secs(20);
const DRAIN_WITHIN: Duration = Duration::from_secs(40);
const FILTERS: [&str; 4] =
    ["{}", "{}", r#"{"partitionPatterns":["w1/**"]}"#, r#"{"partitionPatterns":["w*/data/users/*"]}"#];

/// Events of writer `w`'s builds, one after the other (namespaced, so writers never conflict).
struct Script {
    w: usize,
    build: usize,
    events: Vec<String>,
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
        self.events = full_build(&format!("w{w}-b{n}"), &format!("w{w}/data/{ds}/{n}"), &format!("w{w}-j{n}"), ds);
        self.pos = 0;
    }
    /// The next 1..=3 events, not yet consumed.
    fn peek(&mut self, k: usize) -> Vec<String> {
        if self.pos == self.events.len() {
            self.next_build();
        }
        self.events[self.pos..(self.pos + k).min(self.events.len())].to_vec()
    }
    fn advance(&mut self, k: usize) {
        self.pos += k;
    }
    /// An event that is never a correct next state: its build never exists.
    fn invalid(&self) -> String {
        build_event(&format!("w{}-never", self.w), "PLANNING", &[])
    }
}

#[derive(Default)]
struct WriterStats {
    committed: Vec<i64>,
    rolled_back: usize,
    rejected: usize,
}

async fn writer(dsn: String, w: usize, deadline: Instant) -> WriterStats {
    let c = connect(&dsn).await;
    let mut script = Script::new(w);
    let mut stats = WriterStats::default();
    while Instant::now() < deadline {
        let (k, delay_ms, rollback, reject) = {
            let mut rng = rand::thread_rng();
            (rng.gen_range(1..=3), rng.gen_range(0..=20), rng.gen_bool(0.1), rng.gen_bool(0.1))
        };
        let events = script.peek(k);
        c.batch_execute("BEGIN").await.unwrap();
        let mut idxs = Vec::new();
        for e in &events {
            idxs.push(append(&c, e).await.unwrap_or_else(|err| panic!("writer {w}: {e}: {err}")));
        }
        if reject {
            c.batch_execute("SAVEPOINT s").await.unwrap();
            let e = append(&c, &script.invalid()).await.expect_err("invalid event must be refused");
            assert_eq!(sqlstate(&e), "55000", "{e}");
            c.batch_execute("ROLLBACK TO SAVEPOINT s").await.unwrap();
            stats.rejected += 1;
        }
        sleep_ms(delay_ms).await;
        if rollback {
            c.batch_execute("ROLLBACK").await.unwrap();
            stats.rolled_back += 1;
        } else {
            c.batch_execute("COMMIT").await.unwrap();
            stats.committed.extend(idxs);
            script.advance(events.len());
        }
    }
    stats
}

/// Appends and rolls back, again and again: holes everywhere.
async fn rollback_loop(dsn: String, deadline: Instant) -> usize {
    let c = connect(&dsn).await;
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        c.batch_execute("BEGIN").await.unwrap();
        append(&c, &build_event(&format!("rb-{n}"), "RECEIVED", &[&format!("rb/data/users/{n}")])).await.unwrap();
        sleep_ms(3).await;
        c.batch_execute("ROLLBACK").await.unwrap();
    }
    n
}

struct Followed {
    seen: Vec<i64>,
    polls: usize,
    max_lag: Duration,
}

async fn follower(dsn: String, filter: &'static str, writers_done: Arc<AtomicBool>) -> Followed {
    let (c, mut wakeups) = connect_listening(&dsn).await;
    let mut cursor = 0i64;
    let mut seen = Vec::new();
    let mut polls = 0;
    let mut max_lag = Duration::ZERO;
    let mut drain_started: Option<Instant> = None;
    let mut final_idx: Option<i64> = None;
    loop {
        polls += 1;
        let p = page(&c, cursor, filter, 50).await.expect("page");
        for (idx, _) in &p.events {
            assert!(*idx > cursor, "idx {idx} at or below the cursor {cursor}: duplicate or out of order");
            assert!(seen.last().is_none_or(|l| idx > l), "out of order");
            seen.push(*idx);
            cursor = *idx;
        }
        assert!(p.next_idx >= cursor, "next_idx moved back");
        cursor = p.next_idx;
        if p.has_more {
            continue;
        }
        if writers_done.load(Ordering::SeqCst) {
            let started = *drain_started.get_or_insert_with(Instant::now);
            let target = match final_idx {
                Some(t) => t,
                None => {
                    // The last committed idx: a cursor may stop below trailing rolled-back
                    // allocations until their WAL is flushed (a crash could hand them out
                    // again, docs/no-loss-cursor.md), and never stops below this.
                    let t: i64 = c.query_one("SELECT coalesce(max(idx), 0) FROM bel.events", &[]).await.unwrap().get(0);
                    final_idx = Some(t);
                    t
                }
            };
            if cursor >= target && p.in_flight_idx == 0 {
                max_lag = max_lag.max(started.elapsed());
                break;
            }
            assert!(started.elapsed() < DRAIN_WITHIN, "follower {filter} stalled at {cursor} (target {target})");
        }
        let waited = Instant::now();
        if p.in_flight_idx != 0 {
            wait_for_append(&c, p.in_flight_idx, 1000).await;
        } else {
            let _ = tokio::time::timeout(Duration::from_millis(50), wakeups.recv()).await;
        }
        max_lag = max_lag.max(waited.elapsed());
    }
    Followed { seen, polls, max_lag }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn followers_see_exactly_the_committed_events_under_concurrent_writers() {
    let dsn = fresh_db("no_loss").await;
    let deadline = Instant::now() + WRITE_FOR;

    // An idle transaction open for the whole run: it must not hold anybody back.
    let idle = connect(&dsn).await;
    idle.batch_execute("BEGIN; SELECT 1;").await.unwrap();

    let writers_done = Arc::new(AtomicBool::new(false));
    let followers: Vec<_> =
        FILTERS.iter().map(|f| tokio::spawn(follower(dsn.clone(), f, writers_done.clone()))).collect();
    let writers: Vec<_> = (0..WRITERS).map(|w| tokio::spawn(writer(dsn.clone(), w, deadline))).collect();
    let rollbacks = tokio::spawn(rollback_loop(dsn.clone(), deadline));

    let mut committed = Vec::new();
    let (mut rolled_back, mut rejected) = (0, 0);
    for w in writers {
        let s = w.await.expect("writer");
        committed.extend(s.committed);
        rolled_back += s.rolled_back;
        rejected += s.rejected;
    }
    let rollback_loops = rollbacks.await.unwrap();
    writers_done.store(true, Ordering::SeqCst);
    committed.sort();

    // The log holds exactly the committed events (read directly, not through the cursor).
    let c = connect(&dsn).await;
    let log: BTreeMap<i64, bel_core::pb::BuildEvent> = c
        .query("SELECT idx, payload FROM bel.events ORDER BY idx", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| {
            let payload: serde_json::Value = r.get(1);
            (r.get::<_, i64>(0), bel_core::event::from_json_value(payload).expect("stored event parses"))
        })
        .collect();
    assert_eq!(log.keys().copied().collect::<Vec<_>>(), committed, "the log is exactly the committed appends");

    println!(
        "committed {} events, rolled back {rolled_back} transactions (+{rollback_loops} rollback-loop appends), rejected {rejected}",
        committed.len()
    );
    for (f, handle) in FILTERS.iter().zip(followers) {
        let followed = handle.await.expect("follower");
        let filter = CompiledFilter::from_json(f).unwrap();
        let expected: Vec<i64> = log.iter().filter(|(_, e)| filter.matches(e)).map(|(i, _)| *i).collect();
        println!(
            "follower {f}: saw {} of {} expected, {} polls, longest wait {:?}",
            followed.seen.len(),
            expected.len(),
            followed.polls,
            followed.max_lag
        );
        assert!(!expected.is_empty());
        let lost: Vec<_> = expected.iter().filter(|i| !followed.seen.contains(i)).take(10).collect();
        assert!(lost.is_empty(), "follower {f} lost events, e.g. {lost:?}");
        assert_eq!(followed.seen, expected, "follower {f}: exactly the matching committed events, in order");
    }
    idle.batch_execute("COMMIT").await.unwrap();
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}
