//! `/`: how many partitions are in each status, and the latest builds.
use axum::extract::{RawQuery, State};
use maud::{html, Markup};

use crate::api::params::Params;
use crate::dashboard::builds;
use crate::dashboard::error::PageError;
use crate::dashboard::layout::{Page, Section};
use crate::dashboard::partitions::status_tiles;
use crate::queries;
use crate::state::AppState;

/// Builds listed on the overview.
const RECENT_BUILDS: i32 = 12;

pub async fn show(State(state): State<AppState>, RawQuery(query): RawQuery) -> Result<Markup, PageError> {
    Params::parse(query.as_deref(), &[])?;
    let db = state.db();
    let (counts, recent) =
        tokio::try_join!(queries::partition_counts(db, &[]), queries::builds(db, None, RECENT_BUILDS))?;
    Ok(Page::new("Overview", Section::Overview).render(html! {
        h1 { "Overview" }
        section.card {
            div.card-head { h2 { "Partitions by status" } a href="/partitions" { "All partitions →" } }
            (status_tiles(&counts, &[]))
        }
        section.card {
            div.card-head { h2 { "Recent builds" } a href="/builds" { "All builds →" } }
            @if recent.is_empty() {
                p.empty { "No build requests yet." }
            } @else {
                (builds::table(&recent))
            }
        }
        section.links {
            a.card.link href="/tail" { strong { "Live tail" } span { "Events as they are appended, filtered by partition or job." } }
            a.card.link href="/diagrams" { strong { "State diagrams" } span { "Every transition bel_append accepts." } }
        }
    }))
}
