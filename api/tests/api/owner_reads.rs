//! Two real `nudge serve` processes on one PostgreSQL database, with an API
//! key in force: a feature read (of one's own writes, `?min_position=`, or
//! plain) sent to the instance that does not fold the player is forwarded, with
//! the caller's key, to the one that does and answered from its memory; a
//! forwarded read is never forwarded again; and once the owner is killed, the
//! other answers the read itself, and answers the next without trying again.
//! Instances listening on the IPv6 loopback forward to each other alike, and
//! to an owner behind `https` whose certificate a private CA signed, once
//! `--peer-ca` names that CA. A forwarded read counts against the caller's
//! rate limit where it arrived, not again at the owner, which trusts only a
//! proof made with the peers' secret.

use std::{collections::HashMap, sync::Arc};

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use store::testing::PgSchema;
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{Nudge, nudge, ready, serve_on};

/// Rows wait in memory a minute, so only the owner's memory has them at
/// once; leases outlast the test, so a killed owner still holds its partitions.
const ARGS: [&str; 4] = ["--projection-write-behind", "60s", "--lease-ttl", "60s"];

/// One instance: its process, its URL, the address it advertises, its id
/// in the cluster and a player it folds.
struct Instance {
    process: Nudge,
    url: String,
    address: String,
    id: String,
    player: String,
}

async fn get(client: &reqwest::Client, key: &str, url: String) -> reqwest::Response {
    client.get(url).bearer_auth(key).send().await.unwrap()
}

