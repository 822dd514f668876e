//! Weak-constraint 4D-Var: the maximum a posteriori trajectory, found by L-BFGS.
//!
//! The cost of a whole trajectory `x_0 … x_{L−1}` is its negative log posterior density (up to
//! `log p(y)`):
//! `J(x) = −log p(x_0) − Σ_i log N(x_{i+1} − f(x_i); 0, Q) − Σ_obs log N(y; A(x_t), σ²)`,
//! with the initial prior as background term, the model error `Q` of the chain (weak constraint:
//! the trajectory need not follow the model exactly) and every observation's own noise. Its gradient
//! uses the adjoint of the drift ([`MarkovChain::drift_vjp`]) and of each observation operator.
//! The minimiser is argmin's L-BFGS with a Moré–Thuente line search.
//!
//! A nonlinear chain's posterior can have several modes; starting L-BFGS from many first guesses
//! (for instance SDA's members) finds the local minima near each ([`FourDVar::minimise_all`]).

use std::sync::atomic::{AtomicUsize, Ordering};

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;

use crate::cancel::Cancellation;
use crate::dynamics::{MarkovChain, ModelError};
use crate::observe::Observation;

/// Settings of the minimiser.
#[derive(Debug, Clone, PartialEq)]
pub struct FourDVar {
    /// Most L-BFGS iterations per start.
    pub max_iterations: u64,
    /// Stop when the gradient's norm falls below this.
    pub gradient_tolerance: f64,
    /// Pairs of correction vectors L-BFGS keeps.
    pub memory: usize,
    /// Most cost or gradient evaluations per start, line searches included (a Moré–Thuente line
    /// search on a stiff, chaotic cost can otherwise shrink its interval without end).
    pub max_evaluations: usize,
}

impl Default for FourDVar {
    fn default() -> Self {
        Self { max_iterations: 500, gradient_tolerance: 1e-6, memory: 10, max_evaluations: 5000 }
    }
}

/// One local minimum of the cost.
#[derive(Debug, Clone)]
pub struct Minimum {
    /// The trajectory, flat `[length, d]`, physical units.
    pub trajectory: Vec<f64>,
    /// `J` at the minimum: the negative log posterior density up to a constant.
    pub cost: f64,
    /// `J` at the first guess.
    pub initial_cost: f64,
    pub iterations: u64,
    /// Whether the gradient tolerance was met (rather than the iteration limit or a line search
    /// that could make no progress).
    pub converged: bool,
}

/// Why 4D-Var could not run.
#[derive(Debug, thiserror::Error)]
pub enum FourDVarError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error("first guess {index} has {found} values, expected {expected} (length × state size)")]
    FirstGuessShape { index: usize, found: usize, expected: usize },
    #[error("first guess {index} has a non-finite cost: it is far outside the model's reach")]
    NonFiniteStart { index: usize },
    #[error("L-BFGS failed from first guess {index}: {reason}")]
    Solver { index: usize, reason: String },
    #[error("cancelled")]
    Cancelled,
    #[error("the evaluation budget is spent")]
    BudgetSpent,
}

/// Counts evaluations and remembers the lowest cost seen, so that a start stopped by its budget
/// still returns its best point.
#[derive(Default)]
struct Tracker {
    evaluations: AtomicUsize,
    best: std::sync::Mutex<Option<(f64, Vec<f64>)>>,
}

/// The cost function and its gradient for one scenario.
pub struct Objective<'a> {
    chain: &'a dyn MarkovChain,
    length: usize,
    observations: &'a [Observation],
    cancel: Option<&'a dyn Cancellation>,
    /// With its evaluation budget.
    tracker: Option<(&'a Tracker, usize)>,
}

impl<'a> Objective<'a> {
    pub fn new(chain: &'a dyn MarkovChain, length: usize, observations: &'a [Observation]) -> Self {
        Self { chain, length, observations, cancel: None, tracker: None }
    }

    /// `J(x)`.
    pub fn value(&self, x: &[f64]) -> f64 {
        let d = self.chain.state_dim();
        -(self.chain.initial_prior().log_density(&x[..d])
            + self.chain.trajectory_log_prior(&x[..self.length * d])
            + crate::observe::log_likelihood(self.observations, x, d))
    }

