//! Every (from, to) pair of every entity diagram, over "(none)" and `Status::ALL`: an
//! event moving the entity from `from` to `to` is accepted iff the diagram table has that
//! edge. Refusals are InvalidTransition with a message naming the current state and the
//! allowed next states (read from the table, not copied from the implementation).
//!
//! The entity is brought to `from` along the table's shortest path, by valid events, in a
//! context where no cross-entity rule interferes; each such rule is accounted for here:
//! - every event comes from an existing, non-terminal build (the one owning the partition
//!   or job run); build request events are themselves the diagram under test;
//! - BUILD_REQUEST_RECEIVED names a requested partition (>= 1 is a rule of its own);
//! - EXECUTING -> COMPLETED needs every requested partition AVAILABLE, so the EXECUTING
//!   build first builds its partition (in every other state COMPLETED is no edge and the
//!   diagram refuses it before the completion rule is consulted);
//! - a build ends only without work in progress, so before FAILED or CANCELLED the
//!   partition it owns in progress is failed;
//! - job runs are scheduled by an ANALYSIS_COMPLETED build, with a label and targets;
//! - entering and leaving BUILDING name job run `j1`, RUNNING and targeting the partition;
//! - AVAILABLE -> INVALIDATED is sent as an invalidation event (the spec's only way);
//!   a partition event to INVALIDATED is refused from every state (tested separately).
//!
//! The cross-entity rules themselves are tested in `cross_rules.rs`.
mod common;

use std::collections::BTreeSet;

use bel_core::diagram::{Diagram, BUILD_REQUEST, JOB_RUN, PARTITION};
use bel_core::pb::{BuildEvent, BuildRequestStatus as B, JobRunStatus as J, PartitionStatus as P};
use bel_core::status::Status;
use bel_core::{ErrorClass, Rejection};
use common::*;

/// Checks one pair's outcome; returns whether it was accepted.
#[track_caller]
fn check_pair<S: Status>(diagram: &Diagram<S>, from: Option<S>, to: S, outcome: Result<BuildEvent, Rejection>) -> bool {
    let pair = format!("{} {} -> {}", diagram.entity, short(from), to.short_name());
    let is_edge = diagram.edges.contains(&(from, to));
    match outcome {
        Ok(_) => {
            assert!(is_edge, "{pair} is no edge of the diagram but was accepted");
            true
        }
        Err(rejection) => {
            assert!(!is_edge, "{pair} is an edge of the diagram but was refused: {rejection:?}");
            assert_eq!(rejection.class, ErrorClass::InvalidTransition, "{pair}: {rejection:?}");
            assert_names_current_and_next(diagram, from, &rejection.message, &pair);
            false
        }
    }
}

/// The message names the current state and lists exactly the table's next states.
#[track_caller]
fn assert_names_current_and_next<S: Status>(diagram: &Diagram<S>, from: Option<S>, message: &str, pair: &str) {
    let next: BTreeSet<&str> = diagram.edges.iter().filter(|(f, _)| *f == from).map(|(_, t)| t.short_name()).collect();
    match from {
        None => assert!(message.contains("does not exist"), "{pair}: {message}"),
        Some(s) => {
            let name = s.short_name();
            assert!(
                message.contains(&format!(" is {name};")) || message.contains(&format!(" is {name} (terminal)")),
                "{pair}: message does not name the current state: {message}"
            );
        }
    }
    if next.is_empty() {
        // No list of next states for a terminal state.
        assert!(message.contains("terminal") && !message.contains(": "), "{pair}: {message}");
    } else {
        let listed = message
            .split_once("allowed ")
            .and_then(|(_, rest)| rest.split_once(": "))
            .map(|(_, list)| list.split(", ").collect::<BTreeSet<&str>>())
            .unwrap_or_else(|| panic!("{pair}: message lists no allowed states: {message}"));
        assert_eq!(listed, next, "{pair}: {message}");
    }
}

