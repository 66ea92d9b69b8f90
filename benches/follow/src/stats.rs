//! Percentiles of latency samples.
use std::time::Duration;

/// Sorted latency samples.
#[derive(Debug, Clone, Default)]
pub struct Latencies {
    sorted: Vec<Duration>,
}

impl Latencies {
    pub fn new(mut samples: Vec<Duration>) -> Self {
        samples.sort_unstable();
        Latencies { sorted: samples }
    }

    /// All samples of several sets.
    pub fn merge<'a>(sets: impl IntoIterator<Item = &'a Latencies>) -> Self {
        Latencies::new(sets.into_iter().flat_map(|set| set.sorted.iter().copied()).collect())
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// The nearest-rank percentile `p` (0 < p <= 100); None without samples.
    pub fn percentile(&self, p: f64) -> Option<Duration> {
        if self.sorted.is_empty() {
            return None;
        }
        let rank = ((p / 100.0) * self.sorted.len() as f64).ceil() as usize;
        Some(self.sorted[rank.clamp(1, self.sorted.len()) - 1])
    }

    pub fn max(&self) -> Option<Duration> {
        self.sorted.last().copied()
    }
}

/// Milliseconds with three decimals, or "-".
pub fn ms(duration: Option<Duration>) -> String {
    duration.map_or_else(|| "-".to_string(), |d| format!("{:.3}", d.as_secs_f64() * 1000.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let samples = Latencies::new((1..=100).rev().map(Duration::from_millis).collect());
        assert_eq!(samples.percentile(50.0), Some(Duration::from_millis(50)));
        assert_eq!(samples.percentile(99.0), Some(Duration::from_millis(99)));
        assert_eq!(samples.percentile(100.0), Some(Duration::from_millis(100)));
        assert_eq!(samples.max(), Some(Duration::from_millis(100)));
        let one = Latencies::new(vec![Duration::from_millis(7)]);
        assert_eq!(one.percentile(1.0), Some(Duration::from_millis(7)));
        assert_eq!(Latencies::default().percentile(50.0), None);
        assert_eq!(ms(Some(Duration::from_micros(1500))), "1.500");
        let merged = Latencies::merge([&samples, &one]);
        assert_eq!((merged.len(), merged.percentile(0.5)), (101, Some(Duration::from_millis(1))));
    }
}
