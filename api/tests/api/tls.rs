//! TLS with the one crypto provider (ring, `api::tls`): a webhook sender's
//! handshake reaches an HTTPS receiver offering what ring offers, even after the
//! KurrentDB client would have installed aws-lc-rs; nudge's store and read models
//! reach PostgreSQL over TLS (`sslmode=require`).

use sqlx::{Connection, PgConnection, postgres::PgSslMode};
use tokio::net::TcpListener;
use tokio_rustls::{
    LazyConfigAcceptor,
    rustls::{NamedGroup, server::Acceptor},
};

use database::Database;
use store::{postgres::PostgresStore, testing::PgSchema};
use webhooks::{ClientConfig, Sender, TargetPolicy};

/// The key-exchange groups the first TLS client to connect offers (the
/// connection is then dropped: no certificate is needed to read its hello).
async fn offered_groups(listener: TcpListener) -> Vec<NamedGroup> {
    let (stream, _) = listener.accept().await.unwrap();
    let handshake = LazyConfigAcceptor::new(Acceptor::default(), stream).await.unwrap();
    handshake.client_hello().named_groups().unwrap().to_vec()
}

#[tokio::test]
async fn a_webhook_sender_speaks_tls_with_ring_even_after_kurrentdb_installed_aws_lc() {
    // What nudge's main does first; a test before this one may have done it already.
    api::tls::install_crypto_provider();
    // What the KurrentDB client does on its first connection (refused: ring stays).
    #[cfg(feature = "kurrentdb")]
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("https://127.0.0.1:{}/hooks", listener.local_addr().unwrap().port());
    let receiver = tokio::spawn(offered_groups(listener));
    let config =
        ClientConfig { targets: TargetPolicy { allow_private: true, allow_cidrs: Vec::new() }, ..Default::default() };
    let sender = Sender::new(config).unwrap();
    let refused = sender.handshake(&url).await.unwrap_err();

    let groups = receiver.await.unwrap();
    // ring's key exchanges: no post-quantum hybrid, which aws-lc-rs offers first.
    let ring: Vec<NamedGroup> =
        rustls::crypto::ring::default_provider().kx_groups.iter().map(|group| group.name()).collect();
    assert_eq!(groups, ring, "the sender offered {groups:?}, not ring's groups");
    assert!(!groups.contains(&NamedGroup::X25519MLKEM768));
    assert!(!refused.is_empty());
}

#[tokio::test]
async fn the_store_and_the_read_models_reach_postgresql_over_tls() {
    let schema = PgSchema::new().await.unwrap();
    let options = schema.options().unwrap().ssl_mode(PgSslMode::Require);
    let name = options.get_application_name().unwrap().to_owned();
    let _store = PostgresStore::connect_with(options.clone(), None).await.unwrap();
    let _database = Database::connect_postgres(options).await.unwrap();

    // Every connection the schema's application name opened is encrypted.
    let mut observer = PgConnection::connect(&store::testing::postgres_url()).await.unwrap();
    let (all, encrypted): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE s.ssl) FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid)
         WHERE a.application_name = $1",
    )
    .bind(&name)
    .fetch_one(&mut observer)
    .await
    .unwrap();
    assert!(all >= 2, "the store and the read models hold {all} connections");
    assert_eq!(encrypted, all);
}
