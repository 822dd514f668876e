//! Choosing a system on the command line: a name, or `linear` with its model in a JSON file.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use sdalab::dynamics::System;
use sdalab::scenario::system_from_json_str;

#[derive(Args, Debug)]
pub struct SystemArg {
    /// System: lorenz63, lorenz96, kolmogorov, or linear (with --model).
    #[arg(long)]
    pub system: String,
    /// For `linear`: a JSON file holding the model object, or a scenario whose system is used.
    /// For `kolmogorov`, optionally other sizes: e.g. `{"name": "kolmogorov", "grid": 64,
    /// "resolution": 256}`.
    #[arg(long)]
    pub model: Option<PathBuf>,
}

impl SystemArg {
    pub fn load(&self) -> anyhow::Result<System> {
        match (self.system.as_str(), &self.model) {
            (name @ ("linear" | "kolmogorov"), Some(path)) => {
                let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
                let system = system_from_json_str(&text).with_context(|| path.display().to_string())?;
                match system {
                    System::Linear(_) | System::Kolmogorov(_) if system.name() == name => Ok(system),
                    other => bail!("{}: holds system `{}`, not `{name}`", path.display(), other.name()),
                }
            }
            ("linear", None) => bail!("--system linear needs --model FILE.json with the linear model"),
            (name, Some(_)) => bail!("--model is only for --system linear or kolmogorov, not `{name}`"),
            (name, None) => System::named(name)
                .with_context(|| format!("unknown system `{name}` (known: lorenz63, lorenz96, kolmogorov, linear)")),
        }
    }
}
