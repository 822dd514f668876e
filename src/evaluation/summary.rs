//! Medians over cases of an evaluation's rows, and the markdown report made from them.

use std::collections::BTreeSet;

use super::{EvalRow, Regime, RowMethod};

/// Medians over the cases of one (regime, method, setting) cell.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub regime: Regime,
    /// `(k, corrections)` of a diffusion run, `None` for the particle floor.
    pub sda: Option<(usize, usize)>,
    pub samples: usize,
    pub cases: usize,
    pub w1: f64,
    pub floor: f64,
    /// Median over cases of W1/floor.
    pub ratio: f64,
    pub log_prior: f64,
    pub log_likelihood: f64,
    pub rmse: f64,
    pub spread: f64,
    /// Mean wall time of one run.
    pub seconds: f64,
}

fn median(mut values: Vec<f64>) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 { values[n / 2] } else { 0.5 * (values[n / 2 - 1] + values[n / 2]) }
}

impl Summary {
    /// The medians of `rows` (all of one cell); `None` when there are none.
    pub fn of(rows: &[&EvalRow]) -> Option<Summary> {
        let first = rows.first()?;
        let pick = |f: fn(&EvalRow) -> f64| median(rows.iter().map(|r| f(r)).collect());
        Some(Summary {
            regime: first.regime,
            sda: first.method.k_c(),
            samples: first.samples,
            cases: rows.len(),
            w1: pick(|r| r.w1),
            floor: pick(|r| r.floor),
            ratio: pick(|r| r.w1 / r.floor),
            log_prior: pick(|r| r.log_prior),
            log_likelihood: pick(|r| r.log_likelihood),
            rmse: pick(|r| r.rmse),
            spread: pick(|r| r.spread),
            seconds: rows.iter().map(|r| r.seconds).sum::<f64>() / rows.len() as f64,
        })
    }
}

/// The guidance of a diffusion setting: SDA's γ (as its bit pattern, to sort) or MMPS's iterations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rule {
    Sda(u64),
    Mmps(usize),
}

impl Rule {
    pub(super) fn describe(self) -> String {
        match self {
            Rule::Sda(gamma) => format!("SDA, γ = {}", f64::from_bits(gamma)),
            Rule::Mmps(iterations) => format!("MMPS, N = {iterations}"),
        }
    }
}

/// The diffusion settings present in `rows`: `(samples, steps, tau, rule)`, τ as a sortable bit
/// pattern.
type Setting = (usize, usize, u64, Rule);

fn setting(r: &EvalRow) -> Option<Setting> {
    match r.method {
        RowMethod::Sda { steps, tau, gamma, .. } => Some((r.samples, steps, tau.to_bits(), Rule::Sda(gamma.to_bits()))),
        RowMethod::Mmps { steps, tau, iterations, .. } => {
            Some((r.samples, steps, tau.to_bits(), Rule::Mmps(iterations)))
        }
        RowMethod::Particle => None,
    }
}

/// Rows of one regime and diffusion setting at `(k, corrections)`.
pub fn cell(rows: &[EvalRow], regime: Regime, s: Setting, k: usize, c: usize) -> Vec<&EvalRow> {
    rows.iter().filter(|r| r.regime == regime && setting(r) == Some(s) && r.method.k_c() == Some((k, c))).collect()
}

/// Particle-floor rows of one regime at `samples` members, restricted to `cases`.
pub fn floor_cell<'a>(
    rows: &'a [EvalRow],
    regime: Regime,
    samples: usize,
    cases: &BTreeSet<usize>,
) -> Vec<&'a EvalRow> {
    rows.iter()
        .filter(|r| r.regime == regime && r.samples == samples && r.method == RowMethod::Particle)
        .filter(|r| cases.contains(&r.case))
        .collect()
}

/// The SDA settings in `rows`, in order.
pub fn settings(rows: &[EvalRow]) -> Vec<Setting> {
    rows.iter().filter_map(setting).collect::<BTreeSet<_>>().into_iter().collect()
}

