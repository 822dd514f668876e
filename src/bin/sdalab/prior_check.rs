//! Unconditional checks of a score model: trajectories sampled without observations, compared
//! with the simulator's own trajectories (Lorenz systems) or with held-out fields (Kolmogorov
//! flow). Shared by `sdalab eval prior` and the checks `sdalab train` logs as it goes.

use sdalab::ensemble::Ensemble;
use std::fmt::Write as _;
use std::sync::atomic::AtomicBool;

use anyhow::{Context, bail, ensure};
use candle_core::{DType, Device};
use sdalab::dynamics::{MarkovChain, System, simulate_ensemble};
use sdalab::export::PriorCheckRow;
use sdalab::metrics::{FieldClimate, TrajectoryClimate};
use sdalab::sampler::{Guidance, SamplerPlan, posterior_ensemble};
use sdalab::score::{ComposedNetworkScore, GaussianCorrectedScore, TrajectoryScore};

/// Shells compared in the energy spectrum of fields: k = 1 … 8 (half the stored grid's cut-off).
pub const SHELLS: usize = 8;

/// How unconditional trajectories are drawn.
#[derive(Debug, Clone)]
pub struct PriorSampling {
    pub samples: usize,
    /// States per trajectory.
    pub length: usize,
    pub steps: usize,
    pub corrections: usize,
    pub tau: f64,
    pub seed: u64,
}

impl PriorSampling {
    /// The sampler in words, for tables.
    pub fn label(&self) -> String {
        if self.corrections == 0 {
            format!("{} steps, C = 0 (probability flow)", self.steps)
        } else {
            format!("{} steps, C = {}, τ = {}", self.steps, self.corrections, self.tau)
        }
    }
}

/// Climate statistics of one ensemble, of the kind its system calls for.
#[derive(Debug, Clone)]
pub enum Climate {
    Trajectories(TrajectoryClimate),
    Fields(FieldClimate),
}

/// What unconditional samples of one system are compared with.
pub struct Reference<'a> {
    system: &'a System,
    pub climate: Climate,
    /// Where the reference came from, in words.
    pub description: String,
}

impl<'a> Reference<'a> {
    /// `samples` simulator trajectories of `length` states (Lorenz systems), from `seed`.
    pub fn simulated(system: &'a System, length: usize, samples: usize, seed: u64) -> anyhow::Result<Self> {
        let chain = system.chain();
        let values = simulate_ensemble(chain, length, samples, chain.default_burn_in(), seed, &|_| {});
        let climate = climate_of(system, &values, length)?;
        let description = format!("{samples} simulator trajectories of {length} states (seed {seed})");
        Ok(Self { system, climate, description })
    }

    /// Held-out states (fields) in physical units, `description` saying where they are from.
    pub fn data(system: &'a System, values: &[f64], length: usize, description: String) -> anyhow::Result<Self> {
        Ok(Self { system, climate: climate_of(system, values, length)?, description })
    }

    /// The climate of `ensemble` (trajectories of `length` states), comparable to this one.
    pub fn climate_of(&self, ensemble: &[f64], length: usize) -> anyhow::Result<Climate> {
        climate_of(self.system, ensemble, length)
    }

    /// The summary figures of `samples` against this reference, as logged while training.
    pub fn summary(&self, samples: &Climate) -> PriorCheckRow {
        match (&self.climate, samples) {
            (Climate::Trajectories(r), Climate::Trajectories(s)) => PriorCheckRow {
                std_ratio: s.std_ratio(r),
                log_density: s.log_density.unwrap_or(f64::NAN),
                energy_factor: f64::NAN,
            },
            (Climate::Fields(r), Climate::Fields(s)) => PriorCheckRow {
                std_ratio: s.std / r.std,
                log_density: f64::NAN,
                energy_factor: s.worst_energy_factor(r, SHELLS),
            },
            _ => PriorCheckRow::NONE,
        }
    }

    /// Markdown tables of the reference next to each sampled ensemble: `(sampler, climate,
    /// seconds)`.
    pub fn markdown(&self, rows: &[(String, Climate, f64)]) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "Reference: {}.\n", self.description);
        match &self.climate {
            Climate::Trajectories(r) => trajectory_tables(&mut out, r, rows),
            Climate::Fields(r) => field_tables(&mut out, r, rows),
        }
        out
    }
}

fn climate_of(system: &System, values: &[f64], length: usize) -> anyhow::Result<Climate> {
    match system {
        System::Kolmogorov(flow) => FieldClimate::of(flow.coarse_grid(), values)
            .map(Climate::Fields)
            .context("no whole fields to take statistics of"),
        System::Lorenz63(_) | System::Lorenz96(_) => {
            let chain = system.chain();
            let ensemble = Ensemble::from_trajectories(values.to_vec(), length, &chain.state_shape())?;
            TrajectoryClimate::of(chain, &ensemble)
                .map(Climate::Trajectories)
                .context("no whole trajectories of two or more states to take statistics of")
        }
        System::Linear(_) => bail!("the linear system has an exact score: there is no learned prior to check"),
    }
}

