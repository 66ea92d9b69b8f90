//! What the simulator may do next: for each of its own builds, the valid steps given the
//! state (a weighted list of [`Action`]s), and the plans that steer them.
use bel_core::diagram::{BUILD_REQUEST, JOB_RUN};
use bel_core::pb::{BuildRequestStatus as B, JobRunStatus as J, PartitionStatus as P};
use bel_core::state::{BuildRequest, JobRun};
use std::collections::BTreeSet;

use crate::sim::Sim;

/// How often a build requests a partition again after it FAILED under it.
const RETRY_LIMIT: u32 = 3;

/// The simulator's private plans for one of its own builds.
#[derive(Debug, Clone, Default)]
pub(crate) struct BuildPlan {
    /// Winding down to FAILED or CANCELLED: cancel job runs and fail owned partitions
    /// first, so nothing is left stuck in progress under a terminal build.
    pub(crate) ending: Option<B>,
    /// Events of this build applied so far (bounded, so every build ends).
    pub(crate) events: u32,
    /// Job runs scheduled so far (names the next one).
    pub(crate) job_runs: u32,
    /// Partitions it requested again after they FAILED under it.
    pub(crate) retries: u32,
}

/// One step the simulator may take next.
#[derive(Debug, Clone)]
pub(crate) enum Action {
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

impl Sim {
    pub(crate) fn active_own_builds(&self) -> Vec<String> {
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

    pub(crate) fn candidates(&self) -> Vec<(f64, Action)> {
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
                    // Its job run ended without it (a writer acting on a stale view can end a
                    // run it just started building under): only FAILED gets it out.
                    P::PartitionBuilding if mine && !self.run_in_progress(part.job_run_id.as_deref()) => {
                        all_planned = false;
                        out.push((1.0, self.partition_action(id, r, P::PartitionFailed, part.job_run_id.as_deref())));
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
        let building = run.target_partitions.iter().any(|t| self.building_under(build, t, &run.job_run_id));
        match run.status {
            J::JobRunScheduled => {
                out.push((1.0, act(J::JobRunRunning)));
                // A partition may enter BUILDING while its run is still SCHEDULED.
                for t in &run.target_partitions {
                    if self.owned_in(build, t, &[P::PartitionAnalyzed]) {
                        out.push((0.2, self.partition_action(build, t, P::PartitionBuilding, Some(&run.job_run_id))));
                    }
                }
                if !building {
                    out.push((0.05, act(J::JobRunSkipped)));
                    out.push((0.05, act(J::JobRunCancelled)));
                }
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
                if !building {
                    out.push((0.05, act(J::JobRunCancelled)));
                }
            }
            _ => {}
        }
    }

    /// Winding down: fail what the build still has in progress, cancel its job runs, then
    /// end (the rules refuse the end before: no dead ends).
    fn wind_down_actions(&self, build: &BuildRequest, end: B, out: &mut Vec<(f64, Action)>) {
        let id = &build.build_request_id;
        let before = out.len();
        for run in self.own_job_runs(id) {
            let act = |to| Action::JobRun { build: id.clone(), job_run: run.job_run_id.clone(), to };
            if JOB_RUN.is_terminal(run.status) {
                continue;
            }
            let building: Vec<&String> =
                run.target_partitions.iter().filter(|t| self.building_under(id, t, &run.job_run_id)).collect();
            for t in &building {
                // FAILED may name the job run, whatever its state, or none.
                out.push((1.0, self.partition_action(id, t, P::PartitionFailed, Some(&run.job_run_id))));
                out.push((0.3, self.partition_action(id, t, P::PartitionFailed, None)));
            }
            if !building.is_empty() {
                continue;
            }
            match run.status {
                J::JobRunScheduled => {
                    out.push((1.0, act(J::JobRunCancelled)));
                    out.push((0.2, act(J::JobRunSkipped)));
                }
                _ => {
                    out.push((1.0, act(J::JobRunCancelled)));
                    out.push((1.0, act(J::JobRunFailed)));
                }
            }
        }
        for r in &build.requested_partitions {
            let building_without_run = self.state.partitions.get(r).is_some_and(|p| {
                p.build_request_id == *id
                    && p.status == P::PartitionBuilding
                    && !self.run_in_progress(p.job_run_id.as_deref())
            });
            if self.owned_in(id, r, &[P::PartitionRequested, P::PartitionAnalyzed]) || building_without_run {
                out.push((1.0, self.partition_action(id, r, P::PartitionFailed, None)));
            }
        }
        if out.len() == before {
            out.push((1.0, self.build_action(id, end)));
        }
    }

    /// The job run exists and is SCHEDULED or RUNNING.
    fn run_in_progress(&self, job_run: Option<&str>) -> bool {
        job_run.and_then(|r| self.state.job_runs.get(r)).is_some_and(|r| !JOB_RUN.is_terminal(r.status))
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
}