    /// `∇J(x)`.
    pub fn gradient(&self, x: &[f64]) -> Result<Vec<f64>, ModelError> {
        let d = self.chain.state_dim();
        // Accumulates ∇ log posterior; negated at the end.
        let mut g = vec![0.0; self.length * d];
        self.chain.initial_prior().add_log_density_gradient(&x[..d], &mut g[..d]);
        // Sequential on purpose: starts run in parallel (`minimise_all`), and one transition is
        // far too little work to hand to another thread.
        let (mut residual, mut u, mut back) = (vec![0.0; d], vec![0.0; d], vec![0.0; d]);
        for i in 0..self.length.saturating_sub(1) {
            let (state, next) = (&x[i * d..(i + 1) * d], &x[(i + 1) * d..(i + 2) * d]);
            self.chain.drift(state, &mut residual);
            for (r, n) in residual.iter_mut().zip(next) {
                *r = n - *r;
            }
            // u = ∇_r log N(r; 0, Q); the next state gets u, this one −Jᵀu.
            u.fill(0.0);
            self.chain.process_noise().add_log_density_gradient(&residual, &mut u);
            self.chain.drift_vjp(state, &u, &mut back)?;
            for k in 0..d {
                g[(i + 1) * d + k] += u[k];
                g[i * d + k] -= back[k];
            }
        }
        for o in self.observations.iter().filter(|o| o.t < self.length) {
            let state = &x[o.t * d..(o.t + 1) * d];
            let scale = (o.value - o.op.apply(state)) / (o.std * o.std);
            o.op.add_gradient(state, scale, &mut g[o.t * d..(o.t + 1) * d]);
        }
        g.iter_mut().for_each(|v| *v = -*v);
        Ok(g)
    }

    /// Refuses another evaluation when cancelled or over budget.
    fn check_cancel(&self) -> Result<(), argmin::core::Error> {
        if let Some(cancel) = self.cancel
            && cancel.is_cancelled()
        {
            return Err(FourDVarError::Cancelled.into());
        }
        if let Some((tracker, budget)) = self.tracker
            && tracker.evaluations.fetch_add(1, Ordering::Relaxed) >= budget
        {
            return Err(FourDVarError::BudgetSpent.into());
        }
        Ok(())
    }
}

impl CostFunction for Objective<'_> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Self::Param) -> Result<f64, argmin::core::Error> {
        self.check_cancel()?;
        let value = self.value(x);
        if let Some((tracker, _)) = self.tracker
            && let Ok(mut best) = tracker.best.lock()
            && value.is_finite()
            && best.as_ref().is_none_or(|(c, _)| value < *c)
        {
            *best = Some((value, x.clone()));
        }
        Ok(value)
    }
}

impl Gradient for Objective<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, x: &Self::Param) -> Result<Vec<f64>, argmin::core::Error> {
        self.check_cancel()?;
        Ok(Objective::gradient(self, x)?)
    }
}

impl FourDVar {
    /// Whether 4D-Var can run on `chain`: it needs the adjoint of the drift.
    pub fn check_supported(chain: &dyn MarkovChain) -> Result<(), FourDVarError> {
        let zeros = vec![0.0; chain.state_dim()];
        chain.drift_vjp(&zeros, &zeros, &mut zeros.clone())?;
        Ok(())
    }

    /// Minimises `J` from `first_guess` (flat `[length, d]`).
    pub fn minimise(
        &self,
        chain: &dyn MarkovChain,
        length: usize,
        observations: &[Observation],
        first_guess: &[f64],
        cancel: &dyn Cancellation,
    ) -> Result<Minimum, FourDVarError> {
        self.minimise_indexed(chain, length, observations, first_guess, 0, cancel)
    }

    /// Minimises `J` from every first guess, in parallel; `progress` is called with the number of
    /// finished starts. Results keep the order of `first_guesses`.
    pub fn minimise_all(
        &self,
        chain: &dyn MarkovChain,
        length: usize,
        observations: &[Observation],
        first_guesses: &[Vec<f64>],
        cancel: &dyn Cancellation,
        progress: &(dyn Fn(usize) + Sync),
    ) -> Result<Vec<Minimum>, FourDVarError> {
        let done = AtomicUsize::new(0);
        first_guesses
            .par_iter()
            .enumerate()
            .map(|(index, guess)| {
                let result = self.minimise_indexed(chain, length, observations, guess, index, cancel);
                progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                result
            })
            .collect()
    }

