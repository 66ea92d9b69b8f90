//! What an event says, read from its proto3 JSON (bel.v1.BuildEvent), for tables and the
//! timeline. The live tail's script reads the same JSON the same way (assets/tail.js).
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde_json::Value;

use crate::dashboard::format;
use crate::dashboard::tone::pill;

/// What an event is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Build,
    Partition(String),
    JobRun { job_run_id: String, job_label: Option<String> },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Described {
    /// `build request`, `partition`, `job run`, `delegation`, `invalidation`.
    pub kind: &'static str,
    pub subject: Subject,
    /// The new status (short name), when the event sets one.
    pub status: Option<String>,
    /// Message, reason or exit code.
    pub detail: String,
    /// The build a delegation hands the partition to.
    pub delegated_to: Option<String>,
    /// The event's timestamp.
    pub at: Option<DateTime<Utc>>,
}

fn text<'a>(object: &'a Value, field: &str) -> &'a str {
    object.get(field).and_then(Value::as_str).unwrap_or("")
}

fn short_status(object: &Value, prefix: &str) -> Option<String> {
    let status = text(object, "status");
    (!status.is_empty()).then(|| status.strip_prefix(prefix).unwrap_or(status).to_owned())
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

pub fn describe(event: &Value) -> Described {
    let at = event.get("timestamp").and_then(Value::as_str).and_then(format::parse_time);
    let mut described = Described {
        kind: "event",
        subject: Subject::Build,
        status: None,
        detail: String::new(),
        delegated_to: None,
        at,
    };
    if let Some(build) = event.get("buildRequest") {
        described.kind = "build request";
        described.status = short_status(build, "BUILD_REQUEST_");
        described.detail = text(build, "message").to_owned();
    } else if let Some(partition) = event.get("partition") {
        described.kind = "partition";
        described.subject = Subject::Partition(text(partition, "partitionRef").to_owned());
        described.status = short_status(partition, "PARTITION_");
        described.detail = text(partition, "message").to_owned();
    } else if let Some(run) = event.get("jobRun") {
        described.kind = "job run";
        described.subject = Subject::JobRun {
            job_run_id: text(run, "jobRunId").to_owned(),
            job_label: non_empty(text(run, "jobLabel")),
        };
        described.status = short_status(run, "JOB_RUN_");
        let message = text(run, "message");
        described.detail = match run.get("exitCode").and_then(Value::as_i64) {
            Some(code) if message.is_empty() => format!("exit code {code}"),
            Some(code) => format!("exit code {code}: {message}"),
            None => message.to_owned(),
        };
    } else if let Some(delegation) = event.get("delegation") {
        described.kind = "delegation";
        described.subject = Subject::Partition(text(delegation, "partitionRef").to_owned());
        described.detail = text(delegation, "message").to_owned();
        described.delegated_to = non_empty(text(delegation, "delegatedToBuildRequestId"));
    } else if let Some(invalidation) = event.get("invalidation") {
        described.kind = "invalidation";
        described.subject = Subject::Partition(text(invalidation, "partitionRef").to_owned());
        described.status = Some("INVALIDATED".to_owned());
        described.detail = text(invalidation, "reason").to_owned();
    }
    described
}

/// The subject cell: a link to the partition or to the job run's row on `build`'s page.
pub fn subject_cell(subject: &Subject, build_request_id: &str) -> Markup {
    match subject {
        Subject::Build => html! { span.muted { "the build" } },
        Subject::Partition(partition_ref) => html! {
            a.mono href=(format::partition_url(partition_ref)) { (partition_ref) }
        },
        Subject::JobRun { job_run_id, job_label } => html! {
            a.mono href=(format::job_run_url(build_request_id, job_run_id)) { (job_run_id) }
            @if let Some(label) = job_label { " " span.muted { (label) } }
        },
    }
}

/// The status cell: a pill, or a dash.
pub fn status_cell(status: Option<&str>) -> Markup {
    match status {
        Some(status) => pill(status),
        None => html! { span.muted { "—" } },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn every_payload_is_described() {
        let partition = describe(&json!({
            "timestamp": "2026-11-01T02:00:00Z", "buildRequestId": "b1",
            "partition": {"partitionRef": "data/a", "status": "PARTITION_AVAILABLE", "jobRunId": "j1"}
        }));
        assert_eq!((partition.kind, partition.status.as_deref()), ("partition", Some("AVAILABLE")));
        assert_eq!(partition.subject, Subject::Partition("data/a".into()));
        assert_eq!(partition.at, format::parse_time("2026-11-01T02:00:00Z"));

        let run = describe(&json!({"jobRun": {"jobRunId": "j1", "status": "JOB_RUN_FAILED", "exitCode": 3,
                                                "message": "out of memory"}}));
        assert_eq!(run.detail, "exit code 3: out of memory");
        assert_eq!(run.subject, Subject::JobRun { job_run_id: "j1".into(), job_label: None });

        let delegation = describe(&json!({"delegation": {"partitionRef": "p", "delegatedToBuildRequestId": "b0"}}));
        assert_eq!((delegation.kind, delegation.delegated_to.as_deref()), ("delegation", Some("b0")));
        let invalidation = describe(&json!({"invalidation": {"partitionRef": "p", "reason": "late data"}}));
        assert_eq!((invalidation.status.as_deref(), invalidation.detail.as_str()), (Some("INVALIDATED"), "late data"));
        let build = describe(&json!({"buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}}));
        assert_eq!((build.kind, build.status.as_deref()), ("build request", Some("ANALYSIS_COMPLETED")));
    }

    #[test]
    fn cells_escape_what_they_show() {
        let cell = subject_cell(&Subject::Partition("<b>x</b>".into()), "b").into_string();
        assert!(cell.contains("&lt;b&gt;x&lt;/b&gt;") && !cell.contains("<b>"), "{cell}");
    }
}
