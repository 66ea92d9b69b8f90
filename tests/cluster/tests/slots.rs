//! The no-loss horizon's in-flight slots (bel in `shared_preload_libraries`, which the cluster
//! step of scripts/test.sh uses; the lock-based fallback runs the isolation specs): a writer's
//! backend terminated in the middle of its transaction, a prepared append whose backend moved on
//! and was terminated, and writers terminated at random under followers, who must get exactly
//! the committed events, in order.
mod support;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::Rng;
use support::*;

async fn backend_pid(c: &tokio_postgres::Client) -> i32 {
    c.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0)
}

/// Terminates backend `pid` and returns once it has exited (pg_terminate_backend with a timeout
/// waits for that).
async fn terminate(admin: &tokio_postgres::Client, pid: i32) {
    let gone: bool = admin.query_one("SELECT pg_terminate_backend($1, 30000)", &[&pid]).await.unwrap().get(0);
    assert!(gone, "backend {pid} did not exit within 30 s");
}

fn idxs(p: &Page) -> Vec<i64> {
    p.events.iter().map(|(i, _)| *i).collect()
}

#[tokio::test]
async fn the_cluster_uses_the_horizon_the_step_asks_for() {
    let expected = std::env::var("BEL_TEST_IN_FLIGHT_SLOTS").unwrap_or_else(|_| {
        panic!("BEL_TEST_IN_FLIGHT_SLOTS (on|off) is not set: run the cluster tests through `bash scripts/test.sh cluster`")
    });
    let dsn = fresh_db("slots_mode").await;
    let c = connect(&dsn).await;
    // The setting exists once the library is loaded in this session (at start when preloaded).
    page(&c, 0, "{}", 1).await.unwrap();
    let have: String = c.query_one("SELECT current_setting('bel.in_flight_slots')", &[]).await.unwrap().get(0);
    assert_eq!(have, expected, "bel.in_flight_slots");
}

/// `wait_for_append` returns at once for what no append holds, also for the values that mark a
/// slot empty (0) or allocating (-1), while other backends of the database hold such slots.
#[tokio::test]
async fn wait_for_append_of_an_idx_nobody_holds_returns_at_once() {
    let dsn = fresh_db("slots_wait_none").await;
    let (w, a, f) = (connect(&dsn).await, connect(&dsn).await, connect(&dsn).await);
    // w's slot names this database and is empty after its commit; a's is allocating-or-published
    // while its transaction is open.
    let done = append(&w, &build_event("bn", "RECEIVED", &["p/n"])).await.unwrap();
    a.batch_execute("BEGIN").await.unwrap();
    let open = append(&a, &build_event("bm", "RECEIVED", &["p/m"])).await.unwrap();
    for idx in [0_i64, -1, done, open + 1000] {
        assert!(wait_for_append(&f, idx, 2000).await, "wait_for_append({idx}) reported an append in flight");
    }
    assert!(!wait_for_append(&f, open, 50).await, "the open append is in flight");
    a.batch_execute("COMMIT").await.unwrap();
    assert!(wait_for_append(&f, open, 2000).await, "committed");
}

