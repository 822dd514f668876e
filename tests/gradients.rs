//! Input gradients through the networks and through guidance, against central finite
//! differences in f64; the exact Gaussian score against a dense linear solve.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use nalgebra::{DMatrix, DVector};
use sdalab::dynamics::{LinearGaussian, MarkovChain, Normalisation};
use sdalab::observe::{Observation, ObservationOp, TensorObservations};
use sdalab::sampler::{Guidance, GuidedScore};
use sdalab::score::{
    Architecture, ComposedNetworkScore, ExactGaussianScore, Linearisation, MlpConfig, ModelConfig, ScoreNetwork,
    TrajectoryScore, VpSchedule,
};

/// A small trainable MLP on windows of Lorenz-63-sized states, and its configuration.
fn f64_mlp(window: usize) -> (VarMap, ScoreNetwork, ModelConfig) {
    let config = mlp_config(window, 32, 2, 8);
    let varmap = VarMap::new();
    let net = ScoreNetwork::new(&config, VarBuilder::from_varmap(&varmap, DType::F64, &Device::Cpu)).unwrap();
    (varmap, net, config)
}

/// Compares the autograd gradient of `f` at `x` with central differences at every coordinate.
fn check_gradient(f: &dyn Fn(&Tensor) -> Tensor, x: &Tensor, tolerance: f64) {
    let var = Var::from_tensor(x).unwrap();
    let grads = f(var.as_tensor()).backward().unwrap();
    let g: Vec<f64> = grads.get(var.as_tensor()).unwrap().flatten_all().unwrap().to_vec1().unwrap();
    let base: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
    let h = 1e-5;
    let eval = |v: Vec<f64>| f(&Tensor::from_vec(v, x.shape(), &Device::Cpu).unwrap()).to_scalar::<f64>().unwrap();
    let mut worst: f64 = 0.0;
    for i in 0..base.len() {
        let (mut plus, mut minus) = (base.clone(), base.clone());
        plus[i] += h;
        minus[i] -= h;
        let fd = (eval(plus) - eval(minus)) / (2.0 * h);
        worst = worst.max((fd - g[i]).abs() / (1.0 + fd.abs()));
    }
    assert!(worst < tolerance, "worst relative gradient error {worst:e}");
}

#[test]
fn mlp_input_gradient_matches_finite_differences() {
    let (_vars, net, _) = f64_mlp(5);
    let x = Tensor::randn(0f64, 1.0, (4, 5, 3), &Device::Cpu).unwrap();
    let t = Tensor::new(&[0.1f64, 0.4, 0.7, 0.95], &Device::Cpu).unwrap();
    let weights = Tensor::randn(0f64, 1.0, (4, 5, 3), &Device::Cpu).unwrap();
    check_gradient(&|x| (net.forward(x, &t).unwrap() * &weights).unwrap().sum_all().unwrap(), &x, 1e-6);
}

/// The same network with its weights as constants: it takes the direct kernels.
fn frozen(varmap: &VarMap, net: &ScoreNetwork, config: &ModelConfig, dtype: DType) -> ScoreNetwork {
    let constants: std::collections::HashMap<String, Tensor> =
        varmap.data().lock().unwrap().iter().map(|(k, v)| (k.clone(), v.as_tensor().detach())).collect();
    let frozen = ScoreNetwork::new(config, VarBuilder::from_tensors(constants, dtype, &Device::Cpu)).unwrap();
    assert!(net.frozen::<f64>().is_none() && net.frozen::<f32>().is_none(), "trainable weights are not frozen");
    frozen
}

fn mlp_config(window: usize, width: usize, depth: usize, embedding: usize) -> ModelConfig {
    ModelConfig {
        system: "lorenz63".into(),
        state_shape: vec![3],
        window,
        architecture: Architecture::Mlp(MlpConfig { width, depth, embedding, frequencies: 4 }),
        center: vec![0.0; 3],
        scale: vec![1.0; 3],
        training: None,
    }
}

