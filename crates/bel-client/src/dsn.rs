//! Connection strings with libpq's TLS settings. tokio-postgres parses libpq strings but
//! knows only `sslmode=disable|prefer|require` and no `sslrootcert`; this module takes
//! `sslmode` and `sslrootcert` out of the string (key=value or URL form), hands the rest to
//! tokio-postgres unchanged, and decides the TLS setup from them (see [`SslMode`]).
use std::path::PathBuf;
use std::str::FromStr;

use bel_core::{ErrorClass, Rejection};
use percent_encoding::percent_decode_str;
use tokio_postgres::Config;

use crate::error::{Error, Result};
use crate::tls::{self, SqlTlsConnector};

/// libpq's `sslmode`, as this client applies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// The default: no TLS, as before this client supported TLS (libpq would try TLS
    /// first; use `require` or stronger to encrypt). [`DatabaseConfig::config`] says
    /// `disable` for it, which is what is done.
    Prefer,
    /// TLS, refusing a server without it; the certificate is not checked (libpq's
    /// `require`), unless `sslrootcert` is given, which makes it `verify-ca` (as in libpq).
    Require,
    /// TLS with the server certificate checked against the root certificates.
    VerifyCa,
    /// `verify-ca`, and the certificate must name the host connected to.
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self> {
        match value {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            "verify-ca" => Ok(SslMode::VerifyCa),
            "verify-full" => Ok(SslMode::VerifyFull),
            other => Err(usage(
                format!("sslmode {other:?} is not supported"),
                "use sslmode=disable, prefer, require, verify-ca or verify-full",
            )),
        }
    }
}

/// Where the root certificates for `verify-ca` / `verify-full` come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RootCerts {
    /// A PEM file (`sslrootcert=/path/root.crt`; libpq's default `~/.postgresql/root.crt`).
    File(PathBuf),
    /// The operating system's trust store (`sslrootcert=system`).
    System,
}

/// A parsed connection string: the tokio-postgres configuration plus the TLS setup.
#[derive(Clone)]
pub struct DatabaseConfig {
    config: Config,
    ssl_mode: SslMode,
    tls: SqlTlsConnector,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Config's Debug redacts the password.
        f.debug_struct("DatabaseConfig").field("config", &self.config).field("ssl_mode", &self.ssl_mode).finish()
    }
}

impl DatabaseConfig {
    /// Parses a libpq-style connection string: `host=... user=... dbname=... sslmode=...`
    /// or a `postgresql://user@host/db?sslmode=...` URL. Root certificates named by
    /// `sslrootcert` are read here, so a missing file is reported before connecting.
    pub fn parse(dsn: &str) -> Result<Self> {
        let split = split_tls_settings(dsn)?;
        let config: Config = split.rest.parse().map_err(Error::Connection)?;
        let ssl_mode = match split.ssl_mode.as_deref() {
            Some(mode) => SslMode::parse(mode)?,
            None => SslMode::Prefer,
        };
        let ssl_mode = match (ssl_mode, &split.root_cert) {
            (SslMode::Require, Some(_)) => SslMode::VerifyCa,
            (mode, _) => mode,
        };
        let roots = match (ssl_mode, split.root_cert) {
            (SslMode::VerifyCa | SslMode::VerifyFull, Some(value)) if value == "system" => Some(RootCerts::System),
            (SslMode::VerifyCa | SslMode::VerifyFull, Some(path)) => Some(RootCerts::File(path.into())),
            (SslMode::VerifyCa | SslMode::VerifyFull, None) => Some(RootCerts::File(default_root_cert()?)),
            _ => None,
        };
        let tls = tls::for_mode(ssl_mode, roots.as_ref())?;
        Ok(DatabaseConfig { config: with_ssl_mode(config, ssl_mode), ssl_mode, tls })
    }

    /// The tokio-postgres configuration (host, user, database, ...). Its `sslmode` is
    /// `disable` for [`SslMode::Disable`] and [`SslMode::Prefer`] and `require` for the
    /// others: connect with it and [`DatabaseConfig::tls_connector`] to connect as this
    /// client does.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The TLS mode in force.
    pub fn ssl_mode(&self) -> SslMode {
        self.ssl_mode
    }

    /// The TLS connector for [`DatabaseConfig::config`], e.g.
    /// `config.config().connect(config.tls_connector())`, or for a pool:
    /// `deadpool_postgres::Manager::from_config(config.config().clone(), config.tls_connector(), ..)`.
    pub fn tls_connector(&self) -> SqlTlsConnector {
        self.tls.clone()
    }
}

