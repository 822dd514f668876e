//! The sampler's contract with its caller: one snapshot per step down to t = 0, cancellation
//! between network calls, and seeded reproducibility.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::sync::atomic::{AtomicBool, Ordering};

use candle_core::{DType, Device};
use nalgebra::{DMatrix, DVector};
use sdalab::dynamics::{LinearGaussian, MarkovChain};
use sdalab::sampler::{SamplerError, SamplerPlan, sample};
use sdalab::score::ExactGaussianScore;

fn score() -> ExactGaussianScore {
    let model = LinearGaussian::new(
        DMatrix::from_row_slice(1, 1, &[0.9]),
        DVector::from_vec(vec![0.0]),
        DMatrix::from_row_slice(1, 1, &[0.1]),
        DVector::from_vec(vec![0.0]),
        DMatrix::from_row_slice(1, 1, &[1.0]),
    )
    .unwrap();
    ExactGaussianScore::whole(&model.trajectory_prior(6), model.normalisation(), DType::F32, &Device::Cpu).unwrap()
}

#[test]
fn each_step_is_previewed_then_reported_corrected_down_to_zero() {
    let plan = SamplerPlan { samples: 4, steps: 10, corrections: 2, tau: 0.25, seed: 0 };
    let mut seen = Vec::new();
    sample(&score(), &[6, 1], &plan, DType::F32, &Device::Cpu, &AtomicBool::new(false), &mut |s| {
        assert_eq!(s.x.dims(), &[4, 6, 1]);
        assert_eq!(s.tweedie.dims(), &[4, 6, 1]);
        seen.push((s.step, s.t, s.corrected));
    })
    .unwrap();
    assert_eq!(seen.len(), 20);
    for (i, (step, t, corrected)) in seen.iter().enumerate() {
        assert_eq!(*step, i / 2 + 1);
        assert_eq!(*corrected, i % 2 == 1, "preview first, then the corrected step");
        assert!((t - (1.0 - (i / 2 + 1) as f64 / 10.0)).abs() < 1e-12);
    }
    // Without corrections there is nothing to preview: one report per step.
    let plan = SamplerPlan { corrections: 0, ..plan };
    let mut reports = 0;
    sample(&score(), &[6, 1], &plan, DType::F32, &Device::Cpu, &AtomicBool::new(false), &mut |s| {
        assert!(s.corrected);
        reports += 1;
    })
    .unwrap();
    assert_eq!(reports, 10);
}

#[test]
fn raising_the_flag_cancels_before_the_next_network_call() {
    let plan = SamplerPlan { samples: 4, steps: 50, corrections: 1, tau: 0.25, seed: 0 };
    let cancel = AtomicBool::new(false);
    let mut steps = 0;
    let result = sample(&score(), &[6, 1], &plan, DType::F32, &Device::Cpu, &cancel, &mut |s| {
        steps = s.step;
        if s.step == 3 {
            cancel.store(true, Ordering::Relaxed);
        }
    });
    assert!(matches!(result, Err(SamplerError::Cancelled)));
    assert_eq!(steps, 3);
}

#[test]
fn the_seed_fixes_the_ensemble() {
    let run = |seed| {
        let plan = SamplerPlan { samples: 8, steps: 8, corrections: 1, tau: 0.25, seed };
        let x = sample(&score(), &[6, 1], &plan, DType::F32, &Device::Cpu, &AtomicBool::new(false), &mut |_| {});
        x.unwrap().flatten_all().unwrap().to_vec1::<f32>().unwrap()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}
