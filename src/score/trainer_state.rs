//! A training run's progress, saved beside each checkpoint (`trainer_state.json`) so that an
//! interrupted run resumes where it stopped with the same settings and data.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ScoreError, TrainingSettings};

/// Progress and settings of a training run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerState {
    /// Optimiser steps taken.
    pub step: usize,
    /// Wall time spent so far, over every sitting.
    pub elapsed_seconds: f64,
    pub batch: usize,
    pub steps: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    pub valid_fraction: f64,
    /// The training data in words (a file, or how it was simulated).
    pub data: String,
    /// Absent from runs saved before weights were averaged.
    #[serde(default)]
    pub ema_decay: f64,
}

impl TrainerState {
    /// The file name in a checkpoint folder.
    pub const FILE: &'static str = "trainer_state.json";

    /// The state at `step` of a run with `settings`.
    pub fn new(
        step: usize,
        elapsed_seconds: f64,
        settings: &TrainingSettings,
        valid_fraction: f64,
        data: &str,
    ) -> Self {
        Self {
            step,
            elapsed_seconds,
            batch: settings.batch,
            steps: settings.steps,
            learning_rate: settings.learning_rate,
            weight_decay: settings.weight_decay,
            seed: settings.seed,
            valid_fraction,
            data: data.into(),
            ema_decay: settings.ema_decay,
        }
    }

    /// Reads `dir/trainer_state.json`.
    pub fn load(dir: &Path) -> Result<Self, ScoreError> {
        let path = dir.join(Self::FILE);
        let err = |message: String| ScoreError::Checkpoint { path: path.clone(), message };
        let text = crate::export::read_text(&path).map_err(|e| err(format!("cannot read: {e}")))?;
        serde_json::from_str(&text).map_err(|e| err(format!("unreadable: {e}")))
    }

    /// Writes `dir/trainer_state.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), ScoreError> {
        let path = dir.join(Self::FILE);
        let err = |message: String| ScoreError::Checkpoint { path: path.clone(), message };
        let text = serde_json::to_string_pretty(self).map_err(|e| err(e.to_string()))?;
        crate::export::write_atomically(&path, |w| std::io::Write::write_all(w, text.as_bytes()))
            .map_err(|e| err(e.to_string()))
    }

    /// The settings the run was started with (a fixed validation batch of `validation_windows`).
    pub fn settings(&self, validation_windows: usize) -> TrainingSettings {
        TrainingSettings {
            steps: self.steps,
            batch: self.batch,
            learning_rate: self.learning_rate,
            weight_decay: self.weight_decay,
            seed: self.seed,
            validation_windows,
            ema_decay: self.ema_decay,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_names_a_bad_file() {
        let dir = tempfile::tempdir().unwrap();
        let settings = TrainingSettings {
            steps: 100,
            batch: 8,
            learning_rate: 1e-3,
            weight_decay: 0.0,
            seed: 3,
            validation_windows: 16,
            ema_decay: 0.999,
        };
        let state = TrainerState::new(40, 12.5, &settings, 0.1, "simulated");
        state.save(dir.path()).unwrap();
        let back = TrainerState::load(dir.path()).unwrap();
        assert_eq!(back, state);
        assert_eq!(back.settings(16), settings);
        std::fs::write(dir.path().join(TrainerState::FILE), "{").unwrap();
        assert!(TrainerState::load(dir.path()).unwrap_err().to_string().contains("trainer_state.json"));
    }
}
