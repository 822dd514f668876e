//! The scenario being edited: observation edits with undo/redo, noise redraws, load and save.
//!
//! Every edit goes through [`ScenarioEditor`], which keeps the scenario valid (an edit that would
//! break it is refused with a reason and changes nothing) and bumps a revision number the app
//! watches to re-run the sampler.

use std::path::Path;
use std::time::Instant;

use rand::Rng;
use rand_distr::StandardNormal;

use crate::observe::{Observation, ObservationOp};
use crate::rng;
use crate::scenario::{Scenario, ScenarioError};

/// Where a new observation's value comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueSource {
    /// The truth through the operator, plus noise of the observation's std.
    Truth,
    /// This value (where the user clicked).
    At(f64),
}

/// Undo steps kept.
const UNDO_DEPTH: usize = 200;

/// An editable scenario with an undo history of its observations.
pub struct ScenarioEditor {
    scenario: Scenario,
    undo: Vec<Vec<Observation>>,
    redo: Vec<Vec<Observation>>,
    noise_seed: u64,
    /// Noise draws so far: each draw uses its own stream, so edits are reproducible.
    draws: u64,
    revision: u64,
    changed_at: Instant,
}

impl ScenarioEditor {
    /// Edits `scenario` (validated first); new noise is drawn from streams of `noise_seed`.
    pub fn new(scenario: Scenario, noise_seed: u64) -> Result<Self, ScenarioError> {
        scenario.validate()?;
        Ok(Self {
            scenario,
            undo: Vec::new(),
            redo: Vec::new(),
            noise_seed,
            draws: 0,
            revision: 0,
            changed_at: Instant::now(),
        })
    }

    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    pub fn observations(&self) -> &[Observation] {
        &self.scenario.observations
    }

    /// Increases with every change of the observations.
    pub fn revision(&self) -> u64 {
        self.revision
    }

    /// When the observations last changed.
    pub fn changed_at(&self) -> Instant {
        self.changed_at
    }

    fn bump(&mut self) {
        self.revision += 1;
        self.changed_at = Instant::now();
    }

    pub fn can_undo(&self) -> bool {
        !self.undo.is_empty()
    }

    pub fn can_redo(&self) -> bool {
        !self.redo.is_empty()
    }

    fn standard_normal(&mut self) -> f64 {
        self.draws += 1;
        rng::keyed_stream(self.noise_seed, rng::purpose::OBSERVATION_NOISE, self.draws).sample(StandardNormal)
    }

    /// `A(truth_t)`, if the truth is known.
    fn truth_value(&self, t: usize, op: &ObservationOp) -> Option<f64> {
        let truth = self.scenario.truth.as_ref()?;
        let dim = self.scenario.state_dim();
        truth.get(t * dim..(t + 1) * dim).map(|state| op.apply(state))
    }

    /// `A(truth_t)` plus fresh noise of std `std`; an error says the truth is needed.
    fn noisy_truth(&mut self, t: usize, op: &ObservationOp, std: f64) -> Result<f64, ScenarioError> {
        let clean = self.truth_value(t, op).ok_or_else(|| ScenarioError::Invalid {
            at: "observation".into(),
            message: format!("no truth at state {t} to draw the value from (place values by hand)"),
        })?;
        Ok(clean + std * self.standard_normal())
    }

    /// Replaces the observations if the result is a valid scenario, recording the old ones for undo.
    fn commit(&mut self, observations: Vec<Observation>, record: bool) -> Result<(), ScenarioError> {
        let old = std::mem::replace(&mut self.scenario.observations, observations);
        if let Err(e) = self.scenario.validate() {
            self.scenario.observations = old;
            return Err(e);
        }
        if record {
            self.undo.push(old);
            if self.undo.len() > UNDO_DEPTH {
                self.undo.remove(0);
            }
            self.redo.clear();
        }
        self.bump();
        Ok(())
    }

    /// Adds an observation `op` of state `t`; returns its index.
    pub fn add(&mut self, t: usize, op: ObservationOp, std: f64, source: ValueSource) -> Result<usize, ScenarioError> {
        let value = match source {
            ValueSource::At(v) => v,
            ValueSource::Truth => self.noisy_truth(t, &op, std)?,
        };
        let mut observations = self.scenario.observations.clone();
        observations.push(Observation { t, op, value, std });
        self.commit(observations, true)?;
        Ok(self.scenario.observations.len() - 1)
    }

    /// Removes observation `index`.
    pub fn remove(&mut self, index: usize) -> Result<Observation, ScenarioError> {
        let mut observations = self.scenario.observations.clone();
        if index >= observations.len() {
            return Err(no_such(index));
        }
        let removed = observations.remove(index);
        self.commit(observations, true)?;
        Ok(removed)
    }

    /// Records the state before a drag, so that one undo reverts the whole drag.
    pub fn begin_drag(&mut self) {
        self.undo.push(self.scenario.observations.clone());
        self.redo.clear();
    }

