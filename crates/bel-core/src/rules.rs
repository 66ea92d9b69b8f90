//! Is an event a correct next state? [`prepare`] answers against the current state of the
//! entities it touches (and fills in what the log derives, such as a delegation's owner);
//! [`apply`] then changes that state. The extension runs these two on appends, the reducer
//! ([`prepare_stored`] and `apply`) on the log.
use crate::diagram::{Diagram, BUILD_REQUEST, JOB_RUN, PARTITION};
use crate::error::{invalid, ErrorClass, Rejection};
use crate::event::check_shape;
use crate::in_progress::{build_request_event, completion_refusal, ending_refusal};
use crate::pb::{
    build_event::Payload, BuildEvent, BuildRequestEvent, BuildRequestStatus as B, DelegationEvent, JobRunEvent,
    JobRunStatus as J, PartitionEvent, PartitionStatus as P,
};
use crate::state::{BuildRequest, Changed, JobRun, Micros, Partition, State};
use crate::status::{join_short, Status};

/// Which rules an event is held to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rules {
    /// Every rule: a new event.
    Append,
    /// The rules of bel 0.1.0, which wrote the oldest logs: a stored event. Rules added
    /// since (entering BUILDING names a live job run of the owner that targets the
    /// partition; a build ends without work in progress) only tighten what was accepted,
    /// so a log written before them still replays; `bel.verify()` reports the partitions
    /// such a log left stranded.
    Replay,
}

/// Validates `event` against `state` and fills in derived fields (a job run's label and
/// targets on later events, a delegation's owner). Changes nothing in `state`.
pub fn prepare(state: &State, event: &mut BuildEvent) -> Result<(), Rejection> {
    check(state, event, Rules::Append)
}

/// [`prepare`] for an event the log already holds (replaying it): the rules every version
/// of bel enforced, so logs written before a rule was added replay too.
pub fn prepare_stored(state: &State, event: &mut BuildEvent) -> Result<(), Rejection> {
    check(state, event, Rules::Replay)
}

fn check(state: &State, event: &mut BuildEvent, rules: Rules) -> Result<(), Rejection> {
    check_shape(event)?;
    let build_id = event.build_request_id.clone();
    match event.payload.as_mut() {
        Some(Payload::BuildRequest(b)) => {
            let to = status(b.status, B::try_from)?;
            check_build_request(state, &event.event_id, &build_id, to, b, rules)
        }
        Some(Payload::Partition(p)) => check_partition(state, &build_id, p, rules),
        Some(Payload::JobRun(j)) => check_job_run(state, &build_id, j),
        Some(Payload::Delegation(d)) => check_delegation(state, &build_id, d),
        Some(Payload::Invalidation(i)) => {
            let current = state.partitions.get(&i.partition_ref);
            let from = current.map(|p| p.status);
            if !PARTITION.allows(from, P::PartitionInvalidated) {
                return Err(transition_error(
                    &PARTITION,
                    &format!("partition {:?}", i.partition_ref),
                    from,
                    P::PartitionInvalidated,
                    current.map(|p| p.last_idx),
                )
                .hint("only an AVAILABLE partition can be invalidated"));
            }
            Ok(())
        }
        None => Err(invalid("event has no payload")),
    }
}

