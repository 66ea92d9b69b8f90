//! bel-soak: the load of scripts/soak.sh (a bounded soak, not a test). Writers append whole
//! build lifecycles, one event per transaction, while followers page through the whole log
//! with the no-loss cursor (binary pages, NOTIFY wake-ups, `bel.wait_for_append` below an
//! append in flight). After a warm-up it samples the resident memory of every writer and
//! follower backend, again at the end of the run (under load), then stops the writers and
//! lets the followers drain. Prints throughput (whole run and per window), append latency
//! and follower lag percentiles, backend memory at start and end; exits 1 if a follower
//! missed, repeated or reordered an event, or a backend's private memory (RssAnon) grew by
//! more than SOAK_RSS_TOLERANCE_KB.
//!
//! Environment: SOAK_DSN (required: a database with bel created), SOAK_SECONDS (300),
//! SOAK_WRITERS (8), SOAK_FOLLOWERS (16), SOAK_RSS_TOLERANCE_KB (see DEFAULT_RSS_TOLERANCE_KB).
#[path = "../../tests/support/mod.rs"]
mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bel_core::pb::EventPage;
use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_postgres::{AsyncMessage, Client, NoTls};

/// Growth of a backend's private memory (RssAnon) from the sample after the warm-up to the
/// one at the end that counts as a leak. Caches that warm up for longer than the warm-up
/// (catalog and plan caches, per-backend statement caches) stay well below it.
const DEFAULT_RSS_TOLERANCE_KB: u64 = 4096;
const WINDOW: Duration = Duration::from_secs(30);
const DRAIN_WITHIN: Duration = Duration::from_secs(120);
const PAGE_LIMIT: i32 = 1000;

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| fail(&format!("{name}={v} is not a valid value"))),
        Err(_) => default,
    }
}

fn fail(message: &str) -> ! {
    eprintln!("[soak] ERROR: {message}");
    std::process::exit(1)
}

async fn connect(dsn: &str, listen: bool) -> (Client, i32, UnboundedReceiver<()>) {
    let (client, mut connection) =
        tokio_postgres::connect(dsn, NoTls).await.unwrap_or_else(|e| fail(&format!("connect: {e}")));
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(Ok(message)) = messages.next().await {
            if let AsyncMessage::Notification(_) = message {
                let _ = tx.send(());
            }
        }
    });
    if listen {
        client.batch_execute("LISTEN bel_events").await.unwrap_or_else(|e| fail(&format!("LISTEN: {e}")));
    }
    let pid: i32 = client.query_one("SELECT pg_backend_pid()", &[]).await.expect("pid").get(0);
    (client, pid, rx)
}

/// Memory of one backend from /proc/<pid>/status, in kB.
#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    total: u64,
    anon: u64,
    shmem: u64,
}

fn rss_of(pid: i32) -> Rss {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| fail(&format!("/proc/{pid}/status: {e} (is the cluster on this machine?)")));
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    };
    Rss { total: field("VmRSS:"), anon: field("RssAnon:"), shmem: field("RssShmem:") }
}

struct Writer {
    latencies_us: Vec<u32>,
    /// Appends completed in each WINDOW since the start.
    per_window: Vec<u64>,
}

async fn writer(client: Client, w: usize, started: Instant, deadline: Instant, appended: Arc<AtomicU64>) -> Writer {
    let mut out = Writer { latencies_us: Vec::new(), per_window: Vec::new() };
    let mut build = 0;
    while Instant::now() < deadline {
        build += 1;
        let events = support::full_build(
            &format!("s{w}-b{build}"),
            &format!("soak/w{w}/{build}"),
            &format!("s{w}-j{build}"),
            "soak",
        );
        for e in events {
            let t0 = Instant::now();
            client
                .query_one("SELECT bel.bel_append($1::text)", &[&e])
                .await
                .unwrap_or_else(|err| fail(&format!("writer {w}: {err}")));
            let done = Instant::now();
            out.latencies_us.push(u32::try_from((done - t0).as_micros()).unwrap_or(u32::MAX));
            let window = ((done - started).as_secs() / WINDOW.as_secs()) as usize;
            if out.per_window.len() <= window {
                out.per_window.resize(window + 1, 0);
            }
            out.per_window[window] += 1;
            appended.fetch_add(1, Ordering::Relaxed);
        }
    }
    out
}

struct Follower {
    lag_us: Vec<u32>,
    events: u64,
    last_idx: i64,
}

fn unix_micros(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map(|d| d.as_micros() as i64).unwrap_or(0)
}

