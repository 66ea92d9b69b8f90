//! Realistic demo data for the dashboard: nightly builds of `data/{users,orders,events}/<date>`
//! where some job runs fail and are retried, report builds that delegate their inputs, a
//! build that fails, one still running, one waiting to run, a backfill being planned, a
//! cancelled request and an invalidation: builds in most statuses, partitions in every one.
//!
//! Events carry their own timestamps (spread over the hours before `now`) and are appended
//! in time order, so timelines show real durations.
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use tokio_postgres::Client;

/// Timed events, appended in time order (events at the same time in the order added).
#[derive(Default)]
pub struct Plan {
    events: Vec<(DateTime<Utc>, Value)>,
}

fn secs(seconds: f64) -> Duration {
    Duration::milliseconds((seconds * 1000.0) as i64)
}

impl Plan {
    fn add(&mut self, at: DateTime<Utc>, build: &str, payload: Value) {
        let mut event = payload;
        event["buildRequestId"] = json!(build);
        event["timestamp"] = json!(at.to_rfc3339());
        self.events.push((at, event));
    }

    pub fn build(&mut self, at: DateTime<Utc>, build: &str, status: &str, requested: &[&str]) {
        let mut payload = json!({"status": format!("BUILD_REQUEST_{status}")});
        if !requested.is_empty() {
            payload["requestedPartitions"] = json!(requested);
        }
        self.add(at, build, json!({"buildRequest": payload}));
    }

    pub fn partition(&mut self, at: DateTime<Utc>, build: &str, partition: &str, status: &str, job_run: Option<&str>) {
        let mut payload = json!({"partitionRef": partition, "status": format!("PARTITION_{status}")});
        if let Some(run) = job_run {
            payload["jobRunId"] = json!(run);
        }
        self.add(at, build, json!({"partition": payload}));
    }

    pub fn job_run(&mut self, at: DateTime<Utc>, build: &str, run: &str, status: &str, extra: Value) {
        let mut payload = json!({"jobRunId": run, "status": format!("JOB_RUN_{status}")});
        if let (Value::Object(payload), Value::Object(extra)) = (&mut payload, extra) {
            payload.extend(extra);
        }
        self.add(at, build, json!({"jobRun": payload}));
    }

    pub fn delegation(&mut self, at: DateTime<Utc>, build: &str, partition: &str, to: &str) {
        let payload = json!({"partitionRef": partition, "delegatedToBuildRequestId": to,
                             "message": format!("input built by {to}")});
        self.add(at, build, json!({"delegation": payload}));
    }

    pub fn invalidation(&mut self, at: DateTime<Utc>, partition: &str, reason: &str) {
        let event =
            json!({"timestamp": at.to_rfc3339(), "invalidation": {"partitionRef": partition, "reason": reason}});
        self.events.push((at, event));
    }

    /// Appends every event in time order; returns the idx of each.
    pub async fn append(mut self, client: &Client) -> Vec<i64> {
        self.events.sort_by_key(|(at, _)| *at);
        let mut idx = Vec::with_capacity(self.events.len());
        for (_, event) in &self.events {
            let row = client
                .query_one("select bel.bel_append($1::text)", &[&event.to_string()])
                .await
                .unwrap_or_else(|e| panic!("append {event}: {e}"));
            idx.push(row.get(0));
        }
        idx
    }
}

/// How a job run of a planned build goes.
#[derive(Clone, Copy)]
pub enum Outcome {
    /// Succeeds after the failed attempts (0 = first time), each attempt taking `seconds`.
    Succeeds { failed_attempts: usize, seconds: f64 },
    /// Fails; the build does not retry it.
    Fails { seconds: f64 },
    /// Still running when the data ends.
    Running,
    /// Scheduled, not started.
    Waiting,
}

/// One job: its label, the partition it builds, how it goes.
pub struct Job<'a> {
    pub label: &'a str,
    pub partition: &'a str,
    pub outcome: Outcome,
}

