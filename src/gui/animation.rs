//! Animated GIFs of a finished run's reverse diffusion: one picture of a view per stored replay
//! frame, captioned with its step and diffusion time, drawn and encoded off the UI thread.

use std::path::Path;

use super::run_state::RunState;
use crate::export::{ExportError, write_atomically};

/// Draws one replay frame of a view: the run scrubbed to that frame, and the figure's title.
pub type DrawFrame = Box<dyn Fn(&RunState, &str) -> Result<image::RgbImage, String> + Send>;

/// Most pictures in one GIF: a longer replay is thinned evenly, keeping its first and last.
pub const MAX_FRAMES: usize = 80;

/// Hundredths of a second each picture shows, and the last one (the posterior) for longer.
const DELAY: u16 = 10;
const LAST_DELAY: u16 = 300;

/// A finished run's replay and how a view draws it.
pub struct Animation {
    pub run: RunState,
    pub title: String,
    pub draw: DrawFrame,
}

/// The replay positions drawn for a history of `frames`: all of them, or `MAX_FRAMES` spread
/// evenly from the first to the last.
pub fn positions(frames: usize) -> Vec<usize> {
    if frames <= MAX_FRAMES {
        return (0..frames).collect();
    }
    let mut at: Vec<usize> =
        (0..MAX_FRAMES).map(|k| (k as f64 * (frames - 1) as f64 / (MAX_FRAMES - 1) as f64).round() as usize).collect();
    at.dedup();
    at
}

impl Animation {
    /// Writes the GIF (atomically, looping); returns the number of pictures.
    pub fn write_gif(&self, path: &Path) -> Result<usize, ExportError> {
        let failed = |message: String| ExportError::Format { path: path.into(), message };
        let history = self.run.finished.as_ref().map(|f| f.history.len()).unwrap_or(0);
        if history == 0 {
            return Err(failed("no finished run to animate".into()));
        }
        let at = positions(history);
        let mut run = self.run.clone();
        let mut picture = |k: usize| -> Result<image::RgbImage, String> {
            run.scrub = k;
            let caption = match run.frame_shown() {
                Some(f) => format!("{} — step {}/{}, t = {:.3}", self.title, f.step, f.steps, f.t),
                None => self.title.clone(),
            };
            (self.draw)(&run, &caption)
        };
        let first = picture(at[0]).map_err(failed)?;
        let (width, height) = first.dimensions();
        let (w, h) = (u16::try_from(width), u16::try_from(height));
        let (Ok(w), Ok(h)) = (w, h) else {
            return Err(failed(format!("a {width}×{height} picture is too large for a GIF")));
        };
        let other = |e: String| std::io::Error::other(e);
        write_atomically(path, |out| {
            let mut encoder = gif::Encoder::new(out, w, h, &[]).map_err(|e| other(e.to_string()))?;
            encoder.set_repeat(gif::Repeat::Infinite).map_err(|e| other(e.to_string()))?;
            for (n, &k) in at.iter().enumerate() {
                let image = if n == 0 { first.clone() } else { picture(k).map_err(other)? };
                if image.dimensions() != (width, height) {
                    return Err(other(format!("replay frame {k} was drawn at another size")));
                }
                let mut frame = gif::Frame::from_rgb_speed(w, h, image.as_raw(), 10);
                frame.delay = if n + 1 == at.len() { LAST_DELAY } else { DELAY };
                encoder.write_frame(&frame).map_err(|e| other(e.to_string()))?;
            }
            Ok(())
        })?;
        Ok(at.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_replays_are_thinned_keeping_both_ends() {
        assert_eq!(positions(5), vec![0, 1, 2, 3, 4]);
        let at = positions(257);
        assert_eq!(at.len(), MAX_FRAMES);
        assert_eq!((at[0], at[at.len() - 1]), (0, 256));
        assert!(at.windows(2).all(|w| w[0] < w[1]));
    }
}
