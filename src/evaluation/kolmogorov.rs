//! The checks of a Kolmogorov-flow score model on held-out truths.
//!
//! 1. Assimilation (the paper's Fig. 4 analogue): each truth is observed through 8×8 block means
//!    (4×4 cells each) every 4th state with noise σ = 10% of the climate's standard deviation; each
//!    guidance rule samples the posterior. Reported: the residual std((A(x) − y)/σ) over members
//!    and observations (1 means the samples fit the observations as well as the truth does), and
//!    the RMSE to the truth of the posterior mean next to that of the coarse observation upsampled.
//! 2. Climate: unconditional samples (no guidance) against the held-out data — the energy
//!    spectrum per wavenumber shell (ratio up to half the cut-off) and vorticity quantiles.

use std::fmt::Write as _;
use std::time::Instant;

use candle_core::Device;
use rand::Rng;
use rand_distr::StandardNormal;

use super::EvaluationError;
use crate::dynamics::{Kolmogorov, MarkovChain, System};
use crate::ensemble::Ensemble;
use crate::export::NpyArray;
use crate::observe::{Observation, Pattern};
use crate::pipeline::{PipelineError, SamplerSetup, sda_posterior};
use crate::rng;
use crate::sampler::{Guidance, SamplerError, SamplerPlan};
use crate::scenario::{SamplerSettings, Scenario};
use crate::score::TrajectoryScore;

/// Block size of the coarse view (8×8 blocks over 32×32) and its period in states.
pub const BLOCK: usize = 4;
pub const EVERY: usize = 4;

/// What to run.
#[derive(Debug, Clone, PartialEq)]
pub struct KolmogorovEval {
    /// Truths (cases) to assimilate (0: only the climate check).
    pub cases: usize,
    /// States per trajectory.
    pub length: usize,
    /// Posterior members per case.
    pub samples: usize,
    /// Unconditional trajectories for the climate check.
    pub prior_samples: usize,
    pub steps: usize,
    pub corrections: usize,
    pub tau: f64,
    /// The guidance rules compared, with their names in the report.
    pub rules: Vec<(String, Guidance)>,
    pub seed: u64,
}

impl KolmogorovEval {
    /// Network evaluations of the whole evaluation.
    pub fn evaluations(&self) -> u64 {
        (self.steps * (1 + self.corrections)) as u64 * (self.rules.len() as u64 * self.cases as u64 + 1)
    }

    /// Refuses settings or truths the evaluation cannot run with, before any work.
    pub fn check(&self, truths: &NpyArray) -> Result<(), EvaluationError> {
        let shape = Kolmogorov::new().state_shape();
        let invalid = |message: String| EvaluationError::Invalid { message };
        for samples in [self.samples, self.prior_samples] {
            let settings = SamplerSettings {
                samples: Some(samples as u64),
                steps: Some(self.steps as u64),
                corrections: Some(self.corrections as u64),
                tau: Some(self.tau),
                ..SamplerSettings::default()
            };
            settings.check(&|field| format!("--{}", field.replace('_', "-")))?;
        }
        let per_state = crate::pipeline::bytes_per_sampled_state(shape.iter().product());
        let budget = crate::budget::MemoryBudget::of_machine();
        budget
            .check("--samples × --length", &[self.samples.max(self.prior_samples), self.length], per_state)
            .map_err(|e| invalid(e.to_string()))?;
        if self.samples < 2 || self.prior_samples < 1 {
            return Err(invalid("the posterior needs at least 2 members and the climate check at least 1".into()));
        }
        if self.length < 5 {
            return Err(invalid(format!("trajectories of {} states: at least 5 are needed", self.length)));
        }
        if truths.shape.len() != 4 || truths.shape[2..] != shape[..] {
            return Err(invalid(format!("the truths' shape {:?} does not hold {shape:?} states", truths.shape)));
        }
        let (n, stored) = (truths.shape[0], truths.shape[1]);
        if self.cases > n {
            return Err(invalid(format!("{} cases exceed the {n} truths", self.cases)));
        }
        if self.length > stored {
            return Err(invalid(format!("{} states exceed the {stored} stored", self.length)));
        }
        Ok(())
    }

