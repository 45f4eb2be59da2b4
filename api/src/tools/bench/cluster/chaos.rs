//! The disturbed run: three instances under a steady load while, round after
//! round, one is killed (SIGKILL) and replaced, one restarted (SIGTERM) as a
//! deploy would, and one stopped (SIGSTOP) for twice the lease TTL. Prints
//! handover times, lag peaks and drains, freshness in steady state and
//! meanwhile, and fails unless the end state is exactly right.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{
    BATCH_EVENTS, BenchClusterArgs, bodies, checks,
    fleet::{Instance, Schema},
    load::{self, Addresses, Probe},
    serve_args,
    watch::{self, Sample},
};
use crate::tools::bench::{millis, percentile};

/// How long the load runs undisturbed first, and after each disturbance.
const STEADY: Duration = Duration::from_secs(15);
const SETTLE: Duration = Duration::from_secs(5);

/// A disturbance: what, to which address, when.
struct Disturbance {
    kind: &'static str,
    address: String,
    at: Instant,
}

pub async fn run(args: &BenchClusterArgs, client: &reqwest::Client) -> anyhow::Result<()> {
    let schema = Schema::create(&args.database).await?;
    let url = schema.url();
    let extra = serve_args(args);
    let mut instances = Vec::new();
    for _ in 0..3 {
        instances.push(Instance::start(client, &url, &extra).await?);
    }
    let addresses: Addresses = Arc::new(Mutex::new(instances.iter().map(|i| i.address.clone()).collect()));
    let receiver = checks::Receiver::start().await?;
    let body = json!({"url": receiver.url, "types": ["nudge.intervention.recommended"], "handshake": false});
    let created = client.post(format!("{}/v1/webhooks", instances[0].address)).json(&body).send().await?;
    if created.status() != reqwest::StatusCode::CREATED {
        bail!("cannot subscribe the receiver: {}", created.status());
    }

    let rounds = u32::from(args.rounds);
    let expected = STEADY + rounds * (3 * SETTLE + 4 * args.lease_ttl + Duration::from_secs(6));
    let batches_per_second = f64::from(args.rate) / BATCH_EVENTS as f64;
    let bodies = bodies(args, (expected.as_secs_f64() * f64::from(args.rate) * 1.5) as usize);
    let stop = CancellationToken::new();
    let watcher = tokio::spawn(watch::sample(client.clone(), addresses.clone(), stop.clone()));
    let prober = tokio::spawn(load::probe(client.clone(), addresses.clone(), stop.clone()));
    let loader =
        tokio::spawn(load::steady(client.clone(), addresses.clone(), bodies, batches_per_second, stop.clone()));
    let started = Instant::now();
    crate::out!("disturbed run: 3 instances, {} events/s, {rounds} round(s)", args.rate);
    tokio::time::sleep(STEADY).await;

    let mut disturbances = Vec::new();
    let mut projected_before_stops = 0.0;
    for round in 1..=rounds {
        crate::out!("round {round}: SIGKILL, SIGTERM, SIGSTOP ({:.0} s in)", started.elapsed().as_secs_f64());
        // A crash, then a new process in its place.
        projected_before_stops += instances[0].metric(client, "nudge_projection_events_total").await?;
        disturbances.push(Disturbance { kind: "SIGKILL", address: instances[0].address.clone(), at: Instant::now() });
        instances[0].signal("KILL")?;
        tokio::time::sleep(args.lease_ttl + Duration::from_secs(2)).await;
        replace(&mut instances, 0, client, &url, &extra, &addresses).await?;
        tokio::time::sleep(SETTLE).await;

        // A deploy: SIGTERM, a clean exit, a new process.
        projected_before_stops += instances[1].metric(client, "nudge_projection_events_total").await?;
        disturbances.push(Disturbance { kind: "SIGTERM", address: instances[1].address.clone(), at: Instant::now() });
        instances[1].signal("TERM")?;
        match tokio::time::timeout(Duration::from_secs(60), instances[1].exited()).await {
            Ok(Ok(true)) => {}
            Ok(Ok(false)) => bail!("an instance did not exit cleanly on SIGTERM"),
            Ok(Err(error)) => return Err(error),
            Err(_) => bail!("an instance had not exited a minute after SIGTERM"),
        }
        replace(&mut instances, 1, client, &url, &extra, &addresses).await?;
        tokio::time::sleep(SETTLE).await;

        // A stall of twice the TTL.
        disturbances.push(Disturbance { kind: "SIGSTOP", address: instances[2].address.clone(), at: Instant::now() });
        instances[2].signal("STOP")?;
        tokio::time::sleep(2 * args.lease_ttl).await;
        instances[2].signal("CONT")?;
        tokio::time::sleep(SETTLE).await;
    }
    let disturbed_until = Instant::now();
    crate::out!("waiting for the load to finish and the projection to catch up");
    stop.cancel();
    let sent = loader.await?? * BATCH_EVENTS;
    let probes = prober.await?;
    let head = load::projected(client, &addresses).await?;
    let samples = watcher.await?;
    crate::out!("load: {sent} events in {:.0} s", started.elapsed().as_secs_f64());

    report(&samples, &disturbances, &probes, started + Duration::from_secs(3), disturbed_until, args.lease_ttl)?;
    // The stopped instance learns that its partitions were taken either from a
    // commit the fence refused or, first, from a renewal that found the epochs moved.
    let fenced = instances[2].metric(client, "nudge_projection_fenced_commits_total").await?;
    let lost = instances[2].metric(client, "nudge_projection_leases_lost_total").await?;
    let mut projected = projected_before_stops;
    for instance in &instances {
        projected += instance.metric(client, "nudge_projection_events_total").await?;
    }
    crate::out!(
        "projected by every process together (counters read before each stop): {:.2} times the {head} events stored; \
         the stopped instance had {fenced} commits fenced and lost {lost} leases at renewal",
        projected / head.max(1) as f64
    );
    let verdict = verify(client, &url, &addresses, &receiver, &samples).await;
    drop(instances);
    schema.drop_now().await?;
    verdict?;
    if fenced + lost <= 0.0 {
        bail!("the stopped instance never found its partitions taken");
    }
    crate::out!(
        "checks: every player's features equal a replay, every recommendation once and as a replay makes it, \
              every one delivered in order per player, no epoch or checkpoint went back"
    );
    Ok(())
}

