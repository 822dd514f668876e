//! Observation operators `A`, acting on one (flat) state.

use std::fmt;
use std::str::FromStr;

/// The kinds of operator, as named in scenario files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperatorKind {
    Identity,
    Abs,
    Square,
    Mean,
}

impl OperatorKind {
    pub const ALL: [OperatorKind; 4] = [Self::Identity, Self::Abs, Self::Square, Self::Mean];

    pub fn name(self) -> &'static str {
        match self {
            Self::Identity => "identity",
            Self::Abs => "abs",
            Self::Square => "square",
            Self::Mean => "mean",
        }
    }

    /// A comma-separated list of all names, for error messages and help.
    pub fn known() -> String {
        Self::ALL.map(Self::name).join(", ")
    }

    /// Whether the operator takes a list of components (`indices`) rather than one (`index`).
    pub fn takes_indices(self) -> bool {
        self == Self::Mean
    }
}

impl fmt::Display for OperatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not an operator's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown operator `{name}` (known: {})", OperatorKind::known())]
pub struct UnknownOperator {
    pub name: String,
}

impl FromStr for OperatorKind {
    type Err = UnknownOperator;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| UnknownOperator { name: crate::scenario::excerpt(s) })
    }
}

/// `A(x)` for one state `x`; indices are 0-based flat indices into the state (row-major for fields).
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationOp {
    /// `x[index]`.
    Identity { index: usize },
    /// `|x[index]|`: loses the sign, so posteriors can be bimodal.
    Abs { index: usize },
    /// `x[index]²`.
    Square { index: usize },
    /// The average of `x[indices]` (a coarse view of a block).
    Mean { indices: Vec<usize> },
}

impl ObservationOp {
    pub fn kind(&self) -> OperatorKind {
        match self {
            Self::Identity { .. } => OperatorKind::Identity,
            Self::Abs { .. } => OperatorKind::Abs,
            Self::Square { .. } => OperatorKind::Square,
            Self::Mean { .. } => OperatorKind::Mean,
        }
    }

    /// Builds the operator of `kind` over `indices` (exactly one index unless `kind` is `Mean`).
    pub fn new(kind: OperatorKind, indices: &[usize]) -> Option<Self> {
        let single = match indices {
            [index] => Some(*index),
            _ => None,
        };
        match kind {
            OperatorKind::Mean => (!indices.is_empty()).then(|| Self::Mean { indices: indices.to_vec() }),
            OperatorKind::Identity => single.map(|index| Self::Identity { index }),
            OperatorKind::Abs => single.map(|index| Self::Abs { index }),
            OperatorKind::Square => single.map(|index| Self::Square { index }),
        }
    }

    /// The state components the operator reads.
    pub fn indices(&self) -> &[usize] {
        match self {
            Self::Identity { index } | Self::Abs { index } | Self::Square { index } => std::slice::from_ref(index),
            Self::Mean { indices } => indices,
        }
    }

    /// `A(state)`.
    pub fn apply(&self, state: &[f64]) -> f64 {
        match self {
            Self::Identity { index } => state[*index],
            Self::Abs { index } => state[*index].abs(),
            Self::Square { index } => state[*index].powi(2),
            Self::Mean { indices } => indices.iter().map(|i| state[*i]).sum::<f64>() / indices.len() as f64,
        }
    }

    /// Adds `scale · ∂A/∂x` at `state` to `gradient` (both one state long).
    pub fn add_gradient(&self, state: &[f64], scale: f64, gradient: &mut [f64]) {
        match self {
            Self::Identity { index } => gradient[*index] += scale,
            Self::Abs { index } => gradient[*index] += scale * state[*index].signum(),
            Self::Square { index } => gradient[*index] += scale * 2.0 * state[*index],
            Self::Mean { indices } => {
                for i in indices {
                    gradient[*i] += scale / indices.len() as f64;
                }
            }
        }
    }

    /// For a linear operator, its coefficients over a state of `dim` components; `None` for a
    /// nonlinear one.
    pub fn linear_row(&self, dim: usize) -> Option<Vec<f64>> {
        let mut row = vec![0.0; dim];
        match self {
            Self::Identity { index } => row[*index] = 1.0,
            Self::Mean { indices } => {
                for i in indices {
                    row[*i] += 1.0 / indices.len() as f64;
                }
            }
            Self::Abs { .. } | Self::Square { .. } => return None,
        }
        Some(row)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_evaluate_as_defined() {
        let x = [-2.0, 3.0, 0.5, 1.5];
        assert_eq!(ObservationOp::Identity { index: 0 }.apply(&x), -2.0);
        assert_eq!(ObservationOp::Abs { index: 0 }.apply(&x), 2.0);
        assert_eq!(ObservationOp::Square { index: 1 }.apply(&x), 9.0);
        assert_eq!(ObservationOp::Mean { indices: vec![0, 1, 2, 3] }.apply(&x), 0.75);
        let row = ObservationOp::Mean { indices: vec![1, 3] }.linear_row(4).unwrap();
        assert_eq!(row, vec![0.0, 0.5, 0.0, 0.5]);
        assert!(ObservationOp::Square { index: 1 }.linear_row(4).is_none());
    }

    #[test]
    fn gradients_match_finite_differences() {
        let x = [-2.0, 3.0, 0.5, 1.5];
        let ops = [
            ObservationOp::Identity { index: 2 },
            ObservationOp::Abs { index: 0 },
            ObservationOp::Square { index: 1 },
            ObservationOp::Mean { indices: vec![0, 3, 3] },
        ];
        for op in ops {
            let mut g = [0.0; 4];
            op.add_gradient(&x, 1.0, &mut g);
            for j in 0..4 {
                let (mut p, mut m) = (x, x);
                p[j] += 1e-6;
                m[j] -= 1e-6;
                let numeric = (op.apply(&p) - op.apply(&m)) / 2e-6;
                assert!((numeric - g[j]).abs() < 1e-6, "{op:?} component {j}: {numeric} vs {}", g[j]);
            }
        }
    }

    #[test]
    fn kinds_parse_by_name() {
        for k in OperatorKind::ALL {
            assert_eq!(k.name().parse::<OperatorKind>(), Ok(k));
        }
        assert!("arctan".parse::<OperatorKind>().unwrap_err().to_string().contains("identity, abs, square, mean"));
    }
}
