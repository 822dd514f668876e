//! `sdalab eval kolmogorov`: the checks of a Kolmogorov-flow score model, on held-out truths.
//!
//! 1. Assimilation (the paper's Fig. 4 analogue): each truth is observed through 8×8 block means
//!    (4×4 cells each) every 4th state with noise σ = 10% of the climate's standard deviation; SDA
//!    and DPS sample the posterior. Reported: the residual std((A(x) − y)/σ) over members and
//!    observations (1 means the samples fit the observations as well as the truth does), and the
//!    RMSE to the truth of the posterior mean next to that of the coarse observation upsampled.
//! 2. Climate: unconditional samples (no guidance) against the held-out data — the energy
//!    spectrum per wavenumber shell (ratio up to half the cut-off) and vorticity quantiles.
//!
//! Writes `eval.md` into `--out` and prints it.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Args;
use rand::Rng;
use rand_distr::StandardNormal;
use sdalab::device::select_device;
use sdalab::dynamics::{Kolmogorov, MarkovChain};
use sdalab::export::read_npy_f32;
use sdalab::observe::{Observation, Pattern};
use sdalab::rng;
use sdalab::sampler::{Guidance, SamplerError, SamplerPlan, posterior_ensemble};
use sdalab::scenario::MAX_MMPS_ITERATIONS;
use sdalab::score::{ComposedNetworkScore, load_checkpoint_for};

use crate::{checkpoints, progress};

#[derive(Args, Debug)]
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

/// Block size of the coarse view (8×8 blocks over 32×32) and its period in states.
const BLOCK: usize = 4;
const EVERY: usize = 4;

