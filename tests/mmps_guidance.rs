//! MMPS guidance against dense references in f64: with the exact score of a linear-Gaussian
//! chain and linear operators, `2·dim(y)` conjugate-gradient steps equal a direct solve of the
//! Tweedie-covariance likelihood; through a network and nonlinear operators, the guidance
//! gradient equals central finite differences of that likelihood with its covariance held fixed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};
use nalgebra::{DMatrix, DVector};
use sdalab::dynamics::linear::TrajectoryGaussian;
use sdalab::dynamics::{LinearGaussian, MarkovChain, Normalisation, System, simulate_ensemble};
use sdalab::observe::{Observation, ObservationOp, TensorObservations};
use sdalab::sampler::{Guidance, GuidedScore, MMPS_FALLBACK_GAMMA, TWEEDIE_BOUND};
use sdalab::score::{
    Architecture, ComposedNetworkScore, ExactGaussianScore, MlpConfig, ModelConfig, ScoreNetwork, TrajectoryScore,
    VpSchedule, load_checkpoint,
};

fn flat64(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
}

/// `max |a − b| / max |b|`.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale
}

/// `(ε − ε_post)/σ`: the guidance gradient the guided score applied.
fn applied_gradient(prior: &dyn TrajectoryScore, guided: &GuidedScore, x: &Tensor, t: f64) -> Vec<f64> {
    let sigma = VpSchedule::new().sigma(t);
    let eps = flat64(&prior.epsilon(x, t).unwrap());
    let post = flat64(&guided.epsilon(x, t).unwrap());
    eps.iter().zip(&post).map(|(e, p)| (e - p) / sigma).collect()
}

#[test]
fn mmps_with_enough_iterations_equals_a_direct_solve() {
    let m = DMatrix::from_row_slice(2, 2, &[0.8, 0.3, -0.2, 0.7]);
    let q = DMatrix::from_row_slice(2, 2, &[0.2, 0.05, 0.05, 0.1]);
    let p0 = DMatrix::from_row_slice(2, 2, &[1.0, 0.2, 0.2, 0.5]);
    let model =
        LinearGaussian::new(m, DVector::from_vec(vec![0.1, -0.2]), q, DVector::from_vec(vec![1.0, 2.0]), p0).unwrap();
    let (length, d) = (7, 2);
    let n = length * d;
    let prior = model.trajectory_prior(length);
    let score = ExactGaussianScore::whole(&prior, model.normalisation(), DType::F64, &Device::Cpu).unwrap();
    let obs = vec![
        Observation { t: 0, op: ObservationOp::Identity { index: 0 }, value: 0.7, std: 0.3 },
        Observation { t: 3, op: ObservationOp::Identity { index: 1 }, value: -0.4, std: 0.2 },
        Observation { t: 5, op: ObservationOp::Mean { indices: vec![0, 1] }, value: 0.5, std: 0.25 },
    ];
    let tensors = TensorObservations::new(&obs, length, d, model.normalisation(), DType::F64, &Device::Cpu).unwrap();
    // Dense network-space pieces: prior N(m', Σ'), and A(x) = a0 + A·x in physical units.
    let s = |i: usize| model.normalisation().scale()[i % d];
    let c = |i: usize| model.normalisation().center()[i % d];
    let mean = DVector::from_fn(n, |i, _| (prior.mean()[i] - c(i)) / s(i));
    let cov = DMatrix::from_fn(n, n, |i, j| prior.covariance()[(i, j)] / (s(i) * s(j)));
    let mut a = DMatrix::zeros(obs.len(), n);
    let mut a0 = DVector::zeros(obs.len());
    for (k, o) in obs.iter().enumerate() {
        let ix = o.op.indices();
        for &i in ix {
            let flat = o.t * d + i;
            a[(k, flat)] += s(flat) / ix.len() as f64;
            a0[k] += c(flat) / ix.len() as f64;
        }
    }
    let y = DVector::from_iterator(obs.len(), obs.iter().map(|o| o.value));
    let noise = DMatrix::from_diagonal(&DVector::from_iterator(obs.len(), obs.iter().map(|o| o.std * o.std)));
    let x = Tensor::randn(0f64, 1.0, (3, length, d), &Device::Cpu).unwrap();
    let schedule = VpSchedule::new();
    let mut worst: f64 = 0.0;
    for t in [0.1, 0.5, 0.9] {
        let (mu, sigma) = (schedule.mu(t), schedule.sigma(t));
        // x̂ = m' + J·(x − μ·m') with J = μ·Σ'·(μ²Σ' + σ²I)⁻¹ (symmetric), V = (σ²/μ)·J.
        let inner = (&cov * (mu * mu) + DMatrix::identity(n, n) * (sigma * sigma)).try_inverse().unwrap();
        let jacobian = &cov * &inner * mu;
        let covariance = &noise + &a * &jacobian * a.transpose() * (sigma * sigma / mu);
        let guided = GuidedScore::new(&score, Guidance::Mmps { iterations: 2 * obs.len() }, &tensors);
        let got = applied_gradient(&score, &guided, &x, t);
        for (b, chunk) in flat64(&x).chunks(n).enumerate() {
            let xs = DVector::from_column_slice(chunk);
            let x_hat = &mean + &jacobian * (&xs - &mean * mu);
            let u = covariance.clone().lu().solve(&(&y - &a0 - &a * &x_hat)).unwrap();
            let expected = jacobian.transpose() * a.transpose() * u;
            worst = worst.max(relative_error(&got[b * n..(b + 1) * n], expected.as_slice()));
        }
    }
    assert!(worst < 1e-10, "conjugate gradients differ from the direct solve by {worst:e} relative");
}

