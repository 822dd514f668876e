//! Drafts: the small real posteriors that follow the pen while the input changes.
//!
//! A draft samples the same scenario with the same prior, guidance, τ and seed as the full job,
//! with fewer members, fewer steps and no corrections, so it is done in a fraction of a second
//! and the posterior moves with a dragged point or a slider; the full job replaces it once the
//! input settles. The sizes are per system, from `sdalab bench` and `--bench-gui` on a 2-core CPU:
//!
//! - Lorenz-63: 16 members × 24 steps. One guided evaluation of 16 members × 57 windows of the
//!   k = 4 MLP takes ~20 ms, so the whole draft is done in ~0.5 s and its first frame after one
//!   evaluation. Fewer steps are not stable everywhere: with z observed every 4th state at
//!   σ = 0.4 (the z-only lesson) 8, 16 and 20 steps diverge for most seeds, 24 and 32 for none of
//!   nine; corrections mainly sharpen the spread, which a draft need not.
//! - Linear toy: 32 members × 16 steps; its exact score costs almost nothing.
//! - Lorenz-96: 8 members × 8 steps: the 1-D U-Net's direct kernels take ~30 ms for a guided
//!   evaluation of 16 members × 28 windows, so a draft of 8 members × 21 windows is ~0.1 s.
//! - Kolmogorov: 4 members × 8 steps: one guided evaluation of the 2-D U-Net's direct kernels on
//!   8 members × 12 windows takes ~50 ms, so a draft shows four plausible flows in ~0.2 s.

use crate::dynamics::System;
use crate::sampler::SamplerPlan;

/// The draft of `full` for `system`: never larger than the full plan.
pub fn draft_plan(system: &System, full: &SamplerPlan) -> SamplerPlan {
    let (samples, steps) = match system {
        System::Lorenz63(_) => (16, 24),
        System::Linear(_) => (32, 16),
        System::Lorenz96(_) => (8, 8),
        System::Kolmogorov(_) => (4, 8),
    };
    SamplerPlan {
        samples: samples.min(full.samples),
        steps: steps.min(full.steps),
        corrections: 0,
        tau: full.tau,
        seed: full.seed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::Lorenz63;

    #[test]
    fn a_draft_is_smaller_than_its_full_plan_and_keeps_its_settings() {
        let full = SamplerPlan { samples: 64, steps: 64, corrections: 2, tau: 0.3, seed: 7 };
        let draft = draft_plan(&System::Lorenz63(Lorenz63::default()), &full);
        assert_eq!(draft, SamplerPlan { samples: 16, steps: 24, corrections: 0, tau: 0.3, seed: 7 });
        assert!(draft.samples * draft.evaluations() * 16 <= full.samples * full.evaluations());
        let tiny = SamplerPlan { samples: 4, steps: 3, ..full };
        let draft = draft_plan(&System::Lorenz63(Lorenz63::default()), &tiny);
        assert_eq!((draft.samples, draft.steps), (4, 3));
    }
}
