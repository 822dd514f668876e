//! Scenario files: the unit of reproducibility.
//!
//! A [`Scenario`] names a system (or carries a linear-Gaussian model), a trajectory length, the
//! observations in physical units, and optionally the true trajectory and sampler settings. This
//! module parses, validates and writes the JSON form (see [`file`]) and makes twin-experiment
//! scenarios from simulated truths ([`twin`]). Validation happens before anything is sampled or
//! written, and every error names the offending entry.

mod error;
mod file;
mod sampler_settings;
mod twin;

pub use error::{ScenarioError, excerpt, excerpt_long};
pub use file::system_from_json_str;
pub use sampler_settings::{
    GuidanceRule, MAX_CORRECTIONS, MAX_GAMMA, MAX_MMPS_ITERATIONS, MAX_SAMPLES, MAX_STEPS, MAX_TAU, MAX_ZETA,
    SamplerSettings,
};
pub use twin::{TwinSpec, twin_experiment};

use std::path::Path;

use crate::dynamics::System;
use crate::dynamics::linear::LinearObservation;
use crate::export::write_atomically;
use crate::observe::{self, Observation};

/// An observation scenario over one trajectory.
#[derive(Debug, Clone)]
pub struct Scenario {
    pub system: System,
    /// Number of states in the trajectory.
    pub length: usize,
    pub observations: Vec<Observation>,
    /// The true trajectory, flat `length × state_dim`, physical units, if known.
    pub truth: Option<Vec<f64>>,
    pub sampler: Option<SamplerSettings>,
}

impl Scenario {
    /// Components per state.
    pub fn state_dim(&self) -> usize {
        self.system.chain().state_dim()
    }

    /// Checks every entry against the system and length. The first problem found is returned.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        if self.length < 1 {
            return Err(ScenarioError::Length { length: 0 });
        }
        let dim = self.state_dim();
        if self.length.checked_mul(dim).and_then(|n| n.checked_mul(8)).is_none() {
            return Err(ScenarioError::Invalid {
                at: "length".into(),
                message: format!("{} states of {dim} values cannot be addressed", self.length),
            });
        }
        for (k, o) in self.observations.iter().enumerate() {
            let at = format!("observations[{k}]");
            if o.t >= self.length {
                return Err(ScenarioError::TimeOutOfRange { at, t: o.t as i64, length: self.length });
            }
            if o.op.kind().takes_indices() {
                let indices = o.op.indices();
                if indices.is_empty() {
                    return Err(ScenarioError::EmptyIndices { at });
                }
                if let Some((j, &index)) = indices.iter().enumerate().find(|(_, i)| **i >= dim) {
                    let at = format!("{at}.indices[{j}]");
                    return Err(ScenarioError::IndexOutOfRange { at, index: index as i64, dim });
                }
            } else if let Some(&index) = o.op.indices().iter().find(|i| **i >= dim) {
                return Err(ScenarioError::IndexOutOfRange { at: format!("{at}.index"), index: index as i64, dim });
            }
            if !o.value.is_finite() {
                return Err(ScenarioError::NonFinite { at: format!("{at}.value"), value: o.value });
            }
            // The variance must be a normal positive number too: a std whose square underflows
            // would make the likelihood divide by zero.
            if !(o.std.is_finite() && o.std > 0.0 && (o.std * o.std).is_normal()) {
                return Err(ScenarioError::Std { at, std: o.std });
            }
        }
        if let Some(truth) = &self.truth {
            if truth.len() != self.length * dim {
                return Err(ScenarioError::Invalid {
                    at: "truth".into(),
                    message: format!(
                        "expected {} states of {dim} components, found {} values",
                        self.length,
                        truth.len()
                    ),
                });
            }
            if let Some(i) = truth.iter().position(|v| !v.is_finite()) {
                let at = format!("truth[{}][{}]", i / dim, i % dim);
                return Err(ScenarioError::NonFinite { at, value: truth[i] });
            }
        }
        if let Some(sampler) = &self.sampler {
            sampler.validate()?;
        }
        Ok(())
    }

    /// Parses and validates a scenario from its JSON text.
    pub fn from_json_str(text: &str) -> Result<Self, ScenarioError> {
        let scenario = file::parse(text)?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// The scenario as pretty JSON (DESIGN §4 layout).
    pub fn to_json_string(&self) -> String {
        file::write(self)
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Self, ScenarioError> {
        let text = crate::export::read_text(path)
            .map_err(|source| ScenarioError::Read { path: path.display().to_string(), source })?;
        Self::from_json_str(&text)
    }

    /// Validates, then writes the scenario atomically (nothing is written if it is invalid).
    pub fn save(&self, path: &Path) -> Result<(), ScenarioError> {
        self.validate()?;
        let text = self.to_json_string();
        write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))?;
        Ok(())
    }

    /// `log p(y | truth)`, if the truth is known.
    pub fn truth_log_likelihood(&self) -> Option<f64> {
        let truth = self.truth.as_ref()?;
        Some(observe::log_likelihood(&self.observations, truth, self.state_dim()))
    }

    /// The observations as rows for the exact linear oracle; an error names the first nonlinear one.
    pub fn linear_observations(&self) -> Result<Vec<LinearObservation>, ScenarioError> {
        let dim = self.state_dim();
        self.observations
            .iter()
            .enumerate()
            .map(|(k, o)| {
                o.as_linear(dim).ok_or_else(|| ScenarioError::Nonlinear {
                    at: format!("observations[{k}]"),
                    op: o.op.kind().to_string(),
                })
            })
            .collect()
    }
}
