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

/// The adjoint of [`integrate`]: `out = (∂ integrate(x) / ∂x)ᵀ · v`, the vector–Jacobian product
/// that 4D-Var needs. `f` is the vector field and `f_vjp(x, w, out)` writes `(∂f/∂x at x)ᵀ · w`.
/// The forward substeps are recomputed and stored, then swept backwards stage by stage.
pub fn integrate_vjp(
    f: impl Fn(&[f64], &mut [f64]),
    f_vjp: impl Fn(&[f64], &[f64], &mut [f64]),
    x: &[f64],
    duration: f64,
    substeps: usize,
    v: &[f64],
    out: &mut [f64],
) {
    let d = x.len();
    let n = substeps.max(1);
    let h = duration / n as f64;
    // Stage points s1 = x, s2, s3, s4 of every substep, forward.
    let mut stages = vec![0.0; n * 4 * d];
    let mut state = x.to_vec();
    let mut k = vec![0.0; 4 * d];
    for step in 0..n {
        let base = step * 4 * d;
        stages[base..base + d].copy_from_slice(&state);
        for stage in 0..4 {
            let (point, rest) = stages[base + stage * d..].split_at_mut(d);
            f(point, &mut k[stage * d..(stage + 1) * d]);
            if stage < 3 {
                let a = if stage < 2 { 0.5 * h } else { h };
                axpy(&state, a, &k[stage * d..(stage + 1) * d], &mut rest[..d]);
            }
        }
        for i in 0..d {
            state[i] += h / 6.0 * (k[i] + 2.0 * k[d + i] + 2.0 * k[2 * d + i] + k[3 * d + i]);
        }
    }
    // Backwards: x̄ accumulates; k̄_j starts at the output weights h/6·(1, 2, 2, 1)·v.
    let mut bar = v.to_vec();
    let mut k_bar = vec![0.0; d];
    let mut s_bar = vec![0.0; d];
    for step in (0..n).rev() {
        let base = step * 4 * d;
        let next = bar.clone();
        let weights = [1.0, 2.0, 2.0, 1.0];
        // Stage 4 back to stage 1: s̄_j = J(s_j)ᵀ k̄_j, x̄ += s̄_j, k̄_{j−1} += a_j s̄_j.
        let mut carry = vec![0.0; d];
        for stage in (0..4).rev() {
            for i in 0..d {
                k_bar[i] = h / 6.0 * weights[stage] * next[i] + carry[i];
            }
            f_vjp(&stages[base + stage * d..base + (stage + 1) * d], &k_bar, &mut s_bar);
            let a = match stage {
                3 => h,
                2 | 1 => 0.5 * h,
                _ => 0.0,
            };
            for i in 0..d {
                bar[i] += s_bar[i];
                carry[i] = a * s_bar[i];
            }
        }
    }
    out.copy_from_slice(&bar);
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

    /// The adjoint agrees with central finite differences of the integrator on a nonlinear field.
    #[test]
    fn adjoint_matches_finite_differences() {
        let f = |x: &[f64], dx: &mut [f64]| {
            dx[0] = x[1] * x[1] - 0.3 * x[0];
            dx[1] = (x[0] * x[1]).sin() + x[1];
        };
        let f_vjp = |x: &[f64], w: &[f64], out: &mut [f64]| {
            let c = (x[0] * x[1]).cos();
            out[0] = -0.3 * w[0] + c * x[1] * w[1];
            out[1] = 2.0 * x[1] * w[0] + (c * x[0] + 1.0) * w[1];
        };
        let (x, v) = ([0.7, -0.4], [0.3, 1.1]);
        let mut adjoint = [0.0; 2];
        super::integrate_vjp(f, f_vjp, &x, 0.3, 3, &v, &mut adjoint);
        for j in 0..2 {
            let eps = 1e-6;
            let (mut plus, mut minus) = (x, x);
            plus[j] += eps;
            minus[j] -= eps;
            let (mut fp, mut fm) = ([0.0; 2], [0.0; 2]);
            super::integrate(f, &plus, 0.3, 3, &mut fp);
            super::integrate(f, &minus, 0.3, 3, &mut fm);
            let numeric: f64 = (0..2).map(|i| v[i] * (fp[i] - fm[i]) / (2.0 * eps)).sum();
            assert!((numeric - adjoint[j]).abs() < 1e-8, "component {j}: {numeric} vs {}", adjoint[j]);
        }
    }
}
