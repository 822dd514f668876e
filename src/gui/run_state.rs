//! What the app knows of the current sampling job: its life cycle, its frames and results, and
//! the statistics the views draw.

use crate::ensemble::Ensemble;
use std::sync::Arc;
use std::time::Instant;

use crate::worker::{Comparison, Event, Finished, Frame, JobId, Reference};

/// Where the job stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    Idle,
    Running,
    Done,
    Cancelled,
    Failed(String),
}

/// The ensemble currently on screen: `members` trajectories of `per_member` values.
pub struct Shown<'a> {
    pub values: &'a [f32],
    pub members: usize,
    /// Mode of each member, if known.
    pub labels: Option<&'a [usize]>,
}

/// The job the app follows and everything it has reported.
#[derive(Clone)]
pub struct RunState {
    pub job: Option<JobId>,
    pub status: Status,
    pub device: String,
    pub evaluations: usize,
    pub asked_at: Instant,
    pub live: Option<Frame>,
    pub finished: Option<Arc<Finished>>,
    pub reference: Option<Reference>,
    /// A classical method's answer on the same scenario, when one was asked for.
    pub comparison: Option<Arc<Comparison>>,
    /// Replay position in the finished job's history.
    pub scrub: usize,
    /// Misfit per step seen so far: (step, misfit).
    pub misfit: Vec<(usize, f64)>,
    /// Seconds from asking for the job to its first frame.
    pub first_frame: Option<f64>,
    /// Frame labels derived from the finished job's modes.
    final_labels: Option<Arc<[usize]>>,
    /// Whether the job is a draft: a small quick posterior run while the input still changes.
    pub draft: bool,
}

impl Default for RunState {
    fn default() -> Self {
        Self {
            job: None,
            status: Status::Idle,
            device: String::new(),
            evaluations: 0,
            asked_at: Instant::now(),
            live: None,
            finished: None,
            reference: None,
            comparison: None,
            scrub: 0,
            misfit: Vec::new(),
            first_frame: None,
            final_labels: None,
            draft: false,
        }
    }
}

impl RunState {
    /// Starts following job `id`, keeping the last frame on screen until the new one's first.
    pub fn follow(&mut self, id: JobId, draft: bool) {
        self.job = Some(id);
        self.draft = draft;
        self.status = Status::Running;
        self.asked_at = Instant::now();
        self.finished = None;
        self.reference = None;
        self.comparison = None;
        self.misfit.clear();
        self.first_frame = None;
        self.final_labels = None;
    }

    /// Applies a worker event; events of other jobs are ignored. Returns whether it mattered.
    pub fn apply(&mut self, event: Event) -> bool {
        if Some(event.job()) != self.job {
            return false;
        }
        match event {
            Event::Started { device, evaluations, .. } => {
                self.device = device;
                self.evaluations = evaluations;
            }
            Event::Reference(r) => self.reference = Some(*r),
            Event::Comparison(c) => self.comparison = Some(Arc::from(c)),
            Event::Finished(f) => {
                self.misfit = f.history.iter().map(|fr| (fr.step, fr.misfit)).collect();
                self.scrub = f.history.len().saturating_sub(1);
                let shown = f.history.last().map_or(0, |fr| fr.members);
                let mut labels = vec![0usize; shown];
                for (m, mode) in f.modes.iter().enumerate() {
                    for &i in mode.members.iter().filter(|&&i| i < shown) {
                        labels[i] = m;
                    }
                }
                self.final_labels = Some(labels.into());
                self.live = f.history.last().cloned();
                // A job done between two UI frames shows its result as its first frame.
                self.first_frame.get_or_insert_with(|| self.asked_at.elapsed().as_secs_f64());
                self.finished = Some(Arc::from(f));
                self.status = Status::Done;
            }
            Event::Failed { reason, .. } => self.status = Status::Failed(reason),
            Event::Cancelled { .. } => self.status = Status::Cancelled,
        }
        true
    }

    /// Takes a frame from the worker; frames of other jobs are ignored.
    pub fn frame(&mut self, frame: Frame) -> bool {
        if Some(frame.job) != self.job || self.finished.is_some() {
            return false;
        }
        if self.first_frame.is_none() {
            self.first_frame = Some(self.asked_at.elapsed().as_secs_f64());
        }
        if self.misfit.last().is_none_or(|&(s, _)| s < frame.step) {
            self.misfit.push((frame.step, frame.misfit));
        }
        self.live = Some(frame);
        true
    }

    /// The frame on screen: the replay position after a run, the newest frame during one.
    pub fn frame_shown(&self) -> Option<&Frame> {
        match &self.finished {
            Some(f) => f.history.get(self.scrub).or(self.live.as_ref()),
            None => self.live.as_ref(),
        }
    }

    /// Whether what is on screen is the previous job's posterior, kept (dimmed) until the new
    /// job's first frame arrives.
    pub fn stale(&self) -> bool {
        self.frame_shown().is_some_and(|f| Some(f.job) != self.job)
    }

    /// Whether the replay is at the final step (then statistics use the whole ensemble).
    pub fn at_end(&self) -> bool {
        self.finished.as_ref().is_some_and(|f| self.scrub + 1 >= f.history.len())
    }

    /// The members to draw: x(t) or the Tweedie estimate, with their mode labels.
    pub fn shown(&self, tweedie: bool) -> Option<Shown<'_>> {
        let frame = self.frame_shown()?;
        let labels =
            if self.at_end() { self.final_labels.as_deref() } else { None }.or_else(|| self.latest_labels(frame.step));
        Some(Shown { values: if tweedie { &frame.tweedie } else { &frame.x }, members: frame.members, labels })
    }

    /// The most recent live clustering at or before `step`.
    fn latest_labels(&self, step: usize) -> Option<&[usize]> {
        match &self.finished {
            Some(f) => f.history.iter().take_while(|fr| fr.step <= step).filter_map(|fr| fr.labels.as_deref()).last(),
            None => self.live.as_ref().and_then(|fr| fr.labels.as_deref()),
        }
    }

    /// The ensemble statistics are computed from: the whole ensemble at the end of a run, the
    /// drawn members otherwise.
    pub fn statistics_source(&self, tweedie: bool) -> Option<&Ensemble<f32>> {
        if self.at_end() {
            return self.finished.as_ref().map(|f| &f.ensemble);
        }
        self.frame_shown().map(|frame| if tweedie { &frame.tweedie } else { &frame.x })
    }
}

/// Per-value mean and standard deviation over `members` flat trajectories ([`Ensemble::mean_std`]'s
/// convention); empty unless the values hold `members` whole trajectories.
pub fn mean_std(values: &[f32], members: usize) -> (Vec<f64>, Vec<f64>) {
    let per_member = values.len().checked_div(members).unwrap_or(0);
    Ensemble::new(values, members, 1, &[per_member]).map(|e| e.mean_std()).unwrap_or_default()
}
