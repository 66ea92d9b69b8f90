//! Crash recovery (issue 11, item 8): SIGKILL of the postmaster under 8 writers and 4
//! followers, 5 times, on a private cluster of its own (see cluster.rs).
//!
//! Writers record an append as acknowledged when its COMMIT (or COMMIT PREPARED: two of the
//! writers prepare every transaction) returned OK. A transaction cut by a crash is in
//! doubt: the writer first commits it if the restart left it prepared, otherwise sends the
//! same events again, with the same eventIds, so bel either returns the stored idx (it had
//! committed) or appends them (it had not). Followers keep their cursor across crashes and
//! resume from it.
//! Checked after every restart: every acknowledged append is present with its idx, the
//! sequence is past every idx anybody saw; at the end: `bel.verify()` is empty, no idx was
//! ever given to two events, every follower saw exactly the log's matching events in order.
mod cluster;
#[path = "../support/mod.rs"]
mod support;
mod workload;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use bel_core::filter::CompiledFilter;
use cluster::{Crash, CrashCluster};
use rand::Rng;
use support::{connect, count, page};
use workload::{Shared, FILTERS};

const CRASHES: usize = 5;
/// Acknowledged appends between two crashes (and after the last): the load is really running.
const PROGRESS_PER_ROUND: usize = 150;
const PROGRESS_WITHIN: Duration = Duration::from_secs(60);

async fn fresh_db(cluster: &CrashCluster, db: &str) -> String {
    let admin = connect(&cluster.dsn("postgres")).await;
    admin.batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")).await.expect("drop db");
    admin.batch_execute(&format!("CREATE DATABASE {db}")).await.expect("create db");
    let dsn = cluster.dsn(db);
    connect(&dsn).await.batch_execute("CREATE EXTENSION bel").await.expect("create extension");
    dsn
}

async fn crash_and_restart(cluster: &'static CrashCluster, how: Crash) {
    tokio::task::spawn_blocking(move || {
        cluster.crash(how);
        cluster.start();
    })
    .await
    .expect("crash and restart");
}

/// The stored idx of every eventId in the log.
async fn stored_ids(dsn: &str) -> HashMap<String, i64> {
    let c = connect(dsn).await;
    c.query("SELECT event_id, idx FROM bel.events", &[])
        .await
        .expect("read the log")
        .into_iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1)))
        .collect()
}

