//! `GET /v1/job_runs`: job runs by build, label and status, in scheduling order, paged.
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::Json;
use bel_core::pb::JobRunStatus;
use bel_core::status::{join_short, Status};

use crate::api::no_store;
use crate::api::params::{to_i32, Params};
use crate::error::{code, ApiError};
use crate::queries::{self, JobRunQuery, JobRunRow};
use crate::state::AppState;

/// Job runs per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 1000;
/// Most job runs per page.
pub const MAX_LIMIT: i64 = 10_000;

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunsPage {
    job_runs: Vec<JobRunRow>,
    /// Pass as `after_idx` for the next page; null when this page is not full.
    next: Option<i64>,
}

pub fn job_run_query(raw: Option<&str>) -> Result<JobRunQuery, ApiError> {
    let params = Params::parse(raw, &["build_request_id", "job_label", "status", "after_idx", "limit"])?;
    let statuses = params.all("status");
    if let Some(unknown) = statuses.iter().find(|s| JobRunStatus::from_short_name(s).is_none()) {
        return Err(ApiError::bad_request(
            code::INVALID_PARAMETER_VALUE,
            format!("unknown job run status {unknown:?}"),
        )
        .with_hint(format!("job run statuses: {}", join_short(JobRunStatus::ALL))));
    }
    Ok(JobRunQuery {
        build_request_id: params.single("build_request_id")?.map(str::to_owned),
        job_label: params.single("job_label")?.map(str::to_owned),
        statuses,
        after_idx: params.integer("after_idx", 0, 0..=i64::MAX, "pass the previous page's next")?,
        limit: to_i32(params.integer(
            "limit",
            DEFAULT_LIMIT,
            1..=MAX_LIMIT,
            "page with after_idx=<the previous page's next>",
        )?),
    })
}

pub async fn list(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let query = job_run_query(query.as_deref())?;
    let job_runs = queries::job_runs(state.db(), &query).await?;
    let next = (job_runs.len() == query.limit as usize).then(|| job_runs.last().map(|r| r.first_idx)).flatten();
    Ok(no_store(Json(JobRunsPage { job_runs, next })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_short_names() {
        let query = job_run_query(Some("build_request_id=b1&status=RUNNING&status=FAILED")).unwrap();
        assert_eq!(query.build_request_id.as_deref(), Some("b1"));
        assert_eq!(query.statuses, vec!["RUNNING", "FAILED"]);
        assert_eq!((query.after_idx, query.limit), (0, 1000));
        let error = job_run_query(Some("status=JOB_RUN_RUNNING")).unwrap_err();
        assert_eq!(error.code, "22023");
        assert!(error.hint.unwrap().contains("SCHEDULED, RUNNING"));
    }
}
