//! Running one job on the worker thread: building the prior, sampling, and reporting frames.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use candle_core::{DType, Device, Tensor};

use super::handle::Outbox;
use super::{Comparison, Event, Finished, Frame, Job, JobId, PriorSpec, Reference, Timing};
use crate::baselines::{ClassicalMethod, FourDVarError};
use crate::device::select_device;
use crate::dynamics::{MarkovChain, System};
use crate::metrics::{EnsembleScores, find_modes};
use crate::observe::Observation;
use crate::sampler::{SamplerError, StepSnapshot, posterior_ensemble};
use crate::score::{Checkpoint, ComposedNetworkScore, ExactGaussianScore, TrajectoryScore, load_checkpoint};

/// Why a job ended without a result.
pub(super) enum JobError {
    Cancelled,
    Failed(String),
}

impl<E: std::fmt::Display> From<E> for JobError {
    fn from(e: E) -> Self {
        Self::Failed(e.to_string())
    }
}

/// The worker's device and the checkpoints it has loaded.
pub(super) struct Executor {
    device: Device,
    device_name: String,
    checkpoints: HashMap<PathBuf, Checkpoint>,
}

impl Executor {
    pub(super) fn new() -> Self {
        let (device, device_name) = select_device();
        Self { device, device_name, checkpoints: HashMap::new() }
    }

    pub(super) fn run(
        &mut self,
        id: JobId,
        job: &Job,
        cancel: &AtomicBool,
        outbox: &Outbox,
    ) -> Result<Finished, JobError> {
        let started = Instant::now();
        let scenario = &job.scenario;
        scenario.validate()?;
        if job.plan.samples == 0 || job.plan.steps == 0 {
            return Err(JobError::Failed("the ensemble size and the number of steps must be at least 1".into()));
        }
        let chain = scenario.system.chain();
        let score = self.prior(job)?;
        outbox.event(Event::Started { job: id, device: self.device_name.clone(), evaluations: job.plan.evaluations() });
        if let Some(reference) = linear_reference(id, job) {
            outbox.event(Event::Reference(Box::new(reference)));
        }
        if let Some(method) = job.compare.as_ref().filter(|m| !m.needs_sda_members()) {
            let comparison = compare(id, job, method, None, cancel)?;
            outbox.event(Event::Comparison(Box::new(comparison)));
        }

        let dim = chain.state_dim();
        let per_member = job.trajectory_len();
        let shown = job.frame_members.clamp(1, job.plan.samples);
        let mut history: Vec<Frame> = Vec::with_capacity(job.plan.steps);
        let mut frame_error: Option<String> = None;
        let mut first_frame = None;
        let mut on_step = |snapshot: StepSnapshot| {
            // Of the previews before corrections only the first is shown: it is the earliest
            // frame of a new job. History keeps corrected steps only.
            if frame_error.is_some() || (!snapshot.corrected && snapshot.step > 1) {
                return;
            }
            match frame(id, job, &snapshot, shown, started, chain) {
                Ok(frame) => {
                    first_frame.get_or_insert(started.elapsed().as_secs_f64());
                    if snapshot.corrected {
                        history.push(frame.clone());
                        outbox.frame(frame);
                        outbox.pacer.wait_turn(cancel);
                    } else {
                        outbox.frame(frame);
                    }
                }
                Err(e) => frame_error = Some(e.to_string()),
            }
        };
        let values = posterior_ensemble(
            chain,
            scenario.length,
            &scenario.observations,
            score.as_ref(),
            job.guidance,
            &job.plan,
            &self.device,
            cancel,
            &mut on_step,
        )
        .map_err(|e| match e {
            SamplerError::Cancelled => JobError::Cancelled,
            other => JobError::Failed(other.to_string()),
        })?;
        if let Some(e) = frame_error {
            return Err(JobError::Failed(format!("could not read a frame back from the device: {e}")));
        }
        let sda_seconds = started.elapsed().as_secs_f64();
        if let Some(method) = job.compare.as_ref().filter(|m| m.needs_sda_members()) {
            let comparison = compare(id, job, method, Some(&values), cancel)?;
            outbox.event(Event::Comparison(Box::new(comparison)));
        }
        let modes = find_modes(&values, per_member, job.max_modes, job.plan.seed);
        let scores =
            EnsembleScores::of(&values, scenario.truth.as_deref(), &scenario.observations, scenario.length, dim);
        let ensemble: Arc<[f32]> = values.iter().map(|&v| v as f32).collect();
        debug_assert_eq!(ensemble.len(), job.plan.samples * scenario.length * dim);
        Ok(Finished {
            job: id,
            ensemble,
            samples: job.plan.samples,
            modes,
            history,
            scores,
            timing: Timing {
                seconds: sda_seconds,
                first_frame: first_frame.unwrap_or(f64::NAN),
                evaluations: job.plan.evaluations(),
            },
        })
    }

