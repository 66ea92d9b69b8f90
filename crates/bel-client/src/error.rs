//! The client's error type. Errors the server raised keep their SQLSTATE, message, DETAIL,
//! HINT and CONTEXT, because bel's rejections put the useful part (the event, the current
//! state, what to do instead) in DETAIL and HINT.
use std::fmt;
use std::time::Duration;

use bel_core::Rejection;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The server refused a statement (a bel rejection, a permission error, ...). Boxed
    /// to keep `Result<T, Error>` small.
    #[error("{0}")]
    Sql(Box<SqlError>),

    /// The connection could not be made or was lost (I/O, TLS, protocol). Opening a new
    /// connection may help; see [`Error::is_connection_lost`].
    #[error("connection error: {}", with_causes(.0))]
    Connection(#[source] tokio_postgres::Error),

    /// `bel serve` refused the request or could not serve it: the HTTP status and the JSON
    /// error body (whose code is the SQLSTATE where the database refused). Boxed to keep
    /// `Result<T, Error>` small.
    #[error("{0}")]
    Http(Box<HttpError>),

    /// An HTTP request failed in transit (connect, TLS, timeout, a connection reset). A new
    /// request may succeed; see [`Error::is_connection_lost`].
    #[error("HTTP request failed: {}", with_causes(.0))]
    Transport(#[source] reqwest::Error),

    /// Refused before reaching the server: the input is not a valid event, filter or
    /// argument. Carries the same classes (and SQLSTATEs) the server would use.
    #[error("{0}")]
    Rejected(#[from] Rejection),

    /// The server answered with something this client cannot decode.
    #[error("cannot decode {what} returned by the server: {reason}")]
    Decode {
        /// What was being decoded, e.g. `bel.v1.EventPage`.
        what: &'static str,
        /// Why it failed.
        reason: String,
    },

    /// The server broke the paging contract of `bel.list_events_page` (an event at or
    /// below the cursor, events out of order, a cursor that does not advance). The
    /// follower stops rather than deliver an event twice or out of order.
    #[error("page contract violated by the server: {0}")]
    PageContract(String),

    /// Something did not happen in time.
    #[error("timed out after {after:?} waiting for {what}")]
    Timeout {
        /// What was awaited, in words.
        what: String,
        /// The timeout that passed.
        after: Duration,
    },

    /// [`crate::GraphService::wait_for_partition`]: the partition FAILED.
    #[error("partition {partition_ref:?} FAILED (idx {idx}{})", describe_failure(.build_request_id, .job_run_id, .message))]
    PartitionFailed {
        /// The partition awaited.
        partition_ref: String,
        /// idx of the event (or projection row) that reported the failure.
        idx: i64,
        /// The build that owned the partition, when known.
        build_request_id: Option<String>,
        /// The job run that failed to produce it, when known.
        job_run_id: Option<String>,
        /// The failure message, when one was given.
        message: Option<String>,
    },

    /// The server returned no row or NULL where the contract promises a value (for
    /// example `bel.build_summary` of an unknown build request).
    #[error("{0}")]
    NotFound(String),
}

/// tokio-postgres's and reqwest's Display leave out the cause ("error connecting to
/// server"), which is the useful part ("No such file or directory"): append the whole chain.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = std::error::Error::source(error);
    while let Some(inner) = cause {
        let inner_text = inner.to_string();
        if !text.contains(&inner_text) {
            text.push_str(": ");
            text.push_str(&inner_text);
        }
        cause = inner.source();
    }
    text
}

fn describe_failure(build: &Option<String>, job_run: &Option<String>, message: &Option<String>) -> String {
    let mut out = String::new();
    if let Some(build) = build {
        out.push_str(&format!(", build request {build:?}"));
    }
    if let Some(job_run) = job_run {
        out.push_str(&format!(", job run {job_run:?}"));
    }
    if let Some(message) = message {
        out.push_str(&format!(": {message}"));
    }
    out
}

impl Error {
    /// The SQLSTATE of a server error, or of a client-side rejection (which uses the
    /// code the server would have raised).
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Sql(e) => Some(&e.code),
            Error::Rejected(r) => Some(r.class.sqlstate()),
            Error::Http(e) if is_sqlstate(&e.code) => Some(&e.code),
            _ => None,
        }
    }

    /// The primary message without SQLSTATE, DETAIL or HINT.
    pub fn message(&self) -> String {
        match self {
            Error::Sql(e) => e.message.clone(),
            Error::Rejected(r) => r.message.clone(),
            Error::Http(e) => e.message.clone(),
            other => other.to_string(),
        }
    }

    /// The DETAIL of a server error or rejection.
    pub fn detail(&self) -> Option<&str> {
        match self {
            Error::Sql(e) => e.detail.as_deref(),
            Error::Rejected(r) => r.detail.as_deref(),
            _ => None,
        }
    }

    /// The HINT of a server error or rejection.
    pub fn hint(&self) -> Option<&str> {
        match self {
            Error::Sql(e) => e.hint.as_deref(),
            Error::Rejected(r) => r.hint.as_deref(),
            Error::Http(e) => e.hint.as_deref(),
            _ => None,
        }
    }

    /// True when the connection is gone or unusable, so retrying on a new connection may
    /// succeed: I/O and protocol errors, SQLSTATE class 08 (connection exception) and
    /// 57P01..57P03 (server shutting down or starting up); over HTTP, failed requests and
    /// the statuses a restarting server or its proxy answer (502, 503, 504).
    pub fn is_connection_lost(&self) -> bool {
        match self {
            Error::Connection(_) | Error::Transport(_) => true,
            Error::Sql(e) => e.code.starts_with("08") || matches!(e.code.as_str(), "57P01" | "57P02" | "57P03"),
            Error::Http(e) => matches!(e.status, 502..=504),
            _ => false,
        }
    }
}