#[test]
fn guidance_gradient_through_network_and_nonlinear_operators_matches_finite_differences() {
    let (vars, net, config) = f64_mlp(3);
    let direct = frozen(&vars, &net, &config, DType::F64);
    assert!(direct.frozen::<f64>().is_some());
    // The guided score through candle's autograd (trainable weights) and through the direct kernels.
    for score in [ComposedNetworkScore::new(net, 3).unwrap(), ComposedNetworkScore::new(direct, 3).unwrap()] {
        guidance_matches_finite_differences(&score);
    }
}

fn guidance_matches_finite_differences(score: &ComposedNetworkScore) {
    let length = 6;
    let obs = vec![
        Observation { t: 0, op: ObservationOp::Identity { index: 0 }, value: 1.5, std: 0.5 },
        Observation { t: 2, op: ObservationOp::Abs { index: 1 }, value: 3.0, std: 0.4 },
        Observation { t: 3, op: ObservationOp::Square { index: 2 }, value: 30.0, std: 2.0 },
        Observation { t: 5, op: ObservationOp::Mean { indices: vec![0, 1, 2] }, value: 8.0, std: 0.3 },
    ];
    let normalisation = Normalisation::new(vec![0.0, 0.0, 25.0], vec![8.0, 9.0, 8.6]);
    let tensors = TensorObservations::new(&obs, length, 3, &normalisation, DType::F64, &Device::Cpu).unwrap();
    let x = Tensor::randn(0f64, 1.0, (2, length, 3), &Device::Cpu).unwrap();
    for guidance in [Guidance::Sda { gamma: 1e-2 }, Guidance::Dps { zeta: 0.7 }] {
        let guided = GuidedScore::new(score, guidance, &tensors);
        for t in [0.2, 0.6] {
            check_gradient(&|x| guided.log_likelihood(x, t).unwrap().1, &x, 1e-6);
            // ε_post = ε − σ·∇ log p: the guided score applies exactly that gradient (up to the
            // rounding of its factorised form, ∇ = (g − σ·gᵀ∂ε/∂x)/μ with g = ∂ log p/∂x̂).
            let var = Var::from_tensor(&x).unwrap();
            let grad = guided.log_likelihood(var.as_tensor(), t).unwrap().1.backward().unwrap();
            let g = grad.get(var.as_tensor()).unwrap();
            let expected = (score.epsilon(&x, t).unwrap() - (g * VpSchedule::new().sigma(t)).unwrap()).unwrap();
            let error = relative_error(&flat64(&guided.epsilon(&x, t).unwrap()), &flat64(&expected));
            assert!(error < 1e-13, "t = {t}: guided ε differs by {error:e} relative to its largest value");
        }
    }
}

#[test]
fn exact_gaussian_score_equals_a_dense_solve() {
    let m = DMatrix::from_row_slice(2, 2, &[0.8, 0.3, -0.2, 0.7]);
    let q = DMatrix::from_row_slice(2, 2, &[0.2, 0.05, 0.05, 0.1]);
    let p0 = DMatrix::from_row_slice(2, 2, &[1.0, 0.2, 0.2, 0.5]);
    let model =
        LinearGaussian::new(m, DVector::from_vec(vec![0.1, -0.2]), q, DVector::from_vec(vec![1.0, 2.0]), p0).unwrap();
    let length = 7;
    let prior = model.trajectory_prior(length);
    let score = ExactGaussianScore::whole(&prior, model.normalisation(), DType::F64, &Device::Cpu).unwrap();
    let x = Tensor::randn(0f64, 1.0, (3, length, 2), &Device::Cpu).unwrap();
    let schedule = VpSchedule::new();
    // Network-space prior: m' = (m − c)/s, Σ' = Σ / (s sᵀ).
    let n = length * 2;
    let s = |i: usize| model.normalisation().scale()[i % 2];
    let c = |i: usize| model.normalisation().center()[i % 2];
    let mean = DVector::from_fn(n, |i, _| (prior.mean()[i] - c(i)) / s(i));
    let cov = DMatrix::from_fn(n, n, |i, j| prior.covariance()[(i, j)] / (s(i) * s(j)));
    for t in [0.05, 0.5, 0.9] {
        let (mu, sigma) = (schedule.mu(t), schedule.sigma(t));
        let got: Vec<f64> = score.epsilon(&x, t).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        let xs: Vec<f64> = x.flatten_all().unwrap().to_vec1().unwrap();
        let a = &cov * (mu * mu) + DMatrix::identity(n, n) * (sigma * sigma);
        for (b, chunk) in xs.chunks(n).enumerate() {
            let rhs = DVector::from_column_slice(chunk) - &mean * mu;
            let eps = a.clone().lu().solve(&rhs).unwrap() * sigma;
            for i in 0..n {
                assert!((eps[i] - got[b * n + i]).abs() < 1e-8, "t={t} sample {b} entry {i}");
            }
        }
    }
}

