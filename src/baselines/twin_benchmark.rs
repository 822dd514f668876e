//! Cycled filtering twin experiments in DAPPER's published settings, to check the ensemble
//! analysis and the particle filter against DAPPER's benchmark tables.
//!
//! A truth is integrated without model noise from a draw of `X0`, observed (all variables,
//! `R = r·I`) every `steps_per_obs` model steps; a filter started from its own independent draws of
//! `X0` forecasts with the same model and analyses each observation. The score is DAPPER's
//! `rmse.a`: at each analysis time after the burn-in, the root mean square over variables of the
//! analysis mean's error, averaged over those times. Ensemble filters are scored after inflation
//! and rotation; the particle filter by its weighted mean before resampling (as DAPPER does).

use nalgebra::{DMatrix, DVector};
use rand::Rng;
use rand_distr::StandardNormal;

use super::ensemble_analysis::{
    AnalysisError, AnalysisForm, StateObservations, analysis_transform, inflate, mean_preserving_rotation,
};
use crate::dynamics::{Lorenz63, Lorenz96, rk4};
use crate::rng;

/// The deterministic model of a twin setting: one RK4 step of `dt`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TwinModel {
    Lorenz63,
    /// 40 variables, `F = 8`.
    Lorenz96,
}

/// The models of [`TwinModel`], built once per run.
enum Stepper {
    Lorenz63(Lorenz63),
    Lorenz96(Lorenz96),
}

impl Stepper {
    fn new(model: TwinModel) -> Self {
        match model {
            TwinModel::Lorenz63 => Self::Lorenz63(Lorenz63::new()),
            TwinModel::Lorenz96 => Self::Lorenz96(Lorenz96::new()),
        }
    }

    /// One RK4 step of `dt`, in place.
    fn step(&self, dt: f64, x: &mut [f64]) {
        let start = x.to_vec();
        match self {
            Self::Lorenz63(m) => rk4::integrate(|x, dx| m.vector_field(x, dx), &start, dt, 1, x),
            Self::Lorenz96(m) => rk4::integrate(|x, dx| m.vector_field(x, dx), &start, dt, 1, x),
        }
    }
}

/// A published twin-experiment setting.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinSetting {
    /// DAPPER's module name.
    pub name: &'static str,
    pub model: TwinModel,
    pub dt: f64,
    pub steps_per_obs: usize,
    /// Analysis cycles (DAPPER's `Ko + 1` observations).
    pub cycles: usize,
    /// Analyses at times `≤ burn_in_time` are not scored.
    pub burn_in_time: f64,
    pub x0_mean: Vec<f64>,
    /// `X0 = N(x0_mean, x0_variance·I)`.
    pub x0_variance: f64,
    /// `R = obs_variance·I`.
    pub obs_variance: f64,
}

impl TwinSetting {
    /// DAPPER `mods/Lorenz63/sakov2012.py`: dt 0.01, all of x observed every 25 steps, R = 2I,
    /// 1001 analyses, burn-in 16 time units.
    pub fn lorenz63_sakov2012() -> Self {
        Self {
            name: "Lorenz63/sakov2012",
            model: TwinModel::Lorenz63,
            dt: 0.01,
            steps_per_obs: 25,
            cycles: 1001,
            burn_in_time: 16.0,
            x0_mean: vec![1.509, -1.531, 25.46],
            x0_variance: 2.0,
            obs_variance: 2.0,
        }
    }

    /// DAPPER `mods/Lorenz96/sakov2008.py`: 40 variables, dt 0.05, all observed every step, R = I,
    /// 1001 analyses, burn-in 20 time units, X0 = N(e_0, 0.001·I).
    pub fn lorenz96_sakov2008() -> Self {
        let mut x0 = vec![0.0; Lorenz96::DIM];
        x0[0] = 1.0;
        Self {
            name: "Lorenz96/sakov2008",
            model: TwinModel::Lorenz96,
            dt: 0.05,
            steps_per_obs: 1,
            cycles: 1001,
            burn_in_time: 20.0,
            x0_mean: x0,
            x0_variance: 0.001,
            obs_variance: 1.0,
        }
    }

