//! The commands other than `serve`: benchmarks, the simulator's front end, the
//! demo, training, backtests and API keys.

pub mod backtest;
pub mod bench;
pub mod demo;
pub mod key_commands;
pub mod simulate;
pub mod stdout;
pub mod train;

/// Refuses an event store that is a SQLite file not made yet: replaying it
/// would make an empty one, and the read models beside it, to find nothing.
fn replayable(store: &str) -> anyhow::Result<()> {
    match crate::app::missing_sqlite_file(store) {
        Some(file) => anyhow::bail!(
            "no event store at {}: nothing to replay (`nudge serve` keeps its events there; --store names another)",
            file.display()
        ),
        None => Ok(()),
    }
}
