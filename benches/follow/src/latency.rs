//! One latency phase: writers load the log while one appender appends measured events at
//! a steady rate, each in its own transaction, and followers started at the tail receive
//! them. A measured event's latency is from its COMMIT returning to the appender (an
//! `Instant`: every party is a thread of this process, one monotonic clock) to a follower
//! receiving it; events are matched by idx, and their eventId is checked.
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bel_client::EventFilter;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::events::{self, Target};
use crate::floor::{self, Commits, Floors};
use crate::followers::{self, Kind, Received, Source};
use crate::load::{self, LoadDone};
use crate::stats::Latencies;
use crate::Failure;

/// How long followers get to receive the first (unmeasured) event: they connect meanwhile.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How often a ready event is appended until every follower received one.
const READY_REPEAT: Duration = Duration::from_millis(200);
/// Time for copies of earlier ready events to arrive before the counts are taken.
const READY_SETTLE: Duration = Duration::from_millis(100);
/// How long followers get, after the last append, to receive what they have not yet.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// What one phase measures.
#[derive(Clone)]
pub struct PhaseSettings {
    pub dsn: String,
    pub http_url: String,
    pub target: Target,
    pub writers: usize,
    /// Events per second between all writers; 0: as fast as they can.
    pub writer_rate: u32,
    pub events: usize,
    /// Measured events per second.
    pub rate: u32,
    /// Unique per phase: event ids and partitions carry it.
    pub tag: String,
}

/// What a follower got of the measured events.
pub struct FollowerResult {
    pub kind: Kind,
    pub latencies: Latencies,
    /// Measured events never received.
    pub missed: usize,
    /// Measured events received more than once, or with another eventId than appended.
    pub wrong: usize,
    /// Received before the appender's COMMIT call returned (counted as 0 ms).
    pub before_commit_returned: usize,
    /// Of each received event's latency, the part spent waiting for the slowest commit of a
    /// smaller idx, and the follower's own part (floor.rs).
    pub floor_waits: Latencies,
    pub own_parts: Latencies,
}

/// What one phase measured.
pub struct PhaseResult {
    pub settings: PhaseSettings,
    pub load: LoadDone,
    pub appended: usize,
    /// Measured appends per second, achieved.
    pub append_rate: f64,
    pub followers: Vec<FollowerResult>,
    /// The floor's part of each measured event from the server's commit timestamps (floor.rs);
    /// None when track_commit_timestamp is off.
    pub server_floor_waits: Option<Latencies>,
}

/// The followers of a target: the client's two over bel, and a LISTEN-and-poll baseline.
fn kinds(target: Target) -> &'static [Kind] {
    match target {
        Target::Bel => &[Kind::SqlSubscribe, Kind::HttpSubscribe, Kind::BelListenPoll],
        Target::Plain => &[Kind::PlainListenPoll],
    }
}

/// A measured append, as the appender saw it.
struct Appended {
    idx: i64,
    event_id: String,
    committed: Instant,
}