/// Applies a prepared event at `idx`; its timestamp becomes the entities' update time.
pub fn apply(state: &mut State, event: &BuildEvent, idx: i64) -> Changed {
    let at = timestamp_micros(event);
    let build_id = &event.build_request_id;
    let mut changed = Changed::default();
    match &event.payload {
        Some(Payload::BuildRequest(b)) => {
            let to = B::try_from(b.status).unwrap_or(B::Unspecified);
            let br = state.build_requests.entry(build_id.clone()).or_insert_with(|| BuildRequest {
                build_request_id: build_id.clone(),
                status: to,
                requested_partitions: b.requested_partitions.clone(),
                delegations: Default::default(),
                first_idx: idx,
                last_idx: idx,
                created_at: at,
                updated_at: at,
            });
            br.status = to;
            touch_times(&mut br.last_idx, &mut br.updated_at, idx, at);
            changed.build_request = Some(build_id.clone());
        }
        Some(Payload::Partition(p)) => {
            let to = P::try_from(p.status).unwrap_or(P::Unspecified);
            let part = state.partitions.entry(p.partition_ref.clone()).or_insert_with(|| Partition {
                partition_ref: p.partition_ref.clone(),
                status: to,
                build_request_id: build_id.clone(),
                job_run_id: None,
                last_idx: idx,
                updated_at: at,
            });
            if to == P::PartitionRequested {
                part.build_request_id = build_id.clone();
                part.job_run_id = None;
            }
            if !p.job_run_id.is_empty() {
                part.job_run_id = Some(p.job_run_id.clone());
            }
            part.status = to;
            part.last_idx = idx;
            part.updated_at = at;
            changed.partition = Some(p.partition_ref.clone());
        }
        Some(Payload::JobRun(j)) => {
            let to = J::try_from(j.status).unwrap_or(J::Unspecified);
            let run = state.job_runs.entry(j.job_run_id.clone()).or_insert_with(|| JobRun {
                job_run_id: j.job_run_id.clone(),
                build_request_id: build_id.clone(),
                job_label: j.job_label.clone(),
                status: to,
                target_partitions: j.target_partitions.clone(),
                exit_code: None,
                message: String::new(),
                first_idx: idx,
                last_idx: idx,
                created_at: at,
                updated_at: at,
            });
            run.status = to;
            if JOB_RUN.is_terminal(to) {
                run.exit_code = Some(j.exit_code);
            }
            if !j.message.is_empty() {
                run.message = j.message.clone();
            }
            touch_times(&mut run.last_idx, &mut run.updated_at, idx, at);
            changed.job_run = Some(j.job_run_id.clone());
        }
        Some(Payload::Delegation(d)) => {
            if let Some(br) = state.build_requests.get_mut(build_id) {
                br.delegations.insert(d.partition_ref.clone(), d.delegated_to_build_request_id.clone());
                touch_times(&mut br.last_idx, &mut br.updated_at, idx, at);
                changed.build_request = Some(build_id.clone());
            }
        }
        Some(Payload::Invalidation(i)) => {
            if let Some(part) = state.partitions.get_mut(&i.partition_ref) {
                part.status = P::PartitionInvalidated;
                part.last_idx = idx;
                part.updated_at = at;
                changed.partition = Some(i.partition_ref.clone());
            }
        }
        None => {}
    }
    changed
}

/// The event's timestamp in microseconds since the epoch (0 when absent).
pub fn timestamp_micros(event: &BuildEvent) -> Micros {
    event
        .timestamp
        .as_ref()
        .map(|t| t.seconds.saturating_mul(1_000_000).saturating_add(i64::from(t.nanos / 1000)))
        .unwrap_or(0)
}

fn touch_times(last_idx: &mut i64, updated_at: &mut Micros, idx: i64, at: Micros) {
    *last_idx = idx;
    *updated_at = at;
}

fn status<S>(value: i32, parse: impl Fn(i32) -> Result<S, prost::UnknownEnumValue>) -> Result<S, Rejection> {
    parse(value).map_err(|_| Rejection::new(ErrorClass::Malformed, format!("unknown status value {value}")))
}

/// `partition "p" is BUILDING; allowed next states: AVAILABLE, FAILED`.
fn transition_error<S: Status>(
    diagram: &Diagram<S>,
    what: &str,
    from: Option<S>,
    to: S,
    last_idx: Option<i64>,
) -> Rejection {
    let next = diagram.next_states(from);
    let message = match from {
        None => format!("{what} does not exist; allowed first state: {}", join_short(&next)),
        Some(s) if next.is_empty() => {
            format!("{what} is {} (terminal); no further transitions are allowed", s.short_name())
        }
        Some(s) => format!("{what} is {}; allowed next states: {}", s.short_name(), join_short(&next)),
    };
    let current = match (from, last_idx) {
        (Some(s), Some(idx)) => format!("{} (since idx {idx})", s.short_name()),
        (Some(s), None) => s.short_name().to_owned(),
        (None, _) => "(none)".to_owned(),
    };
    Rejection::new(ErrorClass::InvalidTransition, message)
        .detail(format!("event: {} -> {}; current state: {current}", diagram.entity, to.short_name()))
        .hint("see select * from bel.transitions() for the state diagrams")
}

