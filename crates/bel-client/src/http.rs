//! [`HttpGraphService`]: the [`GraphService`] over `bel serve`'s HTTP API
//! (docs/http-api.md), for graphs that cannot reach the database. Pages come as binary
//! `bel.v1.EventPage`; a follower long-polls (`wait_ms`), so the server answers as soon as
//! a matching event commits and holds no database connection while it waits.
use std::time::Duration;

use bel_core::pb::{EventFilter, EventPage};
use bel_core::{ErrorClass, Rejection};
use prost::Message;
use reqwest::header::{self, HeaderValue};
use reqwest::{StatusCode, Url};

use crate::cursor::{FollowAction, FollowCursor};
use crate::error::{Error, HttpError, Result};
use crate::partition::{self, partition_filter};
use crate::service::GraphService;
use crate::sql::{page_limit_param, PartitionStatusRow};
use crate::subscription::{FollowedPage, PageSource, SubscribeOptions, Subscription};

/// The media type of binary protobuf pages.
pub const PROTOBUF_MEDIA_TYPE: &str = "application/x-protobuf";

/// How long a request may take beyond the long poll it asked for (page transfer, a slow
/// server) before it counts as a lost connection.
const REQUEST_SLACK: Duration = Duration::from_secs(30);

/// A [`GraphService`] over the HTTP API of `bel serve`. Cheap to clone (the connection
/// pool is shared); `https://` URLs use rustls with the Mozilla root certificates (pass
/// your own client to [`HttpGraphService::with_http_client`] for other roots).
#[derive(Debug, Clone)]
pub struct HttpGraphService {
    client: reqwest::Client,
    events_url: Url,
    bearer_token: Option<String>,
}

impl HttpGraphService {
    /// A service for the server at `base_url`, e.g. `http://127.0.0.1:8080` (a path prefix
    /// such as `https://ci.example/bel/` is kept). Nothing is sent until the first call.
    pub fn new(base_url: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .tcp_keepalive(Duration::from_secs(30))
            .build()
            .map_err(Error::Transport)?;
        Self::with_http_client(base_url, client)
    }

    /// Like [`HttpGraphService::new`] with a client of your own (proxies, root
    /// certificates, client certificates, timeouts).
    pub fn with_http_client(base_url: &str, client: reqwest::Client) -> Result<Self> {
        let bad_url = |reason: String| {
            Error::Rejected(
                Rejection::new(ErrorClass::InvalidValue, format!("invalid bel serve URL {base_url:?}: {reason}"))
                    .hint("give the server's base URL, e.g. http://127.0.0.1:8080"),
            )
        };
        let mut base = Url::parse(base_url).map_err(|e| bad_url(e.to_string()))?;
        if !matches!(base.scheme(), "http" | "https") {
            return Err(bad_url("the scheme must be http or https".into()));
        }
        // Url::join replaces the last path segment unless the path ends with '/'.
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        base.set_query(None);
        let events_url = base.join("v1/events").map_err(|e| bad_url(e.to_string()))?;
        Ok(HttpGraphService { client, events_url, bearer_token: None })
    }

    /// Sends `Authorization: Bearer <token>` with every request (a server started with
    /// `--token-file` requires it).
    pub fn with_bearer_token(mut self, token: impl Into<String>) -> Self {
        self.bearer_token = Some(token.into());
        self
    }

    /// `GET /v1/events`: one page after `since_idx`; with a non-zero `wait` the server
    /// holds the request while the page would be empty (at most 30 s).
    pub async fn events_page(
        &self,
        since_idx: i64,
        filter: &EventFilter,
        limit: i64,
        wait: Duration,
    ) -> Result<EventPage> {
        page_limit_param(limit)?;
        let url = events_url(&self.events_url, since_idx, filter, limit, wait);
        let mut request = self
            .client
            .get(url)
            .header(header::ACCEPT, HeaderValue::from_static(PROTOBUF_MEDIA_TYPE))
            .timeout(wait + REQUEST_SLACK);
        if let Some(token) = &self.bearer_token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.map_err(Error::Transport)?;
        let status = response.status();
        let content_type = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.bytes().await.map_err(Error::Transport)?;
        if status.is_success() {
            decode_page(&content_type, &body)
        } else {
            Err(Error::Http(Box::new(decode_error(status, &body))))
        }
    }
}