    /// Moves observation `index` to state `t` and value `value` (part of a drag: not recorded).
    pub fn drag(&mut self, index: usize, t: usize, value: f64) -> Result<(), ScenarioError> {
        let mut observations = self.scenario.observations.clone();
        let o = observations.get_mut(index).ok_or_else(|| no_such(index))?;
        if o.t == t && o.value == value {
            return Ok(());
        }
        o.t = t;
        o.value = value;
        self.commit(observations, false)
    }

    /// Replaces every observation (a preset pattern, or nothing to clear).
    pub fn replace_all(&mut self, observations: Vec<Observation>) -> Result<(), ScenarioError> {
        self.commit(observations, true)
    }

    /// Observations of `op` at each `(t, op)` drawn from the truth with noise `std`, for presets.
    pub fn observe_truth(
        &mut self,
        at: &[(usize, ObservationOp)],
        std: f64,
    ) -> Result<Vec<Observation>, ScenarioError> {
        at.iter()
            .map(|(t, op)| Ok(Observation { t: *t, op: op.clone(), value: self.noisy_truth(*t, op, std)?, std }))
            .collect()
    }

    /// Adds (`observed`) or removes the identity observation of component `index` at state `t`,
    /// for the field brush and eraser: part of a stroke, recorded by [`Self::begin_drag`].
    /// Returns whether anything changed.
    pub fn paint(&mut self, t: usize, index: usize, observed: bool, std: f64) -> Result<bool, ScenarioError> {
        Ok(self.paint_cells(&[(t, index)], observed, std)? > 0)
    }

    /// [`Self::paint`] over many `(state, component)` cells at once (one stroke's frame), as one
    /// change; returns how many cells changed. Nothing changes if any cell is refused.
    pub fn paint_cells(&mut self, cells: &[(usize, usize)], observed: bool, std: f64) -> Result<usize, ScenarioError> {
        let mut observations = self.scenario.observations.clone();
        let mut changed = 0;
        for &(t, index) in cells {
            let op = ObservationOp::Identity { index };
            match (observations.iter().position(|o| o.t == t && o.op == op), observed) {
                (Some(_), true) | (None, false) => {}
                (Some(i), false) => {
                    observations.remove(i);
                    changed += 1;
                }
                (None, true) => {
                    let value = self.noisy_truth(t, &op, std)?;
                    observations.push(Observation { t, op, value, std });
                    changed += 1;
                }
            }
        }
        if changed > 0 {
            self.commit(observations, false)?;
        }
        Ok(changed)
    }

    /// Redraws the noise of every observation (its values become `A(truth) + std·z`, fresh z).
    pub fn resample_noise(&mut self) -> Result<(), ScenarioError> {
        let mut observations = self.scenario.observations.clone();
        for o in &mut observations {
            o.value = self.noisy_truth(o.t, &o.op, o.std)?;
        }
        self.commit(observations, true)
    }

    /// Sets every observation's std, keeping each one's standardised noise, so values move
    /// smoothly with a slider (without a truth, only the std changes).
    pub fn set_std(&mut self, std: f64, record: bool) -> Result<(), ScenarioError> {
        let mut observations = self.scenario.observations.clone();
        for o in &mut observations {
            if let Some(clean) = self.truth_value(o.t, &o.op) {
                o.value = clean + (o.value - clean) / o.std * std;
            }
            o.std = std;
        }
        self.commit(observations, record)
    }

    pub fn undo(&mut self) -> bool {
        match self.undo.pop() {
            Some(previous) => {
                self.redo.push(std::mem::replace(&mut self.scenario.observations, previous));
                self.bump();
                true
            }
            None => false,
        }
    }

    pub fn redo(&mut self) -> bool {
        match self.redo.pop() {
            Some(next) => {
                self.undo.push(std::mem::replace(&mut self.scenario.observations, next));
                self.bump();
                true
            }
            None => false,
        }
    }

    /// Writes the scenario, with `sampler` settings, atomically.
    pub fn save(&self, path: &Path, sampler: Option<crate::scenario::SamplerSettings>) -> Result<(), ScenarioError> {
        let mut scenario = self.scenario.clone();
        scenario.sampler = sampler;
        scenario.save(path)
    }

    /// Replaces the whole scenario by the file at `path`; on error nothing changes.
    pub fn load(&mut self, path: &Path) -> Result<(), ScenarioError> {
        self.replace_scenario(Scenario::load(path)?)
    }

    /// Replaces the whole scenario (another system or preset); the undo history starts afresh.
    pub fn replace_scenario(&mut self, scenario: Scenario) -> Result<(), ScenarioError> {
        scenario.validate()?;
        self.scenario = scenario;
        self.undo.clear();
        self.redo.clear();
        self.bump();
        Ok(())
    }
}

fn no_such(index: usize) -> ScenarioError {
    ScenarioError::Invalid { at: format!("observations[{index}]"), message: "no such observation".into() }
}
