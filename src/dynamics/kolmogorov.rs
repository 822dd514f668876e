//! Kolmogorov flow: 2-D turbulence on the periodic square, simulated finely and stored coarsely.

use std::f64::consts::PI;
use std::sync::OnceLock;

use nalgebra::{DMatrix, DVector};
use rand::RngCore;
use rustfft::num_complex::Complex;

use serde::{Deserialize, Serialize};

use super::spectral2d::{Flow, SpectralGrid};
use super::{Gaussian, MarkovChain, ModelError, Normalisation};

type C = Complex<f64>;

/// Sizes and physics of a Kolmogorov flow. In scenario files every field is optional:
/// `{"name": "kolmogorov", "grid": 64, "resolution": 256}` is a 64×64 preset for GPUs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KolmogorovSettings {
    /// Stored (model) grid, H = W.
    pub grid: usize,
    /// Simulation grid (a multiple of `grid`, at least as fine).
    pub resolution: usize,
    /// Reynolds number 1/ν (unit forcing amplitude and unit length).
    pub reynolds: f64,
    /// Linear drag α.
    pub drag: f64,
    /// Time between stored states.
    pub interval: f64,
    /// Solver steps per stored state.
    pub substeps: usize,
}

impl KolmogorovSettings {
    /// Checks the settings make a flow this solver can run; errors name the field.
    pub fn check(&self) -> Result<(), ModelError> {
        let bad = |field: &str, reason: String| Err(ModelError::Setting { field: format!("system.{field}"), reason });
        if self.grid < 8 || !self.grid.is_multiple_of(8) {
            return bad("grid", format!("must be a multiple of 8, at least 8 (a U-Net halves it), got {}", self.grid));
        }
        if self.resolution < self.grid || !self.resolution.is_multiple_of(self.grid) {
            return bad("resolution", format!("must be a multiple of grid {}, got {}", self.grid, self.resolution));
        }
        if self.resolution > 1024 {
            return bad("resolution", format!("at most 1024, got {}", self.resolution));
        }
        if !(self.reynolds.is_finite() && self.reynolds > 0.0) {
            return bad("reynolds", format!("must be positive, got {}", self.reynolds));
        }
        if !(self.drag.is_finite() && self.drag >= 0.0) {
            return bad("drag", format!("must be non-negative, got {}", self.drag));
        }
        if !(self.interval.is_finite() && self.interval > 0.0) || self.substeps == 0 {
            return bad("interval", "interval must be positive and substeps at least 1".into());
        }
        Ok(())
    }
}

impl Default for KolmogorovSettings {
    /// Re = 1000 simulated at 128² (resolved: the energy spectrum falls by more than 10⁴ from its
    /// peak to the de-aliasing cut-off; at 64² it does not), stored on 32², Δ = 0.2, drag 0.1.
    fn default() -> Self {
        Self { grid: 32, resolution: 128, reynolds: 1000.0, drag: 0.1, interval: 0.2, substeps: 20 }
    }
}

/// 2-D incompressible Navier–Stokes in vorticity form, `∂ω/∂t + u·∇ω = ν∇²ω − αω − 4cos(4y)`
/// (the curl of the forcing `(sin 4y, 0)`), on `[0, 2π]²`.
///
/// The state is the vorticity on the `grid × grid` model grid (rows = y), the spectral
/// truncation of a `resolution²` pseudo-spectral simulation. Trajectories keep the fine field
/// from state to state; the chain's drift (used for transition densities) re-embeds a coarse
/// state into the fine grid with zero fine scales, advances it and truncates it again. The
/// process noise stands for what that closure misses: its standard deviation
/// ([`Self::CLOSURE_STD`]) is the measured one-transition error of the drift against coarsened
/// fine trajectories.
pub struct Kolmogorov {
    settings: KolmogorovSettings,
    flow: Flow,
    coarse: SpectralGrid,
    initial: OnceLock<Gaussian>,
    noise: Gaussian,
    normalisation: Normalisation,
}

impl std::fmt::Debug for Kolmogorov {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Kolmogorov").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl Clone for Kolmogorov {
    fn clone(&self) -> Self {
        Self::build(self.settings.clone())
    }
}

impl Kolmogorov {
    /// Climatological standard deviation of the stored vorticity (default settings; measured
    /// over 150 states after the burn-in: 4.58).
    pub const CLIMATE_STD: f64 = 4.6;
    /// Standard deviation of the drift's one-transition error per cell (default settings;
    /// measured over the same 150 transitions: 0.281, 6% of the climate).
    pub const CLOSURE_STD: f64 = 0.28;
    /// Standard deviation of the initial random field's vorticity.
    pub const INITIAL_STD: f64 = 2.0;
    /// Wavenumber scale of the initial random field's spectrum.
    pub const INITIAL_SCALE: f64 = 3.0;