/// An append's end wakes a follower waiting for it: the slot's condition variable is broadcast
/// when the slot is emptied. Without the broadcast every wait would still end, by its 5 ms
/// poll, and nothing else would notice; the wait's DEBUG1 line says which ended it. A timed
/// poll can end one wait just before the broadcast arrives, so of five waits at least one must
/// have been woken (five misses in a row: about 1e-15 with the broadcast; certain without).
#[tokio::test]
async fn the_end_of_an_append_wakes_the_follower_waiting_for_it() {
    let dsn = fresh_db("slots_wake").await;
    let (w, admin) = (connect(&dsn).await, connect(&dsn).await);
    let (f, mut notices) = connect_with_notices(&dsn).await;
    page(&f, 0, "{}", 1).await.unwrap(); // loads bel in the session, which defines the setting
    let slots: String = f.query_one("SELECT current_setting('bel.in_flight_slots')", &[]).await.unwrap().get(0);
    assert_eq!(slots, "on", "the wake-up is the in-flight slots' (the cluster step preloads bel)");
    f.batch_execute("SET client_min_messages = debug1").await.unwrap();
    let limit = Duration::from_secs(15);
    let follower_pid = backend_pid(&f).await;
    let mut woken_waits = 0;
    for round in 0..5 {
        w.batch_execute("BEGIN").await.unwrap();
        let idx = append(&w, &build_event(&format!("bwake{round}"), "RECEIVED", &["p/wake"])).await.unwrap();
        let waiting = {
            let f = &f;
            async move { wait_for_append(f, idx, 10_000).await }
        };
        let commit_once_waiting = async {
            // the follower is asleep on the condition variable (wait event Extension)
            let asleep = async {
                loop {
                    let asleep = count(
                    &admin,
                    &format!(
                        "SELECT count(*) FROM pg_stat_activity WHERE pid = {follower_pid} AND wait_event_type = 'Extension'"
                    ),
                )
                .await;
                    if asleep == 1 {
                        break;
                    }
                    tokio::task::yield_now().await;
                }
            };
            tokio::time::timeout(limit, asleep).await.expect("the follower never slept on the condition variable");
            w.batch_execute("COMMIT").await.unwrap();
        };
        let (ended, ()) = tokio::join!(waiting, commit_once_waiting);
        assert!(ended, "round {round}: the wait ended at its timeout");
        let report = tokio::time::timeout(limit, async {
            loop {
                let line = notices.recv().await.expect("the follower's connection closed");
                if line.starts_with(&format!("bel: wait_for_append({idx})")) {
                    break line;
                }
            }
        })
        .await
        .expect("no DEBUG1 report of the wait");
        assert!(report.contains("ended true"), "round {round}: {report}");
        if !report.contains("woken 0 time") {
            woken_waits += 1;
        }
    }
    assert!(woken_waits > 0, "no wait of five was woken by the append's end: every one ended by its timed poll");
}

#[tokio::test]
async fn a_writer_terminated_mid_transaction_holds_followers_until_it_is_gone() {
    let dsn = fresh_db("slots_terminate").await;
    let (w, o, f, admin) = (connect(&dsn).await, connect(&dsn).await, connect(&dsn).await, connect(&dsn).await);
    w.batch_execute("BEGIN").await.unwrap();
    let a = append(&w, &build_event("bw", "RECEIVED", &["p/w"])).await.unwrap();
    append(&w, &build_event("bw", "PLANNING", &[])).await.unwrap();
    let b = append(&o, &build_event("bo", "RECEIVED", &["p/o"])).await.unwrap();
    assert!(b > a);
    let p = page(&f, 0, "{}", 100).await.unwrap();
    assert_eq!((idxs(&p), p.next_idx, p.in_flight_idx), (vec![], a - 1, a), "stops below the open append");

    terminate(&admin, backend_pid(&w).await).await;
    let p = page(&f, 0, "{}", 100).await.unwrap();
    assert_eq!(idxs(&p), vec![b], "the terminated writer's appends rolled back; the later commit is returned");
    assert_eq!((p.next_idx, p.in_flight_idx), (b, 0));
    assert_eq!(count(&f, "SELECT count(*) FROM bel.events WHERE build_request_id = 'bw'").await, 0);
}

#[tokio::test]
async fn a_prepared_append_holds_followers_after_its_backend_moved_on_and_was_terminated() {
    let dsn = fresh_db("slots_prepared").await;
    let (w, o, f, admin) = (connect(&dsn).await, connect(&dsn).await, connect(&dsn).await, connect(&dsn).await);
    w.batch_execute("BEGIN").await.unwrap();
    let a = append(&w, &build_event("bp", "RECEIVED", &["p/p"])).await.unwrap();
    w.batch_execute("PREPARE TRANSACTION 'bel-slots-1'").await.unwrap();
    // The backend's slot is free for its next transaction; the prepared one is still in flight.
    let c = append(&w, &build_event("bw", "RECEIVED", &["p/w"])).await.unwrap();
    let b = append(&o, &build_event("bo", "RECEIVED", &["p/o"])).await.unwrap();
    let p = page(&f, 0, "{}", 100).await.unwrap();
    assert_eq!((idxs(&p), p.next_idx, p.in_flight_idx), (vec![], a - 1, a), "stops below the prepared append");

    terminate(&admin, backend_pid(&w).await).await;
    let p = page(&f, 0, "{}", 100).await.unwrap();
    assert_eq!((idxs(&p), p.in_flight_idx), (vec![], a), "the prepared append outlives the backend that made it");

    admin.batch_execute("COMMIT PREPARED 'bel-slots-1'").await.unwrap();
    let p = page(&f, 0, "{}", 100).await.unwrap();
    let mut all = vec![a, b, c];
    all.sort();
    assert_eq!((idxs(&p), p.in_flight_idx), (all, 0));
}

