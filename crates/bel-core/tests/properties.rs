//! Properties over random simulations:
//! (a) a simulated sequence replays (`reducer::replay`) to the simulator's own,
//!     incrementally maintained state, after every prefix, and that state agrees with a
//!     naive fold of the events written from the spec;
//! (b) events the simulator declares invalid are refused by `prepare`, with the class the
//!     mistake calls for, and refusing them changes nothing;
//! (c) `CompiledFilter::matches` agrees with a naive reading of the spec's filter text.
use std::collections::BTreeMap;

use proptest::prelude::*;

use bel_core::filter::CompiledFilter;
use bel_core::pb::{build_event::Payload, BuildEvent, EventFilter, PartitionStatus};
use bel_core::reducer::{replay, Reducer};
use bel_core::rules::prepare;
use bel_core::sim::{Mistake, Rng, Sim, SimConfig};
use bel_core::state::State;

fn config_strategy() -> impl Strategy<Value = SimConfig> {
    (
        (1usize..8, 1usize..14, 1usize..4, 1usize..4),
        (0.0f64..0.6, 0.0f64..0.1, 0.0f64..0.3),
        (1usize..5, 1usize..5, 1usize..4),
    )
        .prop_map(
            |(
                (builds, partitions, datasets, labels),
                (failure, cancel, invalidation),
                (active, requested, targets),
            )| {
                let defaults = SimConfig::default();
                SimConfig {
                    builds,
                    partitions,
                    datasets: ["users", "orders", "events"][..datasets].iter().map(|s| s.to_string()).collect(),
                    job_labels: defaults.job_labels[..labels].to_vec(),
                    failure_rate: failure,
                    cancel_rate: cancel,
                    invalidation_rate: invalidation,
                    max_active_builds: active,
                    max_requested_partitions: requested,
                    max_targets_per_job_run: targets,
                    ..defaults
                }
            },
        )
}

fn simulate(seed: u64, config: SimConfig) -> (Sim, Vec<BuildEvent>) {
    let mut sim = Sim::new(seed, config);
    let events: Vec<BuildEvent> = sim.by_ref().take(50_000).collect();
    (sim, events)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// (a) Replaying what the simulator emitted gives the state it maintained itself,
    /// step by step, and replaying any prefix succeeds.
    #[test]
    fn replay_equals_the_simulators_state(seed in any::<u64>(), config in config_strategy(), cut in 0.0f64..1.0) {
        let mut sim = Sim::new(seed, config);
        let mut reducer = Reducer::new();
        let mut events = Vec::new();
        let mut snapshots = Vec::new();
        while let Some(event) = sim.next_event() {
            let idx = events.len() as i64 + 1;
            prop_assert!(reducer.apply(idx, &event).is_ok(), "event {idx} refused on replay: {event:?}");
            prop_assert_eq!(&reducer.state, sim.state());
            events.push((idx, event));
            snapshots.push(sim.state().clone());
            prop_assert!(events.len() < 50_000, "the simulation does not end");
        }
        prop_assert!(sim.is_done());
        prop_assert_eq!(sim.stats().rejected_candidates, 0, "the simulator's model disagrees with the rules");
        prop_assert_eq!(naive_fold(events.iter().map(|(_, e)| e)), Summary::of(sim.state()));
        let prefix = (events.len() as f64 * cut) as usize;
        let replayed = replay(events[..prefix].iter().cloned());
        prop_assert!(replayed.is_ok(), "prefix of {} refused: {:?}", prefix, replayed.err());
        let expected = if prefix == 0 { Default::default() } else { snapshots[prefix - 1].clone() };
        prop_assert_eq!(replayed.ok(), Some(expected));
    }

    /// (b) At every step of a run, every mistake the simulator can make right now is
    /// refused by prepare with the expected class, and neither producing nor refusing it
    /// changes the state.
    #[test]
    fn invalid_events_are_refused(seed in any::<u64>(), config in config_strategy()) {
        let mut sim = Sim::new(seed, config);
        loop {
            let before = sim.state().clone();
            let mut candidates: Vec<_> = Mistake::ALL
                .iter()
                .filter_map(|&m| sim.invalid_event(m).map(|e| (m, e)))
                .collect();
            candidates.extend(sim.invalid_next_explained().map(|i| (i.mistake, i.event)));
            prop_assert!(!candidates.is_empty(), "invalid_next found no mistake to make");
            for (mistake, mut event) in candidates {
                let shown = format!("{mistake:?}: {event:?}");
                match prepare(sim.state(), &mut event) {
                    Ok(()) => prop_assert!(false, "accepted {}", shown),
                    Err(rejection) => prop_assert_eq!(rejection.class, mistake.expected_class(), "{} -> {:?}", shown, rejection),
                }
            }
            prop_assert_eq!(sim.state(), &before);
            if sim.next_event().is_none() {
                break;
            }
        }
    }

    /// (c) Filter matching against a naive implementation of the spec text.
    #[test]
    fn filter_matches_the_naive_reading(seed in any::<u64>(), config in config_strategy(), filter_seed in any::<u64>()) {
        let (sim, events) = simulate(seed, config);
        let mut rng = Rng::new(filter_seed);
        let pools = Pools::of(&sim, &events);
        for _ in 0..16 {
            let filter = pools.random_filter(&mut rng);
            let compiled = CompiledFilter::new(&filter).expect("generated filters are valid");
            for event in &events {
                prop_assert_eq!(compiled.matches(event), naive_matches(&filter, event), "{:?} on {:?}", filter, event);
            }
        }
    }
}

