//! `bel-bench-follow`: the measuring program of `scripts/bench-follow.sh` (which sets up
//! the cluster and `bel serve`, and passes their coordinates). A benchmark, not a test: it
//! prints numbers and the targets next to them, and fails only when it cannot
//! measure.
//!
//! 1. Latency, in interleaved rounds for each writer load: while `--writers` writers append
//!    in the background, one appender appends `--events` events at `--rate` per second,
//!    each in its own transaction; followers started at the tail receive them:
//!    - bel: the client's SQL `subscribe`, its HTTP `subscribe` (long polls against
//!      `bel serve`), and a LISTEN-and-poll follower of `bel.list_events_page`;
//!    - the baseline: a LISTEN-and-poll follower of a plain INSERT + NOTIFY table, with
//!      the writers appending to that table.
//! 2. Capacity: `--polls` idle long polls held by `bel serve` (one shared filter, then a
//!    filter each): its RSS, CPU while idle, database connections, and how long until all
//!    polls answered after one matching commit.
mod capacity;
mod events;
mod floor;
mod followers;
mod latency;
mod load;
mod proc_stat;
mod stats;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use capacity::{CapacityResult, CapacitySettings, Filters};
use events::Target;
use followers::Kind;
use latency::{PhaseResult, PhaseSettings};
use stats::{ms, Latencies};

/// Any error the benchmark stops on.
pub type Failure = Box<dyn std::error::Error + Send + Sync>;

/// The targets (issue 12, "What it must show").
const SQL_P99_TARGET: Duration = Duration::from_millis(10);
const HTTP_P99_TARGET: Duration = Duration::from_millis(25);
const RSS_TARGET_KIB: u64 = 64 * 1024;
const IDLE_CPU_TARGET_PERCENT: f64 = 5.0;

