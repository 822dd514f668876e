//! `sdalab simulate`: seeded ensembles of trajectories as `.npy`, optionally in resumable parts.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use clap::Args;
use sdalab::budget::MemoryBudget;
use sdalab::dynamics::{MAX_BURN_IN, simulate_range};
use sdalab::export::{read_npy_f32, write_npy_f32};
use serde::{Deserialize, Serialize};

use crate::system_arg::SystemArg;
use crate::{output_path, progress};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
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
    /// Simulate in parts of this many trajectories, each saved in `OUT.parts/` as it finishes:
    /// an interrupted run given the same command continues from its last finished part, and
    /// the parts are joined into OUT at the end.
    #[arg(long)]
    pub chunk: Option<usize>,
    /// Output .npy, float32 of shape (N, L, state…), physical units.
    #[arg(long)]
    pub out: PathBuf,
}

/// What a folder of parts was simulated with: a resumed run must ask for the same.
#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct PartsManifest {
    system: String,
    length: usize,
    samples: usize,
    seed: u64,
    burn_in: usize,
    chunk: usize,
}

pub fn run(args: &SimulateArgs) -> anyhow::Result<()> {
    ensure!(args.length >= 1, "--length must be at least 1");
    ensure!(args.samples >= 1, "--samples must be at least 1");
    output_path::check(&args.out)?;
    let system = args.system.load()?;
    let chain = system.chain();
    let burn_in = args.burn_in.unwrap_or(chain.default_burn_in());
    ensure!(burn_in <= MAX_BURN_IN, "--burn-in must be at most {MAX_BURN_IN}");
    // Each trajectory is simulated in f64 and kept in f32.
    MemoryBudget::of_machine().check("--samples × --length", &[args.samples, args.length, chain.state_dim()], 8 + 4)?;
    let shape: Vec<usize> = [args.samples, args.length].into_iter().chain(chain.state_shape()).collect();
    eprintln!(
        "simulating {} trajectories of {} states of {} (burn-in {burn_in}, seed {})",
        args.samples,
        args.length,
        chain.name(),
        args.seed
    );
    let bar = progress::bar(args.samples as u64, "trajectories");
    let mut parts = args.out.as_os_str().to_owned();
    parts.push(".parts");
    let parts = PathBuf::from(parts);
    let data: Vec<f32> = match args.chunk {
        None => {
            let range = 0..args.samples;
            let data = simulate_range(chain, args.length, range, burn_in, args.seed, &|done| bar.set_position(done));
            data.into_iter().map(|v| v as f32).collect()
        }
        Some(chunk) => {
            ensure!(chunk >= 1, "--chunk must be at least 1");
            let manifest = PartsManifest {
                system: chain.name().into(),
                length: args.length,
                samples: args.samples,
                seed: args.seed,
                burn_in,
                chunk,
            };
            simulate_in_parts(args, &manifest, &parts, &shape[2..], &bar)?
        }
    };
    bar.finish_and_clear();
    if let Some(i) = data.iter().position(|v| !v.is_finite()) {
        let per = shape[1..].iter().product::<usize>().max(1);
        let state = shape[2..].iter().product::<usize>().max(1);
        bail!(
            "trajectory {} left the finite range at state {} (an explosive transition, or a time step too long for the \
             system); nothing was written",
            i / per,
            (i % per) / state
        );
    }
    write_npy_f32(&args.out, &shape, &data).context("writing the ensemble")?;
    if args.chunk.is_some() {
        std::fs::remove_dir_all(&parts).with_context(|| format!("cannot remove {}", parts.display()))?;
    }
    eprintln!("wrote {} with shape {shape:?}", args.out.display());
    Ok(())
}

/// Simulates the parts `parts/START-END.npy` not already there and returns all trajectories.
fn simulate_in_parts(
    args: &SimulateArgs,
    manifest: &PartsManifest,
    parts: &Path,
    state_shape: &[usize],
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<f32>> {
    let manifest_path = parts.join("manifest.json");
    if manifest_path.is_file() {
        let text = std::fs::read_to_string(&manifest_path)?;
        let found: PartsManifest =
            serde_json::from_str(&text).with_context(|| format!("{}: unreadable", manifest_path.display()))?;
        ensure!(
            &found == manifest,
            "{} holds parts of another simulation ({found:?}); remove it or repeat that command",
            parts.display()
        );
        eprintln!("continuing the parts in {}", parts.display());
    } else {
        std::fs::create_dir_all(parts).with_context(|| format!("cannot create {}", parts.display()))?;
        let text = serde_json::to_string_pretty(manifest)?;
        sdalab::export::write_atomically(&manifest_path, |w| std::io::Write::write_all(w, text.as_bytes()))?;
    }
    let system = args.system.load()?;
    let chain = system.chain();
    let mut data = Vec::with_capacity(manifest.samples * manifest.length * state_shape.iter().product::<usize>());
    for start in (0..manifest.samples).step_by(manifest.chunk) {
        let end = (start + manifest.chunk).min(manifest.samples);
        let part = parts.join(format!("{start:06}-{end:06}.npy"));
        let shape: Vec<usize> = [end - start, manifest.length].into_iter().chain(state_shape.iter().copied()).collect();
        // A part is written atomically once finished: one that reads with the right shape is done.
        let values = match read_npy_f32(&part) {
            Ok(done) if done.shape == shape => done.data,
            _ => {
                let values: Vec<f32> =
                    simulate_range(chain, manifest.length, start..end, manifest.burn_in, manifest.seed, &|n| {
                        bar.set_position((start as u64) + n)
                    })
                    .into_iter()
                    .map(|v| v as f32)
                    .collect();
                write_npy_f32(&part, &shape, &values).with_context(|| format!("writing {}", part.display()))?;
                values
            }
        };
        bar.set_position(end as u64);
        data.extend(values);
    }
    Ok(data)
}
