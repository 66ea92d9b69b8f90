//! One colour per status, the same on every page: pills in tables, bars and marks in the
//! timeline, boxes in the state diagrams, rows of the live tail (which gets the map as
//! JSON, so the browser colours exactly like the server).
use bel_core::pb::{BuildRequestStatus, JobRunStatus, PartitionStatus};
use bel_core::status::Status;
use maud::{html, Markup};

/// What a status means to a person looking for trouble.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Done and good: AVAILABLE, COMPLETED.
    Done,
    /// FAILED.
    Failed,
    /// Work in progress: BUILDING, RUNNING, EXECUTING.
    Active,
    /// Planned: ANALYZED, PLANNING, ANALYSIS_COMPLETED.
    Planned,
    /// Waiting to start: REQUESTED, RECEIVED, SCHEDULED.
    Waiting,
    /// Was good, is no longer: INVALIDATED.
    Stale,
    /// Will not happen: CANCELLED, SKIPPED, and anything unknown (NONE).
    Inactive,
}

impl Tone {
    pub fn of(status: &str) -> Tone {
        match status {
            "AVAILABLE" | "COMPLETED" => Tone::Done,
            "FAILED" => Tone::Failed,
            "BUILDING" | "RUNNING" | "EXECUTING" => Tone::Active,
            "ANALYZED" | "PLANNING" | "ANALYSIS_COMPLETED" => Tone::Planned,
            "REQUESTED" | "RECEIVED" | "SCHEDULED" => Tone::Waiting,
            "INVALIDATED" => Tone::Stale,
            _ => Tone::Inactive,
        }
    }

    /// The CSS class (dashboard.css gives each a pill colour and an SVG fill).
    pub fn class(self) -> &'static str {
        match self {
            Tone::Done => "tone-done",
            Tone::Failed => "tone-failed",
            Tone::Active => "tone-active",
            Tone::Planned => "tone-planned",
            Tone::Waiting => "tone-waiting",
            Tone::Stale => "tone-stale",
            Tone::Inactive => "tone-inactive",
        }
    }
}

/// A status as a coloured pill.
pub fn pill(status: &str) -> Markup {
    html! { span class={ "pill " (Tone::of(status).class()) } { (status) } }
}

/// Every status short name and its class, as a JSON object, for the live tail's script.
pub fn classes_json() -> String {
    fn add<S: Status>(map: &mut serde_json::Map<String, serde_json::Value>) {
        for status in S::ALL {
            map.insert(status.short_name().to_owned(), Tone::of(status.short_name()).class().into());
        }
    }
    let mut map = serde_json::Map::new();
    add::<BuildRequestStatus>(&mut map);
    add::<PartitionStatus>(&mut map);
    add::<JobRunStatus>(&mut map);
    serde_json::Value::Object(map).to_string()
}

/// Whether a build request or job run in this status is finished.
pub fn is_final(status: &str) -> bool {
    matches!(status, "COMPLETED" | "FAILED" | "CANCELLED" | "SKIPPED")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_meaningful_tone() {
        let classes: serde_json::Value = serde_json::from_str(&classes_json()).unwrap();
        let classes = classes.as_object().unwrap();
        // Only CANCELLED and SKIPPED are meant to be "inactive": a new status falling
        // through to it would be shown as if nothing happened.
        for (status, class) in classes {
            if class == "tone-inactive" {
                assert!(matches!(status.as_str(), "CANCELLED" | "SKIPPED"), "{status} has no tone of its own");
            }
        }
        assert_eq!(classes["AVAILABLE"], classes["COMPLETED"]);
        assert_eq!(classes["FAILED"], "tone-failed");
        assert_eq!(pill("FAILED").into_string(), r#"<span class="pill tone-failed">FAILED</span>"#);
    }
}