#[derive(Debug, Parser)]
#[command(about = "Append-to-follower latency over SQL and HTTP, and bel serve's long-poll capacity")]
struct Args {
    /// A database with the bel extension and the baseline table bench.plain_events.
    #[arg(long)]
    dsn: String,
    /// The base URL of `bel serve` on that database.
    #[arg(long)]
    http_url: String,
    /// The process id of that `bel serve` (its /proc is read).
    #[arg(long)]
    serve_pid: u32,
    /// The application_name of its database connections (set in its --dsn).
    #[arg(long)]
    serve_application_name: String,
    /// Its --pool-size.
    #[arg(long)]
    serve_pool_size: i64,
    /// Clock ticks per second of /proc/<pid>/stat (`getconf CLK_TCK`).
    #[arg(long, default_value_t = 100)]
    clock_ticks: u64,
    /// Measured events per round and follower phase.
    #[arg(long, default_value_t = 2000)]
    events: usize,
    /// Measured events per second.
    #[arg(long, default_value_t = 200)]
    rate: u32,
    /// Background writers.
    #[arg(long, default_value_t = 8)]
    writers: usize,
    /// Their total rates, events per second, one latency run each (0: as fast as they can).
    #[arg(long, value_delimiter = ',', default_value = "2000,0")]
    writer_rates: Vec<u32>,
    /// Interleaved rounds (bel, baseline, bel, baseline, ...) per writer rate.
    #[arg(long, default_value_t = 1)]
    rounds: usize,
    /// Concurrent idle long polls.
    #[arg(long, default_value_t = 500)]
    polls: usize,
    /// Seconds the server's CPU is measured while the polls wait (1..=20).
    #[arg(long, default_value_t = 10)]
    idle_seconds: u64,
    /// Unique per run (event ids and partitions carry it).
    #[arg(long)]
    run_tag: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.rate == 0 || args.events == 0 || args.rounds == 0 || !(1..=20).contains(&args.idle_seconds) {
        eprintln!("[bench] --rate, --events, --rounds must be positive and --idle-seconds 1..=20");
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("[bench] cannot start a runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(&args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("[bench] ERROR: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<(), Failure> {
    let load_before = proc_stat::load_average();
    let mut phases = Vec::new();
    for &writer_rate in &args.writer_rates {
        for round in 1..=args.rounds {
            for target in [Target::Bel, Target::Plain] {
                let tag = format!("{}-{}-{}-{round}", args.run_tag, writer_rate, target_name(target));
                eprintln!(
                    "[bench] latency: {} writers at {}, {} events at {}/s into {}, round {round}/{}",
                    args.writers,
                    rate_text(writer_rate),
                    args.events,
                    args.rate,
                    target_name(target),
                    args.rounds
                );
                phases.push(
                    latency::run(PhaseSettings {
                        dsn: args.dsn.clone(),
                        http_url: args.http_url.clone(),
                        target,
                        writers: args.writers,
                        writer_rate,
                        events: args.events,
                        rate: args.rate,
                        tag,
                    })
                    .await?,
                );
            }
        }
    }
    let capacity_settings = CapacitySettings {
        dsn: args.dsn.clone(),
        http_url: args.http_url.clone(),
        serve_pid: args.serve_pid,
        serve_application_name: args.serve_application_name.clone(),
        clock_ticks_per_second: args.clock_ticks,
        polls: args.polls,
        idle: Duration::from_secs(args.idle_seconds),
        tag: args.run_tag.clone(),
    };
    let mut capacities = Vec::new();
    for filters in [Filters::Shared, Filters::Distinct] {
        eprintln!("[bench] capacity: {} idle long polls, {}", args.polls, filters.describe());
        let settings = CapacitySettings { tag: format!("{}-{:?}", args.run_tag, filters), ..capacity_settings.clone() };
        capacities.push(capacity::run(&settings, filters).await?);
    }
    print_report(args, &phases, &capacities, &load_before);
    Ok(())
}

fn target_name(target: Target) -> &'static str {
    match target {
        Target::Bel => "bel",
        Target::Plain => "plain",
    }
}

fn rate_text(writer_rate: u32) -> String {
    if writer_rate == 0 {
        "full speed".into()
    } else {
        format!("{writer_rate}/s")
    }
}

fn print_report(args: &Args, phases: &[PhaseResult], capacities: &[CapacityResult], load_before: &str) {
    println!();
    println!(
        "bel follow benchmark: {} cores; load average (1/5/15 min) {load_before} before, {} after \
         (the machine is shared: other work runs meanwhile)",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        proc_stat::load_average()
    );
    println!(
        "Latency: from the appending transaction's COMMIT returning to the follower receiving the event; \
         {} events per round at {}/s, {} round(s), {} background writers",
        args.events, args.rate, args.rounds, args.writers
    );
    println!();
    println!(
        "{:<12} {:>14} {:<40} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8}",
        "writers", "writes/s", "follower", "events", "missed", "p50 ms", "p90 ms", "p99 ms", "max ms"
    );
    let mut checks = Vec::new();
    let mut split_rows = Vec::new();
    for &writer_rate in &args.writer_rates {
        let of_rate: Vec<&PhaseResult> = phases.iter().filter(|p| p.settings.writer_rate == writer_rate).collect();
        for kind in [Kind::SqlSubscribe, Kind::HttpSubscribe, Kind::BelListenPoll, Kind::PlainListenPoll] {
            let results: Vec<_> = of_rate
                .iter()
                .flat_map(|phase| phase.followers.iter().filter(|f| f.kind == kind).map(move |f| (*phase, f)))
                .collect();
            if results.is_empty() {
                continue;
            }
            let latencies = Latencies::merge(results.iter().map(|(_, f)| &f.latencies));
            let missed: usize = results.iter().map(|(_, f)| f.missed).sum();
            let wrong: usize = results.iter().map(|(_, f)| f.wrong).sum();
            let early: usize = results.iter().map(|(_, f)| f.before_commit_returned).sum();
            let appended: usize = results.iter().map(|(phase, _)| phase.appended).sum();
            let writes: f64 = results.iter().map(|(phase, _)| phase.load.rate()).sum::<f64>() / results.len() as f64;
            let append_rate: f64 =
                results.iter().map(|(phase, _)| phase.append_rate).sum::<f64>() / results.len() as f64;
            println!(
                "{:<12} {:>14} {:<40} {:>8} {:>6} {:>8} {:>8} {:>8} {:>8}{}",
                rate_text(writer_rate),
                format!("{writes:.0} + {append_rate:.0}"),
                kind.describe(),
                appended,
                missed,
                ms(latencies.percentile(50.0)),
                ms(latencies.percentile(90.0)),
                ms(latencies.percentile(99.0)),
                ms(latencies.max()),
                notes(wrong, early)
            );
            let floor_waits = Latencies::merge(results.iter().map(|(_, f)| &f.floor_waits));
            let server_floor_waits: Vec<&Latencies> =
                results.iter().filter_map(|(phase, _)| phase.server_floor_waits.as_ref()).collect();
            let server_floor99 = (!server_floor_waits.is_empty())
                .then(|| Latencies::merge(server_floor_waits).percentile(99.0))
                .flatten();
            let own_parts = Latencies::merge(results.iter().map(|(_, f)| &f.own_parts));
            split_rows.push(format!(
                "{:<12} {:<40} {:>8} {:>8} {:>10} {:>8} {:>8}",
                rate_text(writer_rate),
                kind.describe(),
                ms(floor_waits.percentile(50.0)),
                ms(floor_waits.percentile(99.0)),
                ms(server_floor99),
                ms(own_parts.percentile(50.0)),
                ms(own_parts.percentile(99.0)),
            ));
            let target = match kind {
                Kind::SqlSubscribe => Some(SQL_P99_TARGET),
                Kind::HttpSubscribe => Some(HTTP_P99_TARGET),
                Kind::BelListenPoll | Kind::PlainListenPoll => None,
            };
            if let (Some(target), Some(p99)) = (target, latencies.percentile(99.0)) {
                checks.push(check(
                    p99 < target && missed == 0 && wrong == 0,
                    format!(
                        "{} p99 < {} ms, none missed, writers {}: p99 {} ms, missed {missed}",
                        kind.describe(),
                        target.as_millis(),
                        rate_text(writer_rate),
                        ms(Some(p99))
                    ),
                ));
            }
        }
    }
    println!("(writes/s: background writers + measured appender, achieved)");
    println!();
    println!(
        "Where the latency goes (floor.rs): waiting for the slowest COMMIT of a smaller idx (the floor: \
         no exact follower delivers before it; the baseline does not wait for it, which is how it loses \
         events), and the follower's own part after it"
    );
    println!(
        "(floor: from the COMMIT returns the benchmark saw, an upper bound; srv floor99: from the server's commit \
         timestamps, written before each commit's WAL flush, a lower bound; - when track_commit_timestamp is off)"
    );
    println!(
        "{:<12} {:<40} {:>8} {:>8} {:>10} {:>8} {:>8}",
        "writers", "follower", "floor50", "floor99", "srvfloor99", "own50", "own99"
    );
    for row in split_rows {
        println!("{row}");
    }
    println!();
    println!(
        "Capacity: idle long polls (wait_ms=30000) held by one bel serve (pid {}, pool size {})",
        args.serve_pid, args.serve_pool_size
    );
    println!(
        "{:<20} {:>6} {:>10} {:>11} {:>10} {:>9} {:>14} {:>12} {:>12} {:>9}",
        "filters",
        "polls",
        "RSS before",
        "RSS waiting",
        "RSS after",
        "idle CPU",
        "db conns idle",
        "db conns end",
        "wake p50 ms",
        "all ms"
    );
    for result in capacities {
        println!(
            "{:<20} {:>6} {:>10} {:>11} {:>10} {:>8.2}% {:>14} {:>12} {:>12} {:>9}",
            result.filters.describe(),
            result.polls,
            mib(result.rss_before_kib),
            mib(result.rss_waiting_kib),
            mib(result.rss_after_kib),
            result.idle_cpu_percent,
            result.connections_waiting,
            result.connections_after,
            ms(result.wake.percentile(50.0)),
            ms(result.wake.max()),
        );
        let name = result.filters.describe();
        checks.push(check(
            result.rss_waiting_kib < RSS_TARGET_KIB,
            format!("{name}: RSS with {} polls waiting < 64 MiB: {}", result.polls, mib(result.rss_waiting_kib)),
        ));
        checks.push(check(
            result.idle_cpu_percent < IDLE_CPU_TARGET_PERCENT,
            format!("{name}: CPU while idle < 5% of a core: {:.2}%", result.idle_cpu_percent),
        ));
        let most = args.serve_pool_size + 1;
        checks.push(check(
            result.connections_waiting <= most && result.connections_after <= most,
            format!(
                "{name}: database connections <= pool size + 1 = {most}: {} waiting, {} after the wake-up",
                result.connections_waiting, result.connections_after
            ),
        ));
        checks.push(check(
            result.answered_with_event == result.polls,
            format!(
                "{name}: every poll answered with the event: {} of {}, the last {} ms after the COMMIT",
                result.answered_with_event,
                result.polls,
                ms(result.wake.max())
            ),
        ));
    }
    println!();
    println!("Targets (issue 12):");
    for line in checks {
        println!("  {line}");
    }
}

fn check(passed: bool, text: String) -> String {
    format!("{}  {text}", if passed { "PASS" } else { "MISS" })
}

fn notes(wrong: usize, early: usize) -> String {
    let mut notes = Vec::new();
    if wrong > 0 {
        notes.push(format!("{wrong} repeated or with a wrong eventId"));
    }
    if early > 0 {
        notes.push(format!("{early} before the COMMIT call returned (0 ms)"));
    }
    if notes.is_empty() {
        String::new()
    } else {
        format!("  ({})", notes.join("; "))
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}
