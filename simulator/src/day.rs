//! One player's events on one gaming day, 06:00 to 06:00 UTC, so that a night
//! session belongs to the evening before and a player's days never overlap.

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use domain::{Channel, Country, Currency, EventData, LimitKind, LimitPeriod, Money, PlayerEvent, PlayerId};
use serde_json::Map;

use super::archetype::{Archetype, Profile};
use crate::random::Random;

pub(super) const CATEGORIES: [&str; 5] = ["slots", "live", "table", "crash", "bingo"];
const GAMES_PER_CATEGORY: f64 = 12.0;
const COUNTRIES: [&str; 4] = ["MT", "SE", "DE", "GB"];
/// Sessions end by 04:00 and what follows them by 05:30, before the next day begins.
const LAST_SESSION_END: i64 = 22 * 3600;

/// The events of one player on one day, as they are made.
pub(crate) struct Day<'a> {
    profile: &'a Profile,
    player_id: PlayerId,
    name: String,
    day: i64,
    begins: DateTime<Utc>,
    time: DateTime<Utc>,
    count: u32,
    random: Random,
    harm: f64,
    /// How far each sign of harm shows today: harm times the profile's sign.
    escalation: f64,
    payments: f64,
    binge: f64,
    fade: f64,
    out: &'a mut Vec<PlayerEvent>,
}

impl<'a> Day<'a> {
    pub(crate) fn new(
        profile: &'a Profile,
        player_id: PlayerId,
        day: i64,
        begins: DateTime<Utc>,
        random: Random,
        out: &'a mut Vec<PlayerEvent>,
    ) -> Self {
        Self {
            profile,
            name: player_id.as_str().to_owned(),
            player_id,
            day,
            begins,
            time: begins,
            count: 0,
            random,
            harm: profile.harm_on(day),
            escalation: profile.harm_on(day) * profile.signs.escalation,
            payments: profile.harm_on(day) * profile.signs.payments,
            binge: profile.harm_on(day) * profile.signs.binge,
            fade: profile.fade_on(day),
            out,
        }
    }

    /// Makes the day: registration on day 0, then whatever sessions the player plays.
    pub(crate) fn play(mut self) {
        if self.day == 0 {
            self.wait(0, 2 * 3600);
            let code = *self.random.pick(&COUNTRIES);
            if let Some(country) = Country::parse(code) {
                let birth_year = Some(self.random.range(1950, 2005) as u16);
                self.push(EventData::Registered { country, currency: Currency::EUR, birth_year });
            }
        }
        if self.profile.gone_on(self.day) {
            return;
        }
        let excludes_today = self.profile.harm.and_then(|h| h.excluded_on) == Some(self.day);
        let weekend = matches!(self.begins.weekday(), Weekday::Fri | Weekday::Sat | Weekday::Sun);
        let mut play = self.profile.activity * if weekend { 1.3 } else { 0.9 };
        play += (0.95 - play).max(0.0) * self.binge.max(0.5 * self.harm);
        // A fading player still comes back now and then until the very end.
        play *= 1.0 - 0.7 * self.fade;
        if !excludes_today && !self.random.chance(play) {
            return;
        }
        let sessions = 1
            + i64::from(self.random.chance(0.2 + 0.5 * self.binge.max(0.5 * self.harm)))
            + i64::from(self.random.chance(0.6 * self.binge))
            + i64::from(self.random.chance(0.5 * self.binge))
            + i64::from(self.random.chance(0.4 * self.binge));
        let night = self.profile.night + 0.6 * self.binge;
        let first = if self.random.chance(night) {
            18 * 3600 + self.random.range(0, 4 * 3600)
        } else {
            (2.0 * 3600.0 + 15.0 * 3600.0 * self.random.unit().powf(0.7)) as i64
        };
        self.time = self.time.max(self.begins + Duration::seconds(first));
        let last_end = self.begins + Duration::seconds(LAST_SESSION_END);
        for _ in 0..sessions {
            if self.time + Duration::minutes(10) >= last_end {
                break;
            }
            self.session(last_end);
            let apart = 1.0 - 0.6 * self.binge;
            self.wait((30.0 * 60.0 * apart) as i64, (4.0 * 3600.0 * apart) as i64);
        }
        if excludes_today {
            let days = *self.random.pick(&[90, 180, 365]);
            self.push(EventData::SelfExcluded { duration_days: days });
        }
    }

