//! Decoding events (proto3 JSON or binary protobuf), checking their shape before any
//! state is consulted, and the facts about an event that indexes and filters use.
use crate::error::{invalid, ErrorClass, Rejection};
use crate::pb::{build_event::Payload, BuildEvent, BuildRequestStatus, JobRunStatus, PartitionStatus};

/// Largest accepted event, encoded (JSON text or protobuf bytes).
pub const MAX_EVENT_BYTES: usize = 1 << 20;
/// Largest accepted id, partition ref or job label.
pub const MAX_KEY_BYTES: usize = 1024;
/// Most partitions one event may name.
pub const MAX_PARTITIONS_PER_EVENT: usize = 10_000;
/// Longest accepted message or reason.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;

/// The payload kind, as stored in `bel.events.event_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BuildRequest,
    Partition,
    JobRun,
    Delegation,
    Invalidation,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::BuildRequest => "build_request",
            Kind::Partition => "partition",
            Kind::JobRun => "job_run",
            Kind::Delegation => "delegation",
            Kind::Invalidation => "invalidation",
        }
    }
}

/// Decodes one event from proto3 JSON text (both lowerCamelCase and original field names;
/// unknown fields and enum names are refused).
pub fn from_json(text: &str) -> Result<BuildEvent, Rejection> {
    check_size(text.len())?;
    serde_json::from_str(text).map_err(malformed_json)
}

/// Decodes one event from an already parsed JSON value (an element of a batch).
pub fn from_json_value(value: serde_json::Value) -> Result<BuildEvent, Rejection> {
    serde_json::from_value(value).map_err(malformed_json)
}

/// Decodes a batch: `text` is a JSON array of events (as jsonb prints it), at most
/// `max_events` of them. Each element is checked and decoded like one event given as JSON
/// text: its size is that of its text, and it is parsed from that text straight into its
/// protobuf type (no `serde_json::Value` tree). Errors name the element's position.
pub fn batch_from_json(text: &str, max_events: usize) -> Result<Vec<BuildEvent>, Rejection> {
    let items: Vec<&serde_json::value::RawValue> = serde_json::from_str(text)
        .map_err(|_| Rejection::new(ErrorClass::InvalidValue, "bel_append_batch expects a JSON array of events"))?;
    if items.len() > max_events {
        return Err(Rejection::new(
            ErrorClass::TooLarge,
            format!("the batch has {} events; at most {max_events} are accepted", items.len()),
        )
        .hint("split it into several batches"));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let text = item.get();
            check_size(text.len()).and_then(|_| batch_element(text)).map_err(|e| e.in_batch(i))
        })
        .collect()
}

/// One element of a batch. A refused element is decoded again as a value for the message,
/// which then names no line and column (they would count within the element, not the batch).
fn batch_element(text: &str) -> Result<BuildEvent, Rejection> {
    serde_json::from_str(text).or_else(|_| from_json_value(serde_json::from_str(text).map_err(malformed_json)?))
}

/// Decodes one event from binary protobuf.
pub fn from_protobuf(bytes: &[u8]) -> Result<BuildEvent, Rejection> {
    check_size(bytes.len())?;
    prost::Message::decode(bytes).map_err(|e| {
        Rejection::new(ErrorClass::Malformed, format!("malformed protobuf BuildEvent: {e}"))
            .hint("send a bel.v1.BuildEvent encoded with protobuf, or use bel_append(jsonb)")
    })
}

/// The event in canonical proto3 JSON text, as stored in `bel.events.payload`.
pub fn to_json_text(event: &BuildEvent) -> String {
    // Serializing generated types cannot fail: no maps with non-string keys.
    serde_json::to_string(event).unwrap_or_else(|_| "null".to_owned())
}

fn malformed_json(e: serde_json::Error) -> Rejection {
    Rejection::new(ErrorClass::Malformed, format!("malformed BuildEvent JSON: {e}")).hint(
        "events use the proto3 JSON mapping of bel.v1.BuildEvent, e.g. \
         {\"buildRequestId\":\"b1\",\"buildRequest\":{\"status\":\"BUILD_REQUEST_RECEIVED\",\
         \"requestedPartitions\":[\"data/users/2026-11-01\"]}}",
    )
}

