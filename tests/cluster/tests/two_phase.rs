//! Two-phase commit: appends in a transaction that is PREPAREd work, every time (bel never
//! sends NOTIFY from a transaction that may be prepared: the NOTIFY is decided at
//! pre-commit). A prepared append keeps its in-flight lock (held by the prepared
//! transaction, no backend): followers stop below it, `bel.wait_for_append` returns when
//! COMMIT PREPARED or ROLLBACK PREPARED ends it, and they then see its events or pass its
//! hole. Needs max_prepared_transactions > 0 (scripts/pg.sh sets it).
mod support;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use support::*;

fn idxs(p: &Page) -> Vec<i64> {
    p.events.iter().map(|(i, _)| *i).collect()
}

#[tokio::test]
async fn every_prepare_after_an_append_succeeds() {
    let dsn = fresh_db("two_phase_alone").await;
    let c = connect(&dsn).await;
    // Alone, every appending transaction used to send the NOTIFY itself, so every PREPARE
    // failed with "cannot PREPARE a transaction that has executed LISTEN, UNLISTEN, or NOTIFY".
    for i in 0..50 {
        c.batch_execute("BEGIN").await.unwrap();
        append(&c, &build_event(&format!("b{i}"), "RECEIVED", &[&format!("p/{i}")])).await.unwrap();
        append(&c, &build_event(&format!("b{i}"), "PLANNING", &[])).await.unwrap();
        c.batch_execute(&format!("PREPARE TRANSACTION 'bel-alone-{i}'"))
            .await
            .unwrap_or_else(|e| panic!("PREPARE {i}: {e}"));
        let finish = if i % 5 == 4 { "ROLLBACK" } else { "COMMIT" };
        c.batch_execute(&format!("{finish} PREPARED 'bel-alone-{i}'")).await.unwrap();
    }
    assert_eq!(count(&c, "SELECT count(*) FROM bel.events").await, 80);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
}

#[tokio::test]
async fn followers_wait_for_a_prepared_append_and_see_it_after_commit_prepared() {
    let dsn = fresh_db("two_phase_follow").await;
    let w = connect(&dsn).await;
    let o = connect(&dsn).await;
    let coordinator = connect(&dsn).await;
    let (f, mut wakeups) = connect_listening(&dsn).await;

    w.batch_execute("BEGIN").await.unwrap();
    let prepared = append(&w, &build_event("bp", "RECEIVED", &["p/prepared"])).await.unwrap();
    w.batch_execute("PREPARE TRANSACTION 'bel-follow-1'").await.unwrap();
    // The in-flight lock now belongs to the prepared transaction, not to a backend.
    let held_by_prepared = count(
        &f,
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND (objsubid::int & 65535) = x'BE02'::int \
         AND pid IS NULL AND granted",
    )
    .await;
    assert_eq!(held_by_prepared, 1);
    let later = append(&o, &build_event("bo", "RECEIVED", &["p/later"])).await.unwrap();
    assert!(later > prepared);
    // o's commit notified; the PREPARE did not.
    let payload = tokio::time::timeout(Duration::from_secs(5), wakeups.recv()).await.expect("a NOTIFY").unwrap();
    assert_eq!(payload, later.to_string());

    let p = page(&f, 0, "{}", 10).await.unwrap();
    assert_eq!(idxs(&p), Vec::<i64>::new(), "nothing above the prepared append");
    assert_eq!(p.in_flight_idx, prepared);
    assert!(p.next_idx < prepared);
    assert!(!wait_for_append(&f, prepared, 200).await, "still in flight while prepared");

    // COMMIT PREPARED from another session ends it: the waiter returns true, the page
    // holds both events.
    let waiter = {
        let dsn = dsn.clone();
        tokio::spawn(async move { wait_for_append(&connect(&dsn).await, prepared, 30_000).await })
    };
    coordinator.batch_execute("COMMIT PREPARED 'bel-follow-1'").await.unwrap();
    assert!(waiter.await.unwrap(), "wait_for_append returns when the prepared append commits");
    let p = page(&f, p.next_idx, "{}", 10).await.unwrap();
    assert_eq!(idxs(&p), vec![prepared, later]);
    assert_eq!(p.in_flight_idx, 0);

    // ROLLBACK PREPARED: the follower passes the hole once a later append commits.
    w.batch_execute("BEGIN").await.unwrap();
    let hole = append(&w, &build_event("bq", "RECEIVED", &["p/rolled-back"])).await.unwrap();
    w.batch_execute("PREPARE TRANSACTION 'bel-follow-2'").await.unwrap();
    let last = append(&o, &build_event("br", "RECEIVED", &["p/last"])).await.unwrap();
    let p2 = page(&f, p.next_idx, "{}", 10).await.unwrap();
    assert_eq!((idxs(&p2), p2.in_flight_idx), (vec![], hole));
    coordinator.batch_execute("ROLLBACK PREPARED 'bel-follow-2'").await.unwrap();
    assert!(wait_for_append(&f, hole, 5_000).await);
    let p3 = page(&f, p2.next_idx, "{}", 10).await.unwrap();
    assert_eq!((idxs(&p3), p3.in_flight_idx), (vec![last], 0));
    assert_eq!(count(&f, "SELECT count(*) FROM bel.verify()").await, 0);
}

const PLAIN_WRITERS: usize = 3;
const TWO_PHASE_WRITERS: usize = 3;
const FOLLOWERS: usize = 3;
const WRITE_FOR: Duration = Duration::from_secs(10);
const DRAIN_WITHIN: Duration = Duration::from_secs(30);