    fn push(&mut self, data: EventData) {
        self.count += 1;
        self.out.push(PlayerEvent {
            id: format!("{}-{}-{}", self.name, self.day, self.count),
            source: "/simulator".to_owned(),
            player_id: self.player_id.clone(),
            time: self.time,
            data,
            extra: Map::new(),
            extensions: Default::default(),
        });
    }

    /// Moves the clock on by `low..high` seconds (at least one).
    fn wait(&mut self, low: i64, high: i64) {
        self.time += Duration::seconds(self.random.range(low, high).max(1));
    }

    fn at_risk(&self) -> bool {
        self.profile.archetype.at_risk()
    }

    /// A deposit, tried again after a failure (up to three tries); answers what came in.
    fn deposit(&mut self) -> i64 {
        let (escalation, payments) = (self.escalation, self.payments);
        let amount = (self.profile.deposit * (0.5 + self.random.unit()) * (1.0 + 2.0 * escalation + payments)) as i64
            / 100
            * 100;
        let amount = amount.max(1_000);
        for _ in 0..3 {
            if !self.random.chance(0.02 + 0.5 * payments) {
                self.push(EventData::DepositSucceeded { amount: money(amount) });
                return amount;
            }
            self.push(EventData::DepositFailed { amount: money(amount), reason: "insufficient_funds".to_owned() });
            self.wait(20, 180);
            if !self.random.chance(0.3 + 0.5 * payments) {
                return 0;
            }
        }
        0
    }

    fn launch(&mut self) -> String {
        let category = if self.random.chance(0.7) {
            self.profile.favourite
        } else {
            self.random.range(0, CATEGORIES.len() as i64) as usize
        };
        let n = (GAMES_PER_CATEGORY * self.random.unit().powi(2)) as i64 + 1;
        let game_id = format!("{}-{n}", CATEGORIES[category]);
        self.push(EventData::GameLaunched { game_id: game_id.clone(), category: CATEGORIES[category].to_owned() });
        game_id
    }

