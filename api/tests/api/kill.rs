//! SIGKILL the real server again and again under load: once the load is in and
//! the projection has caught up, every player's features equal a fresh replay,
//! and no event is lost or counted twice.

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{TimeZone, Utc};
use domain::{EventData, PlayerEvent, PlayerFeatures};
use serde_json::Value;
use simulator::Population;
use store::testing::{PgSchema, TempSqlite};

use crate::helpers::{Nudge, batch_bodies, post_until_accepted, projected, ready, serve};

const KILLS: usize = 5;
const BATCH_EVENTS: usize = 50;

/// Small micro-batches: many commits for the kills to land between and inside.
const SERVE_ARGS: [&str; 4] = ["--projection-batch-events", "64", "--projection-batch-wait", "1ms"];

/// The server and where it listens, replaced at every restart.
struct Server {
    child: Nudge,
    address: String,
}

/// Posts every batch in order, retrying one until it is answered: a retry of a
/// batch that was stored before the kill is answered as duplicates.
async fn load(client: reqwest::Client, server: Arc<Mutex<Server>>, batches: Vec<String>, sent: Arc<AtomicUsize>) {
    for body in batches {
        post_until_accepted(&client, &body, |_| server.lock().unwrap().address.clone()).await;
        sent.fetch_add(1, Ordering::SeqCst);
    }
}

async fn survives_sigkill(store: String) {
    let population = Population::new(300, 5, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap());
    let events: Vec<PlayerEvent> = (0..4).flat_map(|day| population.day(day)).collect();
    let batches = batch_bodies(&events, BATCH_EVENTS);
    let total = batches.len();
    assert!(total > 10 * KILLS, "{total} batches: too few to kill the server in the middle of");

    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let (child, address) = serve(&store, &SERVE_ARGS);
    ready(&client, &address).await;
    let server = Arc::new(Mutex::new(Server { child, address }));
    let sent = Arc::new(AtomicUsize::new(0));
    let loader = tokio::spawn(load(client.clone(), server.clone(), batches, sent.clone()));

    for kill in 1..=KILLS {
        // Spread the kills over the load; the last one lands right after a restart,
        // while the projection is still catching up.
        let due = total * kill / (KILLS + 1);
        while sent.load(Ordering::SeqCst) < due && kill < KILLS {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        server.lock().unwrap().child.kill();
        let (child, address) = serve(&store, &SERVE_ARGS);
        ready(&client, &address).await;
        *server.lock().unwrap() = Server { child, address };
    }
    loader.await.unwrap();
    let address = server.lock().unwrap().address.clone();

    // Wait for the projection to take in everything stored.
    let status = projected(&client, &address).await;
    let projection = &status["projections"][0];
    assert_eq!(projection["lag_events"], 0, "{status}");
    // Nothing lost, nothing stored twice: positions run 1..=N, one per event.
    assert_eq!(projection["head"].as_u64(), Some(events.len() as u64), "{status}");
    assert_eq!(projection["checkpoint"].as_u64(), Some(events.len() as u64), "{status}");

    let mut replay: BTreeMap<String, PlayerFeatures> = BTreeMap::new();
    for event in &events {
        replay.entry(event.player_id.to_string()).or_default().apply(event);
    }
    let mut bets = 0;
    for (player, state) in &replay {
        let body: Value =
            client.get(format!("{address}/v1/players/{player}/features")).send().await.unwrap().json().await.unwrap();
        assert_eq!(body["features"], serde_json::to_value(state.features()).unwrap(), "player {player}");
        bets += body["features"]["bet_count"].as_u64().unwrap();
    }
    let placed = events.iter().filter(|e| matches!(e.data, EventData::BetPlaced { .. })).count() as u64;
    assert_eq!(bets, placed, "bets counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_converges_on_sqlite() {
    let db = TempSqlite::new().unwrap();
    survives_sigkill(db.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_under_load_converges_on_postgres() {
    let schema = PgSchema::new().await.unwrap();
    survives_sigkill(schema.url()).await;
}
