//! The one LISTEN connection: every `NOTIFY bel_events` wakes the hub. When the database
//! goes away it reconnects with exponential backoff and jitter, and wakes the hub once
//! connected again, since notifications sent meanwhile are lost (waiters then read what
//! they missed: a NOTIFY is only ever a hint to read).
use std::sync::Arc;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use bel_client::SqlTlsConnector;
use futures_util::StreamExt;
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Config};
use tokio_util::sync::CancellationToken;

use crate::db::with_causes;
use crate::longpoll::Hub;
use crate::metrics::Metrics;

/// The channel bel_append notifies (docs/sql-api.md).
pub const CHANNEL: &str = "bel_events";

fn backoff() -> ExponentialBuilder {
    ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(2))
        .with_jitter()
        .without_max_times()
}

/// A listening connection: the client (dropping it closes the connection) and the
/// notification payloads, which end when the connection does.
struct Listening {
    _client: Client,
    payloads: mpsc::UnboundedReceiver<String>,
}

async fn listen(config: &Config, tls: &SqlTlsConnector) -> Result<Listening, tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let (sender, payloads) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(notification)) => {
                    if sender.send(notification.payload().to_owned()).is_err() {
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!("the LISTEN connection failed: {}", with_causes(&error));
                    return;
                }
            }
        }
    });
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok(Listening { _client: client, payloads })
}

/// Runs until `shutdown`: (re)connects (with `tls` as the config's sslmode says), listens,
/// wakes the hub on each notification.
pub async fn run(
    config: Config,
    tls: SqlTlsConnector,
    hub: Arc<Hub>,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
) {
    loop {
        let connect = (|| listen(&config, &tls)).retry(backoff()).notify(|error, pause| {
            // The causes say why (a refused certificate, a refused connection).
            tracing::warn!("cannot LISTEN on {CHANNEL} ({}); retrying in {pause:?}", with_causes(error))
        });
        let mut listening = tokio::select! {
            listening = connect => match listening {
                Ok(listening) => listening,
                // The backoff never gives up, so this is not reached; try again anyway.
                Err(_) => continue,
            },
            () = shutdown.cancelled() => return,
        };
        hub.set_listening(true);
        metrics.listen_connected(true);
        tracing::info!("listening on {CHANNEL}");
        hub.wake();
        loop {
            tokio::select! {
                payload = listening.payloads.recv() => match payload {
                    Some(payload) => {
                        metrics.notification();
                        if let Ok(idx) = payload.parse::<i64>() {
                            metrics.idx_seen(idx);
                        }
                        hub.wake();
                    }
                    None => break,
                },
                () = shutdown.cancelled() => {
                    hub.set_listening(false);
                    metrics.listen_connected(false);
                    return;
                }
            }
        }
        hub.set_listening(false);
        metrics.listen_connected(false);
        tracing::warn!("the LISTEN connection was lost; reconnecting");
    }
}
