//! `sdalab eval prior`: unconditional samples of a score model against the simulator.
//!
//! Lorenz systems: per-component means and standard deviations, lag-1 autocorrelation and the
//! mean transition log-density of unconditional trajectories next to fresh simulator
//! trajectories. Kolmogorov flow: the energy per wavenumber shell, the vorticity's 0.1%/99.9%
//! quantiles, its largest value and the enstrophy next to held-out fields. Each sampler setting
//! (by default the probability-flow sampler and one Langevin correction per step) gets a row.
//!
//! Writes `prior.md` into `--out` and prints it.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Args;
use sdalab::budget::MemoryBudget;
use sdalab::device::select_device;
use sdalab::dynamics::System;
use sdalab::export::read_npy_f32;
use sdalab::pipeline::bytes_per_sampled_state;
use sdalab::scenario::SamplerSettings;
use sdalab::score::{ComposedNetworkScore, TrajectoryScore, load_checkpoint_for};

use crate::prior_check::{PriorSampling, Reference, gaussian_corrected, sample_prior};
use crate::{checkpoints, progress};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct PriorEvalArgs {
    /// System: lorenz63, lorenz96 or kolmogorov.
    #[arg(long)]
    pub system: String,
    /// Checkpoint folder (default: the system's bundled one).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Unconditional trajectories per sampler setting (default: 256 for Lorenz systems, 32 for
    /// Kolmogorov flow).
    #[arg(long)]
    pub samples: Option<usize>,
    /// States per trajectory (default: 65 for Lorenz-63, 32 for Lorenz-96, 16 for Kolmogorov).
    #[arg(long)]
    pub length: Option<usize>,
    /// Predictor steps.
    #[arg(long, default_value_t = 256)]
    pub steps: usize,
    /// Langevin corrections per step, one sampler setting each (0: the probability-flow sampler).
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    pub corrections: Vec<usize>,
    /// Langevin step size (default: 0.25 for Lorenz systems, 0.5 for Kolmogorov flow).
    #[arg(long)]
    pub tau: Option<f64>,
    /// Simulator trajectories of the reference (Lorenz systems).
    #[arg(long, default_value_t = 256)]
    pub reference_samples: usize,
    /// Held-out fields (N, L, 32, 32) of the reference for Kolmogorov flow (default: the
    /// lessons' bundled truths, never trained on).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Correct the window composition by a Gaussian fitted to this many simulator trajectories
    /// (Lorenz systems; 0: plain composition).
    #[arg(long, default_value_t = 0)]
    pub gaussian_correction: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output folder for prior.md.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &PriorEvalArgs) -> anyhow::Result<()> {
    ensure!(args.system != "linear", "the linear system has an exact score: there is no learned prior to check");
    let system = System::named(&args.system)
        .with_context(|| format!("unknown system `{}` (known: lorenz63, lorenz96, kolmogorov)", args.system))?;
    let chain = system.chain();
    let fields = matches!(system, System::Kolmogorov(_));
    let samples = args.samples.unwrap_or(if fields { 32 } else { 256 });
    let length = args.length.unwrap_or(match system {
        System::Lorenz63(_) => 65,
        System::Lorenz96(_) => 32,
        _ => 16,
    });
    let tau = args.tau.unwrap_or(if fields { 0.5 } else { 0.25 });
    ensure!(samples >= 2, "--samples must be at least 2");
    ensure!(!args.corrections.is_empty(), "--corrections needs at least one value");
    ensure!(length >= 2, "--length must be at least 2");
    for &corrections in &args.corrections {
        let settings = SamplerSettings {
            samples: Some(samples as u64),
            steps: Some(args.steps as u64),
            corrections: Some(corrections as u64),
            tau: Some(tau),
            ..SamplerSettings::default()
        };
        settings.check(&|field| format!("--{field}"))?;
    }
    let budget = MemoryBudget::of_machine();
    budget.check("--samples × --length", &[samples, length], bytes_per_sampled_state(chain.state_dim()))?;
    budget.check("--reference-samples × --length", &[args.reference_samples, length, chain.state_dim(), 4], 8)?;
    budget.check("--gaussian-correction × --length", &[args.gaussian_correction, length, chain.state_dim(), 2], 8)?;
    crate::output_path::check_dir(&args.out)?;

    let reference = if fields {
        let path = args.data.clone().unwrap_or_else(|| checkpoints::lessons_dir().join("kolmogorov-truths.npy"));
        let array = read_npy_f32(&path)?;
        ensure!(
            array.shape.len() == 4 && array.shape[2..] == chain.state_shape()[..],
            "{}: shape {:?} does not hold {:?} fields",
            path.display(),
            array.shape,
            chain.state_shape()
        );
        let values: Vec<f64> = array.data.iter().map(|&v| v as f64).collect();
        let description = format!("{} held-out states of `{}`", array.shape[0] * array.shape[1], path.display());
        Reference::data(&system, &values, array.shape[1], description)?
    } else {
        ensure!(args.data.is_none(), "--data is for kolmogorov; Lorenz references are simulated");
        ensure!(args.reference_samples >= 2 && length >= 2, "--reference-samples and --length must be at least 2");
        Reference::simulated(&system, length, args.reference_samples, args.seed + 11)?
    };

    let (device, device_name) = select_device();
    let dir = args.checkpoint.clone().or_else(|| checkpoints::default_for(chain.name())).context("no checkpoint")?;
    let checkpoint = load_checkpoint_for(&dir, chain, length, &device)?;
    let model = format!("{}@{}", dir.display(), checkpoint.fingerprint);
    let composed = ComposedNetworkScore::new(checkpoint.network, checkpoint.config.window)?;
    let score: Box<dyn TrajectoryScore> = if args.gaussian_correction > 0 {
        ensure!(!fields, "--gaussian-correction is for Lorenz systems");
        Box::new(gaussian_corrected(chain, composed, length, args.gaussian_correction, args.seed + 23, &device)?)
    } else {
        Box::new(composed)
    };
    eprintln!("{model} on {device_name}");
    // The folder is made once every input has been checked.
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;

    let bar = progress::bar((args.steps * args.corrections.len()) as u64, "sampler steps");
    let mut rows = Vec::new();
    for &corrections in &args.corrections {
        let sampling = PriorSampling { samples, length, steps: args.steps, corrections, tau, seed: args.seed };
        let started = Instant::now();
        let ensemble = sample_prior(chain, score.as_ref(), &sampling, &device, &mut || bar.inc(1))?;
        let seconds = started.elapsed().as_secs_f64();
        rows.push((sampling.label(), reference.climate_of(&ensemble, length)?, seconds));
    }
    bar.finish_and_clear();

    let mut report = format!("# Unconditional samples of {model}\n\n");
    report.push_str(&format!(
        "{samples} trajectories of {length} states per sampler, seed {}; device: {device_name}.\n",
        args.seed
    ));
    if args.gaussian_correction > 0 {
        report.push_str(&format!(
            "Window composition corrected by a Gaussian fitted to {} simulator trajectories (seed {}).\n",
            args.gaussian_correction,
            args.seed + 23
        ));
    }
    report.push_str(&reference.markdown(&rows));
    let path = args.out.join("prior.md");
    std::fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{report}");
    eprintln!("wrote {}", path.display());
    Ok(())
}
