//! `sdalab eval kolmogorov`: the checks of a Kolmogorov-flow score model on held-out truths
//! ([`sdalab::evaluation::KolmogorovEval`]). Writes `eval.md` into `--out` and prints it.

use std::path::PathBuf;

use anyhow::{Context, ensure};
use clap::Args;
use sdalab::device::select_device;
use sdalab::dynamics::{Kolmogorov, MarkovChain};
use sdalab::evaluation::KolmogorovEval;
use sdalab::export::read_npy_f32;
use sdalab::sampler::Guidance;
use sdalab::scenario::MAX_MMPS_ITERATIONS;
use sdalab::score::{ComposedNetworkScore, load_checkpoint_for};

use crate::{checkpoints, progress};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct KolmogorovEvalArgs {
    /// Held-out truths, (N, L', 32, 32) (default: the lessons' bundled truths).
    #[arg(long)]
    pub truths: Option<PathBuf>,
    /// Number of truths (cases) to assimilate (0: only the climate check).
    #[arg(long, default_value_t = 4)]
    pub cases: usize,
    /// States per trajectory.
    #[arg(long, default_value_t = 16)]
    pub length: usize,
    /// Posterior members per case.
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// Unconditional trajectories for the climate check.
    #[arg(long, default_value_t = 16)]
    pub prior_samples: usize,
    #[arg(long, default_value_t = 64)]
    pub steps: usize,
    #[arg(long, default_value_t = 1)]
    pub corrections: usize,
    #[arg(long, default_value_t = 0.5)]
    pub tau: f64,
    #[arg(long, default_value_t = 1e-2)]
    pub gamma: f64,
    /// DPS step scale.
    #[arg(long, default_value_t = 1.0)]
    pub zeta: f64,
    /// Conjugate-gradient iterations of the MMPS runs, comma-separated (one row per value).
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub mmps_iterations: Vec<usize>,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Checkpoint folder (default: the bundled kolmogorov-k2).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Output folder for eval.md.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &KolmogorovEvalArgs) -> anyhow::Result<()> {
    ensure!(
        args.mmps_iterations.iter().all(|n| (1..=MAX_MMPS_ITERATIONS as usize).contains(n)),
        "--mmps-iterations must be between 1 and {MAX_MMPS_ITERATIONS}"
    );
    let mut rules: Vec<(String, Guidance)> = vec![("SDA".into(), Guidance::Sda { gamma: args.gamma })];
    rules.extend(args.mmps_iterations.iter().map(|&n| (format!("MMPS N={n}"), Guidance::Mmps { iterations: n })));
    rules.push(("DPS".into(), Guidance::Dps { zeta: args.zeta }));
    let eval = KolmogorovEval {
        cases: args.cases,
        length: args.length,
        samples: args.samples,
        prior_samples: args.prior_samples,
        steps: args.steps,
        corrections: args.corrections,
        tau: args.tau,
        rules,
        seed: args.seed,
    };
    let truths_path = args.truths.clone().unwrap_or_else(|| checkpoints::lessons_dir().join("kolmogorov-truths.npy"));
    let truths = read_npy_f32(&truths_path).with_context(|| truths_path.display().to_string())?;
    eval.check(&truths)?;
    let (device, device_name) = select_device();
    let dir = args.checkpoint.clone().or_else(|| checkpoints::default_for("kolmogorov")).context("no checkpoint")?;
    let flow = Kolmogorov::new();
    let checkpoint = load_checkpoint_for(&dir, &flow as &dyn MarkovChain, args.length, &device)?;
    let model = format!("{}@{}", dir.display(), checkpoint.fingerprint);
    let score = ComposedNetworkScore::new(checkpoint.network, checkpoint.config.window)?;
    eprintln!("{model} on {device_name}");
    crate::output_path::check_dir(&args.out)?;
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let header = format!(
        "# Kolmogorov flow: {model}\n\nHeld-out truths: `{}` ({} cases, states 0–{}). Sampler: {} members, {} steps, \
         C = {}, τ = {}; SDA γ = {}, DPS ζ = {}; seed {}. Device: {device_name}.\n",
        truths_path.display(),
        args.cases,
        args.length.saturating_sub(1),
        args.samples,
        args.steps,
        args.corrections,
        args.tau,
        args.gamma,
        args.zeta,
        args.seed
    );
    let bar = progress::bar(eval.evaluations(), "network calls");
    let report = eval.run(&header, &score, &device, &truths, &|n| bar.inc(n))?;
    bar.finish_and_clear();
    let path = args.out.join("eval.md");
    std::fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{report}");
    eprintln!("wrote {}", path.display());
    Ok(())
}
