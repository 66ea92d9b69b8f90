//! `EventFilter`: which events a reader wants.
//!
//! Fields combine with AND; values within a field with OR; an empty field does not
//! constrain, so the empty filter matches everything. An event *involves* a partition as
//! [`involved_partitions`] says. Globs use globset with `literal_separator`: `*`, `?` and
//! `[...]` stay within one `/`-separated segment, `**` crosses segments, `{a,b}` is an
//! alternation and `\` escapes a metacharacter.
use std::collections::HashSet;

use globset::{GlobBuilder, GlobSet, GlobSetBuilder};

use crate::error::{invalid, ErrorClass, Rejection};
use crate::event::{involved_partitions, job_label, job_run_id, MAX_KEY_BYTES};
use crate::pb::{BuildEvent, EventFilter};

/// Most values accepted in one filter field.
pub const MAX_FILTER_VALUES: usize = 1000;

#[derive(Debug, Clone)]
pub struct CompiledFilter {
    pub partition_refs: HashSet<String>,
    pub partition_patterns: Vec<String>,
    pub job_labels: HashSet<String>,
    pub job_run_ids: HashSet<String>,
    globs: GlobSet,
}

impl CompiledFilter {
    /// Parses proto3 JSON (`{"partitionPatterns":["data/users/*"]}`); unknown fields are refused.
    pub fn from_json(text: &str) -> Result<Self, Rejection> {
        let filter: EventFilter = serde_json::from_str(text).map_err(|e| {
            Rejection::new(ErrorClass::Malformed, format!("malformed EventFilter JSON: {e}"))
                .hint("fields: partitionRefs, partitionPatterns, jobLabels, jobRunIds (arrays of strings)")
        })?;
        Self::new(&filter)
    }

    pub fn new(filter: &EventFilter) -> Result<Self, Rejection> {
        for (field, values) in [
            ("partitionRefs", &filter.partition_refs),
            ("partitionPatterns", &filter.partition_patterns),
            ("jobLabels", &filter.job_labels),
            ("jobRunIds", &filter.job_run_ids),
        ] {
            if values.len() > MAX_FILTER_VALUES {
                return Err(Rejection::new(
                    ErrorClass::TooLarge,
                    format!(
                        "filter field {field} has {} values; at most {MAX_FILTER_VALUES} are accepted",
                        values.len()
                    ),
                ));
            }
            if let Some(v) = values.iter().find(|v| v.is_empty() || v.len() > MAX_KEY_BYTES) {
                return Err(invalid(format!(
                    "filter field {field} has an empty or overlong value ({} bytes)",
                    v.len()
                )));
            }
        }
        let mut builder = GlobSetBuilder::new();
        for pattern in &filter.partition_patterns {
            builder.add(compile_glob(pattern)?);
        }
        let globs = builder.build().map_err(|e| invalid(format!("invalid partition patterns: {e}")))?;
        Ok(CompiledFilter {
            partition_refs: filter.partition_refs.iter().cloned().collect(),
            partition_patterns: filter.partition_patterns.clone(),
            job_labels: filter.job_labels.iter().cloned().collect(),
            job_run_ids: filter.job_run_ids.iter().cloned().collect(),
            globs,
        })
    }

    pub fn is_empty(&self) -> bool {
        self.partition_refs.is_empty()
            && self.partition_patterns.is_empty()
            && self.job_labels.is_empty()
            && self.job_run_ids.is_empty()
    }

    /// Whether one partition ref matches any of the patterns.
    pub fn pattern_matches(&self, partition_ref: &str) -> bool {
        self.globs.is_match(partition_ref)
    }

    pub fn matches(&self, event: &BuildEvent) -> bool {
        let partitions = involved_partitions(event);
        (self.partition_refs.is_empty() || partitions.iter().any(|p| self.partition_refs.contains(*p)))
            && (self.partition_patterns.is_empty() || partitions.iter().any(|p| self.globs.is_match(p)))
            && (self.job_run_ids.is_empty() || job_run_id(event).is_some_and(|j| self.job_run_ids.contains(j)))
            && (self.job_labels.is_empty() || job_label(event).is_some_and(|l| self.job_labels.contains(l)))
    }
}