impl From<tokio_postgres::Error> for Error {
    /// Server errors become [`Error::Sql`] with every field kept; anything else is a
    /// connection error.
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => Error::Sql(Box::new(SqlError::from(db))),
            None => Error::Connection(error),
        }
    }
}

/// An error reported by the server, with the fields psql shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlError {
    /// `ERROR`, `FATAL`, ... (the non-localized severity when the server sent it).
    pub severity: String,
    /// The SQLSTATE, e.g. `55000` for an invalid state transition.
    pub code: String,
    /// The primary message.
    pub message: String,
    /// DETAIL: for bel rejections, the event and the current state of the entity.
    pub detail: Option<String>,
    /// HINT: what to do instead.
    pub hint: Option<String>,
    /// CONTEXT: where in the server the error was raised.
    pub context: Option<String>,
}

impl From<&tokio_postgres::error::DbError> for SqlError {
    fn from(db: &tokio_postgres::error::DbError) -> Self {
        SqlError {
            severity: db.parsed_severity().map(|s| s.to_string()).unwrap_or_else(|| db.severity().to_string()),
            code: db.code().code().to_string(),
            message: db.message().to_string(),
            detail: db.detail().map(str::to_string),
            hint: db.hint().map(str::to_string),
            context: db.where_().map(str::to_string),
        }
    }
}

