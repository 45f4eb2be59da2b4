//! What cqrs-es + postgres-es commit in-process, the baseline that issue 16 holds
//! nudge's one-event-a-request ingest to (at least 3 times this, on the same machine):
//! an aggregate `Player` whose one command `RecordBet` emits one `BetPlaced` event
//! (the fields of `nudge bench ingest`'s bet CloudEvent, about as much JSON), sent by
//! N tokio tasks, each to its own players (10,000 in all, so no two tasks touch one
//! aggregate at once), through `CqrsFramework::execute` with `PostgresEventRepository`
//! on a pool of N connections, no snapshots. With `--with-read-model`, a `GenericQuery`
//! over a `PostgresViewRepository` also keeps each player's bet count and total stake.
//! The database (loopback only) is dropped and made anew each run. Run it on the
//! machine that measures nudge's ingest, right after it:
//!
//! ```text
//! cargo run --release --manifest-path .ci/cqrs_es_baseline/Cargo.toml -- --concurrency 16
//! cargo run --release --manifest-path .ci/cqrs_es_baseline/Cargo.toml -- --concurrency 16 --with-read-model
//! ```

use std::convert::Infallible;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, ensure};
use clap::Parser;
use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::GenericQuery;
use cqrs_es::{Aggregate, DomainEvent, EventEnvelope, Query, View};
use postgres_es::{PostgresViewRepository, postgres_cqrs};
use serde::{Deserialize, Serialize};
use sqlx::ConnectOptions;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

/// The tables of postgres-es's `db/init.sql`, and the view's.
const SCHEMA: &str = "
CREATE TABLE events (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL, sequence bigint CHECK (sequence >= 0) NOT NULL,
    event_type text NOT NULL, event_version text NOT NULL, payload json NOT NULL, metadata json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, sequence));
CREATE TABLE snapshots (
    aggregate_type text NOT NULL, aggregate_id text NOT NULL, last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
    current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL, payload json NOT NULL,
    PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));
CREATE TABLE player_bets (
    view_id text NOT NULL, version bigint CHECK (version >= 0) NOT NULL, payload json NOT NULL, PRIMARY KEY (view_id));
";

#[derive(Parser)]
#[command(about = "What cqrs-es + postgres-es commit in-process: one command, one event")]
struct Args {
    /// Commands in flight at once: one tokio task and one pooled connection each.
    #[arg(long, default_value_t = 16)]
    concurrency: u32,
    /// Commands (one event each) in all.
    #[arg(long, default_value_t = 50_000)]
    events: u64,
    /// Players (aggregates) the commands are spread over.
    #[arg(long, default_value_t = 10_000)]
    players: u64,
    /// Also keep a view of each player's bets and total stake, updated per event.
    #[arg(long)]
    with_read_model: bool,
    /// Dropped and created anew each run; loopback only.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1/cqrs_baseline")]
    database: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Player {
    bets: u64,
    total_stake: u64,
}

struct RecordBet {
    id: u64,
    subject: String,
    stake: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum PlayerEvent {
    /// The fields of `nudge bench ingest`'s CloudEvent, its `data` flattened in.
    BetPlaced {
        specversion: String,
        id: String,
        source: String,
        #[serde(rename = "type")]
        kind: String,
        subject: String,
        time: String,
        datacontenttype: String,
        bet_id: String,
        game_id: String,
        stake: u64,
        currency: String,
    },
}

impl DomainEvent for PlayerEvent {
    fn event_type(&self) -> String {
        "BetPlaced".to_owned()
    }
    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// What every event of a run shares, as `nudge bench ingest` does.
struct Run {
    source: String,
    time: String,
}

impl Aggregate for Player {
    const TYPE: &'static str = "Player";
    type Command = RecordBet;
    type Event = PlayerEvent;
    type Error = Infallible;
    type Services = Run;

