//! Bearer-token access: when a token is configured, every route but /healthz needs
//! `Authorization: Bearer <token>` (or the dashboard's cookie holding the same token).
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::state::AppState;

/// The one route open without a token (load balancers and orchestrators probe it).
pub const OPEN_ROUTE: &str = "/healthz";
/// The cookie the dashboard keeps the token in, once a person has entered it.
pub const TOKEN_COOKIE: &str = "bel_token";

/// Middleware: lets the request through when no token is configured, for /healthz, or
/// when it presents the token; answers 401 otherwise.
pub async fn require_token(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(token) = state.token() else {
        return next.run(request).await;
    };
    if request.uri().path() == OPEN_ROUTE || presented_tokens(request.headers()).any(|t| same(t, token.as_str())) {
        next.run(request).await
    } else {
        ApiError::unauthorized().into_response()
    }
}

/// Tokens the request carries: the bearer credentials and the dashboard cookie.
fn presented_tokens(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    let bearer =
        headers.get_all(header::AUTHORIZATION).iter().filter_map(|value| value.to_str().ok()).filter_map(|value| {
            let (scheme, credentials) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| credentials.trim())
        });
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='));
    bearer.chain(cookie)
}

/// Compares digests, so the time taken does not depend on where the strings differ.
pub fn same(presented: &str, token: &str) -> bool {
    Sha256::digest(presented.as_bytes()) == Sha256::digest(token.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn bearer_and_cookie_tokens_are_found() {
        let mut headers = HeaderMap::new();
        assert_eq!(presented_tokens(&headers).count(), 0);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Bearer abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("theme=dark; bel_token=xyz"));
        assert_eq!(presented_tokens(&headers).collect::<Vec<_>>(), vec!["abc", "xyz"]);
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        headers.insert(header::COOKIE, HeaderValue::from_static("bel_tokenx=1"));
        assert_eq!(presented_tokens(&headers).count(), 0);
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
    }
}