pub async fn run(settings: PhaseSettings) -> Result<PhaseResult, Failure> {
    let tag = settings.tag.clone();
    let writers = load::start(&settings.dsn, settings.target, settings.writers, settings.writer_rate, &tag).await?;
    let client = events::connect(&settings.dsn).await?;
    let since_idx = events::tail_idx(&client, settings.target).await?;
    let source = Source {
        dsn: settings.dsn.clone(),
        http_url: settings.http_url.clone(),
        filter: EventFilter { partition_patterns: vec![format!("m/{tag}/*")], ..Default::default() },
        measured_prefix: format!("m-{tag}-"),
        since_idx,
    };
    let (stop, stopped) = watch::channel(false);
    let running: Vec<_> =
        kinds(settings.target).iter().map(|kind| followers::spawn(*kind, source.clone(), stopped.clone())).collect();

    let appender_settings = settings.clone();
    let counters: Vec<_> = running.iter().map(|follower| follower.seen.clone()).collect();
    let appender = std::thread::spawn(move || -> Result<(Vec<Appended>, Commits, Duration), Failure> {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        runtime.block_on(async move {
            let settings = appender_settings;
            let mut client = events::connect(&settings.dsn).await?;
            // Ready events every follower must receive one of before measuring starts: then
            // all are connected, listening and at the tail. Repeated, since the naive
            // baseline follower can skip one for good (that is what it is there to show).
            let tag = &settings.tag;
            let ready_by = Instant::now() + READY_TIMEOUT;
            let mut ready_commits = Vec::new();
            let mut ready_events = 0;
            while counters.iter().any(|seen| seen.load(Ordering::Acquire) == 0) {
                if Instant::now() > ready_by {
                    return Err("a follower did not receive any ready event within 30 s".into());
                }
                let event_id = format!("m-{tag}-ready-{ready_events}");
                ready_commits.push(
                    events::append_timed(&mut client, settings.target, &event_id, &format!("m/{tag}/ready")).await?,
                );
                ready_events += 1;
                let next_ready_event = Instant::now() + READY_REPEAT;
                while Instant::now() < next_ready_event && counters.iter().any(|seen| seen.load(Ordering::Acquire) == 0)
                {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            // Late copies of earlier ready events arrive within this; then the counts settle.
            tokio::time::sleep(READY_SETTLE).await;
            let ready_seen: Vec<usize> = counters.iter().map(|seen| seen.load(Ordering::Acquire)).collect();
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(settings.rate)));
            ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut appended = Vec::with_capacity(settings.events);
            let started = Instant::now();
            for n in 0..settings.events {
                ticker.tick().await;
                let event_id = format!("m-{tag}-{n}");
                let (idx, committed) =
                    events::append_timed(&mut client, settings.target, &event_id, &format!("m/{tag}/{n}")).await?;
                appended.push(Appended { idx, event_id, committed });
            }
            let elapsed = started.elapsed();
            // Every follower receives the measured events after the ready ones it had.
            let drained_by = Instant::now() + DRAIN_TIMEOUT;
            while counters
                .iter()
                .zip(&ready_seen)
                .any(|(seen, ready)| seen.load(Ordering::Acquire) < ready + settings.events)
            {
                if Instant::now() > drained_by {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Ok((appended, ready_commits, elapsed))
        })
    });
    let appended = tokio::task::spawn_blocking(move || appender.join()).await?;
    // Stop the followers and the writers whatever happened to the appender.
    let _ = stop.send(true);
    let mut received = Vec::new();
    for follower in running {
        let kind = follower.kind;
        // A follower's failure explains an appender that timed out waiting for it: first.
        received.push((kind, follower.join().map_err(|e| format!("{}: {e}", kind.describe()))?));
    }
    let load = writers.stop().await?;
    let (appended, ready_commits, elapsed) = appended.map_err(|_| Failure::from("the appender panicked"))??;

    let mut commits = ready_commits;
    commits.extend(load.commits.iter().copied());
    commits.extend(appended.iter().map(|a| (a.idx, a.committed)));
    let (lowest, highest) =
        commits.iter().fold((i64::MAX, i64::MIN), |(lo, hi), (idx, _)| (lo.min(*idx), hi.max(*idx)));
    let floors = Floors::new(commits);
    let followers =
        received.into_iter().map(|(kind, received)| match_events(kind, &appended, received, &floors)).collect();
    let server_floor_waits = match floor::server_commits(&client, settings.target, lowest, highest).await? {
        Some(server) => {
            let at: HashMap<i64, Instant> = server.iter().copied().collect();
            let server_floors = Floors::new(server);
            let waits = appended
                .iter()
                .filter_map(|a| Some(server_floors.floor(a.idx)?.saturating_duration_since(*at.get(&a.idx)?)))
                .collect();
            Some(Latencies::new(waits))
        }
        None => None,
    };
    Ok(PhaseResult {
        server_floor_waits,
        appended: appended.len(),
        append_rate: appended.len() as f64 / elapsed.as_secs_f64().max(1e-9),
        settings,
        load,
        followers,
    })
}

/// Joins what a follower received with what was appended, by idx.
fn match_events(kind: Kind, appended: &[Appended], received: Vec<Received>, floors: &Floors) -> FollowerResult {
    let mut by_idx: HashMap<i64, Vec<Received>> = HashMap::new();
    for event in received {
        by_idx.entry(event.idx).or_default().push(event);
    }
    let (mut samples, mut missed, mut wrong, mut early) = (Vec::with_capacity(appended.len()), 0, 0, 0);
    let (mut floor_waits, mut own_parts) = (Vec::new(), Vec::new());
    for append in appended {
        match by_idx.get(&append.idx).map(Vec::as_slice) {
            None | Some([]) => missed += 1,
            Some([event]) if event.event_id == append.event_id => {
                // Its own commit is among the floors: there is one.
                if let Some(floor) = floors.floor(append.idx) {
                    let (waited, own) = floor::split(append.committed, floor, event.at);
                    floor_waits.push(waited);
                    own_parts.push(own);
                }
                match event.at.checked_duration_since(append.committed) {
                    Some(latency) => samples.push(latency),
                    None => {
                        early += 1;
                        samples.push(Duration::ZERO);
                    }
                }
            }
            Some(_) => wrong += 1,
        }
    }
    FollowerResult {
        kind,
        latencies: Latencies::new(samples),
        missed,
        wrong,
        before_commit_returned: early,
        floor_waits: Latencies::new(floor_waits),
        own_parts: Latencies::new(own_parts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_are_matched_by_idx_and_checked_by_event_id() {
        let t0 = Instant::now();
        let appended: Vec<_> = (1..=4)
            .map(|idx| Appended { idx, event_id: format!("m-{idx}"), committed: t0 + Duration::from_millis(10) })
            .collect();
        let at = |ms| t0 + Duration::from_millis(ms);
        let received = vec![
            Received { idx: 1, event_id: "m-1".into(), at: at(13) },
            Received { idx: 2, event_id: "m-2".into(), at: at(5) },
            Received { idx: 3, event_id: "other".into(), at: at(20) },
        ];
        // A writer's idx 0 committed at 12 ms: idx 1 (committed at 10) is readable from 12 on.
        let mut commits: Vec<_> = appended.iter().map(|a| (a.idx, a.committed)).collect();
        commits.push((0, at(12)));
        let result = match_events(Kind::SqlSubscribe, &appended, received, &Floors::new(commits));
        assert_eq!((result.missed, result.wrong, result.before_commit_returned), (1, 1, 1));
        assert_eq!(result.latencies.len(), 2);
        assert_eq!(result.latencies.max(), Some(Duration::from_millis(3)));
        // idx 1: 2 ms waiting for idx 0, 1 ms its own; idx 2: 2 ms floor, received before it.
        assert_eq!(result.floor_waits.max(), Some(Duration::from_millis(2)));
        assert_eq!(result.own_parts.max(), Some(Duration::from_millis(1)));
        assert_eq!(result.own_parts.percentile(1.0), Some(Duration::ZERO));
    }
}
