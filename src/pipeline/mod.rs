//! From a scenario and settings to an ensemble: the one path the worker (the app) and the
//! command line share.
//!
//! - [`settings`]: the sampler defaults (their only home) and how a scenario's `sampler` block,
//!   the app's controls and command-line flags resolve into a [`SamplerPlan`] and a [`Guidance`].
//! - [`prior`]: which prior score a run uses ([`PriorSpec`]) and the checkpoints loaded for it
//!   ([`Priors`]).
//! - [`posterior`]: SDA's posterior ensemble of a scenario.
//! - [`classical`]: each classical method on the same scenario.
//!
//! Dependencies point down: `worker → pipeline → {sampler, baselines, score, scenario, ensemble}`.
//!
//! [`SamplerPlan`]: crate::sampler::SamplerPlan
//! [`Guidance`]: crate::sampler::Guidance

mod classical;
mod error;
mod posterior;
mod prior;
mod settings;

pub use classical::{ClassicalRun, FirstGuesses, Progress, run_classical};
pub use error::PipelineError;
pub use posterior::{bytes_per_sampled_state, check_posterior_budget, check_scenario, sda_posterior};
pub use prior::{Prior, PriorSpec, Priors, check_exact_prior_budget};
pub use settings::{Defaults, SamplerSetup, guidance_of};
