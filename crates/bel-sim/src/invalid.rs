//! Invalid events: for each kind of [`Mistake`], an event that makes exactly that mistake
//! against the current state, built from the simulator's reading of the spec (never by
//! asking `prepare`), so tests can check that the rules refuse it with the right class.
use std::collections::BTreeSet;

use bel_core::diagram::{BUILD_REQUEST, JOB_RUN, PARTITION};
use bel_core::error::ErrorClass;
use bel_core::pb::{
    build_event::Payload, BuildEvent, BuildRequestEvent, BuildRequestStatus as B, DelegationEvent, JobRunEvent,
    JobRunStatus as J, PartitionEvent, PartitionInvalidationEvent, PartitionStatus as P,
};
use bel_core::state::{BuildRequest, JobRun, Partition};
use bel_core::status::Status;
use rand::seq::SliceRandom;
use rand::Rng;

use crate::sim::Sim;

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
    /// COMPLETED with every requested partition AVAILABLE but a job run SCHEDULED or RUNNING.
    CompleteWithJobRunInProgress,
    /// FAILED or CANCELLED while the build owns partitions in REQUESTED..BUILDING or has
    /// job runs SCHEDULED or RUNNING.
    EndWithWorkInProgress,
    /// A job run status that is not an edge of its diagram.
    JobRunTransition,
    /// An event about a job run sent by another build.
    JobRunOtherBuild,
    /// SCHEDULED while the build is RECEIVED or PLANNING.
    ScheduleTooEarly,
    /// SCHEDULED without a job label or without target partitions.
    ScheduleIncomplete,
    /// Entering BUILDING without naming a job run.
    BuildingWithoutJobRun,
    /// Entering BUILDING naming a job run that does not exist.
    BuildingUnknownJobRun,
    /// Entering BUILDING naming a job run of another build.
    BuildingForeignJobRun,
    /// Entering BUILDING naming an ended job run of the owning build.
    BuildingEndedJobRun,
    /// Entering BUILDING naming a job run of the owning build, in progress, that does not
    /// target the partition.
    BuildingUntargetedJobRun,
    /// BUILDING -> AVAILABLE without naming a job run.
    ProducerMissing,
    /// Leaving BUILDING naming a job run that does not exist.
    ProducerUnknown,
    /// BUILDING -> AVAILABLE naming a job run that is not RUNNING or does not target the
    /// partition, or BUILDING -> FAILED naming one that does not target it.
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
        Mistake::CompleteWithJobRunInProgress,
        Mistake::EndWithWorkInProgress,
        Mistake::JobRunTransition,
        Mistake::JobRunOtherBuild,
        Mistake::ScheduleTooEarly,
        Mistake::ScheduleIncomplete,
        Mistake::BuildingWithoutJobRun,
        Mistake::BuildingUnknownJobRun,
        Mistake::BuildingForeignJobRun,
        Mistake::BuildingEndedJobRun,
        Mistake::BuildingUntargetedJobRun,
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
            | Mistake::CompleteWithJobRunInProgress
            | Mistake::EndWithWorkInProgress
            | Mistake::JobRunOtherBuild
            | Mistake::ScheduleTooEarly
            | Mistake::BuildingForeignJobRun
            | Mistake::BuildingEndedJobRun
            | Mistake::BuildingUntargetedJobRun
            | Mistake::ProducerNotRunning => ErrorClass::RuleViolation,
            Mistake::UnknownBuild | Mistake::BuildingUnknownJobRun | Mistake::ProducerUnknown => {
                ErrorClass::UnknownReference
            }
            Mistake::NoRequestedPartitions
            | Mistake::ScheduleIncomplete
            | Mistake::BuildingWithoutJobRun
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
impl Sim {
    /// An event that is not a correct next state right now (`prepare` must refuse it).
    /// Nothing is applied.
    pub fn invalid_next(&mut self) -> Option<BuildEvent> {
        self.invalid_next_explained().map(|i| i.event)
    }

