//! Reading events to append from JSON text.
use bel_client::BuildEvent;
use bel_core::{event, ErrorClass, Rejection};
use serde_json::Value;

/// One unit of appending: a single event, or a batch appended all or nothing.
#[derive(Debug, Clone, PartialEq)]
pub enum Appendable {
    /// A JSON object: one event, sent with `bel_append`.
    Single(BuildEvent),
    /// A JSON array: events sent together with `bel_append_batch`.
    Batch(Vec<BuildEvent>),
}

/// Parses whitespace-separated JSON values (a single object, an array, or JSON lines)
/// into events, decoding every one before anything is appended.
pub fn parse_appendables(text: &str) -> Result<Vec<Appendable>, Rejection> {
    let mut units = Vec::new();
    for (position, value) in serde_json::Deserializer::from_str(text).into_iter::<Value>().enumerate() {
        let value = value.map_err(|e| {
            Rejection::new(ErrorClass::Malformed, format!("input is not valid JSON: {e}"))
                .hint("give one event object, an array of events, or one event per line")
        })?;
        let unit = match value {
            Value::Array(items) => Appendable::Batch(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, item)| event::from_json_value(item).map_err(|e| e.in_batch(i)))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(_) => Appendable::Single(
                event::from_json_value(value).map_err(|e| prefix(e, &format!("JSON value {position}")))?,
            ),
            other => {
                return Err(Rejection::new(
                    ErrorClass::Malformed,
                    format!("JSON value {position} is {}, not an event object or an array of events", kind(&other)),
                ))
            }
        };
        units.push(unit);
    }
    if units.is_empty() {
        return Err(Rejection::new(ErrorClass::InvalidValue, "no events given")
            .hint("pass the event as JSON, or \"-\" and the events on standard input"));
    }
    Ok(units)
}

fn prefix(mut rejection: Rejection, position: &str) -> Rejection {
    rejection.message = format!("{position}: {}", rejection.message);
    rejection
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const EVENT: &str = r#"{"eventId":"b1-p7-building","buildRequestId":"b1","partition":{"partitionRef":"data/users/2026-11-01","status":"PARTITION_BUILDING","jobRunId":"j-42"}}"#;

    #[test]
    fn one_event() {
        let units = parse_appendables(EVENT).unwrap();
        match units.as_slice() {
            [Appendable::Single(event)] => assert_eq!(event.build_request_id, "b1"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn arrays_are_batches_and_lines_are_singles() {
        let text = format!("[{EVENT},{EVENT}]\n{EVENT}\n  {EVENT}\n");
        let units = parse_appendables(&text).unwrap();
        assert!(matches!(&units[0], Appendable::Batch(events) if events.len() == 2));
        assert!(matches!(units[1], Appendable::Single(_)));
        assert_eq!(units.len(), 3);
    }

    #[test]
    fn errors_say_where() {
        let err = parse_appendables(&format!(r#"[{EVENT},{{"bogus":1}}]"#)).unwrap_err();
        assert_eq!(err.class, ErrorClass::Malformed);
        assert!(err.message.starts_with("event 1 of the batch"), "{}", err.message);
        let err = parse_appendables(&format!("{EVENT} 42")).unwrap_err();
        assert!(err.message.contains("JSON value 1 is a number"), "{}", err.message);
        let err = parse_appendables(r#"{"partition":{"status":"PARTITION_NOPE"}}"#).unwrap_err();
        assert!(err.message.starts_with("JSON value 0: malformed BuildEvent JSON"), "{}", err.message);
        assert!(err.hint.is_some());
        assert_eq!(parse_appendables(" \n").unwrap_err().class, ErrorClass::InvalidValue);
        assert_eq!(parse_appendables("{").unwrap_err().class, ErrorClass::Malformed);
    }
}
