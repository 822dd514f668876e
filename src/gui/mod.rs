//! The desktop app: pick a lesson or system, edit how it is observed, and watch the worker
//! sample the posterior live.
//!
//! The GUI owns no numerics and reads no files on its own thread: it edits a scenario
//! ([`ScenarioEditor`]) held in the session (`session`), sends jobs to the
//! [`crate::worker::Worker`] and loads through its [`crate::worker::Loader`], and draws the frames
//! and results they report. `app` is the shell; `panels` the menu, left panel, status line and
//! file dialog; the central views implement `view::View` and sit in a registry: time series with
//! mouse editing (`series`), the Lorenz-63 phase space, Lorenz-96 fields and Kolmogorov
//! snapshots through the WGSL colormap ([`crate::render`]), and diagnostics. What each system
//! offers is decided in one place (`system_ui`); the `--run`/`--screenshot`/`--bench-gui` hook is
//! `automation`. All user-facing text is in [`strings`].

mod animation;
mod app;
mod automation;
mod compare;
mod controls;
mod diagnostics;
mod draft;
mod editor;
mod estimate;
mod fields;
mod figure;
mod folder;
mod frame_bench;
mod lessons;
mod loading;
mod palette;
#[cfg(test)]
mod panel_tests;
mod panels;
mod phase;
mod run_state;
mod series;
mod session;
mod side_by_side;
mod snapshots;
mod spectrum;
pub mod strings;
mod stroke;
mod system_ui;
mod tools;
mod view;

pub use crate::observe::Pattern;
pub use app::{AppError, AppOptions, run_app};
pub use compare::{CompareChoice, CompareControls, comparison_run};
pub use controls::{SamplerControls, models_for};
pub use draft::draft_plan;
pub use editor::{ScenarioEditor, ValueSource};
pub use figure::{FieldsFigure, SeriesFigure, save_fields, save_series};
pub use lessons::{Lesson, ViewKind, load_lessons};
pub use run_state::{RunState, Shown, Status, mean_std};
