//! The state of every entity as the spec describes it, folded from the events alone: the
//! oracle the reducer is compared with. Written separately from `bel_core::rules` on
//! purpose and never calling it (nor the reducer, nor the diagrams): a bug in the shared
//! validate-and-apply code cannot hide by being on both sides of the comparison.
//!
//! It checks nothing: it folds events as the log stores them (valid, derived fields
//! filled in).
use bel_core::pb::{build_event::Payload, BuildEvent, BuildRequestStatus, JobRunStatus, PartitionStatus};
use bel_core::state::{BuildRequest, JobRun, Micros, Partition, State};

/// Folds events one at a time; [`NaiveFold::state`] is the state after those so far.
#[derive(Debug, Default, Clone)]
pub struct NaiveFold {
    state: State,
}

/// The state after `(idx, event)` pairs, in idx order.
pub fn naive_fold<'a>(events: impl IntoIterator<Item = (i64, &'a BuildEvent)>) -> State {
    let mut fold = NaiveFold::new();
    for (idx, event) in events {
        fold.push(idx, event);
    }
    fold.state
}

impl NaiveFold {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    /// Folds the event stored at `idx`:
    /// - every entity is in the status of the last event about it, and its `last_idx` and
    ///   `updated_at` are that event's idx and timestamp (a build's delegations and a
    ///   partition's invalidation are events about the build and the partition);
    /// - its first event fixes `first_idx` and `created_at`, and what RECEIVED (requested
    ///   partitions) or SCHEDULED (build, label, targets) says;
    /// - a partition belongs to the build that last requested it, and was produced by the
    ///   last job run an event of it named since then;
    /// - a delegation records the owner it names, per partition;
    /// - a job run's exit code is the one of the event that ended it; its message the last
    ///   one sent.
    pub fn push(&mut self, idx: i64, event: &BuildEvent) {
        let at = timestamp_micros(event);
        let build = &event.build_request_id;
        match &event.payload {
            Some(Payload::BuildRequest(b)) => {
                let entry = self.state.build_requests.entry(build.clone()).or_insert_with(|| BuildRequest {
                    build_request_id: build.clone(),
                    status: BuildRequestStatus::Unspecified,
                    requested_partitions: b.requested_partitions.clone(),
                    delegations: Default::default(),
                    first_idx: idx,
                    last_idx: idx,
                    created_at: at,
                    updated_at: at,
                });
                entry.status = BuildRequestStatus::try_from(b.status).unwrap_or_default();
                (entry.last_idx, entry.updated_at) = (idx, at);
            }
            Some(Payload::Partition(p)) => {
                let entry = self.state.partitions.entry(p.partition_ref.clone()).or_insert_with(|| Partition {
                    partition_ref: p.partition_ref.clone(),
                    status: PartitionStatus::Unspecified,
                    build_request_id: build.clone(),
                    job_run_id: None,
                    last_idx: idx,
                    updated_at: at,
                });
                entry.status = PartitionStatus::try_from(p.status).unwrap_or_default();
                if entry.status == PartitionStatus::PartitionRequested {
                    entry.build_request_id = build.clone();
                    entry.job_run_id = None;
                }
                if !p.job_run_id.is_empty() {
                    entry.job_run_id = Some(p.job_run_id.clone());
                }
                (entry.last_idx, entry.updated_at) = (idx, at);
            }
            Some(Payload::JobRun(j)) => {
                let entry = self.state.job_runs.entry(j.job_run_id.clone()).or_insert_with(|| JobRun {
                    job_run_id: j.job_run_id.clone(),
                    build_request_id: build.clone(),
                    job_label: j.job_label.clone(),
                    status: JobRunStatus::Unspecified,
                    target_partitions: j.target_partitions.clone(),
                    exit_code: None,
                    message: String::new(),
                    first_idx: idx,
                    last_idx: idx,
                    created_at: at,
                    updated_at: at,
                });
                entry.status = JobRunStatus::try_from(j.status).unwrap_or_default();
                let ended = matches!(
                    entry.status,
                    JobRunStatus::JobRunCompleted
                        | JobRunStatus::JobRunFailed
                        | JobRunStatus::JobRunCancelled
                        | JobRunStatus::JobRunSkipped
                );
                if ended {
                    entry.exit_code = Some(j.exit_code);
                }
                if !j.message.is_empty() {
                    entry.message = j.message.clone();
                }
                (entry.last_idx, entry.updated_at) = (idx, at);
            }
            Some(Payload::Delegation(d)) => {
                if let Some(entry) = self.state.build_requests.get_mut(build) {
                    entry.delegations.insert(d.partition_ref.clone(), d.delegated_to_build_request_id.clone());
                    (entry.last_idx, entry.updated_at) = (idx, at);
                }
            }
            Some(Payload::Invalidation(i)) => {
                if let Some(entry) = self.state.partitions.get_mut(&i.partition_ref) {
                    entry.status = PartitionStatus::PartitionInvalidated;
                    (entry.last_idx, entry.updated_at) = (idx, at);
                }
            }
            None => {}
        }
    }
}