/// The build an event belongs to must exist and not be terminal.
fn active_build<'a>(state: &'a State, build_id: &str) -> Result<&'a BuildRequest, Rejection> {
    let Some(br) = state.build_requests.get(build_id) else {
        return Err(Rejection::new(ErrorClass::UnknownReference, format!("build request {build_id:?} does not exist"))
            .hint("append its BUILD_REQUEST_RECEIVED event first"));
    };
    if BUILD_REQUEST.is_terminal(br.status) {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!("build request {build_id:?} is {} (terminal); it accepts no more events", br.status.short_name()),
        )
        .detail(format!("the build ended at idx {}", br.last_idx)));
    }
    Ok(br)
}

fn check_build_request(
    state: &State,
    event_id: &str,
    build_id: &str,
    to: B,
    sent: &BuildRequestEvent,
    rules: Rules,
) -> Result<(), Rejection> {
    let requested = &sent.requested_partitions;
    let current = state.build_requests.get(build_id);
    let from = current.map(|b| b.status);
    if !BUILD_REQUEST.allows(from, to) {
        return Err(transition_error(
            &BUILD_REQUEST,
            &format!("build request {build_id:?}"),
            from,
            to,
            current.map(|b| b.last_idx),
        ));
    }
    if to == B::BuildRequestReceived && requested.is_empty() {
        return Err(invalid(format!("build request {build_id:?} names no requested partitions"))
            .hint("a BUILD_REQUEST_RECEIVED event must list at least one of requestedPartitions"));
    }
    if to == B::BuildRequestCompleted {
        let br = current.map(|b| b.requested_partitions.as_slice()).unwrap_or_default();
        let missing: Vec<String> = br
            .iter()
            .filter_map(|r| match state.partitions.get(r).map(|p| p.status) {
                Some(P::PartitionAvailable) => None,
                Some(s) => Some(format!("{r} ({})", s.short_name())),
                None => Some(format!("{r} (none)")),
            })
            .collect();
        if !missing.is_empty() {
            return Err(Rejection::new(
                ErrorClass::RuleViolation,
                format!(
                    "build request {build_id:?} cannot complete: {} of its {} requested partitions are not AVAILABLE",
                    missing.len(),
                    br.len()
                ),
            )
            .detail(format!("not available: {}", missing.join(", ")))
            .hint("complete the build once every requested partition is AVAILABLE, or mark it FAILED"));
        }
    }
    if rules == Rules::Append && BUILD_REQUEST.is_terminal(to) {
        let work = state.work_in_progress(build_id);
        if !work.is_empty() {
            return Err(match to {
                B::BuildRequestCompleted => completion_refusal(build_id, &work),
                _ => ending_refusal(build_id, &build_request_event(event_id, build_id, sent), to, &work),
            });
        }
    }
    Ok(())
}

