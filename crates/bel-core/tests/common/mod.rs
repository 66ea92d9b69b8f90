//! Helpers shared by the integration tests: an in-memory log that validates with
//! `rules::prepare` and applies with `rules::apply`, exactly as `bel_append` does, and
//! terse event constructors.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::VecDeque;

use bel_core::diagram::Diagram;
use bel_core::pb::{
    build_event::Payload, BuildEvent, BuildRequestEvent, BuildRequestStatus as B, DelegationEvent, JobRunEvent,
    JobRunStatus as J, PartitionEvent, PartitionInvalidationEvent, PartitionStatus as P,
};
use bel_core::rules::{apply, prepare};
use bel_core::state::State;
use bel_core::status::Status;
use bel_core::Rejection;

/// An in-memory log: the state every appended event was validated against.
#[derive(Debug, Default, Clone)]
pub struct Log {
    pub state: State,
    pub events: Vec<BuildEvent>,
}

impl Log {
    pub fn new() -> Self {
        Self::default()
    }

    /// Validates and appends; returns the event as stored (derived fields filled in).
    pub fn append(&mut self, mut event: BuildEvent) -> Result<BuildEvent, Rejection> {
        prepare(&self.state, &mut event)?;
        self.events.push(event.clone());
        apply(&mut self.state, &event, self.events.len() as i64);
        Ok(event)
    }

    #[track_caller]
    pub fn ok(&mut self, event: BuildEvent) -> BuildEvent {
        let shown = format!("{event:?}");
        self.append(event).unwrap_or_else(|r| panic!("refused {shown}: {r:?}"))
    }

    /// Asserts the event is refused and that refusing it changed nothing.
    #[track_caller]
    pub fn refused(&mut self, event: BuildEvent) -> Rejection {
        let before = self.state.clone();
        let shown = format!("{event:?}");
        let rejection = self.append(event).err().unwrap_or_else(|| panic!("accepted {shown}"));
        assert_eq!(self.state, before, "a refused event changed the state");
        rejection
    }

    pub fn build_status(&self, build: &str) -> Option<B> {
        self.state.build_requests.get(build).map(|b| b.status)
    }

    pub fn partition_status(&self, partition: &str) -> Option<P> {
        self.state.partitions.get(partition).map(|p| p.status)
    }

    pub fn job_run_status(&self, job_run: &str) -> Option<J> {
        self.state.job_runs.get(job_run).map(|r| r.status)
    }
}

fn event(build: &str, payload: Payload) -> BuildEvent {
    BuildEvent { build_request_id: build.to_owned(), payload: Some(payload), ..Default::default() }
}

pub fn received(build: &str, partitions: &[&str]) -> BuildEvent {
    event(
        build,
        Payload::BuildRequest(BuildRequestEvent {
            status: B::BuildRequestReceived as i32,
            requested_partitions: partitions.iter().map(|p| p.to_string()).collect(),
            message: String::new(),
        }),
    )
}

pub fn build_to(build: &str, status: B) -> BuildEvent {
    event(build, Payload::BuildRequest(BuildRequestEvent { status: status as i32, ..Default::default() }))
}

pub fn partition(build: &str, partition_ref: &str, status: P, job_run: &str) -> BuildEvent {
    event(
        build,
        Payload::Partition(PartitionEvent {
            partition_ref: partition_ref.to_owned(),
            status: status as i32,
            job_run_id: job_run.to_owned(),
            message: String::new(),
        }),
    )
}

pub fn job_run(build: &str, job_run: &str, label: &str, status: J, targets: &[&str]) -> BuildEvent {
    event(
        build,
        Payload::JobRun(JobRunEvent {
            job_run_id: job_run.to_owned(),
            job_label: label.to_owned(),
            status: status as i32,
            target_partitions: targets.iter().map(|p| p.to_string()).collect(),
            exit_code: 0,
            message: String::new(),
        }),
    )
}

