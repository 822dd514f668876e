//! The loss curve of a training run: CSV rows and a PNG figure (plotters).

use std::path::Path;

use plotters::prelude::*;

use super::{ExportError, write_atomically};

/// One logged point of a training run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossRow {
    pub step: usize,
    /// Mean training loss since the previous row (or since a resume).
    pub train: f64,
    /// Held-out validation loss at this step.
    pub validation: f64,
    pub learning_rate: f64,
    /// The unconditional-sample check at this step, where one was run.
    pub prior: PriorCheckRow,
}

impl LossRow {
    /// A row without an unconditional-sample check.
    pub fn losses(step: usize, train: f64, validation: f64, learning_rate: f64) -> Self {
        Self { step, train, validation, learning_rate, prior: PriorCheckRow::NONE }
    }
}

/// Summary figures of unconditional samples against the simulator's data (NaN: not measured).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriorCheckRow {
    /// Mean over components (or cells) of the samples' std over the data's: 1 is ideal.
    pub std_ratio: f64,
    /// Mean transition log-density of the samples under the simulator (state-vector systems).
    pub log_density: f64,
    /// Largest factor between the samples' and the data's energy spectra (fields): 1 is ideal.
    pub energy_factor: f64,
}

impl PriorCheckRow {
    pub const NONE: Self = Self { std_ratio: f64::NAN, log_density: f64::NAN, energy_factor: f64::NAN };
}

const HEADER: &str =
    "step,train_loss,validation_loss,learning_rate,prior_std_ratio,prior_log_density,prior_energy_factor";
/// The header of runs logged before the unconditional-sample columns existed.
const LOSSES_ONLY_HEADER: &str = "step,train_loss,validation_loss,learning_rate";

/// Writes `rows` as CSV with a header, atomically.
pub fn write_loss_csv(path: &Path, rows: &[LossRow]) -> Result<(), ExportError> {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        let p = r.prior;
        text.push_str(&format!(
            "{},{},{},{},{},{},{}\n",
            r.step, r.train, r.validation, r.learning_rate, p.std_ratio, p.log_density, p.energy_factor
        ));
    }
    write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))
}

/// Reads a CSV written by [`write_loss_csv`].
pub fn read_loss_csv(path: &Path) -> Result<Vec<LossRow>, ExportError> {
    let text = crate::export::read_text(path).map_err(|e| ExportError::io(path, e))?;
    let format = |line: usize, message: &str| ExportError::Format {
        path: path.into(),
        message: format!("line {line}: {message}"),
    };
    let mut lines = text.lines().enumerate();
    let with_prior = match lines.next() {
        Some((_, h)) if h.trim() == HEADER => true,
        Some((_, h)) if h.trim() == LOSSES_ONLY_HEADER => false,
        _ => return Err(format(1, &format!("expected the header `{HEADER}`"))),
    };
    lines
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            let f: Vec<&str> = l.split(',').collect();
            let num = |k: usize| {
                f.get(k).and_then(|v| v.trim().parse::<f64>().ok()).ok_or_else(|| format(i + 1, "bad number"))
            };
            Ok(LossRow {
                step: f.first().and_then(|v| v.trim().parse().ok()).ok_or_else(|| format(i + 1, "bad step"))?,
                train: num(1)?,
                validation: num(2)?,
                learning_rate: num(3)?,
                prior: if with_prior {
                    PriorCheckRow { std_ratio: num(4)?, log_density: num(5)?, energy_factor: num(6)? }
                } else {
                    PriorCheckRow::NONE
                },
            })
        })
        .collect()
}

/// Tick values for a log axis over `[lo, hi]`: 1, 2, 5 × powers of ten, or every digit when the
/// range holds fewer than three of those (plotters' own log ticks are powers of ten only, so a
/// loss falling from 1 to 0.13 would get a single label).
pub(crate) fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let pick = |mantissas: &[f64]| -> Vec<f64> {
        let (first, last) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
        (first..=last)
            .flat_map(|e| mantissas.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| (lo..=hi).contains(v))
            .collect()
    };
    let coarse = pick(&[1.0, 2.0, 5.0]);
    if coarse.len() >= 3 { coarse } else { pick(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]) }
}

