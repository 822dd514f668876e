//! What the worker reports.

use std::sync::Arc;

use super::JobId;
use crate::ensemble::Ensemble;
use crate::metrics::{EnsembleScores, Mode};

/// A snapshot of the ensemble after one predictor step and its corrections, physical units.
#[derive(Debug, Clone)]
pub struct Frame {
    pub job: JobId,
    /// 1-based step, out of `steps`.
    pub step: usize,
    pub steps: usize,
    /// Diffusion time reached.
    pub t: f64,
    /// Members in `x` and `tweedie`.
    pub members: usize,
    /// `x(t)` of the first `members` members.
    pub x: Ensemble<f32>,
    /// Tweedie's estimate `x̂` of the final sample at the start of the step (same members).
    pub tweedie: Ensemble<f32>,
    /// Root-mean-square of `(y − A(x̂))/σ_y` over observations and the whole ensemble.
    pub misfit: f64,
    /// Network evaluations done so far.
    pub evaluations: usize,
    /// Seconds since the job started.
    pub elapsed: f64,
    /// Mode of each member of the frame (clustered on `tweedie`), when computed at this step.
    pub labels: Option<Arc<[usize]>>,
}

/// Time spent on a finished job.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Timing {
    pub seconds: f64,
    /// Seconds from the start to the first frame.
    pub first_frame: f64,
    pub evaluations: usize,
}

impl Timing {
    pub fn evaluations_per_second(&self) -> f64 {
        if self.seconds > 0.0 { self.evaluations as f64 / self.seconds } else { 0.0 }
    }
}

/// A finished job's results.
#[derive(Debug, Clone)]
pub struct Finished {
    pub job: JobId,
    /// The whole ensemble, physical units.
    pub ensemble: Ensemble<f32>,
    /// Its members.
    pub samples: usize,
    /// Modes of the whole ensemble, largest first.
    pub modes: Vec<Mode>,
    /// Every frame of the run, in order, for replay.
    pub history: Vec<Frame>,
    pub timing: Timing,
    /// RMSE against the scenario's truth, spread and log-likelihood of the whole ensemble.
    pub scores: EnsembleScores,
}

/// A classical method's answer on the job's scenario, for the comparison view.
#[derive(Debug, Clone)]
pub struct Comparison {
    pub job: JobId,
    /// The method and its settings, in words.
    pub label: String,
    /// Physical units.
    pub ensemble: Ensemble<f32>,
    /// Its members.
    pub members: usize,
    pub modes: Vec<Mode>,
    pub scores: EnsembleScores,
    /// Wall time of the method alone.
    pub seconds: f64,
    /// What the method reports about itself (effective sample sizes, convergence, choices made).
    pub notes: Vec<String>,
}

/// An exact reference posterior (the linear system's Kalman/RTS smoother): per-state mean and
/// standard deviation, flat `[length, state_dim]`.
#[derive(Debug, Clone)]
pub struct Reference {
    pub job: JobId,
    pub mean: Vec<f64>,
    pub std: Vec<f64>,
    pub log_evidence: f64,
}

/// A job's life cycle, in order: `Started`, optionally `Reference` and `Comparison`, then exactly one of
/// `Finished`, `Failed` or `Cancelled`. Frames arrive separately ([`super::Worker::latest_frame`]).
#[derive(Debug, Clone)]
pub enum Event {
    Started { job: JobId, device: String, evaluations: usize },
    Reference(Box<Reference>),
    Comparison(Box<Comparison>),
    Finished(Box<Finished>),
    Failed { job: JobId, reason: String },
    Cancelled { job: JobId },
}

impl Event {
    pub fn job(&self) -> JobId {
        match self {
            Self::Started { job, .. } | Self::Failed { job, .. } | Self::Cancelled { job } => *job,
            Self::Reference(r) => r.job,
            Self::Comparison(c) => c.job,
            Self::Finished(f) => f.job,
        }
    }
}