/// A build from RECEIVED through planning to its job runs (started 20 s apart), then
/// COMPLETED when every job succeeded, FAILED when one failed, else left EXECUTING.
/// Returns when its last event happens.
pub fn plan_build(
    plan: &mut Plan,
    start: DateTime<Utc>,
    build: &str,
    jobs: &[Job<'_>],
    delegations: &[(&str, &str)],
) -> DateTime<Utc> {
    let requested: Vec<&str> = jobs.iter().map(|j| j.partition).collect();
    plan.build(start, build, "RECEIVED", &requested);
    plan.build(start + secs(1.2), build, "PLANNING", &[]);
    for (partition, owner) in delegations {
        plan.delegation(start + secs(2.0), build, partition, owner);
    }
    for job in jobs {
        plan.partition(start + secs(2.5), build, job.partition, "REQUESTED", None);
        plan.partition(start + secs(6.0), build, job.partition, "ANALYZED", None);
    }
    plan.build(start + secs(7.0), build, "ANALYSIS_COMPLETED", &[]);
    // etl/users of nightly-2026-11-01, second attempt: etl-users-20261101-2.
    let date: String = build.chars().filter(char::is_ascii_digit).collect();
    let run_id = |job: &Job<'_>, attempt: usize| format!("{}-{date}-{attempt}", job.label.replace('/', "-"));
    for job in jobs {
        let extra = json!({"jobLabel": job.label, "targetPartitions": [job.partition]});
        plan.job_run(start + secs(8.0), build, &run_id(job, 1), "SCHEDULED", extra);
    }
    plan.build(start + secs(9.0), build, "EXECUTING", &[]);
    let mut end = start + secs(9.0);
    let (mut failed, mut unfinished) = (false, false);
    for (k, job) in jobs.iter().enumerate() {
        let mut t = start + secs(10.0 + 20.0 * k as f64);
        let mut attempt = 1;
        let (failures, seconds) = match job.outcome {
            Outcome::Succeeds { failed_attempts, seconds } => (failed_attempts, seconds),
            Outcome::Fails { seconds } => (1, seconds),
            Outcome::Running | Outcome::Waiting => (0, 0.0),
        };
        if matches!(job.outcome, Outcome::Waiting) {
            unfinished = true;
            continue;
        }
        loop {
            let run = run_id(job, attempt);
            if attempt > 1 {
                plan.partition(t, build, job.partition, "REQUESTED", None);
                plan.partition(t + secs(1.0), build, job.partition, "ANALYZED", None);
                let extra = json!({"jobLabel": job.label, "targetPartitions": [job.partition]});
                plan.job_run(t + secs(2.0), build, &run, "SCHEDULED", extra);
                t += secs(14.0);
            }
            plan.partition(t, build, job.partition, "BUILDING", Some(&run));
            plan.job_run(t + secs(0.4), build, &run, "RUNNING", json!({}));
            if matches!(job.outcome, Outcome::Running) {
                unfinished = true;
                end = end.max(t);
                break;
            }
            // Attempts take a little longer each time (a retry warms nothing up).
            let done = t + secs(seconds * (1.0 + 0.15 * attempt as f64));
            if attempt <= failures {
                plan.partition(done, build, job.partition, "FAILED", Some(&run));
                let why = if attempt % 2 == 1 { "connection reset by upstream" } else { "out of memory" };
                plan.job_run(done + secs(0.3), build, &run, "FAILED", json!({"exitCode": 1, "message": why}));
                end = end.max(done + secs(0.3));
                if matches!(job.outcome, Outcome::Fails { .. }) {
                    failed = true;
                    break;
                }
                t = done + secs(30.0);
                attempt += 1;
                continue;
            }
            plan.partition(done, build, job.partition, "AVAILABLE", Some(&run));
            let rows = 40_000 + 9_973 * (k as i64 + 1) * attempt as i64;
            let message = format!("wrote {rows} rows");
            plan.job_run(done + secs(0.3), build, &run, "COMPLETED", json!({"exitCode": 0, "message": message}));
            end = end.max(done + secs(0.3));
            break;
        }
    }
    if !unfinished {
        end += secs(2.0);
        plan.build(end, build, if failed { "FAILED" } else { "COMPLETED" }, &[]);
    }
    end
}

/// Appends the demo data with its last events a few minutes before `now`.
pub async fn fill(client: &Client, now: DateTime<Utc>) {
    let mut plan = Plan::default();
    let base = now - Duration::hours(7);
    let ok = |seconds: f64| Outcome::Succeeds { failed_attempts: 0, seconds };
    let days = ["2026-11-01", "2026-11-02", "2026-11-03"];
    for (i, day) in days.iter().enumerate() {
        let start = base + Duration::hours(2 * i as i64);
        let (users, orders, events) =
            (format!("data/users/{day}"), format!("data/orders/{day}"), format!("data/events/{day}"));
        let orders_outcome = match i {
            0 => Outcome::Succeeds { failed_attempts: 1, seconds: 260.0 },
            2 => Outcome::Fails { seconds: 210.0 },
            _ => ok(240.0),
        };
        let events_outcome = if i == 1 { Outcome::Succeeds { failed_attempts: 2, seconds: 150.0 } } else { ok(420.0) };
        let jobs = [
            Job { label: "etl/users", partition: &users, outcome: ok(180.0 + 25.0 * i as f64) },
            Job { label: "etl/orders", partition: &orders, outcome: orders_outcome },
            Job { label: "etl/events", partition: &events, outcome: events_outcome },
        ];
        let nightly = format!("nightly-{day}");
        let end = plan_build(&mut plan, start, &nightly, &jobs, &[]);
        if i < 2 {
            let dau = format!("reports/daily-active-users/{day}");
            let revenue = format!("reports/revenue/{day}");
            let reports = [
                Job { label: "reports/dau", partition: &dau, outcome: ok(95.0) },
                Job {
                    label: "reports/revenue",
                    partition: &revenue,
                    outcome: if i == 1 { Outcome::Running } else { ok(130.0) },
                },
            ];
            let inputs = [(users.as_str(), nightly.as_str()), (orders.as_str(), nightly.as_str())];
            plan_build(&mut plan, end + Duration::minutes(4), &format!("reports-{day}"), &reports, &inputs);
        }
    }
    plan.invalidation(
        base + Duration::hours(5),
        "data/orders/2026-11-01",
        "upstream re-delivered late orders for 2026-11-01",
    );
    let (users, orders, events) = ("data/users/2026-11-04", "data/orders/2026-11-04", "data/events/2026-11-04");
    let today = [
        Job { label: "etl/users", partition: users, outcome: Outcome::Running },
        Job { label: "etl/orders", partition: orders, outcome: Outcome::Waiting },
        Job { label: "etl/events", partition: events, outcome: Outcome::Waiting },
    ];
    plan_build(&mut plan, now - Duration::minutes(12), "nightly-2026-11-04", &today, &[]);
    plan.build(now - Duration::minutes(40), "adhoc-orders-rebuild", "RECEIVED", &["data/orders/2026-11-02"]);
    plan.build(now - Duration::minutes(39), "adhoc-orders-rebuild", "CANCELLED", &[]);
    let backfill: Vec<String> = (1..=24).map(|d| format!("data/users/2026-10-{d:02}")).collect();
    let backfill: Vec<&str> = backfill.iter().map(String::as_str).collect();
    let start = now - Duration::minutes(3);
    plan.build(start, "backfill-2026-10", "RECEIVED", &backfill);
    plan.build(start + secs(1.0), "backfill-2026-10", "PLANNING", &[]);
    for (i, partition) in backfill.iter().enumerate() {
        plan.partition(start + secs(2.0 + i as f64 * 0.5), "backfill-2026-10", partition, "REQUESTED", None);
    }
    plan.append(client).await;
}

/// What happens next in the demo (after [`fill`], at `now`): the running nightly's users job
/// finishes and its two waiting jobs start. Returns the idx of each event.
pub async fn progress(client: &Client, now: DateTime<Utc>) -> Vec<i64> {
    let mut plan = Plan::default();
    let build = "nightly-2026-11-04";
    plan.partition(now, build, "data/users/2026-11-04", "AVAILABLE", Some("etl-users-20261104-1"));
    plan.job_run(
        now + secs(0.2),
        build,
        "etl-users-20261104-1",
        "COMPLETED",
        json!({"exitCode": 0, "message": "wrote 52210 rows"}),
    );
    for (partition, run) in
        [("data/orders/2026-11-04", "etl-orders-20261104-1"), ("data/events/2026-11-04", "etl-events-20261104-1")]
    {
        plan.partition(now + secs(0.5), build, partition, "BUILDING", Some(run));
        plan.job_run(now + secs(0.7), build, run, "RUNNING", json!({}));
    }
    plan.append(client).await
}