/// A later job run event, leaving label and targets for the log to fill in.
pub fn job_run_to(build: &str, job_run_id: &str, status: J) -> BuildEvent {
    job_run(build, job_run_id, "", status, &[])
}

pub fn delegation(build: &str, partition_ref: &str, to: &str) -> BuildEvent {
    event(
        build,
        Payload::Delegation(DelegationEvent {
            partition_ref: partition_ref.to_owned(),
            delegated_to_build_request_id: to.to_owned(),
            message: String::new(),
        }),
    )
}

pub fn invalidation(partition_ref: &str) -> BuildEvent {
    event(
        "",
        Payload::Invalidation(PartitionInvalidationEvent {
            partition_ref: partition_ref.to_owned(),
            reason: "inputs changed".into(),
        }),
    )
}

/// Drives `build` (requesting `partitions`) to `status` along the diagram's shortest
/// path, doing what each step needs: partitions are requested and analyzed before
/// ANALYSIS_COMPLETED and built (by job run `<build>/all`) before COMPLETED.
pub fn drive_build(log: &mut Log, build: &str, partitions: &[&str], status: B) {
    for (from, to) in shortest_path(&bel_core::diagram::BUILD_REQUEST, Some(status)) {
        match to {
            B::BuildRequestReceived => {
                log.ok(received(build, partitions));
            }
            B::BuildRequestAnalysisCompleted => {
                for p in partitions {
                    log.ok(partition(build, p, P::PartitionRequested, ""));
                    log.ok(partition(build, p, P::PartitionAnalyzed, ""));
                }
                log.ok(build_to(build, to));
            }
            B::BuildRequestCompleted => {
                assert_eq!(from, Some(B::BuildRequestExecuting));
                build_partitions(log, build, &format!("{build}/all"), partitions);
                log.ok(build_to(build, to));
            }
            _ => {
                log.ok(build_to(build, to));
            }
        }
    }
}

/// With `build` ANALYSIS_COMPLETED or EXECUTING and owning `partitions` ANALYZED:
/// schedules and runs `job_run`, builds them AVAILABLE and completes the run.
pub fn build_partitions(log: &mut Log, build: &str, job_run_id: &str, partitions: &[&str]) {
    log.ok(job_run(build, job_run_id, "//jobs:build", J::JobRunScheduled, partitions));
    log.ok(job_run_to(build, job_run_id, J::JobRunRunning));
    for p in partitions {
        log.ok(partition(build, p, P::PartitionBuilding, job_run_id));
        log.ok(partition(build, p, P::PartitionAvailable, job_run_id));
    }
    log.ok(job_run_to(build, job_run_id, J::JobRunCompleted));
}

/// One edge of a diagram: (from, to), `None` being "(none)".
pub type Edge<S> = (Option<S>, S);

/// The edges leading from "(none)" to `target`, shortest first (breadth-first over the
/// table, in table order, so the path is deterministic). Empty for "(none)" itself.
pub fn shortest_path<S: Status>(diagram: &Diagram<S>, target: Option<S>) -> Vec<Edge<S>> {
    let mut queue: VecDeque<(Option<S>, Vec<Edge<S>>)> = VecDeque::from([(None, Vec::new())]);
    let mut seen = vec![None];
    while let Some((at, path)) = queue.pop_front() {
        if at == target {
            return path;
        }
        for &(from, to) in diagram.edges {
            if from == at && !seen.contains(&Some(to)) {
                seen.push(Some(to));
                let mut longer = path.clone();
                longer.push((from, to));
                queue.push_back((Some(to), longer));
            }
        }
    }
    panic!("{:?} is unreachable in the {} diagram", target, diagram.entity)
}

/// `None` and every state: the "from" side of a transition.
pub fn from_states<S: Status>() -> Vec<Option<S>> {
    std::iter::once(None).chain(S::ALL.iter().copied().map(Some)).collect()
}

pub fn short<S: Status>(state: Option<S>) -> &'static str {
    state.map_or("(none)", Status::short_name)
}