/// Starts a new instance in slot `index`, in place of the one there.
async fn replace(
    instances: &mut [Instance],
    index: usize,
    client: &reqwest::Client,
    url: &str,
    extra: &[String],
    addresses: &Addresses,
) -> anyhow::Result<()> {
    let fresh = Instance::start(client, url, extra).await?;
    if let Ok(mut addresses) = addresses.lock() {
        addresses[index] = fresh.address.clone();
    }
    instances[index] = fresh;
    Ok(())
}

/// Prints handovers, lag peaks and drains, and freshness.
fn report(
    samples: &[Sample],
    disturbances: &[Disturbance],
    probes: &[Probe],
    steady_from: Instant,
    until: Instant,
    ttl: Duration,
) -> anyhow::Result<()> {
    let first = disturbances.first().map_or(until, |d| d.at);
    let steady_lag = samples.iter().filter(|s| s.at >= steady_from && s.at < first).map(Sample::lag).max().unwrap_or(0);
    crate::out!("steady lag: at most {steady_lag} events ({} samples)", samples.len());
    for kind in ["SIGKILL", "SIGTERM", "SIGSTOP"] {
        let mut handovers = Vec::new();
        let mut peaks = Vec::new();
        let mut drains = Vec::new();
        for (i, d) in disturbances.iter().enumerate().filter(|(_, d)| d.kind == kind) {
            let next = disturbances.get(i + 1).map_or(until, |n| n.at);
            let (handover, partitions) = watch::handover(samples, d.at, &d.address);
            handovers.push(handover.map_or("not seen".to_owned(), |h| format!("{:.0} ms ({partitions})", millis(h))));
            let (peak, drain) = watch::peak_and_drain(samples, d.at, next, steady_lag);
            peaks.push(peak);
            drains.push(drain.map_or("not within the window".to_owned(), |d| format!("{:.1} s", d.as_secs_f64())));
        }
        crate::out!(
            "{kind} (TTL {} ms): to the new owners' first commit, per round (partitions moved): {}; lag peak {:?} events, \
             back to the steady lag after {}",
            ttl.as_millis(),
            handovers.join(", "),
            peaks,
            drains.join(", ")
        );
    }
    for (name, from, to) in [("steady", steady_from, first), ("disturbed", first, until)] {
        let window: Vec<&Probe> = probes.iter().filter(|(at, _)| *at >= from && *at < to).collect();
        let mut took: Vec<Duration> = window.iter().filter_map(|(_, took)| *took).collect();
        took.sort_unstable();
        crate::out!(
            "freshness, {name}: {} probes ({} failed), median {:.1} ms, p99 {:.1} ms, max {:.1} ms",
            window.len(),
            window.len() - took.len(),
            millis(percentile(&took, 0.5)),
            millis(percentile(&took, 0.99)),
            millis(took.last().copied().unwrap_or_default())
        );
    }
    Ok(())
}

/// The end state: features, recommendations, deliveries, epochs and checkpoints.
async fn verify(
    client: &reqwest::Client,
    url: &str,
    addresses: &Addresses,
    receiver: &checks::Receiver,
    samples: &[Sample],
) -> anyhow::Result<()> {
    let targets = addresses.lock().map(|a| a.clone()).unwrap_or_default();
    let backwards = watch::backwards(samples);
    if !backwards.is_empty() {
        bail!("epochs or checkpoints went back: {backwards:?}");
    }
    let replay = checks::replay(url).await?;
    let differ = checks::features_differ(client, &targets, &replay.features).await?;
    if !differ.is_empty() {
        bail!("{} players' features differ from a replay, e.g. {:?}", differ.len(), &differ[..differ.len().min(5)]);
    }
    let address = targets.first().context("no instance")?;
    let listed = checks::listed_recommendations(client, address).await?;
    let ids: std::collections::BTreeSet<String> = listed.iter().map(|(id, _, _)| id.clone()).collect();
    if ids.len() != listed.len() {
        bail!("{} recommendations listed twice", listed.len() - ids.len());
    }
    if ids != replay.recommendations {
        bail!(
            "the recommendations ({}) differ from a one-process replay's ({})",
            ids.len(),
            replay.recommendations.len()
        );
    }
    for _ in 0..1_200 {
        if receiver.check(&listed).is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    receiver.check(&listed).with_context(|| format!("after {} requests", receiver.count()))
}
