//! Prior scores: the noise schedule, the local score networks, their composition into a
//! whole-trajectory score, checkpoints, training, and the exact Gaussian score of the linear toy.
//!
//! Everything here works in the networks' normalised space and in ε-parameterisation:
//! `ε(x(t), t) ≈ −σ(t)·∇ log p(x(t))`. This module knows nothing of observations; guidance lives
//! in [`crate::sampler`].

mod adamw;
mod buffer_pool;
mod checkpoint;
mod circular_conv2d;
mod config;
mod error;
mod exact_gaussian;
mod frozen;
mod frozen_mlp;
mod frozen_unet;
mod fused;
mod gaussian_corrected;
mod grid_conv;
mod init;
mod layers;
mod mlp;
mod network;
mod row_gemm;
mod schedule;
mod time_embedding;
mod trainer_state;
mod training;
mod trajectory_score;
mod unet;
mod unet_training;
mod window;

pub use adamw::AdamW;
pub use checkpoint::{Checkpoint, default_checkpoint_name, load_checkpoint, load_checkpoint_for, save_weights};
pub use circular_conv2d::{circular_conv2d, circular_pad};
pub use config::{Architecture, ConfigError, ModelConfig, TrainingRecord};
pub use error::ScoreError;
pub use exact_gaussian::ExactGaussianScore;
pub use frozen::{FrozenDtype, FrozenKernels, FrozenNetwork, FrozenTape};
pub use gaussian_corrected::GaussianCorrectedScore;
pub use init::seeded_init;
pub use mlp::{MlpConfig, ResidualMlp};
pub use network::ScoreNetwork;
pub use schedule::VpSchedule;
pub use time_embedding::TimeEmbedding;
pub use trainer_state::TrainerState;
pub use training::{Trainer, TrainingData, TrainingSettings};
pub use trajectory_score::{ComposedNetworkScore, Linearisation, TrajectoryScore};
pub use unet::{CircularUnet, UnetConfig};
pub use window::WindowComposer;
