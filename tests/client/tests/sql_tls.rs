//! SQL over TLS against the test cluster, which scripts/test.sh starts with `ssl = on` and a
//! self-signed certificate for `localhost` / 127.0.0.1. `BEL_TEST_TLS_DSN` is a connection
//! string without host (port, user, dbname); `BEL_TEST_TLS_ROOT_CERT` the certificate.
//! Without them: a failure under CI, a skip elsewhere.
use std::time::Duration;

use bel_client::{DatabaseConfig, Error, EventFilter, GraphService, PgGraphService, SslMode};
use bel_client_tests::{received, run_id, test_env};
use futures_util::StreamExt;

struct Tls {
    base: String,
    root_cert: String,
}

fn tls(test: &str) -> Option<Tls> {
    Some(Tls { base: test_env(test, "BEL_TEST_TLS_DSN")?, root_cert: test_env(test, "BEL_TEST_TLS_ROOT_CERT")? })
}

/// True when the service's own connection is encrypted (pg_stat_ssl of its backend).
async fn encrypted(service: &PgGraphService) -> Result<bool, Error> {
    let row = service.client().query_one("select ssl from pg_stat_ssl where pid = pg_backend_pid()", &[]).await?;
    Ok(row.try_get(0)?)
}

#[tokio::test]
async fn sslmodes_encrypt_and_verify_as_libpq_does() -> Result<(), Error> {
    let Some(Tls { base, root_cert }) = tls("sslmodes_encrypt_and_verify_as_libpq_does") else {
        return Ok(());
    };
    let connect = |dsn: String| async move { PgGraphService::connect(&dsn).await };

    let plain = connect(format!("host=localhost {base} sslmode=disable")).await?;
    assert!(!encrypted(&plain).await?);
    // prefer behaves as before TLS support: no TLS.
    assert!(!encrypted(&connect(format!("host=localhost {base}")).await?).await?);

    let required = connect(format!("host=localhost {base} sslmode=require")).await?;
    assert_eq!(required.config().ssl_mode(), SslMode::Require);
    assert!(encrypted(&required).await?);

    let verified = connect(format!("host=localhost {base} sslmode=verify-full sslrootcert={root_cert}")).await?;
    assert!(encrypted(&verified).await?);
    let by_ip = connect(format!("host=127.0.0.1 {base} sslmode=verify-full sslrootcert={root_cert}")).await?;
    assert!(encrypted(&by_ip).await?);

    // The certificate does not name this host: verify-full refuses, verify-ca accepts.
    let wrong_name = format!("host=bel-wrong-name.invalid hostaddr=127.0.0.1 {base} sslrootcert={root_cert}");
    let refused = connect(format!("{wrong_name} sslmode=verify-full")).await;
    match refused {
        Err(error @ Error::Connection(_)) => assert!(error.to_string().contains("certificate"), "{error}"),
        other => panic!("verify-full with a wrong host name must fail, got {:?}", other.map(|_| ())),
    }
    assert!(encrypted(&connect(format!("{wrong_name} sslmode=verify-ca")).await?).await?);

    // The system's roots do not trust a self-signed certificate.
    let untrusted = connect(format!("host=localhost {base} sslmode=verify-full sslrootcert=system")).await;
    assert!(untrusted.is_err(), "a self-signed certificate must not pass the system roots");
    Ok(())
}

/// Followers open their own connections with the same TLS setup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn followers_connect_with_tls_too() -> Result<(), Error> {
    let Some(Tls { base, root_cert }) = tls("followers_connect_with_tls_too") else {
        return Ok(());
    };
    let config = DatabaseConfig::parse(&format!("host=localhost {base} sslmode=verify-full sslrootcert={root_cert}"))?;
    let service = PgGraphService::connect_with_config(config).await?;
    let run = run_id("tls");
    let partition = format!("bel-client-test/{run}/p");
    let filter = EventFilter { partition_refs: vec![partition.clone()], ..Default::default() };
    let mut follower = service.subscribe(filter, 0);
    let idx = service.append(&received(&format!("{run}-b"), &partition)).await?;
    let event = tokio::time::timeout(Duration::from_secs(30), follower.next()).await;
    assert_eq!(event.expect("delivered within 30 s").expect("stream open")?.idx, idx);
    Ok(())
}