    fn minimise_indexed(
        &self,
        chain: &dyn MarkovChain,
        length: usize,
        observations: &[Observation],
        first_guess: &[f64],
        index: usize,
        cancel: &dyn Cancellation,
    ) -> Result<Minimum, FourDVarError> {
        let d = chain.state_dim();
        if first_guess.len() != length * d {
            return Err(FourDVarError::FirstGuessShape { index, found: first_guess.len(), expected: length * d });
        }
        // Fails early, with the model's own message, on a system without an adjoint.
        Self::check_supported(chain)?;
        let tracker = Tracker::default();
        let objective = Objective {
            chain,
            length,
            observations,
            cancel: Some(cancel),
            tracker: Some((&tracker, self.max_evaluations.max(1))),
        };
        let initial_cost = objective.value(first_guess);
        if !initial_cost.is_finite() {
            return Err(FourDVarError::NonFiniteStart { index });
        }
        let solver_error = |e: argmin::core::Error| match e.downcast::<FourDVarError>() {
            Ok(FourDVarError::Cancelled) => FourDVarError::Cancelled,
            Ok(other) => FourDVarError::Solver { index, reason: other.to_string() },
            Err(e) => FourDVarError::Solver { index, reason: e.to_string() },
        };
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), self.memory.max(1))
            .with_tolerance_grad(self.gradient_tolerance)
            .map_err(solver_error)?
            .with_tolerance_cost(0.0)
            .map_err(solver_error)?;
        let result = Executor::new(objective, solver)
            .configure(|state| state.param(first_guess.to_vec()).max_iters(self.max_iterations))
            .run();
        let result = match result {
            Ok(result) => result,
            Err(e) => {
                return match e.downcast::<FourDVarError>() {
                    // Out of budget outside a line search: the lowest point seen is the answer.
                    Ok(FourDVarError::BudgetSpent) => {
                        let best = tracker.best.lock().ok().and_then(|mut b| b.take());
                        let (cost, trajectory) = best.unwrap_or((initial_cost, first_guess.to_vec()));
                        Ok(Minimum {
                            trajectory,
                            cost,
                            initial_cost,
                            iterations: self.max_iterations,
                            converged: false,
                        })
                    }
                    Ok(other) => Err(solver_error(other.into())),
                    Err(e) => Err(solver_error(e)),
                };
            }
        };
        let state = result.state();
        let trajectory = state.get_best_param().cloned().unwrap_or_else(|| first_guess.to_vec());
        let converged =
            matches!(state.get_termination_status(), TerminationStatus::Terminated(TerminationReason::SolverConverged));
        Ok(Minimum { cost: state.get_best_cost(), trajectory, initial_cost, iterations: state.get_iter(), converged })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dynamics::Lorenz63;
    use crate::observe::ObservationOp;

    /// The analytic gradient agrees with central finite differences of the cost on Lorenz-63 with
    /// linear and nonlinear observations.
    #[test]
    fn gradient_matches_finite_differences() {
        let chain = Lorenz63::new();
        let mut r = crate::rng::stream(3, 0);
        let truth = chain.simulate(6, 200, &mut r);
        let observations = vec![
            Observation { t: 1, op: ObservationOp::Identity { index: 0 }, value: truth[3] + 0.3, std: 0.5 },
            Observation { t: 3, op: ObservationOp::Abs { index: 1 }, value: 4.0, std: 0.7 },
            Observation { t: 5, op: ObservationOp::Square { index: 2 }, value: 400.0, std: 9.0 },
        ];
        let objective = Objective::new(&chain, 6, &observations);
        // A point off the model trajectory, so every term has a gradient.
        let x: Vec<f64> = truth.iter().enumerate().map(|(i, v)| v + 0.1 * ((i * 7 % 5) as f64 - 2.0)).collect();
        let g = objective.gradient(&x).unwrap();
        for j in 0..x.len() {
            let eps = 1e-5;
            let (mut p, mut m) = (x.clone(), x.clone());
            p[j] += eps;
            m[j] -= eps;
            let numeric = (objective.value(&p) - objective.value(&m)) / (2.0 * eps);
            assert!((numeric - g[j]).abs() < 1e-4 * (1.0 + numeric.abs()), "component {j}: {numeric} vs {}", g[j]);
        }
    }
}