    /// Like [`Sim::invalid_next`], with the mistake the event makes.
    pub fn invalid_next_explained(&mut self) -> Option<InvalidEvent> {
        let mut mistakes = Mistake::ALL.to_vec();
        mistakes.shuffle(&mut self.rng);
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

    fn active_builds(&self) -> Vec<&BuildRequest> {
        self.state.build_requests.values().filter(|b| !BUILD_REQUEST.is_terminal(b.status)).collect()
    }

    fn is_active(&self, build: &str) -> bool {
        self.state.build_requests.get(build).is_some_and(|b| !BUILD_REQUEST.is_terminal(b.status))
    }

    /// A build id that does not exist.
    fn ghost_build(&mut self) -> String {
        loop {
            let id = format!("{}ghost{}", self.build_prefix, self.rng.gen_range(0..1_000_000));
            if !self.state.build_requests.contains_key(&id) {
                return id;
            }
        }
    }

    fn pick_partition(&mut self, keep: impl Fn(&Partition) -> bool) -> Option<Partition> {
        let found: Vec<&Partition> = self.state.partitions.values().filter(|p| keep(p)).collect();
        found.choose(&mut self.rng).map(|p| (*p).clone())
    }

    fn pick_job_run(&mut self, keep: impl Fn(&JobRun) -> bool) -> Option<JobRun> {
        let found: Vec<&JobRun> = self.state.job_runs.values().filter(|r| keep(r)).collect();
        found.choose(&mut self.rng).map(|r| (*r).clone())
    }

    fn pick_build(&mut self, keep: impl Fn(&BuildRequest) -> bool) -> Option<String> {
        let found: Vec<&String> =
            self.state.build_requests.values().filter(|b| keep(b)).map(|b| &b.build_request_id).collect();
        found.choose(&mut self.rng).map(|b| (*b).clone())
    }

    /// An active build other than `not`.
    fn pick_active_other(&mut self, not: &str) -> Option<String> {
        self.pick_build(|b| !BUILD_REQUEST.is_terminal(b.status) && b.build_request_id != not)
    }

    fn any_ref(&mut self) -> String {
        self.partition_refs.choose(&mut self.rng).cloned().unwrap_or_else(|| "data/x".into())
    }

    /// A payload that is fine in every respect but the one a build-scoped rule checks:
    /// a request for a fresh partition, a job run, or a delegation of a live partition.
    fn build_scoped_payload(&mut self, build: &str) -> Payload {
        let r = self.any_ref();
        match self.rng.gen_range(0..3) {
            0 => partition_payload(&r, P::PartitionRequested, ""),
            1 => {
                let label = self.config.job_labels.choose(&mut self.rng).cloned().unwrap_or_default();
                schedule_payload(format!("{build}/j-new"), &label, vec![r])
            }
            _ => delegation_payload(&r, ""),
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
                    Some(id) if self.rng.gen_bool(0.8) => {
                        let from = self.state.build_requests.get(&id).map(|b| b.status);
                        (id, from)
                    }
                    _ => (self.ghost_build(), None),
                };
                let wrong: Vec<B> = B::ALL.iter().copied().filter(|s| !BUILD_REQUEST.allows(from, *s)).collect();
                let to = *wrong.choose(&mut self.rng)?;
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
                let to = *wrong.choose(&mut self.rng)?;
                none(build, partition_payload(&partition, to, &job_run))
            }
            Mistake::NotTheOwner => {
                let p = self.pick_partition(|p| {
                    matches!(p.status, P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding)
                })?;
                let intruder = self.pick_active_other(&p.build_request_id)?;
                let next: Vec<P> = PARTITION.next_states(Some(p.status));
                let to = *next.choose(&mut self.rng)?;
                let job_run = p.job_run_id.unwrap_or_default();
                none(intruder, partition_payload(&p.partition_ref, to, &job_run))
            }
            Mistake::RequestOwnedElsewhere => {
                let p = self.pick_partition(|p| {
                    matches!(
                        p.status,
                        P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding | P::PartitionAvailable
                    )
                })?;
                let other = self.pick_active_other(&p.build_request_id)?;
                none(other, partition_payload(&p.partition_ref, P::PartitionRequested, ""))
            }
            Mistake::DelegationNotNeeded => {
                let build = self.pick_build(|b| !BUILD_REQUEST.is_terminal(b.status))?;
                let partition = match self.rng.gen_range(0..3) {
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
                none(build, delegation_payload(&partition, ""))
            }
            Mistake::DelegationWrongOwner => {
                let p = self.pick_partition(|p| {
                    matches!(
                        p.status,
                        P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding | P::PartitionAvailable
                    )
                })?;
                let delegator = self.pick_active_other(&p.build_request_id)?;
                let wrong_owner = match self.rng.gen_range(0..3) {
                    0 => delegator.clone(),
                    1 => self.ghost_build(),
                    _ => {
                        let owner = p.build_request_id.clone();
                        self.pick_build(move |b| b.build_request_id != owner).unwrap_or_else(|| "nobody".into())
                    }
                };
                none(delegator, delegation_payload(&p.partition_ref, &wrong_owner))
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
                let build = blocked.choose(&mut self.rng)?.clone();
                none(build, build_status_payload(B::BuildRequestCompleted))
            }
            Mistake::CompleteWithJobRunInProgress => {
                let in_progress: BTreeSet<&String> = self
                    .state
                    .job_runs
                    .values()
                    .filter(|r| !JOB_RUN.is_terminal(r.status))
                    .map(|r| &r.build_request_id)
                    .collect();
                let blocked: Vec<String> = self
                    .state
                    .build_requests
                    .values()
                    .filter(|b| b.status == B::BuildRequestExecuting && in_progress.contains(&b.build_request_id))
                    .filter(|b| {
                        b.requested_partitions
                            .iter()
                            .all(|r| self.state.partitions.get(r).is_some_and(|p| p.status == P::PartitionAvailable))
                    })
                    .map(|b| b.build_request_id.clone())
                    .collect();
                let build = blocked.choose(&mut self.rng)?.clone();
                none(build, build_status_payload(B::BuildRequestCompleted))
            }
            Mistake::EndWithWorkInProgress => {
                let owners: BTreeSet<&String> = self
                    .state
                    .partitions
                    .values()
                    .filter(|p| in_progress(p.status))
                    .map(|p| &p.build_request_id)
                    .chain(
                        self.state
                            .job_runs
                            .values()
                            .filter(|r| !JOB_RUN.is_terminal(r.status))
                            .map(|r| &r.build_request_id),
                    )
                    .collect();
                let busy: Vec<String> = self
                    .active_builds()
                    .iter()
                    .map(|b| b.build_request_id.clone())
                    .filter(|b| owners.contains(b))
                    .collect();
                let build = busy.choose(&mut self.rng)?.clone();
                let end = if self.rng.gen_bool(0.5) { B::BuildRequestFailed } else { B::BuildRequestCancelled };
                none(build, build_status_payload(end))
            }
            Mistake::BuildingWithoutJobRun
            | Mistake::BuildingUnknownJobRun
            | Mistake::BuildingForeignJobRun
            | Mistake::BuildingEndedJobRun
            | Mistake::BuildingUntargetedJobRun => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let p =
                    self.pick_partition(|p| p.status == P::PartitionAnalyzed && active.contains(&p.build_request_id))?;
                let (owner, r) = (p.build_request_id.clone(), p.partition_ref.clone());
                let job_run = match mistake {
                    Mistake::BuildingWithoutJobRun => String::new(),
                    Mistake::BuildingUnknownJobRun => format!("{owner}/no-such-run"),
                    Mistake::BuildingForeignJobRun => {
                        self.pick_job_run(|run| run.build_request_id != owner)?.job_run_id
                    }
                    Mistake::BuildingEndedJobRun => {
                        self.pick_job_run(|run| run.build_request_id == owner && JOB_RUN.is_terminal(run.status))?
                            .job_run_id
                    }
                    _ => {
                        self.pick_job_run(|run| {
                            run.build_request_id == owner
                                && !JOB_RUN.is_terminal(run.status)
                                && !run.target_partitions.contains(&r)
                        })?
                        .job_run_id
                    }
                };
                none(owner, partition_payload(&p.partition_ref, P::PartitionBuilding, &job_run))
            }
            Mistake::JobRunTransition => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let run = self.pick_job_run(|r| active.contains(&r.build_request_id))?;
                let wrong: Vec<J> = J::ALL.iter().copied().filter(|s| !JOB_RUN.allows(Some(run.status), *s)).collect();
                let to = *wrong.choose(&mut self.rng)?;
                none(run.build_request_id, job_run_payload(&run.job_run_id, to))
            }
            Mistake::JobRunOtherBuild => {
                let run = self.pick_job_run(|_| true)?;
                let other = self.pick_active_other(&run.build_request_id)?;
                let to = *J::ALL.choose(&mut self.rng)?;
                none(other, job_run_payload(&run.job_run_id, to))
            }
            Mistake::ScheduleTooEarly => {
                let build =
                    self.pick_build(|b| matches!(b.status, B::BuildRequestReceived | B::BuildRequestPlanning))?;
                let r = self.any_ref();
                let label = self.config.job_labels.choose(&mut self.rng).cloned().unwrap_or_default();
                none(build.clone(), schedule_payload(format!("{build}/j-early"), &label, vec![r]))
            }
            Mistake::ScheduleIncomplete => {
                let build = self
                    .pick_build(|b| matches!(b.status, B::BuildRequestAnalysisCompleted | B::BuildRequestExecuting))?;
                let r = self.any_ref();
                let label = self.config.job_labels.choose(&mut self.rng).cloned().unwrap_or_default();
                let payload = if self.rng.gen_bool(0.5) {
                    schedule_payload(format!("{build}/j-incomplete"), "", vec![r])
                } else {
                    schedule_payload(format!("{build}/j-incomplete"), &label, Vec::new())
                };
                none(build, payload)
            }
            Mistake::ProducerMissing | Mistake::ProducerUnknown | Mistake::ProducerNotRunning => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let p =
                    self.pick_partition(|p| p.status == P::PartitionBuilding && active.contains(&p.build_request_id))?;
                // FAILED needs no job run, and accepts any that targets the partition.
                let to = match mistake {
                    Mistake::ProducerMissing => P::PartitionAvailable,
                    _ if self.rng.gen_bool(0.5) => P::PartitionAvailable,
                    _ => P::PartitionFailed,
                };
                let job_run = match mistake {
                    Mistake::ProducerMissing => String::new(),
                    Mistake::ProducerUnknown => format!("{}/no-such-run", p.build_request_id),
                    _ => {
                        let r = p.partition_ref.clone();
                        self.pick_job_run(move |run| {
                            !run.target_partitions.contains(&r)
                                || (to == P::PartitionAvailable && run.status != J::JobRunRunning)
                        })?
                        .job_run_id
                    }
                };
                none(p.build_request_id, partition_payload(&p.partition_ref, to, &job_run))
            }
            Mistake::JobRunRelabel => {
                let active: BTreeSet<String> =
                    self.active_builds().iter().map(|b| b.build_request_id.clone()).collect();
                let run =
                    self.pick_job_run(|r| !JOB_RUN.is_terminal(r.status) && active.contains(&r.build_request_id))?;
                let to = *JOB_RUN.next_states(Some(run.status)).choose(&mut self.rng)?;
                let mut event = JobRunEvent {
                    job_run_id: run.job_run_id.clone(),
                    job_label: run.job_label.clone(),
                    status: to as i32,
                    target_partitions: run.target_partitions.clone(),
                    exit_code: 0,
                    message: String::new(),
                };
                if self.rng.gen_bool(0.5) {
                    event.job_label.push_str("-renamed");
                } else {
                    event.target_partitions.push(format!("{}/extra", run.job_run_id));
                }
                none(run.build_request_id, Payload::JobRun(event))
            }
            Mistake::InvalidateUnavailable => {
                let partition = match self.pick_partition(|p| p.status != P::PartitionAvailable) {
                    Some(p) if self.rng.gen_bool(0.7) => p.partition_ref,
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
                let payload = match self.rng.gen_range(0..3) {
                    0 => Payload::BuildRequest(BuildRequestEvent {
                        status: B::Unspecified as i32,
                        requested_partitions: vec![r],
                        message: String::new(),
                    }),
                    1 => partition_payload(&r, P::Unspecified, ""),
                    _ => job_run_payload(&format!("{build}/j1"), J::Unspecified),
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
                Some((build, payload, self.rng.gen_range(1..=1000)))
            }
        }
    }

    /// A partition ref no event has mentioned yet.
    fn fresh_ref(&mut self) -> Option<String> {
        let fresh: Vec<&String> =
            self.partition_refs.iter().filter(|r| !self.state.partitions.contains_key(*r)).collect();
        match fresh.choose(&mut self.rng) {
            Some(r) => Some((*r).clone()),
            None => Some(format!("{}never/{}", self.build_prefix, self.rng.gen_range(0..1_000_000))),
        }
    }
}

fn partition_payload(partition: &str, to: P, job_run: &str) -> Payload {
    Payload::Partition(PartitionEvent {
        partition_ref: partition.to_owned(),
        status: to as i32,
        job_run_id: job_run.to_owned(),
        message: String::new(),
    })
}

fn build_status_payload(to: B) -> Payload {
    Payload::BuildRequest(BuildRequestEvent {
        status: to as i32,
        requested_partitions: Vec::new(),
        message: String::new(),
    })
}

/// REQUESTED, ANALYZED, BUILDING: the owning build is producing the partition.
fn in_progress(status: P) -> bool {
    matches!(status, P::PartitionRequested | P::PartitionAnalyzed | P::PartitionBuilding)
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
