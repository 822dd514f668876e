//! Composition of local window scores into a whole-trajectory score (pseudo-Markov blanket).

use candle_core::{IndexOp, Tensor};

use super::ScoreError;

/// Cuts a trajectory `[S, L, …]` into its `L − 2k` windows of `2k+1` states and assembles window
/// outputs back into a trajectory: state `i` takes the output of the window centred on it; the
/// first `k` states take the first window's positions `0..k`, the last `k` the last window's
/// positions `k+1..2k+1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowComposer {
    k: usize,
}

impl WindowComposer {
    /// `window` = 2k+1 with k ≥ 1.
    pub fn new(window: usize) -> Result<Self, ScoreError> {
        if window < 3 || window.is_multiple_of(2) {
            return Err(ScoreError::BadWindow { window });
        }
        Ok(Self { k: window / 2 })
    }

    pub fn k(&self) -> usize {
        self.k
    }

    pub fn window(&self) -> usize {
        2 * self.k + 1
    }

    /// Number of windows in a trajectory of `length` states; an error if it has none.
    pub fn count(&self, length: usize) -> Result<usize, ScoreError> {
        if length < self.window() {
            return Err(ScoreError::TooShort { window: self.window(), length });
        }
        Ok(length - 2 * self.k)
    }

    /// The window `j` and position `p` whose output state `state` of a trajectory of `length`
    /// states takes (the rule of [`Self::assemble`]); `length` must hold a window.
    pub fn source(&self, state: usize, length: usize) -> (usize, usize) {
        let k = self.k;
        let last = length.saturating_sub(2 * k + 1);
        if state < k {
            (0, state)
        } else if state + k < length {
            (state - k, k)
        } else {
            (last, state - last)
        }
    }

    /// `[S, L, …]` → `[S, J, W, …]` with `J = L − 2k` windows, one gather (differentiable).
    pub fn windows(&self, x: &Tensor) -> Result<Tensor, ScoreError> {
        let dims = x.dims().to_vec();
        let j = self.count(dims[1])?;
        let w = self.window();
        let index: Vec<u32> = (0..j).flat_map(|s| (s..s + w).map(|i| i as u32)).collect();
        let index = Tensor::from_vec(index, j * w, x.device())?;
        let gathered = x.index_select(&index, 1)?;
        let mut shape = vec![dims[0], j, w];
        shape.extend_from_slice(&dims[2..]);
        Ok(gathered.reshape(shape)?)
    }

    /// `[S, J, W, …]` window outputs → `[S, L, …]` by the composition rule.
    pub fn assemble(&self, windows: &Tensor) -> Result<Tensor, ScoreError> {
        let j = windows.dim(1)?;
        let k = self.k;
        let head = windows.i((.., 0, 0..k))?;
        let centre = windows.i((.., .., k))?;
        let tail = windows.i((.., j - 1, k + 1..2 * k + 1))?;
        Ok(Tensor::cat(&[head, centre, tail], 1)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Tensor};

    #[test]
    fn windows_then_assemble_is_the_identity() {
        let x = Tensor::arange(0f32, 2.0 * 11.0 * 3.0, &Device::Cpu).unwrap().reshape((2, 11, 3)).unwrap();
        let c = WindowComposer::new(5).unwrap();
        let w = c.windows(&x).unwrap();
        assert_eq!(w.dims(), &[2, 7, 5, 3]);
        let back = c.assemble(&w).unwrap();
        assert_eq!(back.to_vec3::<f32>().unwrap(), x.to_vec3::<f32>().unwrap());
    }

    #[test]
    fn each_state_takes_the_rule_s_window_and_position() {
        // Window j, position p outputs 10·j + p: state i < k takes (0, i), interior (i − k, k),
        // state i ≥ L − k takes (J − 1, i − (L − 2k − 1)).
        let (s, l, k) = (1, 9, 2);
        let c = WindowComposer::new(2 * k + 1).unwrap();
        let j = c.count(l).unwrap();
        let values: Vec<f32> = (0..j).flat_map(|jj| (0..2 * k + 1).map(move |p| (10 * jj + p) as f32)).collect();
        let w = Tensor::from_vec(values, (s, j, 2 * k + 1, 1), &Device::Cpu).unwrap();
        let got: Vec<f32> = c.assemble(&w).unwrap().flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(got, vec![0.0, 1.0, 2.0, 12.0, 22.0, 32.0, 42.0, 43.0, 44.0]);
        let by_source: Vec<f32> = (0..l)
            .map(|i| {
                let (jj, p) = c.source(i, l);
                (10 * jj + p) as f32
            })
            .collect();
        assert_eq!(by_source, got);
    }

    #[test]
    fn too_short_trajectories_and_even_windows_are_errors() {
        let c = WindowComposer::new(9).unwrap();
        assert!(matches!(c.count(8), Err(ScoreError::TooShort { window: 9, length: 8 })));
        assert!(matches!(WindowComposer::new(4), Err(ScoreError::BadWindow { .. })));
        assert!(matches!(WindowComposer::new(1), Err(ScoreError::BadWindow { .. })));
    }
}
