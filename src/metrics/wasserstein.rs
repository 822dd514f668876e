//! Exact Wasserstein-1 distance between two equally weighted ensembles.

use pathfinding::kuhn_munkres::kuhn_munkres_min;
use pathfinding::matrix::Matrix;

/// Costs are rounded to this many units per unit of distance for the integer assignment solver:
/// the distance is exact to about 1e-9 relative.
const RESOLUTION: f64 = 1e9;

/// `W1(a, b) = min over permutations π of (1/n) Σ ‖a_i − b_π(i)‖₂` for two ensembles of `n`
/// members, each member `dim` values (a whole flattened trajectory). Solved exactly as an
/// optimal assignment (Kuhn–Munkres, `pathfinding`). `None` if the ensembles differ in size or
/// are empty.
pub fn wasserstein1(a: &[f64], b: &[f64], dim: usize) -> Option<f64> {
    if dim == 0 || a.len() != b.len() || a.is_empty() || !a.len().is_multiple_of(dim) {
        return None;
    }
    let n = a.len() / dim;
    let distances: Vec<f64> = a
        .chunks_exact(dim)
        .flat_map(|x| {
            b.chunks_exact(dim).map(move |y| x.iter().zip(y).map(|(p, q)| (p - q).powi(2)).sum::<f64>().sqrt())
        })
        .collect();
    let largest = distances.iter().cloned().fold(0.0, f64::max).max(f64::MIN_POSITIVE);
    // Scale so the largest cost uses ~RESOLUTION units, far from i64 overflow after n additions.
    let unit = RESOLUTION / largest;
    let costs = Matrix::from_vec(n, n, distances.iter().map(|d| (d * unit).round() as i64).collect()).ok()?;
    let (_, assignment) = kuhn_munkres_min(&costs);
    Some(assignment.iter().enumerate().map(|(i, &j)| distances[i * n + j]).sum::<f64>() / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_brute_force_over_permutations() {
        // Three 2-D points each: check against all 6 permutations.
        let a: [f64; 6] = [0.0, 0.0, 1.0, 0.0, 5.0, 5.0];
        let b: [f64; 6] = [1.1, 0.1, 4.0, 5.0, 0.2, -0.3];
        let d = |i: usize, j: usize| ((a[2 * i] - b[2 * j]).powi(2) + (a[2 * i + 1] - b[2 * j + 1]).powi(2)).sqrt();
        let perms = [[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]];
        let best = perms.iter().map(|p| (0..3).map(|i| d(i, p[i])).sum::<f64>() / 3.0).fold(f64::INFINITY, f64::min);
        assert!((wasserstein1(&a, &b, 2).unwrap() - best).abs() < 1e-9);
    }

    #[test]
    fn one_dimensional_case_is_the_sorted_matching() {
        let a = [3.0, -1.0, 2.0, 7.0];
        let b = [0.0, 6.0, 1.0, 2.5];
        // Sorted: (-1, 0), (2, 1), (3, 2.5), (7, 6) → (1 + 1 + 0.5 + 1) / 4.
        assert!((wasserstein1(&a, &b, 1).unwrap() - 0.875).abs() < 1e-12);
        assert_eq!(wasserstein1(&a, &b[..3], 1), None);
    }
}
