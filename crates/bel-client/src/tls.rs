//! TLS for SQL connections, with rustls (ring), following libpq's `sslmode` meanings:
//! `require` encrypts without checking the certificate, `verify-ca` checks it against the
//! root certificates, `verify-full` also checks that it names the host.
use std::sync::Arc;

use bel_core::{ErrorClass, Rejection};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{self, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::dsn::{RootCerts, SslMode};
use crate::error::{Error, Result};

/// How SQL connections are made.
#[derive(Clone)]
pub(crate) enum SqlTls {
    /// Plain connections (`sslmode` disable or prefer).
    Off,
    /// TLS with the given rustls setup.
    Rustls(MakeRustlsConnect),
}

/// The TLS setup for a mode; `roots` is required for the verifying modes.
pub(crate) fn for_mode(mode: SslMode, roots: Option<&RootCerts>) -> Result<SqlTls> {
    match (mode, roots) {
        (SslMode::Disable | SslMode::Prefer, _) => Ok(SqlTls::Off),
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
pub(crate) fn encrypt_only() -> Result<SqlTls> {
    let provider = provider();
    let verifier = Arc::new(AcceptAnyCertificate(provider.clone()));
    with_verifier(provider, verifier)
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(crypto::ring::default_provider())
}

fn with_verifier(provider: Arc<CryptoProvider>, verifier: Arc<dyn ServerCertVerifier>) -> Result<SqlTls> {
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_setup_error(format!("cannot set up TLS: {e}")))?;
    let config = builder.dangerous().with_custom_certificate_verifier(verifier).with_no_client_auth();
    Ok(SqlTls::Rustls(MakeRustlsConnect::new(config)))
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
