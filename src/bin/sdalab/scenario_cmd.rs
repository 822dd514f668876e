//! `sdalab scenario`: twin-experiment scenarios from a simulated truth.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use sdalab::observe::OperatorKind;
use sdalab::scenario::{TwinSpec, twin_experiment};

use crate::output_path;
use crate::system_arg::SystemArg;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ScenarioArgs {
    #[command(flatten)]
    pub system: SystemArg,
    /// States in the trajectory, L.
    #[arg(long)]
    pub length: usize,
    /// Observe every n-th state.
    #[arg(long, default_value_t = 1)]
    pub every: usize,
    /// First observed state.
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Observation operator: identity, abs, square (one observation per index) or mean (one over all).
    #[arg(long, default_value = "identity", value_parser = parse_kind)]
    pub op: OperatorKind,
    /// Observed components, 0-based, comma-separated.
    #[arg(long, value_delimiter = ',', required = true)]
    pub indices: Vec<usize>,
    /// Observation noise standard deviation, physical units.
    #[arg(long, allow_negative_numbers = true)]
    pub std: f64,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Transitions before the truth is recorded (default: the system's).
    #[arg(long)]
    pub burn_in: Option<usize>,
    /// Output scenario JSON.
    #[arg(long)]
    pub out: PathBuf,
}

fn parse_kind(s: &str) -> Result<OperatorKind, sdalab::observe::UnknownOperator> {
    s.parse()
}

pub fn run(args: &ScenarioArgs) -> anyhow::Result<()> {
    output_path::check(&args.out)?;
    let system = args.system.load()?;
    let spec = TwinSpec {
        length: args.length,
        every: args.every,
        offset: args.offset,
        kind: args.op,
        indices: args.indices.clone(),
        std: args.std,
        seed: args.seed,
        burn_in: args.burn_in,
    };
    let scenario = twin_experiment(system, &spec)?;
    scenario.save(&args.out).context("writing the scenario")?;
    eprintln!(
        "wrote {}: {} observations of {} over {} states; log p(y | truth) = {:.3}",
        args.out.display(),
        scenario.observations.len(),
        scenario.system.name(),
        scenario.length,
        scenario.truth_log_likelihood().unwrap_or(f64::NAN)
    );
    Ok(())
}
