//! `sdalab train`: denoising score matching of a local score network, resumable.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Args;
use sdalab::budget::MemoryBudget;
use sdalab::device::select_device;
use sdalab::dynamics::System;
use sdalab::dynamics::{Normalisation, simulate_ensemble};
use sdalab::export::{LossRow, PriorCheckRow, plot_loss_png, read_loss_csv, read_npy_f32, write_loss_csv};
use sdalab::score::{
    Architecture, ComposedNetworkScore, MlpConfig, ModelConfig, Trainer, TrainerState, TrainingData, TrainingRecord,
    TrainingSettings, UnetConfig,
};

use crate::prior_check::{PriorSampling, Reference, sample_prior};
use crate::progress;
use crate::system_arg::SystemArg;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct TrainArgs {
    #[command(flatten)]
    pub system: SystemArg,
    /// Window 2k+1 in states (odd, ≥ 3).
    #[arg(long, default_value_t = 5)]
    pub window: usize,
    /// Network: `mlp` (flat states), `unet1d` (rings such as Lorenz-96), `unet2d` (fields).
    #[arg(long, default_value = "mlp")]
    pub arch: String,
    /// U-Net channels per level, finest first.
    #[arg(long, value_delimiter = ',', default_value = "32,64")]
    pub channels: Vec<usize>,
    /// U-Net residual blocks per level.
    #[arg(long, default_value_t = 2)]
    pub blocks: usize,
    /// U-Net convolution kernel size.
    #[arg(long, default_value_t = 3)]
    pub kernel: usize,
    /// Hidden width of the residual MLP.
    #[arg(long, default_value_t = 256)]
    pub width: usize,
    /// Residual blocks.
    #[arg(long, default_value_t = 5)]
    pub depth: usize,
    /// Width of the time embedding.
    #[arg(long, default_value_t = 64)]
    pub embedding: usize,
    /// Optimisation steps.
    #[arg(long, default_value_t = 10_000)]
    pub steps: usize,
    /// Windows per step.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
    /// Initial learning rate (decays linearly to 0).
    #[arg(long, default_value_t = 1e-3)]
    pub lr: f64,
    #[arg(long, default_value_t = 1e-3)]
    pub weight_decay: f64,
    /// Simulated training trajectories (ignored with --data).
    #[arg(long, default_value_t = 1024)]
    pub trajectories: usize,
    /// States per simulated trajectory.
    #[arg(long, default_value_t = 1024)]
    pub length: usize,
    /// Train on a `simulate` file (N, L, state…) instead of simulating.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Seed of the simulated data.
    #[arg(long, default_value_t = 0)]
    pub data_seed: u64,
    /// Seed of the batches and initial weights' data order.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Fraction of trajectories held out for validation.
    #[arg(long, default_value_t = 0.1)]
    pub valid_fraction: f64,
    /// Steps between validation-loss evaluations (rows of loss.csv).
    #[arg(long, default_value_t = 100)]
    pub log_every: usize,
    /// Steps between checkpoints.
    #[arg(long, default_value_t = 1000)]
    pub save_every: usize,
    /// Decay of the moving average of the weights that checkpoints hold (0: no averaging).
    #[arg(long, default_value_t = 0.999)]
    pub ema_decay: f64,
    /// Steps between checks of unconditional samples of the averaged weights against the
    /// simulator (columns `prior_*` of loss.csv); 0: never.
    #[arg(long, default_value_t = 5000)]
    pub check_every: usize,
    /// Unconditional trajectories per check (default: 64 for Lorenz systems, 8 for Kolmogorov).
    #[arg(long)]
    pub check_samples: Option<usize>,
    /// Predictor steps of the checks' sampler (one Langevin correction each).
    #[arg(long, default_value_t = 64)]
    pub check_steps: usize,
    /// Stop (with a checkpoint) after this many steps in this invocation; continue with --resume.
    #[arg(long)]
    pub stop_after: Option<usize>,
    /// Continue the run saved in --out from its last checkpoint.
    #[arg(long)]
    pub resume: bool,
    /// Checkpoint folder (created).
    #[arg(long)]
    pub out: PathBuf,
}

/// Most optimiser steps a run may ask for: weeks of training on this machine (runs resume).
const MAX_TRAINING_STEPS: usize = 100_000_000;

/// Windows in the fixed validation batch.
const VALIDATION_WINDOWS: usize = 4096;

pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    crate::keep_freed_memory();
    crate::output_path::check_dir(&args.out)?;
    let state_path = args.out.join(TrainerState::FILE);
    if args.resume {
        ensure!(state_path.is_file(), "{}: nothing to resume (no {})", args.out.display(), TrainerState::FILE);
    } else if state_path.is_file() || args.out.join("model.safetensors").is_file() {
        bail!(
            "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
            args.out.display()
        );
    }
    ensure!((1..=MAX_TRAINING_STEPS).contains(&args.steps), "--steps must be between 1 and {MAX_TRAINING_STEPS}");
    ensure!(args.batch >= 1, "--batch must be at least 1");
    ensure!(args.log_every >= 1 && args.save_every >= 1, "--log-every and --save-every must be at least 1");
    ensure!(args.lr.is_finite() && args.lr > 0.0, "--lr must be positive");
    ensure!((0.0..1.0).contains(&args.ema_decay), "--ema-decay must be in [0, 1)");
    ensure!(
        args.weight_decay.is_finite() && args.weight_decay >= 0.0,
        "--weight-decay must be finite and non-negative"
    );
    ensure!(
        args.valid_fraction.is_finite() && args.valid_fraction > 0.0 && args.valid_fraction < 1.0,
        "--valid-fraction must be between 0 and 1"
    );
    ensure!(
        args.width >= 1 && args.depth >= 1 && args.embedding >= 2,
        "--width and --depth must be at least 1, --embedding at least 2"
    );
    ensure!(
        args.kernel % 2 == 1 && !args.channels.is_empty() && args.channels.iter().all(|&c| c >= 1) && args.blocks >= 1,
        "--kernel must be odd, --channels positive and --blocks at least 1"
    );
    ensure!(args.check_samples.is_none_or(|n| n >= 2), "--check-samples must be at least 2");
    ensure!(
        (1..=sdalab::scenario::MAX_STEPS as usize).contains(&args.check_steps),
        "--check-steps must be between 1 and {}",
        sdalab::scenario::MAX_STEPS
    );
    let system = args.system.load()?;
    let chain = system.chain();
    // The network's activations and gradients for one batch, a few copies each in f32: per window
    // state the MLP holds `width` values per layer, a U-Net `channels` per cell of the state.
    let per_state = match args.arch.as_str() {
        "mlp" => args.width.max(args.embedding),
        _ => chain.state_dim().saturating_mul(args.channels.iter().copied().max().unwrap_or(1)),
    };
    if args.data.is_none() {
        MemoryBudget::of_machine().check(
            "--trajectories × --length",
            &[args.trajectories, args.length, chain.state_dim(), 3],
            8,
        )?;
    }
    MemoryBudget::of_machine().check(
        "--batch × --window × the network's size (--width or --channels, --depth or --blocks)",
        &[args.batch, args.window, per_state, args.depth.max(2 * args.blocks) + 2, 4],
        4,
    )?;
    let (device, device_name) = select_device();

    // What to train: from the saved run on resume, else from the flags.
    let (config, settings, data_description, mut rows, start_elapsed) = if args.resume {
        let config = ModelConfig::load(&args.out.join("config.json"))?;
        let state = TrainerState::load(&args.out)?;
        ensure!(
            config.system == chain.name(),
            "{} trains `{}`, not `{}`",
            args.out.display(),
            config.system,
            chain.name()
        );
        let rows = read_loss_csv(&args.out.join("loss.csv"))?.into_iter().filter(|r| r.step <= state.step).collect();
        (config, state.settings(VALIDATION_WINDOWS), state.data, rows, state.elapsed_seconds)
    } else {
        let config = ModelConfig {
            system: chain.name().into(),
            state_shape: chain.state_shape(),
            window: args.window,
            architecture: architecture(args)?,
            center: chain.normalisation().center().to_vec(),
            scale: chain.normalisation().scale().to_vec(),
            training: None,
        };
        let settings = TrainingSettings {
            steps: args.steps,
            batch: args.batch,
            learning_rate: args.lr,
            weight_decay: args.weight_decay,
            seed: args.seed,
            validation_windows: VALIDATION_WINDOWS,
            ema_decay: args.ema_decay,
        };
        let description = match &args.data {
            Some(path) => format!("file {}", path.display()),
            None => format!(
                "simulated: {} trajectories × {} states, burn-in {}, data seed {}",
                args.trajectories,
                args.length,
                chain.default_burn_in(),
                args.data_seed
            ),
        };
        (config, settings, description, Vec::new(), 0.0)
    };
    ensure!(config.window >= 3 && config.window % 2 == 1, "--window must be odd and at least 3");

    // Data: the same simulation (or file) on resume, so batches continue identically.
    let (values, shape) = match &args.data {
        Some(path) => {
            let array = read_npy_f32(path)?;
            (array.data, array.shape)
        }
        None => {
            ensure!(args.trajectories >= 2, "--trajectories must be at least 2");
            ensure!(args.length >= config.window, "--length must be at least the window ({})", config.window);
            eprintln!("simulating {} trajectories of {} states of {}", args.trajectories, args.length, chain.name());
            let bar = progress::bar(args.trajectories as u64, "trajectories");
            let data = simulate_ensemble(
                chain,
                args.length,
                args.trajectories,
                chain.default_burn_in(),
                args.data_seed,
                &|n| bar.set_position(n),
            );
            bar.finish_and_clear();
            let shape = [vec![args.trajectories, args.length], chain.state_shape()].concat();
            (data.into_iter().map(|v| v as f32).collect(), shape)
        }
    };
    let normalisation = Normalisation::new(config.center.clone(), config.scale.clone());
    let data = TrainingData::new(&values, &shape, &normalisation, args.valid_fraction, &device)?;
    // The linear system's score is exact: there is no learned prior to check.
    let check = if args.check_every > 0 && !matches!(system, System::Linear(_)) {
        Some(PriorCheck::new(&system, args, config.window, &values, &shape)?)
    } else {
        None
    };
    drop(values);
    // The folder is made only once every input has been read and checked.
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let mut trainer = Trainer::new(config.clone(), data, settings.clone(), &device)?;
    if args.resume {
        let state = TrainerState::load(&args.out)?;
        trainer.resume(&args.out, state.step)?;
        eprintln!("resuming {} at step {} of {}", args.out.display(), state.step, settings.steps);
    } else {
        config.save(&args.out.join("config.json"))?;
        rows.push(LossRow::losses(0, f64::NAN, trainer.validation_loss()?, 0.0));
    }
    eprintln!(
        "training {:?} on {device_name}: window {}, {} steps of {} windows, lr {} → 0",
        config.architecture, config.window, settings.steps, settings.batch, settings.learning_rate
    );

    let started = Instant::now();
    let bar = progress::bar(settings.steps as u64, "steps");
    bar.set_position(trainer.step_count() as u64);
    let (mut sum, mut count) = (0.0, 0usize);
    let mut last_validation = rows.last().map(|r| r.validation);
    let stop_at = args.stop_after.map_or(settings.steps, |n| (trainer.step_count() + n).min(settings.steps));
    while trainer.step_count() < stop_at {
        let lr = trainer.learning_rate();
        let loss = trainer.step()?;
        ensure!(loss.is_finite(), "training diverged at step {} (loss {loss})", trainer.step_count());
        sum += loss;
        count += 1;
        let step = trainer.step_count();
        bar.set_position(step as u64);
        let check_now = check.as_ref().filter(|_| step % args.check_every == 0);
        if step % args.log_every == 0 || step == settings.steps || check_now.is_some() {
            let validation = trainer.validation_loss()?;
            let mut row = LossRow::losses(step, sum / count as f64, validation, lr);
            if let Some(check) = check_now {
                bar.set_message("checking unconditional samples");
                row.prior = check.run(&trainer, &device)?;
                bar.suspend(|| {
                    eprintln!(
                        "step {step}: validation loss {validation:.4}, prior std ratio {:.3}, transition log-density \
                         {:.2}, energy factor {:.2}",
                        row.prior.std_ratio, row.prior.log_density, row.prior.energy_factor
                    )
                });
            }
            rows.push(row);
            last_validation = Some(validation);
            (sum, count) = (0.0, 0);
        }
        bar.set_message(format!("loss {loss:.4} val {:.4}", last_validation.unwrap_or(f64::NAN)));
        if step % args.save_every == 0 || step == stop_at {
            let elapsed = start_elapsed + started.elapsed().as_secs_f64();
            save(&trainer, &args.out, &rows, elapsed, &settings, args.valid_fraction, &data_description)?;
        }
    }
    bar.finish_and_clear();
    if trainer.step_count() < settings.steps {
        eprintln!(
            "stopped at step {} of {}; continue with the same command and --resume",
            trainer.step_count(),
            settings.steps
        );
        return Ok(());
    }

    let elapsed = start_elapsed + started.elapsed().as_secs_f64();
    let mut final_config = config.clone();
    final_config.training = Some(TrainingRecord {
        steps: settings.steps,
        batch: settings.batch,
        learning_rate: settings.learning_rate,
        weight_decay: settings.weight_decay,
        seed: settings.seed,
        ema_decay: Some(settings.ema_decay),
        data: data_description,
        final_train_loss: rows.last().map(|r| r.train),
        final_validation_loss: rows.last().map(|r| r.validation),
        wall_seconds: elapsed,
    });
    final_config.save(&args.out.join("config.json"))?;
    plot_loss_png(&args.out.join("loss.png"), &rows, &format!("{} window {}", config.system, config.window))?;
    eprintln!(
        "done in {elapsed:.0} s: train loss {:.4}, validation loss {:.4}; wrote {}",
        rows.last().map_or(f64::NAN, |r| r.train),
        rows.last().map_or(f64::NAN, |r| r.validation),
        args.out.display()
    );
    Ok(())
}

