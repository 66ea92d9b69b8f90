//! The simulator itself: it ends, emits only valid events (its model never disagrees
//! with the rules), is deterministic, exercises every edge of every diagram and every
//! kind of event, and its writers can be interleaved freely.
use std::collections::{BTreeMap, BTreeSet};

use bel_core::diagram::{BUILD_REQUEST, JOB_RUN, PARTITION};
use bel_core::pb::{
    build_event::Payload, BuildEvent, BuildRequestStatus as B, JobRunStatus as J, PartitionStatus as P,
};
use bel_core::reducer::replay;
use bel_core::rules::{apply, prepare};
use bel_core::state::State;
use bel_core::status::Status;
use bel_core::Rejection;
use bel_sim::{Mistake, Sim, SimConfig, SimRng};
use rand::{Rng, SeedableRng};

/// An in-memory log that validates and applies as `bel_append` does.
#[derive(Default)]
struct Log {
    state: State,
    events: Vec<BuildEvent>,
}

impl Log {
    /// Validates and appends; the event is stored as `prepare` completed it.
    fn append(&mut self, mut event: BuildEvent) -> Result<(), Rejection> {
        prepare(&self.state, &mut event)?;
        apply(&mut self.state, &event, self.events.len() as i64 + 1);
        self.events.push(event);
        Ok(())
    }
}

/// Runs a simulation to its end (bounded, so a simulator that never ends fails the test).
fn run(sim: &mut Sim) -> Vec<BuildEvent> {
    let mut events = Vec::new();
    while let Some(event) = sim.next_event() {
        events.push(event);
        assert!(events.len() < 100_000, "the simulation does not end");
    }
    events
}

fn numbered(events: &[BuildEvent]) -> Vec<(i64, BuildEvent)> {
    events.iter().cloned().zip(1..).map(|(e, i)| (i, e)).collect()
}

fn terminal<S: Status>(edges: &[(Option<S>, S)], s: S) -> bool {
    !edges.iter().any(|(f, _)| *f == Some(s))
}

#[test]
fn every_run_ends_with_every_build_terminal_and_replays_to_the_same_state() {
    for seed in 0..30 {
        let config = SimConfig::default();
        let mut sim = Sim::new(seed, config.clone());
        let events = run(&mut sim);
        assert!(sim.is_done());
        let stats = sim.stats();
        assert_eq!((stats.rejected_candidates, stats.forced_failures), (0, 0), "seed {seed}: {stats:?}");
        let state = sim.state();
        assert_eq!(state.build_requests.len(), config.builds);
        assert!(state.build_requests.values().all(|b| terminal(BUILD_REQUEST.edges, b.status)));
        // Winding down leaves nothing in progress under a finished build.
        assert!(state.job_runs.values().all(|r| terminal(JOB_RUN.edges, r.status)), "seed {seed}");
        assert!(
            state
                .partitions
                .values()
                .all(|p| !matches!(p.status, P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding)),
            "seed {seed}"
        );
        assert_eq!(&replay(numbered(&events)).expect("valid sequence"), state);
    }
}