/// Compiles one partition glob with bel's semantics.
pub fn compile_glob(pattern: &str) -> Result<globset::Glob, Rejection> {
    GlobBuilder::new(pattern).literal_separator(true).backslash_escape(true).build().map_err(|e| {
        invalid(format!("invalid partition pattern {pattern:?}: {}", e.kind()))
            .hint("globs: * and ? within a segment, ** across segments, [a-z] classes, {a,b}, \\ escapes")
    })
}

/// The literal text every match of `pattern` starts with (up to the first metacharacter),
/// used to narrow the set of known partitions with an index range scan.
pub fn literal_prefix(pattern: &str) -> &str {
    let end = pattern.find(['*', '?', '[', '{', '\\']).unwrap_or(pattern.len());
    &pattern[..end]
}

/// A range of partition refs in the "C" collation (code point order): `lower <= ref`, and
/// `ref < upper` when there is an upper bound. Every ref starting with a prefix lies in
/// its range, so an index range scan plus the glob finds all matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefRange {
    pub lower: String,
    pub upper: Option<String>,
}

impl CompiledFilter {
    /// The index ranges that hold every partition ref matching the filter's patterns: one
    /// per distinct literal prefix, in order, without a range that another one covers (a
    /// prefix that extends a shorter one). Empty when the filter has no patterns.
    pub fn pattern_ranges(&self) -> Vec<RefRange> {
        let prefixes: std::collections::BTreeSet<&str> =
            self.partition_patterns.iter().map(|p| literal_prefix(p)).collect();
        let mut kept: Vec<&str> = Vec::new();
        for prefix in prefixes {
            // Sorted order puts a prefix right after the shorter prefixes it extends.
            if !kept.last().is_some_and(|shorter| prefix.starts_with(shorter)) {
                kept.push(prefix);
            }
        }
        kept.into_iter().map(|p| RefRange { lower: p.to_owned(), upper: prefix_upper_bound(p) }).collect()
    }
}