    /// Runs the evaluation of `prior` on `truths` (`(N, L', 32, 32)`) and returns the report
    /// (markdown). `header` opens it (model and data); `progress` counts network evaluations.
    pub fn run(
        &self,
        header: &str,
        prior: &dyn TrajectoryScore,
        device: &Device,
        truths: &NpyArray,
        progress: &dyn Fn(u64),
    ) -> Result<String, EvaluationError> {
        let flow = Kolmogorov::new();
        let chain: &dyn MarkovChain = &flow;
        let shape = chain.state_shape();
        self.check(truths)?;
        let d = chain.state_dim();
        let stored = truths.shape[1];
        let std = 0.1 * Kolmogorov::CLIMATE_STD;
        let cells = Pattern::Blocks { size: BLOCK, times: EVERY }
            .cells(self.length, &shape)
            .map_err(|message| EvaluationError::Invalid { message })?;
        let per_step = 1 + self.corrections as u64;
        let sample = |observations: Vec<Observation>, guidance: Guidance, samples: usize, seed: u64| {
            let started = Instant::now();
            let scenario = Scenario {
                system: System::Kolmogorov(flow.clone()),
                length: self.length,
                observations,
                truth: None,
                sampler: None,
            };
            let plan = SamplerPlan { samples, steps: self.steps, corrections: self.corrections, tau: self.tau, seed };
            let setup = SamplerSetup { plan, guidance };
            let cancel = std::sync::atomic::AtomicBool::new(false);
            sda_posterior(&scenario, prior, &setup, device, &cancel, &mut |s| {
                if s.corrected || self.corrections == 0 {
                    progress(per_step)
                }
            })
            .map(|e| (e, started.elapsed().as_secs_f64()))
        };

        let mut report = String::new();
        let w = &mut report;
        let _ = writeln!(w, "{header}");
        let _ = writeln!(
            w,
            "## Assimilation: 8×8 block means every {EVERY}th state, σ = {std:.2} (10% of the climate std)\n"
        );
        let _ = writeln!(
            w,
            "| case | method | residual std/σ | RMSE mean (observed states) | RMSE mean (all) | RMSE coarse upsampled | spread | time |"
        );
        let _ = writeln!(w, "|---|---|---:|---:|---:|---:|---:|---:|");
        let mut medians: Vec<(String, Vec<f64>)> =
            self.rules.iter().map(|(name, _)| (name.clone(), Vec::new())).collect();
        for case in 0..self.cases {
            let truth: Vec<f64> =
                truths.data[case * stored * d..][..self.length * d].iter().map(|&v| v as f64).collect();
            let mut noise = rng::stream(self.seed.wrapping_add(1000 + case as u64), 0);
            let observations: Vec<Observation> = cells
                .iter()
                .map(|(t, op)| Observation {
                    t: *t,
                    op: op.clone(),
                    value: op.apply(&truth[t * d..(t + 1) * d]) + std * noise.sample::<f64, _>(StandardNormal),
                    std,
                })
                .collect();
            let observed: Vec<usize> = (0..self.length).step_by(EVERY).collect();
            // The coarse view upsampled: each cell takes its block's observed mean.
            let upsampled_rmse = rmse_at(&observed, d, &truth, |t, i| {
                observations.iter().find(|o| o.t == t && o.op.indices().contains(&i)).map_or(f64::NAN, |o| o.value)
            });
            for (m, &(_, guidance)) in self.rules.iter().enumerate() {
                let name = medians[m].0.clone();
                let (ensemble, seconds) =
                    match sample(observations.clone(), guidance, self.samples, self.seed + case as u64) {
                        Err(PipelineError::Sampler(SamplerError::Diverged)) => {
                            // A diverged rule is a result of the comparison, not a reason to lose the others.
                            medians[m].1.push(f64::INFINITY);
                            let _ = writeln!(w, "| {case} | {name} | diverged | | | {upsampled_rmse:.3} | | |");
                            continue;
                        }
                        other => other?,
                    };
                let residual = residual_std(&ensemble, &observations);
                let (mean, std) = ensemble.mean_std();
                let spread = (std.iter().map(|s| s * s).sum::<f64>() / std.len().max(1) as f64).sqrt();
                let all: Vec<usize> = (0..self.length).collect();
                let rmse_observed = rmse_at(&observed, d, &truth, |t, i| mean[t * d + i]);
                let rmse_all = rmse_at(&all, d, &truth, |t, i| mean[t * d + i]);
                medians[m].1.push(residual);
                let _ = writeln!(
                    w,
                    "| {case} | {name} | {residual:.2} | {rmse_observed:.3} | {rmse_all:.3} | {upsampled_rmse:.3} | {spread:.3} | {seconds:.0} s |",
                );
            }
        }
        for (name, values) in medians.iter_mut().filter(|(_, v)| !v.is_empty()) {
            values.sort_by(f64::total_cmp);
            let median = values[values.len() / 2];
            let diverged = values.iter().filter(|v| v.is_infinite()).count();
            let note =
                if diverged > 0 { format!(" ({diverged} of {} runs diverged)", values.len()) } else { String::new() };
            let _ = writeln!(w, "\n{name}: median residual std/σ {median:.2}{note}");
        }

        // Climate: unconditional samples against the held-out data.
        let (prior_samples, seconds) = sample(Vec::new(), Guidance::None, self.prior_samples, self.seed + 999)?;
        let data: Vec<f64> = truths.data.iter().map(|&v| v as f64).collect();
        climate_report(w, &flow, prior_samples.values(), &data, self.length, seconds);
        Ok(report)
    }
}

