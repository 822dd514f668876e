//! Exported figures of the current view, drawn with plotters as PNG or SVG (chosen by the file
//! extension) and written atomically.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::palette;
use super::run_state::Shown;
use super::strings::{BAND, OBSERVED, TRUTH};
use super::tools::{drawn_at, error_bar};
use crate::export::{ExportError, register_fonts, write_atomically};
use crate::metrics::Mode;
use crate::observe::Observation;
use crate::render::FieldImage;

/// What a time-series figure shows: one panel per named component.
pub struct SeriesFigure<'a> {
    pub title: String,
    pub components: Vec<(usize, String)>,
    pub length: usize,
    pub dim: usize,
    /// Members (flat), their count and mode labels.
    pub members: Option<Shown<'a>>,
    pub mean_std: Option<(Vec<f64>, Vec<f64>)>,
    pub truth: Option<&'a [f64]>,
    pub observations: &'a [Observation],
    /// Modes of the whole ensemble, drawn as dashed mean lines when there are several.
    pub modes: &'a [Mode],
    /// What the mean line is called (posterior or prior mean).
    pub mean_label: &'a str,
}

/// A field figure: labelled panels side by side.
pub struct FieldsFigure {
    pub title: String,
    pub panels: Vec<(String, FieldImage)>,
}

fn rgb(c: eframe::egui::Color32) -> RGBColor {
    RGBColor(c.r(), c.g(), c.b())
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

fn draw_series<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &SeriesFigure) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(&fig.title, ("sans-serif", 22))?;
    let panels = root.split_evenly((fig.components.len().max(1), 1));
    let per = fig.length * fig.dim;
    let stats = fig.mean_std.as_ref().filter(|(mean, std)| mean.len() == per && std.len() == per);
    for (row, ((c, name), area)) in fig.components.iter().zip(panels).enumerate() {
        let c = *c;
        let at = |v: &[f64], t: usize| v[t * fig.dim + c];
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        let mut extend = |v: f64| {
            if v.is_finite() {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        };
        if let Some(&Shown { values, members, .. }) = fig.members.as_ref() {
            for m in 0..members {
                for t in 0..fig.length {
                    extend(values[m * per + t * fig.dim + c] as f64);
                }
            }
        }
        if let Some((mean, std)) = stats {
            for t in 0..fig.length {
                extend(at(mean, t) - 2.0 * at(std, t));
                extend(at(mean, t) + 2.0 * at(std, t));
            }
        }
        if let Some(truth) = fig.truth {
            (0..fig.length).for_each(|t| extend(at(truth, t)));
        }
        for o in fig.observations.iter().filter(|o| o.op.indices() == [c]) {
            drawn_at(&o.op, o.value).into_iter().for_each(&mut extend);
        }
        if !lo.is_finite() {
            (lo, hi) = (-1.0, 1.0);
        }
        let pad = 0.05 * (hi - lo).max(1e-6);
        let last = fig.length.saturating_sub(1) as f64;
        let mut chart = ChartBuilder::on(&area)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..last, (lo - pad)..(hi + pad))?;
        chart
            .configure_mesh()
            .x_desc("state index")
            .y_desc(name.as_str())
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y}"))
            .light_line_style(WHITE)
            .draw()?;
        if let Some(&Shown { values, members, labels }) = fig.members.as_ref() {
            let alpha = (6.0 / members.max(1) as f64).clamp(0.1, 0.6);
            for m in 0..members {
                let colour = rgb(palette::mode(labels.and_then(|l| l.get(m).copied()).unwrap_or(0)));
                let points = (0..fig.length).map(|t| (t as f64, values[m * per + t * fig.dim + c] as f64));
                chart.draw_series(LineSeries::new(points, colour.mix(alpha)))?;
            }
        }
        let band_colour = RGBColor(200, 160, 0);
        if let Some((mean, std)) = stats {
            let upper: Vec<(f64, f64)> = (0..fig.length).map(|t| (t as f64, at(mean, t) + 2.0 * at(std, t))).collect();
            let lower: Vec<(f64, f64)> =
                (0..fig.length).rev().map(|t| (t as f64, at(mean, t) - 2.0 * at(std, t))).collect();
            let band: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
            chart
                .draw_series(std::iter::once(Polygon::new(band, band_colour.mix(0.2))))?
                .label(BAND)
                .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 18, y + 5)], band_colour.mix(0.3).filled()));
            let line = (0..fig.length).map(|t| (t as f64, at(mean, t)));
            let mean_colour = RGBColor(200, 150, 0);
            chart
                .draw_series(LineSeries::new(line, mean_colour.stroke_width(2)))?
                .label(fig.mean_label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], mean_colour.stroke_width(2)));
        }
        if fig.modes.len() > 1 {
            for (m, mode) in fig.modes.iter().enumerate().filter(|(_, mode)| mode.mean.len() == per) {
                let colour = rgb(palette::mode(m)).stroke_width(2);
                let line = (0..fig.length).map(|t| (t as f64, at(&mode.mean, t)));
                chart
                    .draw_series(DashedLineSeries::new(line, 6, 4, colour))?
                    .label(format!("mode {} ({:.0}%)", m + 1, 100.0 * mode.weight))
                    .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], colour));
            }
        }
        if let Some(truth) = fig.truth {
            let line = (0..fig.length).map(|t| (t as f64, at(truth, t)));
            chart
                .draw_series(LineSeries::new(line, BLACK.stroke_width(2)))?
                .label(TRUTH)
                .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], BLACK.stroke_width(2)));
        }
        let mut observed = false;
        for o in fig.observations.iter().filter(|o| o.op.indices() == [c]) {
            for y in drawn_at(&o.op, o.value) {
                let x = o.t as f64;
                let spread = error_bar(&o.op, o.std, y);
                chart.draw_series(std::iter::once(PathElement::new(vec![(x, y - spread), (x, y + spread)], RED)))?;
                let dot = chart.draw_series(std::iter::once(Circle::new((x, y), 3, RED.filled())))?;
                if !observed {
                    dot.label(OBSERVED).legend(|(x, y)| Circle::new((x + 9, y), 3, RED.filled()));
                    observed = true;
                }
            }
        }
        // One legend, on the first panel, out of the way of the data as far as a corner can be.
        if row == 0 {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK.mix(0.4))
                .label_font(("sans-serif", 13))
                .draw()?;
        }
    }
    Ok(())
}

