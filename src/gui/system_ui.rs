//! What the app shows and offers for each system, decided in one exhaustive match: a new system
//! is one arm here (the compiler points at it), not a hunt for its name across the panels.

use super::view::ViewId;
use crate::dynamics::System;
use crate::observe::Pattern;

/// The app's choices for one system.
#[derive(Debug, Clone)]
pub struct SystemUi {
    /// Noise standard deviation of a new observation when the scenario has none.
    pub default_std: f64,
    /// The views offered, the first being where a newly opened scenario starts and what a figure
    /// export draws.
    pub views: &'static [ViewId],
    /// Observations are painted on fields (brush, eraser, patterns) rather than placed on series
    /// with an operator.
    pub field_tools: bool,
    /// Whether a classical method can run beside SDA in the app (field views have no
    /// side-by-side layout; the command line runs the methods on every system).
    pub compare: bool,
    /// Names of the plotted components (`None`: `x1 … xd`).
    pub component_names: Option<&'static [&'static str]>,
    /// The observation patterns offered as presets (`seed` for the random ones).
    pub patterns: fn(seed: u64) -> Vec<(&'static str, Pattern)>,
}

impl SystemUi {
    pub fn of(system: &System) -> Self {
        match system {
            System::Lorenz63(_) => Self {
                default_std: 1.0,
                views: &[ViewId::Series, ViewId::Phase, ViewId::Diagnostics],
                field_tools: false,
                compare: true,
                component_names: Some(&["x", "y", "z"]),
                patterns: |_| Vec::new(),
            },
            System::Linear(_) => Self {
                default_std: 0.3,
                views: &[ViewId::Series, ViewId::Diagnostics],
                field_tools: false,
                compare: true,
                component_names: None,
                patterns: |_| Vec::new(),
            },
            System::Lorenz96(_) => Self {
                default_std: 0.5,
                views: &[ViewId::Fields, ViewId::Diagnostics],
                field_tools: true,
                compare: true,
                component_names: None,
                patterns: |seed| {
                    vec![
                        ("every 4th station", Pattern::Stations { stations: 4, times: 1 }),
                        ("every 4th time", Pattern::Stations { stations: 1, times: 4 }),
                        ("satellite swath", Pattern::Swath { width: 6, shift: 3, times: 1 }),
                        ("random 10%", Pattern::Random { percent: 10.0, seed }),
                        ("coarse 4-blocks", Pattern::Blocks { size: 4, times: 2 }),
                    ]
                },
            },
            System::Kolmogorov(_) => Self {
                // 10% of the vorticity's climatological standard deviation, as in the paper.
                default_std: 0.46,
                views: &[ViewId::Snapshots, ViewId::Diagnostics],
                field_tools: true,
                compare: false,
                component_names: None,
                patterns: |seed| {
                    vec![
                        ("coarse 8×8 every 4th", Pattern::Blocks { size: 4, times: 4 }),
                        ("sparse grid", Pattern::Stations { stations: 4, times: 1 }),
                        ("random 10%", Pattern::Random { percent: 10.0, seed }),
                        ("centre patch", Pattern::Patch { size: 12, times: 1 }),
                        ("circle", Pattern::Annulus { inner: 9.0, outer: 12.0, times: 1 }),
                        ("satellite swath", Pattern::Swath { width: 8, shift: 4, times: 1 }),
                    ]
                },
            },
        }
    }

    /// The plotted components of a state of `dim` values: index and name.
    pub fn components(&self, dim: usize) -> Vec<(usize, String)> {
        match self.component_names {
            Some(names) if names.len() == dim => names.iter().enumerate().map(|(c, n)| (c, n.to_string())).collect(),
            _ => (0..dim).map(|c| (c, format!("x{}", c + 1))).collect(),
        }
    }

    /// The view a lesson's `view` names on this system: the field view for `fields`, else the
    /// view itself where offered, else the first.
    pub fn view_for(&self, asked: ViewId) -> ViewId {
        let fields = |v: &&ViewId| matches!(v, ViewId::Fields | ViewId::Snapshots);
        match asked {
            ViewId::Fields | ViewId::Snapshots => self.views.iter().find(fields).copied(),
            other => self.views.iter().find(|v| **v == other).copied(),
        }
        .unwrap_or(self.views[0])
    }
}