    pub fn new() -> Self {
        Self::build(KolmogorovSettings::default())
    }

    /// A flow with other sizes or physics. The climate and closure constants were measured at
    /// the defaults; elsewhere they set the normalisation's and the noise's scale only roughly.
    pub fn with_settings(settings: KolmogorovSettings) -> Result<Self, ModelError> {
        settings.check()?;
        Ok(Self::build(settings))
    }

    /// Builds checked settings.
    #[allow(clippy::expect_used, reason = "the closure variance is a fixed positive constant")]
    fn build(settings: KolmogorovSettings) -> Self {
        let grid = SpectralGrid::new(settings.resolution);
        let n = settings.resolution;
        let forcing_values: Vec<f64> =
            (0..n * n).map(|i| -4.0 * (4.0 * (i / n) as f64 * 2.0 * PI / n as f64).cos()).collect();
        let forcing = grid.to_spectral(&forcing_values);
        let flow = Flow { grid, viscosity: 1.0 / settings.reynolds, drag: settings.drag, forcing };
        let d = settings.grid * settings.grid;
        let noise = Gaussian::isotropic(DVector::zeros(d), Self::CLOSURE_STD.powi(2), "kolmogorov noise")
            .expect("the closure variance is a fixed positive number");
        Self {
            coarse: SpectralGrid::new(settings.grid),
            flow,
            initial: OnceLock::new(),
            noise,
            normalisation: Normalisation::uniform(d, 0.0, Self::CLIMATE_STD),
            settings,
        }
    }

    pub fn settings(&self) -> &KolmogorovSettings {
        &self.settings
    }

    /// The fine solver (for diagnostics: spectra, energy budget).
    pub fn flow(&self) -> &Flow {
        &self.flow
    }

    /// The stored grid's spectral tools.
    pub fn coarse_grid(&self) -> &SpectralGrid {
        &self.coarse
    }

    /// Coarse physical state → fine Fourier coefficients (fine scales zero).
    pub fn refine(&self, coarse: &[f64]) -> Vec<C> {
        let (nc, nf) = (self.settings.grid, self.settings.resolution);
        let c = self.coarse.to_spectral(coarse);
        let mut fine = vec![C::default(); nf * nf];
        let gain = (nf * nf) as f64 / (nc * nc) as f64;
        for (i, v) in c.iter().enumerate() {
            let (ky, kx) = self.coarse.wavenumber(i);
            if ky.abs() * 2.0 >= nc as f64 || kx.abs() * 2.0 >= nc as f64 {
                continue; // the coarse Nyquist modes have no unique fine counterpart
            }
            fine[wrap(ky, nf) * nf + wrap(kx, nf)] = v * gain;
        }
        fine
    }

    /// Fine Fourier coefficients → coarse physical state (spectral truncation).
    pub fn coarsen(&self, fine: &[C]) -> Vec<f64> {
        let (nc, nf) = (self.settings.grid, self.settings.resolution);
        let gain = (nc * nc) as f64 / (nf * nf) as f64;
        let c: Vec<C> = (0..nc * nc)
            .map(|i| {
                let (ky, kx) = self.coarse.wavenumber(i);
                if ky.abs() * 2.0 >= nc as f64 || kx.abs() * 2.0 >= nc as f64 {
                    C::default()
                } else {
                    fine[wrap(ky, nf) * nf + wrap(kx, nf)] * gain
                }
            })
            .collect();
        self.coarse.to_physical(&c)
    }

    /// Advances fine coefficients by one stored interval.
    pub fn advance(&self, fine: &mut [C]) {
        let dt = self.settings.interval / self.settings.substeps as f64;
        for _ in 0..self.settings.substeps {
            self.flow.step(fine, dt);
        }
    }

