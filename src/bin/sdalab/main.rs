//! The `sdalab` command line: subcommands over the library, errors reported in one line.

mod app;
mod assimilate;
mod bench;
mod bench_da;
mod checkpoints;
mod eval;
mod eval_kolmogorov;
mod eval_prior;
mod metrics_cmd;
mod output_path;
mod prior_check;
mod progress;
mod scenario_cmd;
mod simulate;
mod system_arg;
mod train;
mod validate;

use clap::{Parser, Subcommand};

/// Sampling allocates and frees many multi-megabyte tensors per network call; glibc's allocator
/// hands those back to the kernel and page-faults them in again every time, which `sdalab bench`
/// measures at about a third of the MLP's forward + gradient time. mimalloc keeps them.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay`: index 15 of `mi_option_e` in both mimalloc versions
/// libmimalloc-sys bundles (v2 and v3), which the crate does not name as a constant.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Keeps freed memory mapped instead of handing it back to the kernel 10 ms after it is freed.
/// Training through candle frees and reallocates tensors of megabytes every step, and the kernel
/// zeroing those pages again took 33–38% of the CPU time of Lorenz-96 and Kolmogorov training
/// steps (`perf`). The process holds on to its peak heap instead, which suits a long batch job
/// and not the app, so only `train` asks for it.
pub fn keep_freed_memory() {
    // SAFETY: sets a process-wide allocator option, which mimalloc reads at each purge.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
}

/// SDA Lab: score-based data assimilation over whole trajectories of simulated systems.
/// With no command, opens the app.
#[derive(Parser)]
#[command(name = "sdalab", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    app: app::AppArgs,
}

#[derive(Subcommand)]
enum Command {
    /// Simulate an ensemble of trajectories and write it as a float32 .npy (N, L, state…).
    Simulate(simulate::SimulateArgs),
    /// Make a twin-experiment scenario: simulate a truth, observe it with noise, write the JSON.
    Scenario(scenario_cmd::ScenarioArgs),
    /// Check a scenario file and summarise it.
    Validate(validate::ValidateArgs),
    /// Sample the posterior over the whole trajectory of a scenario and write it as .npy.
    Assimilate(assimilate::AssimilateArgs),
    /// Score an ensemble file: plausibility, fit to observations, skill, distance to a reference.
    Metrics(metrics_cmd::MetricsArgs),
    /// Evaluate the models: the paper's protocols and checks, per system.
    Eval {
        #[command(subcommand)]
        which: EvalCommand,
    },
    /// Measure network throughput next to a plain matrix multiply on this machine.
    Bench(bench::BenchArgs),
    /// Filtering twin experiments of DAPPER's benchmark tables: our rmse.a next to the published.
    BenchDa(bench_da::BenchDaArgs),
    /// Train a local score network by denoising score matching (resumable).
    Train(train::TrainArgs),
}

#[derive(Subcommand)]
enum EvalCommand {
    /// The paper's Lorenz-63 protocol: L = 65, x observed ("lo": every 8th state, "hi": every
    /// state); SDA over a grid of k and C against particle smoothers.
    Lorenz63(eval::EvalArgs),
    /// Kolmogorov flow: assimilation of coarse views by SDA and DPS on held-out truths, and the
    /// unconditional samples' spectrum and vorticity distribution against the data.
    Kolmogorov(eval_kolmogorov::KolmogorovEvalArgs),
    /// Unconditional samples of a model against the simulator: component statistics and
    /// transition log-density (Lorenz), energy spectrum and vorticity tails (Kolmogorov).
    Prior(eval_prior::PriorEvalArgs),
}

fn main() {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) if !err.use_stderr() => err.exit(), // --help, --version
        Err(err) => {
            // Clap's message before the usage block, joined onto one line.
            let rendered = err.render().to_string();
            let reason = rendered
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect::<Vec<_>>()
                .join(" ");
            let reason = reason.trim_start_matches("error: ");
            eprintln!("sdalab: {reason} (see `sdalab --help`)");
            std::process::exit(2);
        }
    };
    let result = match cli.command {
        Some(Command::Simulate(args)) => simulate::run(&args),
        Some(Command::Scenario(args)) => scenario_cmd::run(&args),
        Some(Command::Validate(args)) => validate::run(&args),
        Some(Command::Train(args)) => train::run(&args),
        Some(Command::Assimilate(args)) => assimilate::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::BenchDa(args)) => bench_da::run(&args),
        Some(Command::Metrics(args)) => metrics_cmd::run(&args),
        Some(Command::Eval { which: EvalCommand::Lorenz63(args) }) => eval::run(&args),
        Some(Command::Eval { which: EvalCommand::Kolmogorov(args) }) => eval_kolmogorov::run(&args),
        Some(Command::Eval { which: EvalCommand::Prior(args) }) => eval_prior::run(&args),
        None => app::run(&cli.app),
    };
    if let Err(err) = result {
        // One line: the error and its causes, joined, and never a page of it.
        let message = format!("{err:#}").replace('\n', " ");
        eprintln!("sdalab: {}", sdalab::scenario::excerpt_long(&message));
        std::process::exit(1);
    }
}