/// Writer `w`'s builds, one after the other (namespaced: writers never touch each
/// other's entities, so a prepared transaction's row locks block nobody else).
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
        let (w, n) = (self.w, self.build);
        self.events = full_build(&format!("w{w}-b{n}"), &format!("w{w}/p/{n}"), &format!("w{w}-j{n}"), "etl");
        self.pos = 0;
    }
    fn peek(&mut self, k: usize) -> Vec<String> {
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
struct Written {
    committed: Vec<i64>,
    prepared: usize,
    rolled_back_prepared: usize,
}

/// Appends 1..=3 events per transaction; a two-phase writer PREPAREs every transaction,
/// waits a little, and has a coordinator session COMMIT PREPARED (or, one time in five,
/// ROLLBACK PREPARED) it.
async fn writer(dsn: String, w: usize, two_phase: bool, deadline: Instant) -> Written {
    let c = connect(&dsn).await;
    let coordinator = connect(&dsn).await;
    let mut script = Script::new(w);
    let mut written = Written::default();
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let (k, delay_ms, rollback) = {
            let mut rng = rand::thread_rng();
            (rng.gen_range(1..=3), rng.gen_range(0..=10), rng.gen_bool(0.2))
        };
        let events = script.peek(k);
        c.batch_execute("BEGIN").await.unwrap();
        let mut idxs = Vec::new();
        for e in &events {
            idxs.push(append(&c, e).await.unwrap_or_else(|err| panic!("writer {w}: {e}: {err}")));
        }
        if two_phase {
            let gid = format!("bel-w{w}-{n}");
            c.batch_execute(&format!("PREPARE TRANSACTION '{gid}'"))
                .await
                .unwrap_or_else(|e| panic!("writer {w}: PREPARE after an append failed: {e}"));
            written.prepared += 1;
            sleep_ms(delay_ms).await;
            let finish = if rollback { "ROLLBACK" } else { "COMMIT" };
            coordinator.batch_execute(&format!("{finish} PREPARED '{gid}'")).await.unwrap();
            if rollback {
                written.rolled_back_prepared += 1;
                continue;
            }
        } else {
            sleep_ms(delay_ms).await;
            if rollback {
                c.batch_execute("ROLLBACK").await.unwrap();
                continue;
            }
            c.batch_execute("COMMIT").await.unwrap();
        }
        written.committed.extend(idxs);
        script.advance(events.len());
    }
    written
}

async fn follower(dsn: String, writers_done: Arc<AtomicBool>) -> Vec<i64> {
    let (c, mut wakeups) = connect_listening(&dsn).await;
    let mut cursor = 0i64;
    let mut seen = Vec::new();
    let mut target: Option<i64> = None;
    let mut drain_started: Option<Instant> = None;
    loop {
        let p = page(&c, cursor, "{}", 50).await.expect("page");
        for idx in idxs(&p) {
            assert!(idx > cursor, "idx {idx} at or below the cursor {cursor}: duplicate or out of order");
            seen.push(idx);
            cursor = idx;
        }
        assert!(p.next_idx >= cursor, "nextIdx moved back");
        cursor = p.next_idx;
        if p.has_more {
            continue;
        }
        if writers_done.load(Ordering::SeqCst) {
            let t = match target {
                Some(t) => t,
                None => *target.insert(count(&c, "SELECT coalesce(max(idx), 0) FROM bel.events").await),
            };
            if cursor >= t && p.in_flight_idx == 0 {
                return seen;
            }
            let started = *drain_started.get_or_insert_with(Instant::now);
            assert!(started.elapsed() < DRAIN_WITHIN, "follower stalled at {cursor} (log ends at {t})");
        }
        if p.in_flight_idx != 0 {
            wait_for_append(&c, p.in_flight_idx, 1000).await;
        } else {
            let _ = tokio::time::timeout(Duration::from_millis(50), wakeups.recv()).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prepared_and_plain_appends_under_concurrency_reach_followers_exactly_once_in_order() {
    let dsn = fresh_db("two_phase_load").await;
    let deadline = Instant::now() + WRITE_FOR;
    let writers_done = Arc::new(AtomicBool::new(false));
    let followers: Vec<_> = (0..FOLLOWERS).map(|_| tokio::spawn(follower(dsn.clone(), writers_done.clone()))).collect();
    let writers: Vec<_> = (0..PLAIN_WRITERS + TWO_PHASE_WRITERS)
        .map(|w| tokio::spawn(writer(dsn.clone(), w, w >= PLAIN_WRITERS, deadline)))
        .collect();
    let mut committed = Vec::new();
    let (mut prepared, mut rolled_back_prepared) = (0, 0);
    for w in writers {
        let written = w.await.expect("writer");
        committed.extend(written.committed);
        prepared += written.prepared;
        rolled_back_prepared += written.rolled_back_prepared;
    }
    writers_done.store(true, Ordering::SeqCst);
    committed.sort();

    let c = connect(&dsn).await;
    let log: Vec<i64> =
        c.query("SELECT idx FROM bel.events ORDER BY idx", &[]).await.unwrap().into_iter().map(|r| r.get(0)).collect();
    assert_eq!(log, committed, "the log is exactly the committed appends, prepared ones included");
    assert_eq!(count(&c, "SELECT count(*) FROM pg_prepared_xacts").await, 0);
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0);
    println!(
        "{} events committed; {prepared} transactions prepared ({rolled_back_prepared} rolled back), none refused",
        committed.len()
    );
    assert!(prepared > 20, "the two-phase writers prepared only {prepared} transactions");
    for f in followers {
        let seen = f.await.expect("follower");
        let lost: Vec<_> = log.iter().filter(|i| !seen.contains(i)).take(10).collect();
        assert!(lost.is_empty(), "a follower lost events, e.g. {lost:?}");
        assert_eq!(seen, log, "a follower sees exactly the log, in order, once");
    }
}