/// The climate part of the report: energy spectra and vorticity quantiles of `samples` against
/// `data` (both flat states of the flow's coarse grid).
fn climate_report(w: &mut String, flow: &Kolmogorov, samples: &[f64], data: &[f64], length: usize, seconds: f64) {
    let grid = flow.coarse_grid();
    let d = grid.n() * grid.n();
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
    let (ours, theirs) = (spectrum(samples), spectrum(data));
    let half = (grid.n() / 2) / 2;
    let _ = writeln!(
        w,
        "\n## Climate: {} unconditional trajectories of {length} states ({seconds:.0} s) against the {} held-out states\n",
        samples.len() / (d * length).max(1),
        data.len() / d
    );
    let _ = writeln!(w, "Energy per wavenumber shell |k| (cut-off of the stored grid: {}):\n", grid.n() / 2);
    let _ = writeln!(w, "| k | data | samples | ratio |");
    let _ = writeln!(w, "|---:|---:|---:|---:|");
    let mut worst: f64 = 1.0;
    for k in 1..=grid.n() / 2 {
        let ratio = ours[k] / theirs[k];
        if k <= half {
            worst = worst.max(ratio.max(1.0 / ratio));
        }
        let _ = writeln!(w, "| {k} | {:.3e} | {:.3e} | {ratio:.2} |", theirs[k], ours[k]);
    }
    let _ = writeln!(w, "\nLargest factor between the spectra up to k = {half} (half the cut-off): ×{worst:.2}.\n");
    let _ = writeln!(w, "Vorticity quantiles:\n");
    let _ = writeln!(w, "| quantile | data | samples |");
    let _ = writeln!(w, "|---:|---:|---:|");
    let (mut a, mut b) = (data.to_vec(), samples.to_vec());
    a.sort_by(f64::total_cmp);
    b.sort_by(f64::total_cmp);
    for q in [0.001, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 0.999] {
        let at = |v: &[f64]| v.get(((v.len().max(1) - 1) as f64 * q).round() as usize).copied().unwrap_or(f64::NAN);
        let _ = writeln!(w, "| {q} | {:.2} | {:.2} |", at(&a), at(&b));
    }
    let _ = writeln!(w, "\nstd: data {:.3}, samples {:.3}", std_dev(data), std_dev(samples));
}

/// Standard deviation over members and observations of the standardised residuals
/// `(A(x) − y)/σ_y` (centred: a bias shows in the RMSE, not here).
fn residual_std(ensemble: &Ensemble, observations: &[Observation]) -> f64 {
    let d = ensemble.state_dim();
    let residuals: Vec<f64> = ensemble
        .trajectories()
        .flat_map(|member| observations.iter().map(move |o| (o.predict(member, d) - o.value) / o.std))
        .collect();
    std_dev(&residuals)
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
