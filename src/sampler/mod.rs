//! Posterior sampling: the predictor–corrector reverse diffusion and observation guidance.
//!
//! The sampler drives any [`crate::score::TrajectoryScore`] — a learned composed score or the
//! exact Gaussian one — optionally wrapped in a guidance rule ([`GuidedScore`]) that adds the
//! likelihood of the observations. It reports every step through a callback and stops when its
//! cancellation flag is raised; it never touches threads or the GUI.

mod error;
mod guidance;
mod noise;
mod posterior;
mod predictor_corrector;

pub use error::SamplerError;
pub use guidance::{
    DEFAULT_MMPS_ITERATIONS, Dps, Guidance, GuidanceRule, GuidedScore, MMPS_FALLBACK_GAMMA, Mmps, Sda, TWEEDIE_BOUND,
    Unguided,
};
pub use noise::gaussian_tensor;
pub use posterior::{DIVERGENCE_BOUND, posterior_ensemble};
pub use predictor_corrector::{SamplerPlan, StepSnapshot, sample};
