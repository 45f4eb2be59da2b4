//! Three real `nudge serve` processes on one PostgreSQL database share the
//! players while, under load, one is killed (SIGKILL) and restarted, one is
//! stopped (SIGSTOP) for twice the lease TTL and continued, and one is
//! restarted (SIGTERM) as a deploy would. At the end every player's features
//! equal a replay of their stream, every recommendation exists once and as a
//! one-process replay makes it and reaches the webhook receiver at least once
//! and in order per player, every partition's epoch and checkpoint only rose,
//! and the stopped one found its partitions taken when it woke up.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use api::tools::bench::cluster::checks;
use chrono::{TimeZone, Utc};
use domain::PlayerEvent;
use serde_json::{Value, json};
use simulator::Population;
use store::testing::PgSchema;

use crate::helpers::{Nudge, batch_bodies, post_until_accepted, projected, ready, serve};

/// A short TTL keeps the test short; the stop lasts twice as long. A delivery
/// whose attempts a kill, the stop or a loaded machine cut short is tried
/// again within a second, not after the default's 5 s, 30 s and 2 min, which
/// outlast the wait for the receiver.
const ARGS: [&str; 9] = [
    "--lease-ttl",
    "1s",
    "--webhook-retry-schedule",
    "1s",
    "--projection-batch-events",
    "64",
    "--projection-batch-wait",
    "1ms",
    "--allow-private-webhooks",
];
const TTL: Duration = Duration::from_secs(1);
const BATCH_EVENTS: usize = 40;

/// The three instances: each slot's process and address, replaced on restart.
type Instances = Arc<Mutex<Vec<(Nudge, String)>>>;

async fn start(client: &reqwest::Client, url: &str) -> (Nudge, String) {
    let (child, address) = serve(url, &ARGS);
    ready(client, &address).await;
    (child, address)
}

fn signal(child: &Nudge, name: &str) {
    let status = std::process::Command::new("kill").args([&format!("-{name}"), &child.0.id().to_string()]).status();
    assert!(status.is_ok_and(|s| s.success()), "kill -{name} failed");
}

fn addresses(instances: &Instances) -> Vec<String> {
    instances.lock().unwrap().iter().map(|(_, address)| address.clone()).collect()
}

/// Posts every batch, each to the next instance in turn, resending it to the
/// others until one answers 202 (a resend of a stored batch is answered as
/// duplicates).
async fn load(client: reqwest::Client, instances: Instances, batches: Vec<String>, sent: Arc<AtomicUsize>) {
    for (i, body) in batches.into_iter().enumerate() {
        let address = |attempt: usize| {
            let targets = addresses(&instances);
            targets[(i + attempt) % targets.len()].clone()
        };
        post_until_accepted(&client, &body, address).await;
        sent.fetch_add(1, Ordering::SeqCst);
    }
}

