//! `sdalab assimilate`: the posterior ensemble of a scenario, written as `.npy`.

use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, ensure};
use candle_core::DType;
use clap::{Args, ValueEnum};
use sdalab::baselines::{AnalysisForm, EnsembleSmoother, FourDVar, ParticleSmoother, Resampling};
use sdalab::device::select_device;
use sdalab::dynamics::System;
use sdalab::export::read_npy_f32;
use sdalab::export::write_npy_f32;
use sdalab::metrics::find_modes;
use sdalab::metrics::{mean_log_likelihood, skill};
use sdalab::sampler::{DEFAULT_MMPS_ITERATIONS, Guidance, SamplerPlan, posterior_ensemble};
use sdalab::scenario::{GuidanceRule, MAX_MMPS_ITERATIONS, Scenario};
use sdalab::score::{ComposedNetworkScore, ExactGaussianScore, TrajectoryScore, load_checkpoint_for};

use crate::{checkpoints, output_path, progress};

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum GuidanceKind {
    /// Score-based data assimilation: Gaussian surrogate likelihood with variance inflation γ.
    Sda,
    /// Diffusion posterior sampling: gradient of −ζ·‖y − A(x̂)‖.
    Dps,
    /// Moment-matching posterior sampling: the Tweedie covariance, solved by --mmps-iterations
    /// conjugate-gradient steps (one backward pass each).
    Mmps,
    /// No observations: samples of the prior.
    None,
}

