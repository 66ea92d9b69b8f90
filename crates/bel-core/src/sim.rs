//! A deterministic simulator of build activity, for tests and load generation.
//!
//! [`Sim`] plays a few graph processes running builds over a shared namespace of
//! partitions (`data/<dataset>/<date>`): build requests walk RECEIVED → PLANNING →
//! ANALYSIS_COMPLETED → EXECUTING → COMPLETED (or FAILED / CANCELLED), claim the
//! partitions they need (requesting them, or recording a delegation when another build
//! owns them or they are AVAILABLE), schedule job runs that build them, retry failed
//! partitions, and now and then an AVAILABLE partition is invalidated and requested again.
//!
//! The simulator keeps its own [`State`] and only emits an event after
//! [`rules::prepare`](crate::rules::prepare) accepted it against that state, then applies
//! it with [`rules::apply`](crate::rules::apply): the sequence it produces is valid by
//! construction, and the same seed and config always give the same sequence.
//!
//! [`Sim::invalid_next`] produces the opposite: an event that is *not* a correct next
//! state right now. It is built from the simulator's own reading of the spec, without
//! asking `prepare`, so tests can check that `prepare` agrees.
//!
//! Several writers: [`Sim::for_writer`] namespaces build ids, job run ids and (unless
//! [`SimConfig::shared_partitions`]) partition refs with `w<i>/`, so sequences of
//! different writers can be appended concurrently in any interleaving without conflicts.
//! With shared partitions writers do race (two builds requesting one partition), so a
//! writer cannot keep its state to itself: it should [`Sim::propose`] an event, append
//! it, and feed every event of the log, its own included, to [`Sim::observe`] in idx
//! order.
use std::collections::{BTreeMap, BTreeSet};

use crate::diagram::{BUILD_REQUEST, JOB_RUN, PARTITION};
use crate::error::{ErrorClass, Rejection};
use crate::pb::{
    build_event::Payload, BuildEvent, BuildRequestEvent, BuildRequestStatus as B, DelegationEvent, JobRunEvent,
    JobRunStatus as J, PartitionEvent, PartitionInvalidationEvent, PartitionStatus as P,
};
use crate::rules::{apply, prepare};
use crate::state::{BuildRequest, Changed, JobRun, Micros, Partition, State};
use crate::status::Status;

/// A small, fast, seedable PRNG (splitmix64). Not for cryptography; good enough to drive
/// simulations and random interleavings reproducibly.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`; 0 when `n` is 0. (The modulo bias is negligible for small `n`.)
    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len()))
        }
    }

    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

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
    /// With [`Sim::for_writer`]: use one partition namespace for all writers (they race)
    /// instead of `w<i>/data/...` per writer.
    pub shared_partitions: bool,
    /// How many [`Sim::propose`] calls in a row may find nothing to do (every own build
    /// waits on another writer's build) before the waiting builds give up as FAILED.
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

/// The kind of mistake an invalid event makes, with the refusal class the spec's error
/// taxonomy ([`ErrorClass`]) prescribes for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Mistake {
    /// A partition, job run or delegation event of a build that does not exist.
    UnknownBuild,
    /// A partition, job run or delegation event of a COMPLETED/FAILED/CANCELLED build.
    TerminalBuild,
    /// A build request status that is not an edge of its diagram.
    BuildTransition,
    /// BUILD_REQUEST_RECEIVED naming no partition.
    NoRequestedPartitions,
    /// A partition status (sent by the owner) that is not an edge of its diagram.
    PartitionTransition,
    /// A partition moved by a build that does not own it.
    NotTheOwner,
    /// Requesting a partition another build is producing, or an AVAILABLE one.
    RequestOwnedElsewhere,
    /// Delegating a partition nobody produces, or one the build owns itself.
    DelegationNotNeeded,
    /// A delegation naming a build that does not own the partition.
    DelegationWrongOwner,
    /// COMPLETED while a requested partition is not AVAILABLE.
    CompleteUnavailable,
    /// A job run status that is not an edge of its diagram.
    JobRunTransition,
    /// An event about a job run sent by another build.
    JobRunOtherBuild,
    /// SCHEDULED while the build is RECEIVED or PLANNING.
    ScheduleTooEarly,
    /// SCHEDULED without a job label or without target partitions.
    ScheduleIncomplete,
    /// Leaving BUILDING without naming a job run.
    ProducerMissing,
    /// Leaving BUILDING naming a job run that does not exist.
    ProducerUnknown,
    /// Leaving BUILDING naming a job run that is not RUNNING or does not target the partition.
    ProducerNotRunning,
    /// A later job run event changing the job label or target partitions.
    JobRunRelabel,
    /// Invalidating a partition that is not AVAILABLE.
    InvalidateUnavailable,
    /// A status left at `*_UNSPECIFIED`.
    UnspecifiedStatus,
    /// `idx` set by the writer.
    IdxSet,
}

