//! Ensemble metrics over whole trajectories: distances between ensembles, plausibility under the
//! model, fit to the observations, skill against a truth, and the climate statistics unconditional
//! samples are checked on.

mod climate;
mod ensemble;
mod modes;
mod wasserstein;

pub use climate::{FieldClimate, TrajectoryClimate};
pub use ensemble::{EnsembleScores, mean_log_prior};
pub use modes::{Mode, find_modes};
pub use wasserstein::wasserstein1;