    async fn handle(&mut self, command: RecordBet, run: &Run, sink: &EventSink<Self>) -> Result<(), Infallible> {
        let event = PlayerEvent::BetPlaced {
            specversion: "1.0".to_owned(),
            id: command.id.to_string(),
            source: run.source.clone(),
            kind: "player.bet.placed".to_owned(),
            subject: command.subject,
            time: run.time.clone(),
            datacontenttype: "application/json".to_owned(),
            bet_id: format!("b{}", command.id),
            game_id: "starburst".to_owned(),
            stake: command.stake,
            currency: "EUR".to_owned(),
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: PlayerEvent) {
        let PlayerEvent::BetPlaced { stake, .. } = event;
        self.bets += 1;
        self.total_stake += stake;
    }
}

/// The read model: each player's bets and total stake.
#[derive(Debug, Default, Serialize, Deserialize)]
struct PlayerBets {
    bets: u64,
    total_stake: u64,
}

impl View<Player> for PlayerBets {
    fn update(&mut self, event: &EventEnvelope<Player>) {
        let PlayerEvent::BetPlaced { stake, .. } = &event.payload;
        self.bets += 1;
        self.total_stake += stake;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(args.concurrency > 0 && args.players > 0 && args.events > 0, "concurrency, players and events must be > 0");
    let options = PgConnectOptions::from_str(&args.database).context("--database")?;
    let host = options.get_host().trim_start_matches('[').trim_end_matches(']');
    ensure!(
        host == "localhost" || IpAddr::from_str(host).is_ok_and(|ip| ip.is_loopback()),
        "--database must be on loopback, not {host}"
    );
    let name = options.get_database().context("--database names no database")?.replace('"', "\"\"");
    let mut admin = options.clone().database("postgres").connect().await.context("connecting to database postgres")?;
    sqlx::raw_sql(&format!(r#"DROP DATABASE IF EXISTS "{name}" WITH (FORCE)"#)).execute(&mut admin).await?;
    sqlx::raw_sql(&format!(r#"CREATE DATABASE "{name}""#)).execute(&mut admin).await?;
    drop(admin);

    let pool = PgPoolOptions::new().max_connections(args.concurrency).connect_with(options).await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    // Open every connection before the clock starts.
    let mut warm = Vec::new();
    for _ in 0..args.concurrency {
        warm.push(pool.acquire().await?);
    }
    drop(warm);

    let view_errors = Arc::new(AtomicU64::new(0));
    let mut queries: Vec<Box<dyn Query<Player>>> = Vec::new();
    if args.with_read_model {
        let views = PostgresViewRepository::<PlayerBets, Player>::new("player_bets", pool.clone());
        let mut query = GenericQuery::new(Arc::new(views));
        let errors = Arc::clone(&view_errors);
        query.use_error_handler(Box::new(move |_| {
            errors.fetch_add(1, Ordering::Relaxed);
        }));
        queries.push(Box::new(query));
    }
    let source =
        format!("/bench/{:032x}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH)?.as_nanos());
    let time = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let cqrs = Arc::new(postgres_cqrs(pool.clone(), queries, Run { source, time }));

    let (events, players, tasks) = (args.events, args.players, u64::from(args.concurrency));
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|task| {
            let cqrs = Arc::clone(&cqrs);
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                // This task's players only: those whose number is `task` modulo the tasks.
                for id in (0..events).filter(|id| id % players % tasks == task) {
                    let subject = format!("bench-{}", id % players);
                    let command = RecordBet { id, subject: subject.clone(), stake: 100 + id % 400 };
                    let began = Instant::now();
                    cqrs.execute(&subject, command).await.map_err(|e| anyhow!("command {id}: {e}"))?;
                    latencies.push(began.elapsed());
                }
                anyhow::Ok(latencies)
            })
        })
        .collect();
    let mut latencies = Vec::with_capacity(usize::try_from(events)?);
    for handle in handles {
        latencies.extend(handle.await??);
    }
    let elapsed = start.elapsed();

    let (stored,): (i64,) = sqlx::query_as("SELECT count(*) FROM events").fetch_one(&pool).await?;
    ensure!(u64::try_from(stored)? == events, "{stored} events stored, not {events}");
    if args.with_read_model {
        let (counted,): (i64,) =
            sqlx::query_as("SELECT coalesce(sum((payload->>'bets')::bigint), 0)::bigint FROM player_bets")
                .fetch_one(&pool)
                .await?;
        let failed = view_errors.load(Ordering::Relaxed);
        ensure!(
            failed == 0 && u64::try_from(counted)? == events,
            "the view counted {counted} bets, {failed} updates failed"
        );
    }
    let (payload,): (i32,) =
        sqlx::query_as("SELECT length(payload::text) FROM events LIMIT 1").fetch_one(&pool).await?;
    eprintln!("each event's payload: {payload} bytes of JSON");

    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "cqrs-es + postgres-es: {events} events, concurrency {tasks}, read model {}: {:.0} events/s (p50 {:.1} ms, p99 {:.1} ms per command)",
        if args.with_read_model { "yes" } else { "no" },
        events as f64 / elapsed.as_secs_f64(),
        ms(at(0.5)),
        ms(at(0.99)),
    );
    Ok(())
}
