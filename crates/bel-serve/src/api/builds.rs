//! `GET /v1/builds` (recent build requests, newest first, paged) and
//! `GET /v1/builds/{id}` (one build's summary).
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use axum::Json;

use crate::api::no_store;
use crate::api::params::{to_i32, Params};
use crate::error::{code, ApiError};
use crate::queries::{self, BuildRow};
use crate::state::AppState;

/// Build requests per page unless `limit` says otherwise (the SQL function's default).
pub const DEFAULT_LIMIT: i64 = 50;
/// Most build requests per page (the extension's bound).
pub const MAX_LIMIT: i64 = 10_000;

#[derive(serde::Serialize)]
pub struct BuildsPage {
    builds: Vec<BuildRow>,
    /// Pass as `before_idx` for the next (older) page; null when this page is not full.
    next: Option<i64>,
}

pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["before_idx", "limit"])?;
    let before_idx = match params.single("before_idx")? {
        Some(_) => Some(params.integer("before_idx", 0, 0..=i64::MAX, "pass the previous page's next")?),
        None => None,
    };
    let limit =
        params.integer("limit", DEFAULT_LIMIT, 1..=MAX_LIMIT, "page with before_idx=<the previous page's next>")?;
    let builds = queries::builds(state.db(), before_idx, to_i32(limit)).await?;
    let next = (builds.len() as i64 == limit).then(|| builds.last().map(|b| b.first_idx)).flatten();
    Ok(no_store(Json(BuildsPage { builds, next })))
}

pub async fn summary(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let Path(build_request_id) = id.map_err(|rejection| {
        ApiError::bad_request(code::INVALID_PARAMETER_VALUE, format!("bad build request id: {rejection}"))
            .with_hint("percent-encode the build request id as one path segment")
    })?;
    let summary = queries::build_summary(state.db(), &build_request_id).await?;
    Ok(no_store(Json(summary)))
}