pub fn check_size(len: usize) -> Result<(), Rejection> {
    if len > MAX_EVENT_BYTES {
        return Err(Rejection::new(
            ErrorClass::TooLarge,
            format!("event is {len} bytes; the log accepts at most {MAX_EVENT_BYTES}"),
        )
        .hint("keep large data out of the log and reference it from the event"));
    }
    Ok(())
}

pub fn kind(event: &BuildEvent) -> Option<Kind> {
    Some(match event.payload.as_ref()? {
        Payload::BuildRequest(_) => Kind::BuildRequest,
        Payload::Partition(_) => Kind::Partition,
        Payload::JobRun(_) => Kind::JobRun,
        Payload::Delegation(_) => Kind::Delegation,
        Payload::Invalidation(_) => Kind::Invalidation,
    })
}

/// Checks everything about an event that does not depend on state: a payload is set,
/// idx is not, enums are known and not UNSPECIFIED, ids are present and bounded.
pub fn check_shape(event: &BuildEvent) -> Result<(), Rejection> {
    if event.idx != 0 {
        return Err(invalid(format!("idx is assigned by the log, but the event sets it to {}", event.idx))
            .hint("leave idx out; bel_append returns the idx it assigned"));
    }
    check_text("eventId", &event.event_id, false, MAX_KEY_BYTES)?;
    let Some(payload) = &event.payload else {
        return Err(invalid("event has no payload")
            .hint("set exactly one of buildRequest, partition, jobRun, delegation, invalidation"));
    };
    let is_invalidation = matches!(payload, Payload::Invalidation(_));
    check_text("buildRequestId", &event.build_request_id, !is_invalidation, MAX_KEY_BYTES)?;
    match payload {
        Payload::BuildRequest(br) => {
            known_enum::<BuildRequestStatus>("buildRequest.status", br.status, BuildRequestStatus::try_from)?;
            check_refs("buildRequest.requestedPartitions", &br.requested_partitions)?;
            check_text("buildRequest.message", &br.message, false, MAX_MESSAGE_BYTES)?;
        }
        Payload::Partition(p) => {
            check_text("partition.partitionRef", &p.partition_ref, true, MAX_KEY_BYTES)?;
            known_enum::<PartitionStatus>("partition.status", p.status, PartitionStatus::try_from)?;
            check_text("partition.jobRunId", &p.job_run_id, false, MAX_KEY_BYTES)?;
            check_text("partition.message", &p.message, false, MAX_MESSAGE_BYTES)?;
        }
        Payload::JobRun(j) => {
            check_text("jobRun.jobRunId", &j.job_run_id, true, MAX_KEY_BYTES)?;
            check_text("jobRun.jobLabel", &j.job_label, false, MAX_KEY_BYTES)?;
            known_enum::<JobRunStatus>("jobRun.status", j.status, JobRunStatus::try_from)?;
            check_refs("jobRun.targetPartitions", &j.target_partitions)?;
            check_text("jobRun.message", &j.message, false, MAX_MESSAGE_BYTES)?;
        }
        Payload::Delegation(d) => {
            check_text("delegation.partitionRef", &d.partition_ref, true, MAX_KEY_BYTES)?;
            check_text("delegation.delegatedToBuildRequestId", &d.delegated_to_build_request_id, false, MAX_KEY_BYTES)?;
            check_text("delegation.message", &d.message, false, MAX_MESSAGE_BYTES)?;
        }
        Payload::Invalidation(i) => {
            check_text("invalidation.partitionRef", &i.partition_ref, true, MAX_KEY_BYTES)?;
            check_text("invalidation.reason", &i.reason, false, MAX_MESSAGE_BYTES)?;
        }
    }
    Ok(())
}