fn unet(rank: usize, state_shape: Vec<usize>) -> (VarMap, ScoreNetwork) {
    let (varmap, net, _) = unet_with(rank, state_shape, 1, DType::F64);
    (varmap, net)
}

fn unet_with(rank: usize, state_shape: Vec<usize>, blocks: usize, dtype: DType) -> (VarMap, ScoreNetwork, ModelConfig) {
    let config = ModelConfig {
        system: "test".into(),
        state_shape: state_shape.clone(),
        window: 3,
        architecture: {
            let cfg =
                sdalab::score::UnetConfig { channels: vec![4, 6, 8], blocks, kernel: 3, embedding: 8, frequencies: 4 };
            if rank == 1 { Architecture::Unet1d(cfg) } else { Architecture::Unet2d(cfg) }
        },
        center: vec![0.0; state_shape.iter().product()],
        scale: vec![1.0; state_shape.iter().product()],
        training: None,
    };
    config.check().unwrap();
    let varmap = VarMap::new();
    let net = ScoreNetwork::new(&config, VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu)).unwrap();
    (varmap, net, config)
}

#[test]
fn unet_input_gradients_match_finite_differences() {
    for (rank, shape) in [(1, vec![8]), (2, vec![4, 4])] {
        let (_vars, net) = unet(rank, shape.clone());
        let dims: Vec<usize> = [vec![2, 3], shape].concat();
        let x = Tensor::randn(0f64, 1.0, dims.as_slice(), &Device::Cpu).unwrap();
        let t = Tensor::new(&[0.3f64, 0.8], &Device::Cpu).unwrap();
        let weights = Tensor::randn(0f64, 1.0, dims.as_slice(), &Device::Cpu).unwrap();
        check_gradient(&|x| (net.forward(x, &t).unwrap() * &weights).unwrap().sum_all().unwrap(), &x, 1e-6);
    }
}