const WRITERS: usize = 6;
const WRITE_FOR: Duration = Duration::from_secs(12);
const DRAIN_WITHIN: Duration = Duration::from_secs(60);
const APP: &str = "bel-slots-writer";

/// Writers append 1 or 2 events per transaction and commit, roll back, or prepare and commit
/// the prepared transaction from another session; a killer terminates one of them every few
/// ms, wherever it is (between nextval and its slot's publication too, by chance). Followers
/// page from 0 the whole time; at the end each has exactly the committed events, in order.
#[tokio::test]
async fn followers_lose_nothing_while_writers_are_terminated_at_random() {
    let dsn = fresh_db("slots_killed").await;
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let (dsn, stop) = (dsn.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 0u64;
            let mut terminated = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let Ok((c, conn)) =
                    tokio_postgres::connect(&format!("{dsn} application_name={APP}"), tokio_postgres::NoTls).await
                else {
                    continue;
                };
                tokio::spawn(async move {
                    let _ = conn.await;
                });
                let coordinator = connect(&dsn).await;
                loop {
                    if stop.load(Ordering::Relaxed) {
                        return terminated;
                    }
                    n += 1;
                    let build = format!("k{w}-{n}");
                    let (two, ending) = (rand::thread_rng().gen_bool(0.5), rand::thread_rng().gen_range(0..10));
                    let outcome: Result<(), tokio_postgres::Error> = async {
                        c.batch_execute("BEGIN").await?;
                        append(&c, &build_event(&build, "RECEIVED", &[&format!("k{w}/{n}")])).await?;
                        if two {
                            append(&c, &build_event(&build, "PLANNING", &[])).await?;
                        }
                        match ending {
                            0 => c.batch_execute("ROLLBACK").await?,
                            1 => {
                                let gid = format!("bel-slots-{w}-{n}");
                                c.batch_execute(&format!("PREPARE TRANSACTION '{gid}'")).await?;
                                coordinator.batch_execute(&format!("COMMIT PREPARED '{gid}'")).await?;
                            }
                            _ => c.batch_execute("COMMIT").await?,
                        }
                        Ok(())
                    }
                    .await;
                    if outcome.is_err() {
                        if c.is_closed() {
                            terminated += 1;
                            break; // terminated: connect again
                        }
                        let _ = c.batch_execute("ROLLBACK").await;
                    }
                }
            }
            terminated
        }));
    }
    let killer = {
        let (dsn, stop) = (dsn.clone(), stop.clone());
        tokio::spawn(async move {
            let admin = connect(&dsn).await;
            let mut kills = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let pause = rand::thread_rng().gen_range(5..40);
                sleep_ms(pause).await;
                let row = admin
                    .query_one(
                        "SELECT count(pg_terminate_backend(pid)) FROM (SELECT pid FROM pg_stat_activity \
                         WHERE application_name = $1 ORDER BY random() LIMIT 1) s",
                        &[&APP],
                    )
                    .await
                    .unwrap();
                kills += row.get::<_, i64>(0) as u32;
            }
            kills
        })
    };
    // Set once the writers stopped and every prepared transaction was resolved.
    let drain = Arc::new(AtomicBool::new(false));
    let mut followers = Vec::new();
    for _ in 0..2 {
        let (dsn, drain) = (dsn.clone(), drain.clone());
        followers.push(tokio::spawn(async move {
            let f = connect(&dsn).await;
            let mut seen: Vec<i64> = Vec::new();
            let mut cursor = 0i64;
            let mut drain_deadline: Option<Instant> = None;
            loop {
                let p = page(&f, cursor, "{}", 50).await.unwrap();
                seen.extend(idxs(&p));
                cursor = p.next_idx;
                if drain.load(Ordering::Relaxed) {
                    // Writers are done and every prepared transaction resolved: drain to the
                    // last committed idx.
                    let deadline = *drain_deadline.get_or_insert_with(|| Instant::now() + DRAIN_WITHIN);
                    let last = count(&f, "SELECT coalesce(max(idx), 0) FROM bel.events").await;
                    if cursor >= last && !p.has_more {
                        return seen;
                    }
                    assert!(Instant::now() < deadline, "follower stuck at {cursor} below {last}: {p:?}");
                }
                if !p.has_more {
                    sleep_ms(2).await;
                }
            }
        }));
    }
    sleep_ms(WRITE_FOR.as_millis() as u64).await;
    // Writers first, then the followers' drain.
    stop.store(true, Ordering::Relaxed);
    let kills = killer.await.unwrap();
    let mut terminated = 0;
    for w in writers {
        terminated += w.await.unwrap();
    }
    // A writer terminated between PREPARE and COMMIT PREPARED leaves a prepared append.
    let admin = connect(&dsn).await;
    for row in admin.query("SELECT gid FROM pg_prepared_xacts WHERE database = current_database()", &[]).await.unwrap()
    {
        let gid: String = row.get(0);
        admin.batch_execute(&format!("COMMIT PREPARED '{gid}'")).await.unwrap();
    }
    drain.store(true, Ordering::Relaxed);
    let committed: Vec<i64> =
        admin.query("SELECT idx FROM bel.events ORDER BY idx", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert!(committed.len() > 100, "too few commits to mean anything: {}", committed.len());
    assert!(kills > 20 && terminated > 0, "too few terminations: {kills} kills, {terminated} seen by writers");
    for f in followers {
        let seen = f.await.unwrap();
        assert_eq!(seen.len(), committed.len(), "a follower missed or repeated events");
        assert_eq!(seen, committed, "a follower's events differ from the committed ones");
    }
    assert_eq!(count(&admin, "SELECT count(*) FROM bel.verify()").await, 0);
}