fn known_enum<E: Copy>(
    field: &str,
    value: i32,
    parse: impl Fn(i32) -> Result<E, prost::UnknownEnumValue>,
) -> Result<(), Rejection> {
    if value == 0 {
        return Err(invalid(format!("{field} is missing or *_UNSPECIFIED"))
            .hint("name the status explicitly, e.g. \"PARTITION_BUILDING\""));
    }
    parse(value)
        .map(|_| ())
        .map_err(|_| Rejection::new(ErrorClass::Malformed, format!("{field} has unknown enum value {value}")))
}

fn check_text(field: &str, value: &str, required: bool, max: usize) -> Result<(), Rejection> {
    if required && value.is_empty() {
        return Err(invalid(format!("{field} is required")));
    }
    if value.len() > max {
        return Err(Rejection::new(
            ErrorClass::TooLarge,
            format!("{field} is {} bytes; at most {max} are accepted", value.len()),
        ));
    }
    if max == MAX_KEY_BYTES && value.chars().any(char::is_control) {
        return Err(invalid(format!("{field} {value:?} contains control characters")));
    }
    Ok(())
}

fn check_refs(field: &str, refs: &[String]) -> Result<(), Rejection> {
    if refs.len() > MAX_PARTITIONS_PER_EVENT {
        return Err(Rejection::new(
            ErrorClass::TooLarge,
            format!("{field} names {} partitions; at most {MAX_PARTITIONS_PER_EVENT} are accepted", refs.len()),
        ));
    }
    let mut seen = std::collections::HashSet::with_capacity(refs.len());
    for r in refs {
        check_text(field, r, true, MAX_KEY_BYTES)?;
        if !seen.insert(r.as_str()) {
            return Err(invalid(format!("{field} names {r:?} twice")));
        }
    }
    Ok(())
}

/// Every partition the event involves: the partition of partition, delegation and
/// invalidation events, the targets of job run events, the requested partitions of
/// build request events. Filters and the partition index use exactly this.
pub fn involved_partitions(event: &BuildEvent) -> Vec<&str> {
    match &event.payload {
        Some(Payload::BuildRequest(b)) => b.requested_partitions.iter().map(String::as_str).collect(),
        Some(Payload::Partition(p)) => vec![p.partition_ref.as_str()],
        Some(Payload::JobRun(j)) => j.target_partitions.iter().map(String::as_str).collect(),
        Some(Payload::Delegation(d)) => vec![d.partition_ref.as_str()],
        Some(Payload::Invalidation(i)) => vec![i.partition_ref.as_str()],
        None => Vec::new(),
    }
}

/// The job run the event names: a job run event's id, or the producing job run of a
/// partition event.
pub fn job_run_id(event: &BuildEvent) -> Option<&str> {
    let id = match &event.payload {
        Some(Payload::JobRun(j)) => &j.job_run_id,
        Some(Payload::Partition(p)) => &p.job_run_id,
        _ => return None,
    };
    (!id.is_empty()).then_some(id.as_str())
}

/// The job label of a job run event (filled in from the job run by the log when omitted).
pub fn job_label(event: &BuildEvent) -> Option<&str> {
    match &event.payload {
        Some(Payload::JobRun(j)) if !j.job_label.is_empty() => Some(&j.job_label),
        _ => None,
    }
}

