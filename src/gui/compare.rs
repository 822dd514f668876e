//! The comparison with a classical method: its controls, the run state that lets the ordinary
//! views draw its ensemble, and the table of scores beside SDA's.

use std::sync::Arc;

use eframe::egui::{self, Ui};

use super::run_state::RunState;
use super::strings as s;
use crate::baselines::{AnalysisForm, ClassicalMethod, EnsembleSmoother, FourDVar, ParticleSmoother, Resampling};
use crate::metrics::{EnsembleScores, Mode};
use crate::worker::{Comparison, Event, Finished, Frame};

/// Which method runs beside SDA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareChoice {
    None,
    EnsembleSmoother,
    ParticleSmoother,
    FourDVar,
}

/// The comparison settings being edited.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareControls {
    pub choice: CompareChoice,
    pub form: AnalysisForm,
    pub inflation: f64,
    pub rotate: bool,
    pub particles: usize,
    pub systematic: bool,
}

impl Default for CompareControls {
    fn default() -> Self {
        Self {
            choice: CompareChoice::None,
            form: AnalysisForm::SquareRoot,
            inflation: 1.0,
            rotate: false,
            particles: 16_384,
            systematic: true,
        }
    }
}

impl CompareControls {
    /// The method to run with an ensemble of `members` and `seed`, if any.
    pub fn method(&self, members: usize, seed: u64) -> Option<ClassicalMethod> {
        match self.choice {
            CompareChoice::None => None,
            CompareChoice::EnsembleSmoother => Some(ClassicalMethod::EnsembleSmoother(EnsembleSmoother {
                members: members.max(2),
                form: self.form,
                inflation: self.inflation,
                rotate: self.rotate,
                seed,
            })),
            CompareChoice::ParticleSmoother => Some(ClassicalMethod::ParticleSmoother(ParticleSmoother {
                particles: self.particles.max(1),
                keep: members.max(1),
                resampling: if self.systematic { Resampling::Systematic } else { Resampling::Multinomial },
                seed,
            })),
            CompareChoice::FourDVar => Some(ClassicalMethod::FourDVar(FourDVar::default())),
        }
    }

    /// Draws the controls; returns whether anything changed.
    pub fn ui(&mut self, ui: &mut Ui) -> bool {
        let before = self.clone();
        egui::Grid::new("compare-controls").num_columns(2).spacing([8.0, 4.0]).show(ui, |ui| {
            let label = ui.label(s::COMPARE).on_hover_text(s::COMPARE_TIP);
            egui::ComboBox::from_id_salt("compare-method")
                .selected_text(choice_name(self.choice))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.choice, CompareChoice::None, s::COMPARE_NONE);
                    ui.selectable_value(&mut self.choice, CompareChoice::EnsembleSmoother, s::COMPARE_ENKS)
                        .on_hover_text(s::COMPARE_ENKS_TIP);
                    ui.selectable_value(&mut self.choice, CompareChoice::ParticleSmoother, s::COMPARE_PARTICLE)
                        .on_hover_text(s::COMPARE_PARTICLE_TIP);
                    ui.selectable_value(&mut self.choice, CompareChoice::FourDVar, s::COMPARE_4DVAR)
                        .on_hover_text(s::COMPARE_4DVAR_TIP);
                })
                .response
                .labelled_by(label.id);
            ui.end_row();
            match self.choice {
                CompareChoice::EnsembleSmoother => {
                    let form_label = ui.label(s::ANALYSIS_FORM).on_hover_text(s::ANALYSIS_FORM_TIP);
                    egui::ComboBox::from_id_salt("compare-form")
                        .selected_text(self.form.short_name())
                        .show_ui(ui, |ui| {
                            for form in
                                [AnalysisForm::SquareRoot, AnalysisForm::Stochastic, AnalysisForm::Deterministic]
                            {
                                ui.selectable_value(&mut self.form, form, form.short_name());
                            }
                        })
                        .response
                        .labelled_by(form_label.id);
                    ui.end_row();
                    ui.label(s::INFLATION).on_hover_text(s::INFLATION_TIP);
                    ui.add(egui::Slider::new(&mut self.inflation, 1.0..=1.5)).on_hover_text(s::INFLATION_TIP);
                    ui.end_row();
                    ui.label("");
                    ui.checkbox(&mut self.rotate, s::ROTATE).on_hover_text(s::ROTATE_TIP);
                    ui.end_row();
                }
                CompareChoice::ParticleSmoother => {
                    ui.label(s::PARTICLES).on_hover_text(s::PARTICLES_TIP);
                    ui.add(egui::Slider::new(&mut self.particles, 256..=65_536).logarithmic(true))
                        .on_hover_text(s::PARTICLES_TIP);
                    ui.end_row();
                    ui.label("");
                    ui.checkbox(&mut self.systematic, s::SYSTEMATIC).on_hover_text(s::SYSTEMATIC_TIP);
                    ui.end_row();
                }
                CompareChoice::None | CompareChoice::FourDVar => {}
            }
        });
        *self != before
    }
}

