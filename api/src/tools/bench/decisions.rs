//! `nudge bench decisions`: what scoring and the policy add per event, in
//! memory: a simulated population is trained on, then replayed three times
//! through the player state (fold only, hard rules only, model and rules).

use clap::Args;
use std::{collections::HashMap, sync::Arc, time::Instant};

use chrono::{TimeZone, Utc};
use domain::{PlayerEvent, PlayerFeatures, Policy};
use ml::{Scorer, TrainConfig, TrainingSet};
use projections::{Decider, Effect, PlayerState};
use simulator::Population;

/// Options of `nudge bench decisions`.
#[derive(Debug, Args)]
pub struct BenchDecisionsArgs {
    /// Players in the simulated population.
    #[arg(long, default_value_t = 2_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    pub players: u64,
    /// Days simulated: the model trains on them all, the timing replays them all.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u32).range(10..=365))]
    pub days: u32,
    /// Seed of the population.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// Runs `nudge bench decisions`.
pub async fn run(args: BenchDecisionsArgs) -> anyhow::Result<()> {
    let start = Utc.with_ymd_and_hms(2026, 10, 1, 0, 0, 0).single().ok_or_else(|| anyhow::anyhow!("start date"))?;
    let population = Population::new(args.players, args.seed, start).with_horizon(args.days);
    let events: Vec<PlayerEvent> = (0..args.days).flat_map(|day| population.day(day)).collect();
    crate::out!("{} events of {} players over {} days", events.len(), args.players, args.days);

    let training = Instant::now();
    let artifact = ml::train(&TrainingSet::of(&events), &TrainConfig::default(), &|_| {})?;
    crate::out!("trained {} in {:.1} s", artifact.version, training.elapsed().as_secs_f64());
    let scorer = Arc::new(Scorer::new(artifact));

    let fold_only = time(&events, |players: &mut HashMap<String, PlayerFeatures>, event, _| {
        players.entry(event.player_id.as_str().to_owned()).or_default().apply(event);
        false
    });
    let rules = Decider { scorer: None, policy: Policy::default() };
    let with_model = Decider { scorer: Some(scorer), policy: Policy::default() };
    let decide = |decider: &Decider| {
        let decider = decider.clone();
        move |players: &mut HashMap<String, PlayerState>, event: &PlayerEvent, position: u64| {
            let state = players.entry(event.player_id.as_str().to_owned()).or_default();
            matches!(state.apply(event, position, &decider), Some(Effect::Recommended(_)))
        }
    };
    let hard_rules = time(&events, decide(&rules));
    let model = time(&events, decide(&with_model));
    let n = events.len() as f64;
    for (name, (seconds, made)) in [("fold only", fold_only), ("hard rules", hard_rules), ("model and rules", model)] {
        crate::out!("{name:<16} {:>8.3} µs/event  {made} recommendations", seconds * 1e6 / n);
    }
    crate::out!(
        "scoring and policy add {:.3} µs per event on average (model and rules over fold only)",
        (model.0 - fold_only.0) * 1e6 / n
    );
    Ok(())
}

/// Replays `events` once through `step`; answers the seconds taken and the recommendations made.
fn time<S: Default>(events: &[PlayerEvent], mut step: impl FnMut(&mut S, &PlayerEvent, u64) -> bool) -> (f64, usize) {
    let mut state = S::default();
    let started = Instant::now();
    let mut made = 0;
    for (i, event) in events.iter().enumerate() {
        made += usize::from(step(&mut state, event, i as u64 + 1));
    }
    (started.elapsed().as_secs_f64(), made)
}
