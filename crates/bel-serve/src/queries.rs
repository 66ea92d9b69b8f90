//! One function per SQL call the server makes (all reads; docs/sql-api.md is the
//! contract). Statements are prepared once per pooled connection and kept.
use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;
use tokio_postgres::Row;

use crate::db::{Db, DbError};
use crate::page::FetchedPage;

fn unexpected(error: tokio_postgres::Error) -> DbError {
    DbError::Unexpected(format!("unexpected result from the database: {error}"))
}

fn rfc3339<S: Serializer>(time: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Micros, true))
}

/// `bel.list_events_page(bigint, bytea, int)`: the binary page for a binary filter.
pub async fn event_page(db: &Db, since_idx: i64, filter: &[u8], limit: i32) -> Result<FetchedPage, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client.prepare_cached("select bel.list_events_page($1::bigint, $2::bytea, $3::int)").await?;
        let row = client.query_one(&statement, &[&since_idx, &filter, &limit]).await?;
        let bytes: Option<Vec<u8>> = row.try_get(0).map_err(unexpected)?;
        FetchedPage::decode(bytes.ok_or_else(|| DbError::Unexpected("bel.list_events_page returned NULL".into()))?)
    })
    .await
}

/// `bel.wait_for_append(idx, timeout_ms)`: true once the append holding in-flight `idx`
/// ended, false when `timeout` passed first.
pub async fn wait_for_append(db: &Db, idx: i64, timeout: Duration) -> Result<bool, DbError> {
    let timeout_ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client.prepare_cached("select bel.wait_for_append($1::bigint, $2::int)").await?;
        let row = client.query_one(&statement, &[&idx, &timeout_ms]).await?;
        Ok(row.try_get::<_, Option<bool>>(0).map_err(unexpected)?.unwrap_or(false))
    })
    .await
}

/// The installed version of the bel extension, or None when it is not installed.
pub async fn extension_version(db: &Db) -> Result<Option<String>, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement =
            client.prepare_cached("select extversion from pg_catalog.pg_extension where extname = 'bel'").await?;
        let rows = client.query(&statement, &[]).await?;
        rows.first().map(|row| row.try_get(0).map_err(unexpected)).transpose()
    })
    .await
}

/// One row of `bel.partition_status`, as `/v1/partitions` answers it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionRow {
    pub partition_ref: String,
    pub status: String,
    pub build_request_id: String,
    pub job_run_id: Option<String>,
    pub last_idx: i64,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

impl PartitionRow {
    fn from_row(row: &Row) -> Result<Self, DbError> {
        Ok(PartitionRow {
            partition_ref: row.try_get(0).map_err(unexpected)?,
            status: row.try_get(1).map_err(unexpected)?,
            build_request_id: row.try_get(2).map_err(unexpected)?,
            job_run_id: row.try_get(3).map_err(unexpected)?,
            last_idx: row.try_get(4).map_err(unexpected)?,
            updated_at: row.try_get(5).map_err(unexpected)?,
        })
    }
}

/// `bel.partition_status(patterns, after_ref, limit)`: partitions matching any pattern
/// (all when none), ordered by ref, after `after_ref`, at most `limit`.
pub async fn partitions(
    db: &Db,
    patterns: &[String],
    after_ref: Option<&str>,
    limit: i32,
) -> Result<Vec<PartitionRow>, DbError> {
    // NULL, not an empty array, means "every partition".
    let patterns: Option<&[String]> = (!patterns.is_empty()).then_some(patterns);
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client
            .prepare_cached(
                "select partition_ref, status, build_request_id, job_run_id, last_idx, updated_at \
                 from bel.partition_status($1::text[], $2::text, $3::int)",
            )
            .await?;
        let rows = client.query(&statement, &[&patterns, &after_ref, &limit]).await?;
        rows.iter().map(PartitionRow::from_row).collect()
    })
    .await
}

/// `bel.partition_counts(patterns)`: (status, partitions) for the partitions matching any
/// pattern (all when none).
pub async fn partition_counts(db: &Db, patterns: &[String]) -> Result<Vec<(String, i64)>, DbError> {
    let patterns: Option<&[String]> = (!patterns.is_empty()).then_some(patterns);
    db.read(|| async move {
        let client = db.client().await?;
        let statement =
            client.prepare_cached("select status, partitions from bel.partition_counts($1::text[])").await?;
        let rows = client.query(&statement, &[&patterns]).await?;
        rows.iter().map(|row| Ok((row.try_get(0).map_err(unexpected)?, row.try_get(1).map_err(unexpected)?))).collect()
    })
    .await
}

