//! The state diagrams of the spec, as data: one edge table per entity. `bel_append`
//! validates with them, `bel.transitions()` lists them and `docs/state-diagrams.md` is
//! generated from them (`cargo run -p bel-core --example gen_diagrams`).
use crate::pb::{BuildRequestStatus as B, JobRunStatus as J, PartitionStatus as P};
use crate::status::Status;

/// The edges of one entity's diagram. `None` as the source is "(none)": the entity
/// does not exist yet.
pub struct Diagram<S: 'static> {
    pub entity: &'static str,
    pub edges: &'static [(Option<S>, S)],
    /// What an edge needs besides the entity's own state, where it needs more (checked by
    /// `rules::prepare`; shown by `bel.transitions()` and the docs).
    pub conditions: &'static [Condition<S>],
}

/// The condition of one edge, in words.
pub struct Condition<S: 'static> {
    pub from: Option<S>,
    pub to: S,
    pub text: &'static str,
}

const fn when<S>(from: Option<S>, to: S, text: &'static str) -> Condition<S> {
    Condition { from, to, text }
}

/// A build ending FAILED or CANCELLED (see `in_progress`).
const NOTHING_IN_PROGRESS: &str = "the build owns no partition in REQUESTED, ANALYZED or BUILDING and has no job run \
     SCHEDULED or RUNNING (the refusal's HINT is the batch that ends them first)";

pub static BUILD_REQUEST: Diagram<B> = Diagram {
    entity: "build_request",
    edges: &[
        (None, B::BuildRequestReceived),
        (Some(B::BuildRequestReceived), B::BuildRequestPlanning),
        (Some(B::BuildRequestReceived), B::BuildRequestFailed),
        (Some(B::BuildRequestReceived), B::BuildRequestCancelled),
        (Some(B::BuildRequestPlanning), B::BuildRequestAnalysisCompleted),
        (Some(B::BuildRequestPlanning), B::BuildRequestFailed),
        (Some(B::BuildRequestPlanning), B::BuildRequestCancelled),
        (Some(B::BuildRequestAnalysisCompleted), B::BuildRequestExecuting),
        (Some(B::BuildRequestAnalysisCompleted), B::BuildRequestFailed),
        (Some(B::BuildRequestAnalysisCompleted), B::BuildRequestCancelled),
        (Some(B::BuildRequestExecuting), B::BuildRequestCompleted),
        (Some(B::BuildRequestExecuting), B::BuildRequestFailed),
        (Some(B::BuildRequestExecuting), B::BuildRequestCancelled),
    ],
    conditions: &[
        when(None, B::BuildRequestReceived, "names at least one requested partition"),
        when(Some(B::BuildRequestReceived), B::BuildRequestFailed, NOTHING_IN_PROGRESS),
        when(Some(B::BuildRequestReceived), B::BuildRequestCancelled, NOTHING_IN_PROGRESS),
        when(Some(B::BuildRequestPlanning), B::BuildRequestFailed, NOTHING_IN_PROGRESS),
        when(Some(B::BuildRequestPlanning), B::BuildRequestCancelled, NOTHING_IN_PROGRESS),
        when(Some(B::BuildRequestAnalysisCompleted), B::BuildRequestFailed, NOTHING_IN_PROGRESS),
        when(Some(B::BuildRequestAnalysisCompleted), B::BuildRequestCancelled, NOTHING_IN_PROGRESS),
        when(
            Some(B::BuildRequestExecuting),
            B::BuildRequestCompleted,
            "every requested partition is AVAILABLE; the build owns no partition in REQUESTED, ANALYZED or \
             BUILDING and has no job run SCHEDULED or RUNNING",
        ),
        when(Some(B::BuildRequestExecuting), B::BuildRequestFailed, NOTHING_IN_PROGRESS),
        when(Some(B::BuildRequestExecuting), B::BuildRequestCancelled, NOTHING_IN_PROGRESS),
    ],
};

pub static JOB_RUN: Diagram<J> = Diagram {
    entity: "job_run",
    edges: &[
        (None, J::JobRunScheduled),
        (Some(J::JobRunScheduled), J::JobRunRunning),
        (Some(J::JobRunScheduled), J::JobRunSkipped),
        (Some(J::JobRunScheduled), J::JobRunCancelled),
        (Some(J::JobRunRunning), J::JobRunCompleted),
        (Some(J::JobRunRunning), J::JobRunFailed),
        (Some(J::JobRunRunning), J::JobRunCancelled),
    ],
    conditions: &[when(
        None,
        J::JobRunScheduled,
        "its build request is ANALYSIS_COMPLETED or EXECUTING; names a job label and target partitions",
    )],
};