impl Mistake {
    pub const ALL: &'static [Mistake] = &[
        Mistake::UnknownBuild,
        Mistake::TerminalBuild,
        Mistake::BuildTransition,
        Mistake::NoRequestedPartitions,
        Mistake::PartitionTransition,
        Mistake::NotTheOwner,
        Mistake::RequestOwnedElsewhere,
        Mistake::DelegationNotNeeded,
        Mistake::DelegationWrongOwner,
        Mistake::CompleteUnavailable,
        Mistake::JobRunTransition,
        Mistake::JobRunOtherBuild,
        Mistake::ScheduleTooEarly,
        Mistake::ScheduleIncomplete,
        Mistake::ProducerMissing,
        Mistake::ProducerUnknown,
        Mistake::ProducerNotRunning,
        Mistake::JobRunRelabel,
        Mistake::InvalidateUnavailable,
        Mistake::UnspecifiedStatus,
        Mistake::IdxSet,
    ];

    /// Diagram edges are InvalidTransition, cross-entity rules RuleViolation, missing
    /// referents UnknownReference, malformed-but-parseable values InvalidValue.
    pub fn expected_class(self) -> ErrorClass {
        match self {
            Mistake::BuildTransition
            | Mistake::PartitionTransition
            | Mistake::JobRunTransition
            | Mistake::InvalidateUnavailable => ErrorClass::InvalidTransition,
            Mistake::TerminalBuild
            | Mistake::NotTheOwner
            | Mistake::RequestOwnedElsewhere
            | Mistake::DelegationNotNeeded
            | Mistake::DelegationWrongOwner
            | Mistake::CompleteUnavailable
            | Mistake::JobRunOtherBuild
            | Mistake::ScheduleTooEarly
            | Mistake::ProducerNotRunning => ErrorClass::RuleViolation,
            Mistake::UnknownBuild | Mistake::ProducerUnknown => ErrorClass::UnknownReference,
            Mistake::NoRequestedPartitions
            | Mistake::ScheduleIncomplete
            | Mistake::ProducerMissing
            | Mistake::JobRunRelabel
            | Mistake::UnspecifiedStatus
            | Mistake::IdxSet => ErrorClass::InvalidValue,
        }
    }
}

/// An event that must be refused, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidEvent {
    pub event: BuildEvent,
    pub mistake: Mistake,
}

/// The simulator's private plans for one of its own builds.
#[derive(Debug, Clone, Default)]
struct BuildPlan {
    /// Winding down to FAILED or CANCELLED: cancel job runs and fail owned partitions
    /// first, so nothing is left stuck in progress under a terminal build.
    ending: Option<B>,
    /// Events of this build applied so far (bounded, so every build ends).
    events: u32,
    /// Job runs scheduled so far (names the next one).
    job_runs: u32,
    /// Partitions it requested again after they FAILED under it.
    retries: u32,
}

/// One step the simulator may take next.
#[derive(Debug, Clone)]
enum Action {
    NewBuild,
    Invalidate {
        partition: String,
    },
    /// Not an event: the build starts winding down to `end`.
    GiveUp {
        build: String,
        end: B,
    },
    Build {
        build: String,
        to: B,
    },
    Request {
        build: String,
        partition: String,
    },
    Delegate {
        build: String,
        partition: String,
        owner: String,
    },
    Partition {
        build: String,
        partition: String,
        to: P,
        job_run: Option<String>,
    },
    Schedule {
        build: String,
        candidates: Vec<String>,
    },
    JobRun {
        build: String,
        job_run: String,
        to: J,
    },
}

const RETRY_LIMIT: u32 = 3;
const MICROS_PER_DAY: i64 = 86_400 * 1_000_000;

/// A deterministic generator of valid build event sequences (see the module docs).
#[derive(Debug, Clone)]
pub struct Sim {
    seed: u64,
    writer: Option<usize>,
    config: SimConfig,
    rng: Rng,
    state: State,
    /// `""` or `w<i>/`: prefixes build ids (and so job run ids).
    build_prefix: String,
    partition_refs: Vec<String>,
    own_builds: BTreeMap<String, BuildPlan>,
    builds_started: usize,
    last_idx: i64,
    event_seq: u64,
    invalid_seq: u64,
    clock: Micros,
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

