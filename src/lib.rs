//! SDA Lab: score-based data assimilation over whole trajectories of simulated systems.
//!
//! The library is layered so that dependencies point one way:
//! `gui → worker → sampler → {score, observe, dynamics}`, `scenario → observe → dynamics`, with
//! `export` (file formats), `render` (GPU drawing of plain grids, no domain types) and `rng`
//! (seeded streams) usable by all. The `sdalab` binary is a thin shell over these modules.

pub mod baselines;
pub mod budget;
pub mod cancel;
pub mod device;
pub mod dynamics;
pub mod ensemble;
pub mod evaluation;
pub mod export;
pub mod gui;
pub mod metrics;
pub mod observe;
pub mod pipeline;
pub mod render;
pub mod rng;
pub mod sampler;
pub mod scenario;
pub mod score;
pub mod worker;
