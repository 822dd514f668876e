//! Twin experiments: a scenario whose observations are made from a simulated truth.

use crate::budget::MemoryBudget;
use crate::dynamics::MAX_BURN_IN;
use rand::Rng;
use rand_distr::StandardNormal;

use super::{Scenario, ScenarioError};
use crate::dynamics::{System, simulate_trajectory};
use crate::observe::{Observation, ObservationOp, OperatorKind};
use crate::rng;

/// What to observe of the simulated truth.
#[derive(Debug, Clone, PartialEq)]
pub struct TwinSpec {
    pub length: usize,
    /// Observe every `every`-th state …
    pub every: usize,
    /// … starting at this state.
    pub offset: usize,
    pub kind: OperatorKind,
    /// Components: one observation per index, or one `mean` over all of them.
    pub indices: Vec<usize>,
    /// Observation noise standard deviation, physical units.
    pub std: f64,
    pub seed: u64,
    /// Transitions before the truth is recorded; `None` uses the system's default.
    pub burn_in: Option<usize>,
}

/// Simulates a truth (random stream 0 of `seed`) and observes it with noise (a separate stream),
/// storing the truth in the scenario. The specification is validated before anything is simulated.
pub fn twin_experiment(system: System, spec: &TwinSpec) -> Result<Scenario, ScenarioError> {
    if spec.every == 0 {
        return Err(ScenarioError::Invalid { at: "every".into(), message: "must be at least 1".into() });
    }
    if spec.burn_in.is_some_and(|b| b > MAX_BURN_IN) {
        return Err(ScenarioError::Invalid { at: "burn-in".into(), message: format!("must be at most {MAX_BURN_IN}") });
    }
    // The truth is simulated in f64 and observed: a few copies of it.
    MemoryBudget::of_machine()
        .check("length", &[spec.length, system.chain().state_dim(), 4], 8)
        .map_err(|e| ScenarioError::Invalid { at: "length".into(), message: e.to_string() })?;
    let ops: Vec<ObservationOp> = if spec.kind.takes_indices() {
        vec![ObservationOp::Mean { indices: spec.indices.clone() }]
    } else {
        spec.indices.iter().map(|&i| ObservationOp::new(spec.kind, &[i])).collect::<Option<_>>().unwrap_or_default()
    };
    if spec.indices.is_empty() || ops.is_empty() {
        return Err(ScenarioError::Invalid { at: "indices".into(), message: "name at least one component".into() });
    }
    let observations = (spec.offset..spec.length.max(spec.offset))
        .step_by(spec.every)
        .flat_map(|t| ops.iter().map(move |op| Observation { t, op: op.clone(), value: 0.0, std: spec.std }))
        .collect();
    let mut scenario = Scenario { system, length: spec.length, observations, truth: None, sampler: None };
    // Values are placeholders here: this checks indices, times, std and length up front.
    scenario.validate()?;
    if spec.offset >= spec.length {
        return Err(ScenarioError::Invalid {
            at: "offset".into(),
            message: format!("{} leaves no state to observe in a trajectory of {}", spec.offset, spec.length),
        });
    }

    let chain = scenario.system.chain();
    let dim = chain.state_dim();
    let burn_in = spec.burn_in.unwrap_or(chain.default_burn_in());
    let truth = simulate_trajectory(chain, spec.length, burn_in, &mut rng::stream(spec.seed, 0));
    let mut noise = rng::stream(spec.seed, rng::purpose::OBSERVATION_NOISE);
    for o in &mut scenario.observations {
        let z: f64 = noise.sample(StandardNormal);
        o.value = o.predict(&truth, dim) + o.std * z;
    }
    scenario.truth = Some(truth);
    scenario.validate()?;
    Ok(scenario)
}