    /// The same setting with fewer analysis cycles (burn-in kept).
    pub fn with_cycles(mut self, cycles: usize) -> Self {
        self.cycles = cycles;
        self
    }

    pub fn dim(&self) -> usize {
        self.x0_mean.len()
    }

    fn sample_x0(&self, r: &mut impl Rng) -> Vec<f64> {
        let s = self.x0_variance.sqrt();
        self.x0_mean.iter().map(|m| m + s * r.sample::<f64, _>(StandardNormal)).collect()
    }

    /// Runs `filter` on this setting's twin experiment drawn with `seed`.
    pub fn run(&self, filter: &TwinFilter, seed: u64) -> Result<TwinScore, AnalysisError> {
        let d = self.dim();
        let mut truth_rng = rng::keyed_stream(seed, rng::purpose::TWIN_BENCHMARK, 0);
        let mut filter_rng = rng::keyed_stream(seed, rng::purpose::TWIN_BENCHMARK, 1);
        let obs_std = self.obs_variance.sqrt();
        let mut truth = self.sample_x0(&mut truth_rng);
        let model = Stepper::new(self.model);
        let mut state = FilterState::new(filter, self, &mut filter_rng);
        let (mut error_sum, mut spread_sum, mut scored) = (0.0, 0.0, 0usize);
        let stds = vec![obs_std; d];
        for k in 1..=self.cycles * self.steps_per_obs {
            model.step(self.dt, &mut truth);
            state.forecast(&model, self.dt);
            if k % self.steps_per_obs != 0 {
                continue;
            }
            let y: Vec<f64> = truth.iter().map(|x| x + obs_std * truth_rng.sample::<f64, _>(StandardNormal)).collect();
            let (mean, spread) = state.analyse(filter, &y, &stds, &mut filter_rng)?;
            if k as f64 * self.dt > self.burn_in_time {
                let mse = mean.iter().zip(&truth).map(|(m, t)| (m - t).powi(2)).sum::<f64>() / d as f64;
                error_sum += mse.sqrt();
                spread_sum += spread;
                scored += 1;
            }
        }
        let n = scored.max(1) as f64;
        Ok(TwinScore { rmse: error_sum / n, spread: spread_sum / n, analyses: scored })
    }
}

/// A filter of the twin experiments.
#[derive(Debug, Clone, PartialEq)]
pub enum TwinFilter {
    Ensemble {
        form: AnalysisForm,
        members: usize,
        inflation: f64,
        rotate: bool,
    },
    /// Bootstrap particle filter that resamples (systematically) when the effective sample size
    /// falls to `resample_below·N`, then jitters duplicated particles with a Gaussian of covariance
    /// `(regularisation·N^{−1/(d+4)})²` times the weighted ensemble covariance (DAPPER's `PartFilt`).
    Particle {
        particles: usize,
        regularisation: f64,
        resample_below: f64,
    },
}

impl TwinFilter {
    pub fn label(&self) -> String {
        match self {
            Self::Ensemble { form, members, inflation, rotate } => format!(
                "EnKF {} N={members} infl={inflation}{}",
                match form {
                    AnalysisForm::Stochastic => "PertObs",
                    AnalysisForm::SquareRoot => "Sqrt",
                    AnalysisForm::Deterministic => "DEnKF",
                },
                if *rotate { " rot" } else { "" }
            ),
            Self::Particle { particles, regularisation, resample_below } => {
                format!("PartFilt N={particles} reg={regularisation} NER={resample_below}")
            }
        }
    }
}

/// The time-averaged analysis scores of one run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TwinScore {
    /// DAPPER's `rmse.a`.
    pub rmse: f64,
    /// Time average of the root mean ensemble variance (DAPPER's `rmv.a`).
    pub spread: f64,
    /// Analyses scored (after the burn-in).
    pub analyses: usize,
}

/// One row of DAPPER's benchmark tables that this project reproduces.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedBenchmark {
    pub setting: TwinSetting,
    pub filter: TwinFilter,
    /// DAPPER's published `rmse.a`.
    pub published_rmse: f64,
    /// Where it is published, and how the published method differs from ours, if at all.
    pub source: &'static str,
}

