//! The one safe wrapper around the `gemm` crate that the fused kernels and the circular
//! convolution share: dense row-major products into a preallocated buffer.

use candle_core::WithDType;

/// How a GEMM uses the threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Threads {
    /// All of rayon's threads when the product is large enough to share, else one.
    Auto,
    /// One thread: the caller already runs GEMMs in parallel.
    One,
    /// All of rayon's threads.
    All,
}

/// `dst (rows×n) = [dst +] lhs (rows×k) · R`, with `R` read from the row-major `rhs`: as `Rᵀ`
/// when `rhs` is `n×k` (`transposed`), as `R` when it is `k×n`.
#[allow(clippy::too_many_arguments)]
pub fn gemm_rows<T: WithDType>(
    dst: &mut [T],
    accumulate: bool,
    lhs: &[T],
    rhs: &[T],
    transposed: bool,
    (rows, k, n): (usize, usize, usize),
    threads: Threads,
) {
    assert!(
        dst.len() >= rows * n && lhs.len() >= rows * k && rhs.len() >= k * n,
        "gemm_rows: buffers shorter than the sizes"
    );
    let available = rayon::current_num_threads();
    let parallel = match threads {
        Threads::Auto => rows * k * n > 1 << 16 && available > 1,
        Threads::One => false,
        Threads::All => available > 1,
    };
    let parallelism = if parallel { gemm::Parallelism::Rayon(available) } else { gemm::Parallelism::None };
    let (rhs_cs, rhs_rs) = if transposed { (k as isize, 1) } else { (1, n as isize) };
    // SAFETY: dst holds rows×n, lhs rows×k and rhs k·n values (checked above), all row-major as
    // the strides say; the borrows keep the buffers alive and dst cannot overlap the inputs.
    unsafe {
        gemm::gemm(
            rows,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            lhs.as_ptr(),
            1,
            k as isize,
            rhs.as_ptr(),
            rhs_cs,
            rhs_rs,
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            parallelism,
        );
    }
}
