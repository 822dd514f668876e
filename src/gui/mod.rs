//! The desktop app: pick a lesson or system, edit how it is observed, and watch the worker
//! sample the posterior live.
//!
//! The GUI owns no numerics: it edits a scenario ([`ScenarioEditor`]), sends jobs to the
//! [`crate::worker::Worker`] and draws the frames and results it reports. Views: time series
//! with mouse editing ([`series`]), the Lorenz-63 phase space, Lorenz-96 fields through the
//! WGSL colormap ([`crate::render`]), and diagnostics. All user-facing text is in [`strings`].

mod app;
mod compare;
mod controls;
mod diagnostics;
mod draft;
mod editor;
mod fields;
mod figure;
mod frame_bench;
mod lessons;
mod palette;
mod phase;
mod run_state;
mod series;
mod snapshots;
pub mod strings;
mod tools;

pub use crate::observe::Pattern;
pub use app::{AppError, AppOptions, run_app};
pub use compare::{CompareChoice, CompareControls, comparison_run};
pub use controls::{SamplerControls, models_for};
pub use draft::draft_plan;
pub use editor::{ScenarioEditor, ValueSource};
pub use figure::{FieldsFigure, SeriesFigure, save_fields, save_series};
pub use lessons::{Lesson, ViewKind, load_lessons};
pub use run_state::{RunState, Shown, Status, mean_std};
