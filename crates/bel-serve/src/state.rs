//! What every handler shares: the pool, the long-poll hub, the page coalescer, metrics and
//! the access token.
use std::sync::Arc;

use crate::config::BearerToken;
use crate::db::Db;
use crate::longpoll::{Hub, PageCoalescer, PageSource};
use crate::metrics::Metrics;

/// Cheap to clone: one `Arc`.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

struct Shared {
    db: Db,
    hub: Arc<Hub>,
    pages: Arc<PageCoalescer>,
    metrics: Arc<Metrics>,
    token: Option<BearerToken>,
}

impl AppState {
    pub fn new(db: Db, hub: Arc<Hub>, metrics: Arc<Metrics>, token: Option<BearerToken>) -> Self {
        AppState(Arc::new(Shared { db, hub, pages: Arc::new(PageCoalescer::new()), metrics, token }))
    }

    pub fn db(&self) -> &Db {
        &self.0.db
    }

    pub fn hub(&self) -> &Arc<Hub> {
        &self.0.hub
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.0.metrics
    }

    /// The token every route but /healthz requires, when one is configured.
    pub fn token(&self) -> Option<&BearerToken> {
        self.0.token.as_ref()
    }

    /// Reads event pages, long-polling and sharing identical queries.
    pub fn pages(&self) -> PageSource<'_> {
        PageSource { db: &self.0.db, hub: &self.0.hub, pages: &self.0.pages, metrics: &self.0.metrics }
    }
}
