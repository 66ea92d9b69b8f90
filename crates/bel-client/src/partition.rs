//! Waiting for a partition to become AVAILABLE: the downstream-graph use of the log, over
//! any transport.
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bel_core::pb::{build_event::Payload, BuildEvent, EventFilter, PartitionStatus};
use bel_core::status::Status;

use crate::error::{Error, Result};
use crate::sql::PartitionStatusRow;
use crate::subscription::{next_page_reconnecting, PageSource, Reconnect};

/// The filter that follows one partition's history: an exact ref, not a glob, because a
/// ref may hold any character and `globset::escape` leaves `\`, which bel's globs read as
/// an escape, unescaped.
pub(crate) fn partition_filter(partition_ref: &str) -> EventFilter {
    EventFilter { partition_refs: vec![partition_ref.to_string()], ..Default::default() }
}

/// Waits until `partition_ref` is AVAILABLE, reading its history with `follower` (which
/// starts at idx 0 with [`partition_filter`]): an index lookup, so cheap. It decides only
/// when the follower has caught up, so an old AVAILABLE that was invalidated since is
/// never mistaken for the current state, and an append still in flight is never missed.
/// Lost connections are retried until `timeout`.
pub(crate) async fn wait_for_partition<S: PageSource>(
    mut follower: S,
    partition_ref: &str,
    timeout: Duration,
) -> Result<PartitionStatusRow> {
    let mut watch = PartitionWatch::new(partition_ref);
    let waiting = async {
        loop {
            let page = next_page_reconnecting(&mut follower, &Reconnect::default(), None).await?;
            page.events.iter().for_each(|event| watch.apply(event));
            if page.caught_up {
                if let Some(row) = watch.verdict()? {
                    return Ok(row);
                }
            }
        }
    };
    let outcome = tokio::time::timeout(timeout, waiting).await;
    match outcome {
        Ok(result) => result,
        Err(_elapsed) => Err(Error::Timeout {
            what: format!(
                "partition {partition_ref:?} to become AVAILABLE (last status: {})",
                watch.status().map_or("none yet", |s| s.short_name())
            ),
            after: timeout,
        }),
    }
}

/// Folds the events of one partition into its latest status change (pure).
#[derive(Debug, Clone)]
pub(crate) struct PartitionWatch {
    partition_ref: String,
    latest: Option<StatusChange>,
}

#[derive(Debug, Clone)]
struct StatusChange {
    status: PartitionStatus,
    idx: i64,
    build_request_id: Option<String>,
    job_run_id: Option<String>,
    message: Option<String>,
    at: Option<SystemTime>,
}

impl PartitionWatch {
    pub(crate) fn new(partition_ref: &str) -> Self {
        PartitionWatch { partition_ref: partition_ref.to_string(), latest: None }
    }

    /// Takes one event in log order; events about other partitions, and events that do
    /// not change the partition's status (job runs, delegations, requests), are ignored.
    pub(crate) fn apply(&mut self, event: &BuildEvent) {
        let (status, job_run_id, message) = match &event.payload {
            Some(Payload::Partition(p)) if p.partition_ref == self.partition_ref => {
                let Ok(status) = PartitionStatus::try_from(p.status) else {
                    return;
                };
                (status, non_empty(&p.job_run_id), non_empty(&p.message))
            }
            Some(Payload::Invalidation(i)) if i.partition_ref == self.partition_ref => {
                (PartitionStatus::PartitionInvalidated, None, non_empty(&i.reason))
            }
            _ => return,
        };
        self.latest = Some(StatusChange {
            status,
            idx: event.idx,
            build_request_id: non_empty(&event.build_request_id),
            job_run_id,
            message,
            at: event.timestamp.as_ref().and_then(|t| timestamp_to_system_time(t.seconds, t.nanos)),
        });
    }

    /// The latest status seen, if any.
    pub(crate) fn status(&self) -> Option<PartitionStatus> {
        self.latest.as_ref().map(|change| change.status)
    }

    /// Once caught up: the row when AVAILABLE, an error when FAILED, `None` to keep waiting.
    pub(crate) fn verdict(&self) -> Result<Option<PartitionStatusRow>> {
        let Some(change) = &self.latest else {
            return Ok(None);
        };
        match change.status {
            PartitionStatus::PartitionAvailable => Ok(Some(PartitionStatusRow {
                partition_ref: self.partition_ref.clone(),
                status: change.status.short_name().to_string(),
                build_request_id: change.build_request_id.clone(),
                job_run_id: change.job_run_id.clone(),
                last_idx: Some(change.idx),
                updated_at: change.at,
            })),
            PartitionStatus::PartitionFailed => Err(Error::PartitionFailed {
                partition_ref: self.partition_ref.clone(),
                idx: change.idx,
                build_request_id: change.build_request_id.clone(),
                job_run_id: change.job_run_id.clone(),
                message: change.message.clone(),
            }),
            _ => Ok(None),
        }
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_string())
}

