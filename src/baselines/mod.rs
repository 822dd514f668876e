//! Classical data assimilation on the same scenarios as SDA, for comparison and as ground truth.

mod particle_smoother;

pub use particle_smoother::{ParticleSmoother, ParticleSmoothing, Resampling};