#[test]
fn same_seed_same_sequence() {
    let a = run(&mut Sim::new(42, SimConfig::default()));
    let b = run(&mut Sim::new(42, SimConfig::default()));
    let c = run(&mut Sim::new(43, SimConfig::default()));
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn event_ids_are_unique_and_timestamps_increase() {
    let events = run(&mut Sim::new(7, SimConfig::default()));
    let ids: BTreeSet<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    assert_eq!(ids.len(), events.len());
    assert!(ids.iter().all(|id| id.starts_with("e-7-")));
    let times: Vec<(i64, i32)> =
        events.iter().map(|e| e.timestamp.map(|t| (t.seconds, t.nanos)).expect("timestamp set")).collect();
    assert!(times.windows(2).all(|w| w[0] < w[1]), "timestamps strictly increase");
    assert!(events.iter().all(|e| e.idx == 0), "writers never set idx");
}

/// What the simulations did, over many seeds.
#[derive(Default)]
struct Coverage {
    edges: BTreeSet<(&'static str, Option<&'static str>, &'static str)>,
    kinds: BTreeMap<&'static str, usize>,
    delegations_to_available: usize,
    delegations_in_progress: usize,
    ownership_transfers: usize,
    builds_completed_without_job_runs: usize,
    job_runs_with_several_targets: usize,
    shared_requests: usize,
    building_under_scheduled_runs: usize,
    building_failed_without_a_job_run: usize,
}

fn observe(cov: &mut Coverage, before: &State, event: &BuildEvent) {
    let build = event.build_request_id.as_str();
    match &event.payload {
        Some(Payload::BuildRequest(b)) => {
            *cov.kinds.entry("build_request").or_default() += 1;
            let to = B::try_from(b.status).expect("known");
            let from = before.build_requests.get(build).map(|b| b.status.short_name());
            cov.edges.insert(("build_request", from, to.short_name()));
            if to == B::BuildRequestCompleted && !before.job_runs.values().any(|r| r.build_request_id == build) {
                cov.builds_completed_without_job_runs += 1;
            }
            if to == B::BuildRequestReceived {
                let requested_elsewhere = before.build_requests.values().any(|other| {
                    !terminal(BUILD_REQUEST.edges, other.status)
                        && other.requested_partitions.iter().any(|p| b.requested_partitions.contains(p))
                });
                cov.shared_requests += usize::from(requested_elsewhere);
            }
        }
        Some(Payload::Partition(p)) => {
            *cov.kinds.entry("partition").or_default() += 1;
            let to = P::try_from(p.status).expect("known");
            let current = before.partitions.get(&p.partition_ref);
            cov.edges.insert(("partition", current.map(|c| c.status.short_name()), to.short_name()));
            if current.is_some_and(|c| c.build_request_id != build) {
                cov.ownership_transfers += 1;
            }
            let run = before.job_runs.get(&p.job_run_id).map(|r| r.status);
            if to == P::PartitionBuilding && run == Some(J::JobRunScheduled) {
                cov.building_under_scheduled_runs += 1;
            }
            let was_building = current.is_some_and(|c| c.status == P::PartitionBuilding);
            if was_building && to == P::PartitionFailed && p.job_run_id.is_empty() {
                cov.building_failed_without_a_job_run += 1;
            }
        }
        Some(Payload::JobRun(j)) => {
            *cov.kinds.entry("job_run").or_default() += 1;
            let to = J::try_from(j.status).expect("known");
            let from = before.job_runs.get(&j.job_run_id).map(|r| r.status.short_name());
            cov.edges.insert(("job_run", from, to.short_name()));
            cov.job_runs_with_several_targets += usize::from(from.is_none() && j.target_partitions.len() > 1);
        }
        Some(Payload::Delegation(d)) => {
            *cov.kinds.entry("delegation").or_default() += 1;
            match before.partitions.get(&d.partition_ref).map(|p| p.status) {
                Some(P::PartitionAvailable) => cov.delegations_to_available += 1,
                _ => cov.delegations_in_progress += 1,
            }
        }
        Some(Payload::Invalidation(i)) => {
            *cov.kinds.entry("invalidation").or_default() += 1;
            let from = before.partitions.get(&i.partition_ref).map(|p| p.status.short_name());
            cov.edges.insert(("partition", from, "INVALIDATED"));
        }
        None => panic!("event without payload"),
    }
}

#[test]
fn simulations_cover_every_edge_and_every_kind_of_event() {
    let mut cov = Coverage::default();
    for seed in 0..40 {
        let mut sim = Sim::new(seed, SimConfig::default());
        loop {
            let before = sim.state().clone();
            let Some(event) = sim.next_event() else { break };
            observe(&mut cov, &before, &event);
        }
    }
    let expected: BTreeSet<_> = BUILD_REQUEST
        .rows()
        .chain(JOB_RUN.rows())
        .chain(PARTITION.rows())
        .map(|r| (r.entity, r.from_state, r.to_state))
        .collect();
    let missing: Vec<_> = expected.difference(&cov.edges).collect();
    assert!(missing.is_empty(), "edges never simulated: {missing:?}");
    assert!(cov.edges.is_subset(&expected), "simulated a non-edge: {:?}", cov.edges.difference(&expected));
    for kind in ["build_request", "partition", "job_run", "delegation", "invalidation"] {
        assert!(cov.kinds.get(kind).copied().unwrap_or(0) > 0, "no {kind} events");
    }
    assert!(cov.delegations_to_available > 0, "no delegation to an AVAILABLE partition");
    assert!(cov.delegations_in_progress > 0, "no delegation to a partition in progress");
    assert!(cov.ownership_transfers > 0, "no build re-requested another build's FAILED/INVALIDATED partition");
    assert!(cov.builds_completed_without_job_runs > 0, "no build completed on delegations alone");
    assert!(cov.job_runs_with_several_targets > 0, "no job run with several targets");
    assert!(cov.shared_requests > 0, "no builds sharing partitions");
    assert!(cov.building_under_scheduled_runs > 0, "no partition entered BUILDING under a SCHEDULED job run");
    assert!(cov.building_failed_without_a_job_run > 0, "no BUILDING partition failed without naming a job run");
}

#[test]
fn emitted_events_are_as_the_log_stores_them() {
    // The simulator leaves derived fields out half the time; what it emits has been
    // through prepare, which fills them in.
    let mut sim = Sim::new(3, SimConfig::default());
    let mut delegations = 0;
    while let Some(event) = sim.next_event() {
        if let Some(Payload::Delegation(d)) = &event.payload {
            delegations += 1;
            assert!(!d.delegated_to_build_request_id.is_empty(), "stored delegations name the owner");
        }
        if let Some(Payload::JobRun(j)) = &event.payload {
            assert!(!j.job_label.is_empty() && !j.target_partitions.is_empty(), "{j:?}");
        }
    }
    assert!(delegations > 0);
}

#[test]
fn without_failures_cancellations_or_invalidations_every_build_completes() {
    for seed in 0..10 {
        let config = SimConfig { failure_rate: 0.0, cancel_rate: 0.0, invalidation_rate: 0.0, ..SimConfig::default() };
        let mut sim = Sim::new(seed, config);
        run(&mut sim);
        for b in sim.state().build_requests.values() {
            assert_eq!(b.status, B::BuildRequestCompleted, "seed {seed}: {b:?}");
        }
    }
}

#[test]
fn degenerate_configs_still_produce_valid_runs() {
    let configs = [
        SimConfig { builds: 0, ..SimConfig::default() },
        SimConfig { partitions: 0, max_requested_partitions: 0, max_targets_per_job_run: 0, ..SimConfig::default() },
        SimConfig { partitions: 1, max_active_builds: 0, ..SimConfig::default() },
        SimConfig { failure_rate: 1.0, ..SimConfig::default() },
        SimConfig { cancel_rate: 1.0, invalidation_rate: 1.0, ..SimConfig::default() },
        SimConfig { datasets: vec![], job_labels: vec![], ..SimConfig::default() },
    ];
    for (i, config) in configs.into_iter().enumerate() {
        let builds = config.builds;
        let mut sim = Sim::new(i as u64, config);
        let events = run(&mut sim);
        assert!(sim.is_done(), "config {i}");
        assert_eq!(sim.state().build_requests.len(), builds, "config {i}");
        assert_eq!(sim.stats().rejected_candidates, 0, "config {i}");
        assert_eq!(&replay(numbered(&events)).expect("valid"), sim.state(), "config {i}");
    }
    let mut all_fail = Sim::new(1, SimConfig { failure_rate: 1.0, ..SimConfig::default() });
    run(&mut all_fail);
    assert!(all_fail.state().build_requests.values().all(|b| b.status != B::BuildRequestCompleted));
}

#[test]
fn namespaced_writers_never_conflict_in_any_interleaving() {
    for seed in 0..10 {
        let config = SimConfig { builds: 6, ..SimConfig::default() };
        let mut writers: Vec<Sim> = (0..3).map(|w| Sim::for_writer(seed, w, config.clone())).collect();
        let mut log = Log::default();
        let mut rng = SimRng::seed_from_u64(seed);
        let mut live: Vec<usize> = (0..writers.len()).collect();
        while !live.is_empty() {
            let pick = rng.gen_range(0..live.len());
            match writers[live[pick]].next_event() {
                Some(event) => log.append(event).expect("namespaced writers never conflict"),
                None => {
                    live.swap_remove(pick);
                }
            }
        }
        for (w, sim) in writers.iter().enumerate() {
            let prefix = format!("w{w}/");
            assert!(sim.state().build_requests.keys().all(|b| b.starts_with(&prefix)));
            assert!(sim.state().partitions.keys().all(|p| p.starts_with(&prefix)));
            // The writer's view (own idx numbering aside) is the log's, restricted to it.
            for (id, b) in &sim.state().build_requests {
                assert_eq!(log.state.build_requests[id].status, b.status);
            }
            for (r, p) in &sim.state().partitions {
                assert_eq!(log.state.partitions[r].status, p.status);
            }
        }
        let ids: BTreeSet<&str> = log.events.iter().map(|e| e.event_id.as_str()).collect();
        assert_eq!(ids.len(), log.events.len(), "event ids unique across writers");
    }
}

/// Writers sharing partitions append to one log from stale views (catching up only now
/// and then), so they race; each observes the whole log in idx order.
#[test]
fn writers_sharing_partitions_race_through_a_common_log() {
    let mut refused = 0;
    let mut cross_writer_delegations = 0;
    for seed in 0..6 {
        let config = SimConfig { builds: 5, partitions: 6, shared_partitions: true, ..SimConfig::default() };
        let mut writers: Vec<Sim> = (0..3).map(|w| Sim::for_writer(seed, w, config.clone())).collect();
        let mut seen = vec![0usize; writers.len()];
        let mut log = Log::default();
        let mut rng = SimRng::seed_from_u64(seed ^ 0xABCD);
        let catch_up = |sim: &mut Sim, seen: &mut usize, log: &Log| {
            while *seen < log.events.len() {
                sim.observe(*seen as i64 + 1, &log.events[*seen]).expect("the log's events are valid");
                *seen += 1;
            }
        };
        for step in 0.. {
            assert!(step < 200_000, "shared writers never finish");
            if writers.iter().all(Sim::is_done) {
                break;
            }
            let w = rng.gen_range(0..writers.len());
            if rng.gen_bool(0.6) {
                catch_up(&mut writers[w], &mut seen[w], &log);
            }
            if let Some(event) = writers[w].propose() {
                let delegated_across = matches!(&event.payload, Some(Payload::Delegation(d))
                    if !d.delegated_to_build_request_id.starts_with(&format!("w{w}/")));
                match log.append(event) {
                    Ok(_) => cross_writer_delegations += usize::from(delegated_across),
                    Err(_) => refused += 1,
                }
            }
        }
        for (w, sim) in writers.iter_mut().enumerate() {
            catch_up(sim, &mut seen[w], &log);
            assert_eq!(sim.state(), &log.state, "seed {seed}: writer {w} observed the whole log");
        }
    }
    assert!(refused > 0, "stale writers should sometimes lose a race");
    assert!(cross_writer_delegations > 0, "writers should wait on each other's partitions");
}

#[test]
fn every_mistake_is_produced_somewhere() {
    let mut produced = BTreeSet::new();
    for seed in 0..10 {
        let mut sim = Sim::new(seed, SimConfig::default());
        loop {
            for &mistake in Mistake::ALL {
                if sim.invalid_event(mistake).is_some() {
                    produced.insert(mistake);
                }
            }
            if sim.next_event().is_none() {
                break;
            }
        }
    }
    let missing: Vec<_> = Mistake::ALL.iter().filter(|m| !produced.contains(m)).collect();
    assert!(missing.is_empty(), "never produced: {missing:?}");
}
