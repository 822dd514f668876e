//! Observation patterns: which cells of a trajectory to observe, and how (the editor's presets,
//! the lessons' observation layouts and the field scenarios).
//!
//! A pattern is laid over a trajectory of `length` states of a given shape: a ring or a small
//! flat state (`[n]`) or a field (`[h, w]`, row-major). The same pattern names a natural layout on
//! either: stations are every r-th component or a sparse grid of every r-th cell in both
//! directions, blocks are runs or b×b squares, a swath is a band of neighbouring components or of
//! columns, the patch and the annulus are centred on the middle of the ring or the field.

use rand::Rng;
use serde::{Deserialize, Serialize};

use super::{ObservationOp, OperatorKind};
use crate::rng;

/// A standard way to observe a trajectory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Pattern {
    /// `op` of each of `indices` at every `every`-th state, starting at `offset`, before state
    /// `until` if given (a forecast: the rest of the trajectory is not observed).
    Every {
        every: usize,
        #[serde(default)]
        offset: usize,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<usize>,
        op: String,
        indices: Vec<usize>,
    },
    /// A station network: every `stations`-th component of a ring, or every `stations`-th cell
    /// along both axes of a field (a sparse grid), at every `times`-th state.
    Stations { stations: usize, times: usize },
    /// A satellite swath: `width` neighbouring components (columns of a field), moving `shift`
    /// per state, at every `times`-th state.
    Swath { width: usize, shift: usize, times: usize },
    /// Each cell with probability `percent`/100, drawn from `seed`.
    Random { percent: f64, seed: u64 },
    /// Coarse views: the mean of each run of `size` components (each `size`×`size` square of a
    /// field), every `times`-th state.
    Blocks { size: usize, times: usize },
    /// Only the central `size` components (`size`×`size` cells of a field), every `times`-th
    /// state: the rest must be extrapolated.
    Patch { size: usize, times: usize },
    /// The cells whose distance to the centre is at least `inner` and below `outer` (in cells),
    /// every `times`-th state.
    Annulus { inner: f64, outer: f64, times: usize },
}

/// Rows and columns of a state shape (`[n]` is one row of n).
fn rows_cols(shape: &[usize]) -> Result<(usize, usize), String> {
    match shape {
        [n] => Ok((1, *n)),
        [h, w] => Ok((*h, *w)),
        other => Err(format!("patterns lay over rings or fields, not states of shape {other:?}")),
    }
}

