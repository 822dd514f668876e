//! Posterior modes: clusters of whole trajectories in an ensemble.
//!
//! k-means (k-means++ seeding, Lloyd iterations, the best of [`RESTARTS`] starts by within-cluster
//! sum of squares) for every number of clusters up to a maximum,
//! scored by the Bayesian information criterion of a mixture with one diagonal covariance shared
//! by all clusters; the number with the lowest BIC wins. Sharing the covariance lets a single
//! elongated cloud stay one mode while well-separated clouds (mirror-image lobes) split. Clumpy
//! ensembles (a particle smoother's paths share ancestors) can still make BIC split one lobe into
//! near clumps, so clusters that overlap — centres closer than the sum of their RMS radii — are
//! then merged, and clusters of under 1% of the ensemble join their nearest neighbour.

use rand::Rng;

use crate::rng;

/// k-means starts per number of clusters. One start could settle in a split that cuts both mirror
/// lobes of a Lorenz-63 posterior across instead of separating them, and BIC then preferred one
/// mode: the `|x|` lesson showed one mode for 2 of 4 seeds with one start, with members split
/// 59–73 of 128 between the lobes.
const RESTARTS: u64 = 4;

/// One mode of an ensemble.
#[derive(Debug, Clone, PartialEq)]
pub struct Mode {
    /// Indices of the member trajectories assigned to it.
    pub members: Vec<usize>,
    /// Mean trajectory (flat).
    pub mean: Vec<f64>,
    /// Share of the ensemble.
    pub weight: f64,
}

/// Clusters `ensemble` (flat `[members, dim]`) into at most `max_modes` modes, largest first.
pub fn find_modes(ensemble: &[f64], dim: usize, max_modes: usize, seed: u64) -> Vec<Mode> {
    let n = ensemble.len().checked_div(dim).unwrap_or(0);
    if n == 0 {
        return Vec::new();
    }
    let points: Vec<&[f64]> = ensemble.chunks_exact(dim).collect();
    let mut best: Option<(f64, Vec<usize>, usize)> = None;
    for k in 1..=max_modes.clamp(1, n) {
        let labels = (0..RESTARTS)
            .map(|start| kmeans(&points, k, seed, start))
            .min_by(|a, b| within_sum_of_squares(&points, a, k).total_cmp(&within_sum_of_squares(&points, b, k)))
            .unwrap_or_else(|| vec![0; n]);
        let score = bic(&points, &labels, k);
        if best.as_ref().is_none_or(|(b, _, _)| score < *b) {
            best = Some((score, labels, k));
        }
    }
    let Some((_, mut labels, k)) = best else { return Vec::new() };
    merge_overlapping(&points, &mut labels, k, dim);
    let mut modes: Vec<Mode> = (0..k)
        .filter_map(|c| {
            let members: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            (!members.is_empty()).then(|| Mode {
                mean: mean_of(&points, &members, dim),
                weight: members.len() as f64 / n as f64,
                members,
            })
        })
        .collect();
    modes.sort_by_key(|m| std::cmp::Reverse(m.members.len()));
    modes
}

fn mean_of(points: &[&[f64]], members: &[usize], dim: usize) -> Vec<f64> {
    let mut mean = vec![0.0; dim];
    for &i in members {
        mean.iter_mut().zip(points[i]).for_each(|(m, v)| *m += v);
    }
    mean.iter_mut().for_each(|m| *m /= members.len().max(1) as f64);
    mean
}

/// Merges clusters whose centres are closer than the sum of their RMS radii, until none are.
fn merge_overlapping(points: &[&[f64]], labels: &mut [usize], k: usize, dim: usize) {
    loop {
        let clusters: Vec<(usize, Vec<f64>, f64)> = (0..k)
            .filter_map(|c| {
                let members: Vec<usize> = (0..points.len()).filter(|&i| labels[i] == c).collect();
                if members.is_empty() {
                    return None;
                }
                let mean = mean_of(points, &members, dim);
                let radius =
                    (members.iter().map(|&i| distance2(points[i], &mean)).sum::<f64>() / members.len() as f64).sqrt();
                Some((c, mean, radius))
            })
            .collect();
        let mut pair = None;
        for (i, a) in clusters.iter().enumerate() {
            for b in &clusters[i + 1..] {
                if distance2(&a.1, &b.1).sqrt() < a.2 + b.2 {
                    pair = Some((a.0, b.0));
                }
            }
        }
        // A cluster of under 1% of the ensemble (at least 2 members) is an outlier, not a mode:
        // it joins the cluster with the nearest centre.
        let small = (points.len() / 100).max(2);
        if pair.is_none() && clusters.len() > 1 {
            for a in &clusters {
                let size = labels.iter().filter(|&&l| l == a.0).count();
                if size < small {
                    let nearest = clusters
                        .iter()
                        .filter(|b| b.0 != a.0)
                        .min_by(|x, y| distance2(&a.1, &x.1).total_cmp(&distance2(&a.1, &y.1)));
                    pair = nearest.map(|b| (b.0, a.0));
                    break;
                }
            }
        }
        let Some((keep, gone)) = pair else { return };
        labels.iter_mut().filter(|l| **l == gone).for_each(|l| *l = keep);
    }
}

