//! One test per cross-entity rule of the spec ("State diagrams" > "Cross-entity rules",
//! plus the rules stated beside the diagrams), each with the refusal class of the error
//! taxonomy: InvalidTransition for diagram edges, RuleViolation for cross-entity rules,
//! UnknownReference for a missing referent, InvalidValue for a missing or changed field.
mod common;

use bel_core::diagram::{BUILD_REQUEST, PARTITION};
use bel_core::event::from_json;
use bel_core::pb::{build_event::Payload, BuildRequestStatus as B, JobRunStatus as J, PartitionStatus as P};
use bel_core::status::Status;
use bel_core::{ErrorClass, Rejection};
use common::*;

/// States with no outgoing edge, read from the table.
fn terminal_build_states() -> Vec<B> {
    B::ALL.iter().copied().filter(|s| !BUILD_REQUEST.edges.iter().any(|(f, _)| *f == Some(*s))).collect()
}

#[track_caller]
fn assert_class(rejection: &Rejection, class: ErrorClass) {
    assert_eq!(rejection.class, class, "{rejection:?}");
}

/// A refusal whose hint says `append {...}` suggests an event; that event must be accepted.
#[track_caller]
fn follow_hint(log: &mut Log, rejection: &Rejection) {
    let hint = rejection.hint.as_deref().unwrap_or_else(|| panic!("no hint: {rejection:?}"));
    let suggested = hint.strip_prefix("append ").unwrap_or_else(|| panic!("hint suggests no event: {hint}"));
    let event = from_json(suggested).unwrap_or_else(|e| panic!("hint is not an event: {hint}: {e:?}"));
    log.ok(event);
}

/// b1 (ANALYSIS_COMPLETED) owns "p1" in `status`, reached through job run "b1/j1", which
/// is RUNNING and targets p1 (so p1 can leave BUILDING).
fn owned_partition(log: &mut Log, status: P) {
    drive_build(log, "b1", &["p1"], B::BuildRequestPlanning);
    log.ok(build_to("b1", B::BuildRequestAnalysisCompleted));
    log.ok(job_run("b1", "b1/j1", "//jobs:a", J::JobRunScheduled, &["p1"]));
    log.ok(job_run_to("b1", "b1/j1", J::JobRunRunning));
    for (from, to) in shortest_path(&PARTITION, Some(status)) {
        if to == P::PartitionInvalidated {
            log.ok(invalidation("p1"));
        } else {
            let producing = from == Some(P::PartitionBuilding) || to == P::PartitionBuilding;
            log.ok(partition("b1", "p1", to, if producing { "b1/j1" } else { "" }));
        }
    }
}

// --- events name a build request that exists and is not terminal (invalidation excepted)

#[test]
fn events_of_an_unknown_build_are_refused() {
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionAnalyzed);
    for event in [
        partition("ghost", "p2", P::PartitionRequested, ""),
        job_run("ghost", "ghost/j1", "//jobs:a", J::JobRunScheduled, &["p2"]),
        delegation("ghost", "p1", ""),
        delegation("ghost", "p1", "b1"),
    ] {
        assert_class(&log.refused(event), ErrorClass::UnknownReference);
    }
    // A build request event for an unknown build is judged by its own diagram: only
    // RECEIVED creates a build.
    let rejection = log.refused(build_to("ghost", B::BuildRequestPlanning));
    assert_class(&rejection, ErrorClass::InvalidTransition);
    assert!(rejection.message.contains("does not exist"), "{rejection:?}");
}

#[test]
fn events_of_a_terminal_build_are_refused() {
    let terminal = terminal_build_states();
    assert_eq!(terminal.len(), 3, "COMPLETED, FAILED, CANCELLED");
    for status in terminal {
        let mut log = Log::new();
        drive_build(&mut log, "b2", &["p2"], B::BuildRequestAnalysisCompleted);
        drive_build(&mut log, "b1", &["p1"], status);
        let what = status.short_name();
        for event in [
            partition("b1", "p3", P::PartitionRequested, ""),
            job_run("b1", "b1/j9", "//jobs:a", J::JobRunScheduled, &["p3"]),
            delegation("b1", "p2", ""),
        ] {
            let rejection = log.refused(event);
            assert_class(&rejection, ErrorClass::RuleViolation);
            assert!(rejection.message.contains(what), "{what}: {rejection:?}");
        }
        assert_class(&log.refused(build_to("b1", B::BuildRequestFailed)), ErrorClass::InvalidTransition);
    }
}

#[test]
fn invalidations_need_no_live_build() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1", "p2", "p3"], B::BuildRequestCompleted);
    log.ok(invalidation("p1"));
    let mut named_unknown = invalidation("p2");
    named_unknown.build_request_id = "ghost".into();
    log.ok(named_unknown);
    let mut named_terminal = invalidation("p3");
    named_terminal.build_request_id = "b1".into();
    log.ok(named_terminal);
    for p in ["p1", "p2", "p3"] {
        assert_eq!(log.partition_status(p), Some(P::PartitionInvalidated));
    }
}