/// Every acknowledged append is in the log, at the idx its writer was given.
fn assert_acknowledged_present(stored: &HashMap<String, i64>, acked: &[(i64, String)], when: &str) {
    let lost: Vec<_> = acked.iter().filter(|(idx, id)| stored.get(id) != Some(idx)).take(10).collect();
    assert!(lost.is_empty(), "{when}: acknowledged appends missing or moved (idx, eventId), e.g. {lost:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_appends_and_cursors_survive_kill_9_of_the_postmaster() {
    let cluster: &'static CrashCluster = Box::leak(Box::new(CrashCluster::from_env()));
    tokio::task::spawn_blocking(|| cluster.start()).await.unwrap();
    let dsn = fresh_db(cluster, "bel_crash").await;
    let shared = Shared::new();
    let (writers, followers) = workload::spawn(&dsn, &shared);
    let started = Instant::now();

    for round in 0..CRASHES {
        shared.wait_for_acks(PROGRESS_PER_ROUND, PROGRESS_WITHIN).await;
        let extra_ms = rand::thread_rng().gen_range(200..1500);
        tokio::time::sleep(Duration::from_millis(extra_ms)).await;
        let how = if round % 2 == 0 { Crash::PostmasterOnly } else { Crash::EveryProcess };
        crash_and_restart(cluster, how).await;
        // Everything acknowledged or followed before the kill is in this snapshot (a
        // commit acknowledged later only adds to it).
        let (acked, max_seen) = shared.observed();
        let c = connect(&dsn).await;
        let last_value: i64 = c.query_one("SELECT last_value FROM bel.events_idx_seq", &[]).await.unwrap().get(0);
        assert!(last_value >= max_seen, "crash {round}: the sequence went back to {last_value} below idx {max_seen}");
        assert_acknowledged_present(&stored_ids(&dsn).await, &acked, &format!("after crash {}", round + 1));
        println!("crash {} ({how:?}): {} appends acknowledged so far, all present", round + 1, acked.len());
    }
    shared.wait_for_acks(PROGRESS_PER_ROUND, PROGRESS_WITHIN).await;
    let report = workload::finish(&dsn, &shared, writers, followers).await;

    let c = connect(&dsn).await;
    let stored = stored_ids(&dsn).await;
    let (acked, _) = shared.observed();
    assert_acknowledged_present(&stored, &acked, "at the end");
    assert_eq!(count(&c, "SELECT count(*) FROM bel.verify()").await, 0, "bel.verify() finds no difference");
    assert_eq!(count(&c, "SELECT count(*) FROM pg_prepared_xacts").await, 0, "no prepared transaction left");

    // The log, as followers must have seen it; an idx given to two events would show as a
    // follower or an acknowledgement disagreeing with the log about its eventId.
    let log: Vec<(i64, serde_json::Value)> = c
        .query("SELECT idx, payload FROM bel.events ORDER BY idx", &[])
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    let by_idx: HashMap<i64, String> = stored.iter().map(|(id, idx)| (*idx, id.clone())).collect();
    for (idx, id) in &acked {
        assert_eq!(by_idx.get(idx), Some(id), "idx {idx} was acknowledged for {id}");
    }
    println!(
        "{CRASHES} crashes survived in {:?}: {} appends acknowledged, 0 lost; {} events in the log; \
         {} writer transactions cut by a crash and sent again, {} found prepared after a restart and committed",
        started.elapsed(),
        acked.len(),
        log.len(),
        report.cut,
        report.resolved_prepared
    );
    for (f, followed) in FILTERS.iter().zip(report.followed) {
        let filter = CompiledFilter::from_json(f).unwrap();
        let expected: Vec<(i64, String)> = log
            .iter()
            .filter(|(_, e)| filter.matches(&bel_core::event::from_json_value(e.clone()).expect("stored event")))
            .map(|(idx, e)| (*idx, e["eventId"].as_str().unwrap_or_default().to_owned()))
            .collect();
        println!(
            "follower {f}: saw {} of {} events, resumed {} times after a crash",
            followed.seen.len(),
            expected.len(),
            followed.reconnects
        );
        assert!(!expected.is_empty());
        let lost: Vec<_> = expected.iter().filter(|e| !followed.seen.contains(e)).take(10).collect();
        assert!(lost.is_empty(), "follower {f} lost events, e.g. {lost:?}");
        assert_eq!(followed.seen, expected, "follower {f}: exactly the matching events, in order, once");
    }
}

/// A follower's cursor must never pass an idx that a crash can hand out again. An
/// append that rolled back leaves its idx allocated only in the sequence's WAL record,
/// which nothing forces to disk (an abort does not flush); if the cursor moved past it
/// and the crash lost that record, the sequence repeats the idx for the next append
/// after restart, below the cursor: the follower would skip a committed event for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_never_passes_an_allocation_a_crash_can_undo() {
    let cluster: &'static CrashCluster = Box::leak(Box::new(CrashCluster::from_env()));
    tokio::task::spawn_blocking(|| cluster.start()).await.unwrap();
    // Keep the WAL writer from writing the rolled-back append's WAL before the kill.
    set_wal_writer_delay(cluster, Some("10s")).await;
    // Whether the lost record is really lost depends on what else wrote WAL before the
    // kill: try until the crash repeated an idx twice (every attempt checks the follower).
    let (mut attempts, mut reissued) = (0, 0);
    while attempts < 6 && reissued < 2 {
        attempts += 1;
        let dsn = fresh_db(cluster, "bel_crash_horizon").await;
        let rolled_back = rolled_back_append(&connect(&dsn).await).await.unwrap();
        let f = connect(&dsn).await;
        let before = page(&f, 0, "{}", 10).await.unwrap();
        assert!(before.events.is_empty());
        let cursor = before.next_idx;
        crash_and_restart(cluster, Crash::EveryProcess).await;

        let w = connect(&dsn).await;
        let committed = support::append(&w, &support::build_event("committed", "RECEIVED", &["p/2"])).await.unwrap();
        if committed <= rolled_back {
            reissued += 1;
        }
        let f = connect(&dsn).await;
        let after = page(&f, cursor, "{}", 10).await.unwrap();
        println!(
            "attempt {attempts}: rolled back idx {rolled_back}, cursor {cursor}, after the crash idx {committed} committed, \
             follower saw {:?}",
            after.events.iter().map(|(i, _)| *i).collect::<Vec<_>>()
        );
        assert_eq!(
            after.events.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
            vec![committed],
            "the follower resumes from its cursor {cursor} and sees the append committed after the crash"
        );
    }
    set_wal_writer_delay(cluster, None).await;
    println!("the crash handed a rolled-back idx out again in {reissued} of {attempts} attempts");
    assert!(reissued > 0, "the crash never repeated an idx: the scenario was not exercised");
}

