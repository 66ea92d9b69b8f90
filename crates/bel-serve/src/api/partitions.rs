//! `GET /v1/partitions`: partition status, globbed and paged, with counts per status.
use std::collections::BTreeMap;

use axum::extract::{RawQuery, State};
use axum::Json;
use bel_core::pb::PartitionStatus;
use bel_core::status::Status;

use crate::api::no_store;
use crate::api::params::{to_i32, Params};
use crate::error::ApiError;
use crate::queries::{self, PartitionRow};
use crate::state::AppState;

/// Partitions per page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: i64 = 1000;
/// Most partitions per page (the extension's bound).
pub const MAX_LIMIT: i64 = 10_000;

#[derive(serde::Serialize)]
pub struct PartitionsPage {
    partitions: Vec<PartitionRow>,
    /// Partitions per status over every match (not just this page); every status is listed.
    counts: BTreeMap<&'static str, i64>,
    /// Pass as `after` for the next page; null when this page is not full.
    next: Option<String>,
}

pub async fn list(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> Result<axum::response::Response, ApiError> {
    let params = Params::parse(query.as_deref(), &["pattern", "after", "limit"])?;
    let patterns = params.all("pattern");
    for pattern in &patterns {
        bel_core::filter::compile_glob(pattern)?;
    }
    let after = params.single("after")?;
    let limit = params.integer("limit", DEFAULT_LIMIT, 1..=MAX_LIMIT, "page with after=<the previous page's next>")?;
    let db = state.db();
    let (partitions, counted) = tokio::try_join!(
        queries::partitions(db, &patterns, after, to_i32(limit)),
        queries::partition_counts(db, &patterns),
    )?;
    let mut counts: BTreeMap<&'static str, i64> = PartitionStatus::ALL.iter().map(|s| (s.short_name(), 0)).collect();
    for (status, partitions) in counted {
        if let Some(known) = PartitionStatus::from_short_name(&status) {
            counts.insert(known.short_name(), partitions);
        }
    }
    let next = (partitions.len() as i64 == limit).then(|| partitions.last().map(|p| p.partition_ref.clone())).flatten();
    Ok(no_store(Json(PartitionsPage { partitions, counts, next })))
}
