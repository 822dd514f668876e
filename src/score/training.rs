//! Denoising score matching on random windows of simulated trajectories.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{VarBuilder, VarMap};
use rand::Rng;
use rand_distr::StandardNormal;

use super::{AdamW, ModelConfig, ScoreError, ScoreNetwork, VpSchedule, save_weights};
use crate::dynamics::Normalisation;
use crate::rng;

/// Trajectories in network space, split into training and held-out validation sets.
pub struct TrainingData {
    /// `[N·L, …state]`: trajectories stacked state by state.
    train: Tensor,
    valid: Tensor,
    length: usize,
    state_shape: Vec<usize>,
}

impl TrainingData {
    /// `values`: physical-unit trajectories of `shape` `[N, L, …state]` (flat, C order), mapped to
    /// network space by `normalisation`. The last `valid_fraction` of the trajectories (at least
    /// one) are held out.
    pub fn new(
        values: &[f32],
        shape: &[usize],
        normalisation: &Normalisation,
        valid_fraction: f64,
        device: &Device,
    ) -> Result<Self, ScoreError> {
        let invalid = |reason: String| ScoreError::Invalid { what: "training data".into(), reason };
        if shape.len() < 3 {
            return Err(invalid(format!("expected shape (trajectories, states, …state), got {shape:?}")));
        }
        let (trajectories, length, state_shape) = (shape[0], shape[1], &shape[2..]);
        let d: usize = state_shape.iter().product();
        if values.len() != shape.iter().product::<usize>() || trajectories < 2 || normalisation.center().len() != d {
            return Err(invalid(format!(
                "need ≥ 2 trajectories of states of {} values, got shape {shape:?} with {} values",
                normalisation.center().len(),
                values.len()
            )));
        }
        let (center, scale) = (normalisation.center(), normalisation.scale());
        let normalised: Vec<f32> =
            values.iter().enumerate().map(|(i, v)| ((*v as f64 - center[i % d]) / scale[i % d]) as f32).collect();
        let n_valid = Self::held_out(trajectories, valid_fraction);
        let n_train = trajectories - n_valid;
        let split = n_train * length * d;
        let shape = |n: usize| [vec![n * length], state_shape.to_vec()].concat();
        Ok(Self {
            train: Tensor::from_slice(&normalised[..split], shape(n_train), device)?,
            valid: Tensor::from_slice(&normalised[split..], shape(n_valid), device)?,
            length,
            state_shape: state_shape.to_vec(),
        })
    }

    /// How many of `trajectories` (≥ 2) are held out for validation: the last ones.
    pub fn held_out(trajectories: usize, valid_fraction: f64) -> usize {
        ((trajectories as f64 * valid_fraction).round() as usize).clamp(1, trajectories.saturating_sub(1).max(1))
    }

    fn trajectories(set: &Tensor, length: usize) -> usize {
        set.dim(0).unwrap_or(0) / length
    }
}

/// Optimisation settings of a training run.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainingSettings {
    pub steps: usize,
    pub batch: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub seed: u64,
    /// Windows in the fixed validation batch.
    pub validation_windows: usize,
    /// Decay of the exponential moving average of the weights (0: no averaging). The average is
    /// what a checkpoint holds for sampling.
    pub ema_decay: f64,
}

/// A training run: network, optimiser, the weights' moving average and data. Step `i` draws its
/// batch from random stream `i` of the seed, so a resumed run continues exactly as an
/// uninterrupted one would.
pub struct Trainer {
    config: ModelConfig,
    varmap: VarMap,
    network: ScoreNetwork,
    optimizer: AdamW,
    /// The exponential moving average of every variable, by name.
    average: Vec<(String, Var, Tensor)>,
    data: TrainingData,
    settings: TrainingSettings,
    schedule: VpSchedule,
    validation: (Tensor, Tensor, Tensor),
}

impl Trainer {
    pub fn new(
        config: ModelConfig,
        data: TrainingData,
        settings: TrainingSettings,
        device: &Device,
    ) -> Result<Self, ScoreError> {
        if data.state_shape != config.state_shape || data.length < config.window {
            return Err(ScoreError::Invalid {
                what: "training data".into(),
                reason: format!(
                    "trajectories of {} states of shape {:?} cannot train windows of {} states of shape {:?}",
                    data.length, data.state_shape, config.window, config.state_shape
                ),
            });
        }
        config
            .check()
            .map_err(|e| ScoreError::Invalid { what: "model configuration".into(), reason: e.to_string() })?;
        let varmap = VarMap::new();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, device);
        let network = ScoreNetwork::new(&config, vb)?;
        super::seeded_init(&varmap, settings.seed)?;
        let optimizer = AdamW::new(&varmap, settings.weight_decay)?;
        let average = named_vars(&varmap)?
            .into_iter()
            .map(|(name, var)| {
                let copy = var.as_tensor().detach().copy()?;
                Ok((name, var, copy))
            })
            .collect::<Result<_, ScoreError>>()?;
        let schedule = VpSchedule::new();
        // A fixed validation batch: same windows, times and noise at every evaluation.
        let mut rng = rng::keyed_stream(settings.seed, rng::purpose::VALIDATION_BATCH, 0);
        let validation =
            noised_batch(&data.valid, data.length, config.window, settings.validation_windows, &schedule, &mut rng)?;
        Ok(Self { config, varmap, network, optimizer, average, data, settings, schedule, validation })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The network being trained.
    pub fn network(&self) -> &ScoreNetwork {
        &self.network
    }