    /// Covariance of the initial random field on the stored grid: stationary, with spectrum
    /// `∝ exp(−|k|²/(2·s²))`, s = [`Self::INITIAL_SCALE`], plus a floor of 10⁻⁶ of the peak at
    /// every wavenumber so the matrix is positive definite; the mean mode is excluded.
    fn initial_covariance(&self) -> DMatrix<f64> {
        let n = self.settings.grid;
        let s2 = Self::INITIAL_SCALE.powi(2);
        let spectrum: Vec<f64> = (0..n * n)
            .map(|i| {
                let (ky, kx) = self.coarse.wavenumber(i);
                let k2 = kx * kx + ky * ky;
                if k2 == 0.0 { 1e-6 } else { (-k2 / (2.0 * s2)).exp() + 1e-6 }
            })
            .collect();
        // c(r) = Σ_k S(k) e^{ik·r} / N², normalised to the requested variance.
        let autocov: Vec<f64> = self.coarse.to_physical(&spectrum.iter().map(|&s| C::new(s, 0.0)).collect::<Vec<_>>());
        let scale = Self::INITIAL_STD.powi(2) / autocov[0];
        DMatrix::from_fn(n * n, n * n, |a, b| {
            let (ya, xa, yb, xb) = (a / n, a % n, b / n, b % n);
            autocov[((ya + n - yb) % n) * n + (xa + n - xb) % n] * scale
        })
    }
}

/// Index of integer wavenumber `k` on an `n`-point FFT grid.
fn wrap(k: f64, n: usize) -> usize {
    if k < 0.0 { (k as i64 + n as i64) as usize } else { k as usize }
}

impl Default for Kolmogorov {
    fn default() -> Self {
        Self::new()
    }
}

