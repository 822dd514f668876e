//! The classical methods on a scenario: the ensemble Kalman smoother, the bootstrap particle
//! smoother and weak-constraint 4D-Var, each returning an ensemble of whole trajectories.

use super::PipelineError;
use crate::baselines::{AnalysisForm, ClassicalMethod, EnsembleSmoother, FourDVar};
use crate::budget::MemoryBudget;
use crate::cancel::Cancellation;
use crate::ensemble::Ensemble;
use crate::scenario::Scenario;

/// Where 4D-Var's minimisations start (one per trajectory).
#[derive(Debug, Clone, Copy)]
pub enum FirstGuesses<'a> {
    /// The members of an ensemble (SDA's, or one read from a file).
    Members(&'a Ensemble),
    /// The members of a square-root ensemble Kalman smoother run with these settings.
    Smoother(&'a EnsembleSmoother),
}

/// Work done so far by a classical method, in its own units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    /// "states" or "starts".
    pub unit: &'static str,
}

/// A classical method's ensemble and what it reports about itself.
#[derive(Debug, Clone)]
pub struct ClassicalRun {
    pub ensemble: Ensemble,
    /// One line each: effective sample sizes, convergence, choices made.
    pub notes: Vec<String>,
    /// Longer per-state reports (the particle smoother's effective sample size at every
    /// observed state), for logs rather than tables.
    pub details: Vec<String>,
}

/// Runs `method` on `scenario`. 4D-Var needs `first_guesses`; the other methods ignore them.
/// Only 4D-Var checks `cancel` (the smoothers take seconds).
pub fn run_classical(
    method: &ClassicalMethod,
    scenario: &Scenario,
    first_guesses: Option<FirstGuesses>,
    cancel: &dyn Cancellation,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ClassicalRun, PipelineError> {
    let run = run_method(method, scenario, first_guesses, cancel, progress)?;
    if run.ensemble.iter().any(|v| !v.is_finite()) {
        return Err(PipelineError::NonFinite { method: method.label() });
    }
    Ok(run)
}

fn run_method(
    method: &ClassicalMethod,
    scenario: &Scenario,
    first_guesses: Option<FirstGuesses>,
    cancel: &dyn Cancellation,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<ClassicalRun, PipelineError> {
    super::check_scenario(scenario)?;
    let chain = scenario.system.chain();
    let length = scenario.length;
    let observations = &scenario.observations;
    let shape = chain.state_shape();
    let d = chain.state_dim();
    let budget = MemoryBudget::of_machine();
    // Values of f64 each trajectory keeps at once, per member: the smoothers keep whole paths and
    // their analyses; 4D-Var's L-BFGS keeps `2 × memory` gradients besides.
    let check = |what: &str, members: usize, copies: usize| budget.check(what, &[members, length, d, copies], 8);
    let states = |done| progress(Progress { done, total: length, unit: "states" });
    match method {
        ClassicalMethod::EnsembleSmoother(s) => {
            if s.members < 2 {
                return Err(PipelineError::Setting {
                    setting: "the ensemble Kalman smoother's ensemble".into(),
                    message: "needs at least 2 members".into(),
                });
            }
            check("the ensemble Kalman smoother's members (--samples)", s.members, 4)?;
            let out = s.run(chain, length, observations, &states)?;
            Ok(ClassicalRun {
                ensemble: Ensemble::new(out.paths, s.members, length, &shape)?,
                notes: out.notes,
                details: Vec::new(),
            })
        }
        ClassicalMethod::ParticleSmoother(p) => {
            if p.particles == 0 || p.keep == 0 {
                return Err(PipelineError::Setting {
                    setting: "the particle smoother".into(),
                    message: "needs at least 1 particle and 1 kept path".into(),
                });
            }
            check("the particles (--particles)", p.particles, 3)?;
            let out = p.run(chain, length, observations, &states);
            let mut notes = Vec::new();
            let lowest = out.ess.iter().map(|(_, e)| *e).fold(f64::INFINITY, f64::min);
            if lowest.is_finite() {
                notes.push(format!("lowest effective sample size {lowest:.0} of {}", p.particles));
            }
            notes.push(format!("{} distinct ancestors of the first state", out.distinct_roots));
            notes.push(format!("log p(y) ≈ {:.3}", out.log_evidence));
            let ess: Vec<String> = out.ess.iter().map(|(t, e)| format!("{t}:{e:.0}")).collect();
            let details = vec![format!("effective sample size per observed state: {}", ess.join(" "))];
            Ok(ClassicalRun { ensemble: Ensemble::new(out.paths, p.keep, length, &shape)?, notes, details })
        }
        ClassicalMethod::FourDVar(settings) => {
            // A system without an adjoint is refused before any first guess is made.
            FourDVar::check_supported(chain)?;
            let mut notes = Vec::new();
            let starts: Vec<Vec<f64>> = match first_guesses.ok_or(PipelineError::NoFirstGuess)? {
                FirstGuesses::Members(members) => {
                    if members.per_member() != length * chain.state_dim() {
                        return Err(PipelineError::Setting {
                            setting: "4D-Var's first guesses".into(),
                            message: format!(
                                "have trajectories of shape {:?}, not {length} states of shape {shape:?}",
                                [&[members.length()][..], members.state_shape()].concat()
                            ),
                        });
                    }
                    notes.push(format!("first guesses: {} members", members.members()));
                    members.trajectories().map(<[f64]>::to_vec).collect()
                }
                FirstGuesses::Smoother(smoother) => {
                    let smoother = EnsembleSmoother { form: AnalysisForm::SquareRoot, ..smoother.clone() };
                    let run = run_classical(
                        &ClassicalMethod::EnsembleSmoother(smoother.clone()),
                        scenario,
                        None,
                        cancel,
                        &|_| {},
                    )?;
                    notes.push(format!(
                        "first guesses: {} members of a square-root ensemble Kalman smoother",
                        smoother.members
                    ));
                    run.ensemble.trajectories().map(<[f64]>::to_vec).collect()
                }
            };
            if starts.is_empty() {
                return Err(PipelineError::NoFirstGuess);
            }
            check("4D-Var's first guesses", starts.len(), 2 * settings.memory + 8)?;
            let total = starts.len();
            let minima = settings.minimise_all(chain, length, observations, &starts, cancel, &|done| {
                progress(Progress { done, total, unit: "starts" })
            })?;
            let converged = minima.iter().filter(|m| m.converged).count();
            let mut costs: Vec<f64> = minima.iter().map(|m| m.cost).collect();
            costs.sort_by(f64::total_cmp);
            notes.push(format!(
                "{converged} of {} starts converged; lowest cost {:.3}, median {:.3} (cost = −log posterior density + const)",
                minima.len(),
                costs.first().copied().unwrap_or(f64::NAN),
                costs.get(costs.len() / 2).copied().unwrap_or(f64::NAN),
            ));
            let members = minima.len();
            let values: Vec<f64> = minima.into_iter().flat_map(|m| m.trajectory).collect();
            Ok(ClassicalRun { ensemble: Ensemble::new(values, members, length, &shape)?, notes, details: Vec::new() })
        }
    }
}