/// Watches `GET /v1/cluster` until `done`; answers every time a partition's
/// epoch or checkpoint went back.
async fn watch(client: reqwest::Client, instances: Instances, done: Arc<AtomicBool>) -> Vec<String> {
    let mut seen: HashMap<(String, u64), (u64, u64)> = HashMap::new();
    let mut backwards = Vec::new();
    while !done.load(Ordering::SeqCst) {
        for address in addresses(&instances) {
            let Ok(response) = client.get(format!("{address}/v1/cluster")).send().await else { continue };
            let Ok(cluster) = response.json::<Value>().await else { continue };
            for partition in cluster["partitions"].as_array().into_iter().flatten() {
                let key = (
                    partition["projection"].as_str().unwrap_or_default().to_owned(),
                    partition["partition"].as_u64().unwrap_or_default(),
                );
                let now = (
                    partition["epoch"].as_u64().unwrap_or_default(),
                    partition["checkpoint"].as_u64().unwrap_or_default(),
                );
                if let Some(before) = seen.insert(key.clone(), now)
                    && (now.0 < before.0 || now.1 < before.1)
                {
                    backwards.push(format!("{key:?}: {before:?} then {now:?}"));
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    backwards
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_the_players_through_kill_stop_and_deploy() {
    let schema = PgSchema::new().await.unwrap();
    let url = schema.url();
    let population = Population::new(240, 7, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap());
    let events: Vec<PlayerEvent> = (0..4).flat_map(|day| population.day(day)).collect();
    let batches = batch_bodies(&events, BATCH_EVENTS);
    let total = batches.len();
    assert!(total > 40, "{total} batches: too few to disturb the instances in the middle of");

    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut started = Vec::new();
    for _ in 0..3 {
        started.push(start(&client, &url).await);
    }
    let instances: Instances = Arc::new(Mutex::new(started));
    let receiver = checks::Receiver::start().await.unwrap();
    let subscription = json!({"url": receiver.url, "types": ["nudge.intervention.recommended"], "handshake": false});
    let first = addresses(&instances)[0].clone();
    let created = client.post(format!("{first}/v1/webhooks")).json(&subscription).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let (sent, done) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicBool::new(false)));
    let watcher = tokio::spawn(watch(client.clone(), instances.clone(), done.clone()));
    let loader = tokio::spawn(load(client.clone(), instances.clone(), batches, sent.clone()));
    let reached = |share: usize| {
        let sent = sent.clone();
        async move {
            while sent.load(Ordering::SeqCst) < total * share / 4 {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
    };

    // A crash: SIGKILL, and a new process in its place.
    reached(1).await;
    instances.lock().unwrap()[0].0.kill();
    let restarted = start(&client, &url).await;
    instances.lock().unwrap()[0] = restarted;

    // A stall: stopped for twice the TTL; the others take its partitions over.
    reached(2).await;
    signal(&instances.lock().unwrap()[1].0, "STOP");
    tokio::time::sleep(2 * TTL).await;
    signal(&instances.lock().unwrap()[1].0, "CONT");
    let stalled = instances.lock().unwrap()[1].1.clone();

    // A deploy: SIGTERM, the process exits cleanly, a new one starts.
    reached(3).await;
    signal(&instances.lock().unwrap()[2].0, "TERM");
    let exited = loop {
        if let Some(status) = instances.lock().unwrap()[2].0.0.try_wait().unwrap() {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(exited.success(), "SIGTERM gave {exited}");
    let restarted = start(&client, &url).await;
    instances.lock().unwrap()[2] = restarted;
    loader.await.unwrap();

    // Every partition reaches the head.
    let address = addresses(&instances)[0].clone();
    let status = projected(&client, &address).await;
    assert_eq!(status["projections"][0]["lag_events"], 0, "{status}");
    assert_eq!(status["projections"][0]["head"].as_u64(), Some(events.len() as u64), "{status}");
    done.store(true, Ordering::SeqCst);
    let backwards = watcher.await.unwrap();
    assert!(backwards.is_empty(), "epochs or checkpoints went back: {backwards:?}");

    // Features: a replay of each player's events, on whichever instance is asked.
    let replay = checks::replay(&url).await.unwrap();
    let differ = checks::features_differ(&client, &addresses(&instances), &replay.features).await.unwrap();
    assert!(differ.is_empty(), "features differ from a replay for {differ:?}");

    // Recommendations: each once, the same set a one-process replay makes.
    let listed = checks::listed_recommendations(&client, &address).await.unwrap();
    let unique: BTreeSet<String> = listed.iter().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(unique.len(), listed.len(), "a recommendation was made twice");
    assert_eq!(unique, replay.recommendations);

    // Webhooks: every recommendation at least once, in order per player.
    for _ in 0..1_200 {
        if receiver.check(&listed).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.check(&listed).unwrap();

    // The stalled instance found its partitions taken when it woke up.
    let lost = checks::metric(&client, &stalled, "nudge_projection_leases_lost_total").await.unwrap()
        + checks::metric(&client, &stalled, "nudge_projection_fenced_commits_total").await.unwrap();
    assert!(lost > 0.0, "the stopped instance kept its partitions");
}
