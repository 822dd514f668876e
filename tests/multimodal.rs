//! SDA on Lorenz-63 scenarios whose posterior is symmetric under (x, y, z) → (−x, −y, z):
//! observing only z, or only |x|. The learned posterior must put half of its members on each
//! lobe and show a mirrored pair of modes, as the particle smoother does (tests/particle_smoother.rs).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::sync::atomic::AtomicBool;

use sdalab::device::select_device;
use sdalab::dynamics::System;
use sdalab::metrics::find_modes;
use sdalab::observe::OperatorKind;
use sdalab::sampler::{Guidance, SamplerPlan, posterior_ensemble};
use sdalab::scenario::{TwinSpec, twin_experiment};
use sdalab::score::{ComposedNetworkScore, load_checkpoint_for};

const LENGTH: usize = 49;
const SAMPLES: usize = 512;

fn check_mirrored_modes(kind: OperatorKind, index: usize, std: f64) {
    let spec =
        TwinSpec { length: LENGTH, every: 4, offset: 0, kind, indices: vec![index], std, seed: 5, burn_in: None };
    let scenario = twin_experiment(System::named("lorenz63").unwrap(), &spec).unwrap();
    let chain = scenario.system.chain();
    let (device, _) = select_device();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/lorenz63-k4");
    let checkpoint = load_checkpoint_for(&dir, chain, LENGTH, &device).unwrap();
    let score = ComposedNetworkScore::new(checkpoint.network, checkpoint.config.window).unwrap();
    let plan = SamplerPlan { samples: SAMPLES, steps: 32, corrections: 1, tau: 0.25, seed: 0 };
    let ensemble = posterior_ensemble(
        chain,
        LENGTH,
        &scenario.observations,
        &score,
        Guidance::Sda { gamma: 1e-2 },
        &plan,
        &device,
        &AtomicBool::new(false),
        &mut |_| {},
    )
    .unwrap();
    let dim = LENGTH * 3;
    let share = ensemble.chunks(dim).filter(|p| p[0] > 0.0).count() as f64 / SAMPLES as f64;
    let modes = find_modes(&ensemble, dim, 8, 0);
    let distance = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    let mirror = |m: &[f64]| -> Vec<f64> { m.chunks(3).flat_map(|s| [-s[0], -s[1], s[2]]).collect() };
    // The best-mirrored pair of distinct modes: mismatch relative to how far apart they are.
    let best = (0..modes.len())
        .flat_map(|i| (i + 1..modes.len()).map(move |j| (i, j)))
        .map(|(i, j)| {
            let (a, b) = (&modes[i].mean, &modes[j].mean);
            (i, j, distance(a, &mirror(b)) / distance(a, b))
        })
        .min_by(|p, q| p.2.total_cmp(&q.2));
    eprintln!(
        "{kind:?}: share x > 0 at t = 0: {share:.3}; mode weights {:?}; best mirrored pair {best:?}",
        modes.iter().map(|m| (m.weight * 1000.0).round() / 1000.0).collect::<Vec<_>>()
    );
    assert!((share - 0.5).abs() <= 0.1, "share {share}");
    let (i, j, relative) = best.expect("at least two modes");
    assert!(relative < 0.2, "modes {i} and {j}: mirror mismatch {relative:.2} of their distance");
}

#[test]
fn sda_observing_only_z_gives_a_mirrored_pair_of_modes() {
    check_mirrored_modes(OperatorKind::Identity, 2, 0.86);
}

#[test]
fn sda_observing_abs_x_gives_a_mirrored_pair_of_modes() {
    check_mirrored_modes(OperatorKind::Abs, 0, 0.4);
}
