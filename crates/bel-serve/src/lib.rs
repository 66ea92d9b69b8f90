//! `bel serve`: the read-only HTTP service of bel, the Build Event Log (docs/http-api.md
//! is its contract).
//!
//! - `/v1/events`: EventPages after a cursor, filtered, as proto3 JSON or binary protobuf,
//!   long-polled with `wait_ms`; complete pages are immutable and cacheable.
//! - `/v1/partitions`, `/v1/builds`, `/v1/builds/{id}`, `/v1/job_runs`: the views.
//! - `/healthz`, `/metrics`.
//! - the dashboard's pages (`/`, `/partitions`, `/builds`, `/tail`, `/diagrams`, `/login`).
//!
//! Layout: [`config`] (options, access rules), `db` (pool, failure classes), `queries`
//! (one function per SQL call), `longpoll` (the wake-up hub, its LISTEN connection and
//! in-flight waiter), `coalesce` (identical concurrent reads share one query), `page`
//! (page representations and ETags), `api` (handlers), `auth`, `metrics`, `router`.
//!
//! ```no_run
//! # async fn run() -> Result<(), bel_serve::ServeError> {
//! // libpq's sslmode and sslrootcert apply, as in the rest of bel (bel_client::DatabaseConfig).
//! let database = "host=db.example dbname=builds user=bel_web sslmode=verify-full sslrootcert=/etc/bel/root.crt"
//!     .parse()
//!     .expect("a valid DSN");
//! let mut config = bel_serve::ServeConfig::new(database);
//! config.listen = "127.0.0.1:0".parse().expect("an address");
//! let server = bel_serve::Server::bind(config).await?;
//! println!("listening on http://{}", server.local_addr());
//! server.run_until(async { let _ = tokio::signal::ctrl_c().await; }).await
//! # }
//! ```
mod api;
mod auth;
mod coalesce;
pub mod config;
mod dashboard;
mod db;
mod error;
mod longpoll;
mod metrics;
mod page;
mod queries;
mod router;
mod state;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bel_client::SqlTlsConnector;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::{BearerToken, ServeArgs, ServeConfig};
pub use error::ServeError;

use crate::db::Db;
use crate::longpoll::Hub;
use crate::metrics::Metrics;
use crate::state::AppState;

/// The `application_name` of the server's database connections unless the DSN sets one.
pub const APPLICATION_NAME: &str = "bel serve";

/// A bound server, not yet serving. Binding does not need the database: the pool and the
/// LISTEN connection connect when they can, and requests get 503 until then.
pub struct Server {
    listener: TcpListener,
    pg_config: tokio_postgres::Config,
    tls: SqlTlsConnector,
    state: AppState,
    shutdown: CancellationToken,
}

impl Server {
    /// Checks `config` (see [`ServeConfig::check`]) and binds its address.
    pub async fn bind(config: ServeConfig) -> Result<Server, ServeError> {
        config.check()?;
        // Every connection (pool, LISTEN) is plain or TLS as the DSN's sslmode says.
        let tls = config.database.tls_connector();
        let mut pg_config = config.database.config().clone();
        // So its connections are recognisable in pg_stat_activity.
        if pg_config.get_application_name().is_none() {
            pg_config.application_name(APPLICATION_NAME);
        }
        let metrics = Arc::new(Metrics::new());
        let db = Db::new(pg_config.clone(), tls.clone(), config.pool_size, metrics.clone())?;
        let shutdown = CancellationToken::new();
        let hub = Arc::new(Hub::new(metrics.clone(), shutdown.clone()));
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServeError::Bind { addr: config.listen, source })?;
        let state = AppState::new(db, hub, metrics, config.token);
        Ok(Server { listener, pg_config, tls, state, shutdown })
    }

    /// The bound address (the actual port when the configuration asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        // A bound TcpListener always knows its address; fall back to the unspecified one.
        self.listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// Serves until `shutdown` completes, then stops: waiting long polls answer at once,
    /// requests in progress finish, the background tasks end.
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServeError> {
        let Server { listener, pg_config, tls, state, shutdown: stop } = self;
        let hub = state.hub().clone();
        let metrics = state.metrics().clone();
        let listen_task = tokio::spawn(longpoll::listener::run(pg_config, tls, hub.clone(), metrics, stop.clone()));
        let in_flight_task = tokio::spawn(longpoll::in_flight::run(state.db().clone(), hub, stop.clone()));
        let app = router::router(state);
        let stopping = stop.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                stopping.cancel();
            })
            .await;
        stop.cancel();
        let _ = tokio::join!(listen_task, in_flight_task);
        served.map_err(ServeError::Io)
    }
}

/// Sends the server's log (startup, lost and regained database connections) to stderr,
/// at level INFO and above. For binaries; call once.
pub fn log_to_stderr() {
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(tracing::Level::INFO)
        .with_target(false)
        .try_init();
}

/// Serves `config` until Ctrl-C or SIGTERM.
pub async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let server = Server::bind(config).await?;
    tracing::info!("bel serve listening on http://{}", server.local_addr());
    server.run_until(shutdown_signal()).await
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
