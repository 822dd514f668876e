//! A scalar linear observation of one state: the form the exact oracle accepts.

/// `value = row · x_t + N(0, std²)`.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearObservation {
    /// 0-based state index in the trajectory.
    pub t: usize,
    /// Coefficients over the state's components.
    pub row: Vec<f64>,
    pub value: f64,
    pub std: f64,
}