/// Microseconds since the epoch; 0 without a timestamp.
fn timestamp_micros(event: &BuildEvent) -> Micros {
    event.timestamp.as_ref().map_or(0, |t| t.seconds * 1_000_000 + i64::from(t.nanos) / 1_000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bel_core::pb::{BuildRequestEvent, DelegationEvent, JobRunEvent, PartitionEvent, PartitionInvalidationEvent};

    fn event(build: &str, seconds: i64, payload: Payload) -> BuildEvent {
        BuildEvent {
            build_request_id: build.into(),
            timestamp: Some(pbjson_types::Timestamp { seconds, nanos: 0 }),
            payload: Some(payload),
            ..Default::default()
        }
    }

    fn partition(build: &str, seconds: i64, status: PartitionStatus, job_run: &str) -> BuildEvent {
        let payload = Payload::Partition(PartitionEvent {
            partition_ref: "p".into(),
            status: status as i32,
            job_run_id: job_run.into(),
            message: String::new(),
        });
        event(build, seconds, payload)
    }

    fn job_run(build: &str, seconds: i64, status: JobRunStatus, exit_code: i32, message: &str) -> BuildEvent {
        let payload = Payload::JobRun(JobRunEvent {
            job_run_id: "j".into(),
            job_label: "//l".into(),
            status: status as i32,
            target_partitions: vec!["p".into()],
            exit_code,
            message: message.into(),
        });
        event(build, seconds, payload)
    }

    /// A hand-written history, its state written out by hand.
    #[test]
    fn folds_a_small_history() {
        use BuildRequestStatus as B;
        use JobRunStatus as J;
        use PartitionStatus as P;
        let received = |build: &str, seconds| {
            let payload = Payload::BuildRequest(BuildRequestEvent {
                status: B::BuildRequestReceived as i32,
                requested_partitions: vec!["p".into()],
                message: String::new(),
            });
            event(build, seconds, payload)
        };
        let build_status = |build: &str, seconds, status: B| {
            let payload = Payload::BuildRequest(BuildRequestEvent { status: status as i32, ..Default::default() });
            event(build, seconds, payload)
        };
        let log = [
            received("b1", 1),
            partition("b1", 2, P::PartitionRequested, ""),
            partition("b1", 3, P::PartitionAnalyzed, ""),
            job_run("b1", 4, J::JobRunScheduled, 0, "queued"),
            job_run("b1", 5, J::JobRunRunning, 0, ""),
            partition("b1", 6, P::PartitionBuilding, "j"),
            partition("b1", 7, P::PartitionAvailable, "j"),
            job_run("b1", 8, J::JobRunCompleted, 0, ""),
            received("b2", 9),
            event(
                "b2",
                10,
                Payload::Delegation(DelegationEvent {
                    partition_ref: "p".into(),
                    delegated_to_build_request_id: "b1".into(),
                    message: String::new(),
                }),
            ),
            build_status("b1", 11, B::BuildRequestPlanning),
            event(
                "",
                12,
                Payload::Invalidation(PartitionInvalidationEvent { partition_ref: "p".into(), reason: "x".into() }),
            ),
            partition("b2", 13, P::PartitionRequested, ""),
        ];
        let state = naive_fold(log.iter().zip(1..).map(|(e, i)| (i, e)));

        let b1 = &state.build_requests["b1"];
        assert_eq!(
            (b1.status, b1.first_idx, b1.last_idx, b1.created_at, b1.updated_at),
            (B::BuildRequestPlanning, 1, 11, 1_000_000, 11_000_000)
        );
        let b2 = &state.build_requests["b2"];
        assert_eq!((b2.status, b2.last_idx), (B::BuildRequestReceived, 10));
        assert_eq!(b2.delegations.get("p").map(String::as_str), Some("b1"));
        assert_eq!(b2.requested_partitions, ["p"]);

        let p = &state.partitions["p"];
        // Re-requested by b2 after the invalidation: b2 owns it, no producer yet.
        assert_eq!(
            (p.status, p.build_request_id.as_str(), p.job_run_id.as_deref(), p.last_idx),
            (P::PartitionRequested, "b2", None, 13)
        );

        let j = &state.job_runs["j"];
        assert_eq!(
            (j.status, j.build_request_id.as_str(), j.exit_code, j.message.as_str()),
            (J::JobRunCompleted, "b1", Some(0), "queued")
        );
        assert_eq!((j.first_idx, j.last_idx, j.created_at, j.updated_at), (4, 8, 4_000_000, 8_000_000));
    }
}
