//! `GET /healthz` and `GET /metrics`: for operators and their probes.
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::api::no_store;
use crate::api::params::Params;
use crate::error::{code, ApiError};
use crate::queries;
use crate::state::AppState;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    extension_version: String,
    listening: bool,
    pool_size: usize,
    pool_available: usize,
}

/// 200 when the database answers, has the bel extension, and the LISTEN connection is up;
/// 503 (error body) otherwise.
pub async fn healthz(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let unavailable =
        |message: &str| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code::DATABASE_UNAVAILABLE, message);
    let Some(extension_version) = queries::extension_version(state.db()).await? else {
        return Err(unavailable("the database has no bel extension")
            .with_hint("run CREATE EXTENSION bel in the database the DSN names"));
    };
    if !state.hub().is_listening() {
        return Err(unavailable("the LISTEN connection is reconnecting; long polls wake only on their timeout")
            .with_hint("it reconnects by itself; see the server log if this lasts"));
    }
    let (pool_size, pool_available) = state.db().status();
    Ok(no_store(Json(Health { status: "ok", extension_version, listening: true, pool_size, pool_available })))
}

/// Prometheus metrics in the OpenMetrics text format.
pub async fn metrics(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let mut response = state.metrics().encode().into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
    );
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}
