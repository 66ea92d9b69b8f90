//! A page that could not be shown, as a readable HTML page with the right status: 503 while
//! the database is unreachable (the page reloads itself), 404 for a build that does not
//! exist, 400 for a bad parameter.
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use maud::html;

use crate::dashboard::layout::{Page, Section};
use crate::db::DbError;
use crate::error::ApiError;

/// How often the database-unavailable page reloads itself.
const RETRY_SECONDS: u32 = 5;

#[derive(Debug)]
pub struct PageError(pub ApiError);

impl From<ApiError> for PageError {
    fn from(error: ApiError) -> Self {
        PageError(error)
    }
}

impl From<DbError> for PageError {
    fn from(error: DbError) -> Self {
        PageError(ApiError::from(error))
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let PageError(error) = self;
        let unavailable = error.status == StatusCode::SERVICE_UNAVAILABLE;
        let title = match error.status {
            StatusCode::SERVICE_UNAVAILABLE => "The database is unavailable",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::BAD_REQUEST => "Bad request",
            _ => "Something went wrong",
        };
        let mut page = Page::new(title, Section::None);
        if unavailable {
            page = page.refresh(RETRY_SECONDS);
        }
        let body = page.render(html! {
            section.card.problem {
                h1 { (title) }
                p { (error.message) }
                @if let Some(hint) = &error.hint {
                    p.muted { (hint) }
                }
                @if unavailable {
                    p.muted { "This page tries again every " (RETRY_SECONDS) " seconds." }
                }
                p.muted { "code " code { (error.code) } }
                p { a href="/" { "Overview" } }
            }
        });
        (error.status, body).into_response()
    }
}