    /// The prior score of the job.
    fn prior(&mut self, job: &Job) -> Result<Arc<dyn TrajectoryScore>, JobError> {
        let scenario = &job.scenario;
        let chain = scenario.system.chain();
        match (&job.prior, &scenario.system) {
            (PriorSpec::Custom { score, .. }, _) => Ok(score.clone()),
            (PriorSpec::ExactLinear { window }, System::Linear(model)) => {
                let prior = model.trajectory_prior(scenario.length);
                let normalisation = chain.normalisation();
                Ok(match window {
                    None => Arc::new(ExactGaussianScore::whole(&prior, normalisation, DType::F32, &self.device)?),
                    Some(w) => {
                        Arc::new(ExactGaussianScore::composed(&prior, normalisation, *w, DType::F32, &self.device)?)
                    }
                })
            }
            (PriorSpec::ExactLinear { .. }, other) => Err(JobError::Failed(format!(
                "the exact prior exists only for the linear system, not `{}`",
                other.name()
            ))),
            (PriorSpec::Checkpoint(dir), _) => {
                if !self.checkpoints.contains_key(dir) {
                    let checkpoint = load_checkpoint(dir, &self.device)?;
                    self.checkpoints.insert(dir.clone(), checkpoint);
                }
                let checkpoint = &self.checkpoints[dir];
                checkpoint.check_for(chain, scenario.length)?;
                Ok(Arc::new(ComposedNetworkScore::new(checkpoint.network.clone(), checkpoint.config.window)?))
            }
        }
    }
}

/// The frame of one sampler step: the first `shown` members, physical units.
fn frame(
    id: JobId,
    job: &Job,
    snapshot: &StepSnapshot,
    shown: usize,
    started: Instant,
    chain: &dyn MarkovChain,
) -> candle_core::Result<Frame> {
    let per_member = job.trajectory_len();
    let physical = |t: &Tensor| -> candle_core::Result<Vec<f64>> {
        let mut v: Vec<f64> = t.flatten_all()?.to_dtype(DType::F64)?.to_vec1()?;
        chain.normalisation().to_physical(&mut v);
        Ok(v)
    };
    let tweedie_all = physical(snapshot.tweedie)?;
    let x = physical(&snapshot.x.narrow(0, 0, shown)?)?;
    let tweedie = &tweedie_all[..shown * per_member];
    let misfit = misfit(&job.scenario.observations, &tweedie_all, per_member, chain.state_dim());
    let labels = (job.modes_every > 0
        && (snapshot.step.is_multiple_of(job.modes_every) || snapshot.step == snapshot.steps))
        .then(|| {
            let modes = find_modes(tweedie, per_member, job.max_modes, job.plan.seed);
            let mut labels = vec![0; shown];
            for (m, mode) in modes.iter().enumerate() {
                for &i in &mode.members {
                    labels[i] = m;
                }
            }
            labels.into()
        });
    Ok(Frame {
        job: id,
        step: snapshot.step,
        steps: snapshot.steps,
        t: snapshot.t,
        members: shown,
        x: x.iter().map(|&v| v as f32).collect(),
        tweedie: tweedie.iter().map(|&v| v as f32).collect(),
        misfit,
        evaluations: if snapshot.corrected {
            snapshot.step * (1 + job.plan.corrections)
        } else {
            (snapshot.step - 1) * (1 + job.plan.corrections) + 1
        },
        elapsed: started.elapsed().as_secs_f64(),
        labels,
    })
}

