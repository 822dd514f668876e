//! `sdalab simulate`: seeded ensembles of trajectories as `.npy`.

use std::path::PathBuf;

use anyhow::{Context, ensure};
use clap::Args;
use sdalab::dynamics::simulate_ensemble;
use sdalab::export::write_npy_f32;

use crate::system_arg::SystemArg;
use crate::{output_path, progress};

#[derive(Args, Debug)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub system: SystemArg,
    /// States per trajectory, L.
    #[arg(long)]
    pub length: usize,
    /// Number of trajectories, N.
    #[arg(long)]
    pub samples: usize,
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Transitions discarded before recording (default: the system's; 1024 for Lorenz systems).
    #[arg(long)]
    pub burn_in: Option<usize>,
    /// Output .npy, float32 of shape (N, L, state…), physical units.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    ensure!(args.length >= 1, "--length must be at least 1");
    ensure!(args.samples >= 1, "--samples must be at least 1");
    output_path::check(&args.out)?;
    let system = args.system.load()?;
    let chain = system.chain();
    let burn_in = args.burn_in.unwrap_or(chain.default_burn_in());
    let shape: Vec<usize> = [args.samples, args.length].into_iter().chain(chain.state_shape()).collect();
    eprintln!(
        "simulating {} trajectories of {} states of {} (burn-in {burn_in}, seed {})",
        args.samples,
        args.length,
        chain.name(),
        args.seed
    );
    let bar = progress::bar(args.samples as u64, "trajectories");
    let data = simulate_ensemble(chain, args.length, args.samples, burn_in, args.seed, &|done| bar.set_position(done));
    bar.finish_and_clear();
    let data: Vec<f32> = data.into_iter().map(|v| v as f32).collect();
    write_npy_f32(&args.out, &shape, &data).context("writing the ensemble")?;
    eprintln!("wrote {} with shape {shape:?}", args.out.display());
    Ok(())
}