impl From<GuidanceKind> for GuidanceRule {
    fn from(kind: GuidanceKind) -> Self {
        match kind {
            GuidanceKind::Sda => GuidanceRule::Sda,
            GuidanceKind::Dps => GuidanceRule::Dps,
            GuidanceKind::Mmps => GuidanceRule::Mmps,
            GuidanceKind::None => GuidanceRule::None,
        }
    }
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum Method {
    /// Score-based data assimilation (diffusion posterior).
    Sda,
    /// Ensemble Kalman smoother over the whole window (--form, --inflation, --rotate).
    Enks,
    /// Bootstrap particle smoother (resampling whole paths at every observation).
    Particle,
    /// Weak-constraint 4D-Var by L-BFGS, one minimisation per first guess (--starts).
    #[value(name = "4dvar")]
    FourDVar,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormKind {
    /// Ensemble transform (symmetric square root).
    Sqrt,
    /// Perturbed observations.
    Stochastic,
    /// Deterministic EnKF (half gain on the anomalies).
    Denkf,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum ResamplingKind {
    Systematic,
    Multinomial,
}

#[derive(Args, Debug)]
pub struct AssimilateArgs {
    /// Scenario JSON.
    #[arg(long)]
    pub scenario: PathBuf,
    /// Checkpoint folder (default: the bundled one for the scenario's system). Not used for `linear`.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// For `linear`: `full` (exact whole-trajectory score) or a window 2k+1 (composed exact window scores).
    #[arg(long, default_value = "full")]
    pub window: String,
    #[arg(long, value_enum, default_value_t = Method::Sda)]
    pub method: Method,
    /// Particles of the particle smoother (`--method particle`); --samples paths are kept.
    #[arg(long, default_value_t = 16384)]
    pub particles: usize,
    /// Resampling of the particle smoother.
    #[arg(long, value_enum, default_value_t = ResamplingKind::Systematic)]
    pub resampling: ResamplingKind,
    /// Analysis of the ensemble Kalman smoother (`--method enks`).
    #[arg(long, value_enum, default_value_t = FormKind::Sqrt)]
    pub form: FormKind,
    /// Multiplicative inflation of the EnKS analysis anomalies.
    #[arg(long, default_value_t = 1.0)]
    pub inflation: f64,
    /// Random mean-preserving rotation of the EnKS members after each analysis.
    #[arg(long)]
    pub rotate: bool,
    /// First guesses of 4D-Var: an ensemble .npy (N, L, state…), e.g. SDA's members. Without it,
    /// the members of a square-root EnKS run (--samples of them).
    #[arg(long)]
    pub starts: Option<PathBuf>,
    /// Most L-BFGS iterations per 4D-Var start.
    #[arg(long, default_value_t = 500)]
    pub iterations: u64,
    /// Ensemble size (members of SDA and the EnKS, paths kept by the particle smoother).
    #[arg(long)]
    pub samples: Option<usize>,
    /// Predictor steps.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Langevin corrections per step.
    #[arg(long)]
    pub corrections: Option<usize>,
    /// Langevin step size.
    #[arg(long)]
    pub tau: Option<f64>,
    /// SDA variance inflation.
    #[arg(long)]
    pub gamma: Option<f64>,
    /// DPS step scale (default 1).
    #[arg(long)]
    pub zeta: Option<f64>,
    /// Guidance rule (default: the scenario's, else sda).
    #[arg(long, value_enum)]
    pub guidance: Option<GuidanceKind>,
    /// Conjugate-gradient iterations of MMPS per network evaluation.
    #[arg(long)]
    pub mmps_iterations: Option<usize>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Cluster the ensemble into posterior modes and print them.
    #[arg(long)]
    pub modes: bool,
    /// Output .npy: float32 (samples, length, state…), physical units.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &AssimilateArgs) -> anyhow::Result<()> {
    output_path::check(&args.out)?;
    let scenario = Scenario::load(&args.scenario).with_context(|| args.scenario.display().to_string())?;
    let from_file = scenario.sampler.clone().unwrap_or_default();
    let plan = SamplerPlan {
        samples: args.samples.or(from_file.samples.map(|v| v as usize)).unwrap_or(64),
        steps: args.steps.or(from_file.steps.map(|v| v as usize)).unwrap_or(256),
        corrections: args.corrections.or(from_file.corrections.map(|v| v as usize)).unwrap_or(1),
        tau: args.tau.or(from_file.tau).unwrap_or(0.25),
        seed: args.seed.or(from_file.seed).unwrap_or(0),
    };
    let gamma = args.gamma.or(from_file.gamma).unwrap_or(1e-2);
    let zeta = args.zeta.or(from_file.zeta).unwrap_or(1.0);
    let iterations = args
        .mmps_iterations
        .or(from_file.mmps_iterations.and_then(|n| usize::try_from(n).ok()))
        .unwrap_or(DEFAULT_MMPS_ITERATIONS);
    ensure!(plan.samples >= 1 && plan.steps >= 1, "--samples and --steps must be at least 1");
    ensure!(plan.tau.is_finite() && plan.tau > 0.0, "--tau must be positive");
    ensure!(gamma.is_finite() && gamma >= 0.0, "--gamma must be non-negative");
    ensure!(zeta.is_finite() && zeta > 0.0, "--zeta must be positive");
    ensure!(
        (1..=MAX_MMPS_ITERATIONS as usize).contains(&iterations),
        "--mmps-iterations must be between 1 and {MAX_MMPS_ITERATIONS}"
    );
    let guidance = match args.guidance.map(GuidanceRule::from).or(from_file.guidance).unwrap_or(GuidanceRule::Sda) {
        GuidanceRule::Sda => Guidance::Sda { gamma },
        GuidanceRule::Dps => Guidance::Dps { zeta },
        GuidanceRule::Mmps => Guidance::Mmps { iterations },
        GuidanceRule::None => Guidance::Prior,
    };

    match args.method {
        Method::Particle => return run_particle(args, &scenario, &plan),
        Method::Enks => return run_enks(args, &scenario, &plan),
        Method::FourDVar => return run_four_d_var(args, &scenario, &plan),
        Method::Sda => {}
    }
    let (device, device_name) = select_device();
    let chain = scenario.system.chain();
    let (score, model_name): (Box<dyn TrajectoryScore>, String) = match &scenario.system {
        System::Linear(model) => {
            ensure!(args.checkpoint.is_none(), "--checkpoint is not used for the linear system: its score is exact");
            let prior = model.trajectory_prior(scenario.length);
            if args.window == "full" {
                (
                    Box::new(ExactGaussianScore::whole(&prior, chain.normalisation(), DType::F32, &device)?),
                    "exact whole-trajectory score".into(),
                )
            } else {
                let window: usize = args
                    .window
                    .parse()
                    .with_context(|| format!("--window must be `full` or an odd number, got `{}`", args.window))?;
                let score = ExactGaussianScore::composed(&prior, chain.normalisation(), window, DType::F32, &device)?;
                (Box::new(score), format!("exact window scores composed, window {window}"))
            }
        }
        other => {
            ensure!(args.window == "full", "--window is only for the linear system; a checkpoint fixes its own window");
            let dir = match &args.checkpoint {
                Some(dir) => dir.clone(),
                None => checkpoints::default_for(other.name())
                    .with_context(|| format!("no default checkpoint for `{}`: pass --checkpoint", other.name()))?,
            };
            let checkpoint = load_checkpoint_for(&dir, chain, scenario.length, &device)?;
            let config = &checkpoint.config;
            let name = format!("{} (window {})", dir.display(), config.window);
            (Box::new(ComposedNetworkScore::new(checkpoint.network, config.window)?), name)
        }
    };

    let dim = chain.state_dim();
    eprintln!("device: {device_name}");
    eprintln!("prior: {model_name}");
    eprintln!(
        "sampling {} × {} states of {}: {} steps, {} corrections, τ = {}, guidance {:?}, {} observations, seed {}",
        plan.samples,
        scenario.length,
        chain.name(),
        plan.steps,
        plan.corrections,
        plan.tau,
        guidance,
        scenario.observations.len(),
        plan.seed
    );
    let started = Instant::now();
    let bar = progress::bar(plan.steps as u64, "steps");
    let values = posterior_ensemble(
        chain,
        scenario.length,
        &scenario.observations,
        score.as_ref(),
        guidance,
        &plan,
        &device,
        &AtomicBool::new(false),
        &mut |s| bar.set_position(s.step as u64),
    )?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let trajectory_shape: Vec<usize> = [vec![scenario.length], chain.state_shape()].concat();
    if args.modes {
        print_modes(&values, scenario.length * dim, plan.seed);
    }
    let values: Vec<f32> = values.into_iter().map(|v| v as f32).collect();
    let shape: Vec<usize> = [vec![plan.samples], trajectory_shape].concat();
    write_npy_f32(&args.out, &shape, &values)?;
    eprintln!(
        "wrote {} with shape {shape:?} in {:.2} s ({} network evaluations)",
        args.out.display(),
        elapsed.as_secs_f64(),
        plan.evaluations()
    );
    Ok(())
}

/// `--method particle`: the bootstrap particle smoother on the same scenario.
fn run_particle(args: &AssimilateArgs, scenario: &Scenario, plan: &SamplerPlan) -> anyhow::Result<()> {
    ensure!(args.particles >= 1, "--particles must be at least 1");
    let chain = scenario.system.chain();
    let smoother = ParticleSmoother {
        particles: args.particles,
        keep: plan.samples,
        resampling: match args.resampling {
            ResamplingKind::Systematic => Resampling::Systematic,
            ResamplingKind::Multinomial => Resampling::Multinomial,
        },
        seed: plan.seed,
    };
    eprintln!(
        "particle smoother on {} states of {}: {} particles, {:?} resampling, {} paths kept, seed {}",
        scenario.length,
        chain.name(),
        smoother.particles,
        smoother.resampling,
        smoother.keep,
        smoother.seed
    );
    let started = Instant::now();
    let bar = progress::bar(scenario.length as u64, "states");
    let out = smoother.run(chain, scenario.length, &scenario.observations, &|t| bar.set_position(t as u64));
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let ess: Vec<String> = out.ess.iter().map(|(t, e)| format!("{t}:{e:.0}")).collect();
    eprintln!("effective sample size per observed state: {}", ess.join(" "));
    eprintln!(
        "{} distinct ancestors of state 0 among the kept paths; log p(y) ≈ {:.3}",
        out.distinct_roots, out.log_evidence
    );
    if args.modes {
        print_modes(&out.paths, scenario.length * chain.state_dim(), plan.seed);
    }
    write_ensemble(&args.out, scenario, &out.paths, smoother.keep, elapsed.as_secs_f64())
}

/// `--method enks`: the ensemble Kalman smoother on the same scenario.
fn run_enks(args: &AssimilateArgs, scenario: &Scenario, plan: &SamplerPlan) -> anyhow::Result<()> {
    let smoother = ensemble_smoother(args, plan)?;
    let chain = scenario.system.chain();
    eprintln!(
        "ensemble Kalman smoother on {} states of {}: {} members, {} analysis, inflation {}, rotation {}, seed {}",
        scenario.length,
        chain.name(),
        smoother.members,
        smoother.form.name(),
        smoother.inflation,
        if smoother.rotate { "on" } else { "off" },
        smoother.seed
    );
    let started = Instant::now();
    let bar = progress::bar(scenario.length as u64, "states");
    let out = smoother.run(chain, scenario.length, &scenario.observations, &|t| bar.set_position(t as u64))?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    for note in &out.notes {
        eprintln!("note: {note}");
    }
    if args.modes {
        print_modes(&out.paths, scenario.length * chain.state_dim(), plan.seed);
    }
    write_ensemble(&args.out, scenario, &out.paths, smoother.members, elapsed.as_secs_f64())
}

fn ensemble_smoother(args: &AssimilateArgs, plan: &SamplerPlan) -> anyhow::Result<EnsembleSmoother> {
    ensure!(plan.samples >= 2, "the ensemble Kalman smoother needs --samples of at least 2");
    ensure!(args.inflation.is_finite() && args.inflation > 0.0, "--inflation must be positive");
    Ok(EnsembleSmoother {
        members: plan.samples,
        form: match args.form {
            FormKind::Sqrt => AnalysisForm::SquareRoot,
            FormKind::Stochastic => AnalysisForm::Stochastic,
            FormKind::Denkf => AnalysisForm::Deterministic,
        },
        inflation: args.inflation,
        rotate: args.rotate,
        seed: plan.seed,
    })
}

/// `--method 4dvar`: one L-BFGS minimisation of the weak-constraint cost per first guess.
fn run_four_d_var(args: &AssimilateArgs, scenario: &Scenario, plan: &SamplerPlan) -> anyhow::Result<()> {
    ensure!(args.iterations >= 1, "--iterations must be at least 1");
    let chain = scenario.system.chain();
    let per_member = scenario.length * chain.state_dim();
    // A system without an adjoint is refused before any first guess is made.
    FourDVar::check_supported(chain)?;
    let started = Instant::now();
    let first_guesses: Vec<Vec<f64>> = match &args.starts {
        Some(path) => {
            let array = read_npy_f32(path).with_context(|| path.display().to_string())?;
            let expected: Vec<usize> = [vec![scenario.length], chain.state_shape()].concat();
            ensure!(
                array.shape.len() == expected.len() + 1 && array.shape[1..] == expected[..],
                "{}: shape {:?} is not (N, {})",
                path.display(),
                array.shape,
                expected.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
            );
            eprintln!("first guesses: the {} members of {}", array.shape[0], path.display());
            array.data.chunks_exact(per_member).map(|m| m.iter().map(|&v| v as f64).collect()).collect()
        }
        None => {
            let smoother = EnsembleSmoother { form: AnalysisForm::SquareRoot, ..ensemble_smoother(args, plan)? };
            eprintln!("first guesses: {} members of a square-root ensemble Kalman smoother", smoother.members);
            let out = smoother.run(chain, scenario.length, &scenario.observations, &|_| {})?;
            out.paths.chunks_exact(per_member).map(<[f64]>::to_vec).collect()
        }
    };
    ensure!(!first_guesses.is_empty(), "no first guess to start 4D-Var from");
    let settings = FourDVar { max_iterations: args.iterations, ..FourDVar::default() };
    eprintln!(
        "weak-constraint 4D-Var on {} states of {}: L-BFGS (memory {}) from {} first guesses, at most {} iterations each",
        scenario.length,
        chain.name(),
        settings.memory,
        first_guesses.len(),
        settings.max_iterations
    );
    let bar = progress::bar(first_guesses.len() as u64, "starts");
    let minima = settings.minimise_all(
        chain,
        scenario.length,
        &scenario.observations,
        &first_guesses,
        &AtomicBool::new(false),
        &|done| bar.set_position(done as u64),
    )?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    let converged = minima.iter().filter(|m| m.converged).count();
    let mut costs: Vec<f64> = minima.iter().map(|m| m.cost).collect();
    costs.sort_by(f64::total_cmp);
    eprintln!(
        "{converged} of {} starts converged; lowest cost {:.3}, median {:.3} (cost = −log posterior density + const)",
        minima.len(),
        costs[0],
        costs[costs.len() / 2]
    );
    let values: Vec<f64> = minima.iter().flat_map(|m| m.trajectory.iter().copied()).collect();
    if args.modes {
        print_modes(&values, per_member, plan.seed);
    }
    write_ensemble(&args.out, scenario, &values, minima.len(), elapsed.as_secs_f64())
}

/// Writes a classical method's ensemble and prints its scores against the scenario.
fn write_ensemble(
    out: &std::path::Path,
    scenario: &Scenario,
    values: &[f64],
    members: usize,
    seconds: f64,
) -> anyhow::Result<()> {
    let chain = scenario.system.chain();
    let d = chain.state_dim();
    if let Some(ll) = mean_log_likelihood(&scenario.observations, values, scenario.length, d) {
        eprintln!("mean log-likelihood of the members: {ll:.3}");
    }
    if let Some(s) = scenario.truth.as_deref().and_then(|truth| skill(values, truth)) {
        eprintln!("against the stored truth: RMSE of the mean {:.3}, spread {:.3}", s.rmse, s.spread);
    }
    let shape: Vec<usize> = [vec![members, scenario.length], chain.state_shape()].concat();
    let floats: Vec<f32> = values.iter().map(|v| *v as f32).collect();
    write_npy_f32(out, &shape, &floats)?;
    eprintln!("wrote {} with shape {shape:?} in {seconds:.2} s", out.display());
    Ok(())
}

/// Prints the ensemble's posterior modes: weight, size, and distances between mode means.
fn print_modes(ensemble: &[f64], dim: usize, seed: u64) {
    let modes = find_modes(ensemble, dim, 8, seed);
    println!("{} posterior mode(s):", modes.len());
    for (i, m) in modes.iter().enumerate() {
        let distances: Vec<String> = modes
            .iter()
            .map(|o| format!("{:.1}", m.mean.iter().zip(&o.mean).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt()))
            .collect();
        println!(
            "  mode {i}: weight {:.3}, {} members, distance of its mean to each mode's: [{}]",
            m.weight,
            m.members.len(),
            distances.join(", ")
        );
    }
}
