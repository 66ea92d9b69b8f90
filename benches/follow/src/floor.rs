//! The no-loss floor of an event's latency: an exact follower can deliver idx n only once
//! every append with a smaller idx has ended, so the earliest it can have event n is the
//! latest COMMIT return among the appends with idx <= n. Every append of a phase is made by
//! this process (writers and appender, none rolled back), so all of them are known.
//!
//! A latency then splits into the floor's part (floor - own COMMIT: waiting for slower
//! commits of smaller idx, which no exact follower can skip) and the follower's own part
//! (received - floor: its wake-up, queries and round trips). COMMIT returns are taken when
//! the reply reached this process, so the floor is late by a reply's transit at most, and a
//! follower's own part can come out a little below zero: counted as 0.
use std::time::{Duration, Instant};

use crate::events::Target;
use crate::Failure;

/// Appends as (idx, the instant their COMMIT returned or was recorded).
pub type Commits = Vec<(i64, Instant)>;

/// Commit returns by idx, answering "the latest COMMIT return at or below idx n".
pub struct Floors {
    /// Sorted by idx; the instant is the maximum over this and every smaller idx.
    latest_up_to: Vec<(i64, Instant)>,
}

impl Floors {
    pub fn new(mut commits: Commits) -> Self {
        commits.sort_unstable_by_key(|(idx, _)| *idx);
        let mut latest: Option<Instant> = None;
        let latest_up_to = commits
            .into_iter()
            .map(|(idx, at)| {
                let running = latest.map_or(at, |l| l.max(at));
                latest = Some(running);
                (idx, running)
            })
            .collect();
        Floors { latest_up_to }
    }

    /// The latest COMMIT return among the appends with idx <= `idx`; None when none is known.
    pub fn floor(&self, idx: i64) -> Option<Instant> {
        let known = self.latest_up_to.partition_point(|(i, _)| *i <= idx);
        known.checked_sub(1).map(|i| self.latest_up_to[i].1)
    }
}

/// The commit timestamps the server recorded (`track_commit_timestamp`) for the appends with
/// idx in `lowest..=highest`, as instants on one arbitrary base (only their differences
/// mean anything); None when the setting is off. A commit timestamp is taken as the commit
/// record is written, before its WAL flush, so a floor from these leaves out the spread of
/// the flushes that the client-side floor includes: the true floor lies between the two.
pub async fn server_commits(
    client: &tokio_postgres::Client,
    target: Target,
    lowest: i64,
    highest: i64,
) -> Result<Option<Commits>, Failure> {
    let on: String = client.query_one("select current_setting('track_commit_timestamp')", &[]).await?.try_get(0)?;
    if on != "on" {
        return Ok(None);
    }
    let table = match target {
        Target::Bel => "bel.events",
        Target::Plain => "bench.plain_events",
    };
    let sql = format!(
        "select idx, (extract(epoch from pg_xact_commit_timestamp(xmin)) * 1000000)::bigint \
         from {table} where idx between $1 and $2"
    );
    let rows = client.query(&sql, &[&lowest, &highest]).await?;
    let base = Instant::now();
    let micros: Vec<(i64, i64)> =
        rows.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect::<Result<_, Failure>>()?;
    let first = micros.iter().map(|(_, us)| *us).min().unwrap_or(0);
    Ok(Some(
        micros
            .into_iter()
            .map(|(idx, us)| (idx, base + Duration::from_micros(u64::try_from(us - first).unwrap_or(0))))
            .collect(),
    ))
}

/// An event's latency split at its floor: (floor - committed, received - floor), each at
/// least zero.
pub fn split(committed: Instant, floor: Instant, received: Instant) -> (Duration, Duration) {
    (floor.saturating_duration_since(committed), received.saturating_duration_since(floor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_is_the_latest_commit_at_or_below_the_idx() {
        let t0 = Instant::now();
        let at = |ms| t0 + Duration::from_millis(ms);
        // idx 2 commits last of 1..=3; idx 5 before 4.
        let floors = Floors::new(vec![(3, at(5)), (1, at(1)), (2, at(9)), (5, at(10)), (4, at(12))]);
        assert_eq!(floors.floor(0), None);
        assert_eq!(floors.floor(1), Some(at(1)));
        assert_eq!(floors.floor(3), Some(at(9)), "3 waits for 2");
        assert_eq!(floors.floor(4), Some(at(12)));
        assert_eq!(floors.floor(5), Some(at(12)), "5 waits for 4");
        assert_eq!(floors.floor(99), Some(at(12)));
    }

    #[test]
    fn a_latency_splits_at_its_floor() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        assert_eq!(split(t0, t0 + ms(3), t0 + ms(5)), (ms(3), ms(2)));
        // Received before the floor's reply arrived here: the follower's part is 0.
        assert_eq!(split(t0, t0 + ms(3), t0 + ms(2)), (ms(3), Duration::ZERO));
    }
}