pub static PARTITION: Diagram<P> = Diagram {
    entity: "partition",
    edges: &[
        (None, P::PartitionRequested),
        (Some(P::PartitionFailed), P::PartitionRequested),
        (Some(P::PartitionInvalidated), P::PartitionRequested),
        (Some(P::PartitionRequested), P::PartitionAnalyzed),
        (Some(P::PartitionRequested), P::PartitionFailed),
        (Some(P::PartitionAnalyzed), P::PartitionBuilding),
        (Some(P::PartitionAnalyzed), P::PartitionFailed),
        (Some(P::PartitionBuilding), P::PartitionAvailable),
        (Some(P::PartitionBuilding), P::PartitionFailed),
        // Only through a PartitionInvalidationEvent (see rules).
        (Some(P::PartitionAvailable), P::PartitionInvalidated),
    ],
    conditions: &[
        when(None, P::PartitionRequested, "the requesting build becomes the owner"),
        when(Some(P::PartitionFailed), P::PartitionRequested, "the requesting build becomes the owner"),
        when(Some(P::PartitionInvalidated), P::PartitionRequested, "the requesting build becomes the owner"),
        when(
            Some(P::PartitionAnalyzed),
            P::PartitionBuilding,
            "names a job run of the owning build that is SCHEDULED or RUNNING and targets the partition",
        ),
        when(
            Some(P::PartitionBuilding),
            P::PartitionAvailable,
            "names a job run that is RUNNING and targets the partition",
        ),
        when(
            Some(P::PartitionBuilding),
            P::PartitionFailed,
            "a job run it names exists and targets the partition (it may name none)",
        ),
        when(Some(P::PartitionAvailable), P::PartitionInvalidated, "only through an invalidation event"),
    ],
};

impl<S: Status> Diagram<S> {
    pub fn allows(&self, from: Option<S>, to: S) -> bool {
        self.edges.iter().any(|&(f, t)| f == from && t == to)
    }

    /// The states reachable in one step from `from`, in table order.
    pub fn next_states(&self, from: Option<S>) -> Vec<S> {
        self.edges.iter().filter(|(f, _)| *f == from).map(|&(_, t)| t).collect()
    }

    /// A state with no way out.
    pub fn is_terminal(&self, state: S) -> bool {
        !self.edges.iter().any(|(f, _)| *f == Some(state))
    }

    /// The condition of edge `from -> to`, if it has one.
    pub fn condition(&self, from: Option<S>, to: S) -> Option<&'static str> {
        self.conditions.iter().find(|c| c.from == from && c.to == to).map(|c| c.text)
    }

    pub fn rows(&self) -> impl Iterator<Item = TransitionRow> + '_ {
        self.edges.iter().map(|&(from, to)| TransitionRow {
            entity: self.entity,
            from_state: from.map(Status::short_name),
            to_state: to.short_name(),
            condition: self.condition(from, to),
        })
    }

    /// The conditions as a markdown table (edge, condition), in edge order.
    fn conditions_markdown(&self) -> String {
        let mut out = String::from("| transition | condition |\n|---|---|\n");
        for &(from, to) in self.edges {
            if let Some(text) = self.condition(from, to) {
                let from = from.map(Status::short_name).unwrap_or("(none)");
                out.push_str(&format!("| {from} → {} | {text} |\n", to.short_name()));
            }
        }
        out
    }

    /// The diagram in mermaid `stateDiagram-v2` syntax.
    pub fn mermaid(&self) -> String {
        let mut out = String::from("stateDiagram-v2\n");
        for &(from, to) in self.edges {
            let from = from.map(Status::short_name).unwrap_or("[*]");
            out.push_str(&format!("    {from} --> {}\n", to.short_name()));
        }
        for &state in S::ALL {
            if self.is_terminal(state) {
                out.push_str(&format!("    {} --> [*]\n", state.short_name()));
            }
        }
        out
    }
}

/// One edge, as `bel.transitions()` returns it. `from_state` is `None` (SQL NULL) for
/// the creating transition; `condition` is `None` for an edge that needs nothing more.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRow {
    pub entity: &'static str,
    pub from_state: Option<&'static str>,
    pub to_state: &'static str,
    pub condition: Option<&'static str>,
}

/// Every edge of every diagram: build requests, job runs, partitions.
pub fn all_transitions() -> Vec<TransitionRow> {
    BUILD_REQUEST.rows().chain(JOB_RUN.rows()).chain(PARTITION.rows()).collect()
}

