//! The bootstrap particle smoother against the exact Kalman/RTS posterior of a linear chain.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use nalgebra::{DMatrix, DVector};
use sdalab::baselines::{ParticleSmoother, Resampling};
use sdalab::dynamics::LinearGaussian;
use sdalab::observe::{Observation, ObservationOp};

#[test]
fn particle_smoother_matches_the_kalman_posterior() {
    let m = DMatrix::from_row_slice(2, 2, &[0.8, 0.3, -0.3, 0.8]);
    let q = DMatrix::from_diagonal(&DVector::from_vec(vec![0.2, 0.2]));
    let p0 = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 1.0]));
    let model = LinearGaussian::new(m, DVector::zeros(2), q, DVector::from_vec(vec![1.0, 0.0]), p0).unwrap();
    let length = 13;
    let obs: Vec<Observation> = (0..length)
        .step_by(4)
        .map(|t| Observation { t, op: ObservationOp::Identity { index: 0 }, value: (t as f64 * 0.4).cos(), std: 0.5 })
        .collect();
    let rows: Vec<_> = obs.iter().map(|o| o.as_linear(2).unwrap()).collect();
    let exact = model.smooth(length, &rows).unwrap();
    for resampling in [Resampling::Systematic, Resampling::Multinomial] {
        let smoother = ParticleSmoother { particles: 20_000, keep: 4000, resampling, seed: 3 };
        let out = smoother.run(&model, length, &obs, &|_| {});
        assert_eq!(out.ess.len(), obs.len());
        assert!(out.ess.iter().all(|(_, e)| *e > 1000.0 && *e <= 20_000.0), "{:?}", out.ess);
        let n = 4000.0;
        let (mut worst_mean, mut worst_var): (f64, f64) = (0.0, 0.0);
        for i in 0..length {
            for c in 0..2 {
                let col: Vec<f64> = out.paths.chunks(length * 2).map(|p| p[i * 2 + c]).collect();
                let mean = col.iter().sum::<f64>() / n;
                let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
                let ev = exact.covariances[i][(c, c)];
                worst_mean = worst_mean.max((mean - exact.means[i][c]).abs() / ev.sqrt());
                worst_var = worst_var.max((var / ev - 1.0).abs());
            }
        }
        eprintln!(
            "{resampling:?}: worst |mean error|/std {worst_mean:.3}, worst |variance ratio − 1| {worst_var:.3}, \
             {} distinct roots, log p(y) {:.3} vs exact {:.3}",
            out.distinct_roots, out.log_evidence, exact.log_evidence
        );
        // Genealogy thins the early states: allow for the effective size of ~1000 distinct paths.
        assert!(worst_mean < 0.15 && worst_var < 0.2, "{resampling:?}");
        assert!((out.log_evidence - exact.log_evidence).abs() < 0.1);
    }
}

#[test]
fn assimilate_method_particle_writes_the_kept_paths() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pf.npy");
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/lorenz63-lo.json");
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_sdalab"))
        .args(["assimilate", "--method", "particle", "--particles", "2048", "--samples", "100", "--scenario"])
        .arg(&scenario)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{stderr}");
    assert!(stderr.contains("effective sample size"), "{stderr}");
    let x = sdalab::export::read_npy_f32(&out).unwrap();
    assert_eq!(x.shape, vec![100, 65, 3]);
    // The observed x components stay within a few noise std (0.4) of the observations.
    let s = sdalab::scenario::Scenario::load(&scenario).unwrap();
    for o in &s.observations {
        let mean = x.data.chunks(65 * 3).map(|p| p[o.t * 3] as f64).sum::<f64>() / 100.0;
        assert!((mean - o.value).abs() < 3.0 * o.std, "state {}: {mean} vs {}", o.t, o.value);
    }
}

/// The particle posterior of a mirror-symmetric Lorenz-63 scenario: half of the paths on each
/// lobe, found as two modes whose means mirror each other under (x, y, z) → (−x, −y, z).
fn check_mirrored_modes(op: sdalab::observe::OperatorKind, index: usize, std: f64) {
    use sdalab::dynamics::System;
    use sdalab::metrics::find_modes;
    use sdalab::scenario::{TwinSpec, twin_experiment};
    let spec =
        TwinSpec { length: 49, every: 4, offset: 0, kind: op, indices: vec![index], std, seed: 5, burn_in: None };
    let s = twin_experiment(System::named("lorenz63").unwrap(), &spec).unwrap();
    let smoother = ParticleSmoother { particles: 16384, keep: 512, resampling: Resampling::Systematic, seed: 1 };
    let out = smoother.run(s.system.chain(), 49, &s.observations, &|_| {});
    let share = out.paths.chunks(49 * 3).filter(|p| p[0] > 0.0).count() as f64 / 512.0;
    let modes = find_modes(&out.paths, 49 * 3, 8, 0);
    eprintln!(
        "{op:?}: share x > 0 at t = 0: {share:.3}; mode weights {:?}",
        modes.iter().map(|m| m.weight).collect::<Vec<_>>()
    );
    assert!((share - 0.5).abs() <= 0.1, "share {share}");
    assert!(modes.len() >= 2);
    let (a, b) = (&modes[0].mean, &modes[1].mean);
    let mirrored: Vec<f64> = b.chunks(3).flat_map(|s| [-s[0], -s[1], s[2]]).collect();
    let apart = a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    let mismatch = a.iter().zip(&mirrored).map(|(x, y)| (x - y).powi(2)).sum::<f64>().sqrt();
    assert!(mismatch < 0.2 * apart, "modes {apart:.1} apart, mirror mismatch {mismatch:.1}");
}

#[test]
fn observing_only_z_gives_a_mirrored_pair_of_modes() {
    check_mirrored_modes(sdalab::observe::OperatorKind::Identity, 2, 0.86);
}

#[test]
fn observing_abs_x_gives_a_mirrored_pair_of_modes() {
    check_mirrored_modes(sdalab::observe::OperatorKind::Abs, 0, 0.4);
}

#[test]
fn metrics_scores_an_ensemble_against_its_scenario_and_a_reference() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/lorenz63-lo.json");
    let sdalab = |args: &[&str]| std::process::Command::new(env!("CARGO_BIN_EXE_sdalab")).args(args).output().unwrap();
    let a = dir.path().join("a.npy");
    let b = dir.path().join("b.npy");
    for (out, seed) in [(&a, "1"), (&b, "2")] {
        let o = sdalab(&[
            "assimilate",
            "--method",
            "particle",
            "--particles",
            "2048",
            "--samples",
            "64",
            "--seed",
            seed,
            "--scenario",
            scenario.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success());
    }
    let o = sdalab(&[
        "metrics",
        "--ensemble",
        a.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--reference",
        b.to_str().unwrap(),
    ]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    for needle in ["64 members × 65 states", "transition log-density", "log-likelihood", "RMSE", "W1 to"] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
    // Two particle posteriors of a well-observed scenario track the truth closely.
    let rmse: f64 = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("RMSE of the mean to the truth "))
        .and_then(|r| r.split(',').next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    assert!(rmse < 1.5, "rmse {rmse}");
}
