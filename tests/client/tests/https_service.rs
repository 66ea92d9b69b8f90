//! `HttpGraphService` over https: a `bel serve` started in this process (on the test
//! database named by `BEL_TEST_DSN`; without it: a failure under CI, a skip elsewhere)
//! behind a TLS-terminating proxy, as it is deployed beyond loopback. The proxy's
//! certificate names localhost and 127.0.0.1 and is signed by a CA made here, which only
//! the clients told to trust it do.
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bel_client::reqwest;
use bel_client::{Error, EventFilter, GraphService, HttpGraphService, PgGraphService, Reconnect, SubscribeOptions};
use bel_client_tests::{forward, next_event, received, run_id, test_dsn, TestServer};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A CA and the server certificate it signed for localhost and 127.0.0.1.
struct TestCa {
    ca_pem: String,
    server: Arc<ServerConfig>,
}

impl TestCa {
    fn new() -> Self {
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "bel https test CA");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();

        let server_key = KeyPair::generate().unwrap();
        let mut server_params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        server_params.distinguished_name.push(DnType::CommonName, "localhost");
        let server_cert = server_params.signed_by(&server_key, &ca).unwrap();

        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(server_key.serialize_der()));
        let server = ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server_cert.der().clone(), ca.der().clone()], key)
            .unwrap();
        TestCa { ca_pem: ca.pem(), server: Arc::new(server) }
    }

    /// An HTTP client that trusts this CA only.
    fn trusting_client(&self) -> reqwest::ClientBuilder {
        let root = reqwest::Certificate::from_pem(self.ca_pem.as_bytes()).unwrap();
        reqwest::Client::builder().tls_built_in_root_certs(false).add_root_certificate(root)
    }
}

/// Terminates TLS on a free loopback port and forwards each connection to `backend`;
/// runs until the test's runtime ends.
async fn tls_proxy(config: Arc<ServerConfig>, backend: SocketAddr) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let acceptor = TlsAcceptor::from(config);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends the handshake: nothing to forward.
                let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                let Ok(mut upstream) = TcpStream::connect(backend).await else { return };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut upstream).await;
            });
        }
    });
    port
}

fn any_port() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A follower over https gets what is appended, and a page reads as over http.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subscribe_over_https_delivers_appended_events() -> Result<(), Error> {
    let Some(dsn) = test_dsn("subscribe_over_https_delivers_appended_events") else {
        return Ok(());
    };
    let server = TestServer::start(&dsn, any_port()).await;
    let ca = TestCa::new();
    let port = tls_proxy(ca.server.clone(), server.addr).await;
    let client = ca.trusting_client().build().map_err(Error::Transport)?;
    let service = HttpGraphService::with_http_client(&format!("https://localhost:{port}"), client)?;

    let run = run_id("https");
    let partition = format!("bel-client-test/{run}/p");
    let filter = EventFilter { partition_refs: vec![partition.clone()], ..Default::default() };
    let options = SubscribeOptions { long_poll_wait: Duration::from_secs(5), ..Default::default() };
    let mut follower = forward(service.subscribe_with(filter.clone(), 0, options));
    let writer = PgGraphService::connect(&dsn).await?;
    let first = writer.append(&received(&format!("{run}-b1"), &partition)).await?;
    assert_eq!(next_event(&mut follower).await?.idx, first);
    let second = writer.append(&received(&format!("{run}-b2"), &partition)).await?;
    assert_eq!(next_event(&mut follower).await?.idx, second);

    let page = service.list_events(0, &filter, 10).await?;
    assert_eq!(page.events.iter().map(|e| e.idx).collect::<Vec<_>>(), [first, second]);
    drop(follower);
    server.stop().await;
    Ok(())
}

/// A certificate the client does not trust, or one that does not name the host it asked
/// for, is refused: the request fails with the reason, and a subscription yields it once
/// its reconnect attempts are used up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_certificate_is_refused_with_the_reason() -> Result<(), Error> {
    let Some(dsn) = test_dsn("an_untrusted_certificate_is_refused_with_the_reason") else {
        return Ok(());
    };
    let server = TestServer::start(&dsn, any_port()).await;
    let ca = TestCa::new();
    let port = tls_proxy(ca.server.clone(), server.addr).await;
    let filter = EventFilter::default();

    // The default client trusts the Mozilla roots, which did not sign this certificate.
    let untrusting = HttpGraphService::new(&format!("https://localhost:{port}"))?;
    let refused = untrusting.list_events(0, &filter, 10).await;
    match refused {
        Err(error @ Error::Transport(_)) => {
            let message = error.to_string();
            assert!(message.contains("invalid peer certificate: UnknownIssuer"), "{message}");
        }
        other => panic!("an untrusted certificate must be refused, got {:?}", other.map(|_| ())),
    }
    let options = SubscribeOptions {
        reconnect: Reconnect { first_delay: Duration::from_millis(10), max_attempts: Some(1), ..Default::default() },
        ..Default::default()
    };
    let mut follower = forward(untrusting.subscribe_with(filter.clone(), 0, options));
    match next_event(&mut follower).await {
        Err(error) => assert!(error.to_string().contains("UnknownIssuer"), "{error}"),
        Ok(event) => panic!("a subscription over an untrusted certificate delivered event {}", event.idx),
    }

    // Trusting the CA is not enough when the certificate names another host.
    let wrong_name = ca
        .trusting_client()
        .resolve("bel-wrong-name.test", SocketAddr::from(([127, 0, 0, 1], port)))
        .build()
        .map_err(Error::Transport)?;
    let wrong_name = HttpGraphService::with_http_client(&format!("https://bel-wrong-name.test:{port}"), wrong_name)?;
    match wrong_name.list_events(0, &filter, 10).await {
        Err(error @ Error::Transport(_)) => {
            let message = error.to_string();
            assert!(message.contains("certificate not valid for name \"bel-wrong-name.test\""), "{message}");
        }
        other => panic!("a certificate for another name must be refused, got {:?}", other.map(|_| ())),
    }

    // The same server, trusted and by its name, answers.
    let trusted = HttpGraphService::with_http_client(
        &format!("https://127.0.0.1:{port}"),
        ca.trusting_client().build().map_err(Error::Transport)?,
    )?;
    trusted.list_events(0, &filter, 1).await?;
    server.stop().await;
    Ok(())
}
