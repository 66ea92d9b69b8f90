//! What one `bel serve` spends on many idle long polls: N concurrent
//! `GET /v1/events?...&wait_ms=30000` at the tail (each on its own HTTP connection), its
//! resident memory and CPU while they wait, the database connections it holds, and how
//! long until all N answered once one event matching them all commits.
use std::time::{Duration, Instant};

use bel_client::{reqwest, EventFilter, HttpGraphService};

use crate::events::{self, Target};
use crate::proc_stat;
use crate::stats::Latencies;
use crate::Failure;

/// The long polls' wait: the longest the server allows.
const WAIT: Duration = Duration::from_secs(30);
/// How long the polls get to reach the server and start waiting.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);

/// Whose filters the waiting polls have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filters {
    /// All the same filter (a glob): after its first page every poll asks the same query,
    /// which the server coalesces.
    Shared,
    /// Each its own partition: every poll is its own query; the waking event names all
    /// their partitions.
    Distinct,
}

impl Filters {
    pub fn describe(self) -> &'static str {
        match self {
            Filters::Shared => "one shared filter",
            Filters::Distinct => "a filter each",
        }
    }
}

#[derive(Clone)]
pub struct CapacitySettings {
    pub dsn: String,
    pub http_url: String,
    pub serve_pid: u32,
    /// The `application_name` of the server's database connections.
    pub serve_application_name: String,
    pub clock_ticks_per_second: u64,
    pub polls: usize,
    /// How long CPU is measured while the polls wait (their wait is 30 s: keep it <= 20 s).
    pub idle: Duration,
    pub tag: String,
}

pub struct CapacityResult {
    pub filters: Filters,
    pub polls: usize,
    pub rss_before_kib: u64,
    pub rss_waiting_kib: u64,
    pub rss_after_kib: u64,
    /// CPU of the server while the polls waited, in percent of one core.
    pub idle_cpu_percent: f64,
    /// Database connections of the server while the polls waited, and after the wake-up.
    pub connections_waiting: i64,
    pub connections_after: i64,
    /// Per poll: from the waking COMMIT returning to its answer.
    pub wake: Latencies,
    /// Polls whose answer held the waking event.
    pub answered_with_event: usize,
}

pub async fn run(settings: &CapacitySettings, filters: Filters) -> Result<CapacityResult, Failure> {
    let mut client = events::connect(&settings.dsn).await?;
    let tail = events::tail_idx(&client, Target::Bel).await?;
    let pid = settings.serve_pid;
    let rss_before_kib = proc_stat::rss_kib(pid)?;
    let metrics_url = format!("{}/metrics", settings.http_url.trim_end_matches('/'));
    let metrics = reqwest::Client::new();
    let already_waiting = long_polls_waiting(&metrics, &metrics_url).await?;

    let tag = &settings.tag;
    let partitions: Vec<String> = match filters {
        Filters::Shared => vec![format!("c/{tag}/wake")],
        Filters::Distinct => (0..settings.polls).map(|i| format!("c/{tag}/{i}")).collect(),
    };
    // One HTTP client for all: it opens a connection per concurrent request.
    let service = HttpGraphService::new(&settings.http_url)?;
    let polls: Vec<_> = (0..settings.polls)
        .map(|i| {
            let filter = match filters {
                Filters::Shared => EventFilter { partition_patterns: vec![format!("c/{tag}/*")], ..Default::default() },
                Filters::Distinct => EventFilter { partition_refs: vec![partitions[i].clone()], ..Default::default() },
            };
            let service = service.clone();
            tokio::spawn(async move {
                let page = service.events_page(tail, &filter, 10, WAIT).await;
                (page, Instant::now())
            })
        })
        .collect();

    let settle_by = Instant::now() + SETTLE_TIMEOUT;
    loop {
        let waiting = long_polls_waiting(&metrics, &metrics_url).await?;
        if waiting >= already_waiting + settings.polls as i64 {
            break;
        }
        if Instant::now() > settle_by {
            return Err(format!("only {waiting} of {} long polls are waiting after 15 s", settings.polls).into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_waiting_kib = proc_stat::rss_kib(pid)?;
    let connections_waiting = connections(&client, &settings.serve_application_name).await?;
    let ticks_before = proc_stat::cpu_ticks(pid)?;
    tokio::time::sleep(settings.idle).await;
    let ticks_after = proc_stat::cpu_ticks(pid)?;
    let idle_cpu_percent = (ticks_after - ticks_before) as f64 * 100.0
        / settings.clock_ticks_per_second as f64
        / settings.idle.as_secs_f64();

    let wake_id = format!("c-{tag}-wake");
    let (idx, committed) = events::append_event_timed(&mut client, &events::received(&wake_id, partitions)).await?;
    let mut samples = Vec::with_capacity(polls.len());
    let mut answered_with_event = 0;
    for poll in polls {
        let (page, answered) = poll.await?;
        if page?.events.iter().any(|event| event.idx == idx && event.event_id == wake_id) {
            answered_with_event += 1;
        }
        samples.push(answered.checked_duration_since(committed).unwrap_or_default());
    }
    let connections_after = connections(&client, &settings.serve_application_name).await?;
    Ok(CapacityResult {
        filters,
        polls: settings.polls,
        rss_before_kib,
        rss_waiting_kib,
        rss_after_kib: proc_stat::rss_kib(pid)?,
        idle_cpu_percent,
        connections_waiting,
        connections_after,
        wake: Latencies::new(samples),
        answered_with_event,
    })
}

/// The server's `bel_long_polls_waiting` gauge.
async fn long_polls_waiting(client: &reqwest::Client, url: &str) -> Result<i64, Failure> {
    let text = client.get(url).send().await?.error_for_status()?.text().await?;
    text.lines()
        .find_map(|line| line.strip_prefix("bel_long_polls_waiting "))
        .and_then(|value| value.trim().parse().ok())
        .ok_or_else(|| "no bel_long_polls_waiting in /metrics".into())
}

/// Database connections with this `application_name`.
async fn connections(client: &tokio_postgres::Client, application_name: &str) -> Result<i64, Failure> {
    let row = client
        .query_one("select count(*) from pg_stat_activity where application_name = $1", &[&application_name])
        .await?;
    Ok(row.try_get(0)?)
}
