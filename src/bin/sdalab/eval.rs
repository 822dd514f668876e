//! `sdalab eval lorenz63`: the paper's Lorenz-63 study. For each seeded case and regime, two
//! independent particle-smoother runs make the reference and its floor; SDA runs over a grid of
//! k and C are scored against it. Rows go to `eval.csv` as they finish (a rerun skips the rows
//! already there), then `eval.md` (median tables), `eval.png` (against C) and `cost.png` (W1/floor
//! against wall time) are written.

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use anyhow::{Context, ensure};
use clap::Args;
use indicatif::ProgressBar;
use sdalab::baselines::{ParticleSmoother, Resampling};
use sdalab::budget::MemoryBudget;
use sdalab::device::select_device;
use sdalab::dynamics::{Lorenz63, MarkovChain, System};
use sdalab::ensemble::Ensemble;
use sdalab::evaluation::{
    EvalRow, LENGTH, Regime, RowMethod, lorenz63_case, markdown_report, particle_seed, plot_cost_png, plot_summary_png,
    read_rows, write_rows,
};
use sdalab::export::{read_npy_f32, write_npy_f32};
use sdalab::metrics::{mean_log_prior, wasserstein1};
use sdalab::sampler::{Guidance, SamplerPlan, posterior_ensemble};
use sdalab::scenario::{SamplerSettings, Scenario};
use sdalab::score::{ComposedNetworkScore, TrajectoryScore, load_checkpoint_for};

use crate::prior_check::gaussian_corrected;
use crate::{checkpoints, progress};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct EvalArgs {
    /// Number of test cases (seeded truths).
    #[arg(long, default_value_t = 4)]
    pub cases: usize,
    /// Index of the first case (cases are numbered from 0).
    #[arg(long, default_value_t = 0)]
    pub first_case: usize,
    /// Observation regimes, comma-separated: lo, hi.
    #[arg(long, value_delimiter = ',', default_value = "lo,hi")]
    pub obs: Vec<String>,
    /// Half-windows k of the local scores (checkpoint `lorenz63-k{k}`), comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3,4")]
    pub k: Vec<usize>,
    /// Langevin corrections C, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1,2,4")]
    pub corrections: Vec<usize>,
    /// SDA ensemble size (and the size W1 and the floor are computed at).
    #[arg(long, default_value_t = 256)]
    pub samples: usize,
    /// Predictor steps.
    #[arg(long, default_value_t = 64)]
    pub steps: usize,
    #[arg(long, default_value_t = 0.25)]
    pub tau: f64,
    #[arg(long, default_value_t = 1e-2)]
    pub gamma: f64,
    /// Also run MMPS guidance with these conjugate-gradient iterations, comma-separated (none by default).
    #[arg(long, value_delimiter = ',')]
    pub mmps_iterations: Vec<usize>,
    /// Langevin corrections C of the MMPS runs, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "0,1")]
    pub mmps_corrections: Vec<usize>,
    /// Particles of each of the two reference runs.
    #[arg(long, default_value_t = 16384)]
    pub particles: usize,
    /// Paths kept from each reference run.
    #[arg(long, default_value_t = 1024)]
    pub keep: usize,
    /// Case i's truth is simulated from seed + i; SDA samples from the same seed.
    #[arg(long, default_value_t = 1000)]
    pub seed: u64,
    /// Correct each model's window composition by a Gaussian fitted to this many simulator
    /// trajectories (0: plain composition, as the paper samples).
    #[arg(long, default_value_t = 0)]
    pub gaussian_correction: usize,
    /// Folder holding `lorenz63-k{k}` checkpoints (default: the bundled ones).
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Output folder: eval.csv, eval.md, eval.png and the particle references.
    #[arg(long)]
    pub out: PathBuf,
    /// Run nothing: rewrite eval.md and eval.png from the rows already in eval.csv.
    #[arg(long)]
    pub report_only: bool,
}

/// Most cases one run takes (each is two particle smoothers and a row per configuration).
const MAX_CASES: usize = 1000;