// --- partition events other than invalidation come from the owning build

#[test]
fn only_the_owning_build_moves_a_partition() {
    // Every edge that is not a (re-)request, sent by b2 while b1 owns the partition.
    let edges = PARTITION.edges.iter().filter(|(f, t)| f.is_some() && *t != P::PartitionRequested);
    let mut checked = 0;
    for &(from, to) in edges {
        let from = from.expect("filtered");
        let mut log = Log::new();
        owned_partition(&mut log, from);
        drive_build(&mut log, "b2", &["p2"], B::BuildRequestAnalysisCompleted);
        let producing = from == P::PartitionBuilding || to == P::PartitionBuilding;
        let job = if producing { "b1/j1" } else { "" };
        if to == P::PartitionInvalidated {
            // Excepted: anyone may invalidate an AVAILABLE partition.
            let mut by_b2 = invalidation("p1");
            by_b2.build_request_id = "b2".into();
            log.ok(by_b2);
        } else {
            let rejection = log.refused(partition("b2", "p1", to, job));
            assert_class(&rejection, ErrorClass::RuleViolation);
            assert!(rejection.message.contains("\"b1\""), "names the owner: {rejection:?}");
            log.ok(partition("b1", "p1", to, job));
        }
        checked += 1;
    }
    assert_eq!(checked, 7, "ANALYZED, FAILED from REQUESTED; BUILDING, FAILED; AVAILABLE, FAILED; INVALIDATED");
}

// --- a build needing a partition another build owns (REQUESTED..BUILDING) or that is
// --- AVAILABLE records a delegation; requesting it is refused with a hint naming the owner

#[test]
fn requesting_a_partition_owned_elsewhere_is_refused_and_the_hinted_delegation_accepted() {
    for status in [P::PartitionRequested, P::PartitionAnalyzed, P::PartitionBuilding, P::PartitionAvailable] {
        let mut log = Log::new();
        owned_partition(&mut log, status);
        drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
        let rejection = log.refused(partition("b2", "p1", P::PartitionRequested, ""));
        assert_class(&rejection, ErrorClass::RuleViolation);
        assert!(rejection.message.contains("\"b1\""), "{status:?}: {rejection:?}");
        assert!(rejection.hint.as_deref().unwrap_or_default().contains("\"b1\""), "{rejection:?}");
        follow_hint(&mut log, &rejection);
        assert_eq!(log.state.build_requests["b2"].delegations.get("p1").map(String::as_str), Some("b1"));
        assert_eq!(log.state.partitions["p1"].build_request_id, "b1", "ownership unchanged");
    }
}

#[test]
fn an_available_partition_of_a_finished_build_is_delegated_not_requested() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1"], B::BuildRequestCompleted);
    drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
    let rejection = log.refused(partition("b2", "p1", P::PartitionRequested, ""));
    assert_class(&rejection, ErrorClass::RuleViolation);
    follow_hint(&mut log, &rejection);
    // With p1 AVAILABLE, b2 can complete without building anything.
    log.ok(build_to("b2", B::BuildRequestAnalysisCompleted));
    log.ok(build_to("b2", B::BuildRequestExecuting));
    log.ok(build_to("b2", B::BuildRequestCompleted));
}

#[test]
fn an_owner_re_requesting_its_own_available_partition_is_not_told_to_delegate_to_itself() {
    // Found by transitions.rs: the refusal used to hint at a delegation from b1 to b1,
    // which the log then refused ("owns it itself; nothing to delegate").
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionAvailable);
    let rejection = log.refused(partition("b1", "p1", P::PartitionRequested, ""));
    if rejection.hint.as_deref().is_some_and(|h| h.starts_with("append ")) {
        follow_hint(&mut log, &rejection);
    }
    // It is a plain diagram refusal: AVAILABLE's only way out is INVALIDATED.
    assert_class(&rejection, ErrorClass::InvalidTransition);
    assert!(rejection.message.contains("is AVAILABLE; allowed next states: INVALIDATED"), "{rejection:?}");
}

#[test]
fn delegation_fills_in_the_owner_when_left_empty() {
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionBuilding);
    drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
    let stored = log.ok(delegation("b2", "p1", ""));
    let Some(Payload::Delegation(d)) = stored.payload else { panic!("not a delegation: {stored:?}") };
    assert_eq!(d.delegated_to_build_request_id, "b1");
    assert_eq!(log.state.build_requests["b2"].delegations["p1"], "b1");
}

#[test]
fn delegation_naming_a_non_owner_is_refused() {
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionAnalyzed);
    drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
    drive_build(&mut log, "b3", &["p3"], B::BuildRequestPlanning);
    for wrong in ["b2", "b3", "ghost"] {
        let rejection = log.refused(delegation("b2", "p1", wrong));
        assert_class(&rejection, ErrorClass::RuleViolation);
        assert!(rejection.message.contains("\"b1\""), "names the owner: {rejection:?}");
    }
    log.ok(delegation("b2", "p1", "b1"));
}