    fn build(seed: u64, writer: Option<usize>, mut config: SimConfig) -> Self {
        // Degenerate configs still simulate something valid.
        config.partitions = config.partitions.max(1);
        config.max_requested_partitions = config.max_requested_partitions.max(1);
        config.max_targets_per_job_run = config.max_targets_per_job_run.max(1);
        config.max_active_builds = config.max_active_builds.max(1);
        if config.datasets.is_empty() {
            config.datasets.push("users".into());
        }
        if config.job_labels.is_empty() {
            config.job_labels.push("//jobs:build".into());
        }
        let build_prefix = writer.map(|w| format!("w{w}/")).unwrap_or_default();
        let partition_prefix = if config.shared_partitions { String::new() } else { build_prefix.clone() };
        let first_day = days_from_civil(2026, 11, 1);
        let datasets = config.datasets.len();
        let partition_refs = (0..config.partitions)
            .map(|i| {
                let (y, m, d) = civil_from_days(first_day + (i / datasets) as i64);
                format!("{partition_prefix}data/{}/{y:04}-{m:02}-{d:02}", config.datasets[i % datasets])
            })
            .collect();
        // Different writers with one seed must not draw the same numbers.
        let stream = writer.map_or(0, |w| (w as u64 + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        Sim {
            seed,
            writer,
            rng: Rng::new(seed ^ stream),
            state: State::default(),
            build_prefix,
            partition_refs,
            own_builds: BTreeMap::new(),
            builds_started: 0,
            last_idx: 0,
            event_seq: 0,
            invalid_seq: 0,
            // Writers' clocks are offset a little so their timestamps rarely tie.
            clock: first_day * MICROS_PER_DAY + writer.unwrap_or(0) as i64,
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

    /// An event that is not a correct next state right now (`prepare` must refuse it).
    /// Nothing is applied.
    pub fn invalid_next(&mut self) -> Option<BuildEvent> {
        self.invalid_next_explained().map(|i| i.event)
    }

    /// Like [`Sim::invalid_next`], with the mistake the event makes.
    pub fn invalid_next_explained(&mut self) -> Option<InvalidEvent> {
        let mut mistakes = Mistake::ALL.to_vec();
        self.rng.shuffle(&mut mistakes);
        mistakes
            .into_iter()
            .find_map(|mistake| self.invalid_event(mistake).map(|event| InvalidEvent { event, mistake }))
    }

    /// An event making exactly `mistake`, if the current state allows one.
    pub fn invalid_event(&mut self, mistake: Mistake) -> Option<BuildEvent> {
        let (build, payload, idx) = self.invalid_payload(mistake)?;
        self.invalid_seq += 1;
        let mut event = self.envelope(&build, payload, format!("x-{}-{}", self.id_stem(), self.invalid_seq));
        event.idx = idx;
        Some(event)
    }

    // --- valid steps ----------------------------------------------------------------

    fn build_id(&self, n: usize) -> String {
        format!("{}b{n}", self.build_prefix)
    }

    fn id_stem(&self) -> String {
        match self.writer {
            Some(w) => format!("{}-w{w}", self.seed),
            None => self.seed.to_string(),
        }
    }

    fn active_own_builds(&self) -> Vec<String> {
        self.own_builds
            .keys()
            .filter(|id| self.state.build_requests.get(*id).is_some_and(|b| !BUILD_REQUEST.is_terminal(b.status)))
            .cloned()
            .collect()
    }

    /// The job runs of `build`, found by their id prefix (`<build>/j<n>`).
    fn own_job_runs<'a>(&'a self, build: &'a str) -> impl Iterator<Item = &'a JobRun> + 'a {
        let prefix = format!("{build}/j");
        self.state
            .job_runs
            .range(prefix.clone()..)
            .take_while(move |(id, _)| id.starts_with(&prefix))
            .map(|(_, run)| run)
            .filter(move |run| run.build_request_id == build)
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

    fn take_weighted(&mut self, candidates: &mut Vec<(f64, Action)>) -> Action {
        let total: f64 = candidates.iter().map(|(w, _)| w).sum();
        let mut target = self.rng.unit() * total;
        let mut chosen = candidates.len() - 1;
        for (i, (w, _)) in candidates.iter().enumerate() {
            if target < *w {
                chosen = i;
                break;
            }
            target -= w;
        }
        candidates.swap_remove(chosen).1
    }

    fn candidates(&self) -> Vec<(f64, Action)> {
        let mut out = Vec::new();
        let active = self.active_own_builds();
        if self.builds_started < self.config.builds && active.len() < self.config.max_active_builds {
            out.push((1.0, Action::NewBuild));
        }
        if self.config.invalidation_rate > 0.0 {
            let available: Vec<&String> = self
                .partition_refs
                .iter()
                .filter(|r| self.state.partitions.get(*r).is_some_and(|p| p.status == P::PartitionAvailable))
                .collect();
            if !available.is_empty() {
                // Which one is decided now, deterministically from the state and the seq.
                let partition = available[(self.event_seq as usize) % available.len()].clone();
                out.push((self.config.invalidation_rate, Action::Invalidate { partition }));
            }
        }
        for id in active {
            if let (Some(build), Some(plan)) = (self.state.build_requests.get(&id), self.own_builds.get(&id)) {
                match plan.ending {
                    Some(end) => self.wind_down_actions(build, end, &mut out),
                    None => self.build_actions(build, plan, &mut out),
                }
            }
        }
        out
    }

    fn build_actions(&self, build: &BuildRequest, plan: &BuildPlan, out: &mut Vec<(f64, Action)>) {
        let id = &build.build_request_id;
        let before = out.len();
        let mut all_planned = true;
        let mut all_available = true;
        if build.status != B::BuildRequestReceived {
            for r in &build.requested_partitions {
                let part = self.state.partitions.get(r);
                if part.is_none_or(|p| p.status != P::PartitionAvailable) {
                    all_available = false;
                }
                let request = Action::Request { build: id.clone(), partition: r.clone() };
                let Some(part) = part else {
                    all_planned = false;
                    out.push((1.0, request));
                    continue;
                };
                let mine = part.build_request_id == *id;
                match part.status {
                    P::PartitionFailed if mine => {
                        all_planned = false;
                        // Retry the partition, or let the whole build fail.
                        if plan.retries < RETRY_LIMIT {
                            out.push((1.0, request));
                        }
                        out.push((0.3, Action::GiveUp { build: id.clone(), end: B::BuildRequestFailed }));
                    }
                    P::PartitionFailed | P::PartitionInvalidated => {
                        all_planned = false;
                        out.push((1.0, request));
                    }
                    P::PartitionRequested if mine => {
                        all_planned = false;
                        out.push((1.0, self.partition_action(id, r, P::PartitionAnalyzed, None)));
                    }
                    // Produced (or being produced) by another build: wait on it.
                    _ if !mine && build.delegations.get(r) != Some(&part.build_request_id) => {
                        all_planned = false;
                        let owner = part.build_request_id.clone();
                        out.push((1.0, Action::Delegate { build: id.clone(), partition: r.clone(), owner }));
                    }
                    _ => {}
                }
            }
        }
        let runs: Vec<&JobRun> = self.own_job_runs(id).filter(|r| !JOB_RUN.is_terminal(r.status)).collect();
        match build.status {
            B::BuildRequestReceived => out.push((1.0, self.build_action(id, B::BuildRequestPlanning))),
            B::BuildRequestPlanning if all_planned => {
                out.push((1.0, self.build_action(id, B::BuildRequestAnalysisCompleted)));
            }
            B::BuildRequestAnalysisCompleted => out.push((0.5, self.build_action(id, B::BuildRequestExecuting))),
            B::BuildRequestExecuting if all_available && runs.is_empty() => {
                out.push((1.0, self.build_action(id, B::BuildRequestCompleted)));
            }
            _ => {}
        }
        if matches!(build.status, B::BuildRequestAnalysisCompleted | B::BuildRequestExecuting) {
            let targeted: BTreeSet<&String> = runs.iter().flat_map(|r| &r.target_partitions).collect();
            let ready: Vec<String> = build
                .requested_partitions
                .iter()
                .filter(|r| !targeted.contains(r))
                .filter(|r| self.owned_in(id, r, &[P::PartitionAnalyzed]))
                .cloned()
                .collect();
            if !ready.is_empty() {
                out.push((1.0, Action::Schedule { build: id.clone(), candidates: ready }));
            }
        }
        for run in &runs {
            self.job_run_actions(id, run, out);
        }
        // Builds are cancelled (or give up) now and then, but only while they have work:
        // a build that merely waits on another writer keeps waiting.
        if out.len() > before && self.config.cancel_rate > 0.0 {
            let end = if (self.event_seq + self.builds_started as u64).is_multiple_of(2) {
                B::BuildRequestCancelled
            } else {
                B::BuildRequestFailed
            };
            out.push((self.config.cancel_rate, Action::GiveUp { build: id.clone(), end }));
        }
    }

    fn job_run_actions(&self, build: &str, run: &JobRun, out: &mut Vec<(f64, Action)>) {
        let act = |to| Action::JobRun { build: build.to_owned(), job_run: run.job_run_id.clone(), to };
        match run.status {
            J::JobRunScheduled => {
                out.push((1.0, act(J::JobRunRunning)));
                out.push((0.05, act(J::JobRunSkipped)));
                out.push((0.05, act(J::JobRunCancelled)));
            }
            J::JobRunRunning => {
                let mut busy = false;
                let mut all_available = true;
                for t in &run.target_partitions {
                    let part = self.state.partitions.get(t);
                    if part.is_none_or(|p| p.status != P::PartitionAvailable) {
                        all_available = false;
                    }
                    if self.owned_in(build, t, &[P::PartitionAnalyzed]) {
                        busy = true;
                        out.push((1.0, self.partition_action(build, t, P::PartitionBuilding, Some(&run.job_run_id))));
                    } else if self.building_under(build, t, &run.job_run_id) {
                        busy = true;
                        let f = self.config.failure_rate.clamp(0.0, 1.0);
                        out.push((
                            1.0 - f,
                            self.partition_action(build, t, P::PartitionAvailable, Some(&run.job_run_id)),
                        ));
                        out.push((f, self.partition_action(build, t, P::PartitionFailed, Some(&run.job_run_id))));
                    }
                }
                if !busy {
                    let end = if all_available { J::JobRunCompleted } else { J::JobRunFailed };
                    out.push((1.0, act(end)));
                }
                if !run.target_partitions.iter().any(|t| self.building_under(build, t, &run.job_run_id)) {
                    out.push((0.05, act(J::JobRunCancelled)));
                }
            }
            _ => {}
        }
    }

    /// Winding down: cancel job runs, fail what the build still has in progress, then end.
    fn wind_down_actions(&self, build: &BuildRequest, end: B, out: &mut Vec<(f64, Action)>) {
        let id = &build.build_request_id;
        let before = out.len();
        for run in self.own_job_runs(id) {
            let act = |to| Action::JobRun { build: id.clone(), job_run: run.job_run_id.clone(), to };
            match run.status {
                J::JobRunScheduled => {
                    out.push((1.0, act(J::JobRunCancelled)));
                    out.push((0.2, act(J::JobRunSkipped)));
                }
                J::JobRunRunning => {
                    let building: Vec<&String> =
                        run.target_partitions.iter().filter(|t| self.building_under(id, t, &run.job_run_id)).collect();
                    for t in &building {
                        out.push((1.0, self.partition_action(id, t, P::PartitionFailed, Some(&run.job_run_id))));
                    }
                    if building.is_empty() {
                        out.push((1.0, act(J::JobRunCancelled)));
                        out.push((1.0, act(J::JobRunFailed)));
                    }
                }
                _ => {}
            }
        }
        for r in &build.requested_partitions {
            if self.owned_in(id, r, &[P::PartitionRequested, P::PartitionAnalyzed]) {
                out.push((1.0, self.partition_action(id, r, P::PartitionFailed, None)));
            }
        }
        if out.len() == before {
            out.push((1.0, self.build_action(id, end)));
        }
    }

    fn owned_in(&self, build: &str, partition: &str, statuses: &[P]) -> bool {
        self.state
            .partitions
            .get(partition)
            .is_some_and(|p| p.build_request_id == build && statuses.contains(&p.status))
    }

    /// The partition is BUILDING, owned by `build`, under `job_run`.
    fn building_under(&self, build: &str, partition: &str, job_run: &str) -> bool {
        self.state.partitions.get(partition).is_some_and(|p| {
            p.build_request_id == build && p.status == P::PartitionBuilding && p.job_run_id.as_deref() == Some(job_run)
        })
    }

    fn build_action(&self, build: &str, to: B) -> Action {
        Action::Build { build: build.to_owned(), to }
    }

    fn partition_action(&self, build: &str, partition: &str, to: P, job_run: Option<&str>) -> Action {
        Action::Partition {
            build: build.to_owned(),
            partition: partition.to_owned(),
            to,
            job_run: job_run.map(str::to_owned),
        }
    }

    fn event_for(&mut self, action: Action) -> Option<BuildEvent> {
        let (build, payload) = match action {
            Action::GiveUp { .. } => return None,
            Action::NewBuild => {
                let build = self.build_id(self.builds_started + 1);
                let count = 1 + self.rng.below(self.config.max_requested_partitions.min(self.partition_refs.len()));
                let mut refs = self.partition_refs.clone();
                self.rng.shuffle(&mut refs);
                refs.truncate(count);
                let payload = Payload::BuildRequest(BuildRequestEvent {
                    status: B::BuildRequestReceived as i32,
                    requested_partitions: refs,
                    message: String::new(),
                });
                (build, payload)
            }
            Action::Invalidate { partition } => {
                let payload = Payload::Invalidation(PartitionInvalidationEvent {
                    partition_ref: partition,
                    reason: "upstream data corrected".into(),
                });
                (String::new(), payload)
            }
            Action::Build { build, to } => {
                let message = match to {
                    B::BuildRequestFailed => "a requested partition could not be built",
                    B::BuildRequestCancelled => "cancelled by the user",
                    _ => "",
                };
                let payload = Payload::BuildRequest(BuildRequestEvent {
                    status: to as i32,
                    requested_partitions: Vec::new(),
                    message: message.into(),
                });
                (build, payload)
            }
            Action::Request { build, partition } => {
                let payload = Payload::Partition(PartitionEvent {
                    partition_ref: partition,
                    status: P::PartitionRequested as i32,
                    job_run_id: String::new(),
                    message: String::new(),
                });
                (build, payload)
            }
            Action::Delegate { build, partition, owner } => {
                // Half the time leave the owner out: the log fills it in.
                let owner = if self.rng.chance(0.5) { owner } else { String::new() };
                let payload = Payload::Delegation(DelegationEvent {
                    partition_ref: partition,
                    delegated_to_build_request_id: owner,
                    message: String::new(),
                });
                (build, payload)
            }
            Action::Partition { build, partition, to, job_run } => {
                let payload = Payload::Partition(PartitionEvent {
                    partition_ref: partition,
                    status: to as i32,
                    job_run_id: job_run.unwrap_or_default(),
                    message: if to == P::PartitionFailed { "job run failed".into() } else { String::new() },
                });
                (build, payload)
            }
            Action::Schedule { build, mut candidates } => {
                let n = self.own_builds.get(&build).map_or(0, |p| p.job_runs) + 1;
                self.rng.shuffle(&mut candidates);
                candidates.truncate(1 + self.rng.below(self.config.max_targets_per_job_run));
                let job_label = self.rng.pick(&self.config.job_labels).cloned().unwrap_or_default();
                let payload = Payload::JobRun(JobRunEvent {
                    job_run_id: format!("{build}/j{n}"),
                    job_label,
                    status: J::JobRunScheduled as i32,
                    target_partitions: candidates,
                    exit_code: 0,
                    message: String::new(),
                });
                (build, payload)
            }
            Action::JobRun { build, job_run, to } => {
                let (exit_code, message) = match to {
                    J::JobRunFailed => (1 + self.rng.below(3) as i32, "exit status non-zero"),
                    J::JobRunCancelled => (130, "cancelled"),
                    _ => (0, ""),
                };
                // Later events may omit label and targets (the log fills them in); half do.
                let (job_label, target_partitions) = match self.state.job_runs.get(&job_run) {
                    Some(run) if self.rng.chance(0.5) => (run.job_label.clone(), run.target_partitions.clone()),
                    _ => (String::new(), Vec::new()),
                };
                let payload = Payload::JobRun(JobRunEvent {
                    job_run_id: job_run,
                    job_label,
                    status: to as i32,
                    target_partitions,
                    exit_code,
                    message: message.into(),
                });
                (build, payload)
            }
        };
        self.event_seq += 1;
        let event_id = format!("e-{}-{}", self.id_stem(), self.event_seq);
        Some(self.envelope(&build, payload, event_id))
    }

    /// Wraps a payload, advancing the clock by 1 ms to 5 s.
    fn envelope(&mut self, build: &str, payload: Payload, event_id: String) -> BuildEvent {
        self.clock += 1_000 + self.rng.below(5_000_000) as i64;
        BuildEvent {
            idx: 0,
            event_id,
            timestamp: Some(pbjson_types::Timestamp {
                seconds: self.clock.div_euclid(1_000_000),
                nanos: (self.clock.rem_euclid(1_000_000) * 1000) as i32,
            }),
            build_request_id: build.to_owned(),
            payload: Some(payload),
        }
    }

    // --- invalid events ------------------------------------------------------------

    fn active_builds(&self) -> Vec<&BuildRequest> {
        self.state.build_requests.values().filter(|b| !BUILD_REQUEST.is_terminal(b.status)).collect()
    }

    fn is_active(&self, build: &str) -> bool {
        self.state.build_requests.get(build).is_some_and(|b| !BUILD_REQUEST.is_terminal(b.status))
    }

    /// A build id that does not exist.
    fn ghost_build(&mut self) -> String {
        loop {
            let id = format!("{}ghost{}", self.build_prefix, self.rng.below(1_000_000));
            if !self.state.build_requests.contains_key(&id) {
                return id;
            }
        }
    }

    fn pick_partition(&mut self, keep: impl Fn(&Partition) -> bool) -> Option<Partition> {
        let found: Vec<&Partition> = self.state.partitions.values().filter(|p| keep(p)).collect();
        let i = self.rng.below(found.len());
        found.get(i).map(|p| (*p).clone())
    }

    fn pick_job_run(&mut self, keep: impl Fn(&JobRun) -> bool) -> Option<JobRun> {
        let found: Vec<&JobRun> = self.state.job_runs.values().filter(|r| keep(r)).collect();
        let i = self.rng.below(found.len());
        found.get(i).map(|r| (*r).clone())
    }

    fn pick_build(&mut self, keep: impl Fn(&BuildRequest) -> bool) -> Option<String> {
        let found: Vec<&String> =
            self.state.build_requests.values().filter(|b| keep(b)).map(|b| &b.build_request_id).collect();
        let i = self.rng.below(found.len());
        found.get(i).map(|b| (*b).clone())
    }

    /// An active build other than `not`.
    fn pick_active_other(&mut self, not: &str) -> Option<String> {
        self.pick_build(|b| !BUILD_REQUEST.is_terminal(b.status) && b.build_request_id != not)
    }

    fn any_ref(&mut self) -> String {
        self.rng.pick(&self.partition_refs).cloned().unwrap_or_else(|| "data/x".into())
    }

    fn partition_payload(partition: &str, to: P, job_run: &str) -> Payload {
        Payload::Partition(PartitionEvent {
            partition_ref: partition.to_owned(),
            status: to as i32,
            job_run_id: job_run.to_owned(),
            message: String::new(),
        })
    }

    fn schedule_payload(job_run: String, label: &str, targets: Vec<String>) -> Payload {
        Payload::JobRun(JobRunEvent {
            job_run_id: job_run,
            job_label: label.to_owned(),
            status: J::JobRunScheduled as i32,
            target_partitions: targets,
            exit_code: 0,
            message: String::new(),
        })
    }

    fn job_run_payload(job_run: &str, to: J) -> Payload {
        Payload::JobRun(JobRunEvent {
            job_run_id: job_run.to_owned(),
            job_label: String::new(),
            status: to as i32,
            target_partitions: Vec::new(),
            exit_code: 0,
            message: String::new(),
        })
    }

    fn delegation_payload(partition: &str, owner: &str) -> Payload {
        Payload::Delegation(DelegationEvent {
            partition_ref: partition.to_owned(),
            delegated_to_build_request_id: owner.to_owned(),
            message: String::new(),
        })
    }

    /// A payload that is fine in every respect but the one a build-scoped rule checks:
    /// a request for a fresh partition, a job run, or a delegation of a live partition.
    fn build_scoped_payload(&mut self, build: &str) -> Payload {
        let r = self.any_ref();
        match self.rng.below(3) {
            0 => Self::partition_payload(&r, P::PartitionRequested, ""),
            1 => {
                let label = self.rng.pick(&self.config.job_labels).cloned().unwrap_or_default();
                Self::schedule_payload(format!("{build}/j-new"), &label, vec![r])
            }
            _ => Self::delegation_payload(&r, ""),
        }
    }

    /// `(build_request_id, payload, idx)` of an event making exactly `mistake`.
    fn invalid_payload(&mut self, mistake: Mistake) -> Option<(String, Payload, i64)> {
        let none = |b: String, p: Payload| Some((b, p, 0));
        match mistake {
            Mistake::UnknownBuild => {
                let build = self.ghost_build();
                let payload = self.build_scoped_payload(&build);
                none(build, payload)
            }
            Mistake::TerminalBuild => {
                let build = self.pick_build(|b| BUILD_REQUEST.is_terminal(b.status))?;
                let payload = self.build_scoped_payload(&build);
                none(build, payload)
            }
            Mistake::BuildTransition => {
                let existing = self.pick_build(|_| true);
                let (build, from) = match existing {
                    Some(id) if self.rng.chance(0.8) => {
                        let from = self.state.build_requests.get(&id).map(|b| b.status);
                        (id, from)
                    }
                    _ => (self.ghost_build(), None),
                };
                let wrong: Vec<B> = B::ALL.iter().copied().filter(|s| !BUILD_REQUEST.allows(from, *s)).collect();
                let to = *self.rng.pick(&wrong)?;
                let requested = if to == B::BuildRequestReceived { vec![self.any_ref()] } else { Vec::new() };
                let payload = Payload::BuildRequest(BuildRequestEvent {
                    status: to as i32,
                    requested_partitions: requested,
                    message: String::new(),
                });
                none(build, payload)
            }
            Mistake::NoRequestedPartitions => {
                let build = self.ghost_build();
                let payload = Payload::BuildRequest(BuildRequestEvent {
                    status: B::BuildRequestReceived as i32,
                    requested_partitions: Vec::new(),
                    message: String::new(),
                });
                none(build, payload)
            }
            Mistake::PartitionTransition => {
                let owned = self.pick_partition(|_| true);
                let (build, partition, from, job_run) = match owned {
                    Some(p) if self.is_active(&p.build_request_id) => {
                        (p.build_request_id, p.partition_ref, Some(p.status), p.job_run_id.unwrap_or_default())
                    }
                    // A partition that does not exist yet, from any active build.
                    _ => {
                        let build = self.pick_build(|b| !BUILD_REQUEST.is_terminal(b.status))?;
                        let r = self.fresh_ref()?;
                        (build, r, None, String::new())
                    }
                };
                // INVALIDATED through a partition event is never an edge (only invalidations).
                let wrong: Vec<P> = P::ALL
                    .iter()
                    .copied()
                    .filter(|s| *s == P::PartitionInvalidated || !PARTITION.allows(from, *s))
                    .collect();
                let to = *self.rng.pick(&wrong)?;
                none(build, Self::partition_payload(&partition, to, &job_run))
            }
            Mistake::NotTheOwner => {
                let p = self.pick_partition(|p| {
                    matches!(p.status, P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding)
                })?;
                let intruder = self.pick_active_other(&p.build_request_id)?;
                let next: Vec<P> = PARTITION.next_states(Some(p.status));
                let to = *self.rng.pick(&next)?;
                let job_run = p.job_run_id.unwrap_or_default();
                none(intruder, Self::partition_payload(&p.partition_ref, to, &job_run))
            }
            Mistake::RequestOwnedElsewhere => {
                let p = self.pick_partition(|p| {
                    matches!(
                        p.status,
                        P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding | P::PartitionAvailable
                    )
                })?;
                let other = self.pick_active_other(&p.build_request_id)?;
                none(other, Self::partition_payload(&p.partition_ref, P::PartitionRequested, ""))
            }
            Mistake::DelegationNotNeeded => {
                let build = self.pick_build(|b| !BUILD_REQUEST.is_terminal(b.status))?;
                let partition = match self.rng.below(3) {
                    0 => self.fresh_ref(),
                    1 => self
                        .pick_partition(|p| matches!(p.status, P::PartitionFailed | P::PartitionInvalidated))
                        .map(|p| p.partition_ref),
                    _ => {
                        let own = build.clone();
                        self.pick_partition(move |p| {
                            p.build_request_id == own
                                && !matches!(p.status, P::PartitionFailed | P::PartitionInvalidated)
                        })
                        .map(|p| p.partition_ref)
                    }
                }?;
                none(build, Self::delegation_payload(&partition, ""))
            }
            Mistake::DelegationWrongOwner => {
                let p = self.pick_partition(|p| {
                    matches!(
                        p.status,
                        P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding | P::PartitionAvailable
                    )
                })?;
                let delegator = self.pick_active_other(&p.build_request_id)?;
                let wrong_owner = match self.rng.below(3) {
                    0 => delegator.clone(),
                    1 => self.ghost_build(),
                    _ => {
                        let owner = p.build_request_id.clone();
                        self.pick_build(move |b| b.build_request_id != owner).unwrap_or_else(|| "nobody".into())
                    }
                };
                none(delegator, Self::delegation_payload(&p.partition_ref, &wrong_owner))
            }
            Mistake::CompleteUnavailable => {
                let unavailable: BTreeSet<&String> = self
                    .state
                    .partitions
                    .values()
                    .filter(|p| p.status != P::PartitionAvailable)
                    .map(|p| &p.partition_ref)
                    .collect();
                let blocked: Vec<String> = self
                    .state
                    .build_requests
                    .values()
                    .filter(|b| b.status == B::BuildRequestExecuting)
                    .filter(|b| {
                        b.requested_partitions
                            .iter()
                            .any(|r| unavailable.contains(r) || !self.state.partitions.contains_key(r))
                    })
                    .map(|b| b.build_request_id.clone())
                    .collect();
                let build = self.rng.pick(&blocked)?.clone();
                let payload = Payload::BuildRequest(BuildRequestEvent {
                    status: B::BuildRequestCompleted as i32,
                    requested_partitions: Vec::new(),
                    message: String::new(),
                });
                none(build, payload)
            }
            Mistake::JobRunTransition => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let run = self.pick_job_run(|r| active.contains(&r.build_request_id))?;
                let wrong: Vec<J> = J::ALL.iter().copied().filter(|s| !JOB_RUN.allows(Some(run.status), *s)).collect();
                let to = *self.rng.pick(&wrong)?;
                none(run.build_request_id, Self::job_run_payload(&run.job_run_id, to))
            }
            Mistake::JobRunOtherBuild => {
                let run = self.pick_job_run(|_| true)?;
                let other = self.pick_active_other(&run.build_request_id)?;
                let to = *self.rng.pick(J::ALL)?;
                none(other, Self::job_run_payload(&run.job_run_id, to))
            }
            Mistake::ScheduleTooEarly => {
                let build =
                    self.pick_build(|b| matches!(b.status, B::BuildRequestReceived | B::BuildRequestPlanning))?;
                let r = self.any_ref();
                let label = self.rng.pick(&self.config.job_labels).cloned().unwrap_or_default();
                none(build.clone(), Self::schedule_payload(format!("{build}/j-early"), &label, vec![r]))
            }
            Mistake::ScheduleIncomplete => {
                let build = self
                    .pick_build(|b| matches!(b.status, B::BuildRequestAnalysisCompleted | B::BuildRequestExecuting))?;
                let r = self.any_ref();
                let label = self.rng.pick(&self.config.job_labels).cloned().unwrap_or_default();
                let payload = if self.rng.chance(0.5) {
                    Self::schedule_payload(format!("{build}/j-incomplete"), "", vec![r])
                } else {
                    Self::schedule_payload(format!("{build}/j-incomplete"), &label, Vec::new())
                };
                none(build, payload)
            }
            Mistake::ProducerMissing | Mistake::ProducerUnknown | Mistake::ProducerNotRunning => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let p =
                    self.pick_partition(|p| p.status == P::PartitionBuilding && active.contains(&p.build_request_id))?;
                let job_run = match mistake {
                    Mistake::ProducerMissing => String::new(),
                    Mistake::ProducerUnknown => format!("{}/no-such-run", p.build_request_id),
                    _ => {
                        let r = p.partition_ref.clone();
                        self.pick_job_run(move |run| {
                            run.status != J::JobRunRunning || !run.target_partitions.contains(&r)
                        })?
                        .job_run_id
                    }
                };
                let to = if self.rng.chance(0.5) { P::PartitionAvailable } else { P::PartitionFailed };
                none(p.build_request_id, Self::partition_payload(&p.partition_ref, to, &job_run))
            }
            Mistake::JobRunRelabel => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let run =
                    self.pick_job_run(|r| !JOB_RUN.is_terminal(r.status) && active.contains(&r.build_request_id))?;
                let to = *self.rng.pick(&JOB_RUN.next_states(Some(run.status)))?;
                let mut event = JobRunEvent {
                    job_run_id: run.job_run_id.clone(),
                    job_label: run.job_label.clone(),
                    status: to as i32,
                    target_partitions: run.target_partitions.clone(),
                    exit_code: 0,
                    message: String::new(),
                };
                if self.rng.chance(0.5) {
                    event.job_label.push_str("-renamed");
                } else {
                    event.target_partitions.push(format!("{}/extra", run.job_run_id));
                }
                none(run.build_request_id, Payload::JobRun(event))
            }
            Mistake::InvalidateUnavailable => {
                let partition = match self.pick_partition(|p| p.status != P::PartitionAvailable) {
                    Some(p) if self.rng.chance(0.7) => p.partition_ref,
                    _ => self.fresh_ref()?,
                };
                let payload = Payload::Invalidation(PartitionInvalidationEvent {
                    partition_ref: partition,
                    reason: "stale".into(),
                });
                none(String::new(), payload)
            }
            Mistake::UnspecifiedStatus => {
                let build = self.pick_build(|_| true).unwrap_or_else(|| "b".into());
                let r = self.any_ref();
                let payload = match self.rng.below(3) {
                    0 => Payload::BuildRequest(BuildRequestEvent {
                        status: B::Unspecified as i32,
                        requested_partitions: vec![r],
                        message: String::new(),
                    }),
                    1 => Self::partition_payload(&r, P::Unspecified, ""),
                    _ => Self::job_run_payload(&format!("{build}/j1"), J::Unspecified),
                };
                none(build, payload)
            }
            Mistake::IdxSet => {
                let build = self.ghost_build();
                let payload = Payload::BuildRequest(BuildRequestEvent {
                    status: B::BuildRequestReceived as i32,
                    requested_partitions: vec![self.any_ref()],
                    message: String::new(),
                });
                Some((build, payload, 1 + self.rng.below(1000) as i64))
            }
        }
    }

    /// A partition ref no event has mentioned yet.
    fn fresh_ref(&mut self) -> Option<String> {
        let fresh: Vec<&String> =
            self.partition_refs.iter().filter(|r| !self.state.partitions.contains_key(*r)).collect();
        match self.rng.pick(&fresh) {
            Some(r) => Some((*r).clone()),
            None => Some(format!("{}never/{}", self.build_prefix, self.rng.below(1_000_000))),
        }
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number from [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_round_trips() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(civil_from_days(days_from_civil(2026, 11, 30) + 1), (2026, 12, 1));
        assert_eq!(civil_from_days(days_from_civil(2028, 2, 28) + 1), (2028, 2, 29));
        for z in -1000..1000 {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }

    #[test]
    fn partition_refs_are_dated_per_dataset() {
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

    #[test]
    fn rng_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Rng::new(7), Rng::new(7));
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
            let x = a.below(5);
            assert!(x < 5);
            b.below(5);
            let u = a.unit();
            assert!((0.0..1.0).contains(&u));
            b.unit();
        }
        assert_eq!(a.below(0), 0);
    }
}