impl fmt::Display for SqlError {
    /// One line: `ERROR 55000: message; DETAIL: ...; HINT: ...` (CONTEXT is left out; read
    /// the field when you need it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.severity, self.code, self.message)?;
        if let Some(detail) = &self.detail {
            write!(f, "; DETAIL: {detail}")?;
        }
        if let Some(hint) = &self.hint {
            write!(f, "; HINT: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SqlError {}

/// An error answered by `bel serve`: `{"code","message","hint"}` with its HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpError {
    /// The HTTP status, e.g. 400.
    pub status: u16,
    /// The SQLSTATE where the database (or the check it makes) refused, e.g. `22023`;
    /// otherwise a stable name such as `unknown_parameter` or `database_unavailable`.
    pub code: String,
    /// What went wrong.
    pub message: String,
    /// What to do instead.
    pub hint: Option<String>,
}

impl fmt::Display for HttpError {
    /// One line: `HTTP 400 22023: message; HINT: ...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {} {}: {}", self.status, self.code, self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "; HINT: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for HttpError {}

/// Five digits or upper-case letters: a SQLSTATE, not one of the HTTP API's own codes.
fn is_sqlstate(code: &str) -> bool {
    code.len() == 5 && code.bytes().all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Shorthand for this crate's results.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;
    use bel_core::ErrorClass;

    fn sql_error(code: &str) -> Error {
        Error::Sql(Box::new(SqlError {
            severity: "ERROR".into(),
            code: code.into(),
            message: "partition \"p\" is BUILDING; allowed next states: AVAILABLE, FAILED".into(),
            detail: Some("event: {...}".into()),
            hint: Some("append a job run first".into()),
            context: None,
        }))
    }

    #[test]
    fn sql_errors_show_every_field() {
        let e = sql_error("55000");
        assert_eq!(e.sqlstate(), Some("55000"));
        assert_eq!(e.detail(), Some("event: {...}"));
        assert_eq!(e.hint(), Some("append a job run first"));
        let shown = e.to_string();
        assert!(shown.starts_with("ERROR 55000: partition"), "{shown}");
        assert!(shown.contains("DETAIL: event"), "{shown}");
        assert!(shown.contains("HINT: append"), "{shown}");
        assert!(!e.is_connection_lost());
    }

    #[test]
    fn connection_classes() {
        assert!(sql_error("08006").is_connection_lost());
        assert!(sql_error("57P01").is_connection_lost());
        assert!(!sql_error("57014").is_connection_lost());
    }

    #[test]
    fn rejections_keep_their_sqlstate() {
        let e = Error::from(Rejection::new(ErrorClass::Malformed, "bad JSON").hint("fix it"));
        assert_eq!(e.sqlstate(), Some("22P02"));
        assert_eq!(e.message(), "bad JSON");
        assert_eq!(e.hint(), Some("fix it"));
    }

    fn http_error(status: u16, code: &str) -> Error {
        Error::Http(Box::new(HttpError {
            status,
            code: code.into(),
            message: "limit 20000 is out of range".into(),
            hint: Some("use a limit between 0 and 10000".into()),
        }))
    }

    #[test]
    fn http_errors_carry_the_sqlstate_when_the_code_is_one() {
        let e = http_error(400, "22023");
        assert_eq!(e.sqlstate(), Some("22023"));
        assert_eq!(e.message(), "limit 20000 is out of range");
        assert_eq!(e.hint(), Some("use a limit between 0 and 10000"));
        assert_eq!(e.to_string(), "HTTP 400 22023: limit 20000 is out of range; HINT: use a limit between 0 and 10000");
        assert!(!e.is_connection_lost());
        assert_eq!(http_error(400, "unknown_parameter").sqlstate(), None);
        assert_eq!(http_error(404, "P0002").sqlstate(), Some("P0002"));
        // A restarting server (or its proxy) is worth retrying; a bug or a refusal is not.
        assert!(http_error(503, "database_unavailable").is_connection_lost());
        assert!(http_error(502, "bad_gateway").is_connection_lost());
        assert!(!http_error(500, "internal").is_connection_lost());
        assert!(!http_error(401, "unauthorized").is_connection_lost());
    }

    #[test]
    fn partition_failed_reads_well() {
        let e = Error::PartitionFailed {
            partition_ref: "data/a".into(),
            idx: 7,
            build_request_id: Some("b1".into()),
            job_run_id: None,
            message: Some("oom".into()),
        };
        assert_eq!(e.to_string(), "partition \"data/a\" FAILED (idx 7, build request \"b1\": oom)");
    }
}