/// Root-mean-square of `(y − A(x))/σ_y` over every observation of every member.
pub fn misfit(observations: &[Observation], ensemble: &[f64], per_member: usize, dim: usize) -> f64 {
    if observations.is_empty() || per_member == 0 {
        return 0.0;
    }
    let mut sum = 0.0;
    let mut n = 0usize;
    for member in ensemble.chunks_exact(per_member) {
        for o in observations {
            let r = (o.value - o.predict(member, dim)) / o.std;
            sum += r * r;
            n += 1;
        }
    }
    if n == 0 { 0.0 } else { (sum / n as f64).sqrt() }
}

/// Runs the job's classical method on its scenario; 4D-Var starts from SDA's members.
fn compare(
    id: JobId,
    job: &Job,
    method: &ClassicalMethod,
    sda_members: Option<&[f64]>,
    cancel: &AtomicBool,
) -> Result<Comparison, JobError> {
    let started = Instant::now();
    let scenario = &job.scenario;
    let chain = scenario.system.chain();
    let d = chain.state_dim();
    let per_member = scenario.length * d;
    let mut notes = Vec::new();
    let values: Vec<f64> = match method {
        ClassicalMethod::EnsembleSmoother(s) => {
            let out = s.run(chain, scenario.length, &scenario.observations, &|_| {})?;
            notes.extend(out.notes);
            out.paths
        }
        ClassicalMethod::ParticleSmoother(p) => {
            let out = p.run(chain, scenario.length, &scenario.observations, &|_| {});
            let lowest = out.ess.iter().map(|(_, e)| *e).fold(f64::INFINITY, f64::min);
            if lowest.is_finite() {
                notes.push(format!("lowest effective sample size {lowest:.0} of {}", p.particles));
            }
            notes.push(format!("{} distinct ancestors of the first state", out.distinct_roots));
            out.paths
        }
        ClassicalMethod::FourDVar(settings) => {
            let members =
                sda_members.ok_or_else(|| JobError::Failed("4D-Var needs SDA's members to start from".into()))?;
            let starts: Vec<Vec<f64>> = members.chunks_exact(per_member).map(<[f64]>::to_vec).collect();
            let minima = settings
                .minimise_all(chain, scenario.length, &scenario.observations, &starts, cancel, &|_| {})
                .map_err(|e| match e {
                    FourDVarError::Cancelled => JobError::Cancelled,
                    other => JobError::Failed(other.to_string()),
                })?;
            let converged = minima.iter().filter(|m| m.converged).count();
            let best = minima.iter().map(|m| m.cost).fold(f64::INFINITY, f64::min);
            notes.push(format!("{converged} of {} starts converged; lowest cost {best:.2}", minima.len()));
            minima.into_iter().flat_map(|m| m.trajectory).collect()
        }
    };
    let members = values.len() / per_member.max(1);
    Ok(Comparison {
        job: id,
        label: method.label(),
        modes: find_modes(&values, per_member, job.max_modes, job.plan.seed),
        scores: EnsembleScores::of(&values, scenario.truth.as_deref(), &scenario.observations, scenario.length, d),
        ensemble: values.iter().map(|&v| v as f32).collect(),
        members,
        seconds: started.elapsed().as_secs_f64(),
        notes,
    })
}

/// The exact posterior marginals of a linear job whose observations are all linear.
fn linear_reference(id: JobId, job: &Job) -> Option<Reference> {
    let scenario = &job.scenario;
    let System::Linear(model) = &scenario.system else { return None };
    let dim = model.state_dim();
    let rows: Option<Vec<_>> = scenario.observations.iter().map(|o| o.as_linear(dim)).collect();
    let smoothed = model.smooth(scenario.length, &rows?).ok()?;
    let mean = smoothed.means.iter().flat_map(|m| m.iter().copied()).collect();
    let std = smoothed.covariances.iter().flat_map(|c| (0..dim).map(|i| c[(i, i)].max(0.0).sqrt())).collect();
    Some(Reference { job: id, mean, std, log_evidence: smoothed.log_evidence })
}
