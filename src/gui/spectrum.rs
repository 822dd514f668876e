//! Energy spectra of 2-D fields for the diagnostics view: the kinetic energy per wavenumber
//! shell of each drawn member's vorticity at one state, and of the truth's, to see which scales
//! the posterior gets right and which it smooths away or adds.

use crate::dynamics::spectral2d::SpectralGrid;

/// The spectra at one state: each member's, and the truth's (if known); shells k = 1 … N/2.
#[derive(Debug, Clone, PartialEq)]
pub struct Spectra {
    pub members: Vec<Vec<f64>>,
    pub truth: Option<Vec<f64>>,
}

/// Spectra of state `t` of `members` flat trajectories of `n × n` fields (and of `truth`);
/// `None` unless the values hold whole trajectories of square fields.
pub fn spectra(values: &[f32], members: usize, n: usize, t: usize, truth: Option<&[f64]>) -> Option<Spectra> {
    let dim = n * n;
    let per = values.len().checked_div(members)?;
    if n < 2 || per < (t + 1) * dim || values.len() != per * members {
        return None;
    }
    let grid = SpectralGrid::new(n);
    let spectrum = |field: Vec<f64>| grid.energy_spectrum(&grid.to_spectral(&field)).split_off(1);
    let members = (0..members)
        .map(|m| spectrum(values[m * per + t * dim..m * per + (t + 1) * dim].iter().map(|&v| f64::from(v)).collect()))
        .collect();
    let truth = truth.and_then(|tr| tr.get(t * dim..(t + 1) * dim)).map(|f| spectrum(f.to_vec()));
    Some(Spectra { members, truth })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A single Fourier mode ω = cos(3x) puts all its energy in shell 3, and its amount is the
    /// closed form: u has amplitude 1/3, so ½⟨|u|²⟩ = ½·½·(1/3)² = 1/36.
    #[test]
    fn a_single_mode_lands_in_its_shell_with_its_energy() {
        let n = 16;
        let field: Vec<f32> =
            (0..n * n).map(|i| (3.0 * 2.0 * std::f64::consts::PI * (i % n) as f64 / n as f64).cos() as f32).collect();
        let s = spectra(&field, 1, n, 0, None).unwrap();
        let e = &s.members[0];
        assert_eq!(e.len(), n / 2);
        assert!((e[2] - 1.0 / 36.0).abs() < 1e-6, "{e:?}");
        assert!(e.iter().enumerate().filter(|(k, _)| *k != 2).all(|(_, v)| v.abs() < 1e-9));
        assert!(spectra(&field, 1, n, 1, None).is_none(), "no state 1");
    }
}