#[test]
fn delegation_needs_another_build_producing_the_partition() {
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionFailed);
    drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
    // Nobody produces a FAILED, INVALIDATED or unknown partition: request it instead.
    assert_class(&log.refused(delegation("b2", "p1", "")), ErrorClass::RuleViolation);
    assert_class(&log.refused(delegation("b2", "p-unknown", "")), ErrorClass::RuleViolation);
    // And a build does not delegate to itself.
    log.ok(partition("b2", "p4", P::PartitionRequested, ""));
    assert_class(&log.refused(delegation("b2", "p4", "")), ErrorClass::RuleViolation);
}

#[test]
fn failed_or_invalidated_partitions_are_requested_again_by_any_build() {
    for status in [P::PartitionFailed, P::PartitionInvalidated] {
        let mut log = Log::new();
        owned_partition(&mut log, status);
        drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
        log.ok(partition("b2", "p1", P::PartitionRequested, ""));
        assert_eq!(log.state.partitions["p1"].build_request_id, "b2", "the requester owns it");
        // The previous owner now has to delegate.
        let rejection = log.refused(partition("b1", "p1", P::PartitionAnalyzed, ""));
        assert_class(&rejection, ErrorClass::RuleViolation);
        log.ok(delegation("b1", "p1", "b2"));
    }
}

#[test]
fn of_two_builds_racing_to_request_a_partition_exactly_one_wins() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1"], B::BuildRequestPlanning);
    drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
    log.ok(partition("b2", "p1", P::PartitionRequested, ""));
    assert_class(&log.refused(partition("b1", "p1", P::PartitionRequested, "")), ErrorClass::RuleViolation);
    assert_eq!(log.state.partitions["p1"].build_request_id, "b2");
}

// --- a build request reaches COMPLETED only when every requested partition is AVAILABLE

#[test]
fn a_build_completes_only_when_every_requested_partition_is_available() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1", "p2", "p3"], B::BuildRequestAnalysisCompleted);
    build_partitions(&mut log, "b1", "b1/j1", &["p1"]);
    log.ok(build_to("b1", B::BuildRequestExecuting));
    let rejection = log.refused(build_to("b1", B::BuildRequestCompleted));
    assert_class(&rejection, ErrorClass::RuleViolation);
    let detail = rejection.detail.unwrap_or_default();
    assert!(detail.contains("p2") && detail.contains("p3") && !detail.contains("p1 "), "{detail}");

    build_partitions(&mut log, "b1", "b1/j2", &["p2", "p3"]);
    // An invalidated partition is no longer AVAILABLE.
    log.ok(invalidation("p2"));
    assert_class(&log.refused(build_to("b1", B::BuildRequestCompleted)), ErrorClass::RuleViolation);
    log.ok(partition("b1", "p2", P::PartitionRequested, ""));
    log.ok(partition("b1", "p2", P::PartitionAnalyzed, ""));
    build_partitions(&mut log, "b1", "b1/j3", &["p2"]);
    log.ok(build_to("b1", B::BuildRequestCompleted));
}

#[test]
fn a_requested_partition_nobody_ever_mentioned_blocks_completion() {
    let mut log = Log::new();
    log.ok(received("b1", &["p1", "p-never"]));
    for to in [B::BuildRequestPlanning, B::BuildRequestAnalysisCompleted] {
        log.ok(build_to("b1", to));
    }
    log.ok(partition("b1", "p1", P::PartitionRequested, ""));
    log.ok(partition("b1", "p1", P::PartitionAnalyzed, ""));
    build_partitions(&mut log, "b1", "b1/j1", &["p1"]);
    log.ok(build_to("b1", B::BuildRequestExecuting));
    assert_class(&log.refused(build_to("b1", B::BuildRequestCompleted)), ErrorClass::RuleViolation);
}

#[test]
fn a_delegated_partition_counts_once_its_owner_made_it_available() {
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionBuilding);
    drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
    log.ok(delegation("b2", "p1", ""));
    log.ok(build_to("b2", B::BuildRequestAnalysisCompleted));
    log.ok(build_to("b2", B::BuildRequestExecuting));
    assert_class(&log.refused(build_to("b2", B::BuildRequestCompleted)), ErrorClass::RuleViolation);
    log.ok(partition("b1", "p1", P::PartitionAvailable, "b1/j1"));
    log.ok(build_to("b2", B::BuildRequestCompleted));
}

// --- job runs: scheduled while the build is ANALYSIS_COMPLETED or EXECUTING

