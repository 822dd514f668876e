//! Classical data assimilation on the same scenarios as SDA, for comparison and as ground truth:
//! the ensemble Kalman smoother (stochastic, square-root and deterministic analyses, inflation,
//! rotation), the bootstrap particle smoother, weak-constraint 4D-Var, and the cycled filtering
//! twin experiments that check them against DAPPER's published benchmarks.

mod classical_method;
mod ensemble_analysis;
mod ensemble_smoother;
mod four_d_var;
mod particle_smoother;
mod twin_benchmark;

pub use classical_method::ClassicalMethod;
pub use ensemble_analysis::{
    AnalysisError, AnalysisForm, EnsembleTransform, StateObservations, analysis_transform, inflate,
    mean_preserving_rotation,
};
pub use ensemble_smoother::{EnsembleSmoother, EnsembleSmoothing};
pub use four_d_var::{FourDVar, FourDVarError, Minimum, Objective};
pub use particle_smoother::{ParticleSmoother, ParticleSmoothing, Resampling};
pub use twin_benchmark::{PublishedBenchmark, TwinFilter, TwinModel, TwinScore, TwinSetting, published_benchmarks};