    pub fn settings(&self) -> &TrainingSettings {
        &self.settings
    }

    /// Updates applied so far.
    pub fn step_count(&self) -> usize {
        self.optimizer.steps()
    }

    /// Learning rate of the next step: linear decay from the initial rate to 0.
    pub fn learning_rate(&self) -> f64 {
        let progress = self.step_count() as f64 / self.settings.steps.max(1) as f64;
        self.settings.learning_rate * (1.0 - progress).max(0.0)
    }

    /// One optimisation step; returns the batch's DSM loss.
    pub fn step(&mut self) -> Result<f64, ScoreError> {
        let mut rng = rng::keyed_stream(self.settings.seed, rng::purpose::TRAINING_BATCHES, self.step_count() as u64);
        let (x, t, eps) = noised_batch(
            &self.data.train,
            self.data.length,
            self.config.window,
            self.settings.batch,
            &self.schedule,
            &mut rng,
        )?;
        let (loss, grads) = match self.network.dsm_gradients(&x, &t, &eps)? {
            Some(direct) => direct,
            None => {
                let loss = (self.network.forward(&x, &t)? - eps)?.sqr()?.mean_all()?;
                (loss.to_scalar::<f32>()? as f64, loss.backward()?)
            }
        };
        let lr = self.learning_rate();
        self.optimizer.step(&grads, lr)?;
        self.update_average()?;
        Ok(loss)
    }

    /// Decay of the average after update n: the configured decay, lowered early on
    /// (`(1 + n) / (10 + n)`) so the average does not remember the random initial weights.
    fn average_decay(&self) -> f64 {
        let n = self.step_count() as f64;
        self.settings.ema_decay.min((1.0 + n) / (10.0 + n))
    }

    fn update_average(&mut self) -> Result<(), ScoreError> {
        let decay = self.average_decay();
        for (_, var, average) in &mut self.average {
            // Detached: an average that tracked the variable would chain every step's graph.
            *average = ((&*average * decay)? + (var.as_tensor().detach() * (1.0 - decay))?)?;
        }
        Ok(())
    }

    /// The averaged weights by name: what a checkpoint of this run holds.
    pub fn averaged_weights(&self) -> HashMap<String, Tensor> {
        self.average.iter().map(|(name, _, t)| (name.clone(), t.clone())).collect()
    }

    /// The optimised (not averaged) weights by name.
    pub fn online_weights(&self) -> HashMap<String, Tensor> {
        self.average.iter().map(|(name, var, _)| (name.clone(), var.as_tensor().detach())).collect()
    }

    /// A network with the averaged weights: what sampling from a checkpoint of this run uses.
    pub fn averaged_network(&self) -> Result<ScoreNetwork, ScoreError> {
        let device = self.validation.0.device();
        Ok(ScoreNetwork::new(&self.config, VarBuilder::from_tensors(self.averaged_weights(), DType::F32, device))?)
    }

    /// DSM loss of the averaged weights on the fixed held-out batch.
    pub fn validation_loss(&self) -> Result<f64, ScoreError> {
        let (x, t, eps) = &self.validation;
        let network = self.averaged_network()?;
        let n = x.dim(0)?;
        let chunk = 4096;
        let mut total = 0.0;
        for start in (0..n).step_by(chunk) {
            let len = chunk.min(n - start);
            let (x, t, eps) = (x.narrow(0, start, len)?, t.narrow(0, start, len)?, eps.narrow(0, start, len)?);
            let mean = match network.dsm_loss(&x, &t, &eps)? {
                Some(mean) => mean,
                None => (network.forward(&x, &t)? - &eps)?.sqr()?.mean_all()?.to_scalar::<f32>()? as f64,
            };
            total += mean * eps.elem_count() as f64;
        }
        Ok(total / eps.elem_count() as f64)
    }