#[test]
fn job_runs_are_scheduled_only_by_analysis_completed_or_executing_builds() {
    for &status in B::ALL {
        let mut log = Log::new();
        drive_build(&mut log, "b1", &["p1"], status);
        let outcome = log.append(job_run("b1", "b1/j9", "//jobs:a", J::JobRunScheduled, &["p1"]));
        match status {
            B::BuildRequestAnalysisCompleted | B::BuildRequestExecuting => {
                outcome.unwrap_or_else(|r| panic!("{status:?}: {r:?}"));
            }
            _ => {
                let rejection = outcome.expect_err("scheduled too early or too late");
                assert_class(&rejection, ErrorClass::RuleViolation);
                assert!(rejection.message.contains(status.short_name()), "{rejection:?}");
            }
        }
    }
}

#[test]
fn scheduling_needs_a_label_and_targets() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1"], B::BuildRequestAnalysisCompleted);
    assert_class(&log.refused(job_run("b1", "j", "", J::JobRunScheduled, &["p1"])), ErrorClass::InvalidValue);
    assert_class(&log.refused(job_run("b1", "j", "//jobs:a", J::JobRunScheduled, &[])), ErrorClass::InvalidValue);
}

// --- entering BUILDING names a job run of the owning build, SCHEDULED or RUNNING, that
// --- targets the partition (a job run that does not exist: UnknownReference)

/// b1 (EXECUTING) owns "p1" and "p2" ANALYZED; its job runs: "sched" (SCHEDULED, targets
/// p1), "run" (RUNNING, targets p1), "done" (COMPLETED, targets p1), "other" (RUNNING,
/// targets p2); b2 (EXECUTING) has "foreign" (SCHEDULED, targets p1).
fn analyzed_with_job_runs() -> Log {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1", "p2"], B::BuildRequestAnalysisCompleted);
    drive_build(&mut log, "b2", &["p3"], B::BuildRequestAnalysisCompleted);
    for (run, target) in [("sched", "p1"), ("run", "p1"), ("done", "p1"), ("other", "p2")] {
        log.ok(job_run("b1", run, "//jobs:a", J::JobRunScheduled, &[target]));
    }
    for run in ["run", "done", "other"] {
        log.ok(job_run_to("b1", run, J::JobRunRunning));
    }
    log.ok(job_run_to("b1", "done", J::JobRunCompleted));
    log.ok(job_run("b2", "foreign", "//jobs:a", J::JobRunScheduled, &["p1"]));
    log.ok(build_to("b1", B::BuildRequestExecuting));
    log.ok(build_to("b2", B::BuildRequestExecuting));
    log
}

#[test]
fn entering_building_names_a_live_job_run_of_the_owner_that_targets_the_partition() {
    let mut log = analyzed_with_job_runs();
    let rejection = log.refused(partition("b1", "p1", P::PartitionBuilding, ""));
    assert_class(&rejection, ErrorClass::InvalidValue);
    assert!(rejection.message.contains("enters BUILDING but the event names no jobRunId"), "{rejection:?}");

    let rejection = log.refused(partition("b1", "p1", P::PartitionBuilding, "nojob"));
    assert_class(&rejection, ErrorClass::UnknownReference);
    assert_eq!(rejection.message, "job run \"nojob\" does not exist");
    assert!(rejection.hint.unwrap_or_default().contains("schedule it first"));

    for (run, why) in [
        ("foreign", "it belongs to build request \"b2\", not \"b1\""),
        ("done", "it is COMPLETED (ended)"),
        ("other", "it does not target the partition"),
    ] {
        let rejection = log.refused(partition("b1", "p1", P::PartitionBuilding, run));
        assert_class(&rejection, ErrorClass::RuleViolation);
        assert_eq!(
            rejection.message,
            format!("partition \"p1\" cannot enter BUILDING under job run \"{run}\": {why}"),
            "{rejection:?}"
        );
        assert!(rejection.hint.is_some(), "{rejection:?}");
    }
    let untargeted = log.refused(partition("b1", "p1", P::PartitionBuilding, "other"));
    assert_eq!(untargeted.detail.as_deref(), Some("targets: p2"));

    // SCHEDULED and RUNNING runs of the owner that target it are both accepted.
    log.ok(partition("b1", "p1", P::PartitionBuilding, "sched"));
    log.ok(partition("b1", "p2", P::PartitionBuilding, "other"));
    assert_eq!(log.state.partitions["p1"].job_run_id.as_deref(), Some("sched"));
}

#[test]
fn the_issue_example_is_refused_with_23503() {
    // From issue 11: after REQUESTED and ANALYZED, BUILDING naming a job run that does not
    // exist used to be accepted.
    let mut log = Log::new();
    drive_build(&mut log, "b", &["data/p"], B::BuildRequestAnalysisCompleted);
    let event = from_json(
        r#"{"buildRequestId":"b","partition":{"partitionRef":"data/p","status":"PARTITION_BUILDING","jobRunId":"nojob"}}"#,
    )
    .unwrap();
    assert_eq!(log.refused(event).class.sqlstate(), "23503");
}

