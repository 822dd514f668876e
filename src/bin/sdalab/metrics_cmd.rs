//! `sdalab metrics`: scores of an ensemble file (from `simulate` or `assimilate`).

use std::path::PathBuf;

use anyhow::{Context, bail, ensure};
use clap::Args;
use sdalab::dynamics::System;
use sdalab::ensemble::Ensemble;
use sdalab::export::read_npy_f32;
use sdalab::metrics::{mean_log_prior, wasserstein1};
use sdalab::scenario::Scenario;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct MetricsArgs {
    /// Ensemble .npy of shape (members, length, state…), physical units.
    #[arg(long)]
    pub ensemble: PathBuf,
    /// Scenario it was drawn for: adds the observation log-likelihood and skill against the truth.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// System, when there is no scenario (lorenz63, lorenz96).
    #[arg(long)]
    pub system: Option<String>,
    /// A reference ensemble (e.g. a particle smoother's): adds the Wasserstein-1 distance to it,
    /// over the first min(members) members of each.
    #[arg(long)]
    pub reference: Option<PathBuf>,
}

pub fn run(args: &MetricsArgs) -> anyhow::Result<()> {
    let scenario = match &args.scenario {
        Some(path) => Some(Scenario::load(path).with_context(|| path.display().to_string())?),
        None => None,
    };
    let system = match (&scenario, &args.system) {
        (Some(s), None) => s.system.clone(),
        (None, Some(name)) => System::named(name).with_context(|| format!("unknown system `{name}`"))?,
        (Some(_), Some(_)) => bail!("give --scenario or --system, not both"),
        (None, None) => bail!("give --scenario or --system"),
    };
    let chain = system.chain();
    let d = chain.state_dim();
    let array = read_npy_f32(&args.ensemble)?;
    ensure!(
        array.shape.len() >= 3 && array.shape[2..].iter().product::<usize>() == d,
        "{}: shape {:?} is not (members, length, state) for {} (state of {d})",
        args.ensemble.display(),
        array.shape,
        chain.name()
    );
    let (members, length) = (array.shape[0], array.shape[1]);
    let values: Vec<f64> = array.data.iter().map(|v| *v as f64).collect();
    let ensemble = Ensemble::new(values.clone(), members, length, &chain.state_shape())?;
    println!("{}: {members} members × {length} states of {}", args.ensemble.display(), chain.name());
    for c in 0..d.min(8) {
        let col: Vec<f64> = values.iter().skip(c).step_by(d).copied().collect();
        let mean = col.iter().sum::<f64>() / col.len() as f64;
        let std = (col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / col.len() as f64).sqrt();
        println!("  component {c}: mean {mean:.3}, std {std:.3}");
    }
    if let Some(lp) = mean_log_prior(chain, &ensemble) {
        println!("  mean transition log-density {lp:.3}");
    }
    if let Some(s) = &scenario {
        ensure!(length == s.length, "the ensemble has {length} states, the scenario {}", s.length);
        if let Some(ll) = ensemble.mean_log_likelihood(&s.observations) {
            println!("  mean observation log-likelihood {ll:.3} ({} observations)", s.observations.len());
        }
        if let Some(truth) = &s.truth
            && let Some(k) = ensemble.skill(truth)
        {
            println!("  RMSE of the mean to the truth {:.3}, spread {:.3}", k.rmse, k.spread);
        }
    }
    if let Some(path) = &args.reference {
        let reference = read_npy_f32(path)?;
        ensure!(
            reference.shape.len() == array.shape.len() && reference.shape[1..] == array.shape[1..],
            "{}: shape {:?} differs from the ensemble's {:?} beyond the member count",
            path.display(),
            reference.shape,
            array.shape
        );
        let n = members.min(reference.shape[0]);
        let cells = length * d;
        let other: Vec<f64> = reference.data[..n * cells].iter().map(|v| *v as f64).collect();
        let w1 = wasserstein1(&values[..n * cells], &other, cells).context("empty ensembles")?;
        println!("  W1 to {} over {n} members: {w1:.3}", path.display());
    }
    Ok(())
}