fn choice_name(c: CompareChoice) -> &'static str {
    match c {
        CompareChoice::None => s::COMPARE_NONE,
        CompareChoice::EnsembleSmoother => s::COMPARE_ENKS,
        CompareChoice::ParticleSmoother => s::COMPARE_PARTICLE,
        CompareChoice::FourDVar => s::COMPARE_4DVAR,
    }
}

/// The comparison's modes placed in the colour slots of SDA's `sda` modes, so that a mode drawn
/// in one colour on both sides is the same mode: pairs are taken nearest first (distance between
/// mean trajectories; at most a handful of modes, so the greedy pairing is exact enough), each
/// mode at most once. SDA slots left unpaired hold an empty placeholder; the comparison's
/// unpaired modes follow SDA's slots, largest first.
pub fn match_modes(sda: &[Mode], other: &[Mode]) -> Vec<Mode> {
    let distance = |a: &Mode, b: &Mode| a.mean.iter().zip(&b.mean).map(|(x, y)| (x - y).powi(2)).sum::<f64>();
    let mut pairs: Vec<(f64, usize, usize)> = sda
        .iter()
        .enumerate()
        .flat_map(|(i, a)| other.iter().enumerate().map(move |(j, b)| (distance(a, b), i, j)))
        .filter(|(d, _, _)| d.is_finite())
        .collect();
    pairs.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut slot_of: Vec<Option<usize>> = vec![None; other.len()];
    let mut taken = vec![false; sda.len()];
    for (_, i, j) in pairs {
        if !taken[i] && slot_of[j].is_none() {
            taken[i] = true;
            slot_of[j] = Some(i);
        }
    }
    let empty = Mode { members: Vec::new(), mean: Vec::new(), weight: 0.0 };
    let mut slots: Vec<Mode> = vec![empty; sda.len()];
    let mut extra = Vec::new();
    for (j, mode) in other.iter().enumerate() {
        match slot_of[j] {
            Some(i) => slots[i] = mode.clone(),
            None => extra.push(mode.clone()),
        }
    }
    slots.extend(extra);
    while slots.last().is_some_and(|m| m.members.is_empty()) {
        slots.pop();
    }
    slots
}

/// A finished-looking run state holding a comparison's ensemble, so the series and phase views
/// draw it exactly as they draw SDA's (members coloured by mode, mean, band, modes), its modes
/// in the colours of the SDA modes they match (`sda`, once SDA has finished).
pub fn comparison_run(c: &Comparison, sda: &[Mode]) -> RunState {
    let members = c.members;
    let frame = Frame {
        job: c.job,
        step: 1,
        steps: 1,
        t: 0.0,
        members,
        x: c.ensemble.clone(),
        tweedie: c.ensemble.clone(),
        misfit: 0.0,
        evaluations: 0,
        elapsed: c.seconds,
        labels: None,
    };
    let finished = Finished {
        job: c.job,
        ensemble: c.ensemble.clone(),
        samples: members,
        modes: match_modes(sda, &c.modes),
        history: vec![frame],
        timing: crate::worker::Timing { seconds: c.seconds, first_frame: c.seconds, evaluations: 0 },
        scores: c.scores,
    };
    let mut run = RunState::default();
    run.follow(c.job, false);
    run.apply(Event::Finished(Box::new(finished)));
    run
}

