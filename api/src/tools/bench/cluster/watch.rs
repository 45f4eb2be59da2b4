//! What the cluster looked like over a run: `GET /v1/cluster` sampled every
//! few tens of milliseconds from whichever instance answers, and what those
//! samples tell: handover times, lag peaks, and whether any partition's epoch
//! or checkpoint ever went back.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// How often the cluster is sampled.
const EVERY: Duration = Duration::from_millis(25);

/// How long a sample waits for the instances' answers.
const PATIENCE: Duration = Duration::from_secs(1);

/// One partition as a sample saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partition {
    pub owner: Option<String>,
    pub epoch: u64,
    pub checkpoint: u64,
    pub lag: u64,
}

/// One sample: when, each instance's id by address, each (projection, partition).
#[derive(Debug, Clone)]
pub struct Sample {
    pub at: Instant,
    pub ids: HashMap<String, String>,
    pub partitions: HashMap<(String, u64), Partition>,
}

impl Sample {
    /// The projection's lag: the most any partition of `features` is behind.
    pub fn lag(&self) -> u64 {
        self.partitions.iter().filter(|((p, _), _)| p == "features").map(|(_, s)| s.lag).max().unwrap_or(0)
    }

    fn parse(at: Instant, cluster: &Value) -> Option<Self> {
        let ids = cluster["instances"]
            .as_array()?
            .iter()
            .filter_map(|i| Some((i["address"].as_str()?.to_owned(), i["id"].as_str()?.to_owned())))
            .collect();
        let partitions = cluster["partitions"]
            .as_array()?
            .iter()
            .filter_map(|p| {
                let key = (p["projection"].as_str()?.to_owned(), p["partition"].as_u64()?);
                let state = Partition {
                    owner: p["owner"].as_str().map(str::to_owned),
                    epoch: p["epoch"].as_u64()?,
                    checkpoint: p["checkpoint"].as_u64()?,
                    lag: p["lag_events"].as_u64()?,
                };
                Some((key, state))
            })
            .collect();
        Some(Self { at, ids, partitions })
    }
}

/// Samples the cluster until `stop`, asking every one of `addresses` at once
/// and keeping the first answer, so that an instance stopped cold never holds
/// the watch up.
pub async fn sample(
    client: reqwest::Client,
    addresses: Arc<Mutex<Vec<String>>>,
    stop: CancellationToken,
) -> Vec<Sample> {
    let mut samples = Vec::new();
    while !stop.is_cancelled() {
        let targets = addresses.lock().map(|a| a.clone()).unwrap_or_default();
        let asks = targets.iter().map(|address| {
            let answer = client.get(format!("{address}/v1/cluster")).timeout(PATIENCE).send();
            Box::pin(async { answer.await?.json::<Value>().await })
        });
        if !targets.is_empty()
            && let Ok((cluster, _)) = futures::future::select_ok(asks).await
            && let Some(sample) = Sample::parse(Instant::now(), &cluster)
        {
            samples.push(sample);
        }
        tokio::time::sleep(EVERY).await;
    }
    samples
}

/// Every time a partition's epoch or checkpoint went back between samples.
pub fn backwards(samples: &[Sample]) -> Vec<String> {
    let mut seen: HashMap<&(String, u64), (u64, u64)> = HashMap::new();
    let mut back = Vec::new();
    for sample in samples {
        for (key, p) in &sample.partitions {
            if let Some(before) = seen.insert(key, (p.epoch, p.checkpoint))
                && (p.epoch < before.0 || p.checkpoint < before.1)
            {
                back.push(format!("{key:?}: {before:?} then {:?}", (p.epoch, p.checkpoint)));
            }
        }
    }
    back
}

/// From `from` until every `features` partition `address` owned just before
/// it has another owner that has committed past where it stood, if that was
/// seen; and how many partitions those were.
pub fn handover(samples: &[Sample], from: Instant, address: &str) -> (Option<Duration>, usize) {
    let Some(before) = samples.iter().rev().find(|s| s.at < from) else { return (None, 0) };
    let Some(id) = before.ids.get(address) else { return (None, 0) };
    let held: Vec<(&(String, u64), u64)> = before
        .partitions
        .iter()
        .filter(|((projection, _), p)| projection == "features" && p.owner.as_ref() == Some(id))
        .map(|(key, p)| (key, p.checkpoint))
        .collect();
    if held.is_empty() {
        return (None, 0);
    }
    let taken = samples.iter().filter(|s| s.at >= from).find(|s| {
        held.iter().all(|(key, checkpoint)| {
            s.partitions
                .get(*key)
                .is_some_and(|p| p.owner.is_some() && p.owner.as_ref() != Some(id) && p.checkpoint > *checkpoint)
        })
    });
    (taken.map(|s| s.at - from), held.len())
}

/// The highest lag from `from` to `until`, and how long after `from` the lag
/// was back at or under `settled` for good within that window.
pub fn peak_and_drain(samples: &[Sample], from: Instant, until: Instant, settled: u64) -> (u64, Option<Duration>) {
    let window: Vec<&Sample> = samples.iter().filter(|s| s.at >= from && s.at < until).collect();
    let peak = window.iter().map(|s| s.lag()).max().unwrap_or(0);
    let last_high = window.iter().rposition(|s| s.lag() > settled);
    let drained = match last_high {
        None => window.first().map(|s| s.at - from),
        Some(i) => window.get(i + 1).map(|s| s.at - from),
    };
    (peak, drained)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: Instant, owner: &str, checkpoint: u64, lag: u64) -> Sample {
        let ids = [("http://a".to_owned(), "A".to_owned()), ("http://b".to_owned(), "B".to_owned())].into();
        let partition = Partition { owner: Some(owner.to_owned()), epoch: 1, checkpoint, lag };
        Sample { at, ids, partitions: [(("features".to_owned(), 0), partition)].into() }
    }

    #[test]
    fn a_handover_ends_when_another_owner_has_committed_and_the_lag_drains_after_its_last_high() {
        let t = Instant::now();
        let ms = |n| t + Duration::from_millis(n);
        let samples = vec![
            sample(ms(0), "A", 10, 2),
            sample(ms(100), "A", 10, 40),
            sample(ms(200), "B", 10, 90),
            sample(ms(300), "B", 12, 30),
            sample(ms(400), "B", 50, 3),
        ];
        assert_eq!(handover(&samples, ms(50), "http://a"), (Some(Duration::from_millis(250)), 1));
        assert_eq!(handover(&samples, ms(50), "http://b"), (None, 0));
        assert_eq!(peak_and_drain(&samples, ms(50), ms(500), 5), (90, Some(Duration::from_millis(350))));
        assert!(backwards(&samples).is_empty());
        let back = [sample(ms(0), "A", 10, 0), sample(ms(1), "A", 9, 0)];
        assert_eq!(backwards(&back).len(), 1);
    }
}