/// Draws `sampling.samples` unconditional trajectories (physical units); `on_step` runs once per
/// predictor step (with its corrections).
pub fn sample_prior(
    chain: &dyn MarkovChain,
    score: &dyn TrajectoryScore,
    sampling: &PriorSampling,
    device: &Device,
    on_step: &mut dyn FnMut(),
) -> anyhow::Result<Vec<f64>> {
    ensure!(sampling.samples >= 2, "the check needs at least 2 samples");
    let plan = SamplerPlan {
        samples: sampling.samples,
        steps: sampling.steps,
        corrections: sampling.corrections,
        tau: sampling.tau,
        seed: sampling.seed,
    };
    Ok(posterior_ensemble(
        chain,
        sampling.length,
        &[],
        score,
        Guidance::None,
        &plan,
        device,
        &AtomicBool::new(false),
        &mut |s| {
            if s.corrected {
                on_step();
            }
        },
    )?)
}

fn trajectory_tables(out: &mut String, r: &TrajectoryClimate, rows: &[(String, Climate, f64)]) {
    let d = r.stds.len();
    let shown = d.min(8);
    let components = if d > shown {
        format!(" (components 0–{} of {d}; the ring is homogeneous)", shown - 1)
    } else {
        String::new()
    };
    let samples = || {
        rows.iter().filter_map(|(label, c, sec)| match c {
            Climate::Trajectories(s) => Some((label, s, sec)),
            Climate::Fields(_) => None,
        })
    };
    let _ = writeln!(out, "Per component{components}: mean / std / lag-1 autocorrelation.\n");
    let mut header = "| ensemble |".to_string();
    let mut rule = "|---|".to_string();
    for i in 0..shown {
        let _ = write!(header, " {i}: mean | std | lag-1 |");
        rule.push_str("---:|---:|---:|");
    }
    let _ = writeln!(out, "{header}\n{rule}");
    let line = |name: &str, c: &TrajectoryClimate| {
        let mut s = format!("| {name} |");
        for i in 0..shown {
            let _ = write!(s, " {:.2} | {:.2} | {:.3} |", c.means[i], c.stds[i], c.lag1[i]);
        }
        s
    };
    let _ = writeln!(out, "{}", line("simulator", r));
    for (label, s, _) in samples() {
        let _ = writeln!(out, "{}", line(label, s));
    }
    let _ = writeln!(out, "\nSummary (all {d} components):\n");
    let _ = writeln!(
        out,
        "| ensemble | std / simulator's (mean) | largest std error | largest lag-1 error | mean transition log-density | time |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|");
    let lp = |c: &TrajectoryClimate| c.log_density.map_or("–".into(), |v| format!("{v:+.2}"));
    let _ = writeln!(out, "| simulator | 1.000 | 0.0% | 0.000 | {} | |", lp(r));
    for (label, s, sec) in samples() {
        let lag = s.lag1.iter().zip(&r.lag1).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| {label} | {:.3} | {:.1}% | {lag:.3} | {} | {sec:.0} s |",
            s.std_ratio(r),
            100.0 * s.worst_std_error(r),
            lp(s)
        );
    }
}

fn field_tables(out: &mut String, r: &FieldClimate, rows: &[(String, Climate, f64)]) {
    let samples = || {
        rows.iter().filter_map(|(label, c, sec)| match c {
            Climate::Fields(s) => Some((label, s, sec)),
            Climate::Trajectories(_) => None,
        })
    };
    let _ = writeln!(out, "Energy per wavenumber shell, samples / data, k = 1 … {SHELLS}:\n");
    let mut header = "| sampler |".to_string();
    let mut rule = "|---|".to_string();
    for k in 1..=SHELLS {
        let _ = write!(header, " {k} |");
        rule.push_str("---:|");
    }
    let _ = writeln!(out, "{header} largest factor |\n{rule}---:|");
    for (label, s, _) in samples() {
        let ratios: Vec<String> = s.energy_ratios(r, SHELLS).iter().map(|v| format!("{v:.2}")).collect();
        let _ = writeln!(out, "| {label} | {} | ×{:.2} |", ratios.join(" | "), s.worst_energy_factor(r, SHELLS));
    }
    let _ = writeln!(out, "\nVorticity distribution:\n");
    let _ = writeln!(out, "| ensemble | std | 0.1% | 99.9% | max abs | enstrophy | time |");
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|");
    let _ = writeln!(
        out,
        "| data | {:.2} | {:.1} | {:.1} | {:.1} | {:.2} | |",
        r.std, r.q001, r.q999, r.max_abs, r.enstrophy
    );
    for (label, s, sec) in samples() {
        let _ = writeln!(
            out,
            "| {label} | {:.2} | {:.1} ({:+.0}%) | {:.1} ({:+.0}%) | {:.1} (×{:.2}) | {:.2} (×{:.2}) | {sec:.0} s |",
            s.std,
            s.q001,
            100.0 * (s.q001 / r.q001 - 1.0),
            s.q999,
            100.0 * (s.q999 / r.q999 - 1.0),
            s.max_abs,
            s.max_abs / r.max_abs,
            s.enstrophy,
            s.enstrophy / r.enstrophy
        );
    }
}

/// `composed` corrected by the Gaussian fitted to `trajectories` simulator trajectories of `length`
/// states (seed `seed`): see [`GaussianCorrectedScore`].
pub fn gaussian_corrected(
    chain: &dyn MarkovChain,
    composed: ComposedNetworkScore,
    length: usize,
    trajectories: usize,
    seed: u64,
    device: &Device,
) -> anyhow::Result<GaussianCorrectedScore<ComposedNetworkScore>> {
    let fit = simulate_ensemble(chain, length, trajectories, chain.default_burn_in(), seed, &|_| {});
    let window = composed.composer().window();
    Ok(GaussianCorrectedScore::fitted(composed, &fit, length, window, chain.normalisation(), DType::F32, device)?)
}
