//! Result rows of an evaluation run and their CSV file. Rows are keyed by everything that
//! determines them (case, regime, method, sizes, seed), so a grid can be resumed by skipping the
//! rows a file already holds.

use std::path::Path;

use super::{EvaluationError, Regime};
use crate::export::write_atomically;

/// What produced a row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RowMethod {
    /// SDA with the local score of window `2k+1`, `corrections` Langevin steps, step size `tau`,
    /// SDA guidance with variance inflation `gamma`.
    Sda { k: usize, corrections: usize, steps: usize, tau: f64, gamma: f64 },
    /// The same sampler with MMPS guidance of `iterations` conjugate-gradient steps.
    Mmps { k: usize, corrections: usize, steps: usize, tau: f64, iterations: usize },
    /// The first particle run against the second: the floor.
    Particle,
}

impl RowMethod {
    /// `(k, corrections)` of a diffusion run; `None` for the particle floor.
    pub fn k_c(&self) -> Option<(usize, usize)> {
        match *self {
            RowMethod::Sda { k, corrections, .. } | RowMethod::Mmps { k, corrections, .. } => Some((k, corrections)),
            RowMethod::Particle => None,
        }
    }
}

/// One run's metrics against the case's reference (the second particle run).
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    pub case: usize,
    pub regime: Regime,
    pub method: RowMethod,
    /// The score network: checkpoint name and weights fingerprint (`lorenz63-k4@0123456789ab`);
    /// empty for particle rows.
    pub model: String,
    /// Ensemble size the metrics were computed at.
    pub samples: usize,
    /// Particles of each reference run.
    pub particles: usize,
    pub seed: u64,
    /// Exact W1 to the reference (first `samples` kept paths), physical units.
    pub w1: f64,
    /// W1 between the two particle runs at `samples` members.
    pub floor: f64,
    /// Mean transition log-density.
    pub log_prior: f64,
    /// Mean observation log-likelihood of a whole trajectory.
    pub log_likelihood: f64,
    /// RMSE of the ensemble mean against the truth.
    pub rmse: f64,
    /// Ensemble spread (root mean variance).
    pub spread: f64,
    /// Wall time of the run.
    pub seconds: f64,
}

impl EvalRow {
    /// Whether `other` is the same run (same settings), whatever its results.
    pub fn same_run(&self, other: &EvalRow) -> bool {
        self.case == other.case
            && self.regime == other.regime
            && self.method == other.method
            && self.model == other.model
            && self.samples == other.samples
            && self.particles == other.particles
            && self.seed == other.seed
    }
}

pub const HEADER: &str = "case,obs,method,model,k,corrections,steps,tau,gamma,samples,particles,seed,\
w1,floor,w1_over_floor,log_prior,log_likelihood,rmse,spread,seconds,mmps_iterations";

/// The header of files written before MMPS rows existed (no last column); still read.
const HEADER_WITHOUT_MMPS: &str = "case,obs,method,model,k,corrections,steps,tau,gamma,samples,particles,seed,\
w1,floor,w1_over_floor,log_prior,log_likelihood,rmse,spread,seconds";

fn to_line(r: &EvalRow) -> String {
    let (method, k, c, steps, tau, gamma, iterations) = match r.method {
        RowMethod::Sda { k, corrections, steps, tau, gamma } => (
            "sda",
            k.to_string(),
            corrections.to_string(),
            steps.to_string(),
            tau.to_string(),
            gamma.to_string(),
            String::new(),
        ),
        RowMethod::Mmps { k, corrections, steps, tau, iterations } => (
            "mmps",
            k.to_string(),
            corrections.to_string(),
            steps.to_string(),
            tau.to_string(),
            String::new(),
            iterations.to_string(),
        ),
        RowMethod::Particle => Default::default(),
    };
    let method = if method.is_empty() { "particle" } else { method };
    format!(
        "{},{},{method},{},{k},{c},{steps},{tau},{gamma},{},{},{},{},{},{},{},{},{},{},{},{iterations}",
        r.case,
        r.regime.name(),
        r.model,
        r.samples,
        r.particles,
        r.seed,
        r.w1,
        r.floor,
        r.w1 / r.floor,
        r.log_prior,
        r.log_likelihood,
        r.rmse,
        r.spread,
        r.seconds
    )
}

/// Writes `rows` with a header, atomically.
pub fn write_rows(path: &Path, rows: &[EvalRow]) -> Result<(), EvaluationError> {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(&to_line(r));
        text.push('\n');
    }
    write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))
        .map_err(|e| EvaluationError::Io { path: path.into(), source: std::io::Error::other(e.to_string()) })
}

