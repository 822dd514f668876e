//! AdamW whose state can be saved and restored.
//!
//! candle-nn's `AdamW` keeps its moment estimates private, so a resumed run would restart them
//! from zero; this one holds the same update rule with its moments by variable name, saved next
//! to the weights.

use std::collections::HashMap;
use std::path::Path;

use candle_core::backprop::GradStore;
use candle_core::{Tensor, Var};
use candle_nn::VarMap;

use super::ScoreError;

/// Decoupled weight decay Adam (Loshchilov & Hutter), β = (0.9, 0.999), ε = 1e-8.
pub struct AdamW {
    names: Vec<String>,
    vars: Vec<Var>,
    first: Vec<Var>,
    second: Vec<Var>,
    steps: usize,
    weight_decay: f64,
}

impl AdamW {
    const BETA1: f64 = 0.9;
    const BETA2: f64 = 0.999;
    const EPS: f64 = 1e-8;

    /// Optimises every variable of `varmap`, in name order.
    pub fn new(varmap: &VarMap, weight_decay: f64) -> Result<Self, ScoreError> {
        let mut named: Vec<(String, Var)> = match varmap.data().lock() {
            Ok(data) => data.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => {
                return Err(ScoreError::Invalid { what: "optimizer".into(), reason: "variable map poisoned".into() });
            }
        };
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let zeros = |v: &Var| Var::zeros(v.shape(), v.dtype(), v.device());
        let first = named.iter().map(|(_, v)| zeros(v)).collect::<Result<_, _>>()?;
        let second = named.iter().map(|(_, v)| zeros(v)).collect::<Result<_, _>>()?;
        let (names, vars) = named.into_iter().unzip();
        Ok(Self { names, vars, first, second, steps: 0, weight_decay })
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// One update with learning rate `lr`; variables without a gradient are left alone.
    pub fn step(&mut self, grads: &GradStore, lr: f64) -> Result<(), ScoreError> {
        self.steps += 1;
        let correction1 = 1.0 - Self::BETA1.powi(self.steps as i32);
        let correction2 = 1.0 - Self::BETA2.powi(self.steps as i32);
        for ((var, m), v) in self.vars.iter().zip(&self.first).zip(&self.second) {
            let Some(g) = grads.get(var) else { continue };
            let m_next = ((m.as_tensor() * Self::BETA1)? + (g * (1.0 - Self::BETA1))?)?;
            let v_next = ((v.as_tensor() * Self::BETA2)? + (g.sqr()? * (1.0 - Self::BETA2))?)?;
            let update = ((&m_next / correction1)? / ((&v_next / correction2)?.sqrt()? + Self::EPS)?)?;
            let decayed = (var.as_tensor() * (1.0 - lr * self.weight_decay))?;
            var.set(&(decayed - (update * lr)?)?)?;
            m.set(&m_next)?;
            v.set(&v_next)?;
        }
        Ok(())
    }

    /// Saves the moments (safetensors, keys `first.NAME` / `second.NAME`).
    pub fn save(&self, path: &Path) -> Result<(), ScoreError> {
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (name, (m, v)) in self.names.iter().zip(self.first.iter().zip(&self.second)) {
            tensors.insert(format!("first.{name}"), m.as_tensor().clone());
            tensors.insert(format!("second.{name}"), v.as_tensor().clone());
        }
        candle_core::safetensors::save(&tensors, path)
            .map_err(|e| ScoreError::Checkpoint { path: path.to_path_buf(), message: e.to_string() })
    }

    /// Restores moments saved by [`AdamW::save`] after `steps` updates.
    pub fn load(&mut self, path: &Path, steps: usize) -> Result<(), ScoreError> {
        let err = |message: String| ScoreError::Checkpoint { path: path.to_path_buf(), message };
        let device = self.vars.first().map(|v| v.device().clone()).unwrap_or(candle_core::Device::Cpu);
        let tensors = candle_core::safetensors::load(path, &device).map_err(|e| err(e.to_string()))?;
        for (name, (m, v)) in self.names.iter().zip(self.first.iter().zip(&self.second)) {
            for (key, var) in [(format!("first.{name}"), m), (format!("second.{name}"), v)] {
                let t = tensors.get(&key).ok_or_else(|| err(format!("missing tensor {key}")))?;
                if t.shape() != var.shape() {
                    return Err(err(format!("{key}: shape {:?}, expected {:?}", t.dims(), var.dims())));
                }
                var.set(&t.to_dtype(var.dtype())?)?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}
