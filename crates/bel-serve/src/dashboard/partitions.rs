//! `/partitions`: partition status under a glob filter, paged on the server (one index range
//! scan per page however many partitions there are), with counts per status.
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use bel_core::pb::PartitionStatus;
use bel_core::status::Status;
use maud::{html, Markup};

use crate::api::params::{to_i32, Params};
use crate::dashboard::error::PageError;
use crate::dashboard::format;
use crate::dashboard::layout::{Page, Section};
use crate::dashboard::tone::{pill, Tone};
use crate::error::ApiError;
use crate::queries::{self, PartitionRow};
use crate::state::AppState;

/// Partitions per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 100;
/// Most partitions per page.
pub const MAX_LIMIT: i64 = 1000;

/// Splits a filter box's text into globs: commas separate them, except inside `{a,b}`
/// alternatives or after a backslash.
pub fn split_patterns(text: &str) -> Vec<String> {
    let mut patterns = Vec::new();
    let mut current = String::new();
    let (mut depth, mut escaped) = (0usize, false);
    for c in text.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                patterns.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    patterns.push(current);
    patterns.into_iter().map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}

/// The globs of every `pattern` parameter (repeatable, each comma-separated), checked.
pub fn patterns(params: &Params) -> Result<Vec<String>, ApiError> {
    let patterns: Vec<String> = params.all("pattern").iter().flat_map(|text| split_patterns(text)).collect();
    for pattern in &patterns {
        bel_core::filter::compile_glob(pattern)?;
    }
    Ok(patterns)
}

pub async fn show(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<(StatusCode, Markup), PageError> {
    let params = Params::parse(query.as_deref(), &["pattern", "after", "limit"])?;
    let limit = params.integer("limit", DEFAULT_LIMIT, 1..=MAX_LIMIT, "the next-page link keeps the limit")?;
    let after = params.single("after")?.filter(|after| !after.is_empty());
    let patterns = match patterns(&params) {
        Ok(patterns) => patterns,
        // The page with the filter box and the reason, so the person can correct it.
        Err(error) => return Ok((StatusCode::BAD_REQUEST, refused(&params, &error))),
    };
    let db = state.db();
    let (rows, counts) = tokio::try_join!(
        queries::partitions(db, &patterns, after, to_i32(limit)),
        queries::partition_counts(db, &patterns),
    )?;
    let next = (rows.len() as i64 == limit).then(|| rows.last().map(|row| row.partition_ref.as_str())).flatten();
    let filter_text = patterns.join(", ");
    let page = Page::new("Partitions", Section::Partitions).render(html! {
        h1 { "Partitions" }
        (filter_form(&filter_text, None))
        section.card {
            (status_tiles(&counts, &patterns))
        }
        section.card {
            @if rows.is_empty() {
                p.empty { "No partition matches." }
            } @else {
                (table(&rows))
            }
            (pager(&patterns, after, next, limit))
        }
    });
    Ok((StatusCode::OK, page))
}

/// The page for a filter that is not a valid glob: the box, the reason, no table.
fn refused(params: &Params, error: &ApiError) -> Markup {
    let text = params.all("pattern").join(", ");
    Page::new("Partitions", Section::Partitions).render(html! {
        h1 { "Partitions" }
        (filter_form(&text, Some(error)))
    })
}

fn filter_form(text: &str, error: Option<&ApiError>) -> Markup {
    html! {
        form.filter method="get" action="/partitions" {
            label for="pattern" { "Partition glob" }
            input #pattern type="text" name="pattern" value=(text) placeholder="data/users/*, reports/**"
                autocomplete="off" spellcheck="false";
            button type="submit" { "Filter" }
            @if !text.is_empty() { a.button.secondary href="/partitions" { "Clear" } }
            p.help { "Globs separated by commas: " code { "*" } " and " code { "?" } " within a segment, "
                code { "**" } " across segments, " code { "[a-z]" } ", " code { "{a,b}" } "." }
            @if let Some(error) = error {
                p.error role="alert" { (error.message) }
            }
        }
    }
}

/// Counts per status (every status, in lifecycle order), each tile linking to the
/// partitions page with the same filter, above a bar of the proportions.
pub fn status_tiles(counts: &[(String, i64)], patterns: &[String]) -> Markup {
    let count_of = |status: &str| counts.iter().find(|(s, _)| s == status).map_or(0, |(_, n)| *n);
    let total: i64 = counts.iter().map(|(_, n)| n).sum();
    let link = format!(
        "/partitions{}",
        if patterns.is_empty() {
            String::new()
        } else {
            format!("?{}", format::query([("pattern", patterns.join(", ").as_str())]))
        }
    );
    html! {
        div.tiles {
            a.tile.total href=(link) {
                span.count { (format::count(total)) }
                span.label { "partitions" }
            }
            @for status in PartitionStatus::ALL {
                @let name = status.short_name();
                a class={ "tile " (Tone::of(name).class()) } href=(link) data-status=(name) {
                    span.count { (format::count(count_of(name))) }
                    span.label { (name.to_lowercase()) }
                }
            }
        }
        @if total > 0 {
            svg.proportions viewBox="0 0 1000 10" preserveAspectRatio="none" role="img" aria-label="partitions by status" {
                @for (name, n, x, width) in proportions(&count_of, total) {
                    rect class=(Tone::of(name).class()) x=(format!("{x:.2}")) y="0" width=(format!("{width:.2}")) height="10" {
                        title { (name) ": " (format::count(n)) }
                    }
                }
            }
        }
    }
}

/// (status, count, x, width) of each non-empty status's segment of a 1000-wide bar.
fn proportions(count_of: &dyn Fn(&str) -> i64, total: i64) -> Vec<(&'static str, i64, f64, f64)> {
    let mut x = 0.0;
    let mut segments = Vec::new();
    for status in PartitionStatus::ALL {
        let n = count_of(status.short_name());
        let width = n as f64 / total as f64 * 1000.0;
        if n > 0 {
            segments.push((status.short_name(), n, x, width));
        }
        x += width;
    }
    segments
}

fn table(rows: &[PartitionRow]) -> Markup {
    html! {
        table.grid #partitions {
            thead { tr { th { "Partition" } th { "Status" } th { "Build" } th { "Job run" } th.num { "Last idx" } th { "Updated" } } }
            tbody {
                @for row in rows {
                    tr data-ref=(row.partition_ref) {
                        td.mono { (row.partition_ref) }
                        td { (pill(&row.status)) }
                        td { a.mono href=(format::build_url(&row.build_request_id)) { (row.build_request_id) } }
                        td {
                            @if let Some(run) = &row.job_run_id {
                                a.mono href=(format::job_run_url(&row.build_request_id, run)) { (run) }
                            } @else { span.muted { "—" } }
                        }
                        td.num { (row.last_idx) }
                        td.nowrap { (format::time(&row.updated_at)) }
                    }
                }
            }
        }
    }
}

