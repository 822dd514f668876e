//! The ensemble Kalman smoother (EnKS) over a whole scenario trajectory.
//!
//! Members start from the distribution twin-experiment truths are drawn from (the initial prior
//! and the chain's burn-in), are propagated with the stochastic model, and at every observed state
//! the analysis transform `G` of [`super::ensemble_analysis`] updates that state *and every
//! earlier one* (`E_{0..t} ← E_{0..t} G`): the whole-trajectory ensemble is the smoother's answer,
//! its last state the filter's. Inflation acts on the current state's anomalies after each analysis;
//! a rotation, being a relabelling of members, is applied to the whole history so that members stay
//! whole trajectories.

use nalgebra::DMatrix;
use rayon::prelude::*;

use super::ensemble_analysis::{
    AnalysisError, AnalysisForm, StateObservations, analysis_transform, inflate, mean_preserving_rotation,
};
use crate::dynamics::MarkovChain;
use crate::observe::Observation;
use crate::rng;

/// Settings of an ensemble Kalman smoother run.
#[derive(Debug, Clone, PartialEq)]
pub struct EnsembleSmoother {
    /// Ensemble size `N`.
    pub members: usize,
    pub form: AnalysisForm,
    /// Multiplicative inflation of the analysis anomalies (1 = none).
    pub inflation: f64,
    /// A random mean-preserving rotation of the members after each analysis.
    pub rotate: bool,
    pub seed: u64,
}

/// The smoother's output.
#[derive(Debug, Clone)]
pub struct EnsembleSmoothing {
    /// `members` whole trajectories, flat `[members, length, d]`, physical units.
    pub paths: Vec<f64>,
    /// The analysis form actually used (a square-root request becomes stochastic with nonlinear
    /// observations).
    pub form: AnalysisForm,
    /// Things the user should know about how the run was done.
    pub notes: Vec<String>,
}

impl EnsembleSmoother {
    /// Runs over a trajectory of `length` states. `progress` is called with the number of states
    /// processed.
    pub fn run(
        &self,
        chain: &dyn MarkovChain,
        length: usize,
        observations: &[Observation],
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<EnsembleSmoothing, AnalysisError> {
        let n = self.members;
        if n < 2 {
            return Err(AnalysisError::TooFewMembers(n));
        }
        let d = chain.state_dim();
        let mut notes = Vec::new();
        let nonlinear = observations.iter().any(|o| o.op.linear_row(d).is_none());
        let form = if nonlinear && self.form != AnalysisForm::Stochastic {
            notes.push(format!(
                "nonlinear observation operators (abs/square) are assimilated by the stochastic ensemble form \
                 instead of the {} one: the ensemble linearises them statistically",
                self.form.name()
            ));
            AnalysisForm::Stochastic
        } else {
            self.form
        };
        let by_time = crate::observe::by_state(observations, length);
        let burn_in = chain.default_burn_in();
        // history[t] is the d × N ensemble of state t.
        let mut history: Vec<DMatrix<f64>> = Vec::with_capacity(length);
        let first: Vec<Vec<f64>> = (0..n)
            .into_par_iter()
            .map(|k| {
                let mut r = rng::keyed_stream(self.seed, rng::purpose::ENSEMBLE, k as u64);
                crate::dynamics::simulate_trajectory(chain, 1, burn_in, &mut r)
            })
            .collect();
        let mut analysis_rng = rng::keyed_stream(self.seed, rng::purpose::ENSEMBLE, u64::MAX);
        for t in 0..length {
            let current = if t == 0 {
                DMatrix::from_fn(d, n, |i, k| first[k][i])
            } else {
                let previous = &history[t - 1];
                let columns: Vec<Vec<f64>> = (0..n)
                    .into_par_iter()
                    .map(|k| {
                        let stream = (t * n + k) as u64 + n as u64;
                        let mut r = rng::keyed_stream(self.seed, rng::purpose::ENSEMBLE, stream);
                        let mut next = vec![0.0; d];
                        chain.transition(previous.column(k).as_slice(), &mut r, &mut next);
                        next
                    })
                    .collect();
                DMatrix::from_fn(d, n, |i, k| columns[k][i])
            };
            history.push(current);
            if !by_time[t].is_empty() {
                let obs = &by_time[t];
                let state = &history[t];
                let predicted = DMatrix::from_fn(obs.len(), n, |j, k| obs[j].op.apply(state.column(k).as_slice()));
                let values: Vec<f64> = obs.iter().map(|o| o.value).collect();
                let stds: Vec<f64> = obs.iter().map(|o| o.std).collect();
                let g = analysis_transform(
                    form,
                    &StateObservations { values: &values, stds: &stds, predicted },
                    &mut analysis_rng,
                )?;
                history.par_iter_mut().for_each(|e| *e = g.apply(e));
                if self.rotate {
                    let turn = mean_preserving_rotation(n, &mut analysis_rng);
                    history.par_iter_mut().for_each(|e| *e = &*e * &turn);
                }
                if self.inflation != 1.0 {
                    inflate(&mut history[t], self.inflation);
                }
            }
            progress(t + 1);
        }
        let mut paths = Vec::with_capacity(n * length * d);
        for k in 0..n {
            for state in &history {
                paths.extend(state.column(k).iter());
            }
        }
        Ok(EnsembleSmoothing { paths, form, notes })
    }
}
