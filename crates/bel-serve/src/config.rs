//! What `bel serve` is configured with, and the checks made before it binds: it listens
//! on loopback only unless a bearer token is configured.
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use bel_client::DatabaseConfig;

use crate::error::ServeError;

/// Where `bel serve` listens unless told otherwise.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
/// Database connections in the pool unless told otherwise (the LISTEN connection is one more).
pub const DEFAULT_POOL_SIZE: usize = 8;
/// Most pooled connections `--pool-size` accepts.
pub const MAX_POOL_SIZE: usize = 64;

/// The command-line options of `bel serve` (the connection string comes from the CLI's
/// `--dsn` / `BEL_DSN`), for `#[command(flatten)]` into the `bel` CLI.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on. Any address other than loopback needs --token-file.
    #[arg(long, value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,
    /// File holding a bearer token; every route but /healthz then needs
    /// `Authorization: Bearer <token>`. Required to listen on a non-loopback address.
    #[arg(long, value_name = "PATH")]
    pub token_file: Option<PathBuf>,
    /// Pooled database connections (1..=64); one more is used to LISTEN.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_POOL_SIZE)]
    pub pool_size: usize,
}

impl ServeArgs {
    /// The configuration for `database`, with the token read from --token-file.
    pub fn into_config(self, database: DatabaseConfig) -> Result<ServeConfig, ServeError> {
        let token = self.token_file.as_deref().map(BearerToken::from_file).transpose()?;
        Ok(ServeConfig { listen: self.listen, database, token, pool_size: self.pool_size })
    }
}

/// Everything the server needs to start.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// The address to bind (port 0 picks a free port; see `Server::local_addr`).
    pub listen: SocketAddr,
    /// A database with `CREATE EXTENSION bel`; the role needs only `bel_reader`. Its
    /// `sslmode` (and `sslrootcert`) decide TLS for every connection the server makes.
    pub database: DatabaseConfig,
    /// When set, every route but /healthz requires it.
    pub token: Option<BearerToken>,
    /// Pooled database connections.
    pub pool_size: usize,
}

impl ServeConfig {
    /// Defaults: loopback port 8080, no token, the default pool size.
    pub fn new(database: DatabaseConfig) -> Self {
        ServeConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database,
            token: None,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    /// Refuses what must not start: a non-loopback address without a token, a pool size
    /// out of range.
    pub fn check(&self) -> Result<(), ServeError> {
        if !self.listen.ip().is_loopback() && self.token.is_none() {
            return Err(ServeError::Config(format!(
                "refusing to listen on {} without a bearer token: anyone who can reach it could read the log; \
                 pass --token-file FILE (every route but /healthz then needs Authorization: Bearer <token>) \
                 or listen on a loopback address such as {DEFAULT_LISTEN}",
                self.listen
            )));
        }
        if !(1..=MAX_POOL_SIZE).contains(&self.pool_size) {
            return Err(ServeError::Config(format!(
                "pool size {} is out of range: use 1..={MAX_POOL_SIZE}",
                self.pool_size
            )));
        }
        Ok(())
    }
}

/// A bearer token. Its Debug form does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// A token usable in an `Authorization` header: visible ASCII, no spaces, 16..=4096
    /// characters.
    pub fn new(token: impl Into<String>) -> Result<Self, ServeError> {
        let token = token.into();
        if !(16..=4096).contains(&token.len()) || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(ServeError::Config(
                "the bearer token must be 16 to 4096 visible ASCII characters without spaces \
                 (e.g. the output of `openssl rand -hex 32`)"
                    .into(),
            ));
        }
        Ok(BearerToken(token))
    }

    /// Reads the token from a file (surrounding whitespace, such as the final newline, is
    /// ignored).
    pub fn from_file(path: &Path) -> Result<Self, ServeError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| ServeError::Config(format!("cannot read the token file {}: {e}", path.display())))?;
        Self::new(text.trim()).map_err(|e| ServeError::Config(format!("{}: {e}", path.display())))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn database() -> DatabaseConfig {
        "host=x".parse().unwrap()
    }

    fn token() -> BearerToken {
        BearerToken::new("0123456789abcdef0123").unwrap()
    }

    #[test]
    fn loopback_by_default() {
        let args = Cli::try_parse_from(["bel"]).unwrap().serve;
        assert_eq!(args.listen.to_string(), DEFAULT_LISTEN);
        let config = args.into_config(database()).unwrap();
        config.check().unwrap();
        assert_eq!(config.pool_size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn other_addresses_need_a_token() {
        let mut config = ServeConfig::new(database());
        config.listen = "0.0.0.0:8080".parse().unwrap();
        let refused = config.check().unwrap_err().to_string();
        assert!(refused.contains("refusing to listen on 0.0.0.0:8080"), "{refused}");
        assert!(refused.contains("--token-file"), "{refused}");
        config.token = Some(token());
        config.check().unwrap();
        config.listen = "[::1]:0".parse().unwrap();
        config.token = None;
        config.check().unwrap();
    }

    #[test]
    fn pool_size_is_bounded() {
        let mut config = ServeConfig::new(database());
        config.pool_size = 0;
        assert!(config.check().is_err());
        config.pool_size = MAX_POOL_SIZE + 1;
        assert!(config.check().is_err());
    }

    #[test]
    fn tokens_are_read_from_files_and_checked() {
        let dir = std::env::temp_dir().join(format!("bel-serve-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good");
        std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
        assert_eq!(BearerToken::from_file(&good).unwrap(), token());
        let short = dir.join("short");
        std::fs::write(&short, "abc").unwrap();
        assert!(BearerToken::from_file(&short).unwrap_err().to_string().contains("16 to 4096"));
        assert!(BearerToken::new("has a space in it, long enough").is_err());
        assert!(BearerToken::from_file(&dir.join("missing")).unwrap_err().to_string().contains("cannot read"));
        assert_eq!(format!("{:?}", token()), "BearerToken(..)");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