fn check_partition(state: &State, build_id: &str, p: &PartitionEvent, rules: Rules) -> Result<(), Rejection> {
    active_build(state, build_id)?;
    let to = status(p.status, P::try_from)?;
    let what = format!("partition {:?}", p.partition_ref);
    if to == P::PartitionInvalidated {
        return Err(Rejection::new(
            ErrorClass::InvalidTransition,
            format!("{what} cannot be set INVALIDATED by a partition event"),
        )
        .hint("append an invalidation event: {\"invalidation\":{\"partitionRef\":...,\"reason\":...}}"));
    }
    let current = state.partitions.get(&p.partition_ref);
    let from = current.map(|c| c.status);
    if let (P::PartitionRequested, Some(c)) = (to, current) {
        let produced = matches!(
            c.status,
            P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding | P::PartitionAvailable
        );
        // The owner itself re-requesting falls through to the diagram: it cannot delegate
        // to itself, so a delegation hint would send it to another refusal.
        if produced && c.build_request_id != build_id {
            return Err(Rejection::new(
                ErrorClass::RuleViolation,
                format!(
                    "{what} is {}, owned by build request {:?}; build request {build_id:?} must record a delegation instead of requesting it",
                    c.status.short_name(),
                    c.build_request_id
                ),
            )
            .detail(format!("owner: {}; last changed at idx {}", c.build_request_id, c.last_idx))
            .hint(format!(
                "append {{\"buildRequestId\":{build_id:?},\"delegation\":{{\"partitionRef\":{:?},\"delegatedToBuildRequestId\":{:?}}}}}",
                p.partition_ref, c.build_request_id
            )));
        }
    }
    if !PARTITION.allows(from, to) {
        return Err(transition_error(&PARTITION, &what, from, to, current.map(|c| c.last_idx)));
    }
    if let Some(c) = current.filter(|_| to != P::PartitionRequested) {
        if c.build_request_id != build_id {
            return Err(Rejection::new(
                ErrorClass::RuleViolation,
                format!("{what} is owned by build request {:?}, not {build_id:?}", c.build_request_id),
            )
            .hint("only the owning build moves a partition; other builds record a delegation"));
        }
    }
    if to == P::PartitionBuilding && rules == Rules::Append {
        check_building_job_run(state, build_id, &what, p)?;
    }
    if from == Some(P::PartitionBuilding) {
        check_producing_job_run(state, &what, p, to)?;
    }
    Ok(())
}

/// Entering BUILDING names a job run of the owning build that is SCHEDULED or RUNNING and
/// targets the partition: the run that will take it out of BUILDING.
fn check_building_job_run(state: &State, build_id: &str, what: &str, p: &PartitionEvent) -> Result<(), Rejection> {
    if p.job_run_id.is_empty() {
        return Err(invalid(format!("{what} enters BUILDING but the event names no jobRunId")).hint(format!(
            "name the job run (SCHEDULED or RUNNING, of build request {build_id:?}, targeting the partition) that builds it"
        )));
    }
    let run =
        existing_job_run(state, &p.job_run_id, &format!("schedule it first, with {what} among its targetPartitions"))?;
    let refusal = |why: String| {
        Rejection::new(
            ErrorClass::RuleViolation,
            format!("{what} cannot enter BUILDING under job run {:?}: {why}", p.job_run_id),
        )
    };
    if run.build_request_id != build_id {
        return Err(refusal(format!("it belongs to build request {:?}, not {build_id:?}", run.build_request_id))
            .hint("name a job run of the build that owns the partition"));
    }
    if JOB_RUN.is_terminal(run.status) {
        return Err(refusal(format!("it is {} (ended)", run.status.short_name()))
            .detail(format!("the job run ended at idx {}", run.last_idx))
            .hint("schedule a new job run that targets the partition and name it"));
    }
    if !run.target_partitions.contains(&p.partition_ref) {
        return Err(refusal("it does not target the partition".to_owned())
            .detail(format!("targets: {}", run.target_partitions.join(", ")))
            .hint("name a job run whose targetPartitions include the partition"));
    }
    Ok(())
}

/// The job run `id`, or a refusal (23503) with `hint`.
fn existing_job_run<'a>(state: &'a State, id: &str, hint: &str) -> Result<&'a JobRun, Rejection> {
    state.job_runs.get(id).ok_or_else(|| {
        Rejection::new(ErrorClass::UnknownReference, format!("job run {id:?} does not exist")).hint(hint.to_owned())
    })
}

/// Leaving BUILDING for AVAILABLE names the job run that built the partition: RUNNING and
/// targeting it. For FAILED a job run is optional (a build may fail before its run starts:
/// the partition entered BUILDING under a SCHEDULED run); one that is named exists and
/// targets the partition, in any state.
fn check_producing_job_run(state: &State, what: &str, p: &PartitionEvent, to: P) -> Result<(), Rejection> {
    if p.job_run_id.is_empty() {
        if to == P::PartitionFailed {
            return Ok(());
        }
        return Err(invalid(format!("{what} leaves BUILDING for AVAILABLE but the event names no jobRunId"))
            .hint("name the RUNNING job run that built the partition"));
    }
    let hint = match to {
        P::PartitionAvailable => "name the RUNNING job run that built the partition",
        _ => "name a job run that targets the partition, or none",
    };
    let run = existing_job_run(state, &p.job_run_id, hint)?;
    if to == P::PartitionAvailable && run.status != J::JobRunRunning {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!(
                "{what} can become AVAILABLE only while its job run is RUNNING; job run {:?} is {}",
                p.job_run_id,
                run.status.short_name()
            ),
        )
        .hint("append the partition's outcome before the job run's own COMPLETED or FAILED"));
    }
    if !run.target_partitions.contains(&p.partition_ref) {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!("job run {:?} does not target {what}", p.job_run_id),
        )
        .detail(format!("targets: {}", run.target_partitions.join(", "))));
    }
    Ok(())
}