/// The unconditional check logged while training: samples of the averaged weights against fresh
/// simulator trajectories (Lorenz systems) or the run's held-out fields (Kolmogorov flow).
struct PriorCheck<'a> {
    system: &'a System,
    reference: Reference<'a>,
    sampling: PriorSampling,
}

impl<'a> PriorCheck<'a> {
    fn new(
        system: &'a System,
        args: &TrainArgs,
        window: usize,
        values: &[f32],
        shape: &[usize],
    ) -> anyhow::Result<Self> {
        let fields = matches!(system, System::Kolmogorov(_));
        let (samples, length, tau) = match system {
            System::Lorenz63(_) => (64, 65, 0.25),
            System::Lorenz96(_) => (64, 32, 0.25),
            _ => (8, 16, 0.5),
        };
        let length = length.max(window);
        let sampling = PriorSampling {
            samples: args.check_samples.unwrap_or(samples),
            length,
            steps: args.check_steps.max(1),
            corrections: 1,
            tau,
            seed: 0,
        };
        let reference = if fields {
            let (trajectories, states) = (shape[0], shape[1]);
            let held_out = TrainingData::held_out(trajectories, args.valid_fraction);
            let d: usize = shape[2..].iter().product();
            let start = (trajectories - held_out) * states * d;
            let values: Vec<f64> = values[start..].iter().map(|&v| v as f64).collect();
            Reference::data(system, &values, states, format!("the run's {held_out} held-out trajectories"))?
        } else {
            Reference::simulated(system, length, 256, 11)?
        };
        Ok(Self { system, reference, sampling })
    }

