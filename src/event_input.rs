//! Events given as jsonb, decoded from the binary jsonb itself: the event's Deserialize impl
//! reads it in place (`spi::jsonb_de`), and its size, which the contract measures in the
//! bytes of its JSON text, is computed without printing that text (`spi::jsonb_read`).
//! Printing the argument and parsing the text again cost ~13k instructions per event
//! (callgrind, docs/benchmarks.md). Whatever the binary reading does not accept (a refused
//! event, an event over the size limit, anything unexpected) is decoded again from the
//! printed text by bel-core, which decides and words the outcome, as it did for every
//! event before: errors and their messages do not depend on this path.
use bel_core::event;
use bel_core::pb::BuildEvent;
use bel_core::Rejection;
use serde::Deserialize;

use crate::spi::jsonb_de::Deserializer;
use crate::spi::jsonb_read::{self, Item};
use crate::spi::jsonb_text::JsonbValue;

/// One event (`bel_append(jsonb)`).
pub fn event(value: &JsonbValue) -> Result<BuildEvent, Rejection> {
    match jsonb_read::root(value.bytes()).ok().and_then(decode) {
        Some(e) => Ok(e),
        None => event::from_json(&value.text()),
    }
}

/// A JSON array of at most `max_events` events (`bel_append_batch`).
pub fn batch(value: &JsonbValue, max_events: usize) -> Result<Vec<BuildEvent>, Rejection> {
    match batch_in_place(value, max_events) {
        Some(events) => Ok(events),
        None => event::batch_from_json(&value.text(), max_events),
    }
}

/// The batch's events, if it is an array of at most `max_events` that all decode.
pub(crate) fn batch_in_place(value: &JsonbValue, max_events: usize) -> Option<Vec<BuildEvent>> {
    match jsonb_read::root(value.bytes()) {
        Ok(Item::Array(events)) if events.len() <= max_events => {
            events.items(0).map(|item| item.ok().and_then(decode)).collect()
        }
        _ => None,
    }
}

/// An event as the log stores it (its idx left out), decoded in place; from its text if that
/// fails, which it does not for a payload bel wrote; an empty event if neither decodes.
pub fn stored(payload: &JsonbValue) -> BuildEvent {
    let in_place = jsonb_read::root(payload.bytes()).ok().and_then(deserialize);
    in_place.unwrap_or_else(|| serde_json::from_str(&payload.text()).unwrap_or_default())
}

/// The event `item` holds, if it is within the size limit and decodes.
pub(crate) fn decode(item: Item<'_>) -> Option<BuildEvent> {
    let size = jsonb_read::text_length(item, 0).ok()?;
    event::check_size(size).ok()?;
    deserialize(item)
}

fn deserialize(item: Item<'_>) -> Option<BuildEvent> {
    BuildEvent::deserialize(Deserializer::new(item)).ok()
}
