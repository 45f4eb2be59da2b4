//! The client, made again when the one in use has given up.
//!
//! The official client's connection task ends for good once it has failed to
//! reach a node `maxDiscoverAttempts` times in a row (3, half a second apart,
//! unless the URL says otherwise): every later call answers `ConnectionClosed`,
//! even once the server is back. So a call that fails that way makes a new
//! client from the same settings, and the next call connects afresh: nudge
//! outlives a KurrentDB restart of any length.

use std::sync::{PoisonError, RwLock};

use kurrentdb::{Client, ClientSettings};

use super::records;
use crate::{ExpectedRevision, StoreError};

/// The client in use, and what it takes to make another.
pub(super) struct Connection {
    settings: ClientSettings,
    runtime: tokio::runtime::Handle,
    client: RwLock<Client>,
}

impl Connection {
    /// A client for `settings`, on the runtime of the caller.
    pub(super) fn new(settings: ClientSettings) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::current();
        let client = Client::with_runtime_handle(runtime.clone(), settings.clone())
            .map_err(|e| StoreError::Kurrent(e.to_string()))?;
        Ok(Self { settings, runtime, client: RwLock::new(client) })
    }

    /// The client to call (a handle: clones share its connection).
    pub(super) fn client(&self) -> Client {
        self.client.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Maps a failed call on `stream`, first making a new client if this one gave up.
    pub(super) fn error(&self, e: kurrentdb::Error, stream: &str) -> StoreError {
        self.notice(&e);
        records::error(e, stream)
    }

    /// [`Self::error`] for an append that expected `expected`.
    pub(super) fn append_error(&self, e: kurrentdb::Error, stream: &str, expected: ExpectedRevision) -> StoreError {
        self.notice(&e);
        records::append_error(e, stream, expected)
    }

    /// Makes a new client when `e` says the one in use will never connect again.
    /// Calls already failing together may each make one; the last one made stays.
    fn notice(&self, e: &kurrentdb::Error) {
        if !gave_up(e) {
            return;
        }
        match Client::with_runtime_handle(self.runtime.clone(), self.settings.clone()) {
            Ok(client) => {
                tracing::warn!(error = %e, "the KurrentDB client gave up connecting; the next call connects afresh");
                *self.client.write().unwrap_or_else(PoisonError::into_inner) = client;
            }
            Err(error) => tracing::error!(%error, "cannot make a new KurrentDB client; keeping the one that gave up"),
        }
    }
}

/// Whether the client that answered `e` has stopped connecting for good: its
/// connection task ends on any failure to connect, and answers
/// `ConnectionClosed` from then on.
fn gave_up(e: &kurrentdb::Error) -> bool {
    matches!(e, kurrentdb::Error::ConnectionClosed | kurrentdb::Error::GrpcConnectionError(_))
}

#[cfg(test)]
mod tests {
    use kurrentdb::ReadAllOptions;

    use super::*;

    /// Reads one event of `$all` and answers the error it fails with.
    async fn failed_read(connection: &Connection) -> String {
        let read = async {
            let mut read = connection.client().read_all(&ReadAllOptions::default().max_count(1)).await?;
            read.next().await
        };
        match read.await {
            Ok(_) => panic!("a read from a port nothing listens on succeeded"),
            Err(e) => connection.error(e, "$all").to_string(),
        }
    }

    #[tokio::test]
    async fn a_client_that_gave_up_is_made_again() -> Result<(), Box<dyn std::error::Error>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let url = format!("kurrentdb://127.0.0.1:{port}?tls=false&maxDiscoverAttempts=1&discoveryInterval=10");
        let connection = Connection::new(url.parse()?)?;
        for attempt in 1..=3 {
            let error = failed_read(&connection).await;
            // A client that gave up for good answers "Connection is closed" at once.
            assert!(error.contains("gRPC connection error"), "attempt {attempt}: {error}");
        }
        Ok(())
    }
}
