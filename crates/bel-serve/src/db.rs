//! The connection pool (deadpool-postgres) and how database failures are classified.
//!
//! The pool connects lazily, so the server starts while the database is down and answers
//! 503 until it is back. A connection the server closed (restart, failover) is dropped by
//! the pool's recycling check, and a read that fails because its connection was lost in
//! between is retried once on a fresh connection (every call here is a read, so retrying
//! is safe).
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bel_client::SqlTlsConnector;
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};

use crate::error::ServeError;
use crate::metrics::Metrics;

/// How long a request waits for a pooled connection, and how long connecting may take.
const POOL_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a database call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbError {
    /// No connection could be had: the server is down, refuses connections, or the pool
    /// timed out.
    Unreachable(String),
    /// The connection broke during the call (server restart, admin shutdown, network).
    ConnectionLost(String),
    /// The database refused the statement with this SQLSTATE.
    Refused { sqlstate: String, message: String, hint: Option<String> },
    /// The answer could not be used (wrong type, NULL where a value is promised, a join
    /// error).
    Unexpected(String),
}

impl DbError {
    /// Every value of [`DbError::kind`].
    pub const KINDS: [&'static str; 4] = ["unreachable", "connection_lost", "refused", "unexpected"];

    /// A short label for metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            DbError::Unreachable(_) => "unreachable",
            DbError::ConnectionLost(_) => "connection_lost",
            DbError::Refused { .. } => "refused",
            DbError::Unexpected(_) => "unexpected",
        }
    }
}

impl From<tokio_postgres::Error> for DbError {
    fn from(error: tokio_postgres::Error) -> Self {
        match error.as_db_error() {
            Some(db) => {
                let sqlstate = db.code().code();
                // Connection exceptions, shutdowns, "starting up", too many connections.
                if sqlstate.starts_with("08") || matches!(sqlstate, "57P01" | "57P02" | "57P03" | "53300") {
                    DbError::ConnectionLost(format!("{sqlstate}: {}", db.message()))
                } else {
                    DbError::Refused {
                        sqlstate: sqlstate.to_owned(),
                        message: db.message().to_owned(),
                        hint: db.hint().map(str::to_owned),
                    }
                }
            }
            // Without a SQLSTATE it is I/O or protocol trouble on the connection.
            None => DbError::ConnectionLost(with_causes(&error)),
        }
    }
}

impl From<tokio::task::JoinError> for DbError {
    fn from(error: tokio::task::JoinError) -> Self {
        DbError::Unexpected(format!("a database task failed: {error}"))
    }
}

/// tokio-postgres's Display leaves out the cause ("error connecting to server"), which is
/// the useful part ("Connection refused").
pub(crate) fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
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

/// The pool plus the metrics its failures are counted in.
#[derive(Clone)]
pub struct Db {
    pool: Pool,
    metrics: Arc<Metrics>,
}

impl Db {
    /// A pool of at most `size` connections made with `config` and `tls` (plain or TLS as
    /// the config's sslmode says); none is opened yet.
    pub fn new(
        config: tokio_postgres::Config,
        tls: SqlTlsConnector,
        size: usize,
        metrics: Arc<Metrics>,
    ) -> Result<Self, ServeError> {
        let manager = Manager::from_config(config, tls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(size)
            .wait_timeout(Some(POOL_TIMEOUT))
            .create_timeout(Some(POOL_TIMEOUT))
            .recycle_timeout(Some(POOL_TIMEOUT))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| ServeError::Pool(e.to_string()))?;
        Ok(Db { pool, metrics })
    }

    /// A pooled connection (call it inside [`Db::read`], which counts failures).
    pub async fn client(&self) -> Result<Object, DbError> {
        self.pool.get().await.map_err(|e| DbError::Unreachable(with_causes(&e)))
    }

    /// Runs `call` (a read) and, when it failed because its connection was lost, once
    /// more: the second attempt gets a fresh connection, since the pool drops closed ones.
    pub async fn read<T, F, Fut>(&self, call: F) -> Result<T, DbError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, DbError>>,
    {
        match call().await {
            Err(DbError::ConnectionLost(reason)) => {
                self.count(DbError::ConnectionLost(reason));
                call().await.map_err(|e| self.count(e))
            }
            other => other.map_err(|e| self.count(e)),
        }
    }

    /// Counts a failure in `bel_database_errors_total` and hands it back.
    fn count(&self, error: DbError) -> DbError {
        self.metrics.database_error(error.kind());
        error
    }

    /// Connections open and idle, for /healthz.
    pub fn status(&self) -> (usize, usize) {
        let status = self.pool.status();
        (status.size, status.available)
    }
}
