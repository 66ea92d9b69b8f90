//! What to simulate, and counters about a run.

/// What to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Build requests to run, each to a terminal state; the simulation ends after them.
    pub builds: usize,
    /// Size of the partition namespace, refs `data/<dataset>/<date>` spread over
    /// `datasets` (dates from 2026-11-01 on). Small namespaces make builds share partitions.
    pub partitions: usize,
    pub datasets: Vec<String>,
    pub job_labels: Vec<String>,
    /// Probability that building one partition fails (its job run then fails too).
    pub failure_rate: f64,
    /// Weight of "a build is cancelled or gives up" among the actions of an active build
    /// (an action has weight 1 unless said otherwise).
    pub cancel_rate: f64,
    /// Weight of "invalidate an AVAILABLE partition" among all actions.
    pub invalidation_rate: f64,
    /// Builds in flight at once.
    pub max_active_builds: usize,
    /// Most partitions one build requests (at least 1 each).
    pub max_requested_partitions: usize,
    /// Most target partitions of one job run.
    pub max_targets_per_job_run: usize,
    /// With [`Sim::for_writer`](crate::Sim::for_writer): use one partition namespace for
    /// all writers (they race) instead of `w<i>/data/...` per writer.
    pub shared_partitions: bool,
    /// How many [`Sim::propose`](crate::Sim::propose) calls in a row may find nothing to do
    /// (every own build waits on another writer's build) before the waiting builds give up
    /// as FAILED.
    pub patience: u32,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            builds: 12,
            partitions: 16,
            datasets: ["users", "orders", "events"].map(String::from).to_vec(),
            job_labels: ["//jobs:ingest", "//jobs:aggregate", "//jobs:export"].map(String::from).to_vec(),
            failure_rate: 0.15,
            cancel_rate: 0.02,
            invalidation_rate: 0.05,
            max_active_builds: 4,
            max_requested_partitions: 4,
            max_targets_per_job_run: 3,
            shared_partitions: false,
            patience: 200,
        }
    }
}

impl SimConfig {
    /// The config with degenerate values raised to the least that still simulates
    /// something valid (one partition, one dataset, one job label, ...).
    pub(crate) fn normalized(mut self) -> Self {
        self.partitions = self.partitions.max(1);
        self.max_requested_partitions = self.max_requested_partitions.max(1);
        self.max_targets_per_job_run = self.max_targets_per_job_run.max(1);
        self.max_active_builds = self.max_active_builds.max(1);
        if self.datasets.is_empty() {
            self.datasets.push("users".into());
        }
        if self.job_labels.is_empty() {
            self.job_labels.push("//jobs:build".into());
        }
        self
    }
}

/// Counters about a run, mostly to check the simulator itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Events applied (own and observed).
    pub applied: u64,
    /// Candidates `prepare` refused: the simulator's model disagreed with the rules.
    /// Always 0 unless the simulator or the rules have a bug.
    pub rejected_candidates: u64,
    /// Builds failed because nothing else was valid (only after rejected candidates).
    pub forced_failures: u64,
    /// Builds that gave up waiting on other writers (shared partitions only).
    pub impatient_failures: u64,
}