/// A protobuf Timestamp as a `SystemTime`; `None` when out of range or malformed.
fn timestamp_to_system_time(seconds: i64, nanos: i32) -> Option<SystemTime> {
    let nanos = u32::try_from(nanos).ok().filter(|n| *n < 1_000_000_000)?;
    if seconds >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(seconds.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH
            .checked_sub(Duration::from_secs(seconds.unsigned_abs()))?
            .checked_add(Duration::from_nanos(nanos.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(idx: i64, json: &str) -> BuildEvent {
        let mut event = bel_core::event::from_json(json).unwrap();
        event.idx = idx;
        event
    }

    fn partition(idx: i64, r: &str, status: &str) -> BuildEvent {
        event(
            idx,
            &format!(
                r#"{{"buildRequestId":"b1","partition":{{"partitionRef":"{r}","status":"{status}","jobRunId":"j1","message":"m{idx}"}}}}"#
            ),
        )
    }

    #[test]
    fn available_after_building() {
        let mut watch = PartitionWatch::new("p");
        watch.apply(&partition(1, "p", "PARTITION_REQUESTED"));
        watch.apply(&partition(2, "p", "PARTITION_BUILDING"));
        assert!(watch.verdict().unwrap().is_none());
        watch.apply(&partition(3, "p", "PARTITION_AVAILABLE"));
        let row = watch.verdict().unwrap().unwrap();
        assert_eq!(row.status(), Some(PartitionStatus::PartitionAvailable));
        assert_eq!(
            (row.last_idx, row.build_request_id.as_deref(), row.job_run_id.as_deref()),
            (Some(3), Some("b1"), Some("j1"))
        );
    }

    #[test]
    fn an_invalidated_partition_is_not_available() {
        let mut watch = PartitionWatch::new("p");
        watch.apply(&partition(3, "p", "PARTITION_AVAILABLE"));
        watch.apply(&event(4, r#"{"invalidation":{"partitionRef":"p","reason":"inputs changed"}}"#));
        assert_eq!(watch.status(), Some(PartitionStatus::PartitionInvalidated));
        assert!(watch.verdict().unwrap().is_none());
    }

    #[test]
    fn failure_is_an_error_with_its_context() {
        let mut watch = PartitionWatch::new("p");
        watch.apply(&partition(5, "p", "PARTITION_FAILED"));
        match watch.verdict() {
            Err(Error::PartitionFailed { idx, job_run_id, message, .. }) => {
                assert_eq!((idx, job_run_id.as_deref(), message.as_deref()), (5, Some("j1"), Some("m5")));
            }
            other => panic!("expected PartitionFailed, got {other:?}"),
        }
        // A rebuild after the failure is waited on again.
        watch.apply(&partition(6, "p", "PARTITION_REQUESTED"));
        assert!(watch.verdict().unwrap().is_none());
    }

    #[test]
    fn other_partitions_and_non_status_events_are_ignored() {
        let mut watch = PartitionWatch::new("p");
        watch.apply(&partition(1, "q", "PARTITION_AVAILABLE"));
        watch.apply(&event(
            2,
            r#"{"buildRequestId":"b1","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_RUNNING","targetPartitions":["p"]}}"#,
        ));
        watch.apply(&event(3, r#"{"buildRequestId":"b2","delegation":{"partitionRef":"p"}}"#));
        assert_eq!(watch.status(), None);
        assert!(watch.verdict().unwrap().is_none());
    }

    #[test]
    fn timestamps_convert() {
        assert_eq!(timestamp_to_system_time(0, 0), Some(UNIX_EPOCH));
        assert_eq!(timestamp_to_system_time(1, 5), Some(UNIX_EPOCH + Duration::new(1, 5)));
        assert_eq!(timestamp_to_system_time(-1, 500_000_000), UNIX_EPOCH.checked_sub(Duration::from_millis(500)));
        assert_eq!(timestamp_to_system_time(0, -1), None);
        assert_eq!(timestamp_to_system_time(0, 1_000_000_000), None);
    }
}