#[test]
fn build_request_pairs() {
    let mut accepted = 0;
    for from in from_states::<B>() {
        for &to in B::ALL {
            let mut log = Log::new();
            if let Some(from) = from {
                drive_build(&mut log, "b1", &["p1"], from);
            }
            if from == Some(B::BuildRequestExecuting) {
                // Completion rule: the requested partition must be AVAILABLE.
                build_partitions(&mut log, "b1", "b1/j1", &["p1"]);
            }
            assert_eq!(log.build_status("b1"), from);
            let ends_in_progress = matches!(
                log.partition_status("p1"),
                Some(P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding)
            );
            if matches!(to, B::BuildRequestFailed | B::BuildRequestCancelled) && ends_in_progress {
                log.ok(partition("b1", "p1", P::PartitionFailed, ""));
            }
            let event = if to == B::BuildRequestReceived { received("b1", &["p1"]) } else { build_to("b1", to) };
            if check_pair(&BUILD_REQUEST, from, to, log.append(event)) {
                accepted += 1;
                assert_eq!(log.build_status("b1"), Some(to));
            }
        }
    }
    assert_eq!(accepted, BUILD_REQUEST.edges.len());
}

#[test]
fn job_run_pairs() {
    let mut accepted = 0;
    for from in from_states::<J>() {
        for &to in J::ALL {
            let mut log = Log::new();
            drive_build(&mut log, "b1", &["p1"], B::BuildRequestAnalysisCompleted);
            for (_, step) in shortest_path(&JOB_RUN, from) {
                if step == J::JobRunScheduled {
                    log.ok(job_run("b1", "j1", "//jobs:a", step, &["p1"]));
                } else {
                    log.ok(job_run_to("b1", "j1", step));
                }
            }
            assert_eq!(log.job_run_status("j1"), from);
            // Label and targets repeated unchanged: allowed on every event.
            let event = job_run("b1", "j1", "//jobs:a", to, &["p1"]);
            if check_pair(&JOB_RUN, from, to, log.append(event)) {
                accepted += 1;
                assert_eq!(log.job_run_status("j1"), Some(to));
            }
        }
    }
    assert_eq!(accepted, JOB_RUN.edges.len());
}

/// b1 is ANALYSIS_COMPLETED and owns "p1" in `from`; job run j1 is RUNNING and targets it.
fn partition_in(from: Option<P>) -> Log {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1"], B::BuildRequestPlanning);
    log.ok(build_to("b1", B::BuildRequestAnalysisCompleted));
    log.ok(job_run("b1", "j1", "//jobs:a", J::JobRunScheduled, &["p1"]));
    log.ok(job_run_to("b1", "j1", J::JobRunRunning));
    for (step_from, step) in shortest_path(&PARTITION, from) {
        log.ok(partition_step("b1", "p1", step_from, step));
    }
    assert_eq!(log.partition_status("p1"), from);
    log
}

/// The event moving "p1" from `from` to `to`: an invalidation for INVALIDATED, else a
/// partition event from b1 naming j1 when entering or leaving BUILDING.
fn partition_step(build: &str, partition_ref: &str, from: Option<P>, to: P) -> BuildEvent {
    if to == P::PartitionInvalidated {
        return invalidation(partition_ref);
    }
    let producing = from == Some(P::PartitionBuilding) || to == P::PartitionBuilding;
    partition(build, partition_ref, to, if producing { "j1" } else { "" })
}

#[test]
fn partition_pairs() {
    let mut accepted = 0;
    for from in from_states::<P>() {
        for &to in P::ALL {
            let mut log = partition_in(from);
            if check_pair(&PARTITION, from, to, log.append(partition_step("b1", "p1", from, to))) {
                accepted += 1;
                assert_eq!(log.partition_status("p1"), Some(to));
                if to == P::PartitionRequested {
                    assert_eq!(log.state.partitions["p1"].build_request_id, "b1");
                }
            }
        }
    }
    assert_eq!(accepted, PARTITION.edges.len());
}

#[test]
fn partition_event_never_sets_invalidated() {
    for from in from_states::<P>() {
        let mut log = partition_in(from);
        let rejection = log.refused(partition("b1", "p1", P::PartitionInvalidated, ""));
        assert_eq!(rejection.class, ErrorClass::InvalidTransition, "from {}", short(from));
        let hint = rejection.hint.unwrap_or_default();
        assert!(hint.contains("invalidation"), "from {}: hint {hint:?}", short(from));
    }
}

#[test]
fn refusals_change_nothing() {
    // Every refused pair above went through Log::append; check the refusal leaves the
    // state as it was, for one pair per entity (Log::refused asserts it).
    let mut log = partition_in(Some(P::PartitionAnalyzed));
    log.refused(partition("b1", "p1", P::PartitionAvailable, "j1"));
    log.refused(job_run_to("b1", "j1", J::JobRunScheduled));
    log.refused(build_to("b1", B::BuildRequestCompleted));
}