/// The other side of that bound: once the WAL record that allocated a rolled-back idx is
/// flushed (here by a CHECKPOINT), no crash can hand the idx out again, so the horizon passes
/// it without waiting for a commit above it (its `max(idx)` probe is skipped,
/// docs/no-loss-cursor.md), and the append after the crash gets a new idx.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_passes_a_rolled_back_allocation_once_its_wal_is_flushed() {
    let cluster: &'static CrashCluster = Box::leak(Box::new(CrashCluster::from_env()));
    tokio::task::spawn_blocking(|| cluster.start()).await.unwrap();
    let dsn = fresh_db(cluster, "bel_crash_flushed").await;
    let w = connect(&dsn).await;
    let rolled_back = rolled_back_append(&w).await.unwrap();
    w.batch_execute("CHECKPOINT").await.unwrap();
    let f = connect(&dsn).await;
    let before = page(&f, 0, "{}", 10).await.unwrap();
    assert!(before.events.is_empty());
    assert_eq!(before.next_idx, rolled_back, "the cursor passes the flushed rolled-back allocation");
    crash_and_restart(cluster, Crash::EveryProcess).await;

    let w = connect(&dsn).await;
    let committed = support::append(&w, &support::build_event("committed", "RECEIVED", &["p/2"])).await.unwrap();
    assert!(committed > rolled_back, "a crash handed the flushed allocation {rolled_back} out again");
    let f = connect(&dsn).await;
    let after = page(&f, before.next_idx, "{}", 10).await.unwrap();
    assert_eq!(after.events.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![committed]);

    // With synchronous replication configured a local flush is not enough (a failover to the
    // synchronous standby could hand the idx out again): the horizon stays at the last commit.
    // (Nothing here commits a write while it is set: such a commit would wait for the standby.)
    let dsn = fresh_db(cluster, "bel_crash_sync_rep").await;
    set_synchronous_standby_names(cluster, "no_such_standby").await;
    let w = connect(&dsn).await;
    let held = async {
        let rolled_back = rolled_back_append(&w).await?;
        w.batch_execute("CHECKPOINT").await?;
        Ok::<_, tokio_postgres::Error>((rolled_back, page(&connect(&dsn).await, 0, "{}", 10).await?))
    }
    .await;
    set_synchronous_standby_names(cluster, "").await;
    let (rolled_back, held) = held.unwrap();
    assert_eq!(
        held.next_idx, 0,
        "with a synchronous standby configured, the flushed allocation {rolled_back} is passed"
    );
}

/// A reader inside its own append transaction sees its own appends, so its cursor may pass
/// its own first idx; if the transaction then rolls back and the server crashes before that
/// allocation's WAL is flushed, the idx is handed out again, below the cursor. The read
/// flushes the allocation first (no_loss/horizon.rs), so the append after the crash gets a
/// new idx and the cursor sees it. With synchronous replication configured a local flush
/// does not decide, and the cursor stays below the reader's own appends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cursor_read_inside_its_own_append_never_passes_an_allocation_a_crash_can_undo() {
    let cluster: &'static CrashCluster = Box::leak(Box::new(CrashCluster::from_env()));
    tokio::task::spawn_blocking(|| cluster.start()).await.unwrap();
    // Keep the WAL writer from writing the rolled-back append's WAL before the kill.
    set_wal_writer_delay(cluster, Some("10s")).await;
    for attempt in 1..=3 {
        let dsn = fresh_db(cluster, "bel_crash_own_read").await;
        let w = connect(&dsn).await;
        w.batch_execute("BEGIN").await.unwrap();
        let own = support::append(&w, &support::build_event("rolled-back", "RECEIVED", &["p/1"])).await.unwrap();
        let read = page(&w, 0, "{}", 10).await.unwrap();
        w.batch_execute("ROLLBACK").await.unwrap();
        assert_eq!(read.events.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![own], "it reads its own append");
        let cursor = read.next_idx;
        assert!(cursor >= own, "the cursor {cursor} passed its own append {own}");
        crash_and_restart(cluster, Crash::EveryProcess).await;

        let w = connect(&dsn).await;
        let committed = support::append(&w, &support::build_event("committed", "RECEIVED", &["p/2"])).await.unwrap();
        let after = page(&connect(&dsn).await, cursor, "{}", 10).await.unwrap();
        println!("attempt {attempt}: own idx {own}, cursor {cursor}, after the crash idx {committed} committed");
        assert!(committed > own, "the crash handed the idx {own}, which the cursor passed, out again");
        assert_eq!(after.events.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![committed]);
    }
    set_wal_writer_delay(cluster, None).await;

    let dsn = fresh_db(cluster, "bel_crash_own_read_sync_rep").await;
    set_synchronous_standby_names(cluster, "no_such_standby").await;
    let w = connect(&dsn).await;
    let held = async {
        w.batch_execute("BEGIN").await?;
        let own = support::append(&w, &support::build_event("own", "RECEIVED", &["p/1"])).await?;
        let read = page(&w, 0, "{}", 10).await?;
        w.batch_execute("ROLLBACK").await?;
        Ok::<_, tokio_postgres::Error>((own, read))
    }
    .await;
    set_synchronous_standby_names(cluster, "").await;
    let (own, read) = held.unwrap();
    assert!(
        read.events.is_empty() && read.next_idx < own,
        "with a synchronous standby configured the cursor passed its own append {own}: {:?}",
        read.next_idx
    );
}

