//! The upstream graph of the demo (`scripts/demo.sh`): a graph process that builds
//! `data/users/<date>` for several days, one build request per day, appending every step
//! to bel over SQL. Some job runs fail (a lost worker) and are retried by a new job run of
//! the same build. It prints each step as it goes.
//!
//! ```text
//! cargo run -p bel-client --example upstream_graph -- <dsn> [days] [first-date]
//! ```
use std::time::Duration;

use bel_client::{BuildEvent, PgGraphService};
use chrono::{Days, NaiveDate};
use serde_json::json;

/// Days whose first job run fails (day index modulo this is 1): the retry path.
const FAIL_EVERY: u64 = 3;
/// How long a job "runs": long enough to watch the dashboard and the downstream graph.
const STEP: Duration = Duration::from_millis(150);

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let dsn = args.next().ok_or("usage: upstream_graph <dsn> [days] [first-date]")?;
    let days: u64 = args.next().map(|d| d.parse()).transpose()?.unwrap_or(5);
    let first: NaiveDate =
        args.next().map(|d| d.parse()).transpose()?.unwrap_or(NaiveDate::from_ymd_opt(2026, 11, 1).ok_or("date")?);
    let bel = PgGraphService::connect(&dsn).await?;
    for day in 0..days {
        let date = first.checked_add_days(Days::new(day)).ok_or("date out of range")?;
        build_day(&bel, &date.to_string(), day % FAIL_EVERY == 1).await?;
    }
    println!("[upstream] built data/users/* for {days} days");
    Ok(())
}

/// One build of `data/users/<date>`, with a failed first job run when `fail_first`.
async fn build_day(bel: &PgGraphService, date: &str, fail_first: bool) -> Result<(), Error> {
    let build = format!("users-{date}");
    let part = format!("data/users/{date}");
    let step = |payload: serde_json::Value| async {
        let mut event = payload;
        event["buildRequestId"] = json!(build);
        let event: BuildEvent = bel_core::event::from_json(&event.to_string())?;
        let idx = bel.append(&event).await?;
        Ok::<i64, Error>(idx)
    };
    let build_status = |s: &str| json!({"buildRequest": {"status": format!("BUILD_REQUEST_{s}")}});
    let partition = |s: &str, job: &str| json!({"partition": {"partitionRef": part, "status": format!("PARTITION_{s}"), "jobRunId": job}});
    let job = |id: &str, s: &str| json!({"jobRun": {"jobRunId": id, "jobLabel": "etl/users", "status": format!("JOB_RUN_{s}"), "targetPartitions": [part]}});

    let idx =
        step(json!({"buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [part]}})).await?;
    println!("[upstream] {build}: received at idx {idx}");
    step(build_status("PLANNING")).await?;
    step(partition("REQUESTED", "")).await?;
    step(partition("ANALYZED", "")).await?;
    step(build_status("ANALYSIS_COMPLETED")).await?;
    let mut attempt = 1;
    let mut job_id = format!("{build}-j{attempt}");
    step(job(&job_id, "SCHEDULED")).await?;
    step(build_status("EXECUTING")).await?;
    loop {
        step(job(&job_id, "RUNNING")).await?;
        step(partition("BUILDING", &job_id)).await?;
        tokio::time::sleep(STEP).await;
        if fail_first && attempt == 1 {
            // The partition's outcome first, then the job run's (see bel.transitions()).
            step(partition("FAILED", &job_id)).await?;
            step(json!({"jobRun": {"jobRunId": job_id, "status": "JOB_RUN_FAILED", "exitCode": 137, "message": "worker lost"}})).await?;
            println!("[upstream] {build}: job run {job_id} FAILED (worker lost), retrying");
            attempt += 1;
            job_id = format!("{build}-j{attempt}");
            step(partition("REQUESTED", "")).await?;
            step(partition("ANALYZED", "")).await?;
            step(job(&job_id, "SCHEDULED")).await?;
            continue;
        }
        let idx = step(partition("AVAILABLE", &job_id)).await?;
        step(json!({"jobRun": {"jobRunId": job_id, "status": "JOB_RUN_COMPLETED", "exitCode": 0}})).await?;
        step(build_status("COMPLETED")).await?;
        println!("[upstream] {build}: {part} AVAILABLE at idx {idx} (job run {job_id})");
        return Ok(());
    }
}