/// The one partition a partition, delegation or invalidation event is about.
pub fn partition_ref(event: &BuildEvent) -> Option<&str> {
    match &event.payload {
        Some(Payload::Partition(p)) => Some(&p.partition_ref),
        Some(Payload::Delegation(d)) => Some(&d.partition_ref),
        Some(Payload::Invalidation(i)) => Some(&i.partition_ref),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_is_decoded_element_by_element() {
        let received = r#"{"buildRequestId": "b1", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["p"]}}"#;
        let planning = r#"{"buildRequestId": "b1", "buildRequest": {"status": "BUILD_REQUEST_PLANNING"}}"#;
        let events = batch_from_json(&format!("[{received}, {planning}]"), 2).unwrap();
        assert_eq!(events, vec![from_json(received).unwrap(), from_json(planning).unwrap()]);
        assert_eq!(batch_from_json("[]", 2).unwrap(), vec![]);
    }

    #[test]
    fn a_refused_batch_names_the_problem_and_the_position() {
        let not_array = batch_from_json(r#"{"buildRequestId": "b1"}"#, 2).unwrap_err();
        assert_eq!(not_array.message, "bel_append_batch expects a JSON array of events");
        let too_many = batch_from_json("[{}, {}, {}]", 2).unwrap_err();
        assert_eq!(too_many.class, ErrorClass::TooLarge);
        assert_eq!(too_many.message, "the batch has 3 events; at most 2 are accepted");
        let bad = batch_from_json(
            r#"[{"buildRequestId": "b1", "buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": ["p"]}}, {"buildRequestId": "b1", "buildRequest": {"status": "BUILD_REQUEST_PLANING"}}]"#,
            2,
        )
        .unwrap_err();
        assert!(
            bad.message.starts_with(
                "event 1 of the batch: malformed BuildEvent JSON: unknown variant `BUILD_REQUEST_PLANING`"
            ),
            "{}",
            bad.message
        );
        assert!(!bad.message.contains("at line"), "{}", bad.message);
        let big = format!(r#"[{{}}, {{"buildRequestId": "{}"}}]"#, "b".repeat(MAX_EVENT_BYTES));
        let too_big = batch_from_json(&big, 2).unwrap_err();
        assert!(too_big.message.starts_with("event 1 of the batch: event is "), "{}", too_big.message);
    }

    #[test]
    fn parses_camel_case_and_original_names() {
        let a = from_json(
            r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}"#,
        )
        .unwrap();
        let b = from_json(r#"{"build_request_id":"b1","build_request":{"status":"BUILD_REQUEST_RECEIVED","requested_partitions":["p"]}}"#).unwrap();
        assert_eq!(a, b);
        check_shape(&a).unwrap();
        assert_eq!(kind(&a), Some(Kind::BuildRequest));
        assert_eq!(involved_partitions(&a), vec!["p"]);
    }

    #[test]
    fn refuses_unknown_fields_and_enum_names() {
        let e = from_json(r#"{"buildRequestId":"b1","bogus":1}"#).unwrap_err();
        assert_eq!(e.class, ErrorClass::Malformed);
        let e = from_json(r#"{"buildRequestId":"b1","partition":{"partitionRef":"p","status":"PARTITION_SHINY"}}"#)
            .unwrap_err();
        assert_eq!(e.class, ErrorClass::Malformed);
        assert_eq!(from_json("not json").unwrap_err().class, ErrorClass::Malformed);
        assert_eq!(from_json("[]").unwrap_err().class, ErrorClass::Malformed);
    }

    #[test]
    fn shape_errors() {
        let cases = [
            (r#"{"buildRequestId":"b1"}"#, "no payload"),
            (
                r#"{"idx":"5","buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}"#,
                "idx is assigned",
            ),
            (r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_STATUS_UNSPECIFIED"}}"#, "UNSPECIFIED"),
            (r#"{"buildRequestId":"b1","buildRequest":{"requestedPartitions":["p"]}}"#, "UNSPECIFIED"),
            (
                r#"{"buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}"#,
                "buildRequestId is required",
            ),
            (r#"{"buildRequestId":"b1","partition":{"status":"PARTITION_REQUESTED"}}"#, "partitionRef is required"),
            (r#"{"buildRequestId":"b1","jobRun":{"status":"JOB_RUN_SCHEDULED"}}"#, "jobRunId is required"),
            (
                r#"{"buildRequestId":"b1","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p","p"]}}"#,
                "twice",
            ),
            (
                r#"{"buildRequestId":"b\u0001","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}"#,
                "control",
            ),
        ];
        for (json, expect) in cases {
            let event = from_json(json).unwrap();
            let e = check_shape(&event).unwrap_err();
            assert!(e.message.contains(expect), "{json}: {}", e.message);
        }
        let ok = from_json(r#"{"invalidation":{"partitionRef":"p","reason":"upstream fix"}}"#).unwrap();
        check_shape(&ok).unwrap();
    }

    #[test]
    fn size_limits() {
        let big = format!(r#"{{"buildRequestId":"{}"}}"#, "x".repeat(MAX_EVENT_BYTES));
        assert_eq!(from_json(&big).unwrap_err().class, ErrorClass::TooLarge);
        let long_id = from_json(&format!(r#"{{"buildRequestId":"{}","buildRequest":{{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["p"]}}}}"#, "x".repeat(MAX_KEY_BYTES + 1))).unwrap();
        assert_eq!(check_shape(&long_id).unwrap_err().class, ErrorClass::TooLarge);
    }

    #[test]
    fn protobuf_round_trip_and_garbage() {
        let event = from_json(r#"{"eventId":"e","buildRequestId":"b1","partition":{"partitionRef":"p","status":"PARTITION_BUILDING","jobRunId":"j"}}"#).unwrap();
        let bytes = prost::Message::encode_to_vec(&event);
        assert_eq!(from_protobuf(&bytes).unwrap(), event);
        assert_eq!(from_protobuf(&[0xff, 0xff, 0xff]).unwrap_err().class, ErrorClass::Malformed);
        assert_eq!(job_run_id(&event), Some("j"));
        assert_eq!(partition_ref(&event), Some("p"));
        // JSON output is canonical proto3 JSON.
        let json: serde_json::Value = serde_json::from_str(&to_json_text(&event)).unwrap();
        assert_eq!(json["partition"]["status"], "PARTITION_BUILDING");
        assert_eq!(json["buildRequestId"], "b1");
    }
}

/// Sets the event's timestamp to `unix_micros` unless the writer set one.
pub fn set_timestamp_if_absent(event: &mut BuildEvent, unix_micros: i64) {
    if event.timestamp.is_none() {
        event.timestamp = Some(pbjson_types::Timestamp {
            seconds: unix_micros.div_euclid(1_000_000),
            nanos: (unix_micros.rem_euclid(1_000_000) * 1000) as i32,
        });
    }
}

/// Whether `sent` is a retry of the already stored `stored` (same event_id): equal in
/// everything the writer sent. Fields the log fills in (timestamp when absent, a job run's
/// label and targets, a delegation's owner) are taken from `stored` when `sent` left them out.
pub fn is_retry_of(sent: &BuildEvent, stored: &BuildEvent) -> bool {
    let mut sent = sent.clone();
    sent.idx = 0;
    if sent.timestamp.is_none() {
        sent.timestamp = stored.timestamp;
    }
    match (&mut sent.payload, &stored.payload) {
        (Some(Payload::JobRun(s)), Some(Payload::JobRun(t))) => {
            if s.job_label.is_empty() {
                s.job_label = t.job_label.clone();
            }
            if s.target_partitions.is_empty() {
                s.target_partitions = t.target_partitions.clone();
            }
        }
        (Some(Payload::Delegation(s)), Some(Payload::Delegation(t))) if s.delegated_to_build_request_id.is_empty() => {
            s.delegated_to_build_request_id = t.delegated_to_build_request_id.clone();
        }
        _ => {}
    }
    let mut stored = stored.clone();
    stored.idx = 0;
    sent == stored
}

#[cfg(test)]
mod retry_tests {
    use super::*;

    #[test]
    fn retry_matches_with_log_filled_fields() {
        let sent =
            from_json(r#"{"eventId":"e1","buildRequestId":"b","jobRun":{"jobRunId":"j","status":"JOB_RUN_RUNNING"}}"#)
                .unwrap();
        let mut stored = from_json(r#"{"eventId":"e1","buildRequestId":"b","jobRun":{"jobRunId":"j","jobLabel":"etl","status":"JOB_RUN_RUNNING","targetPartitions":["p"]}}"#).unwrap();
        set_timestamp_if_absent(&mut stored, 1_700_000_000_123_456);
        assert!(is_retry_of(&sent, &stored));
        let different =
            from_json(r#"{"eventId":"e1","buildRequestId":"b","jobRun":{"jobRunId":"j","status":"JOB_RUN_FAILED"}}"#)
                .unwrap();
        assert!(!is_retry_of(&different, &stored));
        let ts = stored.timestamp.unwrap();
        assert_eq!((ts.seconds, ts.nanos), (1_700_000_000, 123_456_000));
    }
}
