//! The sampler part of the left panel: the lesson's text, the sampler settings, run / pause /
//! step / cancel, replay, and the classical method compared with SDA.

use eframe::egui;

use crate::dynamics::System;
use crate::gui::estimate;
use crate::gui::session::Session;
use crate::gui::strings as s;

pub fn ui(ui: &mut egui::Ui, session: &mut Session) {
    if let Some(lesson) = session.lesson.and_then(|i| session.lessons.get(i)) {
        ui.label(&lesson.text);
        if let Some(try_this) = &lesson.try_this {
            ui.label(egui::RichText::new(format!("{}{try_this}", s::TRY_THIS)).italics().strong());
        }
        ui.separator();
    }
    ui.heading("Sampler");
    let exact = matches!(session.system(), System::Linear(_));
    let models = session.models.clone();
    let changed = session.controls.ui(ui, &models, exact);
    ui.horizontal_wrapped(|ui| {
        let tip = match session.estimate() {
            Some(e) => format!("{}\n\nAt the last measured speed: about {}.", s::RUN_TIP, estimate::duration(e)),
            None => s::RUN_TIP.to_string(),
        };
        if ui.button(s::RUN).on_hover_text(tip).clicked() {
            session.start_run();
        }
        if changed {
            session.settings_changed();
        }
        let paused = session.worker.is_paused();
        if ui.button(if paused { s::RESUME } else { s::PAUSE }).on_hover_text(s::PAUSE_TIP).clicked() {
            session.worker.pause(!paused);
        }
        if ui.add_enabled(paused, egui::Button::new(s::STEP)).on_hover_text(s::STEP_TIP).clicked() {
            session.worker.step();
        }
        if ui.button(s::CANCEL).on_hover_text(s::CANCEL_TIP).clicked() {
            session.worker.cancel();
        }
    });
    ui.checkbox(&mut session.auto_run, s::AUTO_RUN).on_hover_text(s::AUTO_RUN_TIP);
    ui.checkbox(&mut session.tweedie, s::SHOW_TWEEDIE).on_hover_text(s::SHOW_TWEEDIE_TIP);
    // Always there (disabled until a run has finished), so nothing below moves when a run ends.
    let last = session.run.finished.as_ref().map_or(0, |f| f.history.len().saturating_sub(1));
    let replay = egui::Slider::new(&mut session.run.scrub, 0..=last).text(s::SCRUB);
    ui.add_enabled(session.run.finished.is_some(), replay).on_hover_text(s::SCRUB_TIP);
    ui.separator();
    ui.heading(s::COMPARE_HEADING).on_hover_text(s::COMPARE_TIP);
    if !session.system_ui.compare {
        // Field views have no side-by-side layout; the command line runs these methods.
        ui.label(s::COMPARE_FIELDS);
    } else if session.compare.ui(ui) {
        session.compare_changed();
    }
}