impl MarkovChain for Kolmogorov {
    fn name(&self) -> &'static str {
        "kolmogorov"
    }

    fn state_shape(&self) -> Vec<usize> {
        vec![self.settings.grid, self.settings.grid]
    }

    #[allow(clippy::expect_used, reason = "a stationary covariance with a positive spectrum is positive definite")]
    fn initial_prior(&self) -> &Gaussian {
        self.initial.get_or_init(|| {
            let d = self.settings.grid * self.settings.grid;
            Gaussian::new(DVector::zeros(d), self.initial_covariance(), "kolmogorov prior")
                .expect("a stationary covariance with a positive spectrum is positive definite")
        })
    }

    /// A draw of the initial prior with its spatial mean removed: the flow conserves the mean
    /// vorticity up to drag, and Kolmogorov flow has none (the prior gives the mean mode a
    /// variance of 10⁻⁶ of the peak only so that its covariance is invertible).
    fn sample_initial(&self, rng: &mut dyn RngCore, out: &mut [f64]) {
        out.fill(0.0);
        self.initial_prior().add_sample(rng, out);
        let mean = out.iter().sum::<f64>() / out.len() as f64;
        out.iter_mut().for_each(|v| *v -= mean);
    }

    fn drift(&self, x: &[f64], out: &mut [f64]) {
        let mut fine = self.refine(x);
        self.advance(&mut fine);
        out.copy_from_slice(&self.coarsen(&fine));
    }

    fn process_noise(&self) -> &Gaussian {
        &self.noise
    }

    fn normalisation(&self) -> &Normalisation {
        &self.normalisation
    }

    /// 100 stored intervals (20 time units): from the initial field the energy reaches its
    /// statistically steady level (≈ 1.0) within about 10.
    fn default_burn_in(&self) -> usize {
        100
    }

    /// Keeps the fine field from state to state (no noise: the flow is deterministic; the
    /// chain's noise only models the drift's closure error).
    fn simulate(&self, length: usize, burn_in: usize, rng: &mut dyn RngCore) -> Vec<f64> {
        let mut x = vec![0.0; self.state_dim()];
        self.sample_initial(rng, &mut x);
        let mut fine = self.refine(&x);
        for _ in 0..burn_in {
            self.advance(&mut fine);
        }
        let mut out = Vec::with_capacity(length * x.len());
        for i in 0..length {
            if i > 0 {
                self.advance(&mut fine);
            }
            out.extend(self.coarsen(&fine));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng;

    /// One run from the initial prior to 20 time units (the burn-in), at the default settings.
    #[test]
    fn the_flow_is_resolved_real_and_mean_free_and_its_climate_matches() {
        let flow = Kolmogorov::new();
        let g = &flow.flow().grid;
        let n = g.n();
        let mut x = vec![0.0; flow.state_dim()];
        flow.sample_initial(&mut rng::stream(3, 0), &mut x);
        let mut fine = flow.refine(&x);
        let mut variance = Vec::new();
        for i in 0..flow.default_burn_in() {
            flow.advance(&mut fine);
            if i >= 50 {
                variance.push(std(&flow.coarsen(&fine)).powi(2));
            }
        }
        // Resolved: the energy spectrum falls by ≥ 10⁴ from its peak to the de-aliasing cut-off.
        let spectrum = g.energy_spectrum(&fine);
        let peak = spectrum.iter().cloned().fold(0.0, f64::max);
        let fall = peak / spectrum[g.cutoff() as usize];
        assert!(fall >= 1e4, "spectrum falls only {fall:.2e} from peak to cut-off");
        // Real: every coefficient is the conjugate of its mirror, to round-off.
        let largest = fine.iter().map(|c| c.norm()).fold(0.0, f64::max);
        let asymmetry = (0..n * n)
            .map(|i| {
                let (y, x) = (i / n, i % n);
                let mirror = ((n - y) % n) * n + (n - x) % n;
                (fine[i] - fine[mirror].conj()).norm()
            })
            .fold(0.0, f64::max);
        assert!(asymmetry < 1e-10 * largest, "non-Hermitian part {asymmetry:.2e} of {largest:.2e}");
        // Mean-free: the forcing and the advection have no mean, so neither has the field.
        assert!(fine[0].norm() < 1e-10 * largest, "mean coefficient {:.2e}", fine[0].norm());
        // The statistically steady level the normalisation was measured at (10–20 time units here).
        let climate = (variance.iter().sum::<f64>() / variance.len() as f64).sqrt();
        assert!((climate / Kolmogorov::CLIMATE_STD - 1.0).abs() < 0.2, "climate std {climate:.3}");
        println!(
            "peak/cut-off {fall:.2e}, asymmetry {:.1e}, mean {:.1e}, climate std {climate:.3}",
            asymmetry / largest,
            fine[0].norm() / largest
        );
    }

    /// Exploration: spin-up, climate, closure error and resolution of the default flow.
    #[test]
    #[ignore]
    fn kolmogorov_probe() {
        let flow = Kolmogorov::new();
        let mut r = rng::stream(7, 0);
        let mut x = vec![0.0; flow.state_dim()];
        let started = std::time::Instant::now();
        flow.sample_initial(&mut r, &mut x);
        println!("initial prior {:.2} s, std {:.3}", started.elapsed().as_secs_f64(), std(&x));
        let mut fine = flow.refine(&x);
        let started = std::time::Instant::now();
        let mut closure = Vec::new();
        let mut states = Vec::new();
        for i in 0..400 {
            let before = flow.coarsen(&fine);
            flow.advance(&mut fine);
            let after = flow.coarsen(&fine);
            if i % 25 == 0 {
                let g = &flow.flow().grid;
                let values = g.to_physical(&fine);
                let u = g.to_physical(&g.streamfunction(&fine));
                let spectrum = g.energy_spectrum(&fine);
                let peak = spectrum.iter().cloned().fold(0.0, f64::max);
                println!(
                    "state {i} t {:.1}: E {:.3} std {:.3} |w|max {:.2} |psi|max {:.2} peak/cut {:.1e} ({:.1} s)",
                    i as f64 * 0.2,
                    g.energy(&fine),
                    std(&after),
                    values.iter().fold(0.0f64, |m, v| m.max(v.abs())),
                    u.iter().fold(0.0f64, |m, v| m.max(v.abs())),
                    peak / spectrum[g.cutoff() as usize],
                    started.elapsed().as_secs_f64()
                );
            }
            if i >= 250 {
                let mut predicted = vec![0.0; after.len()];
                flow.drift(&before, &mut predicted);
                closure.push(std(&predicted.iter().zip(&after).map(|(a, b)| a - b).collect::<Vec<_>>()));
                states.push(after);
            }
        }
        let lag = |l: usize| {
            let n = states.len() - l;
            (0..n).map(|i| corr(&states[i], &states[i + l])).sum::<f64>() / n as f64
        };
        println!(
            "climate std {:.3}, closure std {:.4}, autocorrelation lag 1 {:.3} 5 {:.3} 10 {:.3} 25 {:.3} 50 {:.3}",
            (states.iter().map(|s| std(s).powi(2)).sum::<f64>() / states.len() as f64).sqrt(),
            closure.iter().sum::<f64>() / closure.len() as f64,
            lag(1),
            lag(5),
            lag(10),
            lag(25),
            lag(50)
        );
    }

    fn std(x: &[f64]) -> f64 {
        let m = x.iter().sum::<f64>() / x.len() as f64;
        (x.iter().map(|v| (v - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    fn corr(a: &[f64], b: &[f64]) -> f64 {
        let dot = |x: &[f64], y: &[f64]| x.iter().zip(y).map(|(p, q)| p * q).sum::<f64>();
        dot(a, b) / (dot(a, a) * dot(b, b)).sqrt()
    }
}