/// Waits until every partition is held and both instances hold some;
/// answers each partition's owner by id, and each instance's id by URL.
async fn settled(client: &reqwest::Client, key: &str, url: &str) -> (HashMap<u64, String>, HashMap<String, String>) {
    for _ in 0..1_200 {
        let cluster = get(client, key, format!("{url}/v1/cluster")).await;
        if !cluster.status().is_success() {
            // Over a `--rate-limit`: asked again below.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            continue;
        }
        let cluster: Value = cluster.json().await.unwrap();
        let owners: HashMap<u64, String> = cluster["partitions"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["projection"] == "features")
            .filter_map(|p| Some((p["partition"].as_u64()?, p["owner"].as_str()?.to_owned())))
            .collect();
        let ids: HashMap<String, String> = cluster["instances"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| (i["address"].as_str().unwrap().to_owned(), i["id"].as_str().unwrap().to_owned()))
            .collect();
        let holders: std::collections::HashSet<&String> = owners.values().collect();
        if owners.len() == 64 && ids.len() == 2 && holders.len() == 2 {
            return (owners, ids);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the two instances did not share the partitions within a minute");
}

/// Appends one bet of `player`'s through `url`; answers its position.
async fn bet(client: &reqwest::Client, key: &str, url: &str, player: &str, id: &str) -> u64 {
    let body = crate::helpers::bet(id, player, 500);
    let response = client
        .post(format!("{url}/v1/events"))
        .bearer_auth(key)
        .header("content-type", "application/cloudevents+json")
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    answer["results"][0]["position"].as_u64().unwrap()
}

/// The value of `nudge_feature_reads_forwarded_total{outcome}` at `url`.
async fn forwarded(client: &reqwest::Client, key: &str, url: &str, outcome: &str) -> f64 {
    let text = get(client, key, format!("{url}/metrics")).await.text().await.unwrap();
    let series = format!("nudge_feature_reads_forwarded_total{{outcome=\"{outcome}\"}} ");
    text.lines().find_map(|line| line.strip_prefix(&series)).map_or(0.0, |v| v.parse().unwrap())
}

/// A new API key named `name` with `scopes`, made by `nudge keys create`.
fn create_key(store: &str, name: &str, scopes: &str) -> String {
    let created = nudge().args(["keys", "create", "--name", name, "--scopes", scopes, "--store", store]).output();
    let created = created.unwrap();
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    String::from_utf8_lossy(&created.stdout).trim().to_owned()
}

/// Two instances listening on `listen` (port 0) on `schema`, each with its
/// own extra `args`, sharing the partitions, and an admin key; each instance
/// named with a player it folds.
async fn two_instances(
    schema: &PgSchema,
    listen: &str,
    args: [&[&str]; 2],
) -> (reqwest::Client, String, [Instance; 2]) {
    let store = schema.url();
    let key = create_key(&store, "ops", "admin");
    let client = reqwest::Client::new();
    let mut instances = Vec::new();
    for args in args {
        let (process, url) = serve_on(listen, &store, &[&ARGS[..], args].concat());
        ready(&client, &url).await;
        let advertised = args.iter().position(|a| *a == "--advertise-url").and_then(|i| args.get(i + 1));
        let address = advertised.map_or_else(|| url.clone(), |a| (*a).to_owned());
        instances.push(Instance { process, url, address, id: String::new(), player: String::new() });
    }
    let (owners, ids) = settled(&client, &key, &instances[0].url).await;
    for instance in &mut instances {
        instance.id = ids[&instance.address].clone();
        instance.player = (0..)
            .map(|n| format!("p{n}"))
            .find(|p| {
                owners[&u64::from(domain::partition_of(p, std::num::NonZeroU32::new(64).unwrap()))] == instance.id
            })
            .unwrap();
    }
    let Ok(instances) = <[Instance; 2]>::try_from(instances) else { unreachable!() };
    (client, key, instances)
}

/// A bet of A's player written through B, then read through B: B forwards
/// the read to A and relays A's answer, once, without failing.
async fn relayed(client: &reqwest::Client, key: &str, a: &Instance, b: &Instance) {
    let position = bet(client, key, &b.url, &a.player, "e1").await;
    let read = |url: &str| format!("{url}/v1/players/{}/features?min_position={position}", a.player);
    let through_b: Value = get(client, key, read(&b.url)).await.json().await.unwrap();
    let from_a: Value = get(client, key, read(&a.url)).await.json().await.unwrap();
    assert_eq!(through_b, from_a, "B relays A's answer");
    assert_eq!(through_b["features"]["bet_count"], 1, "{through_b}");
    assert_eq!(forwarded(client, key, &b.url, "answered").await, 1.0);
    assert_eq!(forwarded(client, key, &b.url, "failed").await, 0.0);
}

#[tokio::test]
async fn postgres_a_feature_read_is_answered_by_the_instance_folding_the_player() {
    let schema = PgSchema::new().await.unwrap();
    let (client, key, [mut a, b]) = two_instances(&schema, "127.0.0.1:0", [&[], &[]]).await;
    let (of_a, of_b) = (a.player.clone(), b.player.clone());

    // A's player, written and read through B: B forwards, A answers from memory.
    let position = bet(&client, &key, &b.url, &of_a, "e1").await;
    let read = |url: &str, player: &str| format!("{url}/v1/players/{player}/features?min_position={position}");
    let through_b = get(&client, &key, read(&b.url, &of_a)).await;
    assert_eq!(through_b.status(), 200);
    let through_b: Value = through_b.json().await.unwrap();
    assert_eq!(through_b["position"], position);
    assert_eq!(through_b["features"]["bet_count"], 1, "{through_b}");
    let from_a: Value = get(&client, &key, read(&a.url, &of_a)).await.json().await.unwrap();
    assert_eq!(through_b, from_a, "B relays A's answer");
    assert_eq!(forwarded(&client, &key, &b.url, "answered").await, 1.0);
    assert_eq!(forwarded(&client, &key, &a.url, "answered").await, 0.0, "A holds the player: it answers itself");
    // A plain read too: B relays A's memory, never an older stored row.
    let plain: Value = get(&client, &key, format!("{}/v1/players/{of_a}/features", b.url)).await.json().await.unwrap();
    assert_eq!(plain, from_a);
    assert_eq!(forwarded(&client, &key, &b.url, "answered").await, 2.0);

    // B's own player: answered by B.
    bet(&client, &key, &a.url, &of_b, "e2").await;
    let position = bet(&client, &key, &a.url, &of_b, "e3").await;
    let own = get(&client, &key, format!("{}/v1/players/{of_b}/features?min_position={position}", b.url)).await;
    assert_eq!(own.status(), 200);
    assert_eq!(forwarded(&client, &key, &b.url, "answered").await, 2.0, "B holds its own player");

    // A read already forwarded is answered where it arrives, whoever holds the player.
    let again = client
        .get(format!("{}/v1/players/{of_b}/features?min_position={position}", a.url))
        .bearer_auth(&key)
        .header("nudge-forwarded-by", &b.id)
        .send()
        .await
        .unwrap();
    assert!(matches!(again.status().as_u16(), 200 | 409), "{}", again.status());
    assert_eq!(forwarded(&client, &key, &a.url, "answered").await, 0.0);
    assert_eq!(forwarded(&client, &key, &a.url, "failed").await, 0.0);

    // The owner killed, its leases still run: B cannot reach it, waits for the
    // stored rows itself, and says how far they got.
    a.process.kill();
    let position = bet(&client, &key, &b.url, &of_a, "e4").await;
    let response = get(&client, &key, format!("{}/v1/players/{of_a}/features?min_position={position}", b.url)).await;
    assert_eq!(response.status(), 409);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "/problems/not-projected-yet", "{problem}");
    assert_eq!(forwarded(&client, &key, &b.url, "failed").await, 1.0);
    // Avoided since: the next read is answered here without trying it again.
    let response = get(&client, &key, format!("{}/v1/players/{of_a}/features?min_position={position}", b.url)).await;
    assert_eq!(response.status(), 409);
    assert_eq!(forwarded(&client, &key, &b.url, "failed").await, 1.0);
}

#[tokio::test]
async fn postgres_an_owner_listening_on_the_ipv6_loopback_is_forwarded_to() {
    if std::net::TcpListener::bind("[::1]:0").is_err() {
        eprintln!("skipped: this machine has no IPv6 loopback");
        return;
    }
    let schema = PgSchema::new().await.unwrap();
    let (client, key, [a, b]) = two_instances(&schema, "[::1]:0", [&[], &[]]).await;
    assert!(a.url.starts_with("http://[::1]:"), "{}", a.url);
    relayed(&client, &key, &a, &b).await;
}

/// A private certificate authority, and a certificate it signed for 127.0.0.1.
struct PrivateCa {
    pem: String,
    server: Arc<rustls::ServerConfig>,
}

impl PrivateCa {
    fn new() -> Self {
        let mut params = rcgen::CertificateParams::new(Vec::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let ca = rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap()).unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let leaf = rcgen::CertificateParams::new(vec!["127.0.0.1".to_owned()]).unwrap().signed_by(&key, &ca).unwrap();
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let server = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![leaf.der().clone()], key)
            .unwrap();
        Self { pem: ca.pem(), server: Arc::new(server) }
    }
}