// --- leaving BUILDING: AVAILABLE names the RUNNING job run that targets the partition;
// --- FAILED may name none, and one it names exists and targets the partition

#[test]
fn leaving_building_for_available_names_a_running_job_run_that_targets_the_partition() {
    let mut log = owned_building_with_other_runs();
    let to = P::PartitionAvailable;
    assert_class(&log.refused(partition("b1", "p1", to, "")), ErrorClass::InvalidValue);
    assert_class(&log.refused(partition("b1", "p1", to, "nope")), ErrorClass::UnknownReference);
    for not_producing in ["scheduled", "done", "elsewhere"] {
        let rejection = log.refused(partition("b1", "p1", to, not_producing));
        assert_class(&rejection, ErrorClass::RuleViolation);
        assert!(rejection.message.contains(not_producing), "{rejection:?}");
    }
    log.ok(partition("b1", "p1", to, "b1/j1"));
    assert_eq!(log.state.partitions["p1"].job_run_id.as_deref(), Some("b1/j1"));
}

#[test]
fn leaving_building_for_failed_needs_no_running_job_run() {
    // A build may fail before its run starts: p1 entered BUILDING under a SCHEDULED run.
    for (named, accepted) in
        [("", true), ("scheduled", true), ("done", true), ("b1/j1", true), ("nope", false), ("elsewhere", false)]
    {
        let mut log = owned_building_with_other_runs();
        let event = partition("b1", "p1", P::PartitionFailed, named);
        if accepted {
            log.ok(event);
            // The partition keeps the job run it was building under unless one is named.
            let expected = if named.is_empty() { "b1/j1" } else { named };
            assert_eq!(log.state.partitions["p1"].job_run_id.as_deref(), Some(expected));
        } else {
            let rejection = log.refused(event);
            let class = if named == "nope" { ErrorClass::UnknownReference } else { ErrorClass::RuleViolation };
            assert_class(&rejection, class);
        }
    }
}

/// p1 BUILDING under b1/j1 (RUNNING); b1 also has "scheduled" (SCHEDULED, targets p1),
/// "done" (COMPLETED, targets p1) and "elsewhere" (RUNNING, targets p2).
fn owned_building_with_other_runs() -> Log {
    let mut log = Log::new();
    owned_partition(&mut log, P::PartitionBuilding);
    log.ok(job_run("b1", "scheduled", "//jobs:a", J::JobRunScheduled, &["p1"]));
    log.ok(job_run("b1", "done", "//jobs:a", J::JobRunScheduled, &["p1"]));
    log.ok(job_run_to("b1", "done", J::JobRunRunning));
    log.ok(job_run_to("b1", "done", J::JobRunCompleted));
    log.ok(job_run("b1", "elsewhere", "//jobs:a", J::JobRunScheduled, &["p2"]));
    log.ok(job_run_to("b1", "elsewhere", J::JobRunRunning));
    log
}

// --- no dead ends: a build ends only without work in progress (partitions it owns in
// --- REQUESTED..BUILDING, job runs SCHEDULED or RUNNING); the HINT ends it in one batch

/// The SQL the HINT shows, `select bel.bel_append_batch('[...]');`, as events.
fn hinted_batch(rejection: &Rejection) -> Vec<bel_core::pb::BuildEvent> {
    let hint = rejection.hint.as_deref().unwrap_or_else(|| panic!("no hint: {rejection:?}"));
    let sql = &hint[hint.find("select bel.bel_append_batch('").unwrap_or_else(|| panic!("no batch: {hint}"))..];
    let literal = sql
        .strip_prefix("select bel.bel_append_batch('")
        .and_then(|s| s.strip_suffix("');"))
        .unwrap_or_else(|| panic!("not one call: {sql}"));
    let json: serde_json::Value = serde_json::from_str(&literal.replace("''", "'")).expect("a JSON array");
    json.as_array()
        .expect("array")
        .iter()
        .map(|e| bel_core::event::from_json_value(e.clone()).expect("event"))
        .collect()
}

/// b1 EXECUTING owns p1 REQUESTED, p2 ANALYZED, p3 BUILDING under b1/j3 (RUNNING) and p4
/// BUILDING under b1/j4 (SCHEDULED); b1/j5 SCHEDULED targets nothing in progress of b1's;
/// p5 AVAILABLE, built by b1/j6 (COMPLETED).
fn busy_build() -> Log {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1", "p2", "p3", "p4", "p5", "p6"], B::BuildRequestPlanning);
    for p in ["p2", "p3", "p4", "p5", "p6"] {
        log.ok(partition("b1", p, P::PartitionRequested, ""));
        log.ok(partition("b1", p, P::PartitionAnalyzed, ""));
    }
    log.ok(partition("b1", "p1", P::PartitionRequested, ""));
    log.ok(build_to("b1", B::BuildRequestAnalysisCompleted));
    build_partitions(&mut log, "b1", "b1/j6", &["p5"]);
    log.ok(job_run("b1", "b1/j3", "//jobs:a", J::JobRunScheduled, &["p3"]));
    log.ok(job_run_to("b1", "b1/j3", J::JobRunRunning));
    log.ok(partition("b1", "p3", P::PartitionBuilding, "b1/j3"));
    log.ok(job_run("b1", "b1/j4", "//jobs:a", J::JobRunScheduled, &["p4"]));
    log.ok(partition("b1", "p4", P::PartitionBuilding, "b1/j4"));
    log.ok(job_run("b1", "b1/j5", "//jobs:a", J::JobRunScheduled, &["p6"]));
    log.ok(partition("b1", "p6", P::PartitionFailed, ""));
    log.ok(build_to("b1", B::BuildRequestExecuting));
    log
}