pub fn run(args: &KolmogorovEvalArgs) -> anyhow::Result<()> {
    ensure!(
        args.samples >= 2 && args.prior_samples >= 1,
        "--samples must be at least 2 and --prior-samples at least 1"
    );
    ensure!(args.length >= 5, "--length must be at least 5");
    std::fs::create_dir_all(&args.out).with_context(|| format!("cannot create {}", args.out.display()))?;
    let flow = Kolmogorov::new();
    let chain: &dyn MarkovChain = &flow;
    let shape = chain.state_shape();
    let d = chain.state_dim();
    let truths_path = args.truths.clone().unwrap_or_else(|| checkpoints::lessons_dir().join("kolmogorov-truths.npy"));
    let truths = read_npy_f32(&truths_path)?;
    ensure!(
        truths.shape.len() == 4 && truths.shape[2..] == shape[..],
        "{}: shape {:?} does not hold {shape:?} states",
        truths_path.display(),
        truths.shape
    );
    let (n_truths, stored) = (truths.shape[0], truths.shape[1]);
    ensure!(args.cases <= n_truths, "--cases {} exceeds the {n_truths} truths in the file", args.cases);
    ensure!(args.length <= stored, "--length {} exceeds the {stored} stored states", args.length);

    let (device, device_name) = select_device();
    let dir = args.checkpoint.clone().or_else(|| checkpoints::default_for("kolmogorov")).context("no checkpoint")?;
    let checkpoint = load_checkpoint_for(&dir, chain, args.length, &device)?;
    let model = format!("{}@{}", dir.display(), checkpoint.fingerprint);
    let score = ComposedNetworkScore::new(checkpoint.network, checkpoint.config.window)?;
    eprintln!("{model} on {device_name}");

    let std = 0.1 * Kolmogorov::CLIMATE_STD;
    let cells = Pattern::Blocks { size: BLOCK, times: EVERY }.cells(args.length, &shape).map_err(anyhow::Error::msg)?;
    let plan = |samples: usize, seed: u64| SamplerPlan {
        samples,
        steps: args.steps,
        corrections: args.corrections,
        tau: args.tau,
        seed,
    };
    ensure!(
        args.mmps_iterations.iter().all(|n| (1..=MAX_MMPS_ITERATIONS as usize).contains(n)),
        "--mmps-iterations must be between 1 and {MAX_MMPS_ITERATIONS}"
    );
    let mut rules: Vec<(String, Guidance)> = vec![("SDA".into(), Guidance::Sda { gamma: args.gamma })];
    rules.extend(args.mmps_iterations.iter().map(|&n| (format!("MMPS N={n}"), Guidance::Mmps { iterations: n })));
    rules.push(("DPS".into(), Guidance::Dps { zeta: args.zeta }));
    let evaluations = (args.steps * (1 + args.corrections)) as u64;
    let bar = progress::bar(evaluations * (rules.len() as u64 * args.cases as u64 + 1), "network calls");
    let sample = |observations: &[Observation], guidance: Guidance, samples: usize, seed: u64| {
        let started = Instant::now();
        let out = posterior_ensemble(
            chain,
            args.length,
            observations,
            &score,
            guidance,
            &plan(samples, seed),
            &device,
            &AtomicBool::new(false),
            &mut |s| {
                if s.corrected || args.corrections == 0 {
                    bar.inc(1 + args.corrections as u64)
                }
            },
        );
        out.map(|x| (x, started.elapsed().as_secs_f64()))
    };

    let mut report = String::new();
    writeln!(report, "# Kolmogorov flow: {model}\n")?;
    writeln!(
        report,
        "Held-out truths: `{}` ({} cases, states 0–{}). Sampler: {} members, {} steps, C = {}, τ = {}; \
         SDA γ = {}, DPS ζ = {}; seed {}. Device: {device_name}.\n",
        truths_path.display(),
        args.cases,
        args.length - 1,
        args.samples,
        args.steps,
        args.corrections,
        args.tau,
        args.gamma,
        args.zeta,
        args.seed
    )?;
    writeln!(
        report,
        "## Assimilation: 8×8 block means every {EVERY}th state, σ = {std:.2} (10% of the climate std)\n"
    )?;
    writeln!(
        report,
        "| case | method | residual std/σ | RMSE mean (observed states) | RMSE mean (all) | RMSE coarse upsampled | spread | time |"
    )?;
    writeln!(report, "|---|---|---:|---:|---:|---:|---:|---:|")?;
    let mut medians: Vec<(String, Vec<f64>)> = rules.iter().map(|(name, _)| (name.clone(), Vec::new())).collect();
    for case in 0..args.cases {
        let truth: Vec<f64> = truths.data[case * stored * d..][..args.length * d].iter().map(|&v| v as f64).collect();
        let mut noise = rng::stream(args.seed.wrapping_add(1000 + case as u64), 0);
        let observations: Vec<Observation> = cells
            .iter()
            .map(|(t, op)| Observation {
                t: *t,
                op: op.clone(),
                value: op.apply(&truth[t * d..(t + 1) * d]) + std * noise.sample::<f64, _>(StandardNormal),
                std,
            })
            .collect();
        let observed: Vec<usize> = (0..args.length).step_by(EVERY).collect();
        // The coarse view upsampled: each cell takes its block's observed mean.
        let upsampled_rmse = rmse_at(&observed, d, &truth, |t, i| {
            observations.iter().find(|o| o.t == t && o.op.indices().contains(&i)).map_or(f64::NAN, |o| o.value)
        });
        for (m, &(_, guidance)) in rules.iter().enumerate() {
            let (ensemble, seconds) = match sample(&observations, guidance, args.samples, args.seed + case as u64) {
                Err(SamplerError::Diverged) => {
                    // A diverged rule is a result of the comparison, not a reason to lose the others.
                    medians[m].1.push(f64::INFINITY);
                    writeln!(report, "| {case} | {} | diverged | | | {upsampled_rmse:.3} | | |", medians[m].0)?;
                    continue;
                }
                other => other?,
            };
            let n = args.length * d;
            let mut residuals = Vec::new();
            for member in ensemble.chunks_exact(n) {
                for o in &observations {
                    residuals.push((o.predict(member, d) - o.value) / o.std);
                }
            }
            let residual = std_dev(&residuals);
            let mean: Vec<f64> =
                (0..n).map(|i| ensemble.chunks_exact(n).map(|m| m[i]).sum::<f64>() / args.samples as f64).collect();
            let spread = (0..n)
                .map(|i| {
                    ensemble.chunks_exact(n).map(|m| (m[i] - mean[i]).powi(2)).sum::<f64>() / (args.samples - 1) as f64
                })
                .sum::<f64>()
                / n as f64;
            let all: Vec<usize> = (0..args.length).collect();
            let rmse_observed = rmse_at(&observed, d, &truth, |t, i| mean[t * d + i]);
            let rmse_all = rmse_at(&all, d, &truth, |t, i| mean[t * d + i]);
            medians[m].1.push(residual);
            writeln!(
                report,
                "| {case} | {} | {residual:.2} | {rmse_observed:.3} | {rmse_all:.3} | {upsampled_rmse:.3} | {:.3} | {seconds:.0} s |",
                medians[m].0,
                spread.sqrt()
            )?;
        }
    }
    for (name, values) in medians.iter_mut().filter(|(_, v)| !v.is_empty()) {
        values.sort_by(f64::total_cmp);
        let median = values[values.len() / 2];
        let diverged = values.iter().filter(|v| v.is_infinite()).count();
        let note =
            if diverged > 0 { format!(" ({diverged} of {} runs diverged)", values.len()) } else { String::new() };
        writeln!(report, "\n{name}: median residual std/σ {median:.2}{note}")?;
    }

    // Climate: unconditional samples against the held-out data.
    let (prior, seconds) = sample(&[], Guidance::Prior, args.prior_samples, args.seed + 999)?;
    bar.finish_and_clear();
    let data: Vec<f64> = truths.data.iter().map(|&v| v as f64).collect();
    let grid = flow.coarse_grid();
    let spectrum = |states: &[f64]| {
        let mut total = vec![0.0; grid.n() / 2 + 1];
        let count = states.len() / d;
        for state in states.chunks_exact(d) {
            for (t, e) in total.iter_mut().zip(grid.energy_spectrum(&grid.to_spectral(state))) {
                *t += e / count as f64;
            }
        }
        total
    };
    let (ours, theirs) = (spectrum(&prior), spectrum(&data));
    let half = (grid.n() / 2) / 2;
    writeln!(
        report,
        "\n## Climate: {} unconditional trajectories of {} states ({seconds:.0} s) against the {} held-out states\n",
        args.prior_samples,
        args.length,
        data.len() / d
    )?;
    writeln!(report, "Energy per wavenumber shell |k| (cut-off of the stored grid: {}):\n", grid.n() / 2)?;
    writeln!(report, "| k | data | samples | ratio |")?;
    writeln!(report, "|---:|---:|---:|---:|")?;
    let mut worst: f64 = 1.0;
    for k in 1..=grid.n() / 2 {
        let ratio = ours[k] / theirs[k];
        if k <= half {
            worst = worst.max(ratio.max(1.0 / ratio));
        }
        writeln!(report, "| {k} | {:.3e} | {:.3e} | {ratio:.2} |", theirs[k], ours[k])?;
    }
    writeln!(report, "\nLargest factor between the spectra up to k = {half} (half the cut-off): ×{worst:.2}.\n")?;
    writeln!(report, "Vorticity quantiles:\n")?;
    writeln!(report, "| quantile | data | samples |")?;
    writeln!(report, "|---:|---:|---:|")?;
    let (mut a, mut b) = (data.clone(), prior.clone());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    for q in [0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999] {
        let at = |v: &[f64]| v[((v.len() - 1) as f64 * q).round() as usize];
        writeln!(report, "| {q} | {:.2} | {:.2} |", at(&a), at(&b))?;
    }
    writeln!(report, "\nstd: data {:.3}, samples {:.3}", std_dev(&data), std_dev(&prior))?;
    let path = args.out.join("eval.md");
    std::fs::write(&path, &report).with_context(|| format!("cannot write {}", path.display()))?;
    println!("{report}");
    eprintln!("wrote {}", path.display());
    Ok(())
}

fn std_dev(values: &[f64]) -> f64 {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt()
}

/// RMSE against `truth` over the cells of `states` (each with `d` cells) of `estimate(t, i)`.
fn rmse_at(states: &[usize], d: usize, truth: &[f64], estimate: impl Fn(usize, usize) -> f64) -> f64 {
    let mut sum = 0.0;
    for &t in states {
        for i in 0..d {
            sum += (estimate(t, i) - truth[t * d + i]).powi(2);
        }
    }
    (sum / (states.len() * d) as f64).sqrt()
}
