//! What must hold after a cluster run (the multi-process test checks the same), however the instances were disturbed:
//! every player's features equal a replay of their stream, every
//! recommendation exists once and as a one-process replay makes it, and every
//! one reached the webhook receiver at least once, in order per player.

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, Mutex},
};

use anyhow::{Context, bail};
use axum::{Router, body::Bytes, extract::State, http::StatusCode, routing::post};
use domain::{PlayerEvent, PlayerFeatures};
use projections::{Decider, Effect, PlayerState};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// What a one-process replay of the stored events makes.
pub struct Replay {
    /// Each player's features, folded from their events in stored order.
    pub features: HashMap<String, PlayerFeatures>,
    /// Every recommendation's id.
    pub recommendations: BTreeSet<String>,
}

/// Replays every event stored at `url` in one process.
pub async fn replay(url: &str) -> anyhow::Result<Replay> {
    let store = store::connect(url).await?;
    let decider = Decider::default();
    let mut players: HashMap<String, (PlayerFeatures, PlayerState)> = HashMap::new();
    let mut recommendations = BTreeSet::new();
    let mut after = None;
    loop {
        let page = store.read_all(after, 1_000, domain::STREAM_PREFIX).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        for recorded in page {
            let event = PlayerEvent::from_json(&recorded.cloud_event()?)?;
            let (features, state) = players.entry(event.player_id.to_string()).or_default();
            features.apply(&event);
            if let Some(Effect::Recommended(recommendation)) = state.apply(&event, recorded.position, &decider) {
                recommendations.insert(recommendation.id.to_string());
            }
        }
    }
    let features = players.into_iter().map(|(player, (features, _))| (player, features)).collect();
    Ok(Replay { features, recommendations })
}

/// Every recommendation listed at `address`, in listing order: (id, player, position).
pub async fn listed_recommendations(
    client: &reqwest::Client,
    address: &str,
) -> anyhow::Result<Vec<(String, String, u64)>> {
    let mut listed = Vec::new();
    let mut after: Option<u64> = None;
    loop {
        let cursor = after.map(|a| format!("&after={a}")).unwrap_or_default();
        let page: Value =
            client.get(format!("{address}/v1/recommendations?limit=1000{cursor}")).send().await?.json().await?;
        let recommendations = page["recommendations"].as_array().context("no recommendations in the page")?;
        if recommendations.is_empty() {
            return Ok(listed);
        }
        for r in recommendations {
            let field = |name: &str| r[name].as_str().map(str::to_owned).with_context(|| format!("no {name}"));
            let position = r["triggered_by"]["position"].as_u64().context("no position")?;
            listed.push((field("id")?, field("player_id")?, position));
        }
        after = page["next"].as_u64();
        if after.is_none() {
            return Ok(listed);
        }
    }
}

/// Asks every player's features, in turn from each of `addresses`, and
/// answers the players whose features differ from the replay.
pub async fn features_differ(
    client: &reqwest::Client,
    addresses: &[String],
    replay: &HashMap<String, PlayerFeatures>,
) -> anyhow::Result<Vec<String>> {
    let mut differ = Vec::new();
    for (i, (player, state)) in replay.iter().enumerate() {
        let address = &addresses[i % addresses.len()];
        let body: Value = client.get(format!("{address}/v1/players/{player}/features")).send().await?.json().await?;
        if body["features"] != serde_json::to_value(state.features())? {
            differ.push(player.clone());
        }
    }
    Ok(differ)
}

/// The sum of a metric's samples in the `/metrics` of the nudge at `address`.
pub async fn metric(client: &reqwest::Client, address: &str, name: &str) -> anyhow::Result<f64> {
    let text = client.get(format!("{address}/metrics")).send().await?.text().await?;
    Ok(crate::tools::bench::metric_sum(&text, name))
}

/// The (id, subject) of every event the receiver took, in arrival order.
type Taken = Arc<Mutex<Vec<(String, String)>>>;

/// A webhook receiver on a loopback port: the (id, subject) of every
/// structured CloudEvent it took, in arrival order.
pub struct Receiver {
    /// Where it takes deliveries.
    pub url: String,
    taken: Taken,
    stop: CancellationToken,
}

impl Receiver {
    /// Starts it on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let taken: Taken = Arc::default();
        let app = Router::new().route("/hooks", post(take)).with_state(Arc::clone(&taken));
        let stop = CancellationToken::new();
        let shutdown = stop.clone().cancelled_owned();
        tokio::spawn(async move { axum::serve(listener, app).with_graceful_shutdown(shutdown).await });
        Ok(Self { url, taken, stop })
    }

    /// How many requests it took.
    pub fn count(&self) -> usize {
        self.taken.lock().map(|t| t.len()).unwrap_or(0)
    }

    /// Checks what arrived against the recommendations: each at least once,
    /// each player's in position order (by first arrival).
    pub fn check(&self, expected: &[(String, String, u64)]) -> anyhow::Result<()> {
        let taken = self.taken.lock().map(|t| t.clone()).unwrap_or_default();
        let by_id: HashMap<&str, (&str, u64)> =
            expected.iter().map(|(id, player, position)| (id.as_str(), (player.as_str(), *position))).collect();
        let mut first: BTreeSet<&str> = BTreeSet::new();
        let mut last_position: HashMap<&str, u64> = HashMap::new();
        for (id, subject) in &taken {
            let Some((player, position)) = by_id.get(id.as_str()) else {
                bail!("the receiver took unknown event {id}")
            };
            if subject != player {
                bail!("event {id} came for {subject}, not {player}");
            }
            if first.insert(id) {
                let last = last_position.entry(player).or_insert(0);
                if *position < *last {
                    bail!("{player}: the recommendation at {position} arrived after the one at {last}");
                }
                *last = *position;
            }
        }
        if first.len() != by_id.len() {
            bail!("{} of {} recommendations reached the receiver", first.len(), by_id.len());
        }
        Ok(())
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

async fn take(State(taken): State<Taken>, body: Bytes) -> StatusCode {
    let Ok(event) = serde_json::from_slice::<Value>(&body) else { return StatusCode::BAD_REQUEST };
    let field = |name: &str| event[name].as_str().unwrap_or_default().to_owned();
    if let Ok(mut taken) = taken.lock() {
        taken.push((field("id"), field("subject")));
    }
    StatusCode::NO_CONTENT
}