#[test]
fn a_build_with_work_in_progress_cannot_fail_or_be_cancelled_and_the_hinted_batch_ends_it() {
    for end in [B::BuildRequestFailed, B::BuildRequestCancelled] {
        let mut log = busy_build();
        let mut sent = build_to("b1", end);
        sent.event_id = "b1:end".into();
        if let Some(Payload::BuildRequest(b)) = sent.payload.as_mut() {
            b.message = "operator's call".into();
        }
        let rejection = log.refused(sent.clone());
        assert_class(&rejection, ErrorClass::RuleViolation);
        assert_eq!(
            rejection.message,
            format!(
                "build request \"b1\" cannot become {} while it owns 4 partitions in progress (REQUESTED, ANALYZED or \
                 BUILDING) and has 3 job runs in progress (SCHEDULED or RUNNING)",
                end.short_name()
            )
        );
        let detail = rejection.detail.clone().unwrap_or_default();
        assert!(
            detail.starts_with(
                "partitions in progress: p1 (REQUESTED), p2 (ANALYZED), p3 (BUILDING, job run b1/j3), p4 (BUILDING, \
                 job run b1/j4); job runs in progress: b1/j3 (RUNNING), b1/j4 (SCHEDULED), b1/j5 (SCHEDULED)"
            ),
            "{detail}"
        );
        let hint = rejection.hint.clone().unwrap_or_default();
        assert!(
            hint.starts_with("end them first, then the build, in one call:\nselect bel.bel_append_batch('[\n  {"),
            "{hint}"
        );
        let batch = hinted_batch(&rejection);
        assert_eq!(batch.len(), 8, "4 partitions, 3 job runs, the build's own event: {hint}");
        // The build's own event comes last, as sent (eventId and message kept).
        assert_eq!(batch.last(), Some(&sent));
        for event in batch {
            log.ok(event);
        }
        assert_eq!(log.build_status("b1"), Some(end));
        for p in ["p1", "p2", "p3", "p4"] {
            assert_eq!(log.partition_status(p), Some(P::PartitionFailed), "{p}");
        }
        assert_eq!(log.partition_status("p5"), Some(P::PartitionAvailable));
        for r in ["b1/j3", "b1/j4", "b1/j5"] {
            assert_eq!(log.job_run_status(r), Some(J::JobRunCancelled), "{r}");
        }
        // p3 was building under b1/j3, which the batch names (it targets p3).
        assert_eq!(log.state.partitions["p3"].job_run_id.as_deref(), Some("b1/j3"));
        // Nothing is stranded: another build may request them now.
        drive_build(&mut log, "b2", &["p1"], B::BuildRequestPlanning);
        log.ok(partition("b2", "p1", P::PartitionRequested, ""));
    }
}

#[test]
fn in_a_batch_the_hint_lists_the_events_to_insert_before_the_refused_end() {
    // The writer knew of p1, p2 and b1/j5 only: its batch ends those, then the build.
    let batch = [
        partition("b1", "p1", P::PartitionFailed, ""),
        partition("b1", "p2", P::PartitionFailed, ""),
        job_run_to("b1", "b1/j5", J::JobRunCancelled),
        build_to("b1", B::BuildRequestFailed),
    ];
    let original = busy_build();
    let mut log = original.clone();
    for event in &batch[..3] {
        log.ok(event.clone());
    }
    let rejection = log.refused(batch[3].clone()).in_batch(3);
    assert!(rejection.message.starts_with("event 3 of the batch: build request \"b1\" cannot become FAILED"));
    let hint = rejection.hint.clone().unwrap_or_default();
    let lead =
        "end them first: insert these events into the batch (before event 3; nothing of the batch was appended):\n[";
    assert!(hint.starts_with(lead), "{hint}");
    let inserted: Vec<bel_core::pb::BuildEvent> = serde_json::from_str::<serde_json::Value>(&hint[lead.len() - 1..])
        .expect("a JSON array")
        .as_array()
        .expect("array")
        .iter()
        .map(|e| bel_core::event::from_json_value(e.clone()).expect("event"))
        .collect();
    // What the batch had not ended yet at that point: p3, p4, b1/j3, b1/j4.
    assert_eq!(inserted.len(), 4, "{hint}");
    let mut retried = original;
    for event in batch[..3].iter().cloned().chain(inserted).chain([batch[3].clone()]) {
        retried.ok(event);
    }
    assert_eq!(retried.build_status("b1"), Some(B::BuildRequestFailed));
}

