//! `sdalab bench`: network throughput next to a plain matrix multiply, measured in one run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use clap::Args;
use sdalab::device::select_device;
use sdalab::dynamics::{Lorenz63, MarkovChain};
use sdalab::observe::{Observation, ObservationOp, TensorObservations};
use sdalab::sampler::{Guidance, GuidedScore};
use sdalab::score::{
    Architecture, ComposedNetworkScore, Linearisation, MlpConfig, ModelConfig, ScoreNetwork, TrajectoryScore,
    UnetConfig, circular_conv2d, circular_pad, seeded_init,
};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct BenchArgs {
    /// Timed repetitions per measurement (the median is reported).
    #[arg(long, default_value_t = 10)]
    pub repeats: usize,
    /// Only the MLP (skip the slower U-Nets).
    #[arg(long)]
    pub mlp_only: bool,
    /// Only the measurements whose name contains this text (the matrix multiply always runs).
    #[arg(long)]
    pub only: Option<String>,
}

/// Median wall time of `f` over `repeats` runs after two warm-ups.
fn median_time(repeats: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    f()?;
    f()?;
    let mut times = Vec::with_capacity(repeats);
    for _ in 0..repeats.max(1) {
        let start = Instant::now();
        f()?;
        times.push(start.elapsed());
    }
    times.sort();
    Ok(times[times.len() / 2])
}

