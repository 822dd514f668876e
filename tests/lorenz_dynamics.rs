//! Lorenz-63 and Lorenz-96 against independent facts: the integrator's order, the published
//! climatologies, and transition densities recomputed here from the closed-form definitions.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use rand::Rng;
use sdalab::dynamics::{Lorenz63, Lorenz96, MarkovChain, simulate_trajectory};
use sdalab::rng;

/// States on the Lorenz-63 attractor, one every 40 transitions of a seeded run.
fn attractor_states(count: usize) -> Vec<[f64; 3]> {
    let l63 = Lorenz63::new();
    let traj = simulate_trajectory(&l63, count * 40, 1024, &mut rng::stream(11, 0));
    traj.chunks_exact(3).step_by(40).map(|s| [s[0], s[1], s[2]]).collect()
}

#[test]
fn rk4_is_fourth_order_on_lorenz63() {
    // Over one stored interval Δ: n steps of Δ/n have error ∝ n·(Δ/n)⁵ = Δ⁵/n⁴, so halving the
    // step divides the error by 16.
    let l63 = Lorenz63::new();
    let dt = Lorenz63::DT;
    let mut ratios = Vec::new();
    for x in attractor_states(20) {
        let mut reference = [0.0; 3];
        l63.flow(&x, dt, 2048, &mut reference);
        let error = |n: usize| {
            let mut out = [0.0; 3];
            l63.flow(&x, dt, n, &mut out);
            out.iter().zip(&reference).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()
        };
        ratios.push(error(1) / error(2));
    }
    ratios.sort_by(f64::total_cmp);
    let median = ratios[ratios.len() / 2];
    eprintln!(
        "RK4 error ratio n=1 → n=2 over Δ: median {median:.2}, range {:.2}..{:.2}",
        ratios[0],
        ratios[ratios.len() - 1]
    );
    assert!((12.0..=20.0).contains(&median), "median error ratio {median}, all {ratios:?}");
}

#[test]
fn lorenz63_climate_matches_the_literature() {
    let l63 = Lorenz63::new();
    let n = 200_000;
    let traj = simulate_trajectory(&l63, n, 1024, &mut rng::stream(5, 0));
    let (xs, zs): (Vec<f64>, Vec<f64>) = traj.chunks_exact(3).map(|s| (s[0], s[2])).unzip();
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    let std = |v: &[f64]| {
        let m = mean(v);
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt()
    };
    let (mz, sx) = (mean(&zs), std(&xs));
    eprintln!("Lorenz-63 climate over {n} states: mean z {mz:.3}, std x {sx:.3}");
    assert!((mz - 23.5).abs() <= 1.0, "mean z = {mz}");
    assert!((sx - 7.9).abs() <= 0.8, "std x = {sx}");
}

#[test]
fn lorenz96_climate_matches_the_literature_and_its_normalisation() {
    let l96 = Lorenz96::new();
    let n = 100_000;
    let traj = simulate_trajectory(&l96, n, 1024, &mut rng::stream(6, 0));
    let mean = traj.iter().sum::<f64>() / traj.len() as f64;
    let std = (traj.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / traj.len() as f64).sqrt();
    eprintln!("Lorenz-96 climate over {n} states × 40: mean {mean:.3}, std {std:.3}");
    assert!((mean - 2.35).abs() <= 0.2, "mean {mean}");
    assert!((std - 3.6).abs() <= 0.3, "std {std}");
    // The normalisation constants are this climatology: network space is ≈ standardised.
    let mut z = traj.clone();
    l96.normalisation().to_network(&mut z);
    let zm = z.iter().sum::<f64>() / z.len() as f64;
    let zs = (z.iter().map(|x| (x - zm).powi(2)).sum::<f64>() / z.len() as f64).sqrt();
    assert!(zm.abs() < 0.05 && (zs - 1.0).abs() < 0.05, "normalised mean {zm}, std {zs}");
}

/// One classical RK4 step of the Lorenz-63 field, written out independently of the library.
fn l63_rk4(x: [f64; 3], h: f64) -> [f64; 3] {
    let f = |v: [f64; 3]| [10.0 * (v[1] - v[0]), v[0] * (28.0 - v[2]) - v[1], v[0] * v[1] - 8.0 / 3.0 * v[2]];
    let add = |a: [f64; 3], b: [f64; 3], s: f64| [a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2]];
    let k1 = f(x);
    let k2 = f(add(x, k1, h / 2.0));
    let k3 = f(add(x, k2, h / 2.0));
    let k4 = f(add(x, k3, h));
    std::array::from_fn(|i| x[i] + h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]))
}

