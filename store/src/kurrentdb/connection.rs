//! The client, made again when the one in use has given up.
//!
//! The official client's connection task ends for good on any failure to
//! connect (after `maxDiscoverAttempts` tries, 3 half a second apart unless the
//! URL says otherwise): every later call answers `ConnectionClosed`, even once
//! the server is back. So a call that fails that way makes a new client from
//! the same settings, and the next call connects afresh: nudge outlives a
//! KurrentDB outage of any length. Only the client that failed is replaced,
//! so that calls failing together make one new client, not one each.

use std::sync::{Arc, PoisonError, RwLock};

use kurrentdb::{Client, ClientSettings};

use super::records;
use crate::{ExpectedRevision, StoreError};

/// The client in use, and what it takes to make another.
pub(super) struct Connection {
    settings: ClientSettings,
    runtime: tokio::runtime::Handle,
    client: RwLock<Arc<Client>>,
}

impl Connection {
    /// A client for `settings`, on the runtime of the caller.
    pub(super) fn new(settings: ClientSettings) -> Result<Self, StoreError> {
        let runtime = tokio::runtime::Handle::current();
        let client = Client::with_runtime_handle(runtime.clone(), settings.clone())
            .map_err(|e| StoreError::Kurrent(e.to_string()))?;
        Ok(Self { settings, runtime, client: RwLock::new(Arc::new(client)) })
    }

    /// The client to call, with what maps its failures.
    pub(super) fn client(&self) -> Used<'_> {
        Used { connection: self, client: self.current() }
    }

    /// The client in use.
    pub(super) fn current(&self) -> Arc<Client> {
        Arc::clone(&self.client.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Maps a failure of `used` on `stream`, first making a new client if `used`
    /// gave up and is still the one in use: a failure of a client already
    /// replaced must not replace its successor, which may be connected.
    pub(super) fn error(&self, used: &Arc<Client>, e: kurrentdb::Error, stream: &str) -> StoreError {
        self.notice(used, &e);
        records::error(e, stream)
    }

    /// Makes a new client when `used`, the one in use, answered that it gave up.
    fn notice(&self, used: &Arc<Client>, e: &kurrentdb::Error) {
        if !gave_up(e) {
            return;
        }
        let mut current = self.client.write().unwrap_or_else(PoisonError::into_inner);
        if !Arc::ptr_eq(&current, used) {
            return;
        }
        match Client::with_runtime_handle(self.runtime.clone(), self.settings.clone()) {
            Ok(client) => {
                tracing::warn!(error = %e, "the KurrentDB client gave up connecting; the next call connects afresh");
                *current = Arc::new(client);
            }
            Err(error) => tracing::error!(%error, "cannot make a new KurrentDB client; keeping the one that gave up"),
        }
    }
}

/// A client taken for a call, and the connection it came from.
pub(super) struct Used<'a> {
    connection: &'a Connection,
    client: Arc<Client>,
}

impl Used<'_> {
    /// Maps a failure of this call on `stream` (see [`Connection::error`]).
    pub(super) fn error(&self, e: kurrentdb::Error, stream: &str) -> StoreError {
        self.connection.error(&self.client, e, stream)
    }

    /// [`Self::error`] for an append that expected `expected`.
    pub(super) fn append_error(&self, e: kurrentdb::Error, stream: &str, expected: ExpectedRevision) -> StoreError {
        self.connection.notice(&self.client, &e);
        records::append_error(e, stream, expected)
    }
}

impl std::ops::Deref for Used<'_> {
    type Target = Client;

    fn deref(&self) -> &Client {
        &self.client
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
        let client = connection.client();
        let read = async {
            let mut read = client.read_all(&ReadAllOptions::default().max_count(1)).await?;
            read.next().await
        };
        match read.await {
            Ok(_) => panic!("a read from a port nothing listens on succeeded"),
            Err(e) => client.error(e, "$all").to_string(),
        }
    }

    /// A connection to a loopback port nothing listens on, trying once.
    fn nowhere() -> Result<Connection, Box<dyn std::error::Error>> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let url = format!("kurrentdb://127.0.0.1:{port}?tls=false&maxDiscoverAttempts=1&discoveryInterval=10");
        Ok(Connection::new(url.parse()?)?)
    }

    #[tokio::test]
    async fn a_client_that_gave_up_is_made_again() -> Result<(), Box<dyn std::error::Error>> {
        let connection = nowhere()?;
        for attempt in 1..=3 {
            let error = failed_read(&connection).await;
            // A client that gave up for good answers "Connection is closed" at once.
            assert!(error.contains("gRPC connection error"), "attempt {attempt}: {error}");
        }
        Ok(())
    }

    #[tokio::test]
    async fn only_the_client_in_use_is_replaced() -> Result<(), Box<dyn std::error::Error>> {
        let connection = nowhere()?;
        let first = connection.current();
        connection.error(&first, kurrentdb::Error::ConnectionClosed, "$all");
        let second = connection.current();
        assert!(!Arc::ptr_eq(&first, &second), "the client that gave up is still in use");
        // A late failure of the first client leaves its successor alone.
        connection.error(&first, kurrentdb::Error::ConnectionClosed, "$all");
        assert!(Arc::ptr_eq(&second, &connection.current()));
        // Nor does a failure that is not the client giving up replace it.
        connection.error(&second, kurrentdb::Error::ResourceNotFound, "player-1");
        assert!(Arc::ptr_eq(&second, &connection.current()));
        Ok(())
    }
}