fn draw_fields<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &FieldsFigure) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(&fig.title, ("sans-serif", 22))?;
    let panels = root.split_evenly((1, fig.panels.len().max(1)));
    for ((name, image), area) in fig.panels.iter().zip(panels) {
        let mut chart = ChartBuilder::on(&area)
            .margin(6)
            .caption(format!("{name} [{:.2}, {:.2}]", image.lo, image.hi), ("sans-serif", 14))
            .x_label_area_size(24)
            .y_label_area_size(32)
            .build_cartesian_2d(0f64..image.width as f64, image.height as f64..0f64)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc("station")
            .y_desc("state")
            .x_labels(5)
            .y_labels(6)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format!("{v:.0}"))
            .draw()?;
        chart.draw_series((0..image.height).flat_map(|r| (0..image.width).map(move |c| (r, c))).map(|(r, c)| {
            let [red, green, blue, _] = image.colormap.rgba8(image.values[r * image.width + c], image.lo, image.hi);
            Rectangle::new(
                [(c as f64, r as f64), (c as f64 + 1.0, r as f64 + 1.0)],
                RGBColor(red, green, blue).filled(),
            )
        }))?;
    }
    Ok(())
}

/// Draws with `draw` into an RGB picture of `size`.
fn render(
    size: (u32, u32),
    draw: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult,
) -> Result<image::RgbImage, String> {
    register_fonts();
    let mut pixels = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root).map_err(|e| format!("drawing failed: {e}"))?;
        root.present().map_err(|e| format!("drawing failed: {e}"))?;
    }
    image::RgbImage::from_raw(size.0, size.1, pixels).ok_or_else(|| "image buffer has the wrong size".into())
}

/// Draws with `draw` into `path`: SVG when it ends in `.svg`, PNG otherwise.
fn save(
    path: &Path,
    size: (u32, u32),
    draw: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult,
    draw_svg: impl Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
) -> Result<(), ExportError> {
    register_fonts();
    let failed = |message: String| ExportError::Format { path: path.into(), message };
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) {
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
            draw_svg(&root).map_err(|e| failed(format!("drawing failed: {e}")))?;
            root.present().map_err(|e| failed(format!("drawing failed: {e}")))?;
        }
        return write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()));
    }
    let image = render(size, draw).map_err(failed)?;
    write_atomically(path, |w| {
        image.write_to(w, image::ImageOutputFormat::Png).map_err(|e| std::io::Error::other(e.to_string()))
    })
}

