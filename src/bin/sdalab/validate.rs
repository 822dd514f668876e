//! `sdalab validate`: check a scenario file and summarise what it holds.

use std::path::PathBuf;

use clap::Args;
use sdalab::dynamics::System;
use sdalab::observe::OperatorKind;
use sdalab::scenario::Scenario;

#[derive(Args, Debug)]
pub struct ValidateArgs {
    /// Scenario JSON file.
    pub scenario: PathBuf,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let chain = scenario.system.chain();
    println!("{}: valid", args.scenario.display());
    println!("  system        {} (state shape {:?})", chain.name(), chain.state_shape());
    println!("  length        {}", scenario.length);
    let counts: Vec<String> = OperatorKind::ALL
        .iter()
        .map(|k| (k, scenario.observations.iter().filter(|o| o.op.kind() == *k).count()))
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{n} {k}"))
        .collect();
    if counts.is_empty() {
        println!("  observations  none (samples are draws from the prior)");
    } else {
        println!("  observations  {} ({})", scenario.observations.len(), counts.join(", "));
    }
    if let Some(ll) = scenario.truth_log_likelihood() {
        println!("  truth         stored; log p(y | truth) = {ll:.3}");
    } else {
        println!("  truth         not stored");
    }
    if let System::Linear(model) = &scenario.system {
        match scenario.linear_observations() {
            Ok(rows) => {
                let posterior = model.smooth(scenario.length, &rows)?;
                println!("  exact         log p(y) = {:.3} (Kalman filter)", posterior.log_evidence);
            }
            Err(e) => println!("  exact         unavailable: {e}"),
        }
    }
    if let Some(s) = &scenario.sampler {
        println!("  sampler       {}", serde_json::to_string(s)?);
    }
    Ok(())
}
