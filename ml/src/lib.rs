//! nudge's models, and the simulator of player populations that tests and
//! benchmarks feed the service with.

mod population;
mod random;

pub use population::Population;
