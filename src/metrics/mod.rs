//! Ensemble metrics over whole trajectories: distances between ensembles, plausibility under the
//! model, fit to the observations and skill against a truth.

mod ensemble;
mod modes;
mod wasserstein;

pub use ensemble::{EnsembleScores, Skill, mean_log_likelihood, mean_log_prior, skill};
pub use modes::{Mode, find_modes};
pub use wasserstein::wasserstein1;
