//! The exact linear-Gaussian oracle against independent constructions: the stacked prior from
//! `x = (I − B)⁻¹(c + w)`, the posterior by dense conditioning, and moments by simulation.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use sdalab::dynamics::linear::LinearObservation;
use sdalab::dynamics::{LinearGaussian, MarkovChain, simulate_ensemble};
use sdalab::rng;

fn random_spd(r: &mut impl Rng, d: usize, ridge: f64) -> DMatrix<f64> {
    let a = DMatrix::from_fn(d, d, |_, _| r.random_range(-1.0..1.0));
    &a * a.transpose() + DMatrix::identity(d, d) * ridge
}

fn random_model(seed: u64, d: usize) -> LinearGaussian {
    let mut r = rng::stream(seed, 0);
    let m = DMatrix::from_fn(d, d, |_, _| r.random_range(-0.6..0.6));
    let b = DVector::from_fn(d, |_, _| r.random_range(-1.0..1.0));
    let q = random_spd(&mut r, d, 0.2) * 0.3;
    let m0 = DVector::from_fn(d, |_, _| r.random_range(-2.0..2.0));
    let p0 = random_spd(&mut r, d, 0.5);
    LinearGaussian::new(m, b, q, m0, p0).unwrap()
}

/// Observations at some states (several at some, none at others): identity and block means.
fn random_observations(seed: u64, d: usize, length: usize) -> Vec<LinearObservation> {
    let mut r = rng::stream(seed, 1);
    let mut obs = Vec::new();
    for t in 0..length {
        let count = if t % 3 == 1 { 0 } else { 1 + t % 2 };
        for _ in 0..count {
            let mut row = vec![0.0; d];
            if r.random_bool(0.5) {
                row[r.random_range(0..d)] = 1.0;
            } else {
                row.iter_mut().for_each(|v| *v = 1.0 / d as f64);
            }
            obs.push(LinearObservation { t, row, value: r.random_range(-3.0..3.0), std: r.random_range(0.2..1.0) });
        }
    }
    obs
}

#[test]
fn stacked_prior_equals_the_closed_form_of_the_linear_recursion() {
    // x = B x + c + w with B the block sub-diagonal of M, c = (m₀, b, …, b),
    // w ~ N(0, blockdiag(P₀, Q, …, Q)), so x ~ N((I−B)⁻¹c, (I−B)⁻¹ D (I−B)⁻ᵀ).
    let (d, length) = (3, 7);
    let model = random_model(1, d);
    let n = d * length;
    let mut b = DMatrix::zeros(n, n);
    let mut c = DVector::zeros(n);
    let mut dcov = DMatrix::zeros(n, n);
    c.rows_mut(0, d).copy_from(model.initial_prior().mean());
    dcov.view_mut((0, 0), (d, d)).copy_from(&model.initial_prior().covariance());
    for i in 1..length {
        b.view_mut((i * d, (i - 1) * d), (d, d)).copy_from(model.transition_matrix());
        c.rows_mut(i * d, d).copy_from(model.offset());
        dcov.view_mut((i * d, i * d), (d, d)).copy_from(&model.process_cov());
    }
    let inv = (DMatrix::identity(n, n) - b).try_inverse().unwrap();
    let mean = &inv * c;
    let cov = &inv * dcov * inv.transpose();
    let prior = model.trajectory_prior(length);
    assert!((prior.mean() - mean).amax() < 1e-10);
    assert!((prior.covariance() - cov).amax() < 1e-10);
}

#[test]
fn kalman_rts_smoother_equals_dense_conditioning() {
    for seed in 0..5 {
        let (d, length) = (2 + seed as usize % 3, 6 + seed as usize);
        let model = random_model(10 + seed, d);
        let obs = random_observations(10 + seed, d, length);
        let smoothed = model.smooth(length, &obs).unwrap();
        let (dense, dense_evidence) = model.trajectory_prior(length).condition(&obs).unwrap();
        for i in 0..length {
            let dm = (&smoothed.means[i] - dense.state_mean(i)).amax();
            let dc = (&smoothed.covariances[i] - dense.block(i, i)).amax();
            assert!(dm < 1e-8 && dc < 1e-8, "seed {seed} state {i}: mean diff {dm}, cov diff {dc}");
            if i + 1 < length {
                let dl = (&smoothed.lag_one[i] - dense.block(i + 1, i)).amax();
                assert!(dl < 1e-8, "seed {seed} lag-one {i}: diff {dl}");
            }
        }
        assert!((smoothed.log_evidence - dense_evidence).abs() < 1e-8, "seed {seed}: evidence");
    }
}

#[test]
fn smoother_without_observations_is_the_prior() {
    let (d, length) = (3, 5);
    let model = random_model(3, d);
    let smoothed = model.smooth(length, &[]).unwrap();
    let prior = model.trajectory_prior(length);
    for i in 0..length {
        assert!((&smoothed.means[i] - prior.state_mean(i)).amax() < 1e-10);
        assert!((&smoothed.covariances[i] - prior.block(i, i)).amax() < 1e-10);
    }
    assert_eq!(smoothed.log_evidence, 0.0);
}

#[test]
fn simulated_trajectories_have_the_exact_prior_moments() {
    let (d, length, samples) = (2, 4, 40_000);
    let model = random_model(4, d);
    let data = simulate_ensemble(&model, length, samples, 0, 9, &|_| {});
    let prior = model.trajectory_prior(length);
    let n = d * length;
    let mut mean = DVector::zeros(n);
    for s in data.chunks_exact(n) {
        mean += DVector::from_column_slice(s) / samples as f64;
    }
    let mut cov = DMatrix::zeros(n, n);
    for s in data.chunks_exact(n) {
        let e = DVector::from_column_slice(s) - &mean;
        cov += &e * e.transpose() / samples as f64;
    }
    // Standard errors: sd/√N for means, ≈ √2·var/√N for covariances; allow 5 of them.
    let scale = prior.covariance().diagonal().amax();
    assert!((&mean - prior.mean()).amax() < 5.0 * (scale / samples as f64).sqrt());
    assert!((&cov - prior.covariance()).amax() < 5.0 * 2f64.sqrt() * scale / (samples as f64).sqrt());
}

#[test]
fn linear_transition_density_is_the_gaussian_of_the_residual() {
    let d = 3;
    let model = random_model(5, d);
    let q = model.process_cov();
    let q_inv = q.clone().try_inverse().unwrap();
    let mut r = rng::stream(5, 7);
    for _ in 0..50 {
        let x = DVector::from_fn(d, |_, _| r.random_range(-3.0..3.0));
        let next = DVector::from_fn(d, |_, _| r.random_range(-3.0..3.0));
        let res = &next - (model.transition_matrix() * &x + model.offset());
        let expected = -0.5 * (res.transpose() * &q_inv * &res)[0]
            - 0.5 * q.determinant().ln()
            - 1.5 * (2.0 * std::f64::consts::PI).ln();
        let got = model.transition_log_density(x.as_slice(), next.as_slice());
        assert!((got - expected).abs() < 1e-10, "{got} vs {expected}");
    }
}
