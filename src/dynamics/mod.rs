//! Simulated systems: stochastic Markov chains over a state vector.
//!
//! This module owns the simulators (Lorenz-63, Lorenz-96, Kolmogorov flow, the linear-Gaussian toy), their initial
//! priors, transition densities and the affine maps to and from the networks' normalised space,
//! plus the exact Gaussian oracle of the linear system. It knows nothing of networks, observation
//! operators or the GUI: observations reach the oracle already reduced to linear rows.

mod chain;
mod error;
mod gaussian;
mod kolmogorov;
pub mod linear;
mod lorenz63;
mod lorenz96;
mod normalisation;
pub mod rk4;
mod simulate;
pub mod spectral2d;
mod system;

pub use chain::MarkovChain;
pub use error::ModelError;
pub use gaussian::Gaussian;
pub use kolmogorov::{Kolmogorov, KolmogorovSettings};
pub use linear::LinearGaussian;
pub use lorenz63::Lorenz63;
pub use lorenz96::Lorenz96;
pub use normalisation::Normalisation;
pub use simulate::{MAX_BURN_IN, simulate_ensemble, simulate_range, simulate_trajectory};
pub use system::System;
