//! `GET /v1/events`: an EventPage after a cursor, filtered, optionally long-polled.
use std::time::Duration;

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use bel_core::filter::CompiledFilter;
use bel_core::pb::EventFilter;

use crate::api::params::{to_i32, Params};
use crate::error::ApiError;
use crate::longpoll::PageRequest;
use crate::page::{if_none_match, FetchedPage, Representation};
use crate::state::AppState;

/// Events per page unless `limit` says otherwise (the SQL function's default).
pub const DEFAULT_LIMIT: i64 = 1000;
/// Most events per page (the extension's bound).
pub const MAX_LIMIT: i64 = 10_000;
/// Longest long poll.
pub const MAX_WAIT_MS: i64 = 30_000;
/// Cache-Control of a complete page.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

const PARAMETERS: &[&str] =
    &["since_idx", "limit", "partition_ref", "partition_pattern", "job_label", "job_run_id", "wait_ms"];

/// Parses and checks the query string of `/v1/events`.
pub fn page_request(raw: Option<&str>) -> Result<PageRequest, ApiError> {
    let params = Params::parse(raw, PARAMETERS)?;
    let since_idx = params.integer(
        "since_idx",
        0,
        0..=i64::MAX,
        "pass the nextIdx of the previous page, or 0 to read the log from its beginning",
    )?;
    let limit = params.integer(
        "limit",
        DEFAULT_LIMIT,
        1..=MAX_LIMIT,
        "page through the log with nextIdx instead of one huge page",
    )?;
    let wait_ms = params.integer(
        "wait_ms",
        0,
        0..=MAX_WAIT_MS,
        "wait_ms is how long to hold the request while no matching event is readable; 0 answers at once",
    )?;
    // OR within a field, so order and repeats do not matter: a canonical filter lets
    // identical reads share one query.
    let field = |name: &str| {
        let mut values = params.all(name);
        values.sort();
        values.dedup();
        values
    };
    let filter = EventFilter {
        partition_refs: field("partition_ref"),
        partition_patterns: field("partition_pattern"),
        job_labels: field("job_label"),
        job_run_ids: field("job_run_id"),
    };
    // The extension's own checks (bad glob, empty value, too many values), same message.
    CompiledFilter::new(&filter).map_err(|rejection| {
        let error = ApiError::from(rejection);
        match error.hint {
            Some(_) => error,
            None => error.with_hint(
                "partition_ref, partition_pattern, job_label and job_run_id take non-empty values, \
                 at most 1000 per parameter",
            ),
        }
    })?;
    Ok(PageRequest { since_idx, filter, limit: to_i32(limit), wait: Duration::from_millis(wait_ms.unsigned_abs()) })
}

pub async fn get(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let request = page_request(query.as_deref())?;
    let representation = Representation::negotiate(&headers);
    let page = state.pages().read(&request).await?;
    let response = respond(&page, representation, &headers)?;
    if response.status() == StatusCode::OK {
        state.metrics().events_served(page.page().events.len());
    }
    Ok(response)
}

/// The response for `page`: complete pages carry a strong ETag, are cacheable forever and
/// answer a matching If-None-Match with 304; the tail page is not stored.
fn respond(page: &FetchedPage, representation: Representation, headers: &HeaderMap) -> Result<Response, ApiError> {
    let mut response = Response::new(Body::empty());
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(representation.content_type()));
    response_headers.insert(header::VARY, HeaderValue::from_static("Accept"));
    if page.is_complete() {
        let etag = page.etag(representation)?;
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
        // A hex digest in quotes is always a valid header value.
        if let Ok(value) = HeaderValue::from_str(&etag) {
            response_headers.insert(header::ETAG, value);
        }
        if if_none_match(headers, &etag) {
            *response.status_mut() = StatusCode::NOT_MODIFIED;
            return Ok(response);
        }
    } else {
        response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    *response.body_mut() = Body::from(page.body(representation)?);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(query: &str) -> ApiError {
        page_request(Some(query)).unwrap_err()
    }

    #[test]
    fn defaults() {
        let request = page_request(None).unwrap();
        assert_eq!((request.since_idx, request.limit, request.wait), (0, 1000, Duration::ZERO));
        assert_eq!(request.filter, EventFilter::default());
    }

    #[test]
    fn filters_are_repeatable_and_canonical() {
        let request = page_request(Some(
            "since_idx=5&limit=10&wait_ms=30000&partition_pattern=data/users/*&partition_pattern=data/a/*\
             &partition_ref=x&partition_ref=x&job_label=etl&job_run_id=j1",
        ))
        .unwrap();
        assert_eq!((request.since_idx, request.limit, request.wait), (5, 10, Duration::from_secs(30)));
        assert_eq!(request.filter.partition_patterns, vec!["data/a/*", "data/users/*"]);
        assert_eq!(request.filter.partition_refs, vec!["x"]);
        assert_eq!(request.filter.job_labels, vec!["etl"]);
        assert_eq!(request.filter.job_run_ids, vec!["j1"]);
    }

    #[test]
    fn bad_input_is_refused_with_documented_codes() {
        let cases: &[(&str, &str, &str)] = &[
            ("since_idx=abc", "22P02", "since_idx is not an integer: \"abc\""),
            ("since_idx=-1", "22023", "since_idx must be >= 0, got -1"),
            ("limit=0", "22023", "limit must be between 1 and 10000, got 0"),
            ("limit=10001", "22023", "limit must be between 1 and 10000, got 10001"),
            ("wait_ms=30001", "22023", "wait_ms must be between 0 and 30000, got 30001"),
            (
                "partition_pattern=data/%5Ba",
                "22023",
                "invalid partition pattern \"data/[a\": unclosed character class; missing ']'",
            ),
            ("partition_ref=", "22023", "filter field partitionRefs has an empty or overlong value (0 bytes)"),
            ("sinceidx=1", "unknown_parameter", "unknown query parameter \"sinceidx\""),
            ("limit=1&limit=2", "duplicate_parameter", "query parameter limit is given twice"),
        ];
        for (query, code, message) in cases {
            let error = refused(query);
            assert_eq!(error.status, StatusCode::BAD_REQUEST, "{query}");
            assert_eq!((error.code.as_str(), error.message.as_str()), (*code, *message), "{query}");
            assert!(error.hint.is_some(), "{query}: every refusal says what to do");
        }
    }
}