/// Appends a build request in a transaction that rolls back; returns the idx it had.
async fn rolled_back_append(w: &tokio_postgres::Client) -> Result<i64, tokio_postgres::Error> {
    w.batch_execute("BEGIN").await?;
    let idx = support::append(w, &support::build_event("rolled-back", "RECEIVED", &["p/1"])).await?;
    w.batch_execute("ROLLBACK").await?;
    Ok(idx)
}

/// Sets wal_writer_delay for the cluster (None: resets it) and reloads the configuration.
async fn set_wal_writer_delay(cluster: &CrashCluster, value: Option<&str>) {
    let admin = connect(&cluster.dsn("postgres")).await;
    let change = match value {
        Some(value) => format!("ALTER SYSTEM SET wal_writer_delay = '{value}'"),
        None => "ALTER SYSTEM RESET wal_writer_delay".to_owned(),
    };
    admin.batch_execute(&change).await.unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").await.unwrap();
}

/// Sets synchronous_standby_names for the cluster and waits until new sessions see it.
async fn set_synchronous_standby_names(cluster: &CrashCluster, names: &str) {
    let admin = connect(&cluster.dsn("postgres")).await;
    admin.batch_execute(&format!("ALTER SYSTEM SET synchronous_standby_names = '{names}'")).await.unwrap();
    admin.batch_execute("SELECT pg_reload_conf()").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let c = connect(&cluster.dsn("postgres")).await;
        let shown: String = c.query_one("SHOW synchronous_standby_names", &[]).await.unwrap().get(0);
        if shown == names {
            return;
        }
        assert!(Instant::now() < deadline, "synchronous_standby_names is still {shown:?}, not {names:?}");
        tokio::task::yield_now().await;
    }
}

/// With bel preloaded (the crash step's cluster), readers learn of prepared appends from a list
/// in shared memory, which a restart empties while the prepared transactions survive with
/// their in-flight locks: the first reader after the restart copies those locks into the list.
/// A follower must stop below a prepared append after a crash, and see it after COMMIT PREPARED.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prepared_append_holds_followers_across_a_crash() {
    let cluster: &'static CrashCluster = Box::leak(Box::new(CrashCluster::from_env()));
    tokio::task::spawn_blocking(|| cluster.start()).await.unwrap();
    let dsn = fresh_db(cluster, "bel_crash_prepared").await;
    let w = connect(&dsn).await;
    w.batch_execute("BEGIN").await.unwrap();
    let prepared = support::append(&w, &support::build_event("prepared", "RECEIVED", &["p/1"])).await.unwrap();
    w.batch_execute("PREPARE TRANSACTION 'bel-crash-prepared'").await.unwrap();
    let later = support::append(&w, &support::build_event("later", "RECEIVED", &["p/2"])).await.unwrap();
    let f = connect(&dsn).await;
    let before = page(&f, 0, "{}", 10).await.unwrap();
    assert_eq!((before.events.len(), before.in_flight_idx), (0, prepared));

    crash_and_restart(cluster, Crash::EveryProcess).await;
    let f = connect(&dsn).await;
    if let Ok(expected) = std::env::var("BEL_TEST_IN_FLIGHT_SLOTS") {
        page(&f, 0, "{}", 1).await.unwrap();
        let have: String = f.query_one("SELECT current_setting('bel.in_flight_slots')", &[]).await.unwrap().get(0);
        assert_eq!(have, expected, "bel.in_flight_slots");
    }
    let after = page(&f, 0, "{}", 10).await.unwrap();
    assert_eq!(
        (after.events.len(), after.next_idx, after.in_flight_idx),
        (0, prepared - 1, prepared),
        "after the restart the follower still stops below the prepared append"
    );
    f.batch_execute("COMMIT PREPARED 'bel-crash-prepared'").await.unwrap();
    let done = page(&f, 0, "{}", 10).await.unwrap();
    assert_eq!(done.events.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![prepared, later]);
}
