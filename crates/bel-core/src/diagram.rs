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
}

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

    pub fn rows(&self) -> impl Iterator<Item = TransitionRow> + '_ {
        self.edges.iter().map(|&(from, to)| TransitionRow {
            entity: self.entity,
            from_state: from.map(Status::short_name),
            to_state: to.short_name(),
        })
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
/// the creating transition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransitionRow {
    pub entity: &'static str,
    pub from_state: Option<&'static str>,
    pub to_state: &'static str,
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
         `select * from bel.transitions()`.\n",
    );
    let sections = [
        ("Build request", "key `build_request_id`", BUILD_REQUEST.mermaid()),
        ("Job run", "key `job_run_id`; belongs to one build request", JOB_RUN.mermaid()),
        (
            "Partition",
            "key `partition_ref`, global across builds; one owning build at a time; \
             `AVAILABLE --> INVALIDATED` only through an invalidation event",
            PARTITION.mermaid(),
        ),
    ];
    for (title, note, mermaid) in sections {
        out.push_str(&format!("\n## {title}\n\n{note}.\n\n```mermaid\n{mermaid}```\n"));
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
        assert!(rows.contains(&TransitionRow { entity: "partition", from_state: None, to_state: "REQUESTED" }));
        assert!(rows.contains(&TransitionRow {
            entity: "partition",
            from_state: Some("AVAILABLE"),
            to_state: "INVALIDATED"
        }));
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
