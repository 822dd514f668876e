//! The status line: the job's state, its progress and speed, and the last message.

use eframe::egui;

use crate::gui::estimate;
use crate::gui::run_state::Status;
use crate::gui::session::Session;
use crate::gui::strings as s;

pub fn ui(ui: &mut egui::Ui, session: &Session) {
    let run = &session.run;
    ui.horizontal_wrapped(|ui| {
        let state = match &run.status {
            Status::Idle => "idle".to_string(),
            Status::Running if session.worker.is_paused() => "paused".to_string(),
            Status::Running if run.draft => s::DRAFT_RUNNING.to_string(),
            Status::Running => "sampling".to_string(),
            Status::Done if run.draft => s::DRAFT_DONE.to_string(),
            Status::Done => "done".to_string(),
            Status::Cancelled => "cancelled".to_string(),
            Status::Failed(reason) if run.draft => format!("{} ({reason})", s::DRAFT_FAILED),
            Status::Failed(reason) => format!("failed: {reason}"),
        };
        ui.label(format!("{state} · device: {}", if run.device.is_empty() { "…" } else { &run.device }));
        if let Some(frame) = run.frame_shown() {
            let rate = if frame.elapsed > 0.0 { frame.evaluations as f64 / frame.elapsed } else { 0.0 };
            ui.label(format!(
                "· step {}/{} · t = {:.3} · corrections {} · {:.1} s · {:.1} network calls/s · misfit {:.2}",
                frame.step,
                frame.steps,
                frame.t,
                if run.draft { 0 } else { frame.step * session.controls.corrections },
                frame.elapsed,
                rate,
                frame.misfit
            ));
        }
        if run.status == Status::Running && !session.worker.is_paused() {
            let left = match estimate::remaining(run) {
                Some(left) => Some(format!("· about {} left", estimate::duration(left))),
                None if !run.draft => session.estimate().map(|e| format!("· estimated {}", estimate::duration(e))),
                None => None,
            };
            if let Some(left) = left {
                ui.label(egui::RichText::new(left).strong());
            }
        }
        // A long run says so before it starts.
        if run.status != Status::Running
            && let Some(next) = session.estimate().filter(|e| *e > 60.0)
        {
            ui.label(
                egui::RichText::new(format!("· the next run will take about {}", estimate::duration(next))).strong(),
            );
        }
        if let Some(first) = run.first_frame {
            ui.label(format!("· first frame {:.0} ms", first * 1000.0));
        }
        if !session.message.is_empty() {
            ui.label(
                egui::RichText::new(format!("· {}", session.message)).color(egui::Color32::from_rgb(255, 190, 90)),
            )
            .on_hover_text(&session.message);
        }
    });
}