impl FromStr for DatabaseConfig {
    type Err = Error;

    fn from_str(dsn: &str) -> Result<Self> {
        DatabaseConfig::parse(dsn)
    }
}

impl From<Config> for DatabaseConfig {
    /// A configuration built in code: `sslmode` disable and prefer connect without TLS,
    /// require encrypts without checking the certificate.
    fn from(config: Config) -> Self {
        let (ssl_mode, tls) = match config.get_ssl_mode() {
            tokio_postgres::config::SslMode::Disable => (SslMode::Disable, SqlTlsConnector::plain()),
            // Without a TLS setup (it cannot fail with ring) the handshake fails, so a
            // failure here never downgrades to plain text.
            tokio_postgres::config::SslMode::Require => {
                (SslMode::Require, tls::encrypt_only().unwrap_or_else(|_| SqlTlsConnector::plain()))
            }
            _ => (SslMode::Prefer, SqlTlsConnector::plain()),
        };
        DatabaseConfig { config: with_ssl_mode(config, ssl_mode), ssl_mode, tls }
    }
}

/// tokio-postgres's own mode for ours: with TLS it must refuse a server without TLS;
/// without, it must not try TLS (its `prefer` would, with any connector but `NoTls`).
fn with_ssl_mode(mut config: Config, mode: SslMode) -> Config {
    use tokio_postgres::config::SslMode as Pg;
    config.ssl_mode(match mode {
        SslMode::Disable | SslMode::Prefer => Pg::Disable,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => Pg::Require,
    });
    config
}

/// libpq's default root certificate file.
fn default_root_cert() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    match home.map(|home| home.join(".postgresql/root.crt")) {
        Some(path) if path.exists() => Ok(path),
        _ => Err(usage(
            "sslmode verify-ca / verify-full needs root certificates, and ~/.postgresql/root.crt does not exist",
            "add sslrootcert=/path/to/root.crt (PEM) or sslrootcert=system to the connection string",
        )),
    }
}

fn usage(message: impl Into<String>, hint: &str) -> Error {
    Error::Rejected(Rejection::new(ErrorClass::InvalidValue, message).hint(hint))
}

/// A connection string without its TLS settings, and those settings.
#[derive(Debug, PartialEq, Eq)]
struct TlsSettings {
    rest: String,
    ssl_mode: Option<String>,
    root_cert: Option<String>,
}

fn split_tls_settings(dsn: &str) -> Result<TlsSettings> {
    if dsn.starts_with("postgres://") || dsn.starts_with("postgresql://") {
        Ok(split_url(dsn))
    } else {
        split_key_values(dsn)
    }
}

/// URL form: the settings are query parameters (percent-encoded); the others stay as
/// they were written.
fn split_url(dsn: &str) -> TlsSettings {
    let Some((base, query)) = dsn.split_once('?') else {
        return TlsSettings { rest: dsn.to_string(), ssl_mode: None, root_cert: None };
    };
    let mut settings = TlsSettings { rest: String::new(), ssl_mode: None, root_cert: None };
    let mut kept = Vec::new();
    for parameter in query.split('&') {
        let (key, value) = parameter.split_once('=').unwrap_or((parameter, ""));
        let decoded = || percent_decode_str(value).decode_utf8_lossy().into_owned();
        match key {
            "sslmode" => settings.ssl_mode = Some(decoded()),
            "sslrootcert" => settings.root_cert = Some(decoded()),
            _ => kept.push(parameter),
        }
    }
    settings.rest = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
    settings
}