#[test]
fn a_build_without_work_in_progress_ends_at_once() {
    for end in [B::BuildRequestFailed, B::BuildRequestCancelled] {
        let mut log = Log::new();
        drive_build(&mut log, "b1", &["p1"], B::BuildRequestAnalysisCompleted);
        log.ok(partition("b1", "p1", P::PartitionFailed, ""));
        // A job run that ended, and a partition it owns that is AVAILABLE, are no work in progress.
        log.ok(partition("b1", "p1", P::PartitionRequested, ""));
        log.ok(partition("b1", "p1", P::PartitionAnalyzed, ""));
        build_partitions(&mut log, "b1", "b1/j1", &["p1"]);
        log.ok(build_to("b1", end));
    }
}

#[test]
fn the_hint_ends_at_most_a_hundred_and_the_next_attempt_shows_the_rest() {
    let parts: Vec<String> = (0..130).map(|i| format!("p{i:03}")).collect();
    let refs: Vec<&str> = parts.iter().map(String::as_str).collect();
    let mut log = Log::new();
    drive_build(&mut log, "b1", &refs, B::BuildRequestPlanning);
    for p in &refs {
        log.ok(partition("b1", p, P::PartitionRequested, ""));
    }
    let rejection = log.refused(build_to("b1", B::BuildRequestCancelled));
    assert!(rejection.message.contains("owns 130 partitions in progress"), "{rejection:?}");
    assert!(rejection.detail.as_deref().unwrap_or_default().contains("p004 (REQUESTED) and 125 more"));
    let hint = rejection.hint.clone().unwrap_or_default();
    assert!(hint.starts_with("end them first; this call ends the first 100 of 130"), "{hint}");
    let first = hinted_batch(&rejection);
    assert_eq!(first.len(), 100, "without the build's own event");
    for event in first {
        log.ok(event);
    }
    let rejection = log.refused(build_to("b1", B::BuildRequestCancelled));
    assert!(rejection.message.contains("owns 30 partitions in progress"), "{rejection:?}");
    for event in hinted_batch(&rejection) {
        log.ok(event);
    }
    assert_eq!(log.build_status("b1"), Some(B::BuildRequestCancelled));
}

#[test]
fn ids_with_quotes_make_a_batch_that_still_runs() {
    let mut log = Log::new();
    drive_build(&mut log, "b'1", &["it's/p"], B::BuildRequestPlanning);
    log.ok(partition("b'1", "it's/p", P::PartitionRequested, ""));
    let rejection = log.refused(build_to("b'1", B::BuildRequestFailed));
    assert!(rejection.hint.as_deref().unwrap_or_default().contains("it''s/p"), "{rejection:?}");
    for event in hinted_batch(&rejection) {
        log.ok(event);
    }
    assert_eq!(log.build_status("b'1"), Some(B::BuildRequestFailed));
}

#[test]
fn completed_needs_its_job_runs_ended_and_no_partition_in_progress() {
    // Every requested partition AVAILABLE, but the run that built it is still RUNNING.
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1"], B::BuildRequestAnalysisCompleted);
    log.ok(job_run("b1", "b1/j1", "//jobs:a", J::JobRunScheduled, &["p1"]));
    log.ok(job_run_to("b1", "b1/j1", J::JobRunRunning));
    log.ok(partition("b1", "p1", P::PartitionBuilding, "b1/j1"));
    log.ok(partition("b1", "p1", P::PartitionAvailable, "b1/j1"));
    log.ok(build_to("b1", B::BuildRequestExecuting));
    let rejection = log.refused(build_to("b1", B::BuildRequestCompleted));
    assert_class(&rejection, ErrorClass::RuleViolation);
    assert_eq!(
        rejection.message,
        "build request \"b1\" cannot complete while it has 1 job run in progress (SCHEDULED or RUNNING)"
    );
    assert_eq!(rejection.detail.as_deref(), Some("job runs in progress: b1/j1 (RUNNING)"));
    assert!(rejection.hint.unwrap_or_default().contains("then COMPLETED"));
    log.ok(job_run_to("b1", "b1/j1", J::JobRunCompleted));

    // A partition it requested on the way (not among requestedPartitions) still in progress.
    log.ok(partition("b1", "extra", P::PartitionRequested, ""));
    let rejection = log.refused(build_to("b1", B::BuildRequestCompleted));
    assert_eq!(
        rejection.message,
        "build request \"b1\" cannot complete while it owns 1 partition in progress (REQUESTED, ANALYZED or BUILDING)"
    );
    log.ok(partition("b1", "extra", P::PartitionFailed, ""));
    log.ok(build_to("b1", B::BuildRequestCompleted));
}

