//! Running one job on the worker thread: sampling through the pipeline and reporting frames.

use std::time::Instant;

use candle_core::{DType, Tensor};

use super::control::JobControl;
use super::handle::Outbox;
use super::{Comparison, Event, Finished, Frame, Job, JobId, Reference, Timing};
use crate::baselines::ClassicalMethod;
use crate::cancel::Cancellation;
use crate::dynamics::{MarkovChain, System};
use crate::ensemble::{Ensemble, EnsembleError};
use crate::metrics::{EnsembleScores, find_modes};
use crate::pipeline::{
    FirstGuesses, PipelineError, Priors, SamplerSetup, check_posterior_budget, run_classical, sda_posterior,
};
use crate::sampler::StepSnapshot;

/// Why a job ended without a result.
#[derive(Debug, thiserror::Error)]
pub(super) enum JobError {
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Pipeline(PipelineError),
    #[error("could not read a frame back from the device: {0}")]
    Frame(candle_core::Error),
}

impl From<PipelineError> for JobError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Cancelled => Self::Cancelled,
            other => Self::Pipeline(other),
        }
    }
}

impl From<EnsembleError> for JobError {
    fn from(e: EnsembleError) -> Self {
        Self::Pipeline(e.into())
    }
}

/// The worker's device and the priors it has loaded.
pub(super) struct Executor {
    priors: Priors,
}

impl Executor {
    pub(super) fn new() -> Self {
        Self { priors: Priors::new() }
    }