/// Serves TLS on `front` with `ca`'s certificate, relaying each connection to `backend`.
fn tls_front(front: TcpListener, ca: &PrivateCa, backend: String) {
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&ca.server));
    let backend = backend.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        while let Ok((stream, _)) = front.accept().await {
            let (acceptor, backend) = (acceptor.clone(), backend.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut plain = TcpStream::connect(backend).await.unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
}

#[tokio::test]
async fn postgres_an_owner_behind_https_signed_by_a_private_ca_is_forwarded_to_with_peer_ca() {
    api::tls::install_crypto_provider();
    let schema = PgSchema::new().await.unwrap();
    let ca = PrivateCa::new();
    let ca_file = std::env::temp_dir().join(format!("nudge-peers-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let front = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = format!("https://127.0.0.1:{}", front.local_addr().unwrap().port());
    let peer_ca = ["--peer-ca", ca_file.to_str().unwrap()];
    let (client, key, [a, b]) = two_instances(&schema, "127.0.0.1:0", [&["--advertise-url", &https], &peer_ca]).await;
    tls_front(front, &ca, a.url.clone());

    // A's address is trusted only through the private CA.
    let public_roots = reqwest::Client::new().get(format!("{https}/readyz")).send().await;
    assert!(public_roots.is_err(), "{public_roots:?}");
    let root = reqwest::Certificate::from_pem(ca.pem.as_bytes()).unwrap();
    let trusting = reqwest::Client::builder().add_root_certificate(root).build().unwrap();
    assert_eq!(trusting.get(format!("{https}/readyz")).send().await.unwrap().status(), 200);

    // B, given the CA, forwards A's player's read to A's https address.
    relayed(&client, &key, &a, &b).await;
    std::fs::remove_file(ca_file).unwrap();
}

#[tokio::test]
async fn postgres_a_forwarded_read_counts_against_the_rate_limit_once_and_a_forged_one_counts() {
    let schema = PgSchema::new().await.unwrap();
    let limited: &[&str] = &["--rate-limit", "1"];
    let (client, _, [a, b]) = two_instances(&schema, "127.0.0.1:0", [limited, limited]).await;
    let store = schema.url();
    let (writer, reader, forger) = (
        create_key(&store, "writer", "events:write"),
        create_key(&store, "reader", "read"),
        create_key(&store, "forger", "read"),
    );
    let position = bet(&client, &writer, &b.url, &a.player, "e1").await;
    let features = |url: &str| format!("{url}/v1/players/{}/features?min_position={position}", a.player);

    // Through B: B counts the read (a second one at once is refused there),
    // A answers it without counting it, so the key's next read of A passes.
    assert_eq!(get(&client, &reader, features(&b.url)).await.status(), 200);
    assert_eq!(get(&client, &reader, features(&b.url)).await.status(), 429, "B counted the first read");
    assert_eq!(get(&client, &reader, features(&a.url)).await.status(), 200, "A did not count the forwarded read");
    assert_eq!(forwarded(&client, &reader, &b.url, "answered").await, 1.0);
    let metrics = client.get(format!("{}/metrics", a.url)).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("nudge_feature_reads_from_peers_total 1\n"), "{metrics}");

    // Naming a peer without its proof (or with one for another read) is counted.
    let proof = "b3RoZXIgcmVhZA==";
    let forged = || {
        client
            .get(features(&a.url))
            .bearer_auth(&forger)
            .header("nudge-forwarded-by", &b.id)
            .header("nudge-forwarded-proof", proof)
    };
    assert_eq!(forged().send().await.unwrap().status(), 200);
    assert_eq!(forged().send().await.unwrap().status(), 429, "A counted the forged read");
}
