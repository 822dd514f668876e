//! The one safe wrapper around the `gemm` crate that the fused kernels and the convolutions
//! share: dense products into a preallocated buffer, row-major or with any strides.

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
    let rhs_strides = if transposed { Strides { row: 1, col: k } } else { Strides { row: n, col: 1 } };
    gemm_strided(
        (dst, Strides { row: n, col: 1 }),
        accumulate,
        (lhs, Strides { row: k, col: 1 }),
        (rhs, rhs_strides),
        (rows, k, n),
        threads,
    );
}

/// How far apart a matrix's neighbouring rows and columns are in its slice.
#[derive(Debug, Clone, Copy)]
pub struct Strides {
    pub row: usize,
    pub col: usize,
}

impl Strides {
    /// Values a `rows × cols` matrix with these strides spans.
    fn extent(&self, rows: usize, cols: usize) -> usize {
        if rows == 0 || cols == 0 { 0 } else { (rows - 1) * self.row + (cols - 1) * self.col + 1 }
    }
}

/// `dst (m×n) = [dst +] lhs (m×k) · rhs (k×n)`, each matrix laid out by its strides. The
/// `gemm` crate vectorises its micro-kernels along the dimension of `dst` with the unit stride,
/// so a column-major `dst` (`row: 1`) keeps a tall, narrow product's long side in the vectors.
pub fn gemm_strided<T: WithDType>(
    (dst, dst_s): (&mut [T], Strides),
    accumulate: bool,
    (lhs, lhs_s): (&[T], Strides),
    (rhs, rhs_s): (&[T], Strides),
    (m, k, n): (usize, usize, usize),
    threads: Threads,
) {
    assert!(
        dst.len() >= dst_s.extent(m, n) && lhs.len() >= lhs_s.extent(m, k) && rhs.len() >= rhs_s.extent(k, n),
        "gemm: buffers shorter than the sizes"
    );
    if m == 0 || n == 0 {
        return;
    }
    // Distinct elements of dst must be distinct values: one dimension nests inside the other.
    let (r, c) = (dst_s.row, dst_s.col);
    let rows_apart = (n == 1 || c >= 1) && (m == 1 || r > (n - 1) * c);
    let columns_apart = (m == 1 || r >= 1) && (n == 1 || c > (m - 1) * r);
    let nested = rows_apart || columns_apart;
    assert!(nested, "gemm: destination strides that alias");
    let available = rayon::current_num_threads();
    let parallel = match threads {
        Threads::Auto => m * k * n > 1 << 16 && available > 1,
        Threads::One => false,
        Threads::All => available > 1,
    };
    let parallelism = if parallel { gemm::Parallelism::Rayon(available) } else { gemm::Parallelism::None };
    let s = |v: usize| v as isize;
    // SAFETY: every index the strides reach lies inside its slice (checked above); the borrows keep
    // the buffers alive, dst cannot overlap the inputs, and its strides do not alias.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            s(dst_s.col),
            s(dst_s.row),
            accumulate,
            lhs.as_ptr(),
            s(lhs_s.col),
            s(lhs_s.row),
            rhs.as_ptr(),
            s(rhs_s.col),
            s(rhs_s.row),
            T::from_f64(1.0),
            T::from_f64(1.0),
            false,
            false,
            false,
            parallelism,
        );
    }
}