impl Pattern {
    /// The observed cells of a trajectory of `length` states of `shape`: a state index and an
    /// operator each. Errors say what is wrong.
    pub fn cells(&self, length: usize, shape: &[usize]) -> Result<Vec<(usize, ObservationOp)>, String> {
        let positive = |name: &str, v: usize| if v == 0 { Err(format!("`{name}` must be at least 1")) } else { Ok(()) };
        let (rows, cols) = rows_cols(shape)?;
        let dim = rows * cols;
        let field = shape.len() == 2;
        let mut out = Vec::new();
        match self {
            Self::Every { every, offset, until, op, indices } => {
                positive("every", *every)?;
                let kind: OperatorKind = op.parse().map_err(|e: super::UnknownOperator| e.to_string())?;
                if let Some(i) = indices.iter().find(|&&i| i >= dim) {
                    return Err(format!("component {i} does not exist (states have {dim})"));
                }
                let ops: Vec<ObservationOp> = if kind.takes_indices() {
                    vec![ObservationOp::new(kind, indices).ok_or("`mean` needs at least one component")?]
                } else {
                    indices.iter().filter_map(|&i| ObservationOp::new(kind, &[i])).collect()
                };
                for t in (*offset..until.map_or(length, |u| u.min(length))).step_by(*every) {
                    out.extend(ops.iter().map(|op| (t, op.clone())));
                }
            }
            Self::Stations { stations, times } => {
                positive("stations", *stations)?;
                positive("times", *times)?;
                let grid: Vec<usize> = if field {
                    (0..rows)
                        .step_by(*stations)
                        .flat_map(|y| (0..cols).step_by(*stations).map(move |x| y * cols + x))
                        .collect()
                } else {
                    (0..dim).step_by(*stations).collect()
                };
                for t in (0..length).step_by(*times) {
                    out.extend(grid.iter().map(|&i| (t, ObservationOp::Identity { index: i })));
                }
            }
            Self::Swath { width, shift, times } => {
                positive("width", *width)?;
                positive("times", *times)?;
                for t in (0..length).step_by(*times) {
                    let start = (t * shift) % cols;
                    for y in 0..rows {
                        out.extend(
                            (0..(*width).min(cols))
                                .map(|j| (t, ObservationOp::Identity { index: y * cols + (start + j) % cols })),
                        );
                    }
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
                // A ring's runs are one row of blocks of height 1.
                let height = if field { *size } else { 1 };
                let mut blocks = Vec::new();
                for y0 in (0..rows).step_by(height) {
                    for x0 in (0..cols).step_by(*size) {
                        let indices: Vec<usize> = (y0..(y0 + height).min(rows))
                            .flat_map(|y| (x0..(x0 + size).min(cols)).map(move |x| y * cols + x))
                            .collect();
                        blocks.push(indices);
                    }
                }
                for t in (0..length).step_by(*times) {
                    out.extend(blocks.iter().map(|indices| (t, ObservationOp::Mean { indices: indices.clone() })));
                }
            }
            Self::Patch { size, times } => {
                positive("size", *size)?;
                positive("times", *times)?;
                let centred = |n: usize, s: usize| {
                    let s = s.min(n);
                    (n - s) / 2..(n - s) / 2 + s
                };
                let ys = if field { centred(rows, *size) } else { 0..1 };
                let patch: Vec<usize> = ys.flat_map(|y| centred(cols, *size).map(move |x| y * cols + x)).collect();
                for t in (0..length).step_by(*times) {
                    out.extend(patch.iter().map(|&i| (t, ObservationOp::Identity { index: i })));
                }
            }
            Self::Annulus { inner, outer, times } => {
                positive("times", *times)?;
                if !(inner.is_finite() && outer.is_finite() && 0.0 <= *inner && inner < outer) {
                    return Err(format!("`inner` and `outer` must satisfy 0 ≤ inner < outer, got {inner} and {outer}"));
                }
                let (cy, cx) = ((rows as f64 - 1.0) / 2.0, (cols as f64 - 1.0) / 2.0);
                let ring: Vec<usize> = (0..dim)
                    .filter(|&i| {
                        let (y, x) = ((i / cols) as f64 - if field { cy } else { 0.0 }, (i % cols) as f64 - cx);
                        let r = (y * y + x * x).sqrt();
                        *inner <= r && r < *outer
                    })
                    .collect();
                for t in (0..length).step_by(*times) {
                    out.extend(ring.iter().map(|&i| (t, ObservationOp::Identity { index: i })));
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
        let every = Pattern::Every { every: 8, offset: 0, until: None, op: "identity".into(), indices: vec![0] };
        let cells = every.cells(65, &[3]).unwrap();
        assert_eq!(cells.len(), 9);
        assert_eq!(cells[1], (8, ObservationOp::Identity { index: 0 }));
        let forecast =
            Pattern::Every { every: 2, offset: 0, until: Some(33), op: "identity".into(), indices: vec![0, 2] };
        let cells = forecast.cells(65, &[3]).unwrap();
        assert_eq!(cells.len(), 2 * 17, "states 0, 2, …, 32");
        assert!(cells.iter().all(|(t, _)| *t < 33));

        let stations = Pattern::Stations { stations: 4, times: 2 }.cells(5, &[40]).unwrap();
        assert_eq!(stations.len(), 3 * 10);

        let swath = Pattern::Swath { width: 3, shift: 2, times: 1 }.cells(4, &[10]).unwrap();
        let at = |t: usize| swath.iter().filter(|c| c.0 == t).map(|c| c.1.indices()[0]).collect::<Vec<_>>();
        assert_eq!(at(0), vec![0, 1, 2]);
        assert_eq!(at(3), vec![6, 7, 8]);

        let blocks = Pattern::Blocks { size: 8, times: 4 }.cells(9, &[40]).unwrap();
        assert_eq!(blocks.len(), 3 * 5);
        assert_eq!(blocks[0].1, ObservationOp::Mean { indices: (0..8).collect() });

        let random = Pattern::Random { percent: 25.0, seed: 1 }.cells(100, &[40]).unwrap();
        let share = random.len() as f64 / 4000.0;
        assert!((share - 0.25).abs() < 0.03, "{share}");

        assert!(
            Pattern::Every { every: 0, offset: 0, until: None, op: "identity".into(), indices: vec![0] }
                .cells(5, &[3])
                .is_err()
        );
        assert!(
            Pattern::Every { every: 1, offset: 0, until: None, op: "identity".into(), indices: vec![3] }
                .cells(5, &[3])
                .is_err()
        );
        assert!(
            Pattern::Every { every: 1, offset: 0, until: None, op: "cube".into(), indices: vec![0] }
                .cells(5, &[3])
                .is_err()
        );
    }

    #[test]
    fn field_patterns_place_the_cells_they_describe() {
        let shape = [32, 32];
        let at = |cells: &[(usize, ObservationOp)], t: usize| cells.iter().filter(|c| c.0 == t).count();
        // The paper's coarse view: 8×8 means of 4×4 blocks every 4th state.
        let coarse = Pattern::Blocks { size: 4, times: 4 }.cells(16, &shape).unwrap();
        assert_eq!(coarse.len(), 4 * 64);
        assert_eq!((at(&coarse, 4), at(&coarse, 5)), (64, 0));
        let first: Vec<usize> = (0..4).flat_map(|y| (0..4).map(move |x| y * 32 + x)).collect();
        assert_eq!(coarse[0].1, ObservationOp::Mean { indices: first });
        let mut covered: Vec<usize> = coarse[..64].iter().flat_map(|c| c.1.indices().to_vec()).collect();
        covered.sort();
        assert_eq!(covered, (0..1024).collect::<Vec<_>>(), "the blocks tile the field once");

        let grid = Pattern::Stations { stations: 4, times: 1 }.cells(2, &shape).unwrap();
        assert_eq!(grid.len(), 2 * 64);
        assert!(grid.iter().all(|c| {
            let i = c.1.indices()[0];
            (i / 32) % 4 == 0 && (i % 32) % 4 == 0
        }));

        let swath = Pattern::Swath { width: 6, shift: 3, times: 1 }.cells(3, &shape).unwrap();
        let columns = |t: usize| {
            let mut c: Vec<usize> = swath.iter().filter(|c| c.0 == t).map(|c| c.1.indices()[0] % 32).collect();
            c.sort();
            c.dedup();
            c
        };
        assert_eq!(columns(0), vec![0, 1, 2, 3, 4, 5]);
        assert_eq!(columns(2), vec![6, 7, 8, 9, 10, 11]);
        assert_eq!(at(&swath, 1), 6 * 32);

        let patch = Pattern::Patch { size: 8, times: 1 }.cells(1, &shape).unwrap();
        assert_eq!(patch.len(), 64);
        assert!(patch.iter().all(|c| {
            let i = c.1.indices()[0];
            (12..20).contains(&(i / 32)) && (12..20).contains(&(i % 32))
        }));

        let ring = Pattern::Annulus { inner: 8.0, outer: 10.0, times: 1 }.cells(1, &shape).unwrap();
        let area = std::f64::consts::PI * (100.0 - 64.0);
        assert!((ring.len() as f64 - area).abs() < 0.1 * area, "{} cells for area {area:.0}", ring.len());
        assert!(Pattern::Annulus { inner: 5.0, outer: 5.0, times: 1 }.cells(1, &shape).is_err());

        let random = Pattern::Random { percent: 10.0, seed: 3 }.cells(16, &shape).unwrap();
        assert!((random.len() as f64 / (16.0 * 1024.0) - 0.1).abs() < 0.01);
        assert!(Pattern::Stations { stations: 2, times: 1 }.cells(1, &[2, 2, 2]).is_err());
    }
}
