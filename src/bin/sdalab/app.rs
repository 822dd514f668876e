//! `sdalab` with no command: the desktop app, and its automation hook for tests and docs.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use sdalab::gui::{AppOptions, CompareChoice, run_app};

use crate::checkpoints;

#[derive(Args, Debug)]
#[command(allow_negative_numbers = true)]
pub struct AppArgs {
    /// Open this lesson (a file stem in assets/presets, e.g. `lorenz63-z-only`).
    #[arg(long)]
    pub preset: Option<String>,
    /// Start sampling at once.
    #[arg(long)]
    pub run: bool,
    /// After the run, save a PNG of the whole window here and exit (0 on success).
    #[arg(long, requires = "run")]
    pub screenshot: Option<PathBuf>,
    /// After the run, write its reverse diffusion as an animated GIF of the lesson's view here
    /// (before the screenshot, if both are asked for) and exit (0 on success).
    #[arg(long, requires = "run")]
    pub record: Option<PathBuf>,
    /// Folder of checkpoint folders (default: the bundled ones).
    #[arg(long)]
    pub checkpoints: Option<PathBuf>,
    /// Benchmark the GUI: sample the lesson while timing frames, then add an observation and time
    /// the re-run; write the report (markdown) here and exit.
    #[arg(long, conflicts_with = "screenshot")]
    pub bench_gui: Option<PathBuf>,
    /// Compare SDA with a classical method from the start, side by side.
    #[arg(long, value_enum)]
    pub compare: Option<CompareArg>,
    /// Window size in points, WIDTHxHEIGHT.
    #[arg(long, default_value = "1500x950", value_parser = parse_size)]
    pub size: [f32; 2],
}

#[derive(Copy, Clone, Debug, PartialEq, Eq, ValueEnum)]
pub enum CompareArg {
    /// Ensemble Kalman smoother (square root).
    Enks,
    /// Bootstrap particle smoother.
    Particle,
    /// 4D-Var started from SDA's members.
    #[value(name = "4dvar")]
    FourDVar,
}

fn parse_size(text: &str) -> Result<[f32; 2], String> {
    let (w, h) = text.split_once('x').ok_or("expected WIDTHxHEIGHT, e.g. 1500x950")?;
    let parse = |v: &str| v.trim().parse::<f32>().ok().filter(|v| (200.0..=8000.0).contains(v));
    match (parse(w), parse(h)) {
        (Some(w), Some(h)) => Ok([w, h]),
        _ => Err(format!("`{text}`: sizes must be numbers between 200 and 8000")),
    }
}

pub fn run(args: &AppArgs) -> anyhow::Result<()> {
    let options = AppOptions {
        checkpoints: args.checkpoints.clone().unwrap_or_else(checkpoints::bundled_dir),
        lessons: checkpoints::lessons_dir(),
        preset: args.preset.clone(),
        run: args.run,
        screenshot: args.screenshot.clone(),
        record: args.record.clone(),
        size: args.size,
        bench: args.bench_gui.clone(),
        compare: match args.compare {
            None => CompareChoice::None,
            Some(CompareArg::Enks) => CompareChoice::EnsembleSmoother,
            Some(CompareArg::Particle) => CompareChoice::ParticleSmoother,
            Some(CompareArg::FourDVar) => CompareChoice::FourDVar,
        },
    };
    run_app(options)?;
    Ok(())
}