/// The scores table: SDA's row (when finished) and the comparison's.
pub fn scores_table(ui: &mut Ui, sda: Option<&Arc<Finished>>, comparison: Option<&Comparison>) {
    let row = |ui: &mut Ui, name: &str, scores: &EnsembleScores, seconds: f64, modes: &[Mode]| {
        ui.label(name);
        let value = |v: Option<f64>| v.map_or("—".to_string(), |v| format!("{v:.3}"));
        ui.label(value(scores.rmse));
        ui.label(value(scores.spread));
        ui.label(scores.log_likelihood.map_or("—".to_string(), |v| format!("{v:.1}")));
        ui.label(format!("{seconds:.2} s"));
        let weights: Vec<String> = modes.iter().map(|m| format!("{:.0}", 100.0 * m.weight)).collect();
        ui.label(format!("{} ({} %)", modes.len(), weights.join("/")));
        ui.end_row();
    };
    egui::Grid::new("compare-scores").striped(true).num_columns(6).show(ui, |ui| {
        ui.strong(s::SCORES_METHOD);
        ui.strong(s::SCORES_RMSE).on_hover_text(s::SCORES_RMSE_TIP);
        ui.strong(s::SCORES_SPREAD).on_hover_text(s::SCORES_SPREAD_TIP);
        ui.strong(s::SCORES_LIKELIHOOD).on_hover_text(s::SCORES_LIKELIHOOD_TIP);
        ui.strong(s::SCORES_TIME);
        ui.strong(s::SCORES_MODES);
        ui.end_row();
        if let Some(f) = sda {
            row(ui, "SDA", &f.scores, f.timing.seconds, &f.modes);
        }
        if let Some(c) = comparison {
            row(ui, &c.label, &c.scores, c.seconds, &c.modes);
        }
    });
    if let Some(c) = comparison {
        for note in &c.notes {
            ui.small(format!("{}: {note}", c.label));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(centre: f64, weight: f64) -> Mode {
        Mode { members: vec![0], mean: vec![centre; 4], weight }
    }

    /// Each comparison mode takes the colour of the SDA mode it lies on; an SDA mode with no
    /// counterpart leaves its colour unused, and an extra mode comes after SDA's.
    #[test]
    fn comparison_modes_take_the_colours_of_the_sda_modes_they_match() {
        let centres = |slots: Vec<Mode>| slots.iter().map(|m| m.mean.first().copied()).collect::<Vec<_>>();
        let sda = [mode(-10.0, 0.4), mode(10.0, 0.35), mode(30.0, 0.25)];
        let other = [mode(9.0, 0.7), mode(-11.0, 0.3)];
        assert_eq!(centres(match_modes(&sda, &other)), vec![Some(-11.0), Some(9.0)]);
        let other = [mode(31.0, 0.9), mode(-9.0, 0.1)];
        assert_eq!(centres(match_modes(&sda, &other)), vec![Some(-9.0), None, Some(31.0)]);
        let other = [mode(9.0, 0.5), mode(-60.0, 0.2), mode(-11.0, 0.1), mode(29.0, 0.1), mode(50.0, 0.1)];
        assert_eq!(
            centres(match_modes(&sda, &other)),
            vec![Some(-11.0), Some(9.0), Some(29.0), Some(-60.0), Some(50.0)]
        );
        assert!(match_modes(&[], &other).iter().zip(&other).all(|(a, b)| a == b), "nothing to match: order kept");
    }
}
