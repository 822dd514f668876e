//! `sdalab train`: denoising score matching of a local score network, resumable.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, bail, ensure};
use clap::Args;
use sdalab::device::select_device;
use sdalab::dynamics::{Normalisation, simulate_ensemble};
use sdalab::export::{LossRow, plot_loss_png, read_loss_csv, read_npy_f32, write_loss_csv};
use sdalab::score::{
    Architecture, MlpConfig, ModelConfig, Trainer, TrainingData, TrainingRecord, TrainingSettings, UnetConfig,
};
use serde::{Deserialize, Serialize};

use crate::progress;
use crate::system_arg::SystemArg;

#[derive(Args, Debug)]
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

/// Progress of a run, saved with each checkpoint.
#[derive(Serialize, Deserialize)]
struct TrainerState {
    step: usize,
    elapsed_seconds: f64,
    batch: usize,
    steps: usize,
    learning_rate: f64,
    weight_decay: f64,
    seed: u64,
    valid_fraction: f64,
    data: String,
}

const STATE_FILE: &str = "trainer_state.json";

pub fn run(args: &TrainArgs) -> anyhow::Result<()> {
    let state_path = args.out.join(STATE_FILE);
    if args.resume {
        ensure!(state_path.is_file(), "{}: nothing to resume (no {STATE_FILE})", args.out.display());
    } else if state_path.is_file() || args.out.join("model.safetensors").is_file() {
        bail!(
            "{} already holds a checkpoint: pass --resume to continue it, or choose another --out",
            args.out.display()
        );
    }
    ensure!(args.steps >= 1 && args.batch >= 1, "--steps and --batch must be at least 1");
    ensure!(args.log_every >= 1 && args.save_every >= 1, "--log-every and --save-every must be at least 1");
    ensure!(args.lr.is_finite() && args.lr > 0.0, "--lr must be positive");
    let system = args.system.load()?;
    let chain = system.chain();
    let (device, device_name) = select_device();

    // What to train: from the saved run on resume, else from the flags.
    let (config, settings, data_description, mut rows, start_elapsed) = if args.resume {
        let config = ModelConfig::load(&args.out.join("config.json"))?;
        let state: TrainerState = serde_json::from_str(&std::fs::read_to_string(&state_path)?)
            .with_context(|| format!("{}: unreadable", state_path.display()))?;
        ensure!(
            config.system == chain.name(),
            "{} trains `{}`, not `{}`",
            args.out.display(),
            config.system,
            chain.name()
        );
        let rows = read_loss_csv(&args.out.join("loss.csv"))?.into_iter().filter(|r| r.step <= state.step).collect();
        let settings = TrainingSettings {
            steps: state.steps,
            batch: state.batch,
            learning_rate: state.learning_rate,
            weight_decay: state.weight_decay,
            seed: state.seed,
            validation_windows: 4096,
        };
        (config, settings, state.data, rows, state.elapsed_seconds)
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
            validation_windows: 4096,
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
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;

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
    drop(values);
    let mut trainer = Trainer::new(config.clone(), data, settings.clone(), &device)?;
    if args.resume {
        let state: TrainerState = serde_json::from_str(&std::fs::read_to_string(&state_path)?)?;
        trainer.resume(&args.out, state.step)?;
        eprintln!("resuming {} at step {} of {}", args.out.display(), state.step, settings.steps);
    } else {
        config.save(&args.out.join("config.json"))?;
        rows.push(LossRow { step: 0, train: f64::NAN, validation: trainer.validation_loss()?, learning_rate: 0.0 });
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
        if step % args.log_every == 0 || step == settings.steps {
            let validation = trainer.validation_loss()?;
            rows.push(LossRow { step, train: sum / count as f64, validation, learning_rate: lr });
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
    let state = TrainerState {
        step: trainer.step_count(),
        elapsed_seconds: elapsed,
        batch: settings.batch,
        steps: settings.steps,
        learning_rate: settings.learning_rate,
        weight_decay: settings.weight_decay,
        seed: settings.seed,
        valid_fraction,
        data: data.into(),
    };
    let text = serde_json::to_string_pretty(&state)?;
    sdalab::export::write_atomically(&dir.join(STATE_FILE), |w| std::io::Write::write_all(w, text.as_bytes()))?;
    Ok(())
}
