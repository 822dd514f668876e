//! The observation-editing tools' settings.

use crate::observe::{ObservationOp, OperatorKind};

/// How clicks on the views edit observations.
#[derive(Debug, Clone, PartialEq)]
pub struct EditTools {
    /// Clicks edit observations (otherwise they pan and zoom).
    pub edit: bool,
    pub op: OperatorKind,
    /// New values are the truth plus noise (otherwise where the user clicked).
    pub from_truth: bool,
    /// Noise std of new observations, physical units.
    pub std: f64,
    /// Field tool: brush (observe) or eraser.
    pub brush: bool,
}

impl Default for EditTools {
    fn default() -> Self {
        Self { edit: true, op: OperatorKind::Identity, from_truth: true, std: 1.0, brush: true }
    }
}

impl EditTools {
    /// The operator of a new observation of `component`.
    pub fn operator(&self, component: usize) -> ObservationOp {
        match self.op {
            OperatorKind::Abs => ObservationOp::Abs { index: component },
            OperatorKind::Square => ObservationOp::Square { index: component },
            OperatorKind::Identity | OperatorKind::Mean => ObservationOp::Identity { index: component },
        }
    }
}

/// Where an observation of `op` with `value` is drawn on its component's axis: the value itself,
/// or both signs for `abs` and `square` (which cannot tell them apart).
pub fn drawn_at(op: &ObservationOp, value: f64) -> Vec<f64> {
    match op {
        ObservationOp::Identity { .. } | ObservationOp::Mean { .. } => vec![value],
        ObservationOp::Abs { .. } => vec![value, -value],
        ObservationOp::Square { .. } => {
            let r = value.max(0.0).sqrt();
            vec![r, -r]
        }
    }
}

/// Whether `op` loses the sign of its component (`abs`, `square`): drawn at both signs, with its
/// own marker.
pub fn folds_sign(op: &ObservationOp) -> bool {
    match op {
        ObservationOp::Identity { .. } | ObservationOp::Mean { .. } => false,
        ObservationOp::Abs { .. } | ObservationOp::Square { .. } => true,
    }
}

/// Half-height on the component's axis of the ±2σ_y bar of an observation drawn at `y` (for
/// `square`, σ_y carried back through the derivative 2y).
pub fn error_bar(op: &ObservationOp, std: f64, y: f64) -> f64 {
    match op {
        ObservationOp::Square { .. } => 2.0 * std / (2.0 * y.abs()).max(1e-9),
        ObservationOp::Identity { .. } | ObservationOp::Abs { .. } | ObservationOp::Mean { .. } => 2.0 * std,
    }
}

/// The observed value of `op` for a point drawn at `y` on the component's axis.
pub fn value_at(op: &ObservationOp, y: f64) -> f64 {
    match op {
        ObservationOp::Identity { .. } | ObservationOp::Mean { .. } => y,
        ObservationOp::Abs { .. } => y.abs(),
        ObservationOp::Square { .. } => y * y,
    }
}
