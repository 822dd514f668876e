//! The central panel's views behind one trait, kept in a registry (the egui demo app's pattern):
//! a new view is one file implementing [`View`], one [`ViewId`], and one line in
//! [`ViewRegistry::new`]; [`super::system_ui`] says which systems offer it.

use std::path::Path;

use eframe::egui::Ui;

use super::animation::DrawFrame;
use super::editor::ScenarioEditor;
use super::loading::Loaded;
use super::run_state::RunState;
use super::system_ui::SystemUi;
use super::tools::EditTools;
use crate::export::ExportError;
use crate::metrics::Mode;
use crate::worker::Comparison;

/// Names a view; lessons name them too ([`super::ViewKind`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewId {
    /// Time series of each component, edited with the mouse.
    Series,
    /// The Lorenz-63 phase space.
    Phase,
    /// Space–time fields (Lorenz-96), with a station's series.
    Fields,
    /// Snapshots of 2-D fields (Kolmogorov).
    Snapshots,
    /// Error, spread, misfit and rank histogram.
    Diagnostics,
}

/// A classical method shown beside SDA.
pub struct Beside<'a> {
    /// Its report, once it has arrived.
    pub report: Option<&'a Comparison>,
    /// Its ensemble as a run the views can draw.
    pub run: Option<&'a RunState>,
}

/// What a view draws and edits.
pub struct ViewContext<'a> {
    pub editor: &'a mut ScenarioEditor,
    pub tools: &'a EditTools,
    pub run: &'a RunState,
    /// Draw Tweedie's estimates rather than `x(t)`.
    pub tweedie: bool,
    pub system: &'a SystemUi,
    /// The comparison, when one is chosen.
    pub beside: Option<Beside<'a>>,
    /// The title of figures.
    pub title: &'a str,
    /// What the ensemble's mean is called: the posterior's, or the prior's when unguided.
    pub mean_label: &'static str,
}

impl ViewContext<'_> {
    /// The modes of the finished run (none during a run).
    pub fn modes(&self) -> Vec<Mode> {
        self.run.finished.as_ref().map(|f| f.modes.clone()).unwrap_or_default()
    }

    /// The plotted components of the scenario's state.
    pub fn components(&self) -> Vec<(usize, String)> {
        self.system.components(self.editor.scenario().state_dim())
    }
}

/// One view of the central panel.
pub trait View {
    fn id(&self) -> ViewId;

    /// The tab's label.
    fn label(&self) -> &'static str;

    /// Draws the view. Returns a status message (an edit that was refused), if any.
    fn ui(&mut self, ui: &mut Ui, ctx: &mut ViewContext) -> Option<String>;

    /// Saves what the view shows as a figure (PNG or SVG by the extension); `None` for a view
    /// with no figure of its own.
    fn export(&self, _path: &Path, _ctx: &ViewContext) -> Option<Result<(), ExportError>> {
        None
    }

    /// How the view's figure draws any replay frame of the finished run, for an animation;
    /// `None` for a view with no figure of its own.
    fn animation(&self, _ctx: &ViewContext) -> Option<DrawFrame> {
        None
    }

    /// Forgets what belongs to the previous scenario (a selected member or station).
    fn reset(&mut self) {}

    /// Takes what the loader thread produced that the view draws (the attractor).
    fn loaded(&mut self, _loaded: &Loaded) {}
}

/// Every view, each kept across frames so its state (rotation, selection) survives.
pub struct ViewRegistry {
    views: Vec<Box<dyn View>>,
}

impl ViewRegistry {
    pub fn new() -> Self {
        Self {
            views: vec![
                Box::new(super::series::SeriesView::default()),
                Box::new(super::phase::PhaseView::default()),
                Box::new(super::fields::FieldsView::default()),
                Box::new(super::snapshots::SnapshotsView::default()),
                Box::new(super::diagnostics::DiagnosticsView::default()),
            ],
        }
    }

    pub fn get(&self, id: ViewId) -> Option<&dyn View> {
        self.views.iter().find(|v| v.id() == id).map(|v| v.as_ref())
    }

    pub fn get_mut(&mut self, id: ViewId) -> Option<&mut (dyn View + 'static)> {
        self.views.iter_mut().find(|v| v.id() == id).map(|v| v.as_mut())
    }

    /// Forgets every view's per-scenario state.
    pub fn reset(&mut self) {
        self.views.iter_mut().for_each(|v| v.reset());
    }

    /// Hands a loader answer to every view.
    pub fn loaded(&mut self, loaded: &Loaded) {
        self.views.iter_mut().for_each(|v| v.loaded(loaded));
    }
}

impl Default for ViewRegistry {
    fn default() -> Self {
        Self::new()
    }
}
