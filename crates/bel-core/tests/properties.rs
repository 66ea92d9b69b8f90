//! Properties over random simulations:
//! (a) the reducer folds a simulated history (step by step, and `reducer::replay` on any
//!     prefix) to the state a naive fold of the same events computes
//!     ([`bel_sim::NaiveFold`], written from the spec without `rules::prepare`/`apply`,
//!     which the reducer and the simulator both run: it is the only independent oracle);
//! (b) events the simulator declares invalid are refused by `prepare`, with the class the
//!     mistake calls for, and refusing them changes nothing;
//! (c) `CompiledFilter::matches` agrees with a naive reading of the spec's filter text.
use proptest::prelude::*;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use bel_core::filter::CompiledFilter;
use bel_core::pb::{build_event::Payload, BuildEvent, EventFilter};
use bel_core::reducer::{replay, Reducer};
use bel_core::rules::prepare;
use bel_sim::{naive_fold, Mistake, NaiveFold, Sim, SimConfig, SimRng};

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

    /// (a) The reducer agrees with a naive fold of the events after every event, and
    /// replaying any prefix at once gives the naive fold of that prefix.
    #[test]
    fn reducer_equals_a_naive_fold(seed in any::<u64>(), config in config_strategy(), cut in 0.0f64..1.0) {
        let mut sim = Sim::new(seed, config);
        let mut reducer = Reducer::new();
        let mut naive = NaiveFold::new();
        let mut events = Vec::new();
        while let Some(event) = sim.next_event() {
            let idx = events.len() as i64 + 1;
            let applied = reducer.apply(idx, &event);
            prop_assert!(applied.is_ok(), "event {} refused on replay: {:?}: {:?}", idx, event, applied);
            naive.push(idx, &event);
            prop_assert_eq!(&reducer.state, naive.state(), "after event {}: {:?}", idx, event);
            events.push((idx, event));
            prop_assert!(events.len() < 50_000, "the simulation does not end");
        }
        prop_assert!(!events.is_empty() || sim.config().builds == 0);
        let prefix = &events[..(events.len() as f64 * cut) as usize];
        let replayed = replay(prefix.iter().cloned());
        prop_assert_eq!(replayed, Ok(naive_fold(prefix.iter().map(|(idx, e)| (*idx, e)))));
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
        let mut rng = SimRng::seed_from_u64(filter_seed);
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
    fn random_filter(&self, rng: &mut SimRng) -> EventFilter {
        let mut field = |pool: &[String]| -> Vec<String> {
            if rng.gen_bool(0.5) {
                return Vec::new();
            }
            let count = rng.gen_range(1..=3);
            let mut values: Vec<String> = (0..count).filter_map(|_| pool.choose(rng).cloned()).collect();
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
