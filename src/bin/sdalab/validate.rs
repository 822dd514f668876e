//! `sdalab validate`: check a scenario file and summarise what it holds.

use std::path::PathBuf;

use clap::Args;
use sdalab::budget::MemoryBudget;
use sdalab::dynamics::System;
use sdalab::observe::OperatorKind;
use sdalab::pipeline::{Defaults, SamplerSetup, check_exact_prior_budget, check_posterior_budget, check_scenario};
use sdalab::scenario::Scenario;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct ValidateArgs {
    /// Scenario JSON file.
    pub scenario: PathBuf,
}

pub fn run(args: &ValidateArgs) -> anyhow::Result<()> {
    let scenario = Scenario::load(&args.scenario)?;
    let chain = scenario.system.chain();
    // What `assimilate` checks before sampling, with the file's own sampler settings.
    check_scenario(&scenario)?;
    let setup = SamplerSetup::resolve(&Defaults::BATCH, &[&scenario.sampler.clone().unwrap_or_default()])?;
    check_posterior_budget(&scenario, setup.plan.samples)?;
    if let System::Linear(_) = &scenario.system {
        check_exact_prior_budget(&scenario)?;
    }
    // The exact evidence of a linear scenario: a Kalman filter over L states of d×d covariances.
    let exact = match &scenario.system {
        System::Linear(model) => Some(match scenario.linear_observations() {
            Ok(rows) => {
                let d = chain.state_dim();
                MemoryBudget::of_machine().check(
                    "the linear system's length × state size²",
                    &[scenario.length, d, d, 8],
                    8,
                )?;
                format!("log p(y) = {:.3} (Kalman filter)", model.smooth(scenario.length, &rows)?.log_evidence)
            }
            Err(e) => format!("unavailable: {e}"),
        }),
        _ => None,
    };
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
    if let Some(exact) = exact {
        println!("  exact         {exact}");
    }
    if let Some(s) = &scenario.sampler {
        println!("  sampler       {}", serde_json::to_string(s)?);
    }
    Ok(())
}
