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
}

const HEADER: &str = "step,train_loss,validation_loss,learning_rate";

/// Writes `rows` as CSV with a header, atomically.
pub fn write_loss_csv(path: &Path, rows: &[LossRow]) -> Result<(), ExportError> {
    let mut text = format!("{HEADER}\n");
    for r in rows {
        text.push_str(&format!("{},{},{},{}\n", r.step, r.train, r.validation, r.learning_rate));
    }
    write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()))
}

/// Reads a CSV written by [`write_loss_csv`].
pub fn read_loss_csv(path: &Path) -> Result<Vec<LossRow>, ExportError> {
    let text = std::fs::read_to_string(path).map_err(|e| ExportError::io(path, e))?;
    let format = |line: usize, message: &str| ExportError::Format {
        path: path.into(),
        message: format!("line {line}: {message}"),
    };
    let mut lines = text.lines().enumerate();
    match lines.next() {
        Some((_, h)) if h.trim() == HEADER => {}
        _ => return Err(format(1, &format!("expected the header `{HEADER}`"))),
    }
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
            })
        })
        .collect()
}

/// Plots training and validation loss against step (log scale) into a PNG.
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
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial.png");
    let partial = std::path::PathBuf::from(partial);
    {
        let root = BitMapBackend::new(&partial, (800, 500)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| err(e.to_string()))?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 22))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0usize..last, (lo..hi).log_scale())
            .map_err(|e| err(e.to_string()))?;
        chart
            .configure_mesh()
            .x_desc("step")
            .y_desc("DSM loss")
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
            .map(|i| LossRow { step: i * 10, train: 1.0 / i as f64, validation: 1.2 / i as f64, learning_rate: 1e-3 })
            .collect();
        let csv = dir.path().join("loss.csv");
        write_loss_csv(&csv, &rows).unwrap();
        assert_eq!(read_loss_csv(&csv).unwrap(), rows);
        let png = dir.path().join("loss.png");
        plot_loss_png(&png, &rows, "test").unwrap();
        let bytes = std::fs::read(&png).unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