fn series_size(fig: &SeriesFigure, width: u32) -> (u32, u32) {
    let row = (width * 13 / 60).max(120);
    (width, row * fig.components.len().max(1) as u32 + 40)
}

/// Figures side by side (SDA and a classical method), each in its own column.
fn draw_columns<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, figs: &[SeriesFigure]) -> DrawResult
where
    DB::ErrorType: 'static,
{
    for (fig, area) in figs.iter().zip(root.split_evenly((1, figs.len().max(1)))) {
        draw_series(&area, fig)?;
    }
    Ok(())
}

/// Saves series figures side by side, each 1200 pixels wide (one, or SDA and a comparison).
pub fn save_series(path: &Path, figs: &[SeriesFigure]) -> Result<(), ExportError> {
    let Some(first) = figs.first() else {
        return Err(ExportError::Format { path: path.into(), message: "nothing to draw".into() });
    };
    let (width, height) = series_size(first, 1200);
    let size = (width * figs.len() as u32, height);
    save(path, size, |root| draw_columns(root, figs), |root| draw_columns(root, figs))
}

/// A series figure `width` pixels wide, as a picture.
pub fn series_image(fig: &SeriesFigure, width: u32) -> Result<image::RgbImage, String> {
    render(series_size(fig, width), |root| draw_series(root, fig))
}

pub fn save_fields(path: &Path, fig: &FieldsFigure) -> Result<(), ExportError> {
    save(path, (1600, 640), |root| draw_fields(root, fig), |root| draw_fields(root, fig))
}

/// A field figure of `size`, as a picture.
pub fn fields_image(fig: &FieldsFigure, size: (u32, u32)) -> Result<image::RgbImage, String> {
    render(size, |root| draw_fields(root, fig))
}

/// A grid of fields: one row per quantity, one column per state (Kolmogorov snapshots).
pub struct FieldGridFigure {
    pub title: String,
    /// Column headings.
    pub columns: Vec<String>,
    /// Each row's name and its images, one per column.
    pub rows: Vec<(String, Vec<FieldImage>)>,
}

fn draw_grid<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, fig: &FieldGridFigure) -> DrawResult
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let root = root.titled(&fig.title, ("sans-serif", 20))?;
    let (label, header) = (110, 22);
    let (width, height) = root.dim_in_pixel();
    let columns = fig.columns.len().max(1);
    let cell_w = (width.saturating_sub(label) as usize / columns) as i32;
    let cell_h = (height.saturating_sub(header) as usize / fig.rows.len().max(1)) as i32;
    let cell = cell_w.min(cell_h).max(1) - 4;
    for (c, heading) in fig.columns.iter().enumerate() {
        let x = label as i32 + c as i32 * cell_w;
        root.draw(&Text::new(heading.as_str(), (x + 2, 4), ("sans-serif", 14)))?;
    }
    for (r, (name, images)) in fig.rows.iter().enumerate() {
        let y = header as i32 + r as i32 * cell_h;
        root.draw(&Text::new(name.as_str(), (4, y + cell / 2 - 7), ("sans-serif", 14)))?;
        for (c, image) in images.iter().enumerate().filter(|(_, i)| i.is_valid()) {
            let x = label as i32 + c as i32 * cell_w;
            let px = |k: usize, n: usize| (k as f64 * cell as f64 / n as f64).round() as i32;
            for row in 0..image.height {
                for col in 0..image.width {
                    let [red, green, blue, _] =
                        image.colormap.rgba8(image.values[row * image.width + col], image.lo, image.hi);
                    root.draw(&Rectangle::new(
                        [
                            (x + px(col, image.width), y + px(row, image.height)),
                            (x + px(col + 1, image.width), y + px(row + 1, image.height)),
                        ],
                        RGBColor(red, green, blue).filled(),
                    ))?;
                }
            }
        }
    }
    Ok(())
}

fn grid_size(fig: &FieldGridFigure, width: u32) -> (u32, u32) {
    let cell = (width.saturating_sub(110)) / fig.columns.len().max(1) as u32;
    (width, cell * fig.rows.len().max(1) as u32 + 22 + 30)
}

pub fn save_grid(path: &Path, fig: &FieldGridFigure) -> Result<(), ExportError> {
    save(path, grid_size(fig, 1200), |root| draw_grid(root, fig), |root| draw_grid(root, fig))
}

/// A grid figure `width` pixels wide, as a picture.
pub fn grid_image(fig: &FieldGridFigure, width: u32) -> Result<image::RgbImage, String> {
    render(grid_size(fig, width), |root| draw_grid(root, fig))
}
