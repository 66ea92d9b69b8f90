//! Events from actions: the payload of each step, wrapped in an envelope with an event id
//! and the simulation's clock.
use bel_core::pb::{
    build_event::Payload, BuildEvent, BuildRequestEvent, BuildRequestStatus as B, DelegationEvent, JobRunEvent,
    JobRunStatus as J, PartitionEvent, PartitionInvalidationEvent, PartitionStatus as P,
};
use rand::seq::SliceRandom;
use rand::Rng;

use crate::plan::Action;
use crate::sim::Sim;

impl Sim {
    pub(crate) fn event_for(&mut self, action: Action) -> Option<BuildEvent> {
        let (build, payload) = match action {
            Action::GiveUp { .. } => return None,
            Action::NewBuild => {
                let build = self.build_id(self.builds_started + 1);
                let count = self.rng.gen_range(1..=self.config.max_requested_partitions.min(self.partition_refs.len()));
                let mut refs = self.partition_refs.clone();
                refs.shuffle(&mut self.rng);
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
                let owner = if self.rng.gen_bool(0.5) { owner } else { String::new() };
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
                candidates.shuffle(&mut self.rng);
                candidates.truncate(self.rng.gen_range(1..=self.config.max_targets_per_job_run));
                let job_label = self.config.job_labels.choose(&mut self.rng).cloned().unwrap_or_default();
                let payload = Payload::JobRun(JobRunEvent {
                    job_run_id: format!("{build}/j{n}"),
                    job_label,
                    status: J::JobRunScheduled as i32,
                    target_partitions: candidates,
                    exit_code: 0,
                    // Later events without a message keep this one.
                    message: "waiting for a worker".into(),
                });
                (build, payload)
            }
            Action::JobRun { build, job_run, to } => {
                let (exit_code, message) = match to {
                    J::JobRunFailed => (self.rng.gen_range(1..=3), "exit status non-zero"),
                    J::JobRunCancelled => (130, "cancelled"),
                    _ => (0, ""),
                };
                // Later events may omit label and targets (the log fills them in); half do.
                let (job_label, target_partitions) = match self.state.job_runs.get(&job_run) {
                    Some(run) if self.rng.gen_bool(0.5) => (run.job_label.clone(), run.target_partitions.clone()),
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
    pub(crate) fn envelope(&mut self, build: &str, payload: Payload, event_id: String) -> BuildEvent {
        let timestamp = self.clock.advance(self.rng.gen_range(1_000..5_001_000));
        BuildEvent {
            idx: 0,
            event_id,
            timestamp: Some(timestamp),
            build_request_id: build.to_owned(),
            payload: Some(payload),
        }
    }
}
