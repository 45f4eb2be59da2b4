//! nudge's models, and the simulator of player populations that tests and
//! benchmarks feed the service with.

mod simulator;
mod random;

pub use simulator::{Archetype, Mix, MixError, Population, Truth};
