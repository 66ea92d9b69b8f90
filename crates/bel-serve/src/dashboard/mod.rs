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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{header, Request, StatusCode};
    use tokio_util::sync::CancellationToken;
    use tower::ServiceExt;

    use crate::config::BearerToken;
    use crate::db::Db;
    use crate::longpoll::Hub;
    use crate::metrics::Metrics;
    use crate::state::AppState;

    const TOKEN: &str = "0123456789abcdef0123";

    /// The whole router, its database unreachable (nothing listens on port 1).
    fn app(token: Option<&str>) -> axum::Router {
        let metrics = Arc::new(Metrics::new());
        let config: bel_client::DatabaseConfig = "host=127.0.0.1 port=1 user=nobody connect_timeout=2".parse().unwrap();
        let db = Db::new(config.config().clone(), config.tls_connector(), 2, metrics.clone()).unwrap();
        let hub = Arc::new(Hub::new(metrics.clone(), CancellationToken::new()));
        crate::router::router(AppState::new(db, hub, metrics, token.map(|t| BearerToken::new(t).unwrap())))
    }

    async fn call(app: &axum::Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        (parts.status, parts.headers, String::from_utf8(bytes.to_vec()).unwrap())
    }

    fn page(uri: &str) -> Request<Body> {
        Request::get(uri).header(header::ACCEPT, "text/html,application/xhtml+xml").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn pages_say_when_the_database_is_unavailable() {
        let app = app(None);
        for uri in ["/", "/partitions", "/builds", "/builds/b1", "/tail", "/diagrams"] {
            let (status, headers, body) = call(&app, page(uri)).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}");
            assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8", "{uri}");
            assert_eq!(headers[header::CACHE_CONTROL], "no-store", "{uri}");
            assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self'"));
            assert!(body.contains("<h1>The database is unavailable</h1>"), "{uri}: {body}");
            assert!(body.contains(r#"<meta http-equiv="refresh" content="5">"#), "{uri}: it retries");
        }
    }

    #[tokio::test]
    async fn bad_parameters_get_a_page_that_says_why() {
        let app = app(None);
        let (status, _, body) = call(&app, page("/partitions?pattern=data/%5Ba")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("invalid partition pattern") && body.contains(r#"value="data/[a""#), "{body}");
        let (status, _, body) = call(&app, page("/tail?job_label=x&pattern=%7Ba")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("invalid partition pattern"), "{body}");
        let (status, _, body) = call(&app, page("/builds?before=x")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("before is not an integer"), "{body}");
        let (status, _, body) = call(&app, page("/?x=1")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body.contains("unknown query parameter"), "{body}");
    }

    #[tokio::test]
    async fn without_the_token_a_browser_is_sent_to_the_login_form() {
        let app = app(Some(TOKEN));
        let (status, headers, _) = call(&app, page("/builds?before=10")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/login?next=%2Fbuilds%3Fbefore%3D10");
        // Programs get the JSON 401, as from the API.
        let json = Request::get("/").body(Body::empty()).unwrap();
        let (status, _, body) = call(&app, json).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(body.contains(r#""code":"unauthorized""#), "{body}");
        // The form, its stylesheet and its icon are open.
        let (status, _, body) = call(&app, page("/login?next=%2Fbuilds")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(body.contains(r#"name="next" value="/builds""#), "{body}");
        let stylesheet = crate::dashboard::assets::STYLESHEET.url();
        assert_eq!(call(&app, page(&stylesheet)).await.0, StatusCode::OK);
    }

    #[tokio::test]
    async fn the_login_form_sets_an_http_only_cookie_the_token_check_accepts() {
        let app = app(Some(TOKEN));
        let login = |form: String| {
            Request::post("/login")
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(form))
                .unwrap()
        };
        let (status, headers, body) = call(&app, login("token=wrong-token-wrong&next=%2Fbuilds".into())).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(headers.get(header::SET_COOKIE).is_none());
        assert!(body.contains("not the token"), "{body}");

        let (status, headers, _) = call(&app, login(format!("token={TOKEN}&next=%2F%2Fevil.example%2F"))).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/", "never to another site");
        let cookie = headers[header::SET_COOKIE].to_str().unwrap().to_owned();
        assert!(cookie.starts_with(&format!("bel_token={TOKEN};")), "{cookie}");
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");

        // With the cookie the page is served (503 here: the database is unreachable).
        let with_cookie =
            Request::get("/diagrams").header(header::COOKIE, format!("bel_token={TOKEN}")).body(Body::empty());
        assert_eq!(call(&app, with_cookie.unwrap()).await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
