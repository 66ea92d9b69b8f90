//! The `/v1` JSON API and the operational routes (docs/http-api.md is the contract).
//! Handlers are thin: parse and check parameters, call one query, shape the answer.
mod builds;
pub mod events;
mod job_runs;
mod ops;
pub mod params;
mod partitions;

use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::error::ApiError;
use crate::metrics::UNMATCHED_ROUTE;
use crate::state::AppState;

/// Every API route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/events", get(events::get))
        .route("/v1/partitions", get(partitions::list))
        .route("/v1/builds", get(builds::list))
        .route("/v1/builds/{id}", get(builds::summary))
        .route("/v1/job_runs", get(job_runs::list))
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
}

/// A JSON answer that caches must not keep (views change with every append).
pub fn no_store(response: impl IntoResponse) -> Response {
    let mut response = response.into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The fallback: 404 with the error body (counted under the route label `unmatched`).
pub async fn no_route(axum::extract::State(state): axum::extract::State<AppState>, uri: Uri) -> ApiError {
    state.metrics().request(UNMATCHED_ROUTE, StatusCode::NOT_FOUND.as_u16(), 0.0);
    ApiError::no_route(uri.path())
}

/// A method other than GET or HEAD on a known route: the service is read-only.
pub async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, crate::error::code::METHOD_NOT_ALLOWED, "bel serve is read-only")
        .with_hint("use GET (or HEAD)")
}
