//! `bel`: the Build Event Log command-line client. Run `bel --help`.
mod cli;
mod input;
mod output;

use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use bel_client::{
    BuildEvent, DatabaseConfig, Error, GraphService, HttpGraphService, PgGraphService, SubscribeOptions, Subscription,
};
use clap::Parser;
use futures_util::StreamExt;

use crate::cli::{Cli, Command};
use crate::input::{parse_appendables, Appendable};

/// Why the command failed, and the exit status that says so.
#[derive(Debug)]
enum Failure {
    /// From the library or the server: printed with SQLSTATE, DETAIL and HINT.
    Bel(Error),
    /// The command line is incomplete (e.g. no DSN).
    Usage { message: String, hint: String },
    /// Reading input or writing output failed.
    Io(io::Error),
}

impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure::Bel(error)
    }
}

impl From<bel_core::Rejection> for Failure {
    fn from(rejection: bel_core::Rejection) -> Self {
        Failure::Bel(Error::Rejected(rejection))
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        Failure::Io(error)
    }
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Failure::Bel(Error::PartitionFailed { .. }) => ExitCode::from(3),
            Failure::Bel(Error::Timeout { .. }) => ExitCode::from(4),
            Failure::Usage { .. } => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }

    /// Prints the failure to stderr the way psql does: message, then DETAIL, HINT, CONTEXT.
    fn report(&self) {
        match self {
            Failure::Bel(error) => {
                let code = error.sqlstate().map(|code| format!(" {code}")).unwrap_or_default();
                eprintln!("bel: ERROR{code}: {}", error.message());
                if let Some(detail) = error.detail() {
                    eprintln!("DETAIL: {detail}");
                }
                if let Some(hint) = error.hint() {
                    eprintln!("HINT: {hint}");
                }
                if let Error::Sql(sql) = error {
                    if let Some(context) = &sql.context {
                        eprintln!("CONTEXT: {context}");
                    }
                }
            }
            Failure::Usage { message, hint } => {
                eprintln!("bel: {message}");
                eprintln!("HINT: {hint}");
            }
            Failure::Io(error) => eprintln!("bel: {error}"),
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("bel: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`bel follow | head`): stopping is what was asked for.
        Err(Failure::Io(error)) if error.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(failure) => {
            failure.report();
            failure.exit_code()
        }
    }
}

async fn run(cli: Cli) -> Result<(), Failure> {
    let dsn = cli.dsn.as_deref();
    match cli.command {
        Command::Append { events } => {
            // Read and decode everything first: nothing is appended if any event is malformed.
            let text = if events == "-" { read_stdin()? } else { events };
            let units = parse_appendables(&text)?;
            let service = PgGraphService::connect_with_config(config(dsn)?).await?;
            let mut out = io::stdout().lock();
            for unit in units {
                let idxs = match unit {
                    Appendable::Single(event) => vec![service.append(&event).await?],
                    Appendable::Batch(events) => service.append_batch(&events).await?,
                };
                for idx in idxs {
                    writeln!(out, "{idx}")?;
                }
            }
            out.flush()?;
        }
        Command::List { since, filter, limit } => {
            let filter = filter.to_filter()?;
            let service = PgGraphService::connect_with_config(config(dsn)?).await?;
            let page = service.list_events(since, &filter, limit).await?;
            let mut out = io::stdout().lock();
            for event in &page.events {
                write_event(&mut out, event)?;
            }
            out.flush()?;
            let in_flight = match page.in_flight_idx {
                0 => String::new(),
                idx => format!(" in_flight_idx={idx}"),
            };
            eprintln!("next_idx={} has_more={}{in_flight}", page.next_idx, page.has_more);
        }
        Command::Follow { since, filter, http, token_file, page_limit, poll_interval_ms, long_poll_ms } => {
            let filter = filter.to_filter()?;
            let options = SubscribeOptions {
                page_limit,
                poll_interval: Duration::from_millis(poll_interval_ms),
                long_poll_wait: Duration::from_millis(long_poll_ms),
                ..SubscribeOptions::default()
            };
            options.validate()?;
            let events = match http {
                Some(url) => {
                    let mut service = HttpGraphService::new(&url)?;
                    if let Some(path) = token_file {
                        service = service.with_bearer_token(read_token(&path)?);
                    }
                    service.subscribe_with(filter, since, options)
                }
                None => Subscription::new(config(dsn)?, filter, since, options),
            };
            follow(events).await?;
        }
        Command::Status { patterns } => {
            let service = PgGraphService::connect_with_config(config(dsn)?).await?;
            let rows = service.partition_status(&patterns).await?;
            if rows.is_empty() {
                eprintln!("bel: no partitions match");
                return Ok(());
            }
            let cells: Vec<Vec<String>> = rows.iter().map(output::status_cells).collect();
            let mut out = io::stdout().lock();
            out.write_all(output::render_table(&output::STATUS_HEADERS, &cells).as_bytes())?;
            out.flush()?;
        }
        Command::Summary { build_request_id } => {
            let service = PgGraphService::connect_with_config(config(dsn)?).await?;
            let summary = service.build_summary(&build_request_id).await?;
            let text = serde_json::to_string_pretty(&summary).map_err(io::Error::other)?;
            let mut out = io::stdout().lock();
            writeln!(out, "{text}")?;
            out.flush()?;
        }
        Command::Transitions => {
            let service = PgGraphService::connect_with_config(config(dsn)?).await?;
            let rows = service.transitions().await?;
            let cells: Vec<Vec<String>> = rows.iter().map(output::transition_cells).collect();
            let mut out = io::stdout().lock();
            out.write_all(output::render_table(&output::TRANSITION_HEADERS, &cells).as_bytes())?;
            out.flush()?;
        }
        Command::Wait { partition_ref, timeout } => {
            let service = PgGraphService::connect_with_config(config(dsn)?).await?;
            let row = service.wait_for_partition(&partition_ref, timeout.unwrap_or(Duration::MAX)).await?;
            let table = output::render_table(&output::STATUS_HEADERS, &[output::status_cells(&row)]);
            let mut out = io::stdout().lock();
            out.write_all(table.as_bytes())?;
            out.flush()?;
        }
        Command::Serve(args) => {
            let serve_failed = |error: bel_serve::ServeError| Failure::Io(io::Error::other(error.to_string()));
            // The pool and the LISTEN connection use TLS as the DSN's sslmode says.
            let config = args.into_config(config(dsn)?).map_err(serve_failed)?;
            bel_serve::log_to_stderr();
            bel_serve::serve(config).await.map_err(serve_failed)?;
        }
    }
    Ok(())
}

/// Prints events as they come, forever. The subscription retries lost connections by
/// itself (backoff with jitter, resuming from its cursor, so nothing is printed twice or
/// skipped) and says so on stderr; any other error ends the command.
async fn follow(events: Subscription) -> Result<(), Failure> {
    let mut events = events.on_reconnect(|error, delay, resume_idx| {
        eprintln!("bel: {error}; reconnecting in {:.1}s from idx {resume_idx}", delay.as_secs_f64());
    });
    while let Some(event) = events.next().await {
        let mut out = io::stdout().lock();
        write_event(&mut out, &event?)?;
        // Flush per event: a follower's reader wants each line as it happens.
        out.flush()?;
    }
    Ok(())
}

/// One event as a line of proto3 JSON (int64 values as strings, like the server's JSON).
fn write_event(out: &mut impl Write, event: &BuildEvent) -> Result<(), Failure> {
    let line = serde_json::to_string(event).map_err(io::Error::other)?;
    writeln!(out, "{line}")?;
    Ok(())
}

/// A bearer token from a file: its content without surrounding whitespace.
fn read_token(path: &Path) -> Result<String, Failure> {
    let token = std::fs::read_to_string(path)
        .map_err(|error| io::Error::new(error.kind(), format!("cannot read {}: {error}", path.display())))?;
    let token = token.trim();
    if token.is_empty() {
        return Err(Failure::Usage {
            message: format!("{} holds no token", path.display()),
            hint: "put the token the server was started with (its --token-file) in the file".into(),
        });
    }
    Ok(token.to_string())
}

fn read_stdin() -> Result<String, Failure> {
    let mut text = String::new();
    io::stdin().read_to_string(&mut text)?;
    Ok(text)
}

/// The connection configuration from `--dsn` / `BEL_DSN`.
fn config(dsn: Option<&str>) -> Result<DatabaseConfig, Failure> {
    let Some(dsn) = dsn.filter(|dsn| !dsn.trim().is_empty()) else {
        return Err(Failure::Usage {
            message: "no database to connect to".into(),
            hint: "pass --dsn \"host=... dbname=... user=...\" (or a postgresql:// URL), or set BEL_DSN".into(),
        });
    };
    DatabaseConfig::parse(dsn).map_err(|error| match error {
        // The cause says what is wrong ("unexpected EOF", "invalid value for option ...").
        Error::Connection(error) => Failure::Usage {
            message: match std::error::Error::source(&error) {
                Some(cause) => format!("invalid connection string: {cause}"),
                None => "invalid connection string".to_string(),
            },
            hint: "use libpq key=value pairs (\"host=localhost dbname=builds\") or a postgresql:// URL".into(),
        },
        // TLS settings: a message and a hint of their own.
        other => Failure::Bel(other),
    })
}
