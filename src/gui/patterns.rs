//! Observation patterns: which cells of a trajectory to observe, and how (the editor's presets
//! and the lessons' observation layouts).

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::observe::{ObservationOp, OperatorKind};
use crate::rng;

/// A standard way to observe a trajectory of `length` states of `dim` components.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pattern {
    /// `op` of each of `indices` at every `every`-th state, starting at `offset`.
    Every {
        every: usize,
        #[serde(default)]
        offset: usize,
        op: String,
        indices: Vec<usize>,
    },
    /// Every `stations`-th component (a station network) at every `times`-th state.
    Stations { stations: usize, times: usize },
    /// A satellite swath: `width` neighbouring components, moving `shift` components per state,
    /// at every `times`-th state.
    Swath { width: usize, shift: usize, times: usize },
    /// Each cell with probability `percent`/100, drawn from `seed`.
    Random { percent: f64, seed: u64 },
    /// Coarse views: the mean of each block of `size` neighbouring components, every `times`-th state.
    Blocks { size: usize, times: usize },
}

impl Pattern {
    /// The observed cells: a state index and an operator each. Errors say what is wrong.
    pub fn cells(&self, length: usize, dim: usize) -> Result<Vec<(usize, ObservationOp)>, String> {
        let positive = |name: &str, v: usize| if v == 0 { Err(format!("`{name}` must be at least 1")) } else { Ok(()) };
        let mut out = Vec::new();
        match self {
            Self::Every { every, offset, op, indices } => {
                positive("every", *every)?;
                let kind: OperatorKind = op.parse()?;
                if let Some(i) = indices.iter().find(|&&i| i >= dim) {
                    return Err(format!("component {i} does not exist (states have {dim})"));
                }
                let ops: Vec<ObservationOp> = if kind.takes_indices() {
                    vec![ObservationOp::new(kind, indices).ok_or("`mean` needs at least one component")?]
                } else {
                    indices.iter().filter_map(|&i| ObservationOp::new(kind, &[i])).collect()
                };
                for t in (*offset..length).step_by(*every) {
                    out.extend(ops.iter().map(|op| (t, op.clone())));
                }
            }
            Self::Stations { stations, times } => {
                positive("stations", *stations)?;
                positive("times", *times)?;
                for t in (0..length).step_by(*times) {
                    out.extend((0..dim).step_by(*stations).map(|i| (t, ObservationOp::Identity { index: i })));
                }
            }
            Self::Swath { width, shift, times } => {
                positive("width", *width)?;
                positive("times", *times)?;
                for t in (0..length).step_by(*times) {
                    let start = (t * shift) % dim;
                    out.extend(
                        (0..(*width).min(dim)).map(|j| (t, ObservationOp::Identity { index: (start + j) % dim })),
                    );
                }
            }
            Self::Random { percent, seed } => {
                if !(0.0..=100.0).contains(percent) {
                    return Err(format!("`percent` must be between 0 and 100, got {percent}"));
                }
                let mut rng = rng::stream(*seed, 0);
                for t in 0..length {
                    for i in 0..dim {
                        if rng.random::<f64>() * 100.0 < *percent {
                            out.push((t, ObservationOp::Identity { index: i }));
                        }
                    }
                }
            }
            Self::Blocks { size, times } => {
                positive("size", *size)?;
                positive("times", *times)?;
                for t in (0..length).step_by(*times) {
                    for start in (0..dim).step_by(*size) {
                        let indices: Vec<usize> = (start..(start + size).min(dim)).collect();
                        out.push((t, ObservationOp::Mean { indices }));
                    }
                }
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_place_the_cells_they_describe() {
        let every = Pattern::Every { every: 8, offset: 0, op: "identity".into(), indices: vec![0] };
        let cells = every.cells(65, 3).unwrap();
        assert_eq!(cells.len(), 9);
        assert_eq!(cells[1], (8, ObservationOp::Identity { index: 0 }));

        let stations = Pattern::Stations { stations: 4, times: 2 }.cells(5, 40).unwrap();
        assert_eq!(stations.len(), 3 * 10);

        let swath = Pattern::Swath { width: 3, shift: 2, times: 1 }.cells(4, 10).unwrap();
        let at = |t: usize| swath.iter().filter(|c| c.0 == t).map(|c| c.1.indices()[0]).collect::<Vec<_>>();
        assert_eq!(at(0), vec![0, 1, 2]);
        assert_eq!(at(3), vec![6, 7, 8]);

        let blocks = Pattern::Blocks { size: 8, times: 4 }.cells(9, 40).unwrap();
        assert_eq!(blocks.len(), 3 * 5);
        assert_eq!(blocks[0].1, ObservationOp::Mean { indices: (0..8).collect() });

        let random = Pattern::Random { percent: 25.0, seed: 1 }.cells(100, 40).unwrap();
        let share = random.len() as f64 / 4000.0;
        assert!((share - 0.25).abs() < 0.03, "{share}");

        assert!(Pattern::Every { every: 0, offset: 0, op: "identity".into(), indices: vec![0] }.cells(5, 3).is_err());
        assert!(Pattern::Every { every: 1, offset: 0, op: "identity".into(), indices: vec![3] }.cells(5, 3).is_err());
        assert!(Pattern::Every { every: 1, offset: 0, op: "cube".into(), indices: vec![0] }.cells(5, 3).is_err());
    }
}