fn pager(patterns: &[String], after: Option<&str>, next: Option<&str>, limit: i64) -> Markup {
    let link = |after: Option<&str>| {
        let limit = limit.to_string();
        let joined = patterns.join(", ");
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        if !joined.is_empty() {
            pairs.push(("pattern", joined.as_str()));
        }
        if let Some(after) = after {
            pairs.push(("after", after));
        }
        if limit != DEFAULT_LIMIT.to_string() {
            pairs.push(("limit", limit.as_str()));
        }
        format!("/partitions?{}", format::query(pairs))
    };
    html! {
        nav.pager {
            @if after.is_some() { a href=(link(None)) { "← First page" } }
            @if let Some(next) = next { a.next href=(link(Some(next))) rel="next" { "Next page →" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commas_split_globs_but_not_alternatives() {
        assert_eq!(split_patterns("data/users/*, reports/*"), vec!["data/users/*", "reports/*"]);
        assert_eq!(split_patterns("data/{a,b}/*,x"), vec!["data/{a,b}/*", "x"]);
        assert_eq!(split_patterns(r"data/a\,b, c"), vec![r"data/a\,b", "c"]);
        assert_eq!(split_patterns(" , ,"), Vec::<String>::new());
        let params = Params::parse(Some("pattern=a/*,b/*&pattern=c"), &["pattern"]).unwrap();
        assert_eq!(patterns(&params).unwrap(), vec!["a/*", "b/*", "c"]);
        let bad = Params::parse(Some("pattern=data/%5Ba"), &["pattern"]).unwrap();
        assert_eq!(patterns(&bad).unwrap_err().code, "22023");
    }

    #[test]
    fn tiles_show_every_status_and_the_total() {
        let html = status_tiles(&[("AVAILABLE".into(), 1200), ("FAILED".into(), 3)], &["data/*".into()]).into_string();
        assert!(html.contains("1,203"), "{html}");
        for status in PartitionStatus::ALL {
            assert!(html.contains(&format!("data-status=\"{}\"", status.short_name())));
        }
        assert!(html.contains("href=\"/partitions?pattern=data%2F*\""), "{html}");
    }
}
