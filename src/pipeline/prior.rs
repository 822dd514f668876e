//! Which prior score a run uses, and the checkpoints loaded for it.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{DType, Device};

use super::PipelineError;
use crate::budget::MemoryBudget;
use crate::device::select_device;
use crate::dynamics::System;
use crate::scenario::Scenario;
use crate::score::{
    Checkpoint, ComposedNetworkScore, ExactGaussianScore, TrajectoryScore, default_checkpoint_name, load_checkpoint,
};

/// Where the prior score comes from.
#[derive(Clone)]
pub enum PriorSpec {
    /// A checkpoint folder (`config.json` + `model.safetensors`); loaded once, then cached.
    Checkpoint(PathBuf),
    /// The exact Gaussian prior of the linear system: over the whole trajectory, or composed
    /// from windows of `window` states like a learned local score.
    ExactLinear { window: Option<usize> },
    /// A score built by the caller (benchmarks, tests, experiments).
    Custom { name: String, score: Arc<dyn TrajectoryScore> },
}

impl PriorSpec {
    /// The prior of `system` when none is named: the exact one for the linear system, the
    /// bundled checkpoint under `checkpoints` otherwise.
    pub fn default_for(system: &System, checkpoints: &Path) -> Result<Self, PipelineError> {
        match system {
            System::Linear(_) => Ok(Self::ExactLinear { window: None }),
            System::Lorenz63(_) | System::Lorenz96(_) | System::Kolmogorov(_) => default_checkpoint_name(system.name())
                .map(|name| Self::Checkpoint(checkpoints.join(name)))
                .ok_or_else(|| PipelineError::NoDefaultCheckpoint { system: system.name().into() }),
        }
    }
}

impl fmt::Debug for PriorSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Checkpoint(dir) => f.debug_tuple("Checkpoint").field(dir).finish(),
            Self::ExactLinear { window } => f.debug_struct("ExactLinear").field("window", window).finish(),
            Self::Custom { name, .. } => f.debug_struct("Custom").field("name", name).finish_non_exhaustive(),
        }
    }
}

/// Refuses the exact prior of a linear scenario too long for memory: the stacked prior and its
/// factorisations are dense (L·d)² matrices.
pub fn check_exact_prior_budget(scenario: &Scenario) -> Result<(), PipelineError> {
    let n = scenario.length.saturating_mul(scenario.state_dim());
    MemoryBudget::of_machine().check("the linear system's length × state size", &[n, n, 6], 8)?;
    Ok(())
}

/// A prior score ready to sample with, and what it is in words.
#[derive(Clone)]
pub struct Prior {
    pub score: Arc<dyn TrajectoryScore>,
    pub description: String,
}

/// The device scores run on, and the checkpoints loaded onto it so far.
pub struct Priors {
    device: Device,
    device_name: String,
    loaded: HashMap<PathBuf, Checkpoint>,
}

impl Default for Priors {
    fn default() -> Self {
        Self::new()
    }
}

impl Priors {
    /// On the best device available ([`select_device`]).
    pub fn new() -> Self {
        let (device, device_name) = select_device();
        Self { device, device_name, loaded: HashMap::new() }
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The device in words.
    pub fn device_name(&self) -> &str {
        &self.device_name
    }

    /// The prior score `spec` names, checked against `scenario`'s system and length.
    pub fn score(&mut self, spec: &PriorSpec, scenario: &Scenario) -> Result<Prior, PipelineError> {
        let chain = scenario.system.chain();
        match (spec, &scenario.system) {
            (PriorSpec::Custom { name, score }, _) => Ok(Prior { score: score.clone(), description: name.clone() }),
            (PriorSpec::ExactLinear { window }, System::Linear(model)) => {
                check_exact_prior_budget(scenario)?;
                let prior = model.trajectory_prior(scenario.length);
                let normalisation = chain.normalisation();
                Ok(match window {
                    None => Prior {
                        score: Arc::new(ExactGaussianScore::whole(&prior, normalisation, DType::F32, &self.device)?),
                        description: "exact whole-trajectory score".into(),
                    },
                    Some(w) => Prior {
                        score: Arc::new(ExactGaussianScore::composed(
                            &prior,
                            normalisation,
                            *w,
                            DType::F32,
                            &self.device,
                        )?),
                        description: format!("exact window scores composed, window {w}"),
                    },
                })
            }
            (PriorSpec::ExactLinear { .. }, other) => {
                Err(PipelineError::ExactPriorNeedsLinear { system: other.name().into() })
            }
            (PriorSpec::Checkpoint(dir), _) => {
                let checkpoint = match self.loaded.get(dir) {
                    Some(c) => c,
                    None => {
                        let loaded = load_checkpoint(dir, &self.device)?;
                        self.loaded.entry(dir.clone()).or_insert(loaded)
                    }
                };
                checkpoint.check_for(chain, scenario.length)?;
                let window = checkpoint.config.window;
                Ok(Prior {
                    score: Arc::new(ComposedNetworkScore::new(checkpoint.network.clone(), window)?),
                    description: format!("{} (window {window})", dir.display()),
                })
            }
        }
    }
}