/// The benchmarks of DAPPER's `sakov2012` (Lorenz-63) and `sakov2008` (Lorenz-96) modules.
pub fn published_benchmarks() -> Vec<PublishedBenchmark> {
    let l63 = TwinSetting::lorenz63_sakov2012();
    let l96 = TwinSetting::lorenz96_sakov2008();
    let ensemble = |form, members, inflation, rotate| TwinFilter::Ensemble { form, members, inflation, rotate };
    vec![
        PublishedBenchmark {
            setting: l63.clone(),
            filter: ensemble(AnalysisForm::SquareRoot, 10, 1.02, true),
            published_rmse: 0.60,
            source: "DAPPER Lorenz63/sakov2012: EnKF('Sqrt', N=10, infl=1.02, rot=True)",
        },
        PublishedBenchmark {
            setting: l63.clone(),
            filter: ensemble(AnalysisForm::Stochastic, 10, 1.04, false),
            published_rmse: 0.65,
            source: "DAPPER Lorenz63/sakov2012: EnKF('PertObs', N=10, infl=1.04)",
        },
        PublishedBenchmark {
            setting: l63,
            filter: TwinFilter::Particle { particles: 800, regularisation: 0.9, resample_below: 0.2 },
            published_rmse: 0.28,
            source: "DAPPER Lorenz63/sakov2012: PartFilt(N=800, reg=0.9, NER=0.2)",
        },
        PublishedBenchmark {
            setting: l96.clone(),
            filter: ensemble(AnalysisForm::Deterministic, 40, 1.01, false),
            published_rmse: 0.18,
            source: "DAPPER Lorenz96/sakov2008 (Sakov & Oke 2008, table 1): DEnKF N=40 infl=1.01",
        },
        PublishedBenchmark {
            setting: l96.clone(),
            filter: ensemble(AnalysisForm::SquareRoot, 40, 1.01, false),
            published_rmse: 0.18,
            source: "DAPPER Lorenz96/sakov2008 lists Sqrt at N=24 infl=1.013 rot (0.18) and DEnKF N=40 infl=1.01 (0.18)",
        },
        PublishedBenchmark {
            setting: l96,
            filter: ensemble(AnalysisForm::Stochastic, 40, 1.06, false),
            published_rmse: 0.22,
            source: "DAPPER Lorenz96/sakov2008 (Sakov & Oke 2008, table 1): EnKF('PertObs', N=40, infl=1.06)",
        },
    ]
}

/// The cycling state of one filter.
enum FilterState {
    /// `d × N` members.
    Ensemble(DMatrix<f64>),
    /// `d × N` particles and their normalised weights.
    Particle(DMatrix<f64>, Vec<f64>),
}

impl FilterState {
    fn new(filter: &TwinFilter, setting: &TwinSetting, r: &mut impl Rng) -> Self {
        let d = setting.dim();
        let draw = |n: usize, r: &mut dyn rand::RngCore| {
            let mut m = DMatrix::zeros(d, n);
            for k in 0..n {
                let s = setting.x0_variance.sqrt();
                for i in 0..d {
                    m[(i, k)] = setting.x0_mean[i] + s * r.sample::<f64, _>(StandardNormal);
                }
            }
            m
        };
        match filter {
            TwinFilter::Ensemble { members, .. } => Self::Ensemble(draw(*members, r)),
            TwinFilter::Particle { particles, .. } => {
                Self::Particle(draw(*particles, r), vec![1.0 / *particles as f64; *particles])
            }
        }
    }

    fn forecast(&mut self, model: &Stepper, dt: f64) {
        let members = match self {
            Self::Ensemble(e) | Self::Particle(e, _) => e,
        };
        for mut column in members.column_iter_mut() {
            model.step(dt, column.as_mut_slice());
        }
    }

