//! Files SDA Lab writes and reads: `.npy` ensembles (through `npyz`), loss curves (CSV and a
//! plotters PNG) and atomic writes.
//!
//! Every file is written to a temporary sibling and renamed into place, so a failure never leaves
//! a half-written or clobbered output behind.

mod atomic;
mod bounded_read;
mod error;
mod fonts;
mod loss_curve;
mod npy;

pub use atomic::write_atomically;
pub use bounded_read::{MAX_TEXT_FILE, read_bounded, read_text};
pub use error::ExportError;
pub use fonts::register as register_fonts;
pub(crate) use loss_curve::log_ticks;
pub use loss_curve::{LossRow, PriorCheckRow, plot_loss_png, read_loss_csv, write_loss_csv};
pub use npy::{NpyArray, read_npy_f32, write_npy_f32};
