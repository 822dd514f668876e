//! The evaluations of the priors and samplers.
//!
//! The paper's Lorenz-63 evaluation: seeded twin-experiment cases in two observation regimes,
//! the rows of results a run of the grid produces (CSV, so an interrupted grid resumes where it
//! stopped), and the report made from them (median tables in markdown, a figure against C and
//! one of accuracy against wall time).
//!
//! Running the Lorenz-63 grid is left to the caller (the `sdalab eval` command, which runs the
//! particle references beside it): this module owns what is evaluated and how results are kept
//! and summarised. The Kolmogorov-flow checks ([`KolmogorovEval`]) run here whole.

mod cases;
mod cost_figure;
mod error;
mod figure;
mod kolmogorov;
mod record;
mod summary;

pub use cases::{LENGTH, Regime, lorenz63_case, particle_seed};
pub use cost_figure::plot_cost_png;
pub use error::EvaluationError;
pub use figure::plot_summary_png;
pub use kolmogorov::KolmogorovEval;
pub use record::{EvalRow, RowMethod, read_rows, write_rows};
pub use summary::{Summary, markdown_report};