async fn follower(
    client: Client,
    mut wakeups: UnboundedReceiver<()>,
    f: usize,
    stop: Arc<AtomicBool>,
    target: Arc<AtomicU64>,
) -> Follower {
    let mut out = Follower { lag_us: Vec::new(), events: 0, last_idx: 0 };
    let mut cursor = 0i64;
    let mut drain_started: Option<Instant> = None;
    loop {
        let bytes: Vec<u8> = client
            .query_one("SELECT bel.list_events_page($1::bigint, ''::bytea, $2::int)", &[&cursor, &PAGE_LIMIT])
            .await
            .unwrap_or_else(|e| fail(&format!("follower {f}: {e}")))
            .get(0);
        let page: EventPage = prost::Message::decode(bytes.as_slice()).unwrap_or_else(|e| fail(&format!("page: {e}")));
        let now = unix_micros(SystemTime::now());
        for e in &page.events {
            if e.idx <= out.last_idx {
                fail(&format!("follower {f}: idx {} after {}: repeated or out of order", e.idx, out.last_idx));
            }
            out.last_idx = e.idx;
            out.events += 1;
            let appended_at = e.timestamp.map_or(now, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1000);
            out.lag_us.push(u32::try_from((now - appended_at).max(0)).unwrap_or(u32::MAX));
        }
        cursor = page.next_idx.max(cursor);
        if page.has_more {
            continue;
        }
        if stop.load(Ordering::SeqCst) {
            let t = target.load(Ordering::SeqCst) as i64;
            if cursor >= t && page.in_flight_idx == 0 {
                return out;
            }
            if drain_started.get_or_insert_with(Instant::now).elapsed() > DRAIN_WITHIN {
                fail(&format!("follower {f} stalled at {cursor} (the log ends at {t})"));
            }
        }
        if page.in_flight_idx != 0 {
            client
                .query_one("SELECT bel.wait_for_append($1, 1000)", &[&page.in_flight_idx])
                .await
                .unwrap_or_else(|e| fail(&format!("follower {f}: {e}")));
        } else {
            let _ = tokio::time::timeout(Duration::from_millis(200), wakeups.recv()).await;
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn print_percentiles(what: &str, mut values: Vec<u32>) {
    values.sort_unstable();
    println!(
        "[soak] {what} (ms, {} samples): p50 {:.2}  p95 {:.2}  p99 {:.2}  max {:.2}",
        values.len(),
        percentile(&values, 0.50),
        percentile(&values, 0.95),
        percentile(&values, 0.99),
        percentile(&values, 1.0)
    );
}

/// Prints the memory of a group of backends at start and end; returns the largest growth
/// of private memory (RssAnon) of any of them, in kB.
fn report_memory(group: &str, start: &[Rss], end: &[Rss]) -> u64 {
    let median = |mut v: Vec<u64>| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let line = |when: &str, s: &[Rss]| {
        println!(
            "[soak] {group} backends, {when}: VmRSS median {} kB max {} kB; RssAnon median {} kB max {} kB; RssShmem median {} kB",
            median(s.iter().map(|r| r.total).collect()),
            s.iter().map(|r| r.total).max().unwrap_or(0),
            median(s.iter().map(|r| r.anon).collect()),
            s.iter().map(|r| r.anon).max().unwrap_or(0),
            median(s.iter().map(|r| r.shmem).collect()),
        )
    };
    line("start", start);
    line("end  ", end);
    let growth = start.iter().zip(end).map(|(s, e)| e.anon.saturating_sub(s.anon)).max().unwrap_or(0);
    println!("[soak] {group} backends: largest RssAnon growth {growth} kB");
    growth
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let dsn = std::env::var("SOAK_DSN").unwrap_or_else(|_| fail("SOAK_DSN is not set (run scripts/soak.sh)"));
    let seconds: u64 = env_or("SOAK_SECONDS", 300);
    let writers: usize = env_or("SOAK_WRITERS", 8);
    let followers: usize = env_or("SOAK_FOLLOWERS", 16);
    let tolerance_kb: u64 = env_or("SOAK_RSS_TOLERANCE_KB", DEFAULT_RSS_TOLERANCE_KB);
    if seconds < 20 || writers == 0 || followers == 0 {
        fail("SOAK_SECONDS must be >= 20, SOAK_WRITERS and SOAK_FOLLOWERS >= 1");
    }
    let warmup = Duration::from_secs((seconds / 10).clamp(5, 30));
    let run = Duration::from_secs(seconds);
    println!(
        "[soak] {writers} writers, {followers} followers, {seconds} s (memory sampled after a {}-s warm-up and at the end)",
        warmup.as_secs()
    );

    let stop = Arc::new(AtomicBool::new(false));
    let target = Arc::new(AtomicU64::new(0));
    let appended = Arc::new(AtomicU64::new(0));
    let (mut writer_pids, mut follower_pids) = (Vec::new(), Vec::new());
    let mut follower_tasks = Vec::new();
    for f in 0..followers {
        let (client, pid, wakeups) = connect(&dsn, true).await;
        follower_pids.push(pid);
        follower_tasks.push(tokio::spawn(follower(client, wakeups, f, stop.clone(), target.clone())));
    }
    let started = Instant::now();
    let deadline = started + run;
    let mut writer_tasks = Vec::new();
    for w in 0..writers {
        let (client, pid, _) = connect(&dsn, false).await;
        writer_pids.push(pid);
        writer_tasks.push(tokio::spawn(writer(client, w, started, deadline, appended.clone())));
    }

    tokio::time::sleep(warmup).await;
    let writers_start: Vec<Rss> = writer_pids.iter().map(|p| rss_of(*p)).collect();
    let followers_start: Vec<Rss> = follower_pids.iter().map(|p| rss_of(*p)).collect();
    let mut next_report = started + WINDOW;
    while Instant::now() + Duration::from_secs(1) < deadline {
        tokio::time::sleep(Duration::from_secs(1)).await;
        if Instant::now() >= next_report {
            println!("[soak] {:>4} s: {} appends", started.elapsed().as_secs(), appended.load(Ordering::Relaxed));
            next_report += WINDOW;
        }
    }
    let writers_end: Vec<Rss> = writer_pids.iter().map(|p| rss_of(*p)).collect();
    let followers_end: Vec<Rss> = follower_pids.iter().map(|p| rss_of(*p)).collect();

    let mut latencies = Vec::new();
    let mut per_window: Vec<u64> = Vec::new();
    for t in writer_tasks {
        let w = t.await.expect("writer");
        latencies.extend(w.latencies_us);
        if per_window.len() < w.per_window.len() {
            per_window.resize(w.per_window.len(), 0);
        }
        per_window.iter_mut().zip(&w.per_window).for_each(|(a, b)| *a += b);
    }
    let elapsed = started.elapsed();
    let (admin, _, _) = connect(&dsn, false).await;
    let row = admin.query_one("SELECT count(*), coalesce(max(idx), 0) FROM bel.events", &[]).await.expect("log");
    let (logged, last_idx): (i64, i64) = (row.get(0), row.get(1));
    target.store(last_idx as u64, Ordering::SeqCst);
    stop.store(true, Ordering::SeqCst);
    let drain_started = Instant::now();
    let mut lags = Vec::new();
    let mut exact = true;
    for (f, t) in follower_tasks.into_iter().enumerate() {
        let followed = t.await.expect("follower");
        if followed.events != logged as u64 || followed.last_idx != last_idx {
            println!(
                "[soak] follower {f}: saw {} events up to idx {}, the log has {logged} up to {last_idx}",
                followed.events, followed.last_idx
            );
            exact = false;
        }
        lags.extend(followed.lag_us);
    }
    let drained = drain_started.elapsed();

    let total = latencies.len();
    println!(
        "[soak] appended {total} events in {:.1} s: {:.0} appends/s; every follower saw all {logged} events in order \
         (drained {:.2} s after the writers stopped): {}",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        drained.as_secs_f64(),
        if exact { "yes" } else { "NO" }
    );
    // Whole windows only: the last one is cut short by the end of the run.
    let whole = (elapsed.as_secs() / WINDOW.as_secs()) as usize;
    let windows: Vec<String> =
        per_window.iter().take(whole).map(|n| format!("{:.0}", *n as f64 / WINDOW.as_secs_f64())).collect();
    println!("[soak] appends/s per {}-s window: {}", WINDOW.as_secs(), windows.join(" "));
    print_percentiles("append latency", latencies);
    print_percentiles("follower lag (append to the follower reading it)", lags);
    let writer_growth = report_memory("writer", &writers_start, &writers_end);
    let follower_growth = report_memory("follower", &followers_start, &followers_end);
    let mut ok = exact;
    if writer_growth.max(follower_growth) > tolerance_kb {
        println!("[soak] FAIL: a backend's private memory grew by more than {tolerance_kb} kB");
        ok = false;
    }
    if !ok {
        std::process::exit(1);
    }
    println!("[soak] PASS (memory tolerance {tolerance_kb} kB of RssAnon growth per backend)");
}
