//! A seeded population of players and their events, day by day: sessions, games,
//! bets and settlements, deposits (some failing), withdrawals, limits and the odd
//! self-exclusion, each player with a rhythm of their own.

use chrono::{DateTime, Duration, Utc};
use domain::{Channel, Country, Currency, EventData, LimitKind, LimitPeriod, Money, PlayerEvent, PlayerId};
use serde_json::Map;
use store::{EventStore, StoreError, StreamAppend};

use crate::random::Random;

const CATEGORIES: [&str; 5] = ["slots", "live", "table", "crash", "bingo"];
const COUNTRIES: [&str; 4] = ["MT", "SE", "DE", "GB"];

/// A population of `players` players whose events follow from `seed`.
#[derive(Debug, Clone)]
pub struct Population {
    players: u64,
    seed: u64,
    start: DateTime<Utc>,
}

/// What stays the same about a player from day to day.
struct Habits {
    /// Chance of playing on a given day.
    activity: f64,
    /// Typical stake, in cents.
    stake: i64,
    /// Chance a session starts between midnight and six.
    night: f64,
    /// Typical bets per session.
    bets: i64,
}

impl Population {
    /// `players` players, from `start` (the first day's midnight) on.
    pub fn new(players: u64, seed: u64, start: DateTime<Utc>) -> Self {
        Self { players, seed, start }
    }

    /// Every event of day `day` (from 0), in time order; one player's events are
    /// also in the order they happened.
    pub fn day(&self, day: u32) -> Vec<PlayerEvent> {
        let mut events = Vec::new();
        for player in 0..self.players {
            self.player_day(player, day, &mut events);
        }
        events.sort_by_key(|event| event.time);
        events
    }

    /// Appends `events` to their players' streams, a thousand to a call.
    pub async fn append(store: &dyn EventStore, events: &[PlayerEvent]) -> Result<(), StoreError> {
        for chunk in events.chunks(1_000) {
            store.append(StreamAppend::per_stream(chunk).0).await?;
        }
        Ok(())
    }

    fn habits(&self, player: u64) -> Habits {
        let mut random = Random::new(self.seed ^ player.wrapping_mul(0x2545_F491_4F6C_DD1D));
        Habits {
            activity: 0.1 + 0.5 * random.unit(),
            stake: random.range(20, 2_000),
            night: if random.chance(0.15) { 0.6 } else { 0.05 },
            bets: random.range(3, 30),
        }
    }

    fn player_day(&self, player: u64, day: u32, out: &mut Vec<PlayerEvent>) {
        let habits = self.habits(player);
        let mut random = Random::new(
            self.seed.rotate_left(17)
                ^ player.wrapping_mul(0x9E37_79B9)
                ^ u64::from(day).wrapping_mul(0xD6E8_FEB8_6659_FD93),
        );
        let mut day_events = DayEvents {
            player: format!("p{player}"),
            day,
            time: self.start + Duration::days(i64::from(day)),
            count: 0,
            out,
        };
        if day == 0 {
            day_events.time += Duration::seconds(random.range(0, 6 * 3600));
            let code = *random.pick(&COUNTRIES);
            if let Some(country) = Country::parse(code) {
                let birth_year = Some(random.range(1950, 2005) as u16);
                day_events.push(EventData::Registered { country, currency: Currency::EUR, birth_year });
            }
        }
        if !random.chance(habits.activity) {
            return;
        }
        let hour = if random.chance(habits.night) { random.range(0, 6) } else { random.range(8, 24) };
        let start =
            self.start + Duration::days(i64::from(day)) + Duration::seconds(hour * 3600 + random.range(0, 3600));
        day_events.time = day_events.time.max(start);
        day_events.session(&mut random, &habits);
    }
}

fn money(amount: i64) -> Money {
    Money { amount, currency: Currency::EUR }
}

/// The events of one player on one day, as they are made.
struct DayEvents<'a> {
    player: String,
    day: u32,
    time: DateTime<Utc>,
    count: u32,
    out: &'a mut Vec<PlayerEvent>,
}

