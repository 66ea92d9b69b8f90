//! Helpers shared by the client's tests against a running cluster.
use std::time::{SystemTime, UNIX_EPOCH};

/// The database the tests use (one with `CREATE EXTENSION bel`), from `BEL_TEST_DSN`.
/// `None` means "skip": allowed only outside CI, so `cargo test --workspace` on a laptop
/// without a database passes, while CI (which sets `CI`, and where scripts/test.sh always
/// sets `BEL_TEST_DSN`) fails instead of silently testing nothing.
pub fn test_dsn(test: &str) -> Option<String> {
    match decide_dsn(std::env::var("BEL_TEST_DSN").ok(), std::env::var("CI").ok()) {
        Ok(Some(dsn)) => Some(dsn),
        Ok(None) => {
            eprintln!("skipping {test}: set BEL_TEST_DSN to a database with CREATE EXTENSION bel");
            None
        }
        Err(message) => panic!("{test}: {message}"),
    }
}

/// The decision of [`test_dsn`] from the two variables: the DSN, skip, or fail.
pub fn decide_dsn(dsn: Option<String>, ci: Option<String>) -> Result<Option<String>, String> {
    match dsn {
        Some(dsn) if !dsn.trim().is_empty() => Ok(Some(dsn)),
        _ if ci.is_some_and(|ci| !ci.is_empty()) => {
            Err("BEL_TEST_DSN is not set and CI is: run these tests through `bash scripts/test.sh cluster`".into())
        }
        _ => Ok(None),
    }
}

/// A prefix unique to this run of a test, for partition refs and build ids.
pub fn run_id(test: &str) -> String {
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{test}-{}-{nanos}", std::process::id())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_dsn_ci_fails_and_elsewhere_skips() {
        let some = |s: &str| Some(s.to_string());
        assert_eq!(decide_dsn(some("host=x"), some("true")), Ok(some("host=x")));
        assert_eq!(decide_dsn(some("host=x"), None), Ok(some("host=x")));
        assert!(decide_dsn(None, some("true")).is_err());
        assert!(decide_dsn(some("  "), some("1")).is_err());
        assert_eq!(decide_dsn(None, None), Ok(None));
        assert_eq!(decide_dsn(None, some("")), Ok(None));
    }
}