/// (status, requested partitions, partition -> delegated-to build)
type BuildFacts = (i32, Vec<String>, BTreeMap<String, String>);
/// (status, owning build = the last requester, producing job run)
type PartitionFacts = (i32, String, Option<String>);
/// (status, build, label, targets)
type JobRunFacts = (i32, String, String, Vec<String>);

/// What the log says about each entity, independently of `rules::apply`.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    builds: BTreeMap<String, BuildFacts>,
    partitions: BTreeMap<String, PartitionFacts>,
    job_runs: BTreeMap<String, JobRunFacts>,
}

impl Summary {
    fn of(state: &State) -> Self {
        Summary {
            builds: state
                .build_requests
                .iter()
                .map(|(id, b)| (id.clone(), (b.status as i32, b.requested_partitions.clone(), b.delegations.clone())))
                .collect(),
            partitions: state
                .partitions
                .iter()
                .map(|(r, p)| (r.clone(), (p.status as i32, p.build_request_id.clone(), p.job_run_id.clone())))
                .collect(),
            job_runs: state
                .job_runs
                .iter()
                .map(|(id, j)| {
                    (
                        id.clone(),
                        (j.status as i32, j.build_request_id.clone(), j.job_label.clone(), j.target_partitions.clone()),
                    )
                })
                .collect(),
        }
    }
}

/// The state as the spec describes it: each entity is in the status of the last event
/// about it; a partition is owned by the build that last requested it and was produced by
/// the last job run named since; RECEIVED fixes a build's requested partitions and
/// SCHEDULED a job run's build, label and targets; a delegation records the owner.
fn naive_fold<'a>(events: impl Iterator<Item = &'a BuildEvent>) -> Summary {
    let mut s = Summary::default();
    for e in events {
        let build = &e.build_request_id;
        match &e.payload {
            Some(Payload::BuildRequest(b)) => {
                let entry = s
                    .builds
                    .entry(build.clone())
                    .or_insert_with(|| (0, b.requested_partitions.clone(), BTreeMap::new()));
                entry.0 = b.status;
            }
            Some(Payload::Partition(p)) => {
                let entry = s.partitions.entry(p.partition_ref.clone()).or_insert((0, build.clone(), None));
                entry.0 = p.status;
                if p.status == PartitionStatus::PartitionRequested as i32 {
                    entry.1 = build.clone();
                    entry.2 = None;
                }
                if !p.job_run_id.is_empty() {
                    entry.2 = Some(p.job_run_id.clone());
                }
            }
            Some(Payload::JobRun(j)) => {
                let entry = s
                    .job_runs
                    .entry(j.job_run_id.clone())
                    .or_insert_with(|| (0, build.clone(), j.job_label.clone(), j.target_partitions.clone()));
                entry.0 = j.status;
            }
            Some(Payload::Delegation(d)) => {
                if let Some(b) = s.builds.get_mut(build) {
                    b.2.insert(d.partition_ref.clone(), d.delegated_to_build_request_id.clone());
                }
            }
            Some(Payload::Invalidation(i)) => {
                if let Some(p) = s.partitions.get_mut(&i.partition_ref) {
                    p.0 = PartitionStatus::PartitionInvalidated as i32;
                }
            }
            None => {}
        }
    }
    s
}