/// A small f64 MLP on windows of 3 Lorenz-63-sized states.
fn mlp_score() -> ComposedNetworkScore {
    let config = ModelConfig {
        system: "lorenz63".into(),
        state_shape: vec![3],
        window: 3,
        architecture: Architecture::Mlp(MlpConfig { width: 32, depth: 2, embedding: 8, frequencies: 4 }),
        center: vec![0.0; 3],
        scale: vec![1.0; 3],
        training: None,
    };
    let varmap = VarMap::new();
    let net = ScoreNetwork::new(&config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap();
    ComposedNetworkScore::new(net, 3).unwrap()
}

/// Central differences of `f: ℝⁿ → ℝᵐ` at `x`, as an `m × n` matrix.
fn jacobian_by_differences(f: &dyn Fn(&[f64]) -> Vec<f64>, x: &[f64], h: f64) -> DMatrix<f64> {
    let m = f(x).len();
    let mut out = DMatrix::zeros(m, x.len());
    for j in 0..x.len() {
        let (mut plus, mut minus) = (x.to_vec(), x.to_vec());
        plus[j] += h;
        minus[j] -= h;
        let (fp, fm) = (f(&plus), f(&minus));
        for i in 0..m {
            out[(i, j)] = (fp[i] - fm[i]) / (2.0 * h);
        }
    }
    out
}

/// The dense pieces of MMPS at one trajectory `x0` (flat, network space), all by central
/// differences: `J = ∂x̂/∂x`, `A' = ∂A/∂x` at `x̂`, the residual `r = y − A(x̂)` and the covariance
/// `C = Σ_y + (σ²/μ)·A'·Jᵀ·A'ᵀ` (the rule takes `Jᵀ` for `J`), and `log N(y | A(x̂(x)), C)` with `C`
/// held at `x0`, up to a constant.
struct DenseMmps {
    estimate: DVector<f64>,
    jacobian: DMatrix<f64>,
    operator: DMatrix<f64>,
    residual: DVector<f64>,
    covariance: DMatrix<f64>,
    log_likelihood_gradient: DVector<f64>,
}

fn dense_mmps(
    score: &dyn TrajectoryScore,
    tensors: &TensorObservations,
    obs: &[Observation],
    dims: (usize, usize),
    x0: &[f64],
    t: f64,
) -> DenseMmps {
    let (length, d) = dims;
    let schedule = VpSchedule::new();
    let (mu, sigma) = (schedule.mu(t), schedule.sigma(t));
    let one = |v: &[f64]| Tensor::from_vec(v.to_vec(), (1, length, d), &Device::Cpu).unwrap();
    let y = DVector::from_iterator(obs.len(), obs.iter().map(|o| o.value));
    let noise = DMatrix::from_diagonal(&DVector::from_iterator(obs.len(), obs.iter().map(|o| o.std * o.std)));
    let h = 1e-5;
    let x_hat = |x: &[f64]| -> Vec<f64> {
        let eps = flat64(&score.epsilon(&one(x), t).unwrap());
        x.iter().zip(&eps).map(|(x, e)| (x - sigma * e) / mu).collect()
    };
    let predict = |x: &[f64]| flat64(&tensors.predict(&one(x)).unwrap());
    let hat0 = x_hat(x0);
    let jacobian = jacobian_by_differences(&x_hat, x0, h);
    let operator = jacobian_by_differences(&predict, &hat0, h);
    let covariance = &noise + &operator * jacobian.transpose() * operator.transpose() * (sigma * sigma / mu);
    let inverse = covariance.clone().try_inverse().unwrap();
    let log_likelihood = |x: &[f64]| {
        let r = &y - DVector::from_vec(predict(&x_hat(x)));
        vec![-0.5 * (r.transpose() * &inverse * &r)[(0, 0)]]
    };
    let gradient = jacobian_by_differences(&log_likelihood, x0, h);
    DenseMmps {
        residual: &y - DVector::from_vec(predict(&hat0)),
        estimate: DVector::from_vec(hat0.clone()),
        jacobian,
        operator,
        covariance,
        log_likelihood_gradient: DVector::from_column_slice(gradient.as_slice()),
    }
}

/// Point operators of every kind and a `mean`, on trajectories of 6 three-component states.
fn nonlinear_observations() -> Vec<Observation> {
    vec![
        Observation { t: 0, op: ObservationOp::Identity { index: 0 }, value: 1.5, std: 0.5 },
        Observation { t: 2, op: ObservationOp::Abs { index: 1 }, value: 1.0, std: 0.4 },
        Observation { t: 3, op: ObservationOp::Square { index: 2 }, value: 2.0, std: 0.5 },
        Observation { t: 4, op: ObservationOp::Square { index: 0 }, value: 1.5, std: 0.6 },
        Observation { t: 5, op: ObservationOp::Mean { indices: vec![0, 1, 2] }, value: 0.8, std: 0.3 },
    ]
}

/// With the exact score of a linear-Gaussian chain (`J` symmetric, positive) and nonlinear
/// operators, `2·dim(y)` iterations solve the likelihood and the guidance gradient equals central
/// differences of `log N(y | A(x̂(x)), C)` with `C` held fixed.
#[test]
fn mmps_gradient_with_nonlinear_operators_matches_finite_differences() {
    let w = 0.35f64;
    let a = 0.9;
    let m =
        DMatrix::from_row_slice(3, 3, &[a * w.cos(), -a * w.sin(), 0.0, a * w.sin(), a * w.cos(), 0.0, 0.3, 0.0, 0.8]);
    let q = DMatrix::from_diagonal(&DVector::from_vec(vec![0.1, 0.1, 0.05]));
    let p0 = DMatrix::from_diagonal(&DVector::from_vec(vec![1.0, 1.0, 0.5]));
    let model =
        LinearGaussian::new(m, DVector::from_vec(vec![0.0, 0.0, 0.2]), q, DVector::from_vec(vec![1.0, 0.0, 0.0]), p0)
            .unwrap();
    let (length, d) = (6, 3);
    let obs = nonlinear_observations();
    let score =
        ExactGaussianScore::whole(&model.trajectory_prior(length), model.normalisation(), DType::F64, &Device::Cpu)
            .unwrap();
    let tensors = TensorObservations::new(&obs, length, d, model.normalisation(), DType::F64, &Device::Cpu).unwrap();
    let guided = GuidedScore::new(&score, Guidance::Mmps { iterations: 2 * obs.len() }, &tensors);
    let mut worst: f64 = 0.0;
    for (seed, t) in [(0u64, 0.2), (1, 0.6), (2, 0.9)] {
        let x0: Vec<f64> = (0..length * d).map(|i| ((i as f64 + 1.0) * (seed as f64 + 1.3)).sin()).collect();
        let dense = dense_mmps(&score, &tensors, &obs, (length, d), &x0, t);
        let got = applied_gradient(&score, &guided, &Tensor::from_vec(x0, (1, length, d), &Device::Cpu).unwrap(), t);
        worst = worst.max(relative_error(&got, dense.log_likelihood_gradient.as_slice()));
    }
    assert!(worst < 1e-6, "MMPS gradient differs from finite differences by {worst:e} relative");
}

/// Through a network (whose Jacobian is neither symmetric nor positive, so that conjugate
/// gradients only approximate the solve) one iteration has a closed form where the step is
/// trusted: `u = (rᵀr / rᵀCr)·r`, gradient `Jᵀ·A'ᵀ·u`, when `rᵀCr ≥ rᵀΣ_y r` and
/// `x̂ + (σ²/μ)·Jᵀ·A'ᵀ·u` stays within `TWEEDIE_BOUND`; elsewhere the step is SDA's. The network's
/// initial weights are random, so either branch may be the one checked.
#[test]
fn mmps_through_a_network_takes_the_conjugate_gradient_step() {
    let score = mlp_score();
    let (length, d) = (6, 3);
    let obs = nonlinear_observations();
    let normalisation = Normalisation::new(vec![0.0, 0.0, 25.0], vec![8.0, 9.0, 8.6]);
    let tensors = TensorObservations::new(&obs, length, d, &normalisation, DType::F64, &Device::Cpu).unwrap();
    let guided = GuidedScore::new(&score, Guidance::Mmps { iterations: 1 }, &tensors);
    let sda = GuidedScore::new(&score, Guidance::Sda { gamma: MMPS_FALLBACK_GAMMA }, &tensors);
    let noise = DMatrix::from_diagonal(&DVector::from_iterator(obs.len(), obs.iter().map(|o| o.std * o.std)));
    let mut worst: f64 = 0.0;
    for (seed, t) in [(0u64, 0.2), (1, 0.6)] {
        let (mu, sigma) = (VpSchedule::new().mu(t), VpSchedule::new().sigma(t));
        let x0: Vec<f64> = (0..length * d).map(|i| ((i as f64 + 1.0) * (seed as f64 + 1.3)).sin()).collect();
        let dense = dense_mmps(&score, &tensors, &obs, (length, d), &x0, t);
        let r = &dense.residual;
        let (curvature, noise_only) =
            ((r.transpose() * &dense.covariance * r)[(0, 0)], (r.transpose() * &noise * r)[(0, 0)]);
        let u = r * (r.dot(r) / curvature.max(noise_only));
        let step = dense.jacobian.transpose() * dense.operator.transpose() * u;
        let updated = &dense.estimate + &step * (sigma * sigma / mu);
        let trusted = curvature >= noise_only && updated.amax() <= TWEEDIE_BOUND;
        let x = Tensor::from_vec(x0, (1, length, d), &Device::Cpu).unwrap();
        let got = applied_gradient(&score, &guided, &x, t);
        let expected = if trusted { step.as_slice().to_vec() } else { applied_gradient(&score, &sda, &x, t) };
        eprintln!("t = {t}: MMPS step trusted: {trusted}");
        worst = worst.max(relative_error(&got, &expected));
    }
    assert!(worst < 1e-6, "one MMPS step differs from its closed form by {worst:e} relative");
}

/// `ε = a·x` with a gain per trajectory: `J = (1 − σ·a)/μ`, negative once `a > 1/σ`, as a learned
/// score's Jacobian is at high noise.
struct LinearGain {
    gains: Tensor,
}

impl TrajectoryScore for LinearGain {
    fn epsilon(&self, x: &Tensor, _t: f64) -> Result<Tensor, sdalab::score::ScoreError> {
        Ok(x.broadcast_mul(&self.gains)?)
    }
}

/// In one batch: a trajectory with a positive Tweedie covariance and an estimate near the data
/// keeps MMPS's step; one whose covariance is negative along the solve, and one whose updated
/// estimate lies beyond `TWEEDIE_BOUND`, take SDA's.
#[test]
fn mmps_falls_back_to_sda_where_its_step_cannot_be_trusted() {
    let (length, d, t) = (6, 3, 0.6);
    let (mu, sigma) = (VpSchedule::new().mu(t), VpSchedule::new().sigma(t));
    let obs = nonlinear_observations();
    let normalisation = Normalisation::new(vec![0.0, 0.0, 25.0], vec![8.0, 9.0, 8.6]);
    let tensors = TensorObservations::new(&obs, length, d, &normalisation, DType::F64, &Device::Cpu).unwrap();
    let n = length * d;
    // Row 2 is row 0 scaled so that x̂ = (1 − 0.2σ)·x/μ reaches 3·TWEEDIE_BOUND.
    let base: Vec<f64> = (0..n).map(|i| (i as f64 * 0.7).sin()).collect();
    let peak = base.iter().fold(0.0f64, |m, v| m.max(v.abs())) * (1.0 - 0.2 * sigma) / mu;
    let far: Vec<f64> = base.iter().map(|v| v * 3.0 * TWEEDIE_BOUND / peak).collect();
    let second: Vec<f64> = (0..n).map(|i| ((i + n) as f64 * 0.7).sin()).collect();
    let x = Tensor::from_vec([base, second, far].concat(), (3, length, d), &Device::Cpu).unwrap();
    let gains = [0.2, 3.0 / sigma, 0.2];
    let score = LinearGain { gains: Tensor::new(&gains, &Device::Cpu).unwrap().reshape((3, 1, 1)).unwrap() };
    let all = flat64(&GuidedScore::new(&score, Guidance::Mmps { iterations: 3 }, &tensors).epsilon(&x, t).unwrap());
    for (row, gain) in gains.iter().enumerate() {
        let single = LinearGain { gains: Tensor::new(&[*gain], &Device::Cpu).unwrap().reshape((1, 1, 1)).unwrap() };
        let xi = x.narrow(0, row, 1).unwrap();
        let mmps =
            flat64(&GuidedScore::new(&single, Guidance::Mmps { iterations: 3 }, &tensors).epsilon(&xi, t).unwrap());
        let sda = GuidedScore::new(&single, Guidance::Sda { gamma: MMPS_FALLBACK_GAMMA }, &tensors);
        let sda = flat64(&sda.epsilon(&xi, t).unwrap());
        let got = &all[row * n..(row + 1) * n];
        if row == 0 {
            // J = (1 − 0.2σ)/μ > 0 and x̂ within the bound: MMPS's own step, which is not SDA's.
            assert!(relative_error(got, &mmps) < 1e-12, "trusted row: {}", relative_error(got, &mmps));
            assert!(relative_error(got, &sda) > 1e-3, "the two rules agree here: the test shows nothing");
        } else {
            // Row 1: J = (1 − 3)/μ < 0 everywhere. Row 2: x̂ three times the bound.
            assert!(relative_error(got, &sda) < 1e-12, "row {row}: {}", relative_error(got, &sda));
        }
    }
}

/// `vᵀ·V·v / vᵀ·v` for the Tweedie covariance `V = (σ²/μ)·J` of the bundled `lorenz63-k4`, at
/// states near the attractor noised to time t, for random directions `v` on the components the
/// paper's sparse regime observes (x of every 8th state); beside it the same for the exact score
/// of a Gaussian fitted to simulator trajectories. Why MMPS checks the sign of `V` along its
/// solve: the network's `V` is negative where μ(t) is small (its Jacobian's errors are amplified
/// by `1/μ²`) and positive from t = 0.8 down.
/// The table: `cargo test --release --test mmps_guidance -- --nocapture tweedie`
#[test]
fn tweedie_covariance_of_the_bundled_network_by_noise_level() {
    let device = Device::Cpu;
    let system = System::named("lorenz63").unwrap();
    let chain = system.chain();
    let (length, d, n) = (65, 3, 32);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let checkpoint = load_checkpoint(&root.join("checkpoints/lorenz63-k4"), &device).unwrap();
    let network = ComposedNetworkScore::new(checkpoint.network, checkpoint.config.window).unwrap();
    let fitted =
        TrajectoryGaussian::from_samples(&simulate_ensemble(chain, length, 512, 1024, 7, &|_| {}), length, d, 1e-6)
            .unwrap();
    let gaussian = ExactGaussianScore::whole(&fitted, chain.normalisation(), DType::F32, &device).unwrap();
    let mut x0 = simulate_ensemble(chain, length, n, 1024, 99, &|_| {});
    chain.normalisation().to_network(&mut x0);
    let x0 = Tensor::from_vec(x0.iter().map(|v| *v as f32).collect::<Vec<_>>(), (n, length, d), &device).unwrap();
    let mask: Vec<f32> = (0..length * d).map(|i| if i % d == 0 && (i / d) % 8 == 0 { 1.0 } else { 0.0 }).collect();
    let mask = Tensor::from_vec(mask, (1, length, d), &device).unwrap();
    let schedule = VpSchedule::new();
    for t in [0.999, 0.99, 0.95, 0.9, 0.8, 0.6, 0.4, 0.2, 0.1, 0.01] {
        let (mu, sigma) = (schedule.mu(t), schedule.sigma(t));
        let noise = Tensor::randn(0f32, 1f32, (n, length, d), &device).unwrap();
        let xt = ((&x0 * mu).unwrap() + (noise * sigma).unwrap()).unwrap();
        let v = Tensor::randn(0f32, 1f32, (n, length, d), &device).unwrap().broadcast_mul(&mask).unwrap();
        let quotients = |score: &dyn TrajectoryScore| -> Vec<f64> {
            let linear = score.linearise(&xt, t).unwrap();
            let jt_v = ((&v - (linear.vjp(&v).unwrap() * sigma).unwrap()).unwrap() / mu).unwrap();
            let vjv = flat64(&(&v * &jt_v).unwrap().sum((1, 2)).unwrap());
            let vv = flat64(&v.sqr().unwrap().sum((1, 2)).unwrap());
            vjv.iter().zip(&vv).map(|(a, b)| sigma * sigma / mu * a / b).collect()
        };
        let (net, exact) = (quotients(&network), quotients(&gaussian));
        let mean = |q: &[f64]| q.iter().sum::<f64>() / q.len() as f64;
        let negative = |q: &[f64]| q.iter().filter(|q| **q < 0.0).count();
        eprintln!(
            "t = {t:5}, μ = {mu:.4}: network mean {:9.4}, {:2}/{n} negative; fitted Gaussian mean {:7.4}, {}/{n} negative",
            mean(&net),
            negative(&net),
            mean(&exact),
            negative(&exact)
        );
        assert_eq!(negative(&exact), 0, "t = {t}: an exact score's Tweedie covariance is positive");
        if t <= 0.8 {
            assert_eq!(negative(&net), 0, "t = {t}: the network's Tweedie covariance is not positive");
        }
    }
}
