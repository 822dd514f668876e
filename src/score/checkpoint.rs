//! Checkpoint folders: `config.json` + `model.safetensors`.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use sha2::{Digest, Sha256};

use super::{ModelConfig, ScoreError, ScoreNetwork};
use crate::dynamics::MarkovChain;

/// A loaded checkpoint: its configuration and its network with constant (detached) weights.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    pub dir: PathBuf,
    pub config: ModelConfig,
    pub network: ScoreNetwork,
    /// The first 12 hex digits of the SHA-256 of `model.safetensors`: which weights these are.
    pub fingerprint: String,
}

/// The bundled checkpoint folder a system uses when none is named (under `checkpoints/`).
pub fn default_checkpoint_name(system: &str) -> Option<&'static str> {
    match system {
        "lorenz63" => Some("lorenz63-k4"),
        "lorenz96" => Some("lorenz96-k2"),
        "kolmogorov" => Some("kolmogorov-k2"),
        _ => None,
    }
}

/// Loads `dir/config.json` and `dir/model.safetensors` onto `device`. Missing or truncated files,
/// missing tensors and wrong shapes are errors naming the file and the tensor.
pub fn load_checkpoint(dir: &Path, device: &Device) -> Result<Checkpoint, ScoreError> {
    if !dir.is_dir() {
        return Err(ScoreError::Checkpoint { path: dir.to_path_buf(), message: "no such checkpoint folder".into() });
    }
    let config = ModelConfig::load(&dir.join("config.json"))?;
    let weights = dir.join("model.safetensors");
    let err = |message: String| ScoreError::Checkpoint { path: weights.clone(), message };
    if !weights.is_file() {
        return Err(err("missing".into()));
    }
    let bytes = std::fs::read(&weights).map_err(|e| err(format!("cannot read: {e}")))?;
    let fingerprint: String = Sha256::digest(&bytes).iter().take(6).map(|b| format!("{b:02x}")).collect();
    let tensors =
        candle_core::safetensors::load_buffer(&bytes, device).map_err(|e| err(format!("cannot read: {e}")))?;
    let vb = VarBuilder::from_tensors(tensors, DType::F32, device);
    let network = ScoreNetwork::new(&config, vb).map_err(|e| err(e.to_string()))?;
    Ok(Checkpoint { dir: dir.to_path_buf(), config, network, fingerprint })
}

/// Loads a checkpoint and checks that it models `chain` ([`Checkpoint::check_for`]).
pub fn load_checkpoint_for(
    dir: &Path,
    chain: &dyn MarkovChain,
    length: usize,
    device: &Device,
) -> Result<Checkpoint, ScoreError> {
    let checkpoint = load_checkpoint(dir, device)?;
    checkpoint.check_for(chain, length)?;
    Ok(checkpoint)
}

impl Checkpoint {
    /// Checks that the checkpoint models `chain`: same system, state shape and normalisation,
    /// and a window no longer than `length` states.
    pub fn check_for(&self, chain: &dyn MarkovChain, length: usize) -> Result<(), ScoreError> {
        let config = &self.config;
        let err = |message: String| ScoreError::Checkpoint { path: self.dir.clone(), message };
        if config.system != chain.name() {
            return Err(ScoreError::WrongSystem {
                path: self.dir.clone(),
                expected: chain.name().into(),
                found: config.system.clone(),
            });
        }
        if config.state_shape != chain.state_shape() {
            return Err(err(format!(
                "checkpoint states have shape {:?}, the system's {:?}",
                config.state_shape,
                chain.state_shape()
            )));
        }
        let normalisation = chain.normalisation();
        if config.center != normalisation.center() || config.scale != normalisation.scale() {
            return Err(err("checkpoint normalisation differs from the system's".into()));
        }
        if length < config.window {
            return Err(ScoreError::TooShort { window: config.window, length });
        }
        Ok(())
    }
}

/// Writes the trainable weights of `varmap` to `path` (safetensors), atomically.
pub fn save_weights(varmap: &VarMap, path: &Path) -> Result<(), ScoreError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let err = |message: String| ScoreError::Checkpoint { path: path.to_path_buf(), message };
    varmap.save(&partial).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&partial, path).map_err(|e| err(e.to_string()))
}
