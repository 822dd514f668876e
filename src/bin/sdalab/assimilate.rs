//! `sdalab assimilate`: the posterior ensemble of a scenario, written as `.npy`.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::{Args, ValueEnum};
use sdalab::baselines::{AnalysisForm, ClassicalMethod, EnsembleSmoother, FourDVar, ParticleSmoother, Resampling};
use sdalab::dynamics::System;
use sdalab::ensemble::Ensemble;
use sdalab::export::{read_npy_f32, write_npy_f32};
use sdalab::metrics::find_modes;
use sdalab::pipeline::{
    Defaults, FirstGuesses, PriorSpec, Priors, SamplerSetup, check_posterior_budget, run_classical, sda_posterior,
};
use sdalab::scenario::{GuidanceRule, SamplerSettings, Scenario};

use crate::{checkpoints, output_path, progress};

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
#[command(allow_negative_numbers = true)]
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
    /// Multiplicative inflation of the EnKS analysis anomalies (1 to 10; 1 is none).
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
    pub guidance: Option<GuidanceRule>,
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
    let flags = SamplerSettings {
        samples: args.samples.map(|v| v as u64),
        steps: args.steps.map(|v| v as u64),
        corrections: args.corrections.map(|v| v as u64),
        tau: args.tau,
        gamma: args.gamma,
        seed: args.seed,
        guidance: args.guidance,
        zeta: args.zeta,
        mmps_iterations: args.mmps_iterations.map(|v| v as u64),
        // --checkpoint names a folder, checked where the prior is loaded.
        model: None,
    };
    flags.check(&|field| format!("--{}", field.replace('_', "-")))?;
    let from_file = scenario.sampler.clone().unwrap_or_default();
    let setup = SamplerSetup::resolve(&Defaults::BATCH, &[&flags, &from_file])?;
    let plan = &setup.plan;
    let method = match args.method {
        Method::Sda => None,
        Method::Particle => {
            ensure!(args.particles >= 1, "--particles must be at least 1");
            Some(ClassicalMethod::ParticleSmoother(ParticleSmoother {
                particles: args.particles,
                keep: plan.samples,
                resampling: match args.resampling {
                    ResamplingKind::Systematic => Resampling::Systematic,
                    ResamplingKind::Multinomial => Resampling::Multinomial,
                },
                seed: plan.seed,
            }))
        }
        Method::Enks => Some(ClassicalMethod::EnsembleSmoother(ensemble_smoother(args, &setup)?)),
        Method::FourDVar => {
            ensure!(args.iterations >= 1, "--iterations must be at least 1");
            Some(ClassicalMethod::FourDVar(FourDVar { max_iterations: args.iterations, ..FourDVar::default() }))
        }
    };
    match method {
        Some(method) => run_method(args, &scenario, &setup, &method),
        None => run_sda(args, &scenario, &setup),
    }
}

/// `--method sda`: the posterior ensemble of the diffusion prior.
fn run_sda(args: &AssimilateArgs, scenario: &Scenario, setup: &SamplerSetup) -> anyhow::Result<()> {
    let plan = &setup.plan;
    check_posterior_budget(scenario, plan.samples)?;
    let spec = match &scenario.system {
        System::Linear(_) => {
            ensure!(args.checkpoint.is_none(), "--checkpoint is not used for the linear system: its score is exact");
            let window = if args.window == "full" {
                None
            } else {
                Some(
                    args.window
                        .parse()
                        .with_context(|| format!("--window must be `full` or an odd number, got `{}`", args.window))?,
                )
            };
            PriorSpec::ExactLinear { window }
        }
        other => {
            ensure!(args.window == "full", "--window is only for the linear system; a checkpoint fixes its own window");
            match &args.checkpoint {
                Some(dir) => PriorSpec::Checkpoint(dir.clone()),
                None => match scenario.sampler.as_ref().and_then(|s| s.model.as_ref()) {
                    // The scenario names its model: a folder among the bundled checkpoints.
                    Some(name) => PriorSpec::Checkpoint(checkpoints::bundled_dir().join(name)),
                    None => PriorSpec::default_for(other, &checkpoints::bundled_dir())?,
                },
            }
        }
    };
    let mut priors = Priors::new();
    let prior = priors.score(&spec, scenario)?;
    let chain = scenario.system.chain();
    eprintln!("device: {}", priors.device_name());
    eprintln!("prior: {}", prior.description);
    eprintln!(
        "sampling {} × {} states of {}: {} steps, {} corrections, τ = {}, guidance {:?}, {} observations, seed {}",
        plan.samples,
        scenario.length,
        chain.name(),
        plan.steps,
        plan.corrections,
        plan.tau,
        setup.guidance,
        scenario.observations.len(),
        plan.seed
    );
    let started = Instant::now();
    let bar = progress::bar(plan.steps as u64, "steps");
    let ensemble =
        sda_posterior(scenario, prior.score.as_ref(), setup, priors.device(), &AtomicBool::new(false), &mut |s| {
            bar.set_position(s.step as u64)
        })?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    if args.modes {
        print_modes(&ensemble, plan.seed);
    }
    write_npy_f32(&args.out, &ensemble.shape(), ensemble.convert::<f32>().values())?;
    eprintln!(
        "wrote {} with shape {:?} in {:.2} s ({} network evaluations)",
        args.out.display(),
        ensemble.shape(),
        elapsed.as_secs_f64(),
        plan.evaluations()
    );
    Ok(())
}

