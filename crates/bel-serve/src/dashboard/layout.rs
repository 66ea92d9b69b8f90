//! The frame around every page (head, header navigation, main column) and the headers every
//! page is sent with.
use axum::http::{header, HeaderValue};
use axum::response::Response;
use maud::{html, Markup, DOCTYPE};

use crate::dashboard::assets::{self, Asset};

/// The navigation entries; the current one is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Overview,
    Partitions,
    Builds,
    Tail,
    Diagrams,
    /// Login and error pages.
    None,
}

const NAVIGATION: [(Section, &str, &str); 5] = [
    (Section::Overview, "/", "Overview"),
    (Section::Partitions, "/partitions", "Partitions"),
    (Section::Builds, "/builds", "Builds"),
    (Section::Tail, "/tail", "Live tail"),
    (Section::Diagrams, "/diagrams", "State diagrams"),
];

/// A page being rendered.
pub struct Page<'a> {
    title: &'a str,
    section: Section,
    script: Option<&'static Asset>,
    refresh_seconds: Option<u32>,
}

impl<'a> Page<'a> {
    pub fn new(title: &'a str, section: Section) -> Self {
        Page { title, section, script: None, refresh_seconds: None }
    }

    /// Loads `script` (deferred) with the page.
    pub fn script(mut self, script: &'static Asset) -> Self {
        self.script = Some(script);
        self
    }

    /// Reloads the page every `seconds` (the database-unavailable page retries by itself).
    pub fn refresh(mut self, seconds: u32) -> Self {
        self.refresh_seconds = Some(seconds);
        self
    }

    pub fn render(self, body: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    @if let Some(seconds) = self.refresh_seconds {
                        meta http-equiv="refresh" content=(seconds);
                    }
                    title { (self.title) " · bel" }
                    link rel="icon" type="image/svg+xml" href=(assets::ICON.url());
                    link rel="stylesheet" href=(assets::STYLESHEET.url());
                    @if let Some(script) = self.script {
                        script src=(script.url()) defer {}
                    }
                }
                body {
                    header.top {
                        div.bar {
                            a.brand href="/" {
                                img src=(assets::ICON.url()) alt="" width="22" height="22";
                                span { "bel" }
                                small { "Build Event Log" }
                            }
                            nav {
                                @for (section, href, label) in NAVIGATION {
                                    @if section == self.section {
                                        a href=(href) aria-current="page" { (label) }
                                    } @else {
                                        a href=(href) { (label) }
                                    }
                                }
                            }
                        }
                    }
                    main { (body) }
                    footer { "bel serve · times in UTC · " a href="/healthz" { "health" } " · " a href="/metrics" { "metrics" } }
                }
            }
        }
    }
}

/// Middleware for every dashboard response: not cached (pages show live state), scripts
/// and styles only from this server (no inline script can run), not framed.
pub async fn page_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}
