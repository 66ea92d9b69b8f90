//! `/tail`: the log as it grows, filtered by partition glob and job label. The page holds
//! the filter and a starting cursor; assets/tail.js reads `/v1/events` from there (the JSON
//! API, long-polled: the same no-loss cursor every follower uses) and prepends the rows.
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use bel_core::filter::CompiledFilter;
use bel_core::pb::EventFilter;
use maud::{html, Markup};

use crate::api::params::Params;
use crate::dashboard::assets::TAIL_SCRIPT;
use crate::dashboard::error::PageError;
use crate::dashboard::layout::{Page, Section};
use crate::dashboard::partitions::{patterns, split_patterns};
use crate::dashboard::queries::newest_idx;
use crate::dashboard::tone;
use crate::error::ApiError;
use crate::state::AppState;

/// The tail starts this many events below the newest, so the page opens with recent
/// history (of those, the matching ones) instead of empty.
pub const BACKLOG: i64 = 500;
/// Rows kept on the page; older ones are dropped as new ones arrive.
pub const MAX_ROWS: usize = 500;

pub async fn show(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<(StatusCode, Markup), PageError> {
    let params = Params::parse(query.as_deref(), &["pattern", "job_label"])?;
    let labels: Vec<String> = params.all("job_label").iter().flat_map(|text| split_patterns(text)).collect();
    let checked = patterns(&params).and_then(|partition_patterns| {
        let filter = EventFilter { partition_patterns, job_labels: labels.clone(), ..Default::default() };
        CompiledFilter::new(&filter).map_err(ApiError::from)?;
        Ok(filter)
    });
    let pattern_text = params.all("pattern").join(", ");
    let label_text = labels.join(", ");
    let filter = match checked {
        Ok(filter) => filter,
        Err(error) => {
            let page = Page::new("Live tail", Section::Tail).render(html! {
                h1 { "Live tail" }
                (filter_form(&pattern_text, &label_text, Some(&error)))
            });
            return Ok((StatusCode::BAD_REQUEST, page));
        }
    };
    let since = (newest_idx(state.db()).await? - BACKLOG).max(0);
    // The query parameters of /v1/events the script sends with every read.
    let mut api_filter: Vec<(&str, &str)> = Vec::new();
    api_filter.extend(filter.partition_patterns.iter().map(|p| ("partition_pattern", p.as_str())));
    api_filter.extend(filter.job_labels.iter().map(|l| ("job_label", l.as_str())));
    let api_filter = serde_json::to_string(&api_filter).unwrap_or_else(|_| "[]".to_owned());
    let page = Page::new("Live tail", Section::Tail).script(&TAIL_SCRIPT).render(html! {
        h1 { "Live tail" }
        (filter_form(&pattern_text, &label_text, None))
        section.card {
            div.card-head {
                p #tail-status .status data-state="starting" role="status" { "Connecting…" }
                span #tail-count .muted {}
            }
            table.grid.events #tail data-since=(since) data-filter=(api_filter) data-tones=(tone::classes_json())
                data-max-rows=(MAX_ROWS) {
                thead { tr { th.num { "idx" } th { "Time" } th { "Build" } th { "Kind" } th { "Subject" }
                    th { "Status" } th { "Detail" } } }
                tbody {}
            }
            p.muted { "Newest first. Starts with the matching events among the last " (BACKLOG)
                " of the log, then shows new ones as they are appended." }
        }
    });
    Ok((StatusCode::OK, page))
}

fn filter_form(patterns: &str, labels: &str, error: Option<&ApiError>) -> Markup {
    html! {
        form.filter method="get" action="/tail" {
            label for="pattern" { "Partition glob" }
            input #pattern type="text" name="pattern" value=(patterns) placeholder="data/users/*" autocomplete="off"
                spellcheck="false";
            label for="job_label" { "Job label" }
            input #job_label type="text" name="job_label" value=(labels) placeholder="etl/users" autocomplete="off"
                spellcheck="false";
            button type="submit" { "Follow" }
            @if !patterns.is_empty() || !labels.is_empty() { a.button.secondary href="/tail" { "Clear" } }
            p.help { "Both filters take several values separated by commas (any of them matches); "
                "an event must match both when both are given." }
            @if let Some(error) = error {
                p.error role="alert" { (error.message) }
            }
        }
    }
}