/// `--method enks|particle|4dvar`: a classical method on the same scenario.
fn run_method(
    args: &AssimilateArgs,
    scenario: &Scenario,
    setup: &SamplerSetup,
    method: &ClassicalMethod,
) -> anyhow::Result<()> {
    let chain = scenario.system.chain();
    if let ClassicalMethod::FourDVar(_) = method {
        // A system without an adjoint is refused before any first guess is made.
        FourDVar::check_supported(chain)?;
    }
    // 4D-Var's first guesses: an ensemble file, else a square-root EnKS of --samples members.
    let file_guesses = match (method, &args.starts) {
        (ClassicalMethod::FourDVar(_), Some(path)) => {
            let array = read_npy_f32(path).with_context(|| path.display().to_string())?;
            let expected: Vec<usize> = [vec![scenario.length], chain.state_shape()].concat();
            ensure!(
                array.shape.len() == expected.len() + 1 && array.shape[1..] == expected[..],
                "{}: shape {:?} is not (N, {})",
                path.display(),
                array.shape,
                expected.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(", ")
            );
            let values: Vec<f64> = array.data.iter().map(|&v| v as f64).collect();
            Some(Ensemble::new(values, array.shape[0], scenario.length, &chain.state_shape())?)
        }
        _ => None,
    };
    let smoother = match method {
        ClassicalMethod::FourDVar(_) if file_guesses.is_none() => Some(ensemble_smoother(args, setup)?),
        _ => None,
    };
    let first_guesses = match (&file_guesses, &smoother) {
        (Some(members), _) => Some(FirstGuesses::Members(members)),
        (None, Some(s)) => Some(FirstGuesses::Smoother(s)),
        (None, None) => None,
    };
    let (length, name) = (scenario.length, chain.name());
    match method {
        ClassicalMethod::ParticleSmoother(p) => eprintln!(
            "particle smoother on {length} states of {name}: {} particles, {:?} resampling, {} paths kept, seed {}",
            p.particles, p.resampling, p.keep, p.seed
        ),
        ClassicalMethod::EnsembleSmoother(s) => eprintln!(
            "ensemble Kalman smoother on {length} states of {name}: {} members, {} analysis, inflation {}, rotation {}, seed {}",
            s.members,
            s.form.name(),
            s.inflation,
            if s.rotate { "on" } else { "off" },
            s.seed
        ),
        ClassicalMethod::FourDVar(settings) => eprintln!(
            "weak-constraint 4D-Var on {length} states of {name}: L-BFGS (memory {}), at most {} iterations per first guess",
            settings.memory, settings.max_iterations
        ),
    }
    let started = Instant::now();
    let bar = progress::bar(scenario.length as u64, "states");
    let run = run_classical(method, scenario, first_guesses, &AtomicBool::new(false), &|p| {
        bar.set_length(p.total as u64);
        bar.set_position(p.done as u64);
    })?;
    bar.finish_and_clear();
    let elapsed = started.elapsed();
    for line in run.details.iter().chain(&run.notes) {
        eprintln!("{line}");
    }
    if args.modes {
        print_modes(&run.ensemble, setup.plan.seed);
    }
    write_ensemble(&args.out, scenario, &run.ensemble, elapsed.as_secs_f64())
}

fn ensemble_smoother(args: &AssimilateArgs, setup: &SamplerSetup) -> anyhow::Result<EnsembleSmoother> {
    ensure!(setup.plan.samples >= 2, "the ensemble Kalman smoother needs --samples of at least 2");
    ensure!(
        args.inflation.is_finite() && (1.0..=10.0).contains(&args.inflation),
        "--inflation must be between 1 and 10"
    );
    Ok(EnsembleSmoother {
        members: setup.plan.samples,
        form: match args.form {
            FormKind::Sqrt => AnalysisForm::SquareRoot,
            FormKind::Stochastic => AnalysisForm::Stochastic,
            FormKind::Denkf => AnalysisForm::Deterministic,
        },
        inflation: args.inflation,
        rotate: args.rotate,
        seed: setup.plan.seed,
    })
}

/// Writes a classical method's ensemble and prints its scores against the scenario.
fn write_ensemble(out: &Path, scenario: &Scenario, ensemble: &Ensemble, seconds: f64) -> anyhow::Result<()> {
    if let Some(ll) = ensemble.mean_log_likelihood(&scenario.observations) {
        eprintln!("mean log-likelihood of the members: {ll:.3}");
    }
    if let Some(s) = scenario.truth.as_deref().and_then(|truth| ensemble.skill(truth)) {
        eprintln!("against the stored truth: RMSE of the mean {:.3}, spread {:.3}", s.rmse, s.spread);
    }
    write_npy_f32(out, &ensemble.shape(), ensemble.convert::<f32>().values())?;
    eprintln!("wrote {} with shape {:?} in {seconds:.2} s", out.display(), ensemble.shape());
    Ok(())
}

/// Prints the ensemble's posterior modes: weight, size, and distances between mode means.
fn print_modes(ensemble: &Ensemble, seed: u64) {
    let modes = find_modes(ensemble, ensemble.per_member(), 8, seed);
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
