//! The simulator: its state, and the loop that proposes and applies valid events.
use std::collections::BTreeMap;

use bel_core::pb::{
    build_event::Payload, BuildEvent, BuildRequestStatus as B, JobRunStatus as J, PartitionStatus as P,
};
use bel_core::rules::{apply, prepare};
use bel_core::state::{Changed, State};
use bel_core::Rejection;
use rand::distributions::{Distribution, WeightedIndex};
use rand::SeedableRng;

use crate::calendar::{self, Clock};
use crate::config::{SimConfig, SimStats};
use crate::plan::{Action, BuildPlan};
use crate::SimRng;

/// A deterministic generator of valid build event sequences (see the crate docs).
#[derive(Debug, Clone)]
pub struct Sim {
    pub(crate) seed: u64,
    pub(crate) writer: Option<usize>,
    pub(crate) config: SimConfig,
    pub(crate) rng: SimRng,
    pub(crate) state: State,
    /// `""` or `w<i>/`: prefixes build ids (and so job run ids).
    pub(crate) build_prefix: String,
    pub(crate) partition_refs: Vec<String>,
    pub(crate) own_builds: BTreeMap<String, BuildPlan>,
    pub(crate) builds_started: usize,
    /// Valid events made so far (names them, and picks which partition to invalidate).
    pub(crate) event_seq: u64,
    /// Invalid events made so far (names them).
    pub(crate) invalid_seq: u64,
    pub(crate) clock: Clock,
    last_idx: i64,
    idle_polls: u32,
    stats: SimStats,
}

impl Iterator for Sim {
    type Item = BuildEvent;
    fn next(&mut self) -> Option<BuildEvent> {
        self.next_event()
    }
}

impl Sim {
    /// A single-writer simulation.
    pub fn new(seed: u64, config: SimConfig) -> Self {
        Self::build(seed, None, config)
    }

    /// The simulation of writer `writer_index`: build and job run ids start with
    /// `w<writer_index>/`, and so do partition refs unless `config.shared_partitions`.
    pub fn for_writer(seed: u64, writer_index: usize, config: SimConfig) -> Self {
        Self::build(seed, Some(writer_index), config)
    }

    fn build(seed: u64, writer: Option<usize>, config: SimConfig) -> Self {
        let config = config.normalized();
        let build_prefix = writer.map(|w| format!("w{w}/")).unwrap_or_default();
        let partition_prefix = if config.shared_partitions { "" } else { build_prefix.as_str() };
        let partition_refs = calendar::partition_refs(partition_prefix, &config.datasets, config.partitions);
        let mut rng = SimRng::seed_from_u64(seed);
        // Different writers with one seed must not draw the same numbers.
        rng.set_stream(writer.map_or(0, |w| w as u64 + 1));
        Sim {
            seed,
            writer,
            rng,
            state: State::default(),
            build_prefix,
            partition_refs,
            own_builds: BTreeMap::new(),
            builds_started: 0,
            event_seq: 0,
            invalid_seq: 0,
            // Writers' clocks are offset a little so their timestamps rarely tie.
            clock: Clock::start(writer.unwrap_or(0) as i64),
            last_idx: 0,
            idle_polls: 0,
            stats: SimStats::default(),
            config,
        }
    }

    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The state of every entity after the events applied so far.
    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn stats(&self) -> &SimStats {
        &self.stats
    }

    /// The partition namespace this simulation draws from.
    pub fn partition_refs(&self) -> &[String] {
        &self.partition_refs
    }

    /// The idx of the last applied event (events are numbered 1, 2, 3, ... by
    /// [`Sim::next_event`]; [`Sim::observe`] takes the log's idx).
    pub fn last_idx(&self) -> i64 {
        self.last_idx
    }

    /// Every build has been started and has reached a terminal state.
    pub fn is_done(&self) -> bool {
        self.builds_started >= self.config.builds && self.active_own_builds().is_empty()
    }

    /// The next valid event, already applied to [`Sim::state`] at idx `last_idx() + 1`;
    /// `None` once [`Sim::is_done`]. (With shared partitions, `None` may also mean every
    /// own build waits on another writer: use [`Sim::propose`]/[`Sim::observe`] there.)
    pub fn next_event(&mut self) -> Option<BuildEvent> {
        for _ in 0..=self.config.patience.saturating_add(1) {
            if self.is_done() {
                return None;
            }
            if let Some(event) = self.propose() {
                let idx = self.last_idx + 1;
                // Cannot fail: propose checked the event against this very state.
                return self.observe(idx, &event).ok().map(|_| event);
            }
        }
        None
    }

