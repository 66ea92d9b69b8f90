//! Errors. [`ApiError`] is what a refused request answers: a status and the JSON body
//! `{"code","message","hint"}` of docs/http-api.md. [`ServeError`] is why the server
//! could not start.
use std::net::SocketAddr;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use bel_core::{ErrorClass, Rejection};

use crate::db::DbError;

/// The stable error codes of the HTTP API for refusals Postgres has no SQLSTATE for. Where
/// the database (or the same check the extension makes) refused, the code is the SQLSTATE.
pub mod code {
    /// A query parameter the route does not take.
    pub const UNKNOWN_PARAMETER: &str = "unknown_parameter";
    /// A single-valued query parameter given more than once.
    pub const DUPLICATE_PARAMETER: &str = "duplicate_parameter";
    /// No such route.
    pub const NOT_FOUND: &str = "not_found";
    /// A token is configured and the request did not carry it.
    pub const UNAUTHORIZED: &str = "unauthorized";
    /// A method other than GET or HEAD: the service is read-only.
    pub const METHOD_NOT_ALLOWED: &str = "method_not_allowed";
    /// The database cannot be reached (or the connection was lost); retry later.
    pub const DATABASE_UNAVAILABLE: &str = "database_unavailable";
    /// The database answered something the server cannot use.
    pub const INTERNAL: &str = "internal";
    /// Postgres's SQLSTATE for text that is not a valid integer (`'x'::bigint`).
    pub const INVALID_TEXT_REPRESENTATION: &str = "22P02";
    /// The extension's SQLSTATE for an out-of-range or otherwise invalid argument.
    pub const INVALID_PARAMETER_VALUE: &str = "22023";
}

/// A refused request: status code plus the JSON error body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: String,
    pub message: String,
    pub hint: Option<String>,
}

#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    code: &'a str,
    message: &'a str,
    hint: Option<&'a str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.to_owned(), message: message.into(), hint: None }
    }

    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// 404 for a path no route serves.
    pub fn no_route(path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, code::NOT_FOUND, format!("no route {path}")).with_hint(
            "routes: /v1/events, /v1/partitions, /v1/builds, /v1/builds/{id}, /v1/job_runs, /healthz, /metrics",
        )
    }

    /// 401: a token is configured and the request did not present it.
    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code::UNAUTHORIZED, "missing or wrong bearer token")
            .with_hint("send the header Authorization: Bearer <token> (the token in the server's --token-file)")
    }

    /// The JSON body, as sent.
    pub fn body(&self) -> String {
        let body = ErrorBody { code: &self.code, message: &self.message, hint: self.hint.as_deref() };
        // Serializing three strings cannot fail; fall back to a fixed body anyway.
        serde_json::to_string(&body).unwrap_or_else(|_| format!("{{\"code\":\"{}\"}}", code::INTERNAL))
    }
}

impl From<Rejection> for ApiError {
    /// A refusal made by bel-core's checks (the ones the extension makes too), with the
    /// extension's SQLSTATE and message.
    fn from(rejection: Rejection) -> Self {
        let status = match rejection.class {
            ErrorClass::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        };
        let mut error = ApiError::new(status, rejection.class.sqlstate(), rejection.message);
        error.hint = rejection.hint;
        error
    }
}

impl From<DbError> for ApiError {
    fn from(error: DbError) -> Self {
        match error {
            DbError::Unreachable(reason) | DbError::ConnectionLost(reason) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                code::DATABASE_UNAVAILABLE,
                format!("the database is unavailable: {reason}"),
            )
            .with_hint("the server reconnects by itself; retry with backoff"),
            DbError::Refused { sqlstate, message, hint } => {
                let status = match sqlstate.get(..2) {
                    // data exceptions (22xxx) and program limits (54xxx): the request's values
                    Some("22") | Some("54") => StatusCode::BAD_REQUEST,
                    _ if sqlstate == "P0002" => StatusCode::NOT_FOUND,
                    _ => StatusCode::INTERNAL_SERVER_ERROR,
                };
                ApiError { status, code: sqlstate, message, hint }
            }
            DbError::Unexpected(reason) => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, code::INTERNAL, reason)
                .with_hint("this is a bug in bel serve or a mismatch with the installed extension version"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.body()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"bel\""));
        }
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            headers.insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
        response
    }
}

/// Why `bel serve` could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration is refused (e.g. a non-loopback address without a token).
    #[error("{0}")]
    Config(String),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// The server's accept loop failed.
    #[error("the HTTP server failed: {0}")]
    Io(#[from] std::io::Error),
    /// The connection pool could not be built.
    #[error("cannot build the connection pool: {0}")]
    Pool(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_have_code_message_and_hint() {
        let body: serde_json::Value = serde_json::from_str(&ApiError::unauthorized().body()).unwrap();
        assert_eq!(body["code"], "unauthorized");
        assert!(body["message"].as_str().unwrap().contains("token"));
        assert!(body["hint"].as_str().unwrap().contains("Bearer"));
        let body: serde_json::Value = serde_json::from_str(&ApiError::bad_request("22023", "limit").body()).unwrap();
        assert_eq!(body, serde_json::json!({"code": "22023", "message": "limit", "hint": null}));
    }

    #[test]
    fn database_errors_map_to_statuses() {
        let refused = |sqlstate: &str| {
            ApiError::from(DbError::Refused { sqlstate: sqlstate.into(), message: "m".into(), hint: None }).status
        };
        assert_eq!(refused("22023"), StatusCode::BAD_REQUEST);
        assert_eq!(refused("54000"), StatusCode::BAD_REQUEST);
        assert_eq!(refused("P0002"), StatusCode::NOT_FOUND);
        assert_eq!(refused("42501"), StatusCode::INTERNAL_SERVER_ERROR);
        let unavailable = ApiError::from(DbError::Unreachable("connection refused".into()));
        assert_eq!(unavailable.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(unavailable.code, "database_unavailable");
        assert!(unavailable.message.contains("connection refused"));
    }

    #[test]
    fn rejections_keep_the_extension_sqlstate() {
        let e = ApiError::from(Rejection::new(ErrorClass::InvalidValue, "bad glob").hint("globs: ..."));
        assert_eq!(
            (e.status, e.code.as_str(), e.hint.as_deref()),
            (StatusCode::BAD_REQUEST, "22023", Some("globs: ..."))
        );
    }
}