/// The smallest string greater than every string starting with `prefix` (code point
/// order = byte order of UTF-8 = the "C" collation), or None when there is none.
pub fn prefix_upper_bound(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let mut next = last as u32 + 1;
        if (0xD800..=0xDFFF).contains(&next) {
            next = 0xE000;
        }
        if let Some(c) = char::from_u32(next) {
            chars.push(c);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::from_json;

    fn f(json: &str) -> CompiledFilter {
        CompiledFilter::from_json(json).unwrap()
    }

    fn partition_event(r: &str, job: &str) -> BuildEvent {
        from_json(&format!(
            r#"{{"buildRequestId":"b","partition":{{"partitionRef":"{r}","status":"PARTITION_BUILDING","jobRunId":"{job}"}}}}"#
        ))
        .unwrap()
    }

    #[test]
    fn glob_semantics() {
        let cases: &[(&str, &str, bool)] = &[
            ("data/users/*", "data/users/2026-11-01", true),
            ("data/users/*", "data/users/2026/11", false),
            ("data/users/**", "data/users/2026/11", true),
            ("data/*/2026-11-??", "data/users/2026-11-01", true),
            ("data/*/2026-11-??", "data/users/2026-11-1", false),
            ("**", "anything/at/all", true),
            ("*", "a/b", false),
            ("data/[a-c]*/x", "data/bob/x", true),
            ("data/[a-c]*/x", "data/dan/x", false),
            ("data/[!a-c]*/x", "data/dan/x", true),
            ("data/{users,orders}/*", "data/orders/1", true),
            ("data/\\*", "data/*", true),
            ("data/\\*", "data/x", false),
            ("data/users/2026-11-01", "data/users/2026-11-01", true),
        ];
        for (pattern, r, expected) in cases {
            let filter = f(&format!(r#"{{"partitionPatterns":[{}]}}"#, serde_json::to_string(pattern).unwrap()));
            assert_eq!(filter.pattern_matches(r), *expected, "{pattern} vs {r}");
        }
    }

    #[test]
    fn prefix_upper_bounds() {
        assert_eq!(prefix_upper_bound("data/users/").as_deref(), Some("data/users0"));
        assert_eq!(prefix_upper_bound(""), None);
        assert_eq!(prefix_upper_bound("\u{10FFFF}"), None);
        assert_eq!(prefix_upper_bound("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_upper_bound("\u{D7FF}").as_deref(), Some("\u{E000}"));
    }

    #[test]
    fn pattern_ranges_cover_every_match_once() {
        let ranges =
            f(r#"{"partitionPatterns":["data/users/*","data/users/eu/*","data/orders/*","logs/**"]}"#).pattern_ranges();
        let range = |lower: &str, upper: &str| RefRange { lower: lower.into(), upper: Some(upper.into()) };
        assert_eq!(
            ranges,
            vec![range("data/orders/", "data/orders0"), range("data/users/", "data/users0"), range("logs/", "logs0")]
        );
        // A pattern without literal prefix ranges over everything.
        assert_eq!(
            f(r#"{"partitionPatterns":["*/x","data/*"]}"#).pattern_ranges(),
            vec![RefRange { lower: String::new(), upper: None }]
        );
        assert!(f("{}").pattern_ranges().is_empty());
        // Every match of a pattern lies in one of the ranges.
        let filter = f(r#"{"partitionPatterns":["data/u*/[0-9]*","data/x?z"]}"#);
        let ranges = filter.pattern_ranges();
        for r in ["data/users/1", "data/u/9a", "data/xyz", "data/x/z"] {
            let inside = ranges.iter().any(|g| r >= g.lower.as_str() && g.upper.as_deref().is_none_or(|u| r < u));
            assert!(inside || !filter.pattern_matches(r), "{r} matches but lies outside {ranges:?}");
        }
    }

    #[test]
    fn literal_prefixes() {
        assert_eq!(literal_prefix("data/users/*"), "data/users/");
        assert_eq!(literal_prefix("**"), "");
        assert_eq!(literal_prefix("data/[ab]"), "data/");
        assert_eq!(literal_prefix("data/\\*"), "data/");
        assert_eq!(literal_prefix("exact"), "exact");
    }

    #[test]
    fn bad_filters() {
        assert_eq!(
            CompiledFilter::from_json(r#"{"partitionPatterns":["data/[a"]}"#).unwrap_err().class,
            ErrorClass::InvalidValue
        );
        assert_eq!(CompiledFilter::from_json(r#"{"bogus":[]}"#).unwrap_err().class, ErrorClass::Malformed);
        assert_eq!(CompiledFilter::from_json(r#"{"partitionRefs":"x"}"#).unwrap_err().class, ErrorClass::Malformed);
        assert_eq!(CompiledFilter::from_json(r#"{"partitionRefs":[""]}"#).unwrap_err().class, ErrorClass::InvalidValue);
        assert!(f("{}").is_empty());
        assert!(f(r#"{"partition_refs":["a"]}"#).partition_refs.contains("a"));
    }

    #[test]
    fn and_across_fields_or_within() {
        let e = partition_event("data/users/1", "j1");
        assert!(f("{}").matches(&e));
        assert!(f(r#"{"partitionRefs":["data/users/1","x"]}"#).matches(&e));
        assert!(!f(r#"{"partitionRefs":["x"]}"#).matches(&e));
        assert!(f(r#"{"partitionRefs":["data/users/1"],"jobRunIds":["j1"]}"#).matches(&e));
        assert!(!f(r#"{"partitionRefs":["data/users/1"],"jobRunIds":["j2"]}"#).matches(&e));
        assert!(f(r#"{"partitionPatterns":["data/users/*"],"jobRunIds":["j2","j1"]}"#).matches(&e));
        assert!(!f(r#"{"partitionRefs":["data/users/1"],"partitionPatterns":["data/orders/*"]}"#).matches(&e));
        // Partition events carry no job label: a label filter does not match them.
        assert!(!f(r#"{"jobLabels":["etl"]}"#).matches(&e));
        let j = from_json(r#"{"buildRequestId":"b","jobRun":{"jobRunId":"j1","jobLabel":"etl","status":"JOB_RUN_RUNNING","targetPartitions":["data/users/1","data/users/2"]}}"#).unwrap();
        assert!(f(r#"{"jobLabels":["etl"],"partitionRefs":["data/users/2"]}"#).matches(&j));
        let b = from_json(r#"{"buildRequestId":"b","buildRequest":{"status":"BUILD_REQUEST_RECEIVED","requestedPartitions":["data/users/3"]}}"#).unwrap();
        assert!(f(r#"{"partitionPatterns":["data/*/3"]}"#).matches(&b));
        assert!(!f(r#"{"jobRunIds":["j1"]}"#).matches(&b));
    }
}
