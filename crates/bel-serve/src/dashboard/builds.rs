//! `/builds` (recent build requests, paged) and `/builds/{id}` (one build: its timeline,
//! partitions, job runs, delegations and events).
use std::collections::BTreeMap;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use chrono::{DateTime, Utc};
use maud::{html, Markup};
use serde::Deserialize;

use crate::api::params::{to_i32, Params};
use crate::dashboard::error::PageError;
use crate::dashboard::events::{self, describe, Described, Subject};
use crate::dashboard::format;
use crate::dashboard::layout::{Page, Section};
use crate::dashboard::queries::{self as dashboard_queries, StoredEvent};
use crate::dashboard::timeline::{self, Group, Item, Lane};
use crate::dashboard::tone::{is_final, pill};
use crate::db::DbError;
use crate::error::{code, ApiError};
use crate::queries::{self, BuildRow};
use crate::state::AppState;

/// Builds per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 50;
/// Most builds per page.
pub const MAX_LIMIT: i64 = 1000;
/// Events of one build read for its page (the timeline and the events table).
pub const EVENTS_SHOWN: i64 = 2000;
/// Partitions given a lane of their own in the timeline; the rest share one.
pub const PARTITION_LANES: usize = 30;
/// Job runs drawn in the timeline (the table lists every one).
pub const JOB_RUN_LANES: usize = 100;
/// Rows of the requested-partitions table (a build may request 10,000 partitions per event).
pub const REQUESTED_SHOWN: usize = 1000;
/// Requested partitions named in a row of the builds table.
const REFS_IN_ROW: usize = 2;

pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Markup, PageError> {
    let params = Params::parse(query.as_deref(), &["before", "limit"])?;
    let before = match params.single("before")? {
        Some(_) => Some(params.integer("before", 0, 0..=i64::MAX, "follow the older-builds link")?),
        None => None,
    };
    let limit = params.integer("limit", DEFAULT_LIMIT, 1..=MAX_LIMIT, "the older-builds link keeps the limit")?;
    let builds = queries::builds(state.db(), before, to_i32(limit)).await?;
    let next = (builds.len() as i64 == limit).then(|| builds.last().map(|b| b.first_idx)).flatten();
    let older = |before: i64| {
        let (before, limit) = (before.to_string(), limit.to_string());
        let mut pairs = vec![("before", before.as_str())];
        if limit != DEFAULT_LIMIT.to_string() {
            pairs.push(("limit", limit.as_str()));
        }
        format!("/builds?{}", format::query(pairs))
    };
    Ok(Page::new("Builds", Section::Builds).render(html! {
        h1 { "Builds" }
        section.card {
            @if builds.is_empty() {
                p.empty { "No build requests yet." }
            } @else {
                (table(&builds))
            }
            nav.pager {
                @if before.is_some() { a href="/builds" { "← Newest" } }
                @if let Some(next) = next { a.next href=(older(next)) rel="next" { "Older builds →" } }
            }
        }
    }))
}

/// Build requests, newest first: status, what they asked for, when, how long (until now
/// for those not finished).
pub fn table(builds: &[BuildRow]) -> Markup {
    let now = format::now();
    html! {
        table.grid #builds {
            thead { tr { th { "Build" } th { "Status" } th { "Requested partitions" } th { "Started" } th.num { "Duration" } } }
            tbody {
                @for build in builds {
                    @let finished = is_final(&build.status);
                    @let until = if finished { build.updated_at } else { now.max(build.updated_at) };
                    @let seconds = format::seconds_between(&build.created_at, &until);
                    tr data-build=(build.build_request_id) {
                        td { a.mono href=(format::build_url(&build.build_request_id)) { (build.build_request_id) } }
                        td { (pill(&build.status)) }
                        td {
                            @for partition_ref in build.requested_partitions.iter().take(REFS_IN_ROW) {
                                a.mono.ref href=(format::partition_url(partition_ref)) { (partition_ref) } " "
                            }
                            @if build.requested_partitions.len() > REFS_IN_ROW {
                                span.muted { "+" (build.requested_partitions.len() - REFS_IN_ROW) " more" }
                            }
                        }
                        td.nowrap { (format::time(&build.created_at)) }
                        td.num.nowrap {
                            (format::duration(seconds))
                            @if !finished { span.muted { " so far" } }
                        }
                    }
                }
            }
        }
    }
}