    fn run(&self, trainer: &Trainer, device: &candle_core::Device) -> anyhow::Result<PriorCheckRow> {
        let score = ComposedNetworkScore::new(trainer.averaged_network()?, trainer.config().window)?;
        let ensemble = sample_prior(self.system.chain(), &score, &self.sampling, device, &mut || {})?;
        Ok(self.reference.summary(&self.reference.climate_of(&ensemble, self.sampling.length)?))
    }
}

fn architecture(args: &TrainArgs) -> anyhow::Result<Architecture> {
    let unet = || UnetConfig {
        channels: args.channels.clone(),
        blocks: args.blocks,
        kernel: args.kernel,
        embedding: args.embedding,
        frequencies: 16,
    };
    Ok(match args.arch.as_str() {
        "mlp" => Architecture::Mlp(MlpConfig {
            width: args.width,
            depth: args.depth,
            embedding: args.embedding,
            frequencies: 16,
        }),
        "unet1d" => Architecture::Unet1d(unet()),
        "unet2d" => Architecture::Unet2d(unet()),
        other => bail!("unknown --arch `{other}` (known: mlp, unet1d, unet2d)"),
    })
}

fn save(
    trainer: &Trainer,
    dir: &Path,
    rows: &[LossRow],
    elapsed: f64,
    settings: &TrainingSettings,
    valid_fraction: f64,
    data: &str,
) -> anyhow::Result<()> {
    trainer.save(dir)?;
    write_loss_csv(&dir.join("loss.csv"), rows)?;
    TrainerState::new(trainer.step_count(), elapsed, settings, valid_fraction, data).save(dir)?;
    Ok(())
}
