//! Sampler settings: the defaults, and how the layers that set them resolve.
//!
//! A run's settings come, in order of precedence, from what the user set for this run (command-line
//! flags, the app's controls), the scenario's `sampler` block, and the [`Defaults`] here.

use crate::sampler::{DEFAULT_MMPS_ITERATIONS, Guidance, SamplerPlan};
use crate::scenario::{GuidanceRule, SamplerSettings};

use super::PipelineError;

/// Values for every sampler setting nothing else sets. This is their only home.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Defaults {
    pub samples: usize,
    pub steps: usize,
    pub corrections: usize,
    pub tau: f64,
    pub guidance: GuidanceRule,
    pub gamma: f64,
    pub zeta: f64,
    pub mmps_iterations: usize,
    pub seed: u64,
}

impl Defaults {
    /// The command line's: the paper's 256 predictor steps with one correction.
    pub const BATCH: Self = Self {
        samples: 64,
        steps: 256,
        corrections: 1,
        tau: 0.25,
        guidance: GuidanceRule::Sda,
        gamma: 1e-2,
        zeta: 1.0,
        mmps_iterations: DEFAULT_MMPS_ITERATIONS,
        seed: 0,
    };

    /// The app's: 64 steps, so that a lesson's posterior arrives in seconds and an edit's first
    /// frame at once; a lesson or the controls ask for more.
    pub const INTERACTIVE: Self = Self { steps: 64, ..Self::BATCH };
}

/// What a run samples with.
#[derive(Debug, Clone, PartialEq)]
pub struct SamplerSetup {
    pub plan: SamplerPlan,
    pub guidance: Guidance,
}

impl SamplerSetup {
    /// The settings of `layers` (earlier ones take precedence) over `defaults`, checked.
    pub fn resolve(defaults: &Defaults, layers: &[&SamplerSettings]) -> Result<Self, PipelineError> {
        for layer in layers {
            layer.validate()?;
        }
        let first = |f: &dyn Fn(&SamplerSettings) -> Option<u64>| layers.iter().find_map(|l| f(l));
        let first_f64 = |f: &dyn Fn(&SamplerSettings) -> Option<f64>| layers.iter().find_map(|l| f(l));
        let size = |v: Option<u64>, name: &str, default: usize| -> Result<usize, PipelineError> {
            v.map_or(Ok(default), |v| {
                usize::try_from(v).map_err(|_| PipelineError::Setting {
                    setting: name.into(),
                    message: format!("{v} is too large for this machine"),
                })
            })
        };
        let plan = SamplerPlan {
            samples: size(first(&|l| l.samples), "samples", defaults.samples)?,
            steps: size(first(&|l| l.steps), "steps", defaults.steps)?,
            corrections: size(first(&|l| l.corrections), "corrections", defaults.corrections)?,
            tau: first_f64(&|l| l.tau).unwrap_or(defaults.tau),
            seed: first(&|l| l.seed).unwrap_or(defaults.seed),
        };
        let rule = layers.iter().find_map(|l| l.guidance).unwrap_or(defaults.guidance);
        let guidance = guidance_of(
            rule,
            first_f64(&|l| l.gamma).unwrap_or(defaults.gamma),
            first_f64(&|l| l.zeta).unwrap_or(defaults.zeta),
            size(first(&|l| l.mmps_iterations), "mmps_iterations", defaults.mmps_iterations)?,
        );
        Ok(Self { plan, guidance })
    }
}

/// The guidance a rule names, with its parameters (each rule reads its own).
pub fn guidance_of(rule: GuidanceRule, gamma: f64, zeta: f64, mmps_iterations: usize) -> Guidance {
    match rule {
        GuidanceRule::Sda => Guidance::Sda { gamma },
        GuidanceRule::Dps => Guidance::Dps { zeta },
        GuidanceRule::Mmps => Guidance::Mmps { iterations: mmps_iterations },
        GuidanceRule::None => Guidance::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn earlier_layers_take_precedence_over_later_ones_and_the_defaults() {
        let flags = SamplerSettings { steps: Some(32), guidance: Some(GuidanceRule::Mmps), ..Default::default() };
        let file =
            SamplerSettings { steps: Some(128), samples: Some(8), mmps_iterations: Some(2), ..Default::default() };
        let setup = SamplerSetup::resolve(&Defaults::BATCH, &[&flags, &file]).unwrap();
        assert_eq!((setup.plan.steps, setup.plan.samples, setup.plan.corrections), (32, 8, 1));
        assert_eq!(setup.guidance, Guidance::Mmps { iterations: 2 });
        let none = SamplerSetup::resolve(&Defaults::INTERACTIVE, &[]).unwrap();
        assert_eq!((none.plan.steps, none.guidance), (64, Guidance::Sda { gamma: 1e-2 }));
        let bad = SamplerSettings { tau: Some(-1.0), ..Default::default() };
        assert!(SamplerSetup::resolve(&Defaults::BATCH, &[&bad]).unwrap_err().to_string().contains("tau"));
    }
}