#[test]
fn circular_unets_commute_with_periodic_shifts() {
    // With circular padding, pooling by 2 over 3 levels commutes with shifts by multiples of 4.
    let roll = |x: &Tensor, dim: usize, s: usize| {
        let n = x.dim(dim).unwrap();
        Tensor::cat(&[x.narrow(dim, n - s, s).unwrap(), x.narrow(dim, 0, n - s).unwrap()], dim).unwrap()
    };
    let t = Tensor::new(&[0.5f64], &Device::Cpu).unwrap();
    let (_v1, net1) = unet(1, vec![16]);
    let x = Tensor::randn(0f64, 1.0, (1, 3, 16), &Device::Cpu).unwrap();
    let a = roll(&net1.forward(&x, &t).unwrap(), 2, 4);
    let b = net1.forward(&roll(&x, 2, 4), &t).unwrap();
    assert!((a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap() < 1e-12);
    let (_v2, net2) = unet(2, vec![8, 8]);
    let x = Tensor::randn(0f64, 1.0, (1, 3, 8, 8), &Device::Cpu).unwrap();
    let a = roll(&roll(&net2.forward(&x, &t).unwrap(), 2, 4), 3, 4);
    let b = net2.forward(&roll(&roll(&x, 2, 4), 3, 4), &t).unwrap();
    assert!((a - b).unwrap().abs().unwrap().max_all().unwrap().to_scalar::<f64>().unwrap() < 1e-12);
}

#[test]
fn constant_weight_fast_path_matches_the_trainable_network() {
    // Sampling builds networks from constant weights, which take the fused GEMM path with an
    // input-only backward; it must agree with the trainable (Var) network exactly.
    for dtype in [DType::F64, DType::F32] {
        let config = mlp_config(5, 48, 3, 16);
        let varmap = VarMap::new();
        let trainable = ScoreNetwork::new(&config, VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu)).unwrap();
        let fast = frozen(&varmap, &trainable, &config, dtype);
        let x = Tensor::randn(0f32, 1.0, (7, 5, 3), &Device::Cpu).unwrap().to_dtype(dtype).unwrap();
        let t =
            Tensor::new(&[0.05f32, 0.2, 0.35, 0.5, 0.65, 0.8, 0.95], &Device::Cpu).unwrap().to_dtype(dtype).unwrap();
        let run = |net: &ScoreNetwork| {
            let var = Var::from_tensor(&x).unwrap();
            let y = net.forward(var.as_tensor(), &t).unwrap();
            let g = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
            let flat =
                |t: &Tensor| -> Vec<f64> { t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap() };
            (flat(&y), flat(g.get(var.as_tensor()).unwrap()))
        };
        let (ya, ga) = run(&trainable);
        let (yb, gb) = run(&fast);
        let tol = if dtype == DType::F64 { 1e-12 } else { 1e-4 };
        for (a, b) in ya.iter().zip(&yb).chain(ga.iter().zip(&gb)) {
            assert!((a - b).abs() <= tol * (1.0 + a.abs()), "{dtype:?}: {a} vs {b}");
        }
    }
}

/// ε by candle's ops: the input as a variable, so the composed score does not take its direct kernels.
fn candle_epsilon(score: &ComposedNetworkScore, x: &Tensor, t: f64) -> Tensor {
    let var = Var::from_tensor(x).unwrap();
    score.epsilon(var.as_tensor(), t).unwrap().detach()
}

fn flat64(t: &Tensor) -> Vec<f64> {
    t.flatten_all().unwrap().to_dtype(DType::F64).unwrap().to_vec1().unwrap()
}

/// `max |a − b| / max |b|`.
fn relative_error(a: &[f64], b: &[f64]) -> f64 {
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    a.iter().zip(b).fold(0.0f64, |m, (a, b)| m.max((a - b).abs())) / scale
}

/// A composed score's direct kernels against candle's autograd through the same network in f32
/// (1e-5 relative): ε and one vector–Jacobian product, on trajectories of shape `dims`.
fn check_against_autograd(score: &ComposedNetworkScore, dims: &[usize], label: &str) {
    let x = Tensor::randn(0f32, 1.0, dims, &Device::Cpu).unwrap();
    let v = Tensor::randn(0f32, 1.0, dims, &Device::Cpu).unwrap();
    for t in [0.02, 0.5, 0.97] {
        let ours = score.linearise(&x, t).unwrap();
        let reference = Linearisation::by_autograd(&x, |x| score.epsilon(x, t)).unwrap();
        let e = relative_error(&flat64(ours.epsilon()), &flat64(reference.epsilon()));
        let g = relative_error(&flat64(&ours.vjp(&v).unwrap()), &flat64(&reference.vjp(&v).unwrap()));
        assert!(e < 1e-5 && g < 1e-5, "{label}, t = {t}: ε relative error {e:e}, vector–Jacobian product {g:e}");
    }
}