impl DayEvents<'_> {
    fn push(&mut self, data: EventData) {
        self.count += 1;
        let Ok(player_id) = PlayerId::parse(&self.player) else { return };
        self.out.push(PlayerEvent {
            id: format!("{}-{}-{}", self.player, self.day, self.count),
            source: "/simulator".to_owned(),
            player_id,
            time: self.time,
            data,
            extra: Map::new(),
            extensions: Default::default(),
        });
    }

    fn wait(&mut self, random: &mut Random, low: i64, high: i64) {
        self.time += Duration::seconds(random.range(low, high).max(1));
    }

    fn session(&mut self, random: &mut Random, habits: &Habits) {
        if random.chance(0.4) {
            if random.chance(0.1) {
                self.push(EventData::DepositFailed {
                    amount: money(random.range(10, 100) * 100),
                    reason: "declined".to_owned(),
                });
                self.wait(random, 10, 120);
            }
            self.push(EventData::DepositSucceeded { amount: money(random.range(10, 100) * 100) });
            self.wait(random, 10, 300);
        }
        let channel = *random.pick(Channel::ALL);
        self.push(EventData::SessionStarted { channel });
        let bets = random.range(1, 2 * habits.bets);
        let mut game = String::new();
        for n in 0..bets {
            if n % 8 == 0 {
                self.wait(random, 5, 60);
                let category = *random.pick(&CATEGORIES);
                game = format!("{category}-{}", random.range(1, 20));
                let category = category.to_owned();
                self.push(EventData::GameLaunched { game_id: game.clone(), category });
            }
            self.wait(random, 10, 90);
            let bet_id = format!("{}-{}-b{n}", self.player, self.day);
            let stake = (habits.stake as f64 * (0.5 + 1.5 * random.unit())) as i64 + 1;
            self.push(EventData::BetPlaced { bet_id: bet_id.clone(), game_id: game.clone(), stake: money(stake) });
            self.wait(random, 2, 30);
            let payout = if random.chance(0.55) { 0 } else { stake * random.range(1, 5) / 2 };
            self.push(EventData::BetSettled { bet_id, game_id: game.clone(), payout: money(payout) });
            if payout < stake && random.chance(0.03) {
                self.wait(random, 30, 600);
                self.push(EventData::DepositSucceeded { amount: money(random.range(10, 50) * 100) });
            }
        }
        self.wait(random, 30, 600);
        self.push(EventData::SessionEnded);
        if random.chance(0.05) {
            self.wait(random, 60, 3600);
            let amount = money(random.range(20, 500) * 100);
            self.push(EventData::WithdrawalRequested { amount });
            if random.chance(0.3) {
                self.wait(random, 60, 1800);
                self.push(EventData::WithdrawalCancelled { amount });
            }
        }
        if random.chance(0.02) {
            let kind = *random.pick(LimitKind::ALL);
            self.push(EventData::LimitChanged { kind, amount: random.range(1, 100) * 1000, period: LimitPeriod::Week });
        }
        if random.chance(0.001) {
            self.push(EventData::SelfExcluded { duration_days: 180 });
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn population() -> Population {
        Population::new(50, 3, Utc.with_ymd_and_hms(2026, 11, 2, 0, 0, 0).single().unwrap())
    }

    #[test]
    fn the_same_seed_gives_the_same_events_in_time_order() {
        let (a, b) = (population().day(1), population().day(1));
        assert_eq!(a, b);
        assert!(!a.is_empty());
        assert!(a.windows(2).all(|w| w[0].time <= w[1].time));
        assert_ne!(a, Population::new(50, 4, population().start).day(1));
    }

    #[test]
    fn every_player_registers_on_the_first_day_and_events_validate() {
        let day = population().day(0);
        let registered = day.iter().filter(|e| matches!(e.data, EventData::Registered { .. })).count();
        assert_eq!(registered, 50);
        for event in &day {
            assert_eq!(PlayerEvent::from_json(&event.to_json()).as_ref(), Ok(event));
        }
    }
}