/// Plots training and validation loss against step (log scale) into a PNG, with a panel below for
/// each unconditional-sample check the rows hold.
pub fn plot_loss_png(path: &Path, rows: &[LossRow], title: &str) -> Result<(), ExportError> {
    super::fonts::register();
    let err =
        |e: String| ExportError::Format { path: path.into(), message: format!("cannot draw the loss curve: {e}") };
    let positive = |v: f64| v.is_finite() && v > 0.0;
    let values: Vec<f64> = rows.iter().flat_map(|r| [r.train, r.validation]).filter(|v| positive(*v)).collect();
    if values.is_empty() {
        return Err(err("no finite positive losses to plot".into()));
    }
    let lo = values.iter().cloned().fold(f64::INFINITY, f64::min) * 0.9;
    let hi = values.iter().cloned().fold(0.0, f64::max) * 1.1;
    let last = rows.iter().map(|r| r.step).max().unwrap_or(1).max(1);
    // The unconditional-sample checks that were run, one panel each below the losses (with the
    // ideal value as a grey line where there is one).
    type Pick = fn(&LossRow) -> f64;
    type Panel = (&'static str, Vec<(usize, f64)>, Option<f64>);
    let checks: Vec<Panel> = [
        ("prior std / data std", (|r: &LossRow| r.prior.std_ratio) as Pick, Some(1.0)),
        ("prior transition log-density", |r: &LossRow| r.prior.log_density, None),
        ("prior energy factor (k ≤ 8)", |r: &LossRow| r.prior.energy_factor, Some(1.0)),
    ]
    .into_iter()
    .map(|(name, pick, ideal)| {
        (name, rows.iter().map(|r| (r.step, pick(r))).filter(|p| p.1.is_finite()).collect::<Vec<_>>(), ideal)
    })
    .filter(|(_, points, _)| !points.is_empty())
    .collect();
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial.png");
    let partial = std::path::PathBuf::from(partial);
    {
        let panel = 200;
        let root = BitMapBackend::new(&partial, (800, 500 + (panel * checks.len()) as u32)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let (top, bottom) = root.split_vertically(500);
        let mut chart = ChartBuilder::on(&top)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0usize..last, (lo..hi).log_scale().with_key_points(log_ticks(lo, hi)))
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("DSM loss")
            // Log-scale ticks such as 0.3 come out as 0.30000000000000004 by default.
            .y_label_formatter(&|v| format!("{}", (v * 1e4).round() / 1e4))
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for (name, color, pick) in [
            ("train", BLUE, (|r: &LossRow| r.train) as fn(&LossRow) -> f64),
            ("validation", RED, |r: &LossRow| r.validation),
        ] {
            let points: Vec<(usize, f64)> = rows.iter().map(|r| (r.step, pick(r))).filter(|p| positive(p.1)).collect();
            chart
                .draw_series(LineSeries::new(points, color.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?
                .label(name)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
        chart
            .configure_series_labels()
            .background_style(WHITE.mix(0.8))
            .border_style(BLACK)
            .label_font(("sans-serif", 14))
            .draw()
            .map_err(|e| err(e.to_string()))?;
        for ((name, points, ideal), area) in checks.iter().zip(bottom.split_evenly((checks.len().max(1), 1))) {
            let (mut lo, mut hi) =
                points.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), p| (a.min(p.1), b.max(p.1)));
            if let Some(v) = ideal {
                (lo, hi) = (lo.min(*v), hi.max(*v));
            }
            let pad = ((hi - lo) * 0.1).max(1e-3);
            let mut chart = ChartBuilder::on(&area)
                .margin(12)
                .x_label_area_size(30)
                .y_label_area_size(70)
                .build_cartesian_2d(0usize..last, (lo - pad)..(hi + pad))
                .map_err(|e| err(e.to_string()))?;
            chart
                .configure_mesh()
                .y_desc(*name)
                .label_style(("sans-serif", 13))
                .draw()
                .map_err(|e| err(e.to_string()))?;
            if let Some(v) = ideal {
                chart
                    .draw_series(LineSeries::new([(0, *v), (last, *v)], BLACK.mix(0.4)))
                    .map_err(|e| err(e.to_string()))?;
            }
            chart
                .draw_series(LineSeries::new(points.clone(), GREEN.stroke_width(2)))
                .map_err(|e| err(e.to_string()))?;
            chart
                .draw_series(points.iter().map(|p| Circle::new(*p, 3, GREEN.filled())))
                .map_err(|e| err(e.to_string()))?;
        }
        root.present().map_err(|e| err(e.to_string()))?;
    }
    std::fs::rename(&partial, path).map_err(|e| ExportError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_round_trip_and_png() {
        let dir = tempfile::tempdir().unwrap();
        let rows: Vec<LossRow> = (1..=5)
            .map(|i| LossRow {
                prior: PriorCheckRow { std_ratio: 0.9, log_density: -1.5 + i as f64, energy_factor: 1.2 },
                ..LossRow::losses(i * 10, 1.0 / i as f64, 1.2 / i as f64, 1e-3)
            })
            .collect();
        let csv = dir.path().join("loss.csv");
        write_loss_csv(&csv, &rows).unwrap();
        assert_eq!(read_loss_csv(&csv).unwrap(), rows);
        let png = dir.path().join("loss.png");
        plot_loss_png(&png, &rows, "test").unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
        // A run logged before the check columns existed still reads, without checks.
        std::fs::write(&csv, "step,train_loss,validation_loss,learning_rate\n0,NaN,1.5,0\n10,1,0.9,0.001\n").unwrap();
        let old = read_loss_csv(&csv).unwrap();
        assert_eq!(old.len(), 2);
        assert!(old[1].prior.std_ratio.is_nan() && old[1].validation == 0.9);
        // A malformed row names its line.
        std::fs::write(&csv, format!("{HEADER}\n0,1,2,3,4,x,6\n")).unwrap();
        assert!(read_loss_csv(&csv).unwrap_err().to_string().contains("line 2"));
    }

    #[test]
    fn log_axes_get_ticks_within_a_decade() {
        let close = |a: &[f64], b: &[f64]| a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(&log_ticks(0.12, 1.07), &[0.2, 0.5, 1.0]));
        assert!(close(&log_ticks(0.0081, 11.0), &[0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0]));
        assert!(close(&log_ticks(0.085, 0.105), &[0.09, 0.1]));
    }
}
