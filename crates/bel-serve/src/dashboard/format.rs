//! Text for people: times, durations, counts, and the URLs of the dashboard's pages.
use chrono::{DateTime, Utc};

/// `2026-11-01 12:00:03` (UTC, as every time on the dashboard).
pub fn time(at: &DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A time as written in the views' JSON (RFC 3339).
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text).ok().map(|at| at.with_timezone(&Utc))
}

/// `850 ms`, `12.4 s`, `3 min 05 s`, `2 h 07 min`, `3 d 04 h`.
pub fn duration(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    if seconds < 1.0 {
        return format!("{} ms", (seconds * 1000.0).round() as i64);
    }
    if seconds < 60.0 {
        return format!("{seconds:.1} s");
    }
    let whole = seconds.round() as i64;
    let (days, hours, minutes, secs) = (whole / 86_400, whole / 3600 % 24, whole / 60 % 60, whole % 60);
    if days > 0 {
        format!("{days} d {hours:02} h")
    } else if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else {
        format!("{minutes} min {secs:02} s")
    }
}

/// The server's clock, for how long unfinished things have been going.
pub fn now() -> DateTime<Utc> {
    DateTime::<Utc>::from(std::time::SystemTime::now())
}

/// Seconds from `from` to `to`.
pub fn seconds_between(from: &DateTime<Utc>, to: &DateTime<Utc>) -> f64 {
    (*to - *from).num_microseconds().map_or(0.0, |us| us as f64 / 1e6)
}

/// `1,234,567`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Percent-encodes `text` as one path segment.
pub fn path_segment(text: &str) -> String {
    // Everything but RFC 3986's unreserved characters.
    const SEGMENT: &percent_encoding::AsciiSet =
        &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// A query string from name/value pairs (`a=1&b=x%2Fy`).
pub fn query<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(pairs).finish()
}

/// The page of one build.
pub fn build_url(build_request_id: &str) -> String {
    format!("/builds/{}", path_segment(build_request_id))
}

/// A job run's row on its build's page.
pub fn job_run_url(build_request_id: &str, job_run_id: &str) -> String {
    format!("{}#{}", build_url(build_request_id), job_run_anchor(job_run_id))
}

/// The element id of a job run's row (ids may hold any character; the anchor is encoded).
pub fn job_run_anchor(job_run_id: &str) -> String {
    format!("run-{}", path_segment(job_run_id))
}

/// The partitions page showing exactly this partition.
pub fn partition_url(partition_ref: &str) -> String {
    format!("/partitions?{}", query([("pattern", glob_literal(partition_ref).as_str())]))
}

/// A glob matching exactly `text`: every glob metacharacter escaped with a backslash.
pub fn glob_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '{' | '}' | '\\' | ',') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.44), "12.4 s");
        assert_eq!(duration(185.0), "3 min 05 s");
        assert_eq!(duration(2.0 * 3600.0 + 7.0 * 60.0), "2 h 07 min");
        assert_eq!(duration(3.0 * 86_400.0 + 4.0 * 3600.0), "3 d 04 h");
        assert_eq!(duration(-1.0), "0 ms");
    }

    #[test]
    fn counts_and_times() {
        assert_eq!(count(0), "0");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(1234567), "1,234,567");
        let at = parse_time("2026-11-01T12:00:03.5+00:00").unwrap();
        assert_eq!(time(&at), "2026-11-01 12:00:03");
        assert_eq!(parse_time("2026-11-01T13:00:03+01:00"), parse_time("2026-11-01T12:00:03Z"));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn urls_are_encoded() {
        assert_eq!(build_url("b 1/x"), "/builds/b%201%2Fx");
        assert_eq!(job_run_url("b1", "jr#1"), "/builds/b1#run-jr%231");
        assert_eq!(partition_url("data/a,b/*"), "/partitions?pattern=data%2Fa%5C%2Cb%2F%5C*");
        assert_eq!(query([("pattern", "a/*"), ("after", "x")]), "pattern=a%2F*&after=x");
        let literal = glob_literal("data/{x}/[1]*?");
        assert_eq!(literal, r"data/\{x\}/\[1\]\*\?");
        assert!(bel_core::filter::compile_glob(&literal).unwrap().compile_matcher().is_match("data/{x}/[1]*?"));
    }
}