/// `bel.build_summary` as it answers (see src/views.rs).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Summary {
    build_request_id: String,
    status: String,
    requested_partitions: Vec<RequestedPartition>,
    delegations: Vec<Delegation>,
    job_runs: Vec<JobRun>,
    event_count: i64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RequestedPartition {
    partition_ref: String,
    status: String,
    owner_build_request_id: Option<String>,
    job_run_id: Option<String>,
    delegated_to_build_request_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Delegation {
    partition_ref: String,
    delegated_to_build_request_id: String,
    partition_status: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct JobRun {
    job_run_id: String,
    job_label: String,
    status: String,
    target_partitions: Vec<String>,
    exit_code: Option<i32>,
    message: String,
    created_at: String,
    updated_at: String,
}

impl JobRun {
    /// From scheduled to its last event, or to `now` while it has not finished.
    fn span(&self, now: DateTime<Utc>) -> Option<(DateTime<Utc>, DateTime<Utc>)> {
        let (from, updated) = (format::parse_time(&self.created_at)?, format::parse_time(&self.updated_at)?);
        Some((from, if is_final(&self.status) { updated } else { now.max(updated) }))
    }
}

pub async fn show(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Markup, PageError> {
    Params::parse(query.as_deref(), &[])?;
    let Path(build_request_id) = id.map_err(|rejection| {
        ApiError::bad_request(code::INVALID_PARAMETER_VALUE, format!("bad build request id: {rejection}"))
    })?;
    let db = state.db();
    let (summary, stored) = tokio::try_join!(
        queries::build_summary(db, &build_request_id),
        dashboard_queries::build_events(db, &build_request_id, EVENTS_SHOWN),
    )?;
    let summary: Summary = serde_json::from_value(summary)
        .map_err(|e| DbError::Unexpected(format!("bel.build_summary answered an unknown shape: {e}")))?;
    let events: Vec<(&StoredEvent, Described)> = stored.iter().map(|e| (e, describe(&e.event))).collect();
    let id = &summary.build_request_id;
    let first_at = events.first().map(|(e, d)| d.at.unwrap_or(e.appended_at));
    let last_at = events.last().map(|(e, d)| d.at.unwrap_or(e.appended_at));
    Ok(Page::new(&format!("Build {id}"), Section::Builds).render(html! {
        p.crumbs { a href="/builds" { "Builds" } " / " }
        h1 { span.mono { (id) } " " (pill(&summary.status)) }
        dl.facts {
            div { dt { "Events" } dd { (format::count(summary.event_count)) } }
            @if let (Some(first), Some(last)) = (first_at, last_at) {
                div { dt { "Started" } dd { (format::time(&first)) } }
                div { dt { "Latest event" } dd { (format::time(&last)) } }
                div { dt { "Duration" } dd { (format::duration(format::seconds_between(&first, &last))) } }
            }
            div { dt { "Job runs" } dd { (summary.job_runs.len()) } }
            div { dt { "Requested partitions" } dd { (summary.requested_partitions.len()) } }
        }
        section.card {
            h2 { "Timeline" }
            (timeline::render(&timeline_groups(&summary, &events)))
            p.legend.muted { "Bars: job runs from scheduled to their last event, or to now while they run (faint while waiting to run). "
                "Dots: status changes. Hover for details." }
        }
        section.card {
            h2 { "Job runs" }
            (job_runs_table(&summary))
        }
        section.card {
            h2 { "Requested partitions" }
            (partitions_table(&summary))
        }
        @if !summary.delegations.is_empty() {
            section.card {
                h2 { "Delegations" }
                (delegations_table(&summary))
            }
        }
        section.card {
            h2 { "Events" }
            @if (events.len() as i64) < summary.event_count {
                p.muted { "The first " (format::count(events.len() as i64)) " of " (format::count(summary.event_count)) " events." }
            }
            (events_table(id, &events))
        }
    }))
}

/// The build's lane (its status changes), a lane per job run (a bar), a lane per partition
/// (its status changes, delegations, invalidations).
fn timeline_groups(summary: &Summary, events: &[(&StoredEvent, Described)]) -> Vec<Group> {
    let at = |stored: &StoredEvent, described: &Described| described.at.unwrap_or(stored.appended_at);
    let mut build_marks = Vec::new();
    let mut started: BTreeMap<&str, DateTime<Utc>> = BTreeMap::new();
    let mut partition_marks: BTreeMap<&str, Vec<Item>> = BTreeMap::new();
    for (stored, described) in events {
        let when = at(stored, described);
        let status = described.status.clone().unwrap_or_else(|| "DELEGATED".to_owned());
        match &described.subject {
            Subject::Build => build_marks.push(Item::Mark {
                at: when,
                title: format!("build {} at {}", status, format::time(&when)),
                status,
            }),
            Subject::JobRun { job_run_id, .. } => {
                if described.status.as_deref() == Some("RUNNING") {
                    started.insert(job_run_id, when);
                }
            }
            Subject::Partition(partition_ref) => {
                let what = match &described.delegated_to {
                    Some(to) => format!("delegated to {to}"),
                    None => status.clone(),
                };
                partition_marks.entry(partition_ref).or_default().push(Item::Mark {
                    at: when,
                    title: format!("{partition_ref} {what} at {}", format::time(&when)),
                    status,
                });
            }
        }
    }
    let now = format::now();
    let mut runs: Vec<Lane> = summary
        .job_runs
        .iter()
        .take(JOB_RUN_LANES)
        .filter_map(|run| {
            let (from, to) = run.span(now)?;
            let title = format!(
                "{} ({}) {}: {} → {}, {}",
                run.job_run_id,
                run.job_label,
                run.status,
                format::time(&from),
                format::time(&to),
                format::duration(format::seconds_between(&from, &to))
            );
            Some(Lane {
                label: format!("{} · {}", run.job_label, run.job_run_id),
                href: Some(format!("#{}", format::job_run_anchor(&run.job_run_id))),
                items: vec![Item::Bar {
                    from,
                    started: started.get(run.job_run_id.as_str()).copied(),
                    to,
                    status: run.status.clone(),
                    title,
                }],
            })
        })
        .collect();
    if summary.job_runs.len() > JOB_RUN_LANES {
        let more = summary.job_runs.len() - JOB_RUN_LANES;
        runs.push(Lane { label: format!("{more} more job runs (see the table)"), href: None, items: Vec::new() });
    }
    let mut partition_lanes: Vec<Lane> = Vec::new();
    let mut rest: Vec<Item> = Vec::new();
    let mut others = 0;
    for (partition_ref, marks) in partition_marks {
        if partition_lanes.len() < PARTITION_LANES {
            partition_lanes.push(Lane {
                label: partition_ref.to_owned(),
                href: Some(format::partition_url(partition_ref)),
                items: marks,
            });
        } else {
            others += 1;
            rest.extend(marks);
        }
    }
    if others > 0 {
        partition_lanes.push(Lane { label: format!("{others} more partitions"), href: None, items: rest });
    }
    let build_lane = Lane { label: "build request".to_owned(), href: None, items: build_marks };
    vec![
        Group { title: "Build", lanes: vec![build_lane] },
        Group { title: "Job runs", lanes: runs },
        Group { title: "Partitions", lanes: partition_lanes },
    ]
    .into_iter()
    .filter(|group| !group.lanes.is_empty())
    .collect()
}

fn job_runs_table(summary: &Summary) -> Markup {
    let id = &summary.build_request_id;
    let now = format::now();
    html! {
        @if summary.job_runs.is_empty() {
            p.empty { "No job runs." }
        } @else {
            table.grid #job-runs {
                thead { tr { th { "Job run" } th { "Label" } th { "Status" } th { "Targets" } th { "Scheduled" }
                    th.num { "Duration" } th.num { "Exit" } th { "Message" } } }
                tbody {
                    @for run in &summary.job_runs {
                        tr id=(format::job_run_anchor(&run.job_run_id)) data-job-run=(run.job_run_id)
                            class=[(run.status == "FAILED").then_some("failed")] {
                            td.mono { (run.job_run_id) }
                            td.mono { (run.job_label) }
                            td { (pill(&run.status)) }
                            td { @for target in &run.target_partitions {
                                a.mono.ref href=(format::partition_url(target)) { (target) } " " } }
                            @match run.span(now) {
                                Some((from, to)) => {
                                    td.nowrap { (format::time(&from)) }
                                    td.num.nowrap {
                                        (format::duration(format::seconds_between(&from, &to)))
                                        @if !is_final(&run.status) { span.muted { " so far" } }
                                    }
                                }
                                None => { td {} td {} }
                            }
                            td.num { @if let Some(exit) = run.exit_code { (exit) } }
                            td { (run.message) }
                        }
                    }
                }
            }
        }
        p.muted { "Job runs of " span.mono { (id) } " in the order they were scheduled." }
    }
}

fn partitions_table(summary: &Summary) -> Markup {
    let id = &summary.build_request_id;
    let requested = summary.requested_partitions.len();
    html! {
        @if requested > REQUESTED_SHOWN {
            p.muted { "The first " (format::count(REQUESTED_SHOWN as i64)) " of " (format::count(requested as i64))
                " requested partitions." }
        }
        table.grid #requested {
            thead { tr { th { "Partition" } th { "Status" } th { "Built by" } th { "Job run" } } }
            tbody {
                @for p in summary.requested_partitions.iter().take(REQUESTED_SHOWN) {
                    tr data-ref=(p.partition_ref) {
                        td { a.mono href=(format::partition_url(&p.partition_ref)) { (p.partition_ref) } }
                        td { (pill(&p.status)) }
                        td {
                            @match (&p.delegated_to_build_request_id, &p.owner_build_request_id) {
                                (Some(to), _) => { "delegated to " a.mono href=(format::build_url(to)) { (to) } }
                                (None, Some(owner)) if owner != id => { a.mono href=(format::build_url(owner)) { (owner) } }
                                (None, Some(_)) => { span.muted { "this build" } }
                                (None, None) => { span.muted { "—" } }
                            }
                        }
                        td {
                            @match (&p.job_run_id, &p.owner_build_request_id) {
                                (Some(run), Some(owner)) => { a.mono href=(format::job_run_url(owner, run)) { (run) } }
                                _ => { span.muted { "—" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn delegations_table(summary: &Summary) -> Markup {
    html! {
        table.grid #delegations {
            thead { tr { th { "Partition" } th { "Delegated to" } th { "Partition status" } } }
            tbody {
                @for d in &summary.delegations {
                    tr {
                        td { a.mono href=(format::partition_url(&d.partition_ref)) { (d.partition_ref) } }
                        td { a.mono href=(format::build_url(&d.delegated_to_build_request_id)) { (d.delegated_to_build_request_id) } }
                        td { (events::status_cell(d.partition_status.as_deref())) }
                    }
                }
            }
        }
    }
}

fn events_table(build_request_id: &str, events: &[(&StoredEvent, Described)]) -> Markup {
    html! {
        table.grid.events #events {
            thead { tr { th.num { "idx" } th { "Time" } th { "Kind" } th { "Subject" } th { "Status" } th { "Detail" } } }
            tbody {
                @for (stored, described) in events {
                    tr data-idx=(stored.idx) {
                        td.num { (stored.idx) }
                        td.nowrap { (format::time(&described.at.unwrap_or(stored.appended_at))) }
                        td.nowrap { (described.kind) }
                        td { (events::subject_cell(&described.subject, build_request_id)) }
                        td { (events::status_cell(described.status.as_deref())) }
                        td {
                            @if let Some(to) = &described.delegated_to {
                                "to " a.mono href=(format::build_url(to)) { (to) } " "
                            }
                            (described.detail)
                        }
                    }
                }
            }
        }
    }
}