fn distance2(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum()
}

/// Sum over points of the squared distance to their cluster's mean.
fn within_sum_of_squares(points: &[&[f64]], labels: &[usize], k: usize) -> f64 {
    let dim = points[0].len();
    (0..k)
        .map(|c| {
            let members: Vec<usize> = (0..points.len()).filter(|&i| labels[i] == c).collect();
            let mean = mean_of(points, &members, dim);
            members.iter().map(|&i| distance2(points[i], &mean)).sum::<f64>()
        })
        .sum()
}

/// Labels of `k`-means with k-means++ seeding (stream `start` of `seed`'s for `k`) and at most
/// 100 Lloyd iterations.
fn kmeans(points: &[&[f64]], k: usize, seed: u64, start: u64) -> Vec<usize> {
    let n = points.len();
    let dim = points[0].len();
    let mut r = rng::keyed_stream(seed, rng::purpose::CLUSTERING, k as u64 + (start << 16));
    let mut centres: Vec<Vec<f64>> = vec![points[r.random_range(0..n)].to_vec()];
    while centres.len() < k {
        let d2: Vec<f64> =
            points.iter().map(|p| centres.iter().map(|c| distance2(p, c)).fold(f64::INFINITY, f64::min)).collect();
        let total: f64 = d2.iter().sum();
        let next = if total > 0.0 {
            let mut u = r.random::<f64>() * total;
            d2.iter().position(|w| {
                u -= w;
                u <= 0.0
            })
        } else {
            None
        };
        centres.push(points[next.unwrap_or(n - 1)].to_vec());
    }
    let mut labels = vec![0; n];
    for _ in 0..100 {
        let next: Vec<usize> = points
            .iter()
            .map(|p| {
                (0..k).min_by(|&a, &b| distance2(p, &centres[a]).total_cmp(&distance2(p, &centres[b]))).unwrap_or(0)
            })
            .collect();
        let changed = next != labels;
        labels = next;
        for (c, centre) in centres.iter_mut().enumerate() {
            let members: Vec<usize> = (0..n).filter(|&i| labels[i] == c).collect();
            if !members.is_empty() {
                *centre = mean_of(points, &members, dim);
            }
        }
        if !changed {
            break;
        }
    }
    labels
}

/// BIC of a hard-assignment Gaussian mixture with a diagonal covariance shared by the clusters.
fn bic(points: &[&[f64]], labels: &[usize], k: usize) -> f64 {
    let n = points.len() as f64;
    let dim = points[0].len();
    let means: Vec<Vec<f64>> = (0..k)
        .map(|c| {
            let members: Vec<usize> = (0..points.len()).filter(|&i| labels[i] == c).collect();
            mean_of(points, &members, dim)
        })
        .collect();
    let mut variance = vec![0.0; dim];
    for (p, &l) in points.iter().zip(labels) {
        variance.iter_mut().zip(p.iter().zip(&means[l])).for_each(|(v, (x, m))| *v += (x - m).powi(2));
    }
    let log_det: f64 = variance.iter().map(|v| (v / n).max(1e-12).ln()).sum();
    let mut log_lik = -0.5 * n * (log_det + dim as f64 * (1.0 + (2.0 * std::f64::consts::PI).ln()));
    for c in 0..k {
        let size = labels.iter().filter(|&&l| l == c).count() as f64;
        if size > 0.0 {
            log_lik += size * (size / n).ln();
        }
    }
    let parameters = (k * dim + dim + k - 1) as f64;
    -2.0 * log_lik + parameters * n.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_distr::StandardNormal;

    fn cloud(centres: &[f64], per: usize, dim: usize, seed: u64) -> Vec<f64> {
        let mut r = rng::stream(seed, 0);
        let mut out = Vec::new();
        for &c in centres {
            for _ in 0..per {
                out.push(c + r.sample::<f64, _>(StandardNormal));
                out.extend((1..dim).map(|_| r.sample::<f64, _>(StandardNormal)));
            }
        }
        out
    }

    #[test]
    fn two_separated_clusters_are_two_modes() {
        let data = cloud(&[-4.0, 4.0], 200, 10, 1);
        let modes = find_modes(&data, 10, 6, 0);
        assert_eq!(modes.len(), 2);
        assert!(modes.iter().all(|m| (m.weight - 0.5).abs() < 1e-12));
        let first: Vec<f64> = modes.iter().map(|m| m.mean[0]).collect();
        assert!(first.iter().any(|v| (v + 4.0).abs() < 0.3) && first.iter().any(|v| (v - 4.0).abs() < 0.3));
    }

    #[test]
    fn one_elongated_cloud_is_one_mode() {
        // A unimodal cloud, 5× wider along one axis than the others.
        let mut data = cloud(&[0.0], 400, 10, 2);
        for p in data.chunks_mut(10) {
            p[0] *= 5.0;
        }
        assert_eq!(find_modes(&data, 10, 6, 0).len(), 1);
    }
}