/// The spec: "An event matches a partition filter if it involves that partition (partition
/// events, job runs targeting it, build requests requesting it, delegations,
/// invalidations)"; fields combine with AND, values within a field with OR, an empty field
/// does not constrain. A job run filter matches the events naming the job run (its own
/// events, and partition events naming it as the producer, as docs/sql-api.md and the
/// filter module document); a job label filter matches job run events with that label.
fn naive_matches(filter: &EventFilter, event: &BuildEvent) -> bool {
    let (partitions, job_run, label): (Vec<&String>, Option<&String>, Option<&String>) = match &event.payload {
        Some(Payload::BuildRequest(b)) => (b.requested_partitions.iter().collect(), None, None),
        Some(Payload::Partition(p)) => (vec![&p.partition_ref], Some(&p.job_run_id).filter(|j| !j.is_empty()), None),
        Some(Payload::JobRun(j)) => (j.target_partitions.iter().collect(), Some(&j.job_run_id), Some(&j.job_label)),
        Some(Payload::Delegation(d)) => (vec![&d.partition_ref], None, None),
        Some(Payload::Invalidation(i)) => (vec![&i.partition_ref], None, None),
        None => (Vec::new(), None, None),
    };
    let field = |values: &[String], hit: &dyn Fn(&String) -> bool| values.is_empty() || values.iter().any(hit);
    field(&filter.partition_refs, &|r| partitions.contains(&r))
        && field(&filter.partition_patterns, &|g| partitions.iter().any(|p| glob(g.as_bytes(), p.as_bytes())))
        && field(&filter.job_labels, &|l| label == Some(l))
        && field(&filter.job_run_ids, &|j| job_run == Some(j))
}

/// A naive glob: `**` matches anything, `*` anything within one `/` segment, `?` one
/// character other than `/`. (The generated patterns use `**` only whole-segment at an
/// end, where this agrees with the spec's globset semantics.)
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    match pattern {
        [] => text.is_empty(),
        [b'*', b'*', rest @ ..] => (0..=text.len()).any(|i| glob(rest, &text[i..])),
        [b'*', rest @ ..] => {
            let segment = text.iter().position(|&c| c == b'/').unwrap_or(text.len());
            (0..=segment).any(|i| glob(rest, &text[i..]))
        }
        [b'?', rest @ ..] => text.first().is_some_and(|&c| c != b'/') && glob(rest, &text[1..]),
        [c, rest @ ..] => text.first() == Some(c) && glob(rest, &text[1..]),
    }
}

/// Values filters are drawn from: what the run used, plus values it never used.
struct Pools {
    refs: Vec<String>,
    patterns: Vec<String>,
    labels: Vec<String>,
    job_runs: Vec<String>,
}

impl Pools {
    fn of(sim: &Sim, events: &[BuildEvent]) -> Self {
        let mut refs = sim.partition_refs().to_vec();
        refs.push("data/nowhere/2026-11-01".into());
        let mut patterns: Vec<String> =
            ["**", "data/**", "*", "data/*", "other/**", "data/*/2026-11-0?", "data/*/2026-11-1*", "**/2026-11-02"]
                .map(String::from)
                .to_vec();
        for dataset in &sim.config().datasets {
            patterns.push(format!("data/{dataset}/*"));
            patterns.push(format!("data/{dataset}/2026-11-?1"));
            patterns.push(format!("data/{dataset}?/*"));
        }
        patterns.extend(sim.partition_refs().iter().take(3).cloned());
        let mut labels = sim.config().job_labels.clone();
        labels.push("//jobs:never".into());
        let mut job_runs: Vec<String> = sim.state().job_runs.keys().cloned().collect();
        job_runs.push("no-such-run".into());
        assert!(!events.is_empty() || sim.config().builds == 0);
        Pools { refs, patterns, labels, job_runs }
    }

    /// Each field empty half the time, else one to three values.
    fn random_filter(&self, rng: &mut Rng) -> EventFilter {
        let mut field = |pool: &[String]| -> Vec<String> {
            if rng.chance(0.5) {
                return Vec::new();
            }
            let mut values: Vec<String> = (0..1 + rng.below(3)).filter_map(|_| rng.pick(pool).cloned()).collect();
            values.dedup();
            values
        };
        EventFilter {
            partition_refs: field(&self.refs),
            partition_patterns: field(&self.patterns),
            job_labels: field(&self.labels),
            job_run_ids: field(&self.job_runs),
        }
    }
}

#[test]
fn naive_glob_reads_the_spec() {
    assert!(glob(b"data/users/*", b"data/users/2026-11-01"));
    assert!(!glob(b"data/users/*", b"data/users/2026/11"));
    assert!(glob(b"data/**", b"data/users/2026/11"));
    assert!(glob(b"data/*/2026-11-0?", b"data/orders/2026-11-07"));
    assert!(!glob(b"data/*/2026-11-0?", b"data/orders/2026-11-10"));
    assert!(!glob(b"*", b"data/users"));
}
