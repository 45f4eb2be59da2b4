//! The load a cluster run puts on the instances: batches posted to whichever
//! instance is up (a batch an instance did not answer goes to the next, and a
//! resend of a stored batch is answered as duplicates), and freshness probes.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use chrono::Utc;
use serde_json::{Value, json};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

/// The instances' addresses, replaced as they restart.
pub type Addresses = Arc<Mutex<Vec<String>>>;

const BATCH: &str = "application/cloudevents-batch+json";

/// How long a batch waits for an instance's answer before it goes to the next
/// (a load balancer's request timeout: an instance stopped cold answers nothing).
const PATIENCE: Duration = Duration::from_secs(2);

/// Posts `body` to the instances in turn from `first` until one answers 202;
/// refused outright on a 4xx, given up after about two minutes.
pub async fn post(client: &reqwest::Client, addresses: &Addresses, body: &str, first: usize) -> anyhow::Result<()> {
    for attempt in 0..6_000 {
        let targets = addresses.lock().map(|a| a.clone()).unwrap_or_default();
        let Some(address) = targets.get((first + attempt) % targets.len().max(1)) else { bail!("no instance") };
        let answer = client
            .post(format!("{address}/v1/events"))
            .header("content-type", BATCH)
            .body(body.to_owned())
            .timeout(PATIENCE)
            .send()
            .await;
        match answer {
            Ok(answer) if answer.status() == reqwest::StatusCode::ACCEPTED => return Ok(()),
            Ok(answer) if answer.status().is_client_error() => bail!("ingest refused a batch: {}", answer.status()),
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    bail!("a batch was not accepted within two minutes")
}

/// Sends the bodies at `per_second` batches a second, each on its own task,
/// until they run out or `stop`; answers how many were accepted.
pub async fn steady(
    client: reqwest::Client,
    addresses: Addresses,
    bodies: Vec<String>,
    per_second: f64,
    stop: CancellationToken,
) -> anyhow::Result<usize> {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    tick.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut sends = Vec::new();
    for (i, body) in bodies.into_iter().enumerate() {
        tokio::select! {
            () = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let (client, addresses) = (client.clone(), addresses.clone());
        sends.push(tokio::spawn(async move { post(&client, &addresses, &body, i).await }));
    }
    let sent = sends.len();
    for send in sends {
        send.await??;
    }
    Ok(sent)
}

/// One probe: when it was sent and how long from the append's answer until
/// the features showed it (`None`: it failed).
pub type Probe = (Instant, Option<Duration>);

/// Until `stop`: appends one event for a probe player on an instance in turn,
/// then asks that instance for the player's features at that position. An
/// append not answered within [`PATIENCE`] fails the probe, as a load
/// balancer would give up on it.
pub async fn probe(client: reqwest::Client, addresses: Addresses, stop: CancellationToken) -> Vec<Probe> {
    let mut probes = Vec::new();
    let mut n = 0usize;
    while !stop.is_cancelled() {
        n += 1;
        let targets = addresses.lock().map(|a| a.clone()).unwrap_or_default();
        let Some(address) = targets.get(n % targets.len().max(1)).cloned() else { break };
        let sent = Instant::now();
        probes.push((sent, one_probe(&client, &address, n).await.ok()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    probes
}

async fn one_probe(client: &reqwest::Client, address: &str, n: usize) -> anyhow::Result<Duration> {
    let player = format!("probe-{}", n % 64);
    let event = json!({
        "specversion": "1.0", "id": format!("probe-{n}-{}", uuid::Uuid::new_v4().simple()),
        "source": "/bench/cluster", "type": "player.game.launched", "subject": player,
        "time": Utc::now().to_rfc3339(), "data": {"game_id": "g", "category": "slots"}
    });
    let answer = client
        .post(format!("{address}/v1/events"))
        .header("content-type", "application/cloudevents+json")
        .body(event.to_string())
        .timeout(PATIENCE)
        .send()
        .await?;
    if answer.status() != reqwest::StatusCode::ACCEPTED {
        bail!("ingest answered {}", answer.status());
    }
    let answer: Value = answer.json().await?;
    let answered = Instant::now();
    let position = answer["results"][0]["position"].as_u64().context("no position in the ingest answer")?;
    let features = client.get(format!("{address}/v1/players/{player}/features?min_position={position}")).send().await?;
    if !features.status().is_success() {
        bail!("features answered {}", features.status());
    }
    features.bytes().await?;
    Ok(answered.elapsed())
}

/// Waits (five minutes at most) until the projection at `address` has
/// everything the store holds; answers the head.
pub async fn projected(client: &reqwest::Client, addresses: &Addresses) -> anyhow::Result<u64> {
    for turn in 0..6_000usize {
        let targets = addresses.lock().map(|a| a.clone()).unwrap_or_default();
        if let Some(address) = targets.get(turn % targets.len().max(1)) {
            let status: Option<Value> =
                async { client.get(format!("{address}/v1/projections")).send().await?.json().await }.await.ok();
            if let Some(status) = status
                && status["projections"][0]["lag_events"] == 0
            {
                return status["projections"][0]["head"].as_u64().context("no head in /v1/projections");
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bail!("the projection did not catch up within five minutes")
}