/// Reads a file written by [`write_rows`]; a missing file is no rows.
pub fn read_rows(path: &Path) -> Result<Vec<EvalRow>, EvaluationError> {
    let text = match crate::export::read_text(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(EvaluationError::Io { path: path.into(), source }),
    };
    let format = |line: usize, message: String| EvaluationError::Format { path: path.into(), line, message };
    let mut lines = text.lines().enumerate();
    let header = match lines.next() {
        Some((_, h)) if h.trim() == HEADER => HEADER,
        Some((_, h)) if h.trim() == HEADER_WITHOUT_MMPS => HEADER_WITHOUT_MMPS,
        _ => return Err(format(1, format!("expected the header `{HEADER}`"))),
    };
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| parse_line(l, header).map_err(|m| format(i + 1, m)))
        .collect()
}

fn parse_line(line: &str, header: &str) -> Result<EvalRow, String> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let columns = header.split(',').count();
    if fields.len() != columns {
        return Err(format!("expected {columns} fields, found {}", fields.len()));
    }
    let names: Vec<&str> = HEADER.split(',').collect();
    let int = |i: usize| fields[i].parse::<usize>().map_err(|_| format!("{}: not a count: `{}`", names[i], fields[i]));
    let real = |i: usize| fields[i].parse::<f64>().map_err(|_| format!("{}: not a number: `{}`", names[i], fields[i]));
    let regime = Regime::parse(fields[1]).ok_or_else(|| format!("obs: expected `lo` or `hi`, got `{}`", fields[1]))?;
    let method = match fields[2] {
        "sda" => RowMethod::Sda { k: int(4)?, corrections: int(5)?, steps: int(6)?, tau: real(7)?, gamma: real(8)? },
        "mmps" if columns > 20 => {
            RowMethod::Mmps { k: int(4)?, corrections: int(5)?, steps: int(6)?, tau: real(7)?, iterations: int(20)? }
        }
        "particle" => RowMethod::Particle,
        other => return Err(format!("method: expected `sda`, `mmps` or `particle`, got `{other}`")),
    };
    Ok(EvalRow {
        case: int(0)?,
        regime,
        method,
        model: fields[3].to_string(),
        samples: int(9)?,
        particles: int(10)?,
        seed: fields[11].parse().map_err(|_| format!("seed: not a seed: `{}`", fields[11]))?,
        w1: real(12)?,
        floor: real(13)?,
        log_prior: real(15)?,
        log_likelihood: real(16)?,
        rmse: real(17)?,
        spread: real(18)?,
        seconds: real(19)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(method: RowMethod) -> EvalRow {
        EvalRow {
            case: 2,
            regime: Regime::Hi,
            method,
            model: if method == RowMethod::Particle { String::new() } else { "lorenz63-k4@0123456789ab".into() },
            samples: 256,
            particles: 16384,
            seed: 1000,
            w1: 12.5,
            floor: 6.25,
            log_prior: 1.125,
            log_likelihood: -30.5,
            rmse: 0.5,
            spread: 0.75,
            seconds: 3.0,
        }
    }

    #[test]
    fn rows_round_trip_and_bad_lines_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("eval.csv");
        assert!(read_rows(&path).unwrap().is_empty());
        let rows = vec![
            row(RowMethod::Particle),
            row(RowMethod::Sda { k: 4, corrections: 2, steps: 64, tau: 0.25, gamma: 1e-2 }),
            row(RowMethod::Mmps { k: 4, corrections: 0, steps: 64, tau: 0.25, iterations: 2 }),
        ];
        write_rows(&path, &rows).unwrap();
        let back = read_rows(&path).unwrap();
        assert_eq!(back, rows);
        assert!(back[1].same_run(&rows[1]) && !back[0].same_run(&rows[1]));
        let text = std::fs::read_to_string(&path).unwrap().replace(",hi,sda,", ",mid,sda,");
        std::fs::write(&path, text).unwrap();
        let err = read_rows(&path).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("obs"), "{err}");
        // Files from before the MMPS column are still read.
        let legacy: String = format!("{HEADER_WITHOUT_MMPS}\n")
            + &rows[..2].iter().map(|r| to_line(r).rsplit_once(',').unwrap().0.to_string() + "\n").collect::<String>();
        std::fs::write(&path, legacy).unwrap();
        assert_eq!(read_rows(&path).unwrap(), rows[..2]);
    }
}
