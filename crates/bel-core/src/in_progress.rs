//! A build request's work in progress: the partitions it owns in REQUESTED, ANALYZED or
//! BUILDING and its job runs SCHEDULED or RUNNING. Only the owning build moves such a
//! partition on (other builds must delegate to it) and only the build's own events end its
//! job runs, so a build that ended with work in progress would strand it for good: nobody
//! could ever build those partitions again. Hence "no dead ends": a build ends (COMPLETED,
//! FAILED, CANCELLED) only without work in progress. A refusal lists it, and for FAILED and
//! CANCELLED its HINT is the one `bel_append_batch` call that ends it and then the build.
use crate::diagram::BUILD_REQUEST;
use crate::error::{ErrorClass, Rejection, Remedy};
use crate::event::to_json_text;
use crate::pb::{
    build_event::Payload, BuildEvent, BuildRequestEvent, BuildRequestStatus as B, JobRunEvent, JobRunStatus as J,
    PartitionEvent, PartitionStatus as P,
};
use crate::state::{BuildRequest, JobRun, Partition, State};
use crate::status::{join_short, Status};

/// Partition statuses in which the owning build is producing the partition.
pub const PARTITION_STATUSES: [P; 3] = [P::PartitionRequested, P::PartitionAnalyzed, P::PartitionBuilding];
/// Job run statuses that are not ended (the non-terminal states of the job run diagram).
pub const JOB_RUN_STATUSES: [J; 2] = [J::JobRunScheduled, J::JobRunRunning];

/// How many partitions and how many job runs a refusal's DETAIL names (it gives the totals).
pub const LISTED: usize = 5;
/// Most events the HINT's batch ends. With more work in progress, it ends the first ones
/// (without the build's own event) and the next attempt's refusal shows the rest.
pub const MAX_HINT_EVENTS: usize = 100;

/// What one build has in progress, in key order.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WorkInProgress<'a> {
    pub partitions: Vec<&'a Partition>,
    pub job_runs: Vec<&'a JobRun>,
}

impl State {
    /// The work `build` has in progress among the entities of this state. A scan: the
    /// append path holds only what the events touch (for a build's ending event the store
    /// loads its work in progress, see `TouchedKeys::add_in_progress`), and replaying a
    /// log does not check this rule (see `rules::prepare_stored`).
    pub fn work_in_progress(&self, build: &str) -> WorkInProgress<'_> {
        WorkInProgress {
            partitions: self
                .partitions
                .values()
                .filter(|p| p.build_request_id == build && PARTITION_STATUSES.contains(&p.status))
                .collect(),
            job_runs: self
                .job_runs
                .values()
                .filter(|r| r.build_request_id == build && JOB_RUN_STATUSES.contains(&r.status))
                .collect(),
        }
    }
}

impl WorkInProgress<'_> {
    pub fn is_empty(&self) -> bool {
        self.partitions.is_empty() && self.job_runs.is_empty()
    }

    /// "owns 2 partitions in progress (REQUESTED, ANALYZED or BUILDING) and has 1 job run ..."
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        if !self.partitions.is_empty() {
            parts.push(format!(
                "owns {} in progress ({})",
                plural(self.partitions.len(), "partition"),
                or_list(&PARTITION_STATUSES)
            ));
        }
        if !self.job_runs.is_empty() {
            parts.push(format!(
                "has {} in progress ({})",
                plural(self.job_runs.len(), "job run"),
                or_list(&JOB_RUN_STATUSES)
            ));
        }
        parts.join(" and ")
    }

    /// The first few of each, by name and status.
    fn detail(&self) -> String {
        let mut parts = Vec::new();
        if !self.partitions.is_empty() {
            let named = self.partitions.iter().map(|p| match (&p.job_run_id, p.status) {
                (Some(run), P::PartitionBuilding) => format!("{} (BUILDING, job run {run})", p.partition_ref),
                _ => format!("{} ({})", p.partition_ref, p.status.short_name()),
            });
            parts.push(format!("partitions in progress: {}", first_few(named, self.partitions.len())));
        }
        if !self.job_runs.is_empty() {
            let named = self.job_runs.iter().map(|r| format!("{} ({})", r.job_run_id, r.status.short_name()));
            parts.push(format!("job runs in progress: {}", first_few(named, self.job_runs.len())));
        }
        parts.join("; ")
    }
}

/// Refuses `sent` ending build `build_id` as FAILED or CANCELLED while `work` is in progress.
pub(crate) fn ending_refusal(build_id: &str, sent: &BuildEvent, to: B, work: &WorkInProgress<'_>) -> Rejection {
    Rejection::new(
        ErrorClass::RuleViolation,
        format!("build request {build_id:?} cannot become {} while it {}", to.short_name(), work.summary()),
    )
    .detail(format!(
        "{}; only the owning build moves these partitions on, so ended now it would leave them stranded",
        work.detail()
    ))
    .remedy(ending_remedy(build_id, sent, to, work))
}

