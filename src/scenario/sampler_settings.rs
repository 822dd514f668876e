//! The optional `sampler` block of a scenario: settings that reproduce a posterior run.

use serde::{Deserialize, Serialize};

use super::ScenarioError;

/// Bounds of the sampler settings. The sizes are far beyond any useful run (the memory budget
/// refuses most requests much earlier); the reals are where the sampler stops making sense: a
/// Langevin step τ beyond 10, an inflation γ or a DPS scale ζ beyond 10⁶.
pub const MAX_SAMPLES: u64 = 1_000_000;
pub const MAX_STEPS: u64 = 100_000;
pub const MAX_CORRECTIONS: u64 = 64;
pub const MAX_TAU: f64 = 10.0;
pub const MAX_GAMMA: f64 = 1e6;
pub const MAX_ZETA: f64 = 1e6;

/// Most conjugate-gradient iterations MMPS accepts: each costs a vector–Jacobian product per
/// network evaluation, and on the bundled problems 16 already reach the exact solve's level.
pub const MAX_MMPS_ITERATIONS: u64 = 64;

/// Sampler settings stored with a scenario. Every field is optional; command-line flags override
/// them and defaults fill the rest.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SamplerSettings {
    /// Ensemble size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub samples: Option<u64>,
    /// Predictor steps N.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<u64>,
    /// Langevin corrections C after each predictor step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrections: Option<u64>,
    /// Langevin step size τ.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tau: Option<f64>,
    /// Variance inflation γ of the Gaussian surrogate likelihood.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gamma: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// Guidance rule.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guidance: Option<GuidanceRule>,
    /// Step scale ζ of DPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zeta: Option<f64>,
    /// Conjugate-gradient iterations of MMPS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mmps_iterations: Option<u64>,
    /// The prior's checkpoint: a folder name in the checkpoints folder (e.g. `lorenz63-k4`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
}

/// How observations steer the prior, as a scenario, the command line (`--guidance`) and the app
/// name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GuidanceRule {
    /// SDA's Gaussian surrogate likelihood (with `gamma`).
    Sda,
    /// Moment-matching posterior sampling: the Tweedie covariance, solved by `mmps_iterations`
    /// conjugate-gradient steps (one backward pass each).
    Mmps,
    /// Diffusion posterior sampling (with `zeta`).
    Dps,
    /// No guidance: samples of the prior.
    None,
}

impl SamplerSettings {
    /// Checks every set value; errors name the entry as `sampler.FIELD`.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.check(&|field| format!("sampler.{field}"))
    }

    /// Checks every set value; errors name the entry as `name(FIELD)` (for example a
    /// command-line flag).
    pub fn check(&self, name: &dyn Fn(&str) -> String) -> Result<(), ScenarioError> {
        let invalid = |field: &str, message: &str| ScenarioError::Invalid { at: name(field), message: message.into() };
        let count = |field: &str, value: Option<u64>, range: std::ops::RangeInclusive<u64>| match value {
            Some(v) if !range.contains(&v) => {
                Err(invalid(field, &format!("must be between {} and {}, got {v}", range.start(), range.end())))
            }
            _ => Ok(()),
        };
        count("samples", self.samples, 1..=MAX_SAMPLES)?;
        count("steps", self.steps, 1..=MAX_STEPS)?;
        count("corrections", self.corrections, 0..=MAX_CORRECTIONS)?;
        let real = |field: &str, value: Option<f64>, low: f64, high: f64, low_open: bool| match value {
            Some(v) if !(v.is_finite() && (if low_open { v > low } else { v >= low }) && v <= high) => {
                let from = if low_open { "above" } else { "at least" };
                Err(invalid(field, &format!("must be {from} {low} and at most {high}, got {}", compact(v))))
            }
            _ => Ok(()),
        };
        real("tau", self.tau, 0.0, MAX_TAU, true)?;
        real("gamma", self.gamma, 0.0, MAX_GAMMA, false)?;
        real("zeta", self.zeta, 0.0, MAX_ZETA, true)?;
        if self.mmps_iterations.is_some_and(|n| n == 0 || n > MAX_MMPS_ITERATIONS) {
            return Err(invalid("mmps_iterations", &format!("must be between 1 and {MAX_MMPS_ITERATIONS}")));
        }
        if let Some(model) = &self.model {
            let plain = std::path::Path::new(model).components().count() == 1
                && !model.is_empty()
                && !model.starts_with('.')
                && !model.contains(['/', '\\']);
            if !plain || model.len() > 255 {
                return Err(invalid("model", &format!("must be a checkpoint folder's name, got `{model}`")));
            }
        }
        Ok(())
    }
}

/// `v` in a short form: scientific notation outside [10⁻⁴, 10⁶].
fn compact(v: f64) -> String {
    if v != 0.0 && v.is_finite() && !(1e-4..1e6).contains(&v.abs()) { format!("{v:e}") } else { v.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_is_a_plain_folder_name() {
        let with = |name: &str| SamplerSettings { model: Some(name.into()), ..Default::default() }.validate();
        assert!(with("lorenz63-k4").is_ok());
        for bad in ["", "../secrets", "/etc", "a/b", ".hidden", "a\\b"] {
            let err = with(bad).expect_err(bad).to_string();
            assert!(err.contains("sampler.model"), "{bad}: {err}");
        }
    }
}
