//! SDA Lab: score-based data assimilation over whole trajectories of simulated systems.
//!
//! The library is layered so that dependencies point one way:
//! `scenario → observe → dynamics`, with `export` (file formats) and `rng` (seeded streams)
//! usable by all. The `sdalab` binary is a thin command-line shell over these modules.

pub mod baselines;
pub mod device;
pub mod dynamics;
pub mod evaluation;
pub mod export;
pub mod metrics;
pub mod observe;
pub mod rng;
pub mod sampler;
pub mod scenario;
pub mod score;