/// A PREPARE that fails after bel listed the transaction as prepared (here: its identifier is
/// taken) rolls back: the stale entry is pruned, and followers are held only by the prepared
/// transaction that does exist.
#[tokio::test]
async fn a_prepare_that_fails_holds_no_follower() {
    let dsn = fresh_db("slots_prepare_fails").await;
    let (x, w, o, f) = (connect(&dsn).await, connect(&dsn).await, connect(&dsn).await, connect(&dsn).await);
    x.batch_execute("BEGIN").await.unwrap();
    let a = append(&x, &build_event("bx", "RECEIVED", &["p/x"])).await.unwrap();
    x.batch_execute("PREPARE TRANSACTION 'bel-slots-taken'").await.unwrap();

    w.batch_execute("BEGIN").await.unwrap();
    let c = append(&w, &build_event("bw", "RECEIVED", &["p/w"])).await.unwrap();
    let refused = w.batch_execute("PREPARE TRANSACTION 'bel-slots-taken'").await;
    assert!(refused.is_err(), "a second PREPARE with the same identifier must fail");
    // Whatever state the failed PREPARE left the session in, the transaction is gone after this.
    let _ = w.batch_execute("ROLLBACK").await;
    let b = append(&o, &build_event("bo", "RECEIVED", &["p/o"])).await.unwrap();
    assert!(a < c && c < b);

    let p = page(&f, 0, "{}", 100).await.unwrap();
    assert_eq!((idxs(&p), p.next_idx, p.in_flight_idx), (vec![], a - 1, a), "held by the prepared transaction only");
    x.batch_execute("COMMIT PREPARED 'bel-slots-taken'").await.unwrap();
    let p = page(&f, 0, "{}", 100).await.unwrap();
    assert_eq!(idxs(&p), vec![a, b], "the failed PREPARE's append rolled back and holds nothing");
    assert_eq!((p.next_idx, p.in_flight_idx), (b, 0));
    assert_eq!(count(&f, "SELECT count(*) FROM bel.events WHERE build_request_id = 'bw'").await, 0);
}