/// Refuses COMPLETED while `work` is in progress.
pub(crate) fn completion_refusal(build_id: &str, work: &WorkInProgress<'_>) -> Rejection {
    Rejection::new(
        ErrorClass::RuleViolation,
        format!("build request {build_id:?} cannot complete while it {}", work.summary()),
    )
    .detail(work.detail())
    .hint(
        "append the outcome of each first (a RUNNING job run: COMPLETED, FAILED or CANCELLED; a SCHEDULED one: \
             SKIPPED or CANCELLED; a partition: AVAILABLE or FAILED), then COMPLETED",
    )
}

/// The events that fail the partitions (first, while their job runs still run) and cancel
/// the job runs, then `sent`; see [`MAX_HINT_EVENTS`].
fn ending_remedy(build_id: &str, sent: &BuildEvent, to: B, work: &WorkInProgress<'_>) -> Remedy {
    let why = format!("build request {build_id} ends {}", to.short_name());
    let failing = work.partitions.iter().map(|p| {
        // Named when the log can check it (FAILED from BUILDING only needs a targeting run).
        let producing = p.job_run_id.as_ref().filter(|run| {
            p.status == P::PartitionBuilding
                && work.job_runs.iter().any(|r| &r.job_run_id == *run && r.target_partitions.contains(&p.partition_ref))
        });
        envelope(
            build_id,
            Payload::Partition(PartitionEvent {
                partition_ref: p.partition_ref.clone(),
                status: P::PartitionFailed as i32,
                job_run_id: producing.cloned().unwrap_or_default(),
                message: why.clone(),
            }),
        )
    });
    let cancelling = work.job_runs.iter().map(|r| {
        envelope(
            build_id,
            Payload::JobRun(JobRunEvent {
                job_run_id: r.job_run_id.clone(),
                status: J::JobRunCancelled as i32,
                message: why.clone(),
                ..Default::default()
            }),
        )
    });
    let total = work.partitions.len() + work.job_runs.len();
    let before = failing.chain(cancelling).take(MAX_HINT_EVENTS).collect();
    if total <= MAX_HINT_EVENTS {
        let mut own = sent.clone();
        own.idx = 0;
        // The log sets the timestamp of the new attempt.
        own.timestamp = None;
        Remedy {
            before,
            then: Some(to_json_text(&own)),
            call_lead: "end them first, then the build, in one call:".to_owned(),
            insert_lead: "end them first: insert these events into the batch".to_owned(),
        }
    } else {
        let rest = "appending the build's event again lists the rest";
        Remedy {
            before,
            then: None,
            call_lead: format!("end them first; this call ends the first {MAX_HINT_EVENTS} of {total}, and {rest}:"),
            insert_lead: format!(
                "end them first: insert these events into the batch (the first {MAX_HINT_EVENTS} of {total}; {rest})"
            ),
        }
    }
}

fn envelope(build_id: &str, payload: Payload) -> String {
    to_json_text(&BuildEvent { build_request_id: build_id.to_owned(), payload: Some(payload), ..Default::default() })
}

/// A partition in progress whose owning build has ended (only logs written before the
/// no-dead-ends rule hold any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stranded<'a> {
    pub partition: &'a Partition,
    pub owner: &'a BuildRequest,
}

impl Stranded<'_> {
    /// What is wrong, in words: "owned by ended build request "b1" (FAILED) while BUILDING".
    pub fn problem(&self) -> String {
        format!(
            "owned by ended build request {:?} ({}) while {}: no event can move it on, and other builds can only \
             delegate to that build",
            self.owner.build_request_id,
            self.owner.status.short_name(),
            self.partition.status.short_name()
        )
    }
}

/// Every partition in progress whose owner is terminal, in partition order.
pub fn stranded_partitions(state: &State) -> Vec<Stranded<'_>> {
    state
        .partitions
        .values()
        .filter(|p| PARTITION_STATUSES.contains(&p.status))
        .filter_map(|partition| {
            let owner = state.build_requests.get(&partition.build_request_id)?;
            BUILD_REQUEST.is_terminal(owner.status).then_some(Stranded { partition, owner })
        })
        .collect()
}

/// A build request event from its parts (what `rules::prepare` holds of it).
pub(crate) fn build_request_event(event_id: &str, build_id: &str, b: &BuildRequestEvent) -> BuildEvent {
    BuildEvent {
        event_id: event_id.to_owned(),
        build_request_id: build_id.to_owned(),
        payload: Some(Payload::BuildRequest(b.clone())),
        ..Default::default()
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}

/// "REQUESTED, ANALYZED or BUILDING"
fn or_list<S: Status>(states: &[S]) -> String {
    match states.split_last() {
        Some((last, [])) => last.short_name().to_owned(),
        Some((last, rest)) => format!("{} or {}", join_short(rest), last.short_name()),
        None => String::new(),
    }
}

/// The first [`LISTED`] of `total` names, then "and N more".
fn first_few(names: impl Iterator<Item = String>, total: usize) -> String {
    let shown: Vec<String> = names.take(LISTED).collect();
    match total.saturating_sub(shown.len()) {
        0 => shown.join(", "),
        more => format!("{} and {more} more", shown.join(", ")),
    }
}
