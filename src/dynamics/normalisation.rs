//! The affine map between physical units and the networks' normalised space.

/// Per-component `z = (x − center) / scale`. Applies to a single state or to any whole number of
/// consecutive states (a trajectory, an ensemble), cycling over the components.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalisation {
    center: Vec<f64>,
    scale: Vec<f64>,
}

impl Normalisation {
    /// `center` and `scale` have one entry per state component; scales must be positive.
    pub fn new(center: Vec<f64>, scale: Vec<f64>) -> Self {
        debug_assert_eq!(center.len(), scale.len());
        debug_assert!(scale.iter().all(|s| *s > 0.0));
        Self { center, scale }
    }

    /// The same `center` and `scale` for all `dim` components.
    pub fn uniform(dim: usize, center: f64, scale: f64) -> Self {
        Self::new(vec![center; dim], vec![scale; dim])
    }

    pub fn center(&self) -> &[f64] {
        &self.center
    }

    pub fn scale(&self) -> &[f64] {
        &self.scale
    }

    /// Physical → network space, in place.
    pub fn to_network(&self, values: &mut [f64]) {
        let d = self.center.len();
        for (i, v) in values.iter_mut().enumerate() {
            *v = (*v - self.center[i % d]) / self.scale[i % d];
        }
    }

    /// Network → physical space, in place.
    pub fn to_physical(&self, values: &mut [f64]) {
        let d = self.center.len();
        for (i, v) in values.iter_mut().enumerate() {
            *v = *v * self.scale[i % d] + self.center[i % d];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_over_several_states() {
        let n = Normalisation::new(vec![0.0, 0.0, 25.0], vec![8.0, 9.0, 8.6]);
        let x = vec![1.0, 2.0, 33.6, -8.0, 9.0, 25.0];
        let mut z = x.clone();
        n.to_network(&mut z);
        assert_eq!(&z[3..], &[-1.0, 1.0, 0.0]);
        assert!((z[2] - 1.0).abs() < 1e-12);
        n.to_physical(&mut z);
        for (a, b) in z.iter().zip(&x) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
