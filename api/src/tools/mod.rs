//! The commands other than `serve`: benchmarks, the simulator's front end, the
//! demo, training, backtests and API keys.

pub mod backtest;
pub mod bench;
pub mod demo;
pub mod key_commands;
pub mod simulate;
pub mod stdout;
pub mod train;