fn check_job_run(state: &State, build_id: &str, j: &mut JobRunEvent) -> Result<(), Rejection> {
    let br = active_build(state, build_id)?;
    let to = status(j.status, J::try_from)?;
    let what = format!("job run {:?}", j.job_run_id);
    let current = state.job_runs.get(&j.job_run_id);
    if let Some(run) = current.filter(|r| r.build_request_id != build_id) {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!("{what} belongs to build request {:?}, not {build_id:?}", run.build_request_id),
        ));
    }
    let from = current.map(|r| r.status);
    if !JOB_RUN.allows(from, to) {
        return Err(transition_error(&JOB_RUN, &what, from, to, current.map(|r| r.last_idx)));
    }
    match current {
        None => {
            if !matches!(br.status, B::BuildRequestAnalysisCompleted | B::BuildRequestExecuting) {
                return Err(Rejection::new(
                    ErrorClass::RuleViolation,
                    format!(
                        "{what} cannot be scheduled: build request {build_id:?} is {}, not ANALYSIS_COMPLETED or EXECUTING",
                        br.status.short_name()
                    ),
                ));
            }
            if j.job_label.is_empty() {
                return Err(invalid(format!("{what} is scheduled without a jobLabel")));
            }
            if j.target_partitions.is_empty() {
                return Err(invalid(format!("{what} is scheduled without targetPartitions")));
            }
        }
        Some(run) => {
            if !j.job_label.is_empty() && j.job_label != run.job_label {
                return Err(invalid(format!(
                    "{what} has job label {:?}; an event cannot change it to {:?}",
                    run.job_label, j.job_label
                )));
            }
            if !j.target_partitions.is_empty() && j.target_partitions != run.target_partitions {
                return Err(invalid(format!("{what} cannot change its targetPartitions after SCHEDULED")));
            }
            // Stored events are self-describing: later events carry label and targets too.
            j.job_label = run.job_label.clone();
            j.target_partitions = run.target_partitions.clone();
        }
    }
    Ok(())
}

fn check_delegation(state: &State, build_id: &str, d: &mut DelegationEvent) -> Result<(), Rejection> {
    active_build(state, build_id)?;
    let what = format!("partition {:?}", d.partition_ref);
    let Some(part) = state.partitions.get(&d.partition_ref) else {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!("{what} does not exist; build request {build_id:?} cannot delegate it"),
        )
        .hint("request the partition instead (PARTITION_REQUESTED)"));
    };
    let delegable = matches!(
        part.status,
        P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding | P::PartitionAvailable
    );
    if !delegable {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!("{what} is {}; nobody is producing it, so it cannot be delegated", part.status.short_name()),
        )
        .hint("request the partition instead (PARTITION_REQUESTED)"));
    }
    if part.build_request_id == build_id {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!("build request {build_id:?} owns {what} itself; there is nothing to delegate"),
        ));
    }
    if d.delegated_to_build_request_id.is_empty() {
        d.delegated_to_build_request_id = part.build_request_id.clone();
    } else if d.delegated_to_build_request_id != part.build_request_id {
        return Err(Rejection::new(
            ErrorClass::RuleViolation,
            format!(
                "{what} is owned by build request {:?}, not {:?}",
                part.build_request_id, d.delegated_to_build_request_id
            ),
        )
        .hint("delegate to the owner, or leave delegatedToBuildRequestId empty to let the log fill it in"));
    }
    Ok(())
}
