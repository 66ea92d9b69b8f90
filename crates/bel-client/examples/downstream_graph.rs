//! The downstream graph of the demo (`scripts/demo.sh`): a separate process that follows
//! the upstream graph's partitions over HTTP (`bel serve`, long polls) and reacts to each
//! `data/users/<date>` becoming AVAILABLE by building `reports/<date>`. It reads through
//! the [`GraphService`] trait, so following over SQL instead is a one-line change (the
//! `HttpGraphService::new` line); its own build events go to bel over SQL, as a graph
//! process's writes do (`bel serve` is read-only).
//!
//! ```text
//! cargo run -p bel-client --example downstream_graph -- <bel serve URL> <dsn> <reports to build>
//! ```
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bel_client::{BuildEvent, EventFilter, GraphService, HttpGraphService, PgGraphService};
use bel_core::pb::{build_event::Payload, PartitionStatus};
use futures_util::StreamExt;
use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: downstream_graph <bel serve URL> <dsn> <reports to build>";
    let url = args.next().ok_or(usage)?;
    let dsn = args.next().ok_or(usage)?;
    let wanted: usize = args.next().ok_or(usage)?.parse()?;

    let upstream = HttpGraphService::new(&url)?; // or: PgGraphService::connect(&dsn).await?
    let own_log = PgGraphService::connect(&dsn).await?;
    let filter = EventFilter { partition_patterns: vec!["data/users/*".into()], ..Default::default() };
    println!("[downstream] following data/users/* at {url}");
    let mut events = upstream.subscribe(filter, 0);
    let mut built = 0;
    while built < wanted {
        let event = events.next().await.ok_or("the subscription ended")??;
        let Some(Payload::Partition(p)) = &event.payload else { continue };
        if p.status() != PartitionStatus::PartitionAvailable {
            continue;
        }
        let date = p.partition_ref.trim_start_matches("data/users/");
        println!(
            "[downstream] saw {} AVAILABLE (idx {}, {} ms after it was appended) -> building reports/{date}",
            p.partition_ref,
            event.idx,
            lag_ms(&event)
        );
        let started = Instant::now();
        build_report(&own_log, date, &p.partition_ref).await?;
        built += 1;
        println!("[downstream] reports/{date} AVAILABLE ({} ms)", started.elapsed().as_millis());
    }
    println!("[downstream] built {built} reports");
    Ok(())
}

/// Milliseconds between the event's timestamp (set by the log) and now.
fn lag_ms(event: &BuildEvent) -> i128 {
    let Some(ts) = &event.timestamp else { return -1 };
    let appended = i128::from(ts.seconds) * 1000 + i128::from(ts.nanos) / 1_000_000;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i128);
    now - appended
}

/// One build of `reports/<date>` from `input` (already AVAILABLE: nothing to request).
async fn build_report(bel: &PgGraphService, date: &str, input: &str) -> Result<(), Error> {
    let build = format!("reports-{date}");
    let part = format!("reports/{date}");
    let job_id = format!("{build}-j1");
    let events = [
        json!({"buildRequest": {"status": "BUILD_REQUEST_RECEIVED", "requestedPartitions": [part], "message": format!("input {input} is AVAILABLE")}}),
        json!({"buildRequest": {"status": "BUILD_REQUEST_PLANNING"}}),
        json!({"partition": {"partitionRef": part, "status": "PARTITION_REQUESTED"}}),
        json!({"partition": {"partitionRef": part, "status": "PARTITION_ANALYZED"}}),
        json!({"buildRequest": {"status": "BUILD_REQUEST_ANALYSIS_COMPLETED"}}),
        json!({"jobRun": {"jobRunId": job_id, "jobLabel": "etl/reports", "status": "JOB_RUN_SCHEDULED", "targetPartitions": [part]}}),
        json!({"buildRequest": {"status": "BUILD_REQUEST_EXECUTING"}}),
        json!({"jobRun": {"jobRunId": job_id, "status": "JOB_RUN_RUNNING"}}),
        json!({"partition": {"partitionRef": part, "status": "PARTITION_BUILDING", "jobRunId": job_id}}),
        json!({"partition": {"partitionRef": part, "status": "PARTITION_AVAILABLE", "jobRunId": job_id}}),
        json!({"jobRun": {"jobRunId": job_id, "status": "JOB_RUN_COMPLETED", "exitCode": 0}}),
        json!({"buildRequest": {"status": "BUILD_REQUEST_COMPLETED"}}),
    ];
    for (i, mut event) in events.into_iter().enumerate() {
        event["buildRequestId"] = json!(build);
        // A stable eventId per step: a rerun after a crash appends nothing twice.
        event["eventId"] = json!(format!("{build}-{i}"));
        let event: BuildEvent = bel_core::event::from_json(&event.to_string())?;
        bel.append(&event).await?;
        if i == 8 {
            tokio::time::sleep(Duration::from_millis(100)).await; // the report job "runs"
        }
    }
    Ok(())
}