/// One row of `bel.build_requests`, as `/v1/builds` answers it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildRow {
    pub build_request_id: String,
    pub status: String,
    pub requested_partitions: Vec<String>,
    pub first_idx: i64,
    pub last_idx: i64,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// `bel.build_requests(before_idx, limit)`: build requests newest first (by their first
/// event), those with first_idx < before_idx (all when None), at most `limit`.
pub async fn builds(db: &Db, before_idx: Option<i64>, limit: i32) -> Result<Vec<BuildRow>, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client
            .prepare_cached(
                "select build_request_id, status, requested_partitions, first_idx, last_idx, created_at, updated_at \
                 from bel.build_requests($1::bigint, $2::int)",
            )
            .await?;
        let rows = client.query(&statement, &[&before_idx, &limit]).await?;
        rows.iter()
            .map(|row| {
                Ok(BuildRow {
                    build_request_id: row.try_get(0).map_err(unexpected)?,
                    status: row.try_get(1).map_err(unexpected)?,
                    requested_partitions: row.try_get(2).map_err(unexpected)?,
                    first_idx: row.try_get(3).map_err(unexpected)?,
                    last_idx: row.try_get(4).map_err(unexpected)?,
                    created_at: row.try_get(5).map_err(unexpected)?,
                    updated_at: row.try_get(6).map_err(unexpected)?,
                })
            })
            .collect()
    })
    .await
}

/// `bel.build_summary(id)` (SQLSTATE P0002 when the build request does not exist).
pub async fn build_summary(db: &Db, build_request_id: &str) -> Result<serde_json::Value, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client.prepare_cached("select bel.build_summary($1::text)").await?;
        let row = client.query_one(&statement, &[&build_request_id]).await?;
        let summary: Option<serde_json::Value> = row.try_get(0).map_err(unexpected)?;
        summary.ok_or_else(|| DbError::Unexpected("bel.build_summary returned NULL".into()))
    })
    .await
}

/// One row of `bel.job_runs`, as `/v1/job_runs` answers it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRunRow {
    pub job_run_id: String,
    pub build_request_id: String,
    pub job_label: String,
    pub status: String,
    pub target_partitions: Vec<String>,
    pub exit_code: Option<i32>,
    pub message: String,
    pub first_idx: i64,
    pub last_idx: i64,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "rfc3339")]
    pub updated_at: DateTime<Utc>,
}

/// Which job runs `/v1/job_runs` lists.
#[derive(Debug, Clone, Default)]
pub struct JobRunQuery {
    pub build_request_id: Option<String>,
    pub job_label: Option<String>,
    /// Short status names (`RUNNING`); empty = any.
    pub statuses: Vec<String>,
    /// Only runs whose first event's idx is above this (the previous page's `next`).
    pub after_idx: i64,
    pub limit: i32,
}

/// `bel.job_runs(build_request_id, job_label)` narrowed by status, in scheduling order
/// (first_idx), paged by first_idx.
pub async fn job_runs(db: &Db, query: &JobRunQuery) -> Result<Vec<JobRunRow>, DbError> {
    let statuses: Option<&[String]> = (!query.statuses.is_empty()).then_some(&query.statuses);
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client
            .prepare_cached(
                "select job_run_id, build_request_id, job_label, status, target_partitions, exit_code, message, \
                        first_idx, last_idx, created_at, updated_at \
                 from bel.job_runs($1::text, $2::text) \
                 where first_idx > $3::bigint and ($4::text[] is null or status = any($4::text[])) \
                 order by first_idx limit $5::int",
            )
            .await?;
        let rows = client
            .query(&statement, &[&query.build_request_id, &query.job_label, &query.after_idx, &statuses, &query.limit])
            .await?;
        rows.iter()
            .map(|row| {
                Ok(JobRunRow {
                    job_run_id: row.try_get(0).map_err(unexpected)?,
                    build_request_id: row.try_get(1).map_err(unexpected)?,
                    job_label: row.try_get(2).map_err(unexpected)?,
                    status: row.try_get(3).map_err(unexpected)?,
                    target_partitions: row.try_get(4).map_err(unexpected)?,
                    exit_code: row.try_get(5).map_err(unexpected)?,
                    message: row.try_get(6).map_err(unexpected)?,
                    first_idx: row.try_get(7).map_err(unexpected)?,
                    last_idx: row.try_get(8).map_err(unexpected)?,
                    created_at: row.try_get(9).map_err(unexpected)?,
                    updated_at: row.try_get(10).map_err(unexpected)?,
                })
            })
            .collect()
    })
    .await
}
