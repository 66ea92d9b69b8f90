//! Connections driven by a spawned task that forwards NOTIFYs as wake-ups, shared by the
//! service and the log follower; plain or TLS as the configuration says.
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio_postgres::{AsyncMessage, Client, Connection};

use crate::dsn::DatabaseConfig;
use crate::error::{Error, Result};

/// A client whose connection runs in a spawned task, with what that task observed.
pub(crate) struct DrivenConnection {
    pub(crate) client: Client,
    /// Receives one `()` per NOTIFY (coalesced: at most one is pending at a time).
    pub(crate) wakeups: mpsc::Receiver<()>,
    /// The error that ended the connection, if the server sent one (e.g. "terminating
    /// connection due to administrator command"): queries then only say "closed".
    pub(crate) closing_error: Arc<Mutex<Option<Error>>>,
}

impl DrivenConnection {
    /// Turns a query error into the most useful error: when the connection is closed,
    /// the reason the server gave for closing it, if it gave one.
    pub(crate) fn explain(&self, error: Error) -> Error {
        let closed = matches!(&error, Error::Connection(e) if e.is_closed());
        if closed {
            if let Ok(mut slot) = self.closing_error.lock() {
                if let Some(reason) = slot.take() {
                    return reason;
                }
            }
        }
        error
    }
}

/// Connects (with TLS when the configuration asks for it) and spawns the task that drives
/// the connection.
pub(crate) async fn open_connection(config: &DatabaseConfig) -> Result<DrivenConnection> {
    let (client, connection) = config.config().connect(config.tls_connector()).await?;
    Ok(drive(client, connection))
}

/// tokio-postgres delivers notifications only through `Connection::poll_message`, so the
/// task polls it and forwards each notification as a wake-up.
fn drive<S, T>(client: Client, mut connection: Connection<S, T>) -> DrivenConnection
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    T: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    // Capacity 1 with try_send coalesces bursts: one pending wake-up covers them all,
    // because the fetch that follows reads everything committed before it.
    let (wakeup_sender, wakeups) = mpsc::channel(1);
    let closing_error = Arc::new(Mutex::new(None));
    let closing_error_slot = Arc::clone(&closing_error);
    tokio::spawn(async move {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    // Full: a wake-up is already pending. Closed: nobody listens. Both fine.
                    let _ = wakeup_sender.try_send(());
                }
                Ok(_) => {} // notices: nothing to do
                Err(error) => {
                    if let Ok(mut slot) = closing_error_slot.lock() {
                        *slot = Some(Error::from(error));
                    }
                    break;
                }
            }
        }
        // Ends when the client is dropped or the connection fails; dropping the sender
        // tells the follower that no more wake-ups will come.
    });
    DrivenConnection { client, wakeups, closing_error }
}
