//! The HTTP routes and the layers around them.
//!
//! Layer order (outermost first): metrics (counts every routed request under its route
//! template), then the dashboard's login redirect (a browser without the token is sent to
//! /login), then the token check, then the handler. The login form and the dashboard's
//! assets are merged after the token check: they must work without it. Requests no route
//! matches get the 404 error body.
use axum::middleware;
use axum::Router;

use crate::state::AppState;
use crate::{api, auth, dashboard, metrics};

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api::routes())
        .merge(dashboard::pages())
        .route_layer(middleware::from_fn_with_state(state.clone(), auth::require_token))
        .route_layer(middleware::from_fn(dashboard::redirect_to_login))
        .merge(dashboard::open_routes())
        .route_layer(middleware::from_fn_with_state(state.clone(), metrics::track))
        .method_not_allowed_fallback(api::method_not_allowed)
        .fallback(api::no_route)
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tokio_util::sync::CancellationToken;
    use tower::ServiceExt;

    use super::*;
    use crate::config::BearerToken;
    use crate::db::Db;
    use crate::longpoll::Hub;
    use crate::metrics::Metrics;

    const TOKEN: &str = "0123456789abcdef0123";

    /// A router whose database is unreachable (nothing listens on port 1).
    fn app(token: Option<&str>) -> (Router, AppState) {
        let metrics = Arc::new(Metrics::new());
        let config: bel_client::DatabaseConfig = "host=127.0.0.1 port=1 user=nobody connect_timeout=2".parse().unwrap();
        let db = Db::new(config.config().clone(), config.tls_connector(), 2, metrics.clone()).unwrap();
        let hub = Arc::new(Hub::new(metrics.clone(), CancellationToken::new()));
        let state = AppState::new(db, hub, metrics, token.map(|t| BearerToken::new(t).unwrap()));
        (router(state.clone()), state)
    }

    async fn call(app: &Router, request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = app.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status, parts.headers, json)
    }

    fn get(uri: &str) -> Request<Body> {
        Request::get(uri).body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn errors_are_json_with_code_message_hint() {
        let (app, state) = app(None);
        let (status, headers, body) = call(&app, get("/v1/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(headers["content-type"], "application/json");
        assert_eq!(body["code"], "not_found");
        assert!(body["hint"].as_str().unwrap().contains("/v1/events"));

        let (status, _, body) = call(&app, get("/v1/events?since_idx=abc")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("22P02")));
        let (status, _, body) = call(&app, get("/v1/partitions?pattern=data/%5Ba")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("22023")));
        let (status, _, body) = call(&app, get("/v1/job_runs?status=BOGUS")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("22023")));

        let post = Request::post("/v1/events").body(Body::empty()).unwrap();
        let (status, headers, body) = call(&app, post).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed")));
        assert_eq!(headers["allow"], "GET, HEAD");

        let text = state.metrics().encode();
        assert!(text.contains(r#"bel_http_requests_total{route="/v1/events",status="400"} 1"#), "{text}");
        assert!(text.contains(r#"bel_http_requests_total{route="unmatched",status="404"} 1"#), "{text}");
    }

    #[tokio::test]
    async fn an_unreachable_database_is_503() {
        let (app, state) = app(None);
        for uri in ["/v1/events", "/v1/partitions", "/v1/builds", "/v1/builds/b1", "/v1/job_runs", "/healthz"] {
            let (status, _, body) = call(&app, get(uri)).await;
            assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{uri}: {body}");
            assert_eq!(body["code"], "database_unavailable", "{uri}");
            assert!(body["message"].as_str().unwrap().contains("unavailable"), "{uri}: {body}");
        }
        assert!(state.metrics().encode().contains(r#"bel_database_errors_total{kind="unreachable"}"#));
    }

    #[tokio::test]
    async fn with_a_token_every_route_but_healthz_needs_it() {
        let (app, _) = app(Some(TOKEN));
        let (status, headers, body) = call(&app, get("/metrics")).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("unauthorized")));
        assert_eq!(headers["www-authenticate"], "Bearer realm=\"bel\"");
        let (status, _, _) = call(&app, get("/v1/events?since_idx=abc")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "the token is checked before the parameters");
        let wrong = Request::get("/metrics").header("authorization", "Bearer nope").body(Body::empty()).unwrap();
        assert_eq!(call(&app, wrong).await.0, StatusCode::UNAUTHORIZED);

        let bearer = Request::get("/metrics").header("authorization", format!("Bearer {TOKEN}")).body(Body::empty());
        let (status, headers, _) = call(&app, bearer.unwrap()).await;
        assert_eq!(status, StatusCode::OK);
        assert!(headers["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
        let cookie = Request::get("/metrics").header("cookie", format!("bel_token={TOKEN}")).body(Body::empty());
        assert_eq!(call(&app, cookie.unwrap()).await.0, StatusCode::OK);
        // /healthz is open (here 503: the database is unreachable, but not 401).
        assert_eq!(call(&app, get("/healthz")).await.0, StatusCode::SERVICE_UNAVAILABLE);
    }
}