    fn session(&mut self, last_end: DateTime<Utc>) {
        let profile = self.profile;
        let (escalation, payments) = (self.escalation, self.payments);
        let bonus_hunter = profile.archetype == Archetype::BonusHunter;
        let mut balance = (profile.deposit * 1.5 * self.random.unit()) as i64;
        let deposits = if bonus_hunter { 0.9 } else { 0.3 + 0.3 * payments };
        // A fading player deposits less and less, whatever the balance.
        // (No draw for a player not fading: everyone else's events stay as they were.)
        let fading_deposits = self.fade > 0.0 && self.random.chance(self.fade.powf(0.7));
        if !fading_deposits && (balance < (profile.stake * 5.0) as i64 || self.random.chance(deposits)) {
            balance += self.deposit();
            self.wait(10, 300);
        }
        let channel = match self.random.unit() {
            u if u < 0.45 => Channel::Web,
            u if u < 0.95 => Channel::Mobile,
            _ => Channel::Retail,
        };
        self.push(EventData::SessionStarted { channel });
        let mut minutes = profile.minutes
            * (0.5 + self.random.unit())
            * (1.0 + 3.0 * escalation)
            * (1.0 + 1.5 * self.binge)
            * (1.0 - 0.7 * self.fade);
        // Only escalating play runs past three hours; bingeing stays under them.
        if escalation < 0.3 {
            minutes = minutes.min(170.0);
        }
        let started = self.time;
        let ends = (started + Duration::seconds((minutes * 60.0) as i64)).min(last_end);
        let length = (ends - started).num_seconds().max(1) as f64;
        let mut game = String::new();
        let (mut since_launch, mut switch_after, mut lost_last, mut n) = (0, 0, false, 0);
        let gap = 60.0 / (profile.pace * (1.0 - 0.5 * self.fade));
        loop {
            self.wait((gap * 0.5) as i64, (gap * 1.5) as i64);
            if self.time >= ends {
                break;
            }
            if since_launch >= switch_after {
                self.wait(5, 30);
                game = self.launch();
                (since_launch, switch_after) = (0, self.random.range(10, 40));
            }
            let elapsed = (self.time - started).num_seconds() as f64 / length;
            let rising = 1.0 + 2.0 * escalation * elapsed;
            let chase = if lost_last { 1.0 + 2.0 * escalation } else { 1.0 };
            let mut stake = (profile.stake
                * (0.5 + self.random.unit())
                * rising
                * chase
                * (1.0 + escalation)
                * (1.0 - 0.6 * self.fade))
                .max(10.0) as i64;
            if lost_last && self.random.chance(0.15 * payments) {
                // Chasing the loss with a deposit minutes after it, stakes unchanged.
                self.wait(60, 6 * 60);
                balance += self.deposit();
            }
            if stake > balance {
                let tops_up =
                    if self.at_risk() { 0.3 + 0.6 * escalation.max(payments) } else { 0.1 * (1.0 - self.fade) };
                if !self.random.chance(tops_up) {
                    break;
                }
                let pause =
                    if self.at_risk() { self.random.range(60, 8 * 60) } else { self.random.range(5 * 60, 30 * 60) };
                // No top-up once the session's time would be up.
                if self.time + Duration::seconds(pause) >= ends {
                    break;
                }
                self.time += Duration::seconds(pause.max(1));
                balance += self.deposit();
                stake = stake.min(balance);
                if stake < 10 {
                    break;
                }
            }
            n += 1;
            since_launch += 1;
            let bet_id = format!("{}-{}-b{n}", self.name, self.day);
            self.push(EventData::BetPlaced { bet_id: bet_id.clone(), game_id: game.clone(), stake: money(stake) });
            self.wait(2, 20);
            let payout = if self.random.chance(0.42) { stake * self.random.range(12, 34) / 10 } else { 0 };
            self.push(EventData::BetSettled { bet_id, game_id: game.clone(), payout: money(payout) });
            balance += payout - stake;
            lost_last = payout < stake;
        }
        self.wait(10, 120);
        self.push(EventData::SessionEnded);
        self.after_session(balance);
    }

    /// Withdrawals (some cancelled) and limit changes after a session.
    fn after_session(&mut self, balance: i64) {
        let payments = self.payments;
        let bonus_hunter = self.profile.archetype == Archetype::BonusHunter;
        let withdraws = if bonus_hunter { 0.6 } else { 0.3 };
        // Near the end of a fade the player cashes out what is left, most often all of it.
        let cashes_out = self.fade > 0.5 && balance >= 1_000 && self.random.chance(self.fade);
        if cashes_out || (balance > self.profile.deposit as i64 && self.random.chance(withdraws)) {
            self.wait(60, 30 * 60);
            let amount = money(if cashes_out { balance / 100 * 100 } else { balance / 200 * 100 });
            self.push(EventData::WithdrawalRequested { amount });
            // A bonus hunter cancels to play a bonus through.
            if self.random.chance(if bonus_hunter { 0.5 } else { 0.05 + 0.6 * payments }) {
                self.wait(5 * 60, 60 * 60);
                self.push(EventData::WithdrawalCancelled { amount });
            }
        }
        if self.random.chance(0.01) {
            let amount = (self.profile.deposit * 4.0) as i64 / 100 * 100;
            self.push(EventData::LimitChanged { kind: LimitKind::Deposit, amount, period: LimitPeriod::Week });
        } else if self.random.chance(0.15 * payments + 0.03 * self.escalation) {
            let amount = (self.profile.deposit * (4.0 + self.day as f64)) as i64 / 100 * 100;
            self.push(EventData::LimitChanged { kind: LimitKind::Deposit, amount, period: LimitPeriod::Week });
        }
    }
}

fn money(amount: i64) -> Money {
    Money { amount, currency: Currency::EUR }
}