/// A composed score's direct kernels in f64: ε against candle's (1e-12 relative), and the
/// vector–Jacobian product against central finite differences of `vᵀε(x)` at every coordinate.
fn check_against_finite_differences(score: &ComposedNetworkScore, dims: &[usize], label: &str) {
    let x = Tensor::randn(0f64, 1.0, dims, &Device::Cpu).unwrap();
    let v = Tensor::randn(0f64, 1.0, dims, &Device::Cpu).unwrap();
    let vs = flat64(&v);
    let base = flat64(&x);
    // vᵀε(x) through the direct forward pass, and its gradient through their product.
    let objective = |values: &[f64], t: f64| -> f64 {
        let x = Tensor::from_vec(values.to_vec(), dims, &Device::Cpu).unwrap();
        flat64(score.linearise(&x, t).unwrap().epsilon()).iter().zip(&vs).map(|(e, v)| e * v).sum()
    };
    for t in [0.1, 0.6] {
        let lin = score.linearise(&x, t).unwrap();
        let reference = candle_epsilon(score, &x, t);
        assert!(relative_error(&flat64(lin.epsilon()), &flat64(&reference)) < 1e-12, "{label}: ε");
        // Without a graph to follow, ε itself takes the direct kernels.
        assert_eq!(flat64(&score.epsilon(&x, t).unwrap()), flat64(lin.epsilon()));
        let grad = flat64(&lin.vjp(&v).unwrap());
        // Any number of products from one linearisation: the second equals the first.
        assert_eq!(grad, flat64(&lin.vjp(&v).unwrap()));
        let h = 1e-5;
        let mut worst: f64 = 0.0;
        for i in 0..base.len() {
            let (mut plus, mut minus) = (base.clone(), base.clone());
            plus[i] += h;
            minus[i] -= h;
            let fd = (objective(&plus, t) - objective(&minus, t)) / (2.0 * h);
            worst = worst.max((fd - grad[i]).abs() / (1.0 + fd.abs()));
        }
        assert!(worst < 1e-7, "{label}, t = {t}: worst relative error {worst:e}");
    }
}

/// An MLP on windows of 5 Lorenz-63 states as a composed score with frozen weights.
fn frozen_mlp_score(width: usize, depth: usize, dtype: DType) -> ComposedNetworkScore {
    let config = mlp_config(5, width, depth, 16);
    let varmap = VarMap::new();
    let net = ScoreNetwork::new(&config, VarBuilder::from_varmap(&varmap, dtype, &Device::Cpu)).unwrap();
    let direct = frozen(&varmap, &net, &config, dtype);
    assert!(direct.frozen::<f32>().is_some() || direct.frozen::<f64>().is_some());
    ComposedNetworkScore::new(direct, 5).unwrap()
}

#[test]
fn direct_mlp_kernels_match_autograd_in_f32() {
    check_against_autograd(&frozen_mlp_score(64, 3, DType::F32), &[3, 11, 3], "MLP");
}

#[test]
fn direct_mlp_kernels_match_finite_differences_in_f64() {
    check_against_finite_differences(&frozen_mlp_score(24, 2, DType::F64), &[2, 7, 3], "MLP");
}

/// Both U-Nets (1-D ring of 16 cells, 2-D 8×8 field; three levels, two blocks a level, so skip
/// convolutions and same-width blocks both appear) as composed scores with frozen weights.
fn frozen_unet_scores(dtype: DType) -> Vec<(ComposedNetworkScore, Vec<usize>)> {
    [(1, vec![16]), (2, vec![8, 8])]
        .into_iter()
        .map(|(rank, shape)| {
            let (varmap, net, config) = unet_with(rank, shape.clone(), 2, dtype);
            let direct = frozen(&varmap, &net, &config, dtype);
            assert!(direct.frozen::<f32>().is_some() || direct.frozen::<f64>().is_some());
            (ComposedNetworkScore::new(direct, 3).unwrap(), shape)
        })
        .collect()
}

#[test]
fn direct_unet_kernels_match_autograd_in_f32() {
    for (score, shape) in frozen_unet_scores(DType::F32) {
        check_against_autograd(&score, &[vec![5, 9], shape.clone()].concat(), &format!("U-Net {shape:?}"));
    }
}

#[test]
fn direct_unet_kernels_match_finite_differences_in_f64() {
    for (score, shape) in frozen_unet_scores(DType::F64) {
        check_against_finite_differences(&score, &[vec![2, 4], shape.clone()].concat(), &format!("U-Net {shape:?}"));
    }
}

