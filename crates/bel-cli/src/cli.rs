//! Command-line arguments, and turning filter flags into an `EventFilter`.
use std::path::PathBuf;
use std::time::Duration;

use bel_client::EventFilter;
use bel_core::filter::CompiledFilter;
use bel_core::{ErrorClass, Rejection};
use clap::{Args, Parser, Subcommand};

/// Build Event Log client: append, read, follow and query a bel database.
#[derive(Debug, Parser)]
#[command(name = "bel", version, about, max_term_width = 100)]
pub struct Cli {
    /// Database to connect to: libpq key=value ("host=/var/run/postgresql dbname=builds")
    /// or a postgresql:// URL. TLS: sslmode=require (encrypt), verify-ca or verify-full
    /// (check the certificate against sslrootcert=FILE, or =system).
    #[arg(long, env = "BEL_DSN", global = true, hide_env_values = true)]
    pub dsn: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Append events given as proto3 JSON and print the idx of each, one per line.
    ///
    /// The input holds one or more JSON values: an object is one event (sent as binary
    /// protobuf), an array is a batch appended all or nothing (bel_append_batch).
    Append {
        /// The event(s) as JSON text, or "-" to read them from standard input.
        #[arg(value_name = "JSON|-")]
        events: String,
    },

    /// Print one page of events, one JSON object per line; the next cursor goes to stderr.
    List {
        /// Print events with idx above this cursor.
        #[arg(long, default_value_t = 0, value_name = "IDX", allow_negative_numbers = true)]
        since: i64,
        #[command(flatten)]
        filter: FilterArgs,
        /// Most events to print (0..=10000).
        #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
        limit: i64,
    },

    /// Print matching events as JSON lines as they are appended, forever (Ctrl-C stops).
    ///
    /// Each event is printed exactly once, in idx order, from the database (--dsn) or from a
    /// `bel serve` (--http). A lost connection is retried with backoff and jitter, resuming
    /// exactly where it stopped.
    Follow {
        /// Start after this idx (0 = from the beginning of the log).
        #[arg(long, default_value_t = 0, value_name = "IDX", allow_negative_numbers = true)]
        since: i64,
        #[command(flatten)]
        filter: FilterArgs,
        /// Follow over HTTP from the `bel serve` at this base URL (e.g. http://127.0.0.1:8080)
        /// instead of the database.
        #[arg(long, value_name = "URL")]
        http: Option<String>,
        /// With --http: a file holding the server's bearer token (a server that listens on a
        /// non-loopback address requires one).
        #[arg(long, value_name = "PATH", requires = "http")]
        token_file: Option<PathBuf>,
        /// Events fetched per page (1..=10000).
        #[arg(long, default_value_t = 1000)]
        page_limit: i64,
        /// SQL: poll at least this often when no NOTIFY arrives (milliseconds, > 0).
        #[arg(long, default_value_t = 1000, value_name = "MS")]
        poll_interval_ms: u64,
        /// HTTP: how long the server may hold a request while nothing new arrives
        /// (milliseconds, 1..=30000).
        #[arg(long, default_value_t = 25_000, value_name = "MS")]
        long_poll_ms: u64,
    },

    /// Print the status of partitions as a table (all partitions when no pattern is given).
    Status {
        /// Globs such as "data/users/*" (`*` within a path segment, `**` across segments).
        #[arg(value_name = "PATTERN")]
        patterns: Vec<String>,
    },

    /// Print a build request's summary as pretty JSON.
    Summary {
        /// The build request id.
        build_request_id: String,
    },

    /// Print the transitions of the state diagrams bel_append enforces, as a table.
    Transitions,

    /// Wait until a partition is AVAILABLE.
    ///
    /// Exit status: 0 available, 3 the partition FAILED, 4 timed out, 1 any other error.
    Wait {
        /// The partition ref, e.g. data/users/2026-11-01.
        partition_ref: String,
        /// Give up after this many seconds (fractions allowed); waits indefinitely when absent.
        #[arg(long, value_name = "SECS", value_parser = parse_seconds)]
        timeout: Option<Duration>,
    },

    /// Serve the log read-only over HTTP (docs/http-api.md) until Ctrl-C or SIGTERM.
    ///
    /// Long-polled event pages for graphs that cannot reach the database, the views, a
    /// health check and Prometheus metrics. The database role needs only bel_reader.
    /// Every database connection uses TLS as --dsn's sslmode says (verify-full checks the
    /// certificate and the host name); a certificate refused answers 503 with the reason.
    Serve(bel_serve::ServeArgs),
}

/// Which events to read: either `--filter` with a proto3 JSON EventFilter, or the flags.
/// Flags combine with AND; repeated values of one flag with OR.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// An EventFilter in proto3 JSON, e.g. '{"partitionPatterns":["data/users/*"]}'.
    #[arg(long, value_name = "JSON", conflicts_with_all = ["partitions", "patterns", "job_labels", "job_run_ids"])]
    pub filter: Option<String>,
    /// Events involving this exact partition (repeatable).
    #[arg(long = "partition", value_name = "REF", num_args = 1..)]
    pub partitions: Vec<String>,
    /// Events involving a partition matching this glob (repeatable).
    #[arg(long = "pattern", value_name = "GLOB", num_args = 1..)]
    pub patterns: Vec<String>,
    /// Events of job runs with this job label (repeatable).
    #[arg(long = "job-label", value_name = "LABEL", num_args = 1..)]
    pub job_labels: Vec<String>,
    /// Events of this job run (repeatable).
    #[arg(long = "job-run-id", value_name = "ID", num_args = 1..)]
    pub job_run_ids: Vec<String>,
}

