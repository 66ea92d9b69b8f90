//! One EventPage as the extension returned it, and its two representations: binary
//! `bel.v1.EventPage` (the extension's own bytes) and proto3 JSON. Each is built once per
//! page however many requests share the page, and so is each ETag.
use std::sync::OnceLock;

use axum::body::Bytes;
use axum::http::HeaderMap;
use bel_core::pb::{BuildEvent, EventPage};
use prost::Message;
use sha2::{Digest, Sha256};

use crate::db::DbError;

/// The media type of a binary `bel.v1.EventPage`.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/x-protobuf";

/// How a page is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Representation {
    /// proto3 JSON (the default).
    Json,
    /// Binary protobuf, when the `Accept` header names `application/x-protobuf`.
    Protobuf,
}

impl Representation {
    /// Protobuf when the Accept header names `application/x-protobuf`, else JSON.
    pub fn negotiate(headers: &HeaderMap) -> Self {
        let wants_protobuf = headers.get_all(axum::http::header::ACCEPT).iter().any(|value| {
            value.to_str().is_ok_and(|accept| {
                accept.split(',').any(|item| {
                    item.split(';').next().is_some_and(|media| media.trim().eq_ignore_ascii_case(PROTOBUF_MEDIA_TYPE))
                })
            })
        });
        if wants_protobuf {
            Representation::Protobuf
        } else {
            Representation::Json
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Representation::Json => "application/json",
            Representation::Protobuf => PROTOBUF_MEDIA_TYPE,
        }
    }
}

/// The JSON shape of an EventPage. Every field is written, defaults included (plain pbjson
/// would leave out `hasMore: false` and `inFlightIdx: "0"`), exactly as the extension's
/// jsonb page: `{"events":[...],"nextIdx":"42","hasMore":false,"inFlightIdx":"0"}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonPage<'a> {
    events: &'a [BuildEvent],
    next_idx: String,
    has_more: bool,
    in_flight_idx: String,
}

/// A page read from the extension, with its representations built on first use.
pub struct FetchedPage {
    page: EventPage,
    protobuf: Bytes,
    json: OnceLock<Result<Bytes, String>>,
    etags: [OnceLock<String>; 2],
}

impl FetchedPage {
    /// Decodes the binary page returned by `bel.list_events_page(bigint, bytea, int)`.
    pub fn decode(bytes: Vec<u8>) -> Result<Self, DbError> {
        let page = EventPage::decode(bytes.as_slice())
            .map_err(|e| DbError::Unexpected(format!("cannot decode the bel.v1.EventPage from the database: {e}")))?;
        Ok(FetchedPage { page, protobuf: Bytes::from(bytes), json: OnceLock::new(), etags: Default::default() })
    }

    pub fn page(&self) -> &EventPage {
        &self.page
    }

    /// True for a page that will never change: it stopped at its limit with more matching
    /// events behind it, so it lies wholly below the no-loss horizon and its nextIdx is
    /// its last event's idx. (A page that is full but ends at the horizon is not: its
    /// nextIdx is the horizon, which moves.)
    pub fn is_complete(&self) -> bool {
        self.page.has_more
    }

    /// True when a long poll would keep waiting: no events and nothing more readable.
    pub fn is_empty(&self) -> bool {
        self.page.events.is_empty() && !self.page.has_more
    }

    /// The body in `representation`.
    pub fn body(&self, representation: Representation) -> Result<Bytes, DbError> {
        match representation {
            Representation::Protobuf => Ok(self.protobuf.clone()),
            Representation::Json => self
                .json
                .get_or_init(|| {
                    let page = JsonPage {
                        events: &self.page.events,
                        next_idx: self.page.next_idx.to_string(),
                        has_more: self.page.has_more,
                        in_flight_idx: self.page.in_flight_idx.to_string(),
                    };
                    serde_json::to_vec(&page).map(Bytes::from).map_err(|e| e.to_string())
                })
                .clone()
                .map_err(|e| DbError::Unexpected(format!("cannot write the page as JSON: {e}"))),
        }
    }

