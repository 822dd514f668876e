//! `sdalab bench-da`: the filtering twin experiments of DAPPER's benchmark tables, our `rmse.a`
//! printed next to the published one.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::ensure;
use clap::Args;
use rayon::prelude::*;
use sdalab::baselines::{TwinScore, published_benchmarks};

use crate::{output_path, progress};

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct BenchDaArgs {
    /// Independent twin experiments (truth, observations and filter draws) per benchmark.
    #[arg(long, default_value_t = 4)]
    pub seeds: u64,
    /// Analysis cycles per experiment (default: the published settings' 1001).
    #[arg(long)]
    pub cycles: Option<usize>,
    /// Only the benchmarks whose setting or method contains this text.
    #[arg(long)]
    pub only: Option<String>,
    /// Also write the table as Markdown here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

pub fn run(args: &BenchDaArgs) -> anyhow::Result<()> {
    ensure!((1..=1000).contains(&args.seeds), "--seeds must be between 1 and 1000");
    ensure!(args.cycles.is_none_or(|c| (1..=1_000_000).contains(&c)), "--cycles must be between 1 and 1000000");
    if let Some(out) = &args.out {
        output_path::check(out)?;
    }
    let benchmarks: Vec<_> = published_benchmarks()
        .into_iter()
        .map(|mut b| {
            if let Some(c) = args.cycles {
                b.setting = b.setting.with_cycles(c);
            }
            b
        })
        .filter(|b| args.only.as_deref().is_none_or(|t| b.setting.name.contains(t) || b.filter.label().contains(t)))
        .collect();
    ensure!(!benchmarks.is_empty(), "no benchmark matches --only");
    let bar = progress::bar((benchmarks.len() as u64) * args.seeds, "runs");
    let started = Instant::now();
    let mut table = String::new();
    writeln!(
        table,
        "| setting | method | ours rmse.a: median of {} seeds [min, max] | DAPPER | ours / DAPPER | runs that lost the truth (> 2× DAPPER) | ours rmv.a | analyses | time per run |",
        args.seeds
    )?;
    writeln!(table, "|---|---|---|---|---|---|---|---|---|")?;
    for b in &benchmarks {
        let runs: Vec<(TwinScore, f64)> = (0..args.seeds)
            .into_par_iter()
            .map(|seed| {
                let t = Instant::now();
                let score = b.setting.run(&b.filter, seed);
                bar.inc(1);
                score.map(|s| (s, t.elapsed().as_secs_f64()))
            })
            .collect::<Result<_, _>>()?;
        let n = runs.len() as f64;
        let mut rmse: Vec<f64> = runs.iter().map(|(s, _)| s.rmse).collect();
        rmse.sort_by(f64::total_cmp);
        let median = median_of_sorted(&rmse);
        let lost = rmse.iter().filter(|r| **r > 2.0 * b.published_rmse).count();
        let mut spreads: Vec<f64> = runs.iter().map(|(s, _)| s.spread).collect();
        spreads.sort_by(f64::total_cmp);
        let seconds = runs.iter().map(|(_, t)| t).sum::<f64>() / n;
        writeln!(
            table,
            "| {} | {} | {:.3} [{:.3}, {:.3}] | {:.2} | {:.2} | {lost} | {:.3} | {} | {:.2} s |",
            b.setting.name,
            b.filter.label(),
            median,
            rmse[0],
            rmse[rmse.len() - 1],
            b.published_rmse,
            median / b.published_rmse,
            median_of_sorted(&spreads),
            runs[0].0.analyses,
            seconds
        )?;
    }
    bar.finish_and_clear();
    println!("{table}");
    for b in &benchmarks {
        println!("- {}: {}", b.filter.label(), b.source);
    }
    eprintln!("{} benchmark(s) × {} seed(s) in {:.1} s", benchmarks.len(), args.seeds, started.elapsed().as_secs_f64());
    if let Some(out) = &args.out {
        let mut text = format!(
            "# Filtering benchmarks against DAPPER\n\n`sdalab bench-da --seeds {}{}`\n\n",
            args.seeds,
            args.cycles.map(|c| format!(" --cycles {c}")).unwrap_or_default()
        );
        text.push_str(&table);
        text.push('\n');
        for b in &benchmarks {
            writeln!(text, "- {}: {}", b.filter.label(), b.source)?;
        }
        std::fs::write(out, text)?;
    }
    Ok(())
}

/// The median of sorted, non-empty values.
fn median_of_sorted(v: &[f64]) -> f64 {
    let n = v.len();
    if n % 2 == 1 { v[n / 2] } else { 0.5 * (v[n / 2 - 1] + v[n / 2]) }
}
