//! Query strings: repeatable parameters, unknown ones refused, integers checked against
//! their documented bounds (docs/http-api.md).
use std::ops::RangeInclusive;

use crate::error::{code, ApiError};

/// The decoded `name=value` pairs of a query string, in order.
#[derive(Debug, Default)]
pub struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Decodes `raw` and refuses any parameter not in `accepted`.
    pub fn parse(raw: Option<&str>, accepted: &[&str]) -> Result<Self, ApiError> {
        let pairs: Vec<(String, String)> = form_urlencoded::parse(raw.unwrap_or("").as_bytes())
            .map(|(name, value)| (name.into_owned(), value.into_owned()))
            .collect();
        if let Some((name, _)) = pairs.iter().find(|(name, _)| !accepted.contains(&name.as_str())) {
            let hint = if accepted.is_empty() {
                "this route takes no query parameters".to_owned()
            } else {
                format!("this route takes: {}", accepted.join(", "))
            };
            return Err(ApiError::bad_request(code::UNKNOWN_PARAMETER, format!("unknown query parameter {name:?}"))
                .with_hint(hint));
        }
        Ok(Params { pairs })
    }

    /// Every value of a repeatable parameter, in order.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs.iter().filter(|(n, _)| n == name).map(|(_, value)| value.clone()).collect()
    }

    /// The value of a parameter that may be given at most once.
    pub fn single(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.pairs.iter().filter(|(n, _)| n == name).map(|(_, value)| value.as_str());
        let first = values.next();
        if values.next().is_some() {
            return Err(ApiError::bad_request(
                code::DUPLICATE_PARAMETER,
                format!("query parameter {name} is given twice"),
            )
            .with_hint(format!("give {name} at most once")));
        }
        Ok(first)
    }

    /// An integer parameter in `range` (`default` when absent). Text that is not an
    /// integer is refused with Postgres's SQLSTATE for it (22P02), a value out of range
    /// with the extension's (22023).
    pub fn integer(&self, name: &str, default: i64, range: RangeInclusive<i64>, hint: &str) -> Result<i64, ApiError> {
        let Some(text) = self.single(name)? else {
            return Ok(default);
        };
        let value: i64 = text.parse().map_err(|_| {
            ApiError::bad_request(code::INVALID_TEXT_REPRESENTATION, format!("{name} is not an integer: {text:?}"))
                .with_hint(hint.to_owned())
        })?;
        if !range.contains(&value) {
            let bounds = if *range.end() == i64::MAX {
                format!("{name} must be >= {}, got {value}", range.start())
            } else {
                format!("{name} must be between {} and {}, got {value}", range.start(), range.end())
            };
            return Err(ApiError::bad_request(code::INVALID_PARAMETER_VALUE, bounds).with_hint(hint.to_owned()));
        }
        Ok(value)
    }
}

/// An integer that `integer` checked to lie within an i32 range.
pub fn to_i32(value: i64) -> i32 {
    i32::try_from(value).unwrap_or(if value < 0 { i32::MIN } else { i32::MAX })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeatable_and_single_parameters() {
        let params = Params::parse(Some("a=1&b=x%2Fy&b=%2A&c="), &["a", "b", "c"]).unwrap();
        assert_eq!(params.all("b"), vec!["x/y", "*"]);
        assert_eq!(params.single("a").unwrap(), Some("1"));
        assert_eq!(params.single("c").unwrap(), Some(""));
        assert_eq!(params.single("missing").unwrap(), None);
        let twice = params.single("b").unwrap_err();
        assert_eq!((twice.status.as_u16(), twice.code.as_str()), (400, "duplicate_parameter"));
        assert!(Params::parse(None, &[]).unwrap().all("a").is_empty());
    }

    #[test]
    fn unknown_parameters_are_refused() {
        let error = Params::parse(Some("since_idx=1&sinceIdx=2"), &["since_idx"]).unwrap_err();
        assert_eq!(error.code, "unknown_parameter");
        assert_eq!(error.message, "unknown query parameter \"sinceIdx\"");
        assert_eq!(error.hint.as_deref(), Some("this route takes: since_idx"));
    }

    #[test]
    fn integers_are_parsed_and_bounded() {
        let params = Params::parse(Some("n=abc&m=-1&k=10001&ok=5"), &["n", "m", "k", "ok"]).unwrap();
        let not_integer = params.integer("n", 0, 0..=i64::MAX, "h").unwrap_err();
        assert_eq!(
            (not_integer.code.as_str(), not_integer.message.as_str()),
            ("22P02", "n is not an integer: \"abc\"")
        );
        let negative = params.integer("m", 0, 0..=i64::MAX, "h").unwrap_err();
        assert_eq!((negative.code.as_str(), negative.message.as_str()), ("22023", "m must be >= 0, got -1"));
        let large = params.integer("k", 0, 1..=10_000, "h").unwrap_err();
        assert_eq!(large.message, "k must be between 1 and 10000, got 10001");
        assert_eq!(params.integer("ok", 0, 1..=10, "h").unwrap(), 5);
        assert_eq!(params.integer("absent", 7, 1..=10, "h").unwrap(), 7);
    }
}
