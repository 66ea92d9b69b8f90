//! TLS for SQL connections, with rustls (ring), following libpq's `sslmode` meanings:
//! `require` encrypts without checking the certificate, `verify-ca` checks it against the
//! root certificates, `verify-full` also checks that it names the host.
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bel_core::{ErrorClass, Rejection};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::dsn::{RootCerts, SslMode};
use crate::error::{Error, Result};

/// How the SQL connections of a [`DatabaseConfig`](crate::DatabaseConfig) are made: a
/// tokio-postgres TLS connector (rustls) for `Config::connect` or a pool such as
/// deadpool-postgres's `Manager::from_config`, always used with
/// [`DatabaseConfig::config`](crate::DatabaseConfig::config), whose `sslmode` decides
/// whether it is used at all: `disable` and `prefer` connect in plain text (this
/// connector is then never asked for a handshake), `require`, `verify-ca` and
/// `verify-full` only with TLS. Cheap to clone.
#[derive(Clone)]
pub struct SqlTlsConnector {
    /// None: plain connections only (a handshake asked for anyway fails, so a
    /// configuration that requires TLS never falls back to plain text).
    rustls: Option<MakeRustlsConnect>,
}

impl SqlTlsConnector {
    /// Plain connections only (`sslmode` disable or prefer).
    pub(crate) fn plain() -> Self {
        SqlTlsConnector { rustls: None }
    }

    fn rustls(config: ClientConfig) -> Self {
        SqlTlsConnector { rustls: Some(MakeRustlsConnect::new(config)) }
    }
}

impl std::fmt::Debug for SqlTlsConnector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.rustls.is_some() { "SqlTlsConnector(rustls)" } else { "SqlTlsConnector(plain)" })
    }
}

/// rustls's connector for one connection, as tokio-postgres-rustls names it.
type RustlsConnect<S> = <MakeRustlsConnect as MakeTlsConnect<S>>::TlsConnect;

impl<S> MakeTlsConnect<S> for SqlTlsConnector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <RustlsConnect<S> as TlsConnect<S>>::Stream;
    type TlsConnect = SqlTlsConnect<S>;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, hostname: &str) -> std::result::Result<Self::TlsConnect, Self::Error> {
        // tokio-postgres asks for a connector before every connection, plain ones too.
        Ok(match &mut self.rustls {
            Some(rustls) => SqlTlsConnect { rustls: Some(MakeTlsConnect::<S>::make_tls_connect(rustls, hostname)?) },
            None => SqlTlsConnect { rustls: None },
        })
    }
}

/// The connector of one connection ([`SqlTlsConnector`] makes it).
pub struct SqlTlsConnect<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    rustls: Option<RustlsConnect<S>>,
}

impl<S> TlsConnect<S> for SqlTlsConnect<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = <RustlsConnect<S> as TlsConnect<S>>::Stream;
    type Error = io::Error;
    type Future = SqlTlsHandshake<S>;

    fn connect(self, stream: S) -> Self::Future {
        match self.rustls {
            Some(rustls) => SqlTlsHandshake { handshake: Some(rustls.connect(stream)) },
            None => SqlTlsHandshake { handshake: None },
        }
    }
}

/// The TLS handshake of one connection.
pub struct SqlTlsHandshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    handshake: Option<<RustlsConnect<S> as TlsConnect<S>>::Future>,
}

impl<S> Future for SqlTlsHandshake<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    <RustlsConnect<S> as TlsConnect<S>>::Future: Unpin,
{
    type Output = io::Result<<RustlsConnect<S> as TlsConnect<S>>::Stream>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.handshake.as_mut() {
            Some(handshake) => Pin::new(handshake).poll(cx),
            None => Poll::Ready(Err(io::Error::other(
                "TLS is not set up for this connection string: use sslmode=require, verify-ca or verify-full",
            ))),
        }
    }
}

/// The TLS setup for a mode; `roots` is required for the verifying modes.
pub(crate) fn for_mode(mode: SslMode, roots: Option<&RootCerts>) -> Result<SqlTlsConnector> {
    match (mode, roots) {
        (SslMode::Disable | SslMode::Prefer, _) => Ok(SqlTlsConnector::plain()),
        (SslMode::Require, _) => encrypt_only(),
        (SslMode::VerifyCa | SslMode::VerifyFull, Some(roots)) => {
            let provider = provider();
            let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(load_roots(roots)?), provider.clone())
                .build()
                .map_err(|e| tls_setup_error(format!("cannot set up certificate verification: {e}")))?;
            let verifier: Arc<dyn ServerCertVerifier> =
                if mode == SslMode::VerifyCa { Arc::new(IgnoreHostName(verifier)) } else { verifier };
            with_verifier(provider, verifier)
        }
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            Err(tls_setup_error("sslmode verify-ca / verify-full needs root certificates".into()))
        }
    }
}

/// `require`: encrypted, certificate not checked (libpq's meaning of require).
pub(crate) fn encrypt_only() -> Result<SqlTlsConnector> {
    let provider = provider();
    let verifier = Arc::new(AcceptAnyCertificate(provider.clone()));
    with_verifier(provider, verifier)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

fn with_verifier(provider: Arc<CryptoProvider>, verifier: Arc<dyn ServerCertVerifier>) -> Result<SqlTlsConnector> {
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_setup_error(format!("cannot set up TLS: {e}")))?;
    let config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok(SqlTlsConnector::rustls(config))
}

fn load_roots(roots: &RootCerts) -> Result<RootCertStore> {
    let mut store = RootCertStore::empty();
    match roots {
        RootCerts::File(path) => {
            let certs = CertificateDer::pem_file_iter(path)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| tls_setup_error(format!("cannot read sslrootcert {}: {e}", path.display())))?;
            let (added, _ignored) = store.add_parsable_certificates(certs);
            if added == 0 {
                return Err(tls_setup_error(format!("sslrootcert {} holds no usable certificate", path.display())));
            }
        }
        RootCerts::System => {
            let loaded = rustls_native_certs::load_native_certs();
            let (added, _ignored) = store.add_parsable_certificates(loaded.certs);
            if added == 0 {
                return Err(tls_setup_error(format!(
                    "sslrootcert=system: no certificates in the system's trust store ({} errors)",
                    loaded.errors.len()
                )));
            }
        }
    }
    Ok(store)
}

fn tls_setup_error(message: String) -> Error {
    Error::Rejected(
        Rejection::new(ErrorClass::InvalidValue, message)
            .hint("sslrootcert names a PEM file of root certificates, or is \"system\""),
    )
}

/// `verify-ca`: the chain must lead to a trusted root; the name in it is not checked.
#[derive(Debug)]
struct IgnoreHostName(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for IgnoreHostName {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// `require`: any certificate is accepted, but the handshake signatures are still checked
/// (so the session is encrypted to whoever holds the certificate's key).
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