    /// A valid next event against the current state, without applying it. The event is
    /// as the log stores it (derived fields such as a job run's label filled in).
    /// `None` when done or when nothing can happen until other writers move on.
    pub fn propose(&mut self) -> Option<BuildEvent> {
        if self.is_done() {
            return None;
        }
        self.end_overdue_builds();
        'collect: loop {
            let mut candidates = self.candidates();
            if candidates.is_empty() {
                self.idle_polls += 1;
                if self.idle_polls > self.config.patience && self.give_up_waiting() {
                    continue 'collect;
                }
                return None;
            }
            self.idle_polls = 0;
            while !candidates.is_empty() {
                let action = self.take_weighted(&mut candidates);
                if let Action::GiveUp { build, end } = action {
                    if let Some(plan) = self.own_builds.get_mut(&build) {
                        plan.ending = Some(end);
                    }
                    continue 'collect;
                }
                let Some(mut event) = self.event_for(action) else {
                    continue;
                };
                match prepare(&self.state, &mut event) {
                    Ok(()) => return Some(event),
                    Err(_) => self.stats.rejected_candidates += 1,
                }
            }
            return self.forced_failure();
        }
    }

    /// Applies an event of the log at `idx` (one this simulation proposed, or another
    /// writer's), validating it first. Own builds are recognized by their id.
    pub fn observe(&mut self, idx: i64, event: &BuildEvent) -> Result<Changed, Rejection> {
        let mut event = event.clone();
        event.idx = 0;
        prepare(&self.state, &mut event)?;
        let build_id = event.build_request_id.clone();
        if let Some(Payload::BuildRequest(b)) = &event.payload {
            if b.status == B::BuildRequestReceived as i32 && build_id == self.build_id(self.builds_started + 1) {
                self.builds_started += 1;
                self.own_builds.insert(build_id.clone(), BuildPlan::default());
            }
        }
        let retried = match &event.payload {
            Some(Payload::Partition(p)) if p.status == P::PartitionRequested as i32 => self
                .state
                .partitions
                .get(&p.partition_ref)
                .is_some_and(|c| c.status == P::PartitionFailed && c.build_request_id == build_id),
            _ => false,
        };
        let changed = apply(&mut self.state, &event, idx);
        self.last_idx = self.last_idx.max(idx);
        self.stats.applied += 1;
        if let Some(plan) = self.own_builds.get_mut(&build_id) {
            plan.events += 1;
            plan.retries += u32::from(retried);
            if matches!(&event.payload, Some(Payload::JobRun(j)) if j.status == J::JobRunScheduled as i32) {
                plan.job_runs += 1;
            }
        }
        Ok(changed)
    }

    pub(crate) fn build_id(&self, n: usize) -> String {
        format!("{}b{n}", self.build_prefix)
    }

    /// What event ids start with: the seed, and the writer if any.
    pub(crate) fn id_stem(&self) -> String {
        match self.writer {
            Some(w) => format!("{}-w{w}", self.seed),
            None => self.seed.to_string(),
        }
    }

    /// A build that has taken far more steps than its partitions need (endless retries or
    /// invalidations) gives up, so every simulation ends.
    fn end_overdue_builds(&mut self) {
        for id in self.active_own_builds() {
            let requested = self.state.build_requests.get(&id).map_or(1, |b| b.requested_partitions.len());
            let budget = 40 + 40 * requested as u32;
            if let Some(plan) = self.own_builds.get_mut(&id) {
                if plan.ending.is_none() && plan.events > budget {
                    plan.ending = Some(B::BuildRequestFailed);
                }
            }
        }
    }

    /// Nothing to do for a long time: every own build waits on other writers' builds.
    fn give_up_waiting(&mut self) -> bool {
        let mut any = false;
        for id in self.active_own_builds() {
            if let Some(plan) = self.own_builds.get_mut(&id) {
                if plan.ending.is_none() {
                    plan.ending = Some(B::BuildRequestFailed);
                    self.stats.impatient_failures += 1;
                    any = true;
                }
            }
        }
        self.idle_polls = 0;
        any
    }

    /// Every candidate was refused (a bug in the simulator or the rules): fail a build,
    /// which the diagram allows from every non-terminal state, so the run still ends.
    fn forced_failure(&mut self) -> Option<BuildEvent> {
        for id in self.active_own_builds() {
            let mut event = self.event_for(Action::Build { build: id, to: B::BuildRequestFailed })?;
            if prepare(&self.state, &mut event).is_ok() {
                self.stats.forced_failures += 1;
                return Some(event);
            }
        }
        None
    }

    /// Removes and returns one of the (non-empty) `candidates`, drawn by weight.
    fn take_weighted(&mut self, candidates: &mut Vec<(f64, Action)>) -> Action {
        let weights = candidates.iter().map(|(weight, _)| *weight);
        // Only zero-weight candidates left: the last one.
        let chosen = WeightedIndex::new(weights).map_or(candidates.len() - 1, |d| d.sample(&mut self.rng));
        candidates.swap_remove(chosen).1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_refs_are_dated_per_dataset_and_namespaced_per_writer() {
        let sim = Sim::new(1, SimConfig { partitions: 4, ..SimConfig::default() });
        assert_eq!(
            sim.partition_refs(),
            ["data/users/2026-11-01", "data/orders/2026-11-01", "data/events/2026-11-01", "data/users/2026-11-02"]
        );
        let w = Sim::for_writer(1, 3, SimConfig { partitions: 1, ..SimConfig::default() });
        assert_eq!(w.partition_refs(), ["w3/data/users/2026-11-01"]);
        let shared =
            Sim::for_writer(1, 3, SimConfig { partitions: 1, shared_partitions: true, ..SimConfig::default() });
        assert_eq!(shared.partition_refs(), ["data/users/2026-11-01"]);
    }
}
