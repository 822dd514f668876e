//! Files SDA Lab writes and reads: `.npy` ensembles (through `npyz`) and atomic writes.
//!
//! Every file is written to a temporary sibling and renamed into place, so a failure never leaves
//! a half-written or clobbered output behind.

mod atomic;
mod error;
mod npy;

pub use atomic::write_atomically;
pub use error::ExportError;
pub use npy::{NpyArray, read_npy_f32, write_npy_f32};