type Row = (String, &'static str, Duration, f64);

/// One training step's loss and weight gradients (no optimiser update) of a trainable network,
/// by candle's autograd and, where the network has them, by the direct kernels.
fn training_rows(
    case: &Case,
    repeats: usize,
    device: &Device,
    selected: &dyn Fn(&str) -> bool,
    rows: &mut Vec<Row>,
) -> anyhow::Result<()> {
    let names =
        [format!("{} training step, autograd", case.name), format!("{} training step, direct kernels", case.name)];
    if !names.iter().any(|n| selected(n)) {
        return Ok(());
    }
    let varmap = VarMap::new();
    let net = ScoreNetwork::new(&case.config, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    seeded_init(&varmap, 0)?;
    let batch = case.training_batch;
    let shape: Vec<usize> = [vec![batch, case.config.window], case.config.state_shape.clone()].concat();
    let x = Tensor::randn(0f32, 1.0, shape.as_slice(), device)?;
    let eps = Tensor::randn(0f32, 1.0, shape.as_slice(), device)?;
    let t = Tensor::rand(0f32, 1.0, batch, device)?;
    let flops = 3.0 * ScoreNetwork::flops_per_window(&case.config) * batch as f64;
    let note = match batch {
        256 => "256 windows",
        64 => "64 windows",
        _ => "32 windows",
    };
    if selected(&names[0]) {
        let time = median_time(repeats, || {
            let loss = (net.forward(&x, &t)? - &eps)?.sqr()?.mean_all()?;
            loss.backward()?;
            Ok(())
        })?;
        rows.push((names[0].clone(), note, time, flops));
    }
    if selected(&names[1]) && net.dsm_gradients(&x, &t, &eps)?.is_some() {
        let time = median_time(repeats, || {
            net.dsm_gradients(&x, &t, &eps)?;
            Ok(())
        })?;
        rows.push((names[1].clone(), note, time, flops));
    }
    Ok(())
}

/// A network with constant (detached) weights, as sampling uses it.
fn detached_network(config: &ModelConfig, device: &Device) -> anyhow::Result<ScoreNetwork> {
    let varmap = VarMap::new();
    ScoreNetwork::new(config, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
    seeded_init(&varmap, 0)?;
    let tensors: HashMap<String, Tensor> = varmap
        .data()
        .lock()
        .map_err(|_| anyhow::anyhow!("variable map poisoned"))?
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().detach()))
        .collect();
    Ok(ScoreNetwork::new(config, VarBuilder::from_tensors(tensors, DType::F32, device))?)
}

struct Case {
    name: &'static str,
    config: ModelConfig,
    /// Windows per network call: samples × (L − 2k).
    batch: usize,
    batch_note: &'static str,
    /// Windows per training step.
    training_batch: usize,
}

fn config(system: &str, state_shape: Vec<usize>, window: usize, architecture: Architecture) -> ModelConfig {
    let d: usize = state_shape.iter().product();
    ModelConfig {
        system: system.into(),
        state_shape,
        window,
        architecture,
        center: vec![0.0; d],
        scale: vec![1.0; d],
        training: None,
    }
}

/// One guided evaluation of a Lorenz-63 posterior (the `lorenz63-k4` shape: MLP 256×5 on windows
/// of 9 states, 64 members × 65 states, `x` observed every 8th state), broken into its parts:
/// the composed prior score by candle's autograd and by the direct kernels, each as ε alone and
/// as ε + one vector–Jacobian product, and the whole guided ε the old way (one autograd graph
/// from the input through the network and the observations) and the new way (direct kernels,
/// autograd on the observation graph only).
fn lorenz63_evaluation_rows(
    repeats: usize,
    device: &Device,
    rows: &mut Vec<(String, &'static str, Duration, f64)>,
) -> anyhow::Result<()> {
    let config = config("lorenz63", vec![3], 9, Architecture::Mlp(MlpConfig::default()));
    let score = ComposedNetworkScore::new(detached_network(&config, device)?, 9)?;
    let (samples, length) = (64, 65);
    let x = Tensor::randn(0f32, 1.0, (samples, length, 3), device)?;
    let v = Tensor::randn(0f32, 1.0, (samples, length, 3), device)?;
    let flops = ScoreNetwork::flops_per_window(&config) * (samples * (length - 8)) as f64;
    let note = "64 samples × 57 windows";
    let t = 0.5;
    let chain = Lorenz63::default();
    let observations: Vec<Observation> = (0..length)
        .step_by(8)
        .map(|t| Observation { t, op: ObservationOp::Identity { index: 0 }, value: 1.0, std: 0.4 })
        .collect();
    let tensors = TensorObservations::new(&observations, length, 3, chain.normalisation(), DType::F32, device)?;
    let guided = GuidedScore::new(&score, Guidance::Sda { gamma: 1e-2 }, &tensors);
    let sum = |t: &Tensor| -> anyhow::Result<()> {
        t.sum_all()?.to_scalar::<f32>()?;
        Ok(())
    };
    let timings = [
        (
            "candle autograd: ε",
            1.0,
            // A variable input keeps the composed score on candle's ops (it records the graph).
            median_time(repeats, || sum(&score.epsilon(Var::from_tensor(&x)?.as_tensor(), t)?))?,
        ),
        (
            "candle autograd: ε + vector–Jacobian product",
            2.0,
            median_time(repeats, || {
                let lin = Linearisation::by_autograd(&x, |x| score.epsilon(x, t))?;
                sum(&lin.vjp(&v)?)
            })?,
        ),
        ("direct kernels: ε", 1.0, median_time(repeats, || sum(score.linearise(&x, t)?.epsilon()))?),
        (
            "direct kernels: ε + vector–Jacobian product",
            2.0,
            median_time(repeats, || sum(&score.linearise(&x, t)?.vjp(&v)?))?,
        ),
        (
            "guided ε (SDA), one autograd graph",
            2.0,
            median_time(repeats, || {
                let var = Var::from_tensor(&x)?;
                let (eps, log_p) = guided.log_likelihood(var.as_tensor(), t)?;
                let grads = log_p.backward()?;
                let g = grads.get(var.as_tensor()).context("no input gradient")?;
                sum(&(eps.detach() - (g * 0.5)?)?)
            })?,
        ),
        ("guided ε (SDA), direct kernels", 2.0, median_time(repeats, || sum(&guided.epsilon(&x, t)?))?),
    ];
    for (what, passes, time) in timings {
        rows.push((format!("Lorenz-63 k4 composed score, {what}"), note, time, passes * flops));
    }
    Ok(())
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let (device, name) = select_device();
    println!("device: {name}");
    let mut cases = vec![Case {
        name: "MLP 256×5, Lorenz-63 window 5",
        config: config("lorenz63", vec![3], 5, Architecture::Mlp(MlpConfig::default())),
        batch: 64 * 61,
        batch_note: "64 samples × 61 windows",
        training_batch: 256,
    }];
    if !args.mlp_only {
        let unet = UnetConfig { channels: vec![32, 64], ..UnetConfig::default() };
        cases.push(Case {
            name: "U-Net 1-D 32,64, Lorenz-96 window 5",
            config: config("lorenz96", vec![40], 5, Architecture::Unet1d(unet.clone())),
            batch: 16 * 28,
            batch_note: "16 samples × 28 windows",
            training_batch: 64,
        });
        cases.push(Case {
            name: "U-Net 2-D 32,64, 32×32 field window 5",
            config: config("field", vec![32, 32], 5, Architecture::Unet2d(unet)),
            batch: 4 * 12,
            batch_note: "4 samples × 12 windows",
            training_batch: 32,
        });
        let kolmogorov = UnetConfig { channels: vec![16, 32, 64], blocks: 1, ..UnetConfig::default() };
        cases.push(Case {
            name: "U-Net 2-D 16,32,64 ×1 (kolmogorov-k2), window 5",
            config: config("kolmogorov", vec![32, 32], 5, Architecture::Unet2d(kolmogorov)),
            batch: 8 * 12,
            batch_note: "8 samples × 12 windows",
            training_batch: 32,
        });
    }

    // The reference: a plain f32 matrix product of the MLP's hidden-layer shape, timed before and
    // after the networks; the faster of the two is used, so ratios are conservative.
    let (m, k, n) = (64 * 61, 256, 256);
    let a = Tensor::randn(0f32, 1.0, (m, k), &device)?;
    let b = Tensor::randn(0f32, 1.0, (k, n), &device)?;
    let time_matmul = || {
        median_time(args.repeats, || {
            a.matmul(&b)?.sum_all()?.to_scalar::<f32>()?;
            Ok(())
        })
    };
    let before = time_matmul()?;
    let selected = |name: &str| args.only.as_ref().is_none_or(|only| name.contains(only.as_str()));
    let mut rows = Vec::new();
    for case in &cases {
        // Each network by candle's autograd (what training runs) and, where its weights are
        // constants, by the direct kernels (what sampling runs), from the same input.
        const WAYS: [(&str, bool, f64); 4] = [
            ("forward", false, 1.0),
            ("forward + input gradient", false, 2.0),
            ("direct kernels: forward", true, 1.0),
            ("direct kernels: forward + input gradient", true, 2.0),
        ];
        let row_name = |what: &str| format!("{} {what}", case.name);
        if !WAYS.iter().any(|(what, ..)| selected(&row_name(what))) {
            continue;
        }
        let net = detached_network(&case.config, &device).with_context(|| case.name)?;
        let shape: Vec<usize> = [vec![case.batch, case.config.window], case.config.state_shape.clone()].concat();
        let x = Tensor::randn(0f32, 1.0, shape.as_slice(), &device)?;
        let values: Vec<f32> = x.flatten_all()?.to_vec1()?;
        let times = Tensor::full(0.5f32, case.batch, &device)?;
        let flops = ScoreNetwork::flops_per_window(&case.config) * case.batch as f64;
        for (what, direct, passes) in WAYS {
            if !selected(&row_name(what)) {
                continue;
            }
            let time = match (direct, net.frozen::<f32>(), passes > 1.0) {
                (false, _, false) => median_time(args.repeats, || {
                    net.forward(&x, &times)?.sum_all()?.to_scalar::<f32>()?;
                    Ok(())
                })?,
                (false, _, true) => median_time(args.repeats, || {
                    let var = Var::from_tensor(&x)?;
                    let grads = net.forward(var.as_tensor(), &times)?.sqr()?.sum_all()?.backward()?;
                    grads.get(var.as_tensor()).context("no input gradient")?.sum_all()?.to_scalar::<f32>()?;
                    Ok(())
                })?,
                (true, Some(frozen), false) => median_time(args.repeats, || {
                    frozen.forward(&values, case.batch, 0.5)?;
                    Ok(())
                })?,
                (true, Some(frozen), true) => median_time(args.repeats, || {
                    let (y, tape) = frozen.forward(&values, case.batch, 0.5)?;
                    tape.vjp(&y)?;
                    Ok(())
                })?,
                (true, None, _) => continue,
            };
            rows.push((row_name(what), case.batch_note, time, passes * flops));
        }
    }
    for case in &cases {
        training_rows(case, args.repeats, &device, &selected, &mut rows).with_context(|| case.name)?;
    }
    if selected("Lorenz-63 k4 composed score") {
        lorenz63_evaluation_rows(args.repeats, &device, &mut rows)?;
    }
    // One 3×3 circular convolution layer as the 2-D U-Net uses it: candle's conv2d on explicitly
    // padded input (two `cat`s) against the im2col + GEMM custom op.
    for (batch, c) in [(96, 16), (96, 32), (32, 64)] {
        let x = Tensor::randn(0f32, 1.0, (batch, c, 32, 32), &device)?;
        let w = Tensor::randn(0f32, 0.1, (c, c, 3, 3), &device)?;
        let flops = 2.0 * (batch * c * c * 9 * 32 * 32) as f64;
        let candle_conv = |x: &Tensor, w: &Tensor| circular_pad(&circular_pad(x, 2, 1)?, 3, 1)?.conv2d(w, 0, 1, 1, 1);
        type ConvFn<'a> = &'a dyn Fn(&Tensor, &Tensor) -> candle_core::Result<Tensor>;
        let ways: [(&str, ConvFn); 2] =
            [("candle conv2d + cat padding", &candle_conv), ("im2col + GEMM op", &circular_conv2d)];
        for (way, conv) in ways {
            let name = format!("conv 3×3 {c}→{c} on 32×32, {way}");
            if !selected(&name) {
                continue;
            }
            let forward = median_time(args.repeats, || {
                conv(&x, &w)?.sum_all()?.to_scalar::<f32>()?;
                Ok(())
            })?;
            let input_grad = median_time(args.repeats, || {
                let var = Var::from_tensor(&x)?;
                let grads = conv(var.as_tensor(), &w)?.sqr()?.sum_all()?.backward()?;
                grads.get(var.as_tensor()).context("no input gradient")?.sum_all()?.to_scalar::<f32>()?;
                Ok(())
            })?;
            let both_grads = median_time(args.repeats, || {
                let (xv, wv) = (Var::from_tensor(&x)?, Var::from_tensor(&w)?);
                let grads = conv(xv.as_tensor(), wv.as_tensor())?.sqr()?.sum_all()?.backward()?;
                grads.get(wv.as_tensor()).context("no weight gradient")?.sum_all()?.to_scalar::<f32>()?;
                Ok(())
            })?;
            let note = if batch == 96 { "96 (8 samples × 12 windows)" } else { "32 (a training batch)" };
            rows.push((format!("{name}: forward"), note, forward, flops));
            rows.push((format!("{name}: forward + input gradient"), note, input_grad, 2.0 * flops));
            rows.push((format!("{name}: forward + both gradients"), note, both_grads, 3.0 * flops));
        }
    }
    let after = time_matmul()?;
    let reference = before.min(after);
    let matmul_rate = 2.0 * (m * k * n) as f64 / reference.as_secs_f64() / 1e9;
    println!("\n| measurement | batch | time | GFLOP/s | % of matmul |");
    println!("| --- | --- | ---: | ---: | ---: |");
    println!(
        "| matmul {m}×{k} · {k}×{n} (f32), faster of {:.2} / {:.2} ms | — | {:.2} ms | {matmul_rate:.1} | 100% |",
        before.as_secs_f64() * 1e3,
        after.as_secs_f64() * 1e3,
        reference.as_secs_f64() * 1e3
    );
    for (name, batch, time, work) in rows {
        let rate = work / time.as_secs_f64() / 1e9;
        println!(
            "| {name} | {batch} | {:.2} ms | {rate:.1} | {:.0}% |",
            time.as_secs_f64() * 1e3,
            100.0 * rate / matmul_rate
        );
    }
    println!("\nFLOPs count the matrix products and convolutions only (2 per multiply-add); the input gradient");
    println!("costs one more pass of the same products, so forward + input gradient counts twice the forward,");
    println!("and forward + both gradients (training) three times.");
    Ok(())
}