#[test]
fn lorenz63_transition_density_is_gaussian_around_rk4() {
    let l63 = Lorenz63::new();
    let mut r = rng::stream(21, 0);
    let dt: f64 = 0.025;
    for _ in 0..200 {
        let x: [f64; 3] = std::array::from_fn(|i| r.random_range(-20.0..20.0) + if i == 2 { 25.0 } else { 0.0 });
        let next: [f64; 3] = std::array::from_fn(|_| r.random_range(-30.0..30.0));
        let mean = l63_rk4(x, dt);
        let sq: f64 = (0..3).map(|i| (next[i] - mean[i]).powi(2)).sum();
        let expected = -0.5 * sq / dt - 1.5 * (2.0 * std::f64::consts::PI * dt).ln();
        let got = l63.transition_log_density(&x, &next);
        assert!((got - expected).abs() <= 1e-9 * expected.abs().max(1.0), "{got} vs {expected}");
    }
}

#[test]
fn lorenz96_transition_density_is_gaussian_around_five_rk4_substeps() {
    let l96 = Lorenz96::new();
    let mut r = rng::stream(22, 0);
    let f = |x: &[f64]| -> Vec<f64> {
        let n = x.len();
        (0..n).map(|i| (x[(i + 1) % n] - x[(i + n - 2) % n]) * x[(i + n - 1) % n] - x[i] + 8.0).collect()
    };
    for _ in 0..20 {
        let x: Vec<f64> = (0..40).map(|_| r.random_range(-5.0..10.0)).collect();
        let next: Vec<f64> = (0..40).map(|_| r.random_range(-5.0..10.0)).collect();
        let mut m = x.clone();
        let h = 0.01;
        for _ in 0..5 {
            let k1 = f(&m);
            let k2 = f(&m.iter().zip(&k1).map(|(a, k)| a + h / 2.0 * k).collect::<Vec<_>>());
            let k3 = f(&m.iter().zip(&k2).map(|(a, k)| a + h / 2.0 * k).collect::<Vec<_>>());
            let k4 = f(&m.iter().zip(&k3).map(|(a, k)| a + h * k).collect::<Vec<_>>());
            for i in 0..40 {
                m[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
            }
        }
        let var = 0.01;
        let sq: f64 = next.iter().zip(&m).map(|(a, b)| (a - b).powi(2)).sum();
        let expected = -0.5 * sq / var - 20.0 * (2.0 * std::f64::consts::PI * var).ln();
        let got = l96.transition_log_density(&x, &next);
        assert!((got - expected).abs() <= 1e-9 * expected.abs(), "{got} vs {expected}");
    }
}

#[test]
fn sampled_transitions_have_the_stated_noise() {
    // Residuals of sampled transitions against the drift: mean 0, variance Δ per component.
    let l63 = Lorenz63::new();
    let x = [1.0, 2.0, 20.0];
    let mut drift = [0.0; 3];
    l63.drift(&x, &mut drift);
    let mut r = rng::stream(23, 0);
    let n = 40_000;
    let mut sum = [0.0; 3];
    let mut sq = [0.0; 3];
    let mut next = [0.0; 3];
    for _ in 0..n {
        l63.transition(&x, &mut r, &mut next);
        for i in 0..3 {
            let e = next[i] - drift[i];
            sum[i] += e;
            sq[i] += e * e;
        }
    }
    let var = Lorenz63::DT;
    for i in 0..3 {
        let mean = sum[i] / n as f64;
        let v = sq[i] / n as f64;
        assert!(mean.abs() < 4.0 * (var / n as f64).sqrt(), "component {i}: mean {mean}");
        assert!((v / var - 1.0).abs() < 0.03, "component {i}: variance {v} vs {var}");
    }
}

#[test]
fn lorenz63_initial_prior_has_the_stated_moments() {
    let l63 = Lorenz63::new();
    let mut r = rng::stream(24, 0);
    let n = 100_000;
    let mut x = [0.0; 3];
    let (mut m, mut c) = ([0.0; 3], [[0.0; 3]; 3]);
    let samples: Vec<[f64; 3]> = (0..n)
        .map(|_| {
            l63.sample_initial(&mut r, &mut x);
            x
        })
        .collect();
    for s in &samples {
        for i in 0..3 {
            m[i] += s[i] / n as f64;
        }
    }
    for s in &samples {
        for i in 0..3 {
            for j in 0..3 {
                c[i][j] += (s[i] - m[i]) * (s[j] - m[j]) / n as f64;
            }
        }
    }
    let expected = [[64.0, 50.0, 0.0], [50.0, 81.0, 0.0], [0.0, 0.0, 75.0]];
    assert!((m[0]).abs() < 0.15 && m[1].abs() < 0.15 && (m[2] - 25.0).abs() < 0.15, "{m:?}");
    for i in 0..3 {
        for j in 0..3 {
            assert!((c[i][j] - expected[i][j]).abs() < 2.0, "cov[{i}][{j}] = {}", c[i][j]);
        }
    }
}
