//! The classical fourth-order Runge–Kutta integrator for autonomous ODEs `dx/dt = f(x)`.

/// Integrates `dx/dt = f(x)` from `x` over `duration` with `substeps` equal RK4 steps, into `out`.
/// `f(x, dx)` writes the vector field at `x` into `dx`.
pub fn integrate(f: impl Fn(&[f64], &mut [f64]), x: &[f64], duration: f64, substeps: usize, out: &mut [f64]) {
    let d = x.len();
    let h = duration / substeps.max(1) as f64;
    // One allocation per call: k1..k4 and the stage point.
    let mut scratch = vec![0.0; 5 * d];
    let (k1, rest) = scratch.split_at_mut(d);
    let (k2, rest) = rest.split_at_mut(d);
    let (k3, rest) = rest.split_at_mut(d);
    let (k4, stage) = rest.split_at_mut(d);
    out.copy_from_slice(x);
    for _ in 0..substeps.max(1) {
        f(out, k1);
        axpy(out, 0.5 * h, k1, stage);
        f(stage, k2);
        axpy(out, 0.5 * h, k2, stage);
        f(stage, k3);
        axpy(out, h, k3, stage);
        f(stage, k4);
        for i in 0..d {
            out[i] += h / 6.0 * (k1[i] + 2.0 * k2[i] + 2.0 * k3[i] + k4[i]);
        }
    }
}

/// `out = x + a·k`.
fn axpy(x: &[f64], a: f64, k: &[f64], out: &mut [f64]) {
    for ((o, x), k) in out.iter_mut().zip(x).zip(k) {
        *o = x + a * k;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn exponential_decay_is_accurate() {
        // dx/dt = -x: exact solution e^{-t}.
        let mut out = [0.0];
        super::integrate(|x, dx| dx[0] = -x[0], &[1.0], 1.0, 100, &mut out);
        assert!((out[0] - (-1.0f64).exp()).abs() < 1e-10);
    }
}
