//! `config.json` of a checkpoint: what the network is, what it was trained on, and how.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{MlpConfig, ScoreError, UnetConfig};

/// The network architecture and its sizes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Architecture {
    /// Residual MLP over flattened windows (small flat states such as Lorenz-63).
    Mlp(MlpConfig),
    /// 1-D circular U-Net over a ring of variables, window states as channels (Lorenz-96).
    Unet1d(UnetConfig),
    /// 2-D circular U-Net over a periodic field, window states as channels.
    Unet2d(UnetConfig),
}

/// How a checkpoint was trained (written by `sdalab train`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainingRecord {
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Decay of the moving average of the weights the checkpoint holds (absent: not averaged).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ema_decay: Option<f64>,
    /// Training data: trajectories × states simulated in-process or read from a file.
    pub data: String,
    pub final_train_loss: Option<f64>,
    pub final_validation_loss: Option<f64>,
    pub wall_seconds: f64,
}

/// Everything needed to rebuild a score network and use it on a system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// System name (`lorenz63`, …).
    pub system: String,
    /// Shape of one state.
    pub state_shape: Vec<usize>,
    /// Window 2k+1 in states.
    pub window: usize,
    pub architecture: Architecture,
    /// Network space = (x − center) / scale, per state component.
    pub center: Vec<f64>,
    pub scale: Vec<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub training: Option<TrainingRecord>,
}

impl ModelConfig {
    /// Half-width k of the window.
    pub fn k(&self) -> usize {
        self.window / 2
    }

    pub fn state_dim(&self) -> usize {
        self.state_shape.iter().product()
    }

    pub fn load(path: &Path) -> Result<Self, ScoreError> {
        let err = |message: String| ScoreError::Checkpoint { path: path.to_path_buf(), message };
        let text = crate::export::read_text(path).map_err(|e| err(format!("cannot read: {e}")))?;
        let mut de = serde_json::Deserializer::from_str(&text);
        let config: Self =
            serde_path_to_error::deserialize(&mut de).map_err(|e| err(format!("{}: {}", e.path(), e.inner())))?;
        config.check().map_err(|e| err(e.to_string()))?;
        Ok(config)
    }

    pub fn save(&self, path: &Path) -> Result<(), ScoreError> {
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| ScoreError::Checkpoint { path: path.to_path_buf(), message: e.to_string() })?;
        crate::export::write_atomically(path, |w| std::io::Write::write_all(w, format!("{text}\n").as_bytes()))
            .map_err(|e| ScoreError::Checkpoint { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Checks the configuration is self-consistent (window, normalisation, grid sizes).
    pub fn check(&self) -> Result<(), ConfigError> {
        if self.window < 3 || self.window.is_multiple_of(2) {
            return Err(ConfigError::new("window", format!("must be an odd number ≥ 3, got {}", self.window)));
        }
        let d = self.state_dim();
        if d == 0 || self.center.len() != d || self.scale.len() != d {
            return Err(ConfigError::new(
                "center/scale",
                format!("expected {d} entries each for state shape {:?}", self.state_shape),
            ));
        }
        if !self.scale.iter().all(|s| s.is_finite() && *s > 0.0) || !self.center.iter().all(|c| c.is_finite()) {
            return Err(ConfigError::new("center/scale", "must be finite, scales positive".into()));
        }
        let levels_fit = |rank: usize, cfg: &UnetConfig| {
            let factor = 1usize << cfg.channels.len().saturating_sub(1);
            self.state_shape.len() == rank
                && self.state_shape.iter().all(|n| n % factor == 0)
                && !cfg.channels.is_empty()
                && cfg.kernel % 2 == 1
        };
        match &self.architecture {
            Architecture::Mlp(_) => {}
            Architecture::Unet1d(cfg) if !levels_fit(1, cfg) => {
                return Err(ConfigError::new(
                    "architecture",
                    format!(
                        "a 1-D U-Net with {} levels does not fit states {:?}",
                        cfg.channels.len(),
                        self.state_shape
                    ),
                ));
            }
            Architecture::Unet2d(cfg) if !levels_fit(2, cfg) => {
                return Err(ConfigError::new(
                    "architecture",
                    format!(
                        "a 2-D U-Net with {} levels does not fit states {:?}",
                        cfg.channels.len(),
                        self.state_shape
                    ),
                ));
            }
            Architecture::Unet1d(_) | Architecture::Unet2d(_) => {}
        }
        Ok(())
    }
}

/// An inconsistent model configuration: the entry and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

impl ConfigError {
    fn new(field: &'static str, message: String) -> Self {
        Self { field, message }
    }
}
