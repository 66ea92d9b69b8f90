//! Entity state: what the projections hold and what the reducer computes.
use std::collections::{BTreeMap, BTreeSet};

use crate::pb::{build_event::Payload, BuildEvent, BuildRequestStatus, JobRunStatus, PartitionStatus};

/// Microseconds since the Unix epoch (UTC).
pub type Micros = i64;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    pub build_request_id: String,
    pub status: BuildRequestStatus,
    pub requested_partitions: Vec<String>,
    /// partition_ref -> the build request it was delegated to.
    pub delegations: BTreeMap<String, String>,
    pub first_idx: i64,
    pub last_idx: i64,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRun {
    pub job_run_id: String,
    pub build_request_id: String,
    pub job_label: String,
    pub status: JobRunStatus,
    pub target_partitions: Vec<String>,
    /// Set when the run reaches a terminal state.
    pub exit_code: Option<i32>,
    pub message: String,
    pub first_idx: i64,
    pub last_idx: i64,
    pub created_at: Micros,
    pub updated_at: Micros,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub partition_ref: String,
    pub status: PartitionStatus,
    /// The owning build: the build that last requested it.
    pub build_request_id: String,
    /// The job run that last built it, if any.
    pub job_run_id: Option<String>,
    pub last_idx: i64,
    pub updated_at: Micros,
}

/// The state of some or all entities. The extension fills it with the rows an append
/// touches; the reducer with everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub build_requests: BTreeMap<String, BuildRequest>,
    pub job_runs: BTreeMap<String, JobRun>,
    pub partitions: BTreeMap<String, Partition>,
}

/// The entity keys a group of events touches, per kind, each with whether an event may
/// create it. Locks are taken kind by kind (build requests, job runs, partitions) and in
/// key order within a kind, so concurrent appends cannot deadlock.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TouchedKeys {
    pub build_requests: BTreeMap<String, bool>,
    pub job_runs: BTreeMap<String, bool>,
    pub partitions: BTreeMap<String, bool>,
}

fn touch(map: &mut BTreeMap<String, bool>, key: &str, may_create: bool) {
    if key.is_empty() {
        return;
    }
    let entry = map.entry(key.to_owned()).or_insert(false);
    *entry |= may_create;
}

impl TouchedKeys {
    /// Keys known from the events alone (a partition event's job run among them: entering
    /// and leaving BUILDING check it). Partitions needed by a build request reaching
    /// COMPLETED depend on its requested partitions: see [`TouchedKeys::add_completion_partitions`];
    /// the work in progress of a build that ends depends on the log: see
    /// [`TouchedKeys::ending_builds`].
    pub fn of_events<'a>(events: impl IntoIterator<Item = &'a BuildEvent>) -> Self {
        let mut keys = TouchedKeys::default();
        for event in events {
            let is_invalidation = matches!(event.payload, Some(Payload::Invalidation(_)));
            if !is_invalidation {
                let creates = matches!(&event.payload, Some(Payload::BuildRequest(b))
                    if b.status == BuildRequestStatus::BuildRequestReceived as i32);
                touch(&mut keys.build_requests, &event.build_request_id, creates);
            }
            match &event.payload {
                Some(Payload::JobRun(j)) => {
                    let creates = j.status == JobRunStatus::JobRunScheduled as i32;
                    touch(&mut keys.job_runs, &j.job_run_id, creates);
                }
                Some(Payload::Partition(p)) => {
                    let creates = p.status == PartitionStatus::PartitionRequested as i32;
                    touch(&mut keys.partitions, &p.partition_ref, creates);
                    touch(&mut keys.job_runs, &p.job_run_id, false);
                }
                Some(Payload::Delegation(d)) => touch(&mut keys.partitions, &d.partition_ref, false),
                Some(Payload::Invalidation(i)) => touch(&mut keys.partitions, &i.partition_ref, false),
                Some(Payload::BuildRequest(_)) | None => {}
            }
        }
        keys
    }

    /// The build request these keys name, when it is the only key and an event may create
    /// it (a BUILD_REQUEST_RECEIVED appended alone). Such an append reads no other entity,
    /// so it can be validated against an absent build request before anything is locked;
    /// inserting the new row is then its lock (see the append path).
    pub fn lone_created_build_request(&self) -> Option<&str> {
        match (self.build_requests.len(), self.job_runs.is_empty(), self.partitions.is_empty()) {
            (1, true, true) => self.build_requests.iter().find(|(_, creatable)| **creatable).map(|(k, _)| k.as_str()),
            _ => None,
        }
    }

    /// Adds the requested partitions of every build request that one of `events` moves to
    /// COMPLETED (their status decides whether it may). `state` must already hold the
    /// build requests; a build received earlier in the same batch is found in `events`.
    pub fn add_completion_partitions(&mut self, events: &[BuildEvent], state: &State) {
        let mut requested_in_batch: BTreeMap<&str, &[String]> = BTreeMap::new();
        for event in events {
            let Some(Payload::BuildRequest(b)) = &event.payload else {
                continue;
            };
            if b.status == BuildRequestStatus::BuildRequestReceived as i32 {
                requested_in_batch.insert(&event.build_request_id, &b.requested_partitions);
            } else if b.status == BuildRequestStatus::BuildRequestCompleted as i32 {
                let id = event.build_request_id.as_str();
                let requested = requested_in_batch
                    .get(id)
                    .copied()
                    .or_else(|| state.build_requests.get(id).map(|br| br.requested_partitions.as_slice()))
                    .unwrap_or_default();
                for r in requested {
                    touch(&mut self.partitions, r, false);
                }
            }
        }
    }
}