impl FilterArgs {
    /// The filter the flags describe, checked the way the server checks it (globs,
    /// empty or oversized values), so mistakes are reported before connecting.
    pub fn to_filter(&self) -> Result<EventFilter, Rejection> {
        let filter = match &self.filter {
            Some(json) => serde_json::from_str::<EventFilter>(json).map_err(|e| {
                Rejection::new(ErrorClass::Malformed, format!("malformed --filter JSON: {e}"))
                    .hint("fields: partitionRefs, partitionPatterns, jobLabels, jobRunIds (arrays of strings)")
            })?,
            None => EventFilter {
                partition_refs: self.partitions.clone(),
                partition_patterns: self.patterns.clone(),
                job_labels: self.job_labels.clone(),
                job_run_ids: self.job_run_ids.clone(),
            },
        };
        CompiledFilter::new(&filter)?;
        Ok(filter)
    }
}

/// Parses a number of seconds such as `30` or `0.5`.
pub fn parse_seconds(text: &str) -> Result<Duration, String> {
    let seconds: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number of seconds"))?;
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a valid duration (must be >= 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("bel").chain(args.iter().copied()))
    }

    fn list_filter(args: &[&str]) -> Result<EventFilter, Rejection> {
        let mut all = vec!["list"];
        all.extend_from_slice(args);
        match parse(&all).expect("arguments parse").command {
            Command::List { filter, .. } => filter.to_filter(),
            other => panic!("expected list, got {other:?}"),
        }
    }

    #[test]
    fn the_command_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn flags_build_a_filter() {
        let filter = list_filter(&[
            "--partition",
            "data/a",
            "data/b",
            "--partition",
            "data/c",
            "--pattern",
            "data/users/*",
            "--job-label",
            "etl",
            "--job-run-id",
            "j1",
        ])
        .unwrap();
        assert_eq!(filter.partition_refs, ["data/a", "data/b", "data/c"]);
        assert_eq!(filter.partition_patterns, ["data/users/*"]);
        assert_eq!(filter.job_labels, ["etl"]);
        assert_eq!(filter.job_run_ids, ["j1"]);
        assert_eq!(list_filter(&[]).unwrap(), EventFilter::default());
    }

    #[test]
    fn json_filter() {
        let filter = list_filter(&["--filter", r#"{"partitionPatterns":["data/*"],"job_labels":["etl"]}"#]).unwrap();
        assert_eq!(filter.partition_patterns, ["data/*"]);
        assert_eq!(filter.job_labels, ["etl"]);
        let err = list_filter(&["--filter", r#"{"bogus":1}"#]).unwrap_err();
        assert_eq!(err.class, ErrorClass::Malformed);
        assert!(err.hint.is_some());
        assert_eq!(list_filter(&["--filter", "not json"]).unwrap_err().class, ErrorClass::Malformed);
    }

    #[test]
    fn json_filter_and_flags_conflict() {
        assert!(parse(&["list", "--filter", "{}", "--partition", "p"]).is_err());
    }

    #[test]
    fn bad_globs_and_empty_values_are_refused_before_connecting() {
        assert_eq!(list_filter(&["--pattern", "data/[a"]).unwrap_err().class, ErrorClass::InvalidValue);
        assert_eq!(list_filter(&["--partition", ""]).unwrap_err().class, ErrorClass::InvalidValue);
    }

    #[test]
    fn subcommand_arguments() {
        match parse(&["follow", "--since", "42", "--pattern", "p/*", "--poll-interval-ms", "250"]).unwrap().command {
            Command::Follow { since, filter, http, token_file, page_limit, poll_interval_ms, long_poll_ms } => {
                assert_eq!((since, page_limit, poll_interval_ms, long_poll_ms), (42, 1000, 250, 25_000));
                assert_eq!(filter.patterns, ["p/*"]);
                assert_eq!((http, token_file), (None, None));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["follow", "--http", "http://127.0.0.1:8080", "--long-poll-ms", "500"]).unwrap().command {
            Command::Follow { http, long_poll_ms, .. } => {
                assert_eq!((http.as_deref(), long_poll_ms), (Some("http://127.0.0.1:8080"), 500));
            }
            other => panic!("{other:?}"),
        }
        assert!(parse(&["follow", "--token-file", "t"]).is_err(), "a token needs --http");
        assert!(matches!(parse(&["transitions"]).unwrap().command, Command::Transitions));
        match parse(&["wait", "data/a", "--timeout", "1.5"]).unwrap().command {
            Command::Wait { partition_ref, timeout } => {
                assert_eq!((partition_ref.as_str(), timeout), ("data/a", Some(Duration::from_millis(1500))));
            }
            other => panic!("{other:?}"),
        }
        match parse(&["status", "data/*", "logs/**"]).unwrap().command {
            Command::Status { patterns } => assert_eq!(patterns, ["data/*", "logs/**"]),
            other => panic!("{other:?}"),
        }
        let cli = parse(&["summary", "b1", "--dsn", "host=x"]).unwrap();
        assert_eq!(cli.dsn.as_deref(), Some("host=x"));
        assert!(parse(&["append"]).is_err());
        assert!(parse(&["wait", "p", "--timeout", "-1"]).is_err());
    }

    #[test]
    fn seconds() {
        assert_eq!(parse_seconds("30").unwrap(), Duration::from_secs(30));
        assert_eq!(parse_seconds("0.25").unwrap(), Duration::from_millis(250));
        assert!(parse_seconds("soon").is_err());
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("NaN").is_err());
    }
}
