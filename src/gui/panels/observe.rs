//! The observation tools: how a click or a stroke observes, the noise, undo and redo, and the
//! observation patterns of field systems.

use eframe::egui;

use crate::gui::session::Session;
use crate::gui::strings as s;
use crate::observe::OperatorKind;

pub fn ui(ui: &mut egui::Ui, session: &mut Session) {
    ui.heading(s::OBSERVE);
    ui.toggle_value(&mut session.tools.edit, s::EDIT_MODE).on_hover_text(s::EDIT_MODE_TIP);
    let fields = session.system_ui.field_tools;
    if fields {
        ui.horizontal(|ui| {
            ui.selectable_value(&mut session.tools.brush, true, s::BRUSH).on_hover_text(s::BRUSH_TIP);
            ui.selectable_value(&mut session.tools.brush, false, s::ERASER).on_hover_text(s::ERASER_TIP);
        });
    } else {
        ui.horizontal(|ui| {
            ui.label(s::OPERATOR).on_hover_text(s::OPERATOR_TIP);
            for kind in OperatorKind::ALL.into_iter().filter(|k| !k.takes_indices()) {
                ui.selectable_value(&mut session.tools.op, kind, kind.name()).on_hover_text(s::OPERATOR_TIP);
            }
        });
        ui.checkbox(&mut session.tools.from_truth, s::FROM_TRUTH).on_hover_text(s::FROM_TRUTH_TIP);
    }
    if session.editor.scenario().truth.is_none() {
        ui.label(s::NO_TRUTH);
    }
    let slider = ui
        .add(egui::Slider::new(&mut session.tools.std, 0.01..=10.0).logarithmic(true).text(s::NOISE))
        .on_hover_text(s::NOISE_TIP);
    if slider.drag_started() {
        session.editor.begin_drag();
    }
    if slider.changed() {
        let result = session.editor.set_std(session.tools.std, false);
        session.report(result.map(|()| String::new()).map_err(|e| e.to_string()));
    }
    ui.horizontal_wrapped(|ui| {
        if ui.button(s::RESAMPLE).on_hover_text(s::RESAMPLE_TIP).clicked() {
            let result = session.editor.resample_noise();
            session.report(result.map(|()| String::new()).map_err(|e| e.to_string()));
        }
        if ui.button(s::CLEAR).on_hover_text(s::CLEAR_TIP).clicked() {
            let result = session.editor.replace_all(Vec::new());
            session.report(result.map(|()| String::new()).map_err(|e| e.to_string()));
        }
        if ui.add_enabled(session.editor.can_undo(), egui::Button::new(s::UNDO)).clicked() {
            session.editor.undo();
        }
        if ui.add_enabled(session.editor.can_redo(), egui::Button::new(s::REDO)).clicked() {
            session.editor.redo();
        }
    });
    let patterns = (session.system_ui.patterns)(session.editor.revision());
    if !patterns.is_empty() {
        ui.label(s::PRESETS).on_hover_text(s::PRESETS_TIP);
        ui.horizontal_wrapped(|ui| {
            for (label, pattern) in patterns {
                if ui.button(label).on_hover_text(s::PRESETS_TIP).clicked() {
                    session.apply_pattern(&pattern);
                }
            }
        });
    }
}