#[test]
fn replay_accepts_logs_written_before_the_new_rules_and_finds_stranded_partitions() {
    use bel_core::in_progress::stranded_partitions;
    use bel_core::reducer::Reducer;
    // What 0.1.0 accepted: BUILDING under a job run that does not exist, then FAILED and
    // COMPLETED builds with work in progress.
    let mut events = Vec::new();
    let mut log = Log::new();
    drive_build(&mut log, "old", &["p1", "p2"], B::BuildRequestAnalysisCompleted);
    drive_build(&mut log, "done", &["p3"], B::BuildRequestExecuting);
    events.extend(log.events.iter().cloned());
    let nojob = partition("old", "p1", P::PartitionBuilding, "nojob");
    assert_class(&log.refused(nojob.clone()), ErrorClass::UnknownReference);
    let failed = build_to("old", B::BuildRequestFailed);
    let mut with_run = log.clone();
    with_run.ok(job_run("done", "done/j", "//jobs:a", J::JobRunScheduled, &["p3"]));
    with_run.ok(job_run_to("done", "done/j", J::JobRunRunning));
    with_run.ok(partition("done", "p3", P::PartitionBuilding, "done/j"));
    with_run.ok(partition("done", "p3", P::PartitionAvailable, "done/j"));
    let completed = build_to("done", B::BuildRequestCompleted);
    assert_class(&with_run.refused(completed.clone()), ErrorClass::RuleViolation);
    events.extend(with_run.events[log.events.len()..].iter().cloned());
    events.extend([nojob, failed, completed]);

    let mut reducer = Reducer::new();
    for (i, event) in events.iter().enumerate() {
        reducer.apply(i as i64 + 1, event).unwrap_or_else(|r| panic!("stored event {i} refused on replay: {r:?}"));
    }
    let state = &reducer.state;
    assert_eq!(state.build_requests["old"].status, B::BuildRequestFailed);
    let stranded: Vec<(&str, &str)> = stranded_partitions(state)
        .iter()
        .map(|s| (s.partition.partition_ref.as_str(), s.owner.build_request_id.as_str()))
        .collect();
    assert_eq!(stranded, [("p1", "old"), ("p2", "old")]);
    let problem = stranded_partitions(state)[0].problem();
    assert!(problem.starts_with("owned by ended build request \"old\" (FAILED) while BUILDING"), "{problem}");
    // A job run left RUNNING under the COMPLETED build strands no partition.
    assert_eq!(state.job_runs["done/j"].status, J::JobRunRunning);
}

// --- a job run belongs to one build request; its label and targets are fixed

#[test]
fn a_job_run_belongs_to_one_build() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1"], B::BuildRequestAnalysisCompleted);
    drive_build(&mut log, "b2", &["p2"], B::BuildRequestAnalysisCompleted);
    log.ok(job_run("b1", "j1", "//jobs:a", J::JobRunScheduled, &["p1"]));
    for &to in J::ALL {
        let rejection = log.refused(job_run("b2", "j1", "//jobs:a", to, &["p1"]));
        assert_class(&rejection, ErrorClass::RuleViolation);
        assert!(rejection.message.contains("\"b1\""), "{rejection:?}");
    }
    log.ok(job_run_to("b1", "j1", J::JobRunRunning));
    assert_eq!(log.state.job_runs["j1"].build_request_id, "b1");
}

#[test]
fn job_label_and_targets_are_fixed_at_scheduled() {
    let mut log = Log::new();
    drive_build(&mut log, "b1", &["p1", "p2"], B::BuildRequestAnalysisCompleted);
    log.ok(job_run("b1", "j1", "//jobs:a", J::JobRunScheduled, &["p1"]));
    for (label, targets) in
        [("//jobs:b", &["p1"][..]), ("//jobs:a", &["p1", "p2"][..]), ("//jobs:a", &["p2"][..]), ("", &["p2"][..])]
    {
        let rejection = log.refused(job_run("b1", "j1", label, J::JobRunRunning, targets));
        assert_class(&rejection, ErrorClass::InvalidValue);
    }
    log.ok(job_run("b1", "j1", "//jobs:a", J::JobRunRunning, &["p1"]));
    // Omitted on a later event: the log fills them in, so stored events are self-describing.
    let stored = log.ok(job_run_to("b1", "j1", J::JobRunCompleted));
    let Some(Payload::JobRun(j)) = stored.payload else { panic!("not a job run: {stored:?}") };
    assert_eq!((j.job_label.as_str(), j.target_partitions), ("//jobs:a", vec!["p1".to_string()]));
}

// --- BUILD_REQUEST_RECEIVED names at least one requested partition

#[test]
fn received_names_at_least_one_partition() {
    let mut log = Log::new();
    assert_class(&log.refused(received("b1", &[])), ErrorClass::InvalidValue);
    assert_eq!(log.build_status("b1"), None);
    log.ok(received("b1", &["p1"]));
}