pub fn run(args: &EvalArgs) -> anyhow::Result<()> {
    let regimes: Vec<Regime> = args
        .obs
        .iter()
        .map(|name| Regime::parse(name).with_context(|| format!("--obs: expected lo or hi, got `{name}`")))
        .collect::<anyhow::Result<_>>()?;
    ensure!((1..=MAX_CASES).contains(&args.cases), "--cases must be between 1 and {MAX_CASES}");
    ensure!(
        args.first_case.checked_add(args.cases).is_some_and(|end| end <= MAX_CASES * 16),
        "--first-case must be at most {}",
        MAX_CASES * 16 - args.cases
    );
    ensure!(args.samples >= 2 && args.steps >= 1, "--samples must be at least 2 and --steps at least 1");
    ensure!(
        args.samples <= args.keep,
        "--samples {} exceeds the {} reference paths kept (--keep)",
        args.samples,
        args.keep
    );
    ensure!(args.particles >= 1, "--particles must be at least 1");
    ensure!(!args.k.is_empty() && !args.corrections.is_empty(), "--k and --corrections need at least one value");
    let flag = |field: &str| format!("--{}", field.replace('_', "-"));
    for &corrections in args.corrections.iter().chain(&args.mmps_corrections) {
        SamplerSettings {
            samples: Some(args.samples as u64),
            steps: Some(args.steps as u64),
            corrections: Some(corrections as u64),
            tau: Some(args.tau),
            gamma: Some(args.gamma),
            ..SamplerSettings::default()
        }
        .check(&flag)?;
    }
    for &n in &args.mmps_iterations {
        SamplerSettings { mmps_iterations: Some(n as u64), ..SamplerSettings::default() }.check(&flag)?;
    }
    let budget = MemoryBudget::of_machine();
    let d = Lorenz63::new().state_dim();
    budget.check("--particles", &[args.particles, LENGTH, d, 4], 8)?;
    budget.check("--keep", &[args.keep, LENGTH, d, 4], 8)?;
    budget.check("--gaussian-correction", &[args.gaussian_correction, LENGTH, d, 2], 8)?;
    crate::output_path::check_dir(&args.out)?;

    // Load every checkpoint before any long work, so a missing one fails at once.
    let (device, device_name) = select_device();
    let system = System::Lorenz63(Lorenz63::new());
    let chain = system.chain();
    let folder = args.checkpoints.clone().unwrap_or_else(checkpoints::bundled_dir);
    let mut scores: Vec<(usize, String, Box<dyn TrajectoryScore>)> = Vec::new();
    for &k in &args.k {
        let dir = folder.join(format!("lorenz63-k{k}"));
        let checkpoint = load_checkpoint_for(&dir, chain, LENGTH, &device)?;
        ensure!(
            checkpoint.config.window == 2 * k + 1,
            "{}: window of {} states, expected {} for k = {k}",
            dir.display(),
            checkpoint.config.window,
            2 * k + 1
        );
        let model = format!("lorenz63-k{k}@{}", checkpoint.fingerprint);
        let composed = ComposedNetworkScore::new(checkpoint.network, checkpoint.config.window)?;
        if args.gaussian_correction > 0 {
            let corrected =
                gaussian_corrected(chain, composed, LENGTH, args.gaussian_correction, args.seed + 23, &device)?;
            scores.push((k, format!("{model}+gaussian"), Box::new(corrected)));
        } else {
            scores.push((k, model, Box::new(composed)));
        }
    }

    // The folder is made once every input, checkpoints included, has been checked.
    std::fs::create_dir_all(args.out.join("particles"))
        .with_context(|| format!("cannot create {}", args.out.display()))?;
    let csv = args.out.join("eval.csv");
    let mut rows = read_rows(&csv)?;
    // With --report-only there is nothing to run: no case is visited.
    let cases: Vec<usize> =
        if args.report_only { Vec::new() } else { (args.first_case..args.first_case + args.cases).collect() };
    // Every diffusion run of the grid: SDA at each C, then MMPS at each N and its own C.
    let runs: Vec<(usize, Guidance)> = args
        .corrections
        .iter()
        .map(|&c| (c, Guidance::Sda { gamma: args.gamma }))
        .chain(
            args.mmps_iterations
                .iter()
                .flat_map(|&n| args.mmps_corrections.iter().map(move |&c| (c, Guidance::Mmps { iterations: n }))),
        )
        .collect();
    let sda_method = |k, c, guidance: Guidance| match guidance {
        Guidance::Mmps { iterations } => {
            RowMethod::Mmps { k, corrections: c, steps: args.steps, tau: args.tau, iterations }
        }
        _ => RowMethod::Sda { k, corrections: c, steps: args.steps, tau: args.tau, gamma: args.gamma },
    };
    let label = |guidance: Guidance| match guidance {
        Guidance::Mmps { iterations } => format!(" MMPS N={iterations}"),
        _ => String::new(),
    };
    let row_key = |case: usize, regime: Regime, method: RowMethod, model: &str| EvalRow {
        case,
        regime,
        method,
        model: model.to_string(),
        samples: args.samples,
        particles: args.particles,
        seed: args.seed.wrapping_add(case as u64),
        w1: f64::NAN,
        floor: f64::NAN,
        log_prior: f64::NAN,
        log_likelihood: f64::NAN,
        rmse: f64::NAN,
        spread: f64::NAN,
        seconds: f64::NAN,
    };
    let done = |rows: &[EvalRow], key: &EvalRow| rows.iter().any(|r| r.same_run(key));
    let runs = &runs;
    let pending: u64 = cases
        .iter()
        .flat_map(|&case| regimes.iter().map(move |&r| (case, r)))
        .flat_map(|(case, r)| scores.iter().flat_map(move |s| runs.iter().map(move |&(c, g)| (case, r, s, c, g))))
        .filter(|&(case, r, s, c, g)| !done(&rows, &row_key(case, r, sda_method(s.0, c, g), &s.1)))
        .map(|(_, _, _, c, _)| (args.steps * (1 + c)) as u64)
        .sum();
    eprintln!(
        "device: {device_name}; {} case(s) × {} regime(s), k ∈ {:?}, C ∈ {:?}, {} samples, {} steps; {} rows already in {}",
        cases.len(),
        regimes.len(),
        args.k,
        args.corrections,
        args.samples,
        args.steps,
        rows.len(),
        csv.display()
    );
    let bar = progress::bar(pending, "network evaluations");
    let started = Instant::now();
    for &case in &cases {
        for &regime in &regimes {
            let scenario = lorenz63_case(case, regime, args.seed)?;
            let truth = scenario.truth.clone().context("twin-experiment cases carry their truth")?;
            let dim = LENGTH * chain.state_dim();
            let n = args.samples * dim;
            let reference = reference_runs(args, &scenario, case, regime, &bar)?;
            let floor = wasserstein1(&reference[0][..n], &reference[1][..n], dim).context("floor: W1 failed")?;
            let score_row =
                |method: RowMethod, model: &str, ensemble: &[f64], seconds: f64| -> anyhow::Result<EvalRow> {
                    let members = Ensemble::from_trajectories(ensemble.to_vec(), LENGTH, &chain.state_shape())?;
                    let s = members.skill(&truth).context("skill needs two members or more")?;
                    Ok(EvalRow {
                        w1: wasserstein1(ensemble, &reference[1][..n], dim).context("W1 failed")?,
                        floor,
                        log_prior: mean_log_prior(chain, &members).unwrap_or(f64::NAN),
                        log_likelihood: members.mean_log_likelihood(&scenario.observations).unwrap_or(f64::NAN),
                        rmse: s.rmse,
                        spread: s.spread,
                        seconds,
                        ..row_key(case, regime, method, model)
                    })
                };
            if !done(&rows, &row_key(case, regime, RowMethod::Particle, "")) {
                let row = score_row(RowMethod::Particle, "", &reference[0][..n], f64::NAN)?;
                say(&bar, format!("case {case} {}: particle floor W1 {:.2}", regime.name(), row.w1));
                rows.push(row);
                write_rows(&csv, &rows)?;
            }
            for (k, model, score) in &scores {
                for &(c, guidance) in runs {
                    let method = sda_method(*k, c, guidance);
                    if done(&rows, &row_key(case, regime, method, model)) {
                        continue;
                    }
                    let name = format!("case {case} {} k={k} C={c}{}", regime.name(), label(guidance));
                    bar.set_message(name.clone());
                    let plan = SamplerPlan {
                        samples: args.samples,
                        steps: args.steps,
                        corrections: c,
                        tau: args.tau,
                        seed: args.seed.wrapping_add(case as u64),
                    };
                    let t0 = Instant::now();
                    let ensemble = posterior_ensemble(
                        chain,
                        LENGTH,
                        &scenario.observations,
                        score.as_ref(),
                        guidance,
                        &plan,
                        &device,
                        &AtomicBool::new(false),
                        &mut |s| {
                            if s.corrected {
                                bar.inc(1 + c as u64)
                            }
                        },
                    )
                    .with_context(|| name.clone())?;
                    let row = score_row(method, model, &ensemble, t0.elapsed().as_secs_f64())?;
                    say(
                        &bar,
                        format!(
                            "{name}: W1 {:.2} (floor {:.2}), log-prior {:.2}, log-likelihood {:.1}, {:.0} s",
                            row.w1, row.floor, row.log_prior, row.log_likelihood, row.seconds
                        ),
                    );
                    rows.push(row);
                    write_rows(&csv, &rows)?;
                }
            }
        }
    }
    bar.finish_and_clear();
    // Report only rows of the checkpoints evaluated now (a file may hold rows of older weights).
    let rows: Vec<EvalRow> =
        rows.into_iter().filter(|r| r.model.is_empty() || scores.iter().any(|s| s.1 == r.model)).collect();
    let report = markdown_report(&rows);
    let md = args.out.join("eval.md");
    std::fs::write(&md, &report).with_context(|| format!("cannot write {}", md.display()))?;
    let png = args.out.join("eval.png");
    plot_summary_png(&png, &rows, args.samples, args.steps)?;
    let cost = args.out.join("cost.png");
    // The CSV and the tables are written: a grid with no finite run only goes without this figure.
    if let Err(e) = plot_cost_png(&cost, &rows) {
        eprintln!("sdalab: {e}");
    }
    println!("{report}");
    eprintln!(
        "wrote {}, {}, {} and {} ({} rows; this run took {:.0} s)",
        csv.display(),
        md.display(),
        png.display(),
        cost.display(),
        rows.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The two independent particle runs of a case (`keep` paths each), read from the output
/// folder when an earlier run saved them.
fn reference_runs(
    args: &EvalArgs,
    scenario: &Scenario,
    case: usize,
    regime: Regime,
    bar: &ProgressBar,
) -> anyhow::Result<[Vec<f64>; 2]> {
    let chain = scenario.system.chain();
    let shape = vec![args.keep, LENGTH, chain.state_dim()];
    let run = |index: u64| -> anyhow::Result<Vec<f64>> {
        let seed = particle_seed(args.seed, case, regime, index);
        let path = args.out.join("particles").join(format!(
            "case{case}-{}-p{}-keep{}-seed{seed}.npy",
            regime.name(),
            args.particles,
            args.keep
        ));
        if let Some(paths) = cached(&path, &shape) {
            return Ok(paths);
        }
        bar.set_message(format!("case {case} {}: particle run {index}", regime.name()));
        let smoother =
            ParticleSmoother { particles: args.particles, keep: args.keep, resampling: Resampling::Systematic, seed };
        let t0 = Instant::now();
        let out = smoother.run(chain, LENGTH, &scenario.observations, &|_| {});
        let ess = out.ess.iter().map(|e| e.1).fold(f64::INFINITY, f64::min);
        say(
            bar,
            format!(
                "case {case} {}: particle run {index} in {:.1} s, lowest ESS {ess:.0}, {} distinct roots",
                regime.name(),
                t0.elapsed().as_secs_f64(),
                out.distinct_roots
            ),
        );
        let values: Vec<f32> = out.paths.iter().map(|v| *v as f32).collect();
        write_npy_f32(&path, &shape, &values)?;
        // The values as saved, so a fresh run and a resumed one score against identical paths.
        Ok(values.iter().map(|v| *v as f64).collect())
    };
    Ok([run(1)?, run(2)?])
}

/// A saved reference run, if `path` holds one of the expected shape.
fn cached(path: &Path, shape: &[usize]) -> Option<Vec<f64>> {
    let array = read_npy_f32(path).ok()?;
    (array.shape == shape).then(|| array.data.iter().map(|v| *v as f64).collect())
}

/// A line of progress above the bar, or on standard error when the bar is hidden (not a terminal).
fn say(bar: &ProgressBar, line: String) {
    if bar.is_hidden() { eprintln!("{line}") } else { bar.println(line) }
}
