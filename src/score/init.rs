//! Seeded initial weights.
//!
//! candle draws initial weights from an unseedable thread-local generator, so a training run
//! could not be reproduced from its seed. After a network is built, every variable is redrawn
//! here, in name order, from the project's seeded streams with the same distributions candle-nn
//! uses: weights `N(0, 2/fan_in)` (Kaiming), biases `U(±1/√fan_in)`.

use candle_core::{Tensor, Var};
use candle_nn::VarMap;
use rand::Rng;
use rand_distr::StandardNormal;

use super::ScoreError;
use crate::rng;

/// Redraws every variable of `varmap` from stream `seed`.
pub fn seeded_init(varmap: &VarMap, seed: u64) -> Result<(), ScoreError> {
    let vars: Vec<(String, Var)> = match varmap.data().lock() {
        Ok(data) => {
            let mut v: Vec<(String, Var)> = data.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            v.sort_by(|a, b| a.0.cmp(&b.0));
            v
        }
        Err(_) => {
            return Err(ScoreError::Invalid { what: "initial weights".into(), reason: "variable map poisoned".into() });
        }
    };
    let fan_in_of = |name: &str| -> usize {
        let weight = name.strip_suffix("bias").map(|p| format!("{p}weight")).unwrap_or_else(|| name.to_string());
        vars.iter()
            .find(|(n, _)| *n == weight)
            .map(|(_, v)| v.dims().iter().skip(1).product::<usize>().max(1))
            .unwrap_or(1)
    };
    let mut r = rng::keyed_stream(seed, rng::purpose::INITIAL_WEIGHTS, 0);
    for (name, var) in &vars {
        let n = var.elem_count();
        let fan_in = fan_in_of(name) as f64;
        let values: Vec<f32> = if name.ends_with("bias") {
            let bound = 1.0 / fan_in.sqrt();
            (0..n).map(|_| r.random_range(-bound..bound) as f32).collect()
        } else {
            let std = (2.0 / fan_in).sqrt();
            (0..n).map(|_| (std * r.sample::<f64, _>(StandardNormal)) as f32).collect()
        };
        let t = Tensor::from_vec(values, var.shape(), var.device())?.to_dtype(var.dtype())?;
        var.set(&t)?;
    }
    Ok(())
}
