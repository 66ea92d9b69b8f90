//! The reads only the dashboard makes (the rest are in crate::queries). Each is one indexed
//! statement.
use chrono::{DateTime, Utc};

use crate::db::{Db, DbError};

fn unexpected(error: tokio_postgres::Error) -> DbError {
    DbError::Unexpected(format!("unexpected result from the database: {error}"))
}

/// One event of the log as stored: its idx, the event (proto3 JSON without idx) and when
/// it was appended.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub idx: i64,
    pub event: serde_json::Value,
    pub appended_at: DateTime<Utc>,
}

/// The first `limit` events of one build request, in log order: an index range scan of
/// `events (build_request_id, idx)`. Every event names its build (only invalidations may
/// not), so these are the build's own events, its job runs' and its partitions'.
pub async fn build_events(db: &Db, build_request_id: &str, limit: i64) -> Result<Vec<StoredEvent>, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client
            .prepare_cached(
                "select idx, payload, created_at from bel.events \
                 where build_request_id = $1::text order by idx limit $2::bigint",
            )
            .await?;
        let rows = client.query(&statement, &[&build_request_id, &limit]).await?;
        rows.iter()
            .map(|row| {
                Ok(StoredEvent {
                    idx: row.try_get(0).map_err(unexpected)?,
                    event: row.try_get(1).map_err(unexpected)?,
                    appended_at: row.try_get(2).map_err(unexpected)?,
                })
            })
            .collect()
    })
    .await
}

/// The idx of the newest event (0 for an empty log): the primary key's last entry. The
/// live tail starts a little below it and reads forward with the no-loss cursor.
pub async fn newest_idx(db: &Db) -> Result<i64, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client.prepare_cached("select coalesce(max(idx), 0)::bigint from bel.events").await?;
        let row = client.query_one(&statement, &[]).await?;
        row.try_get(0).map_err(unexpected)
    })
    .await
}

/// One edge of a state diagram; `from` None is "(none)", the entity's creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub entity: String,
    pub from: Option<String>,
    pub to: String,
    /// What the edge needs besides the entity's own state, in words.
    pub condition: Option<String>,
}

/// `bel.transitions()`, in the extension's order. Its `condition` column came with 0.2.0's
/// no-dead-ends rules; an installation without it shows no conditions.
pub async fn transitions(db: &Db) -> Result<Vec<Transition>, DbError> {
    db.read(|| async move {
        let client = db.client().await?;
        let statement = client.prepare_cached("select * from bel.transitions()").await?;
        let rows = client.query(&statement, &[]).await?;
        let has_condition = statement.columns().iter().any(|column| column.name() == "condition");
        rows.iter()
            .map(|row| {
                Ok(Transition {
                    entity: row.try_get("entity").map_err(unexpected)?,
                    from: row.try_get("from_state").map_err(unexpected)?,
                    to: row.try_get("to_state").map_err(unexpected)?,
                    condition: if has_condition { row.try_get("condition").map_err(unexpected)? } else { None },
                })
            })
            .collect()
    })
    .await
}