    /// Assimilates `y`; returns the analysis mean and spread.
    fn analyse(
        &mut self,
        filter: &TwinFilter,
        y: &[f64],
        stds: &[f64],
        r: &mut impl Rng,
    ) -> Result<(DVector<f64>, f64), AnalysisError> {
        match (self, filter) {
            (Self::Ensemble(e), TwinFilter::Ensemble { form, inflation, rotate, .. }) => {
                let n = e.ncols();
                let g = analysis_transform(*form, &StateObservations { values: y, stds, predicted: e.clone() }, r)?;
                *e = g.apply(e);
                if *rotate {
                    *e = &*e * mean_preserving_rotation(n, r);
                }
                inflate(e, *inflation);
                let mean = e.column_mean();
                let variance = e.column_variance() * (n as f64 / (n - 1) as f64);
                Ok((mean, variance.mean().sqrt()))
            }
            (Self::Particle(e, w), TwinFilter::Particle { regularisation, resample_below, .. }) => {
                let (d, n) = e.shape();
                for (k, weight) in w.iter_mut().enumerate() {
                    let misfit: f64 = (0..d).map(|i| ((y[i] - e[(i, k)]) / stds[i]).powi(2)).sum();
                    *weight = weight.ln() - 0.5 * misfit;
                }
                let max = w.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
                if !max.is_finite() {
                    return Err(AnalysisError::NonFinite);
                }
                w.iter_mut().for_each(|v| *v = (*v - max).exp());
                let total: f64 = w.iter().sum();
                w.iter_mut().for_each(|v| *v /= total);
                let mean = &*e * DVector::from_column_slice(w);
                let variance: f64 =
                    (0..d).map(|i| (0..n).map(|k| w[k] * (e[(i, k)] - mean[i]).powi(2)).sum::<f64>()).sum::<f64>()
                        / d as f64;
                let sum_sq: f64 = w.iter().map(|v| v * v).sum();
                if 1.0 / sum_sq <= resample_below * n as f64 {
                    resample_and_jitter(e, w, *regularisation, r);
                }
                Ok((mean, variance.sqrt()))
            }
            _ => unreachable!("the filter state is built from the filter"),
        }
    }
}

/// Systematic resampling, then Gaussian jitter on every particle whose ancestor was drawn more
/// than once (DAPPER's `regularize` with `nuj`).
fn resample_and_jitter(e: &mut DMatrix<f64>, w: &mut [f64], regularisation: f64, r: &mut impl Rng) {
    let (d, n) = e.shape();
    // Weighted covariance, unbiased by 1/(1 − Σw²); uniform weights if they are degenerate.
    let sum_sq: f64 = w.iter().map(|v| v * v).sum();
    let uniform = vec![1.0 / n as f64; n];
    let (cw, unbias) =
        if sum_sq < 1.0 - 1e-9 { (&*w, 1.0 / (1.0 - sum_sq)) } else { (&uniform[..], n as f64 / (n - 1) as f64) };
    let mean = &*e * DVector::from_column_slice(cw);
    let bandwidth = (n as f64).powf(-1.0 / (d as f64 + 4.0));
    let scale = (regularisation * bandwidth).powi(2) * unbias;
    let mut cov = DMatrix::zeros(d, d);
    for (k, weight) in cw.iter().enumerate() {
        let a = e.column(k) - &mean;
        cov += &a * a.transpose() * *weight;
    }
    cov *= scale;
    let lower = nalgebra::Cholesky::new(cov.clone() + DMatrix::identity(d, d) * (1e-12 * cov.trace().max(1e-300)))
        .map(|c| c.l())
        .unwrap_or_else(|| DMatrix::zeros(d, d));
    // Systematic resampling.
    let offset: f64 = r.random::<f64>() / n as f64;
    let mut ancestors = Vec::with_capacity(n);
    let mut cumulative = 0.0;
    let mut j = 0;
    for (k, weight) in w.iter().enumerate() {
        cumulative += weight;
        while j < n && offset + j as f64 / n as f64 <= cumulative {
            ancestors.push(k);
            j += 1;
        }
    }
    while ancestors.len() < n {
        ancestors.push(n - 1);
    }
    let mut counts = vec![0usize; n];
    for &a in &ancestors {
        counts[a] += 1;
    }
    let old = e.clone();
    for (k, &a) in ancestors.iter().enumerate() {
        e.set_column(k, &old.column(a));
        if counts[a] > 1 {
            let z = DVector::from_fn(d, |_, _| r.sample::<f64, _>(StandardNormal));
            let jitter = &lower * z;
            let mut column = e.column_mut(k);
            column += jitter;
        }
    }
    w.iter_mut().for_each(|v| *v = 1.0 / n as f64);
}
