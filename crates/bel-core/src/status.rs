//! Short names of the status enums (`AVAILABLE` for `PARTITION_AVAILABLE`), as shown by
//! `bel.partition_status` and `bel.transitions()`.
use crate::pb::{BuildRequestStatus, JobRunStatus, PartitionStatus};

/// A status enum of one entity kind.
pub trait Status: Copy + Eq + Ord + std::fmt::Debug + 'static {
    /// Prefix of the proto enum value names, e.g. `PARTITION_`.
    const PREFIX: &'static str;
    /// Every status except `*_UNSPECIFIED`.
    const ALL: &'static [Self];
    fn proto_name(self) -> &'static str;

    fn short_name(self) -> &'static str {
        let name = self.proto_name();
        name.strip_prefix(Self::PREFIX).unwrap_or(name)
    }
    fn from_short_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|s| s.short_name() == name)
    }
}

impl Status for BuildRequestStatus {
    const PREFIX: &'static str = "BUILD_REQUEST_";
    const ALL: &'static [Self] = &[
        BuildRequestStatus::BuildRequestReceived,
        BuildRequestStatus::BuildRequestPlanning,
        BuildRequestStatus::BuildRequestAnalysisCompleted,
        BuildRequestStatus::BuildRequestExecuting,
        BuildRequestStatus::BuildRequestCompleted,
        BuildRequestStatus::BuildRequestFailed,
        BuildRequestStatus::BuildRequestCancelled,
    ];
    fn proto_name(self) -> &'static str {
        self.as_str_name()
    }
}

impl Status for PartitionStatus {
    const PREFIX: &'static str = "PARTITION_";
    const ALL: &'static [Self] = &[
        PartitionStatus::PartitionRequested,
        PartitionStatus::PartitionAnalyzed,
        PartitionStatus::PartitionBuilding,
        PartitionStatus::PartitionAvailable,
        PartitionStatus::PartitionFailed,
        PartitionStatus::PartitionInvalidated,
    ];
    fn proto_name(self) -> &'static str {
        self.as_str_name()
    }
}

impl Status for JobRunStatus {
    const PREFIX: &'static str = "JOB_RUN_";
    const ALL: &'static [Self] = &[
        JobRunStatus::JobRunScheduled,
        JobRunStatus::JobRunRunning,
        JobRunStatus::JobRunCompleted,
        JobRunStatus::JobRunFailed,
        JobRunStatus::JobRunCancelled,
        JobRunStatus::JobRunSkipped,
    ];
    fn proto_name(self) -> &'static str {
        self.as_str_name()
    }
}

/// Short names joined for messages: `AVAILABLE, FAILED`.
pub fn join_short<S: Status>(states: &[S]) -> String {
    states.iter().map(|s| s.short_name()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_round_trip() {
        fn check<S: Status>() {
            for s in S::ALL {
                assert!(!s.short_name().contains(S::PREFIX));
                assert_eq!(S::from_short_name(s.short_name()), Some(*s));
            }
        }
        check::<BuildRequestStatus>();
        check::<PartitionStatus>();
        check::<JobRunStatus>();
        assert_eq!(PartitionStatus::PartitionAvailable.short_name(), "AVAILABLE");
        assert_eq!(BuildRequestStatus::BuildRequestAnalysisCompleted.short_name(), "ANALYSIS_COMPLETED");
    }
}
