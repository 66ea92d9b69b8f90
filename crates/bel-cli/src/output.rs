//! Formatting for the terminal.
use std::time::SystemTime;

use bel_client::{PartitionStatusRow, Transition};
use chrono::{DateTime, SecondsFormat, Utc};

/// Renders rows under headers with left-aligned columns, two spaces apart, with no
/// trailing spaces.
pub fn render_table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header_row: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header_row).chain(rows) {
        let mut line = String::new();
        for (i, (cell, width)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                line.push_str("  ");
            }
            line.push_str(cell);
            line.extend(std::iter::repeat_n(' ', width - cell.chars().count()));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Headers of the partition status table.
pub const STATUS_HEADERS: [&str; 6] = ["PARTITION", "STATUS", "BUILD REQUEST", "JOB RUN", "LAST IDX", "UPDATED AT"];

/// One partition status row as table cells ("-" for absent values).
pub fn status_cells(row: &PartitionStatusRow) -> Vec<String> {
    let or_dash = |value: Option<String>| value.unwrap_or_else(|| "-".to_string());
    vec![
        row.partition_ref.clone(),
        row.status.clone(),
        or_dash(row.build_request_id.clone()),
        or_dash(row.job_run_id.clone()),
        or_dash(row.last_idx.map(|idx| idx.to_string())),
        or_dash(row.updated_at.map(rfc3339)),
    ]
}

/// Headers of the transitions table.
pub const TRANSITION_HEADERS: [&str; 3] = ["ENTITY", "FROM", "TO"];

/// One transition as table cells; a first state comes from "(none)".
pub fn transition_cells(transition: &Transition) -> Vec<String> {
    vec![
        transition.entity.clone(),
        transition.from_state.clone().unwrap_or_else(|| "(none)".to_string()),
        transition.to_state.clone(),
    ]
}

/// A time as RFC 3339 in UTC with millisecond precision, e.g. `2026-11-01T12:00:00.000Z`.
pub fn rfc3339(time: SystemTime) -> String {
    DateTime::<Utc>::from(time).to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn tables_align_without_trailing_spaces() {
        let rows = vec![
            vec!["data/users/2026-11-01".to_string(), "AVAILABLE".to_string(), "1".to_string()],
            vec!["a".to_string(), "FAILED".to_string(), "".to_string()],
        ];
        let table = render_table(&["PARTITION", "STATUS", "X"], &rows);
        assert_eq!(
            table,
            "PARTITION              STATUS     X\n\
             data/users/2026-11-01  AVAILABLE  1\n\
             a                      FAILED\n"
        );
    }

    #[test]
    fn widths_count_characters_not_bytes() {
        let table = render_table(&["A", "B"], &[vec!["é".to_string(), "x".to_string()]]);
        assert_eq!(table, "A  B\né  x\n");
    }

    #[test]
    fn transition_rows() {
        let first = Transition { entity: "partition".into(), from_state: None, to_state: "REQUESTED".into() };
        let next = Transition { from_state: Some("REQUESTED".into()), to_state: "ANALYZED".into(), ..first.clone() };
        let cells: Vec<Vec<String>> = [first, next].iter().map(transition_cells).collect();
        assert_eq!(
            render_table(&TRANSITION_HEADERS, &cells),
            "ENTITY     FROM       TO\n\
             partition  (none)     REQUESTED\n\
             partition  REQUESTED  ANALYZED\n"
        );
    }

    #[test]
    fn status_rows() {
        let row = PartitionStatusRow {
            partition_ref: "p".into(),
            status: "BUILDING".into(),
            build_request_id: Some("b1".into()),
            job_run_id: None,
            last_idx: Some(9),
            updated_at: Some(UNIX_EPOCH + Duration::from_millis(1_790_000_000_123)),
        };
        assert_eq!(status_cells(&row), ["p", "BUILDING", "b1", "-", "9", "2026-09-21T14:13:20.123Z"]);
    }
}