impl GraphService for HttpGraphService {
    async fn list_events(&self, since_idx: i64, filter: &EventFilter, limit: i64) -> Result<EventPage> {
        self.events_page(since_idx, filter, limit, Duration::ZERO).await
    }

    /// The stream long-polls `GET /v1/events` with `wait_ms` = `options.long_poll_wait`.
    fn subscribe_with(&self, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Subscription {
        let follower = HttpFollower::new(self.clone(), filter, since_idx, options.clone());
        Subscription::from_source(follower, since_idx, options)
    }

    async fn wait_for_partition(&self, partition_ref: &str, timeout: Duration) -> Result<PartitionStatusRow> {
        let follower = HttpFollower::new(self.clone(), partition_filter(partition_ref), 0, SubscribeOptions::default());
        partition::wait_for_partition(follower, partition_ref, timeout).await
    }
}

/// The URL of one page request: every filter value as its own repeated parameter.
fn events_url(base: &Url, since_idx: i64, filter: &EventFilter, limit: i64, wait: Duration) -> Url {
    let mut url = base.clone();
    {
        let mut query = url.query_pairs_mut();
        query.append_pair("since_idx", &since_idx.to_string());
        query.append_pair("limit", &limit.to_string());
        for (name, values) in [
            ("partition_ref", &filter.partition_refs),
            ("partition_pattern", &filter.partition_patterns),
            ("job_label", &filter.job_labels),
            ("job_run_id", &filter.job_run_ids),
        ] {
            for value in values {
                query.append_pair(name, value);
            }
        }
        if !wait.is_zero() {
            query.append_pair("wait_ms", &wait.as_millis().to_string());
        }
    }
    url
}

/// A page as binary protobuf (asked for), or as proto3 JSON (from a server or proxy that
/// ignored the Accept header).
fn decode_page(content_type: &str, body: &[u8]) -> Result<EventPage> {
    let decode_error = |reason: String| Error::Decode { what: "bel.v1.EventPage", reason };
    let media_type = content_type.split(';').next().unwrap_or_default().trim();
    if media_type.eq_ignore_ascii_case(PROTOBUF_MEDIA_TYPE) {
        EventPage::decode(body).map_err(|e| decode_error(e.to_string()))
    } else if media_type.eq_ignore_ascii_case("application/json") {
        serde_json::from_slice(body).map_err(|e| decode_error(e.to_string()))
    } else {
        Err(decode_error(format!("unexpected content type {content_type:?}")))
    }
}

/// The server's `{"code","message","hint"}`; for a body that is not one (a proxy's error
/// page), the status as the code and the start of the body as the message.
fn decode_error(status: StatusCode, body: &[u8]) -> HttpError {
    let parsed = serde_json::from_slice::<serde_json::Value>(body).ok();
    let field = |name: &str| {
        parsed.as_ref().and_then(|value| value.get(name)).and_then(|value| value.as_str()).map(str::to_string)
    };
    match (field("code"), field("message")) {
        (Some(code), Some(message)) => HttpError { status: status.as_u16(), code, message, hint: field("hint") },
        _ => {
            let text = String::from_utf8_lossy(body);
            let text: String = text.trim().chars().take(200).collect();
            HttpError {
                status: status.as_u16(),
                code: status.as_str().to_string(),
                message: if text.is_empty() {
                    status.canonical_reason().unwrap_or("no reason given").to_string()
                } else {
                    text
                },
                hint: None,
            }
        }
    }
}

/// Pages through the log over HTTP. The server's long poll does the waiting the cursor
/// asks for: it answers when a matching event becomes readable, including when an
/// in-flight append that stopped the page ends, so there is no separate wait here.
struct HttpFollower {
    service: HttpGraphService,
    filter: EventFilter,
    options: SubscribeOptions,
    cursor: FollowCursor,
    next_action: FollowAction,
}

impl HttpFollower {
    fn new(service: HttpGraphService, filter: EventFilter, since_idx: i64, options: SubscribeOptions) -> Self {
        let cursor = FollowCursor::new(since_idx, options.page_limit);
        HttpFollower { service, filter, options, cursor, next_action: FollowAction::FetchPage }
    }
}

impl PageSource for HttpFollower {
    async fn next_page(&mut self) -> Result<FollowedPage> {
        self.options.validate()?;
        let wait = match self.next_action {
            // More is readable now: ask without holding.
            FollowAction::FetchPage => Duration::ZERO,
            FollowAction::WaitForAppend(_) | FollowAction::WaitForWakeup => self.options.long_poll_wait,
        };
        let page =
            self.service.events_page(self.cursor.since_idx(), &self.filter, self.cursor.page_limit(), wait).await?;
        let accepted = self.cursor.accept_page(page).map_err(Error::PageContract)?;
        self.next_action = accepted.action;
        Ok(FollowedPage { events: accepted.events, caught_up: accepted.action != FollowAction::FetchPage })
    }

