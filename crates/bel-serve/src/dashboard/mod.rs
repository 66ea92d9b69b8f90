//! The dashboard: HTML pages for people who run builds, served by the same process as the
//! JSON API (docs/dashboard.md).
//!
//! - `/`: partitions per status, recent builds;
//! - `/partitions`: partition status under a glob filter, paged on the server;
//! - `/builds`, `/builds/{id}`: build requests; one build's timeline, job runs, partitions,
//!   delegations and events;
//! - `/tail`: the log as it grows (long-polling `/v1/events` from the browser);
//! - `/diagrams`: the state diagrams, drawn from `bel.transitions()`;
//! - `/login` and `/assets/*`: open without a token.
//!
//! Pages are maud templates (escaped by construction), pictures are inline SVG, and the
//! stylesheet and the one script are compiled in (assets). Every status has one colour
//! everywhere (tone).
mod assets;
mod builds;
mod diagrams;
mod error;
mod events;
mod format;
mod layout;
mod login;
mod overview;
mod partitions;
mod queries;
mod tail;
mod timeline;
mod tone;

use axum::middleware;
use axum::routing::get;
use axum::Router;

use crate::state::AppState;

pub use login::redirect_to_login;

/// The pages, behind the token check when one is configured.
pub fn pages() -> Router<AppState> {
    Router::new()
        .route("/", get(overview::show))
        .route("/partitions", get(partitions::show))
        .route("/builds", get(builds::list))
        .route("/builds/{id}", get(builds::show))
        .route("/tail", get(tail::show))
        .route("/diagrams", get(diagrams::show))
        .layer(middleware::map_response(layout::page_headers))
}

/// What must work before the token is known: the login form and the assets it uses.
pub fn open_routes() -> Router<AppState> {
    Router::new()
        .route("/login", get(login::form).post(login::submit))
        .layer(middleware::map_response(layout::page_headers))
        .route("/assets/{file}", get(assets::serve))
}