/// Training a U-Net through the direct kernels: the denoising loss and the gradient of every
/// weight (convolutions, skips, time embedding and projections) against candle's autograd
/// through the same network in f32 (1e-4 relative to each tensor's largest gradient), 1-D and
/// 2-D, with two blocks per level so that blocks with and without skip convolutions occur.
#[test]
fn direct_unet_training_gradients_match_autograd() {
    for (rank, shape) in [(1, vec![16]), (2, vec![8, 8])] {
        let (varmap, net, config) = unet_with(rank, shape.clone(), 2, DType::F32);
        sdalab::score::seeded_init(&varmap, 3).unwrap();
        let rows = 7;
        let dims: Vec<usize> = [vec![rows, config.window], shape.clone()].concat();
        let x = Tensor::randn(0f32, 1.0, dims.as_slice(), &Device::Cpu).unwrap();
        let eps = Tensor::randn(0f32, 1.0, dims.as_slice(), &Device::Cpu).unwrap();
        let t = Tensor::new(&[0.01f32, 0.1, 0.3, 0.5, 0.7, 0.9, 0.99], &Device::Cpu).unwrap();
        let loss = (net.forward(&x, &t).unwrap() - &eps).unwrap().sqr().unwrap().mean_all().unwrap();
        let reference = loss.backward().unwrap();
        let (direct_loss, direct) = net.dsm_gradients(&x, &t, &eps).unwrap().expect("a U-Net trains directly");
        let candle_loss = loss.to_scalar::<f32>().unwrap() as f64;
        assert!((direct_loss - candle_loss).abs() < 1e-5 * candle_loss, "loss {direct_loss} vs {candle_loss}");
        let validation = net.dsm_loss(&x, &t, &eps).unwrap().expect("a U-Net evaluates directly");
        assert!((validation - candle_loss).abs() < 1e-5 * candle_loss, "loss alone {validation} vs {candle_loss}");
        let vars = varmap.data().lock().unwrap();
        assert!(vars.len() > 20, "{} variables", vars.len());
        for (name, var) in vars.iter() {
            let want = flat64(reference.get(var.as_tensor()).unwrap_or_else(|| panic!("{name}: no autograd gradient")));
            let got = flat64(direct.get(var.as_tensor()).unwrap_or_else(|| panic!("{name}: no direct gradient")));
            let error = relative_error(&got, &want);
            assert!(error < 1e-4, "rank {rank}, {name}: relative error {error:e}");
        }
    }
}

/// Training the residual MLP through the direct kernels: the loss and the gradient of every
/// weight (the input layer's state and time-embedding columns, blocks, output, the embedding's
/// own layers) against candle's autograd through the same network in f32.
#[test]
fn direct_mlp_training_gradients_match_autograd() {
    let config = mlp_config(5, 32, 3, 8);
    let varmap = VarMap::new();
    let net = ScoreNetwork::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap();
    sdalab::score::seeded_init(&varmap, 4).unwrap();
    let x = Tensor::randn(0f32, 1.0, (9, 5, 3), &Device::Cpu).unwrap();
    let eps = Tensor::randn(0f32, 1.0, (9, 5, 3), &Device::Cpu).unwrap();
    let t = Tensor::new(&[0.01f32, 0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.99], &Device::Cpu).unwrap();
    let loss = (net.forward(&x, &t).unwrap() - &eps).unwrap().sqr().unwrap().mean_all().unwrap();
    let reference = loss.backward().unwrap();
    let (direct_loss, direct) = net.dsm_gradients(&x, &t, &eps).unwrap().expect("the MLP trains directly");
    let candle_loss = loss.to_scalar::<f32>().unwrap() as f64;
    assert!((direct_loss - candle_loss).abs() < 1e-5 * candle_loss, "loss {direct_loss} vs {candle_loss}");
    let vars = varmap.data().lock().unwrap();
    assert!(vars.len() >= 14, "{} variables", vars.len());
    for (name, var) in vars.iter() {
        let want = flat64(reference.get(var.as_tensor()).unwrap_or_else(|| panic!("{name}: no autograd gradient")));
        let got = flat64(direct.get(var.as_tensor()).unwrap_or_else(|| panic!("{name}: no direct gradient")));
        let error = relative_error(&got, &want);
        assert!(error < 1e-4, "{name}: relative error {error:e}");
    }
}