/// The markdown page `docs/state-diagrams.md`, generated from the tables above.
pub fn diagrams_markdown() -> String {
    let mut out = String::from(
        "# State diagrams\n\n<!-- Generated from crates/bel-core/src/diagram.rs by \
         `cargo run -p bel-core --example gen_diagrams`; do not edit by hand. -->\n\n\
         `bel_append` refuses any event that is not an edge of these diagrams \
         (SQLSTATE 55000). `[*]` on the left is \"(none)\": the entity does not exist yet; \
         on the right it marks a terminal state. The same edges are returned by \
         `select * from bel.transitions()`, with their conditions in its `condition` column.\n\n\
         Every event but an invalidation names a build request that exists and is not terminal, \
         and partition events come from the partition's owning build. An edge with a condition \
         below is taken only when the condition holds; otherwise the event is refused with \
         23514 (a cross-entity rule), 23503 (a job run it names does not exist) or 22023 (a \
         field it needs is missing): see the error table in docs/sql-api.md.\n\n\
         No dead ends: a partition in REQUESTED, ANALYZED or BUILDING can only be moved on by \
         its owning build, so a build may not end while it owns one (nor while a job run of \
         its own is SCHEDULED or RUNNING). The refusal lists them and its HINT is one \
         `bel_append_batch` call that fails the partitions, cancels the job runs and then \
         appends the build's own event. Logs written before this rule may hold partitions \
         already stranded under an ended build: `bel.verify()` reports each of them.\n",
    );
    let sections = [
        ("Build request", "key `build_request_id`", BUILD_REQUEST.mermaid(), BUILD_REQUEST.conditions_markdown()),
        ("Job run", "key `job_run_id`; belongs to one build request", JOB_RUN.mermaid(), JOB_RUN.conditions_markdown()),
        (
            "Partition",
            "key `partition_ref`, global across builds; one owning build at a time; \
             `AVAILABLE --> INVALIDATED` only through an invalidation event",
            PARTITION.mermaid(),
            PARTITION.conditions_markdown(),
        ),
    ];
    for (title, note, mermaid, conditions) in sections {
        out.push_str(&format!("\n## {title}\n\n{note}.\n\n```mermaid\n{mermaid}```\n\n{conditions}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_match_the_spec() {
        let terminal = |d: &Diagram<B>| -> Vec<&str> {
            B::ALL.iter().filter(|s| d.is_terminal(**s)).map(|s| s.short_name()).collect()
        };
        assert_eq!(terminal(&BUILD_REQUEST), vec!["COMPLETED", "FAILED", "CANCELLED"]);
        let jr: Vec<&str> = J::ALL.iter().filter(|s| JOB_RUN.is_terminal(**s)).map(|s| s.short_name()).collect();
        assert_eq!(jr, vec!["COMPLETED", "FAILED", "CANCELLED", "SKIPPED"]);
        // A partition always has a way forward (FAILED and INVALIDATED can be requested again).
        assert!(P::ALL.iter().all(|s| !PARTITION.is_terminal(*s)));
    }

    #[test]
    fn next_states_of_building_partition() {
        assert_eq!(PARTITION.next_states(Some(P::PartitionBuilding)), vec![P::PartitionAvailable, P::PartitionFailed]);
        assert_eq!(PARTITION.next_states(None), vec![P::PartitionRequested]);
    }

    #[test]
    fn rows_cover_every_edge() {
        let rows = all_transitions();
        assert_eq!(rows.len(), BUILD_REQUEST.edges.len() + JOB_RUN.edges.len() + PARTITION.edges.len());
        assert!(rows.contains(&TransitionRow {
            entity: "partition",
            from_state: None,
            to_state: "REQUESTED",
            condition: Some("the requesting build becomes the owner"),
        }));
        assert!(rows.contains(&TransitionRow {
            entity: "partition",
            from_state: Some("AVAILABLE"),
            to_state: "INVALIDATED",
            condition: Some("only through an invalidation event"),
        }));
        assert!(rows.contains(&TransitionRow {
            entity: "job_run",
            from_state: Some("RUNNING"),
            to_state: "COMPLETED",
            condition: None,
        }));
    }

    #[test]
    fn every_condition_belongs_to_an_edge() {
        fn check<S: Status>(d: &Diagram<S>) {
            for c in d.conditions {
                assert!(d.allows(c.from, c.to), "{}: condition on a non-edge {:?} -> {:?}", d.entity, c.from, c.to);
            }
            let edges: Vec<_> = d.conditions.iter().map(|c| (c.from, c.to)).collect();
            let mut distinct = edges.clone();
            distinct.sort();
            distinct.dedup();
            assert_eq!(distinct.len(), edges.len(), "{}: one condition per edge", d.entity);
        }
        check(&BUILD_REQUEST);
        check(&JOB_RUN);
        check(&PARTITION);
        // Every way a build ends has its condition.
        for &(from, to) in BUILD_REQUEST.edges {
            if BUILD_REQUEST.is_terminal(to) {
                assert!(BUILD_REQUEST.condition(from, to).is_some(), "{from:?} -> {to:?}");
            }
        }
        let rows = all_transitions();
        let building = rows.iter().find(|r| r.entity == "partition" && r.to_state == "BUILDING").unwrap();
        assert!(building.condition.unwrap().contains("SCHEDULED or RUNNING"));
    }

    #[test]
    fn docs_are_generated_from_the_tables() {
        let committed = include_str!("../../../docs/state-diagrams.md");
        assert_eq!(
            committed,
            diagrams_markdown(),
            "docs/state-diagrams.md is stale: run `cargo run -p bel-core --example gen_diagrams`"
        );
    }
}
