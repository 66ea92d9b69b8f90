//! The dates and times of a simulation: partition refs are dated from 2026-11-01 on, and
//! event timestamps run from that day's midnight (UTC).
use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use pbjson_types::Timestamp;

const FIRST_DAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 11, 1) {
    Some(day) => day,
    None => panic!("2026-11-01 is a date"),
};

/// `count` refs `<prefix>data/<dataset>/<date>`, cycling through `datasets` day by day:
/// every dataset on the first day, then every dataset on the next, and so on.
pub(crate) fn partition_refs(prefix: &str, datasets: &[String], count: usize) -> Vec<String> {
    let per_day = datasets.len().max(1);
    (0..count)
        .filter_map(|i| {
            let dataset = datasets.get(i % per_day)?;
            let day = FIRST_DAY + Days::new((i / per_day) as u64);
            Some(format!("{prefix}data/{dataset}/{}", day.format("%Y-%m-%d")))
        })
        .collect()
}

/// The clock events are stamped with.
#[derive(Debug, Clone)]
pub(crate) struct Clock(DateTime<Utc>);

impl Clock {
    /// Midnight of the first day, plus `offset_micros`.
    pub(crate) fn start(offset_micros: i64) -> Self {
        Clock(FIRST_DAY.and_time(NaiveTime::MIN).and_utc() + TimeDelta::microseconds(offset_micros))
    }

    /// Moves the clock on by `micros` and returns the new time.
    pub(crate) fn advance(&mut self, micros: i64) -> Timestamp {
        self.0 += TimeDelta::microseconds(micros);
        Timestamp { seconds: self.0.timestamp(), nanos: self.0.timestamp_subsec_nanos() as i32 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refs_cycle_through_the_datasets_day_by_day() {
        let datasets: Vec<String> = ["users", "orders"].map(String::from).to_vec();
        assert_eq!(
            partition_refs("w1/", &datasets, 5),
            [
                "w1/data/users/2026-11-01",
                "w1/data/orders/2026-11-01",
                "w1/data/users/2026-11-02",
                "w1/data/orders/2026-11-02",
                "w1/data/users/2026-11-03"
            ]
        );
        // Month and year ends roll over.
        let one: Vec<String> = vec!["d".into()];
        let refs = partition_refs("", &one, 62);
        assert_eq!(refs[29], "data/d/2026-11-30");
        assert_eq!(refs[30], "data/d/2026-12-01");
        assert_eq!(refs[61], "data/d/2027-01-01");
    }

    #[test]
    fn the_clock_starts_at_midnight_of_the_first_day() {
        let mut clock = Clock::start(3);
        // 2026-11-01T00:00:00Z
        assert_eq!(clock.advance(1_500_000), Timestamp { seconds: 1_793_491_201, nanos: 500_003_000 });
        assert_eq!(clock.advance(500_000), Timestamp { seconds: 1_793_491_202, nanos: 3_000 });
    }
}
