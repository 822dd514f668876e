//! Exported figures of the current view, drawn with plotters as PNG or SVG (chosen by the file
//! extension) and written atomically.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::palette;
use super::run_state::Shown;
use super::tools::drawn_at;
use crate::export::{ExportError, register_fonts, write_atomically};
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
    for ((c, name), area) in fig.components.iter().zip(panels) {
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
        let mut chart = ChartBuilder::on(&area)
            .margin(8)
            .x_label_area_size(28)
            .y_label_area_size(48)
            .build_cartesian_2d(0f64..(fig.length.saturating_sub(1)) as f64, (lo - pad)..(hi + pad))?;
        chart.configure_mesh().x_desc("state index").y_desc(name.as_str()).light_line_style(WHITE).draw()?;
        if let Some(&Shown { values, members, labels }) = fig.members.as_ref() {
            let alpha = (6.0 / members.max(1) as f64).clamp(0.1, 0.6);
            for m in 0..members {
                let colour = rgb(palette::mode(labels.and_then(|l| l.get(m).copied()).unwrap_or(0)));
                let points = (0..fig.length).map(|t| (t as f64, values[m * per + t * fig.dim + c] as f64));
                chart.draw_series(LineSeries::new(points, colour.mix(alpha)))?;
            }
        }
        if let Some((mean, std)) = &fig.mean_std
            && mean.len() == per
        {
            let upper: Vec<(f64, f64)> = (0..fig.length).map(|t| (t as f64, at(mean, t) + 2.0 * at(std, t))).collect();
            let lower: Vec<(f64, f64)> =
                (0..fig.length).rev().map(|t| (t as f64, at(mean, t) - 2.0 * at(std, t))).collect();
            let band: Vec<(f64, f64)> = upper.into_iter().chain(lower).collect();
            chart.draw_series(std::iter::once(Polygon::new(band, RGBColor(200, 160, 0).mix(0.2))))?;
            let line = (0..fig.length).map(|t| (t as f64, at(mean, t)));
            chart.draw_series(LineSeries::new(line, RGBColor(200, 150, 0).stroke_width(2)))?.label("posterior mean");
        }
        if let Some(truth) = fig.truth {
            let line = (0..fig.length).map(|t| (t as f64, at(truth, t)));
            chart.draw_series(LineSeries::new(line, BLACK.stroke_width(2)))?.label("truth");
        }
        for o in fig.observations.iter().filter(|o| o.op.indices() == [c]) {
            for y in drawn_at(&o.op, o.value) {
                let x = o.t as f64;
                chart.draw_series(std::iter::once(PathElement::new(
                    vec![(x, y - 2.0 * o.std), (x, y + 2.0 * o.std)],
                    RED,
                )))?;
                chart.draw_series(std::iter::once(Circle::new((x, y), 3, RED.filled())))?;
            }
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
        chart.configure_mesh().disable_mesh().x_desc("station").y_desc("state").draw()?;
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

/// Draws with `draw` into `path`: SVG when it ends in `.svg`, PNG otherwise.
fn save(
    path: &Path,
    size: (u32, u32),
    draw: impl Fn(&DrawingArea<BitMapBackend, Shift>) -> DrawResult,
    draw_svg: impl Fn(&DrawingArea<SVGBackend, Shift>) -> DrawResult,
) -> Result<(), ExportError> {
    register_fonts();
    let failed = |e: Box<dyn std::error::Error>| ExportError::Format {
        path: path.into(),
        message: format!("drawing failed: {e}"),
    };
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("svg")) {
        let mut text = String::new();
        {
            let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
            draw_svg(&root).map_err(failed)?;
            root.present().map_err(|e| failed(Box::new(e)))?;
        }
        return write_atomically(path, |w| std::io::Write::write_all(w, text.as_bytes()));
    }
    let mut pixels = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let root = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw(&root).map_err(failed)?;
        root.present().map_err(|e| failed(Box::new(e)))?;
    }
    let image = image::RgbImage::from_raw(size.0, size.1, pixels)
        .ok_or_else(|| ExportError::Format { path: path.into(), message: "image buffer has the wrong size".into() })?;
    write_atomically(path, |w| {
        image.write_to(w, image::ImageOutputFormat::Png).map_err(|e| std::io::Error::other(e.to_string()))
    })
}

pub fn save_series(path: &Path, fig: &SeriesFigure) -> Result<(), ExportError> {
    let height = 260 * fig.components.len().max(1) as u32 + 40;
    save(path, (1200, height), |root| draw_series(root, fig), |root| draw_series(root, fig))
}

pub fn save_fields(path: &Path, fig: &FieldsFigure) -> Result<(), ExportError> {
    save(path, (1600, 640), |root| draw_fields(root, fig), |root| draw_fields(root, fig))
}