    fn since_idx(&self) -> i64 {
        self.cursor.since_idx()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bel_core::pb::BuildEvent;

    #[test]
    fn base_urls_keep_their_prefix() {
        let url = |base: &str| HttpGraphService::new(base).map(|s| s.events_url.to_string());
        assert_eq!(url("http://127.0.0.1:8080").unwrap(), "http://127.0.0.1:8080/v1/events");
        assert_eq!(url("https://ci.example/bel").unwrap(), "https://ci.example/bel/v1/events");
        assert_eq!(url("https://ci.example/bel/?x=1").unwrap(), "https://ci.example/bel/v1/events");
        assert_eq!(url("ftp://x").unwrap_err().sqlstate(), Some("22023"));
        assert_eq!(url("not a url").unwrap_err().sqlstate(), Some("22023"));
    }

    #[test]
    fn filters_become_repeated_parameters() {
        let base = Url::parse("http://h/v1/events").unwrap();
        let filter = EventFilter {
            partition_refs: vec!["data/a b".into(), "x&y=z".into()],
            partition_patterns: vec!["data/users/*".into()],
            job_labels: vec!["etl".into()],
            job_run_ids: vec!["j1".into()],
        };
        let url = events_url(&base, 7, &filter, 100, Duration::from_secs(25));
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let expected = [
            ("since_idx", "7"),
            ("limit", "100"),
            ("partition_ref", "data/a b"),
            ("partition_ref", "x&y=z"),
            ("partition_pattern", "data/users/*"),
            ("job_label", "etl"),
            ("job_run_id", "j1"),
            ("wait_ms", "25000"),
        ];
        assert_eq!(pairs, expected.map(|(k, v)| (k.to_string(), v.to_string())));
        let url = events_url(&base, 0, &EventFilter::default(), 1, Duration::ZERO);
        assert_eq!(url.query(), Some("since_idx=0&limit=1"));
    }

    #[test]
    fn pages_decode_from_protobuf_or_json() {
        let page = EventPage {
            events: vec![BuildEvent { idx: 3, build_request_id: "b".into(), ..Default::default() }],
            next_idx: 9,
            has_more: true,
            in_flight_idx: 10,
            replay_behind: false,
        };
        assert_eq!(decode_page("application/x-protobuf", &page.encode_to_vec()).unwrap(), page);
        let json = serde_json::to_vec(&page).unwrap();
        assert_eq!(decode_page("application/json; charset=utf-8", &json).unwrap(), page);
        assert!(matches!(decode_page("text/html", b"<html>"), Err(Error::Decode { .. })));
        assert!(matches!(decode_page(PROTOBUF_MEDIA_TYPE, b"\xff\xff"), Err(Error::Decode { .. })));
    }

    #[test]
    fn error_bodies_become_errors_with_their_sqlstate() {
        let body = br#"{"code":"22023","message":"limit must be between 1 and 10000, got 0","hint":"page through"}"#;
        let error = Error::Http(Box::new(decode_error(StatusCode::BAD_REQUEST, body)));
        assert_eq!(error.sqlstate(), Some("22023"));
        assert_eq!(error.message(), "limit must be between 1 and 10000, got 0");
        assert_eq!(error.hint(), Some("page through"));

        let body = br#"{"code":"database_unavailable","message":"the database is unavailable","hint":null}"#;
        let error = decode_error(StatusCode::SERVICE_UNAVAILABLE, body);
        assert_eq!((error.status, error.code.as_str(), error.hint), (503, "database_unavailable", None));

        let error = decode_error(StatusCode::BAD_GATEWAY, b"<html>upstream down</html>");
        assert_eq!((error.code.as_str(), error.message.as_str()), ("502", "<html>upstream down</html>"));
        assert_eq!(decode_error(StatusCode::GATEWAY_TIMEOUT, b"").message, "Gateway Timeout");
    }
}