    /// Writes the averaged weights (`model.safetensors`, what sampling loads), the optimised
    /// weights (`online.safetensors`) and the optimiser state (`optimizer.safetensors`) into `dir`.
    pub fn save(&self, dir: &Path) -> Result<(), ScoreError> {
        // Nothing is written once a weight is not finite: the last good checkpoint stays.
        for (name, var, average) in &self.average {
            for (which, tensor) in [("optimised", var.as_tensor()), ("averaged", average)] {
                let finite =
                    tensor.flatten_all()?.to_dtype(DType::F64)?.to_vec1::<f64>()?.iter().all(|v| v.is_finite());
                if !finite {
                    return Err(ScoreError::Invalid {
                        what: "training".into(),
                        reason: format!(
                            "the {which} weight {name} is not finite at step {}: nothing was saved, the last checkpoint \
                             stays (a lower --lr, or a finite --weight-decay, usually helps)",
                            self.step_count()
                        ),
                    });
                }
            }
        }
        save_weights(&self.varmap, &dir.join(ONLINE_WEIGHTS))?;
        save_tensors(&self.averaged_weights(), &dir.join("model.safetensors"))?;
        self.optimizer.save(&dir.join("optimizer.safetensors"))
    }

    /// Restores the state saved by [`Trainer::save`] after `steps` updates. A run saved before
    /// weights were averaged has no `online.safetensors`: its weights start both.
    pub fn resume(&mut self, dir: &Path, steps: usize) -> Result<(), ScoreError> {
        let averaged = dir.join("model.safetensors");
        let online = if dir.join(ONLINE_WEIGHTS).is_file() { dir.join(ONLINE_WEIGHTS) } else { averaged.clone() };
        self.varmap
            .load(&online)
            .map_err(|e| ScoreError::Checkpoint { path: online.clone(), message: e.to_string() })?;
        let err = |message: String| ScoreError::Checkpoint { path: averaged.clone(), message };
        let tensors = candle_core::safetensors::load(&averaged, &Device::Cpu).map_err(|e| err(e.to_string()))?;
        for (name, var, average) in &mut self.average {
            let saved = tensors.get(name.as_str()).ok_or_else(|| err(format!("missing tensor {name}")))?;
            if saved.shape() != var.shape() {
                return Err(err(format!("{name}: shape {:?}, expected {:?}", saved.dims(), var.dims())));
            }
            *average = saved.to_device(var.device())?.to_dtype(var.dtype())?;
        }
        self.optimizer.load(&dir.join("optimizer.safetensors"), steps)
    }
}

/// The optimised (not averaged) weights of a run, kept for resuming it.
const ONLINE_WEIGHTS: &str = "online.safetensors";

/// The variables of `varmap` sorted by name.
fn named_vars(varmap: &VarMap) -> Result<Vec<(String, Var)>, ScoreError> {
    let mut named: Vec<(String, Var)> = match varmap.data().lock() {
        Ok(data) => data.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Err(_) => return Err(ScoreError::Invalid { what: "weights".into(), reason: "variable map poisoned".into() }),
    };
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(named)
}

/// Writes named tensors to `path` (safetensors), atomically.
fn save_tensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<(), ScoreError> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = std::path::PathBuf::from(partial);
    let err = |message: String| ScoreError::Checkpoint { path: path.to_path_buf(), message };
    candle_core::safetensors::save(tensors, &partial).map_err(|e| err(e.to_string()))?;
    std::fs::rename(&partial, path).map_err(|e| err(e.to_string()))
}

/// `batch` random windows from `set`, each noised at its own `t ~ U(0, 1)`: `(x(t), t, ε)`.
fn noised_batch(
    set: &Tensor,
    length: usize,
    window: usize,
    batch: usize,
    schedule: &VpSchedule,
    rng: &mut rng::SeededRng,
) -> Result<(Tensor, Tensor, Tensor), ScoreError> {
    let trajectories = TrainingData::trajectories(set, length);
    let starts = length - window + 1;
    let mut index = Vec::with_capacity(batch * window);
    for _ in 0..batch {
        let n = rng.random_range(0..trajectories);
        let s = rng.random_range(0..starts);
        index.extend((0..window).map(|w| (n * length + s + w) as u32));
    }
    let device = set.device();
    let dims = set.dims();
    let mut shape = vec![batch, window];
    shape.extend_from_slice(&dims[1..]);
    let x = set.index_select(&Tensor::from_vec(index, batch * window, device)?, 0)?.reshape(shape.as_slice())?;
    let times: Vec<f32> = (0..batch).map(|_| rng.random::<f32>()).collect();
    let per_row = x.elem_count() / batch;
    let mut mu = Vec::with_capacity(batch);
    let mut sigma = Vec::with_capacity(batch);
    for &t in &times {
        mu.push(schedule.mu(t as f64) as f32);
        sigma.push(schedule.sigma(t as f64) as f32);
    }
    let noise: Vec<f32> = (0..batch * per_row).map(|_| rng.sample(StandardNormal)).collect();
    let eps = Tensor::from_vec(noise, shape.as_slice(), device)?;
    let column = |v: Vec<f32>| -> candle_core::Result<Tensor> {
        let mut s = vec![batch];
        s.extend(std::iter::repeat_n(1, shape.len() - 1));
        Tensor::from_vec(v, s, device)
    };
    let xt = (x.broadcast_mul(&column(mu)?)? + eps.broadcast_mul(&column(sigma)?)?)?;
    Ok((xt, Tensor::from_vec(times, batch, device)?, eps))
}