/// Markdown tables: per regime and SDA setting, median W1 (with W1/floor), mean log-prior and
/// mean log-likelihood for every k (rows) and C (columns), and the particle reference.
pub fn markdown_report(rows: &[EvalRow]) -> String {
    let mut out = String::new();
    for s in settings(rows) {
        let (samples, steps, tau, rule) = (s.0, s.1, f64::from_bits(s.2), s.3);
        for regime in Regime::ALL {
            let of_setting: Vec<&EvalRow> =
                rows.iter().filter(|r| r.regime == regime && setting(r) == Some(s)).collect();
            if of_setting.is_empty() {
                continue;
            }
            let ks: BTreeSet<usize> = of_setting.iter().filter_map(|r| r.method.k_c().map(|p| p.0)).collect();
            let cs: BTreeSet<usize> = of_setting.iter().filter_map(|r| r.method.k_c().map(|p| p.1)).collect();
            let cases: BTreeSet<usize> = of_setting.iter().map(|r| r.case).collect();
            let floor = Summary::of(&floor_cell(rows, regime, samples, &cases));
            out.push_str(&format!(
                "### {} — {}, {samples} samples, {steps} steps, τ = {tau}; medians over {} case(s)\n\n",
                regime.describe(),
                rule.describe(),
                cases.len()
            ));
            let header = |what: &str| {
                let mut h = format!("| {what} |");
                let mut rule = "|---|".to_string();
                for c in &cs {
                    h.push_str(&format!(" C={c} |"));
                    rule.push_str("---|");
                }
                format!("{h}\n{rule}\n")
            };
            type Pick = fn(&Summary) -> String;
            let tables: [(&str, Pick, Option<Pick>); 3] = [
                ("W1 (W1/floor)", |m| format!("{:.1} ({:.2})", m.w1, m.ratio), Some(|f| format!("floor {:.1}", f.w1))),
                ("log-prior", |m| format!("{:.2}", m.log_prior), Some(|f| format!("particles {:.2}", f.log_prior))),
                (
                    "log-likelihood",
                    |m| format!("{:.1}", m.log_likelihood),
                    Some(|f| format!("particles {:.1}", f.log_likelihood)),
                ),
            ];
            for (what, pick, reference) in tables {
                out.push_str(&header(what));
                for &k in &ks {
                    out.push_str(&format!("| k={k} |"));
                    for &c in &cs {
                        match Summary::of(&cell(rows, regime, s, k, c)) {
                            Some(m) => out.push_str(&format!(" {} |", pick(&m))),
                            None => out.push_str(" – |"),
                        }
                    }
                    out.push('\n');
                }
                if let (Some(f), Some(reference)) = (&floor, reference) {
                    out.push_str(&format!("| reference | {} |{}\n", reference(f), " |".repeat(cs.len() - 1)));
                }
                out.push('\n');
            }
            let wall: f64 = of_setting.iter().map(|r| r.seconds).sum();
            out.push_str(&format!("Wall time for these {} runs: {wall:.0} s.\n\n", of_setting.len()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_tables() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), 2.5);
        let row = |case: usize, method: RowMethod, w1: f64| EvalRow {
            case,
            regime: Regime::Lo,
            method,
            model: String::new(),
            samples: 8,
            particles: 64,
            seed: 0,
            w1,
            floor: 2.0,
            log_prior: 1.0,
            log_likelihood: -3.0,
            rmse: 0.5,
            spread: 0.5,
            seconds: 1.0,
        };
        let sda = |c| RowMethod::Sda { k: 2, corrections: c, steps: 16, tau: 0.25, gamma: 0.01 };
        let rows = vec![
            row(0, RowMethod::Particle, 2.0),
            row(1, RowMethod::Particle, 2.0),
            row(0, sda(0), 10.0),
            row(1, sda(0), 20.0),
            row(0, sda(1), 4.0),
            row(0, RowMethod::Mmps { k: 2, corrections: 0, steps: 16, tau: 0.25, iterations: 2 }, 3.0),
        ];
        let report = markdown_report(&rows);
        assert!(report.contains("| k=2 | 15.0 (7.50) | 4.0 (2.00) |"), "{report}");
        assert!(report.contains("| reference | floor 2.0 | |"), "{report}");
        // MMPS rows make their own table, never mixed into SDA's cells.
        assert!(report.contains("MMPS, N = 2, 8 samples") && report.contains("| k=2 | 3.0 (1.50) |"), "{report}");
    }
}