    pub(super) fn run(
        &mut self,
        id: JobId,
        job: &Job,
        control: &JobControl,
        outbox: &Outbox,
    ) -> Result<Finished, JobError> {
        let started = Instant::now();
        let scenario = &job.scenario;
        scenario.validate().map_err(PipelineError::from)?;
        if job.plan.samples == 0 || job.plan.steps == 0 {
            return Err(PipelineError::Setting {
                setting: "the ensemble size and the number of steps".into(),
                message: "must be at least 1".into(),
            }
            .into());
        }
        check_posterior_budget(scenario, job.plan.samples)?;
        if let Some(previous) = &job.reuse {
            return self.compare_only(id, job, previous, control, outbox);
        }
        let setup = SamplerSetup { plan: job.plan.clone(), guidance: job.guidance };
        let chain = scenario.system.chain();
        let prior = self.priors.score(&job.prior, scenario)?;
        outbox.event(Event::Started {
            job: id,
            device: self.priors.device_name().to_string(),
            evaluations: job.plan.evaluations(),
        });
        if let Some(reference) = linear_reference(id, job) {
            outbox.event(Event::Reference(Box::new(reference)));
        }
        if let Some(method) = job.compare.as_ref().filter(|m| !m.needs_sda_members()) {
            let comparison = compare(id, job, method, None, control)?;
            outbox.event(Event::Comparison(Box::new(comparison)));
        }

        let shown = job.frame_members.clamp(1, job.plan.samples.max(1));
        let mut history: Vec<Frame> = Vec::with_capacity(job.plan.steps);
        let mut frame_error: Option<JobError> = None;
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
                        control.wait_turn();
                    } else {
                        outbox.frame(frame);
                    }
                }
                Err(e) => frame_error = Some(e),
            }
        };
        let ensemble =
            sda_posterior(scenario, prior.score.as_ref(), &setup, self.priors.device(), control, &mut on_step)?;
        if let Some(e) = frame_error {
            return Err(e);
        }
        let sda_seconds = started.elapsed().as_secs_f64();
        if let Some(method) = job.compare.as_ref().filter(|m| m.needs_sda_members()) {
            let comparison = compare(id, job, method, Some(&ensemble), control)?;
            outbox.event(Event::Comparison(Box::new(comparison)));
        }
        let modes = find_modes(&ensemble, ensemble.per_member(), job.max_modes, job.plan.seed);
        let scores = EnsembleScores::of(&ensemble, scenario.truth.as_deref(), &scenario.observations);
        Ok(Finished {
            job: id,
            samples: ensemble.members(),
            ensemble: ensemble.convert(),
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
}

impl Executor {
    /// A job that reuses SDA's finished posterior: runs the comparison alone (from SDA's members
    /// where the method needs them) and reports the same posterior under the new job's id.
    fn compare_only(
        &mut self,
        id: JobId,
        job: &Job,
        previous: &Finished,
        control: &JobControl,
        outbox: &Outbox,
    ) -> Result<Finished, JobError> {
        outbox.event(Event::Started { job: id, device: self.priors.device_name().to_string(), evaluations: 0 });
        if let Some(reference) = linear_reference(id, job) {
            outbox.event(Event::Reference(Box::new(reference)));
        }
        if let Some(method) = &job.compare {
            let members = method.needs_sda_members().then(|| previous.ensemble.convert());
            let comparison = compare(id, job, method, members.as_ref(), control)?;
            outbox.event(Event::Comparison(Box::new(comparison)));
        }
        let history = previous.history.iter().map(|f| Frame { job: id, ..f.clone() }).collect();
        Ok(Finished { job: id, history, ..previous.clone() })
    }
}

/// The frame of one sampler step: the first `shown` members, physical units; the misfit and
/// mode labels are of the whole ensemble's Tweedie estimates.
fn frame(
    id: JobId,
    job: &Job,
    snapshot: &StepSnapshot,
    shown: usize,
    started: Instant,
    chain: &dyn MarkovChain,
) -> Result<Frame, JobError> {
    let length = job.scenario.length;
    let shape = chain.state_shape();
    let physical = |t: &Tensor| -> Result<Ensemble, JobError> {
        let mut v: Vec<f64> =
            t.flatten_all().and_then(|t| t.to_dtype(DType::F64)).and_then(|t| t.to_vec1()).map_err(JobError::Frame)?;
        chain.normalisation().to_physical(&mut v);
        Ok(Ensemble::from_trajectories(v, length, &shape)?)
    };
    let tweedie_all = physical(snapshot.tweedie)?;
    let x = physical(&snapshot.x.narrow(0, 0, shown).map_err(JobError::Frame)?)?;
    let tweedie = tweedie_all.first(shown);
    let labels = (job.modes_every > 0
        && (snapshot.step.is_multiple_of(job.modes_every) || snapshot.step == snapshot.steps))
        .then(|| {
            let modes = find_modes(&tweedie, tweedie.per_member(), job.max_modes, job.plan.seed);
            let mut labels = vec![0; tweedie.members()];
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
        members: x.members(),
        misfit: tweedie_all.misfit(&job.scenario.observations),
        x: x.convert(),
        tweedie: tweedie.convert(),
        evaluations: if snapshot.corrected {
            snapshot.step * (1 + job.plan.corrections)
        } else {
            (snapshot.step - 1) * (1 + job.plan.corrections) + 1
        },
        elapsed: started.elapsed().as_secs_f64(),
        labels,
    })
}

/// Runs the job's classical method on its scenario; 4D-Var starts from SDA's members.
fn compare(
    id: JobId,
    job: &Job,
    method: &ClassicalMethod,
    sda_members: Option<&Ensemble>,
    cancel: &dyn Cancellation,
) -> Result<Comparison, JobError> {
    let started = Instant::now();
    let scenario = &job.scenario;
    let run = run_classical(method, scenario, sda_members.map(FirstGuesses::Members), cancel, &|_| {})?;
    let ensemble = run.ensemble;
    Ok(Comparison {
        job: id,
        label: method.label(),
        modes: find_modes(&ensemble, ensemble.per_member(), job.max_modes, job.plan.seed),
        scores: EnsembleScores::of(&ensemble, scenario.truth.as_deref(), &scenario.observations),
        members: ensemble.members(),
        ensemble: ensemble.convert(),
        seconds: started.elapsed().as_secs_f64(),
        notes: run.notes,
    })
}

/// The exact posterior marginals of a linear job whose observations are all linear.
fn linear_reference(id: JobId, job: &Job) -> Option<Reference> {
    let scenario = &job.scenario;
    let System::Linear(model) = &scenario.system else { return None };
    let dim = model.state_dim();
    // A reference too large for memory is left out; the job itself was budgeted.
    crate::budget::MemoryBudget::of_machine().check("reference", &[scenario.length, dim, dim, 8], 8).ok()?;
    let rows: Option<Vec<_>> = scenario.observations.iter().map(|o| o.as_linear(dim)).collect();
    let smoothed = model.smooth(scenario.length, &rows?).ok()?;
    let mean = smoothed.means.iter().flat_map(|m| m.iter().copied()).collect();
    let std = smoothed.covariances.iter().flat_map(|c| (0..dim).map(|i| c[(i, i)].max(0.0).sqrt())).collect();
    Some(Reference { job: id, mean, std, log_evidence: smoothed.log_evidence })
}