    /// The strong ETag of the body in `representation`: its SHA-256, quoted.
    pub fn etag(&self, representation: Representation) -> Result<String, DbError> {
        let slot = match representation {
            Representation::Json => &self.etags[0],
            Representation::Protobuf => &self.etags[1],
        };
        if let Some(etag) = slot.get() {
            return Ok(etag.clone());
        }
        let body = self.body(representation)?;
        Ok(slot.get_or_init(|| format!("\"{:x}\"", Sha256::digest(&body))).clone())
    }
}

/// Whether an `If-None-Match` header matches `etag` (weak comparison, as RFC 9110 asks
/// for If-None-Match; `*` matches any).
pub fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers.get_all(axum::http::header::IF_NONE_MATCH).iter().any(|value| {
        value.to_str().is_ok_and(|list| {
            list.split(',').map(str::trim).any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn page(events: usize, has_more: bool) -> FetchedPage {
        let page = EventPage {
            events: (1..=events as i64)
                .map(|idx| BuildEvent { idx, build_request_id: "b1".into(), ..Default::default() })
                .collect(),
            next_idx: 7,
            has_more,
            in_flight_idx: 0,
            replay_behind: false,
        };
        FetchedPage::decode(page.encode_to_vec()).unwrap()
    }

    #[test]
    fn json_has_every_field_with_int64_as_strings() {
        let json: serde_json::Value =
            serde_json::from_slice(&page(0, false).body(Representation::Json).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"events": [], "nextIdx": "7", "hasMore": false, "inFlightIdx": "0"}));
        let json: serde_json::Value =
            serde_json::from_slice(&page(2, true).body(Representation::Json).unwrap()).unwrap();
        assert_eq!(json["events"][1], serde_json::json!({"idx": "2", "buildRequestId": "b1"}));
        assert_eq!(json["hasMore"], true);
    }

    #[test]
    fn protobuf_is_the_database_bytes() {
        let p = page(2, true);
        let bytes = p.body(Representation::Protobuf).unwrap();
        assert_eq!(EventPage::decode(bytes.as_ref()).unwrap(), *p.page());
    }

    #[test]
    fn etags_are_strong_per_representation_and_stable() {
        let (a, b) = (page(2, true), page(2, true));
        let json = a.etag(Representation::Json).unwrap();
        assert!(json.starts_with('"') && json.ends_with('"') && json.len() == 66, "{json}");
        assert_eq!(json, b.etag(Representation::Json).unwrap());
        assert_ne!(json, a.etag(Representation::Protobuf).unwrap());
        assert_ne!(json, page(1, true).etag(Representation::Json).unwrap());
    }

    #[test]
    fn completeness() {
        assert!(page(2, true).is_complete());
        assert!(!page(2, false).is_complete());
        assert!(page(0, false).is_empty());
        assert!(!page(1, false).is_empty());
    }

    #[test]
    fn negotiation_and_conditional_requests() {
        let mut headers = HeaderMap::new();
        assert_eq!(Representation::negotiate(&headers), Representation::Json);
        headers.insert("accept", HeaderValue::from_static("text/html, application/x-protobuf;q=0.9"));
        assert_eq!(Representation::negotiate(&headers), Representation::Protobuf);
        headers.insert("accept", HeaderValue::from_static("application/json"));
        assert_eq!(Representation::negotiate(&headers), Representation::Json);

        let etag = "\"abc\"";
        assert!(!if_none_match(&headers, etag));
        for matching in ["\"abc\"", "W/\"abc\"", "\"x\", \"abc\"", "*"] {
            headers.insert("if-none-match", HeaderValue::from_static(matching));
            assert!(if_none_match(&headers, etag), "{matching}");
        }
        headers.insert("if-none-match", HeaderValue::from_static("\"abd\""));
        assert!(!if_none_match(&headers, etag));
    }
}