/// key=value form (libpq's grammar: `key = value`, a value either unquoted with `\`
/// escapes or single-quoted with `\'` and `\\`); the other pairs are written back quoted.
fn split_key_values(dsn: &str) -> Result<TlsSettings> {
    let mut settings = TlsSettings { rest: String::new(), ssl_mode: None, root_cert: None };
    let mut kept = Vec::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(c) = chars.next_if(|c| *c != '=' && !c.is_whitespace()) {
            key.push(c);
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.next() != Some('=') {
            return Err(usage(format!("missing \"=\" after {key:?} in the connection string"), KEY_VALUE_HINT));
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'\'').is_some() {
            loop {
                match chars.next() {
                    Some('\\') => value.extend(chars.next()),
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => return Err(usage("unterminated quoted value in the connection string", KEY_VALUE_HINT)),
                }
            }
        } else {
            while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                if c == '\\' {
                    value.extend(chars.next());
                } else {
                    value.push(c);
                }
            }
        }
        match key.as_str() {
            "sslmode" => settings.ssl_mode = Some(value),
            "sslrootcert" => settings.root_cert = Some(value),
            _ => kept.push(format!("{key}='{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))),
        }
    }
    settings.rest = kept.join(" ");
    Ok(settings)
}

const KEY_VALUE_HINT: &str = "use libpq key=value pairs (\"host=localhost dbname=builds\") or a postgresql:// URL";

#[cfg(test)]
mod tests {
    use super::*;

    fn split(dsn: &str) -> TlsSettings {
        split_tls_settings(dsn).unwrap()
    }

    #[test]
    fn key_value_settings_are_taken_out_and_the_rest_kept_exactly() {
        let s = split("host=db.example  port = 5433 sslmode=verify-full sslrootcert='/etc/my ca/root.crt' user=it\\'s");
        assert_eq!(s.ssl_mode.as_deref(), Some("verify-full"));
        assert_eq!(s.root_cert.as_deref(), Some("/etc/my ca/root.crt"));
        assert_eq!(s.rest, "host='db.example' port='5433' user='it\\'s'");
        let config: Config = s.rest.parse().unwrap();
        assert_eq!(config.get_user(), Some("it's"));
        assert_eq!(config.get_ports(), [5433]);
        assert_eq!(split("password='a\\\\b c'").rest, "password='a\\\\b c'");
        assert!(split_tls_settings("host").is_err());
        assert!(split_tls_settings("host='x").is_err());
        assert_eq!(split("  ").rest, "");
    }

    #[test]
    fn url_settings_are_taken_out() {
        let s = split(
            "postgresql://u@db.example:5433/builds?application_name=x&sslmode=verify-ca&sslrootcert=%2Ftmp%2Fca.pem",
        );
        assert_eq!(s.ssl_mode.as_deref(), Some("verify-ca"));
        assert_eq!(s.root_cert.as_deref(), Some("/tmp/ca.pem"));
        assert_eq!(s.rest, "postgresql://u@db.example:5433/builds?application_name=x");
        assert_eq!(split("postgres://h/db?sslmode=require").rest, "postgres://h/db");
        assert_eq!(split("postgres://h/db").rest, "postgres://h/db");
    }

    #[test]
    fn modes() {
        let mode = |dsn: &str| DatabaseConfig::parse(dsn).map(|c| (c.ssl_mode(), c.config().get_ssl_mode()));
        use tokio_postgres::config::SslMode as Pg;
        // prefer connects without TLS (see SslMode::Prefer), and the config says so.
        assert_eq!(mode("host=h").unwrap(), (SslMode::Prefer, Pg::Disable));
        assert_eq!(mode("host=h sslmode=prefer").unwrap(), (SslMode::Prefer, Pg::Disable));
        assert_eq!(mode("host=h sslmode=disable").unwrap(), (SslMode::Disable, Pg::Disable));
        assert_eq!(mode("host=h sslmode=require").unwrap(), (SslMode::Require, Pg::Require));
        assert_eq!(mode("postgresql://h/db?sslmode=require").unwrap(), (SslMode::Require, Pg::Require));
        let err = mode("host=h sslmode=allow").unwrap_err();
        assert_eq!(err.sqlstate(), Some("22023"));
        // A root certificate that cannot be read is reported before connecting.
        let err = mode("host=h sslmode=verify-full sslrootcert=/nonexistent/root.crt").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/root.crt"), "{err}");
        let err = mode("host=h sslmode=require sslrootcert=/nonexistent/root.crt").unwrap_err();
        assert!(err.to_string().contains("/nonexistent/root.crt"), "{err}");
        // Options tokio-postgres does not know are still refused by it.
        assert!(matches!(mode("host=h bogus=1"), Err(Error::Connection(_))));
    }

    #[test]
    fn configs_built_in_code_keep_their_meaning() {
        use tokio_postgres::config::SslMode as Pg;
        let mut config = Config::new();
        config.host("h");
        let prefer = DatabaseConfig::from(config.clone());
        assert_eq!((prefer.ssl_mode(), prefer.config().get_ssl_mode()), (SslMode::Prefer, Pg::Disable));
        config.ssl_mode(Pg::Require);
        let require = DatabaseConfig::from(config);
        assert_eq!((require.ssl_mode(), require.config().get_ssl_mode()), (SslMode::Require, Pg::Require));
    }
}
