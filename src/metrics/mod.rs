//! Ensemble metrics: distances between ensembles of whole trajectories.

mod wasserstein;

pub use wasserstein::wasserstein1;
