//! `/login`: when bel serve has a bearer token, a person enters it once here and the
//! dashboard keeps it in an HttpOnly cookie, which the token check accepts like the
//! Authorization header (crate::auth). Pages asked for without it redirect here.
use axum::extract::{Form, RawQuery, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{html, Markup};

use crate::api::params::Params;
use crate::auth::{same, TOKEN_COOKIE};
use crate::dashboard::error::PageError;
use crate::dashboard::format;
use crate::dashboard::layout::{Page, Section};
use crate::state::AppState;

/// How long the browser keeps the token: 30 days.
const COOKIE_MAX_AGE_SECONDS: u32 = 30 * 24 * 3600;

#[derive(serde::Deserialize)]
pub struct Login {
    token: String,
    #[serde(default)]
    next: String,
}

/// Where to go after logging in: a path on this server, else the overview (never another
/// site: `//host` and `/\host` are refused).
fn local_target(next: &str) -> &str {
    let local = next.starts_with('/') && !next.starts_with("//") && !next.starts_with("/\\");
    if local {
        next
    } else {
        "/"
    }
}

pub async fn form(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Markup, PageError> {
    let params = Params::parse(query.as_deref(), &["next"])?;
    let next = local_target(params.single("next")?.unwrap_or("/"));
    Ok(page(state.token().is_some(), next, None))
}

pub async fn submit(State(state): State<AppState>, Form(login): Form<Login>) -> Response {
    let next = local_target(&login.next).to_owned();
    let Some(token) = state.token() else {
        return Redirect::to(&next).into_response();
    };
    let presented = login.token.trim();
    if !same(presented, token.as_str()) {
        let page = page(true, &next, Some("That is not the token bel serve was started with."));
        return (StatusCode::UNAUTHORIZED, page).into_response();
    }
    // A token with characters a cookie cannot hold (RFC 6265 cookie-octet) cannot be kept.
    let cookie_safe = presented.bytes().all(|b| b.is_ascii_graphic() && !matches!(b, b'"' | b',' | b';' | b'\\'));
    let cookie =
        format!("{TOKEN_COOKIE}={presented}; Path=/; Max-Age={COOKIE_MAX_AGE_SECONDS}; HttpOnly; SameSite=Strict");
    match HeaderValue::from_str(&cookie) {
        Ok(value) if cookie_safe => {
            let mut response = Redirect::to(&next).into_response();
            response.headers_mut().insert(header::SET_COOKIE, value);
            response
        }
        _ => {
            let page = page(
                true,
                &next,
                Some(
                    "This token holds characters a cookie cannot keep (\" , ; \\): use the \
                 Authorization header, or start bel serve with a token of letters and digits.",
                ),
            );
            (StatusCode::BAD_REQUEST, page).into_response()
        }
    }
}

fn page(token_configured: bool, next: &str, problem: Option<&str>) -> Markup {
    Page::new("Log in", Section::None).render(html! {
        section.card.login {
            h1 { "Log in" }
            @if token_configured {
                p { "This bel serve needs its bearer token (the content of its " code { "--token-file" } "). "
                    "It is kept in a cookie in this browser for 30 days." }
                form method="post" action="/login" {
                    input type="hidden" name="next" value=(next);
                    label for="token" { "Token" }
                    input #token type="password" name="token" autocomplete="current-password" required autofocus;
                    button type="submit" { "Log in" }
                }
                @if let Some(problem) = problem { p.error role="alert" { (problem) } }
            } @else {
                p { "This bel serve has no token: the dashboard is open." }
                p { a href=(next) { "Continue" } }
            }
        }
    })
}

/// Middleware around the token check: a browser asking for a page without the token is sent
/// to the login form (and back afterwards) instead of getting the JSON 401.
pub async fn redirect_to_login(request: Request, next: Next) -> Response {
    let wants_page = request.method() == Method::GET
        && request
            .headers()
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok())
            .is_some_and(|accept| accept.contains("text/html"));
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str()).to_owned();
    let response = next.run(request).await;
    if wants_page && response.status() == StatusCode::UNAUTHORIZED {
        Redirect::to(&format!("/login?{}", format::query([("next", target.as_str())]))).into_response()
    } else {
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_targets() {
        assert_eq!(local_target("/builds/b1?x=1"), "/builds/b1?x=1");
        for foreign in ["//evil.example/", "/\\evil.example", "https://evil.example/", ""] {
            assert_eq!(local_target(foreign), "/", "{foreign}");
        }
    }
}