impl TouchedKeys {
    /// The build requests one of `events` ends (COMPLETED, FAILED, CANCELLED), sorted and
    /// distinct. Such an event needs the build's work in progress in view (the partitions
    /// it owns in REQUESTED..BUILDING, its job runs SCHEDULED or RUNNING: see
    /// `in_progress`), which only the log knows: the store finds those keys and adds them
    /// with [`TouchedKeys::add_in_progress`] before locking.
    pub fn ending_builds(events: &[BuildEvent]) -> Vec<String> {
        let ending: BTreeSet<&str> = events
            .iter()
            .filter(|e| {
                matches!(&e.payload, Some(Payload::BuildRequest(b))
                if BuildRequestStatus::try_from(b.status).is_ok_and(|s| crate::diagram::BUILD_REQUEST.is_terminal(s)))
            })
            .map(|e| e.build_request_id.as_str())
            .filter(|b| !b.is_empty())
            .collect();
        ending.into_iter().map(str::to_owned).collect()
    }

    /// Adds the work in progress of ending builds: existing partitions and job runs.
    pub fn add_in_progress(&mut self, partitions: &[String], job_runs: &[String]) {
        for p in partitions {
            touch(&mut self.partitions, p, false);
        }
        for r in job_runs {
            touch(&mut self.job_runs, r, false);
        }
    }
}

/// Which entities one applied event changed (to write back to the projections).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changed {
    pub build_request: Option<String>,
    pub job_run: Option<String>,
    pub partition: Option<String>,
}

impl Changed {
    pub fn merge_into(self, all: &mut ChangedSet) {
        all.build_requests.extend(self.build_request);
        all.job_runs.extend(self.job_run);
        all.partitions.extend(self.partition);
    }
}

/// Every entity a group of events changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangedSet {
    pub build_requests: BTreeSet<String>,
    pub job_runs: BTreeSet<String>,
    pub partitions: BTreeSet<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pb::{BuildRequestEvent, JobRunEvent, PartitionEvent};

    fn build_request(id: &str, status: BuildRequestStatus) -> BuildEvent {
        BuildEvent {
            build_request_id: id.into(),
            payload: Some(Payload::BuildRequest(BuildRequestEvent {
                status: status as i32,
                requested_partitions: vec!["data/a".into()],
                ..Default::default()
            })),
            ..Default::default()
        }
    }

    #[test]
    fn ending_builds_are_those_an_event_moves_to_a_terminal_state() {
        let events = [
            build_request("b2", BuildRequestStatus::BuildRequestFailed),
            build_request("b1", BuildRequestStatus::BuildRequestCompleted),
            build_request("b3", BuildRequestStatus::BuildRequestExecuting),
            build_request("b2", BuildRequestStatus::BuildRequestCancelled),
            build_request("b4", BuildRequestStatus::BuildRequestReceived),
        ];
        assert_eq!(TouchedKeys::ending_builds(&events), ["b1", "b2"]);
        let mut keys = TouchedKeys::of_events(&events);
        keys.add_in_progress(&["p2".into(), "p1".into()], &["r1".into()]);
        assert_eq!(
            keys.partitions.iter().collect::<Vec<_>>(),
            [(&"p1".to_owned(), &false), (&"p2".to_owned(), &false)]
        );
        assert_eq!(keys.job_runs.keys().collect::<Vec<_>>(), ["r1"]);
    }

    #[test]
    fn a_received_build_alone_is_a_lone_creation() {
        let keys = TouchedKeys::of_events([&build_request("b1", BuildRequestStatus::BuildRequestReceived)]);
        assert_eq!(keys.lone_created_build_request(), Some("b1"));
    }

    #[test]
    fn other_events_and_groups_are_not() {
        let building = build_request("b1", BuildRequestStatus::BuildRequestPlanning);
        assert_eq!(TouchedKeys::of_events([&building]).lone_created_build_request(), None);

        let two = [
            build_request("b1", BuildRequestStatus::BuildRequestReceived),
            build_request("b2", BuildRequestStatus::BuildRequestReceived),
        ];
        assert_eq!(TouchedKeys::of_events(&two).lone_created_build_request(), None);

        let scheduled = BuildEvent {
            build_request_id: "b1".into(),
            payload: Some(Payload::JobRun(JobRunEvent {
                job_run_id: "r1".into(),
                status: JobRunStatus::JobRunScheduled as i32,
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(TouchedKeys::of_events([&scheduled]).lone_created_build_request(), None);

        let requested = BuildEvent {
            build_request_id: "b1".into(),
            payload: Some(Payload::Partition(PartitionEvent {
                partition_ref: "data/a".into(),
                status: PartitionStatus::PartitionRequested as i32,
                ..Default::default()
            })),
            ..Default::default()
        };
        assert_eq!(TouchedKeys::of_events([&requested]).lone_created_build_request(), None);
    }
}
