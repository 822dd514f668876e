//! The GUI benchmark (`sdalab --preset NAME --bench-gui FILE`): frame times while a job streams
//! frames, then the time from an observation edit to the first frame of the job that replaces it.

use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Where the benchmark stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// The first job streams; frames are timed.
    Streaming,
    /// An observation was added at `edit`; waiting for the replacing job's first frame.
    Edited {
        edit: Instant,
    },
    Done,
}

/// Frame-time samples and the edit latency.
pub struct FrameBench {
    pub out: PathBuf,
    pub phase: Phase,
    /// Time spent building the UI in `App::ui`, per frame (ms).
    build_ms: Vec<f64>,
    /// eframe's CPU time per frame: UI, tessellation and painting (ms).
    cpu_ms: Vec<f64>,
    /// Worker frames that reached the screen.
    frames_shown: usize,
    /// Frames drawn per second while streaming.
    started: Option<Instant>,
    streamed_for: Duration,
    /// The first job's sampling time (s).
    pub run_seconds: f64,
    /// Edit → the replacing job starts and job start → its first frame, in ms.
    pub edit_to_start_ms: f64,
    pub start_to_frame_ms: f64,
    /// Whether that first frame was a draft's.
    pub first_was_draft: bool,
    /// Edit → the draft done (ms) and edit → the full posterior done (s).
    pub draft_done_ms: f64,
    pub full_done_s: f64,
}

fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * (v.len() - 1) as f64).round() as usize;
    v[rank.min(v.len() - 1)]
}

impl FrameBench {
    pub fn new(out: PathBuf) -> Self {
        Self {
            out,
            phase: Phase::Streaming,
            build_ms: Vec::new(),
            cpu_ms: Vec::new(),
            frames_shown: 0,
            started: None,
            streamed_for: Duration::ZERO,
            run_seconds: f64::NAN,
            edit_to_start_ms: f64::NAN,
            start_to_frame_ms: f64::NAN,
            first_was_draft: false,
            draft_done_ms: f64::NAN,
            full_done_s: f64::NAN,
        }
    }

    /// Records one frame drawn while the first job streams.
    pub fn record(&mut self, build: Duration, cpu: Option<f32>, new_frame: bool) {
        if self.phase != Phase::Streaming {
            return;
        }
        let now = Instant::now();
        let started = *self.started.get_or_insert(now);
        self.streamed_for = now - started;
        self.build_ms.push(build.as_secs_f64() * 1e3);
        if let Some(cpu) = cpu {
            self.cpu_ms.push(f64::from(cpu) * 1e3);
        }
        self.frames_shown += usize::from(new_frame);
    }

    /// The report, as markdown.
    pub fn report(&self, title: &str, device: &str) -> String {
        let line = |name: &str, v: &[f64]| {
            format!(
                "| {name} | {} | {:.2} | {:.2} | {:.2} |\n",
                v.len(),
                percentile(v, 50.0),
                percentile(v, 99.0),
                percentile(v, 100.0)
            )
        };
        let secs = self.streamed_for.as_secs_f64();
        let first = if self.first_was_draft { "the draft's" } else { "the full job's" };
        format!(
            "# GUI benchmark: {title}\n\nSampling on {device} while the window redraws.\n\n\
             | per frame (ms) | frames | median | p99 | max |\n|---|---|---|---|---|\n{}{}\n\
             Worker frames shown: {} in {secs:.1} s ({:.1}/s). The lesson's posterior took {:.2} s.\n\n\
             Observation edit → replacing job starts: {:.0} ms; job start → its first frame ({first}): {:.0} ms; \
             edit → first new frame: {:.0} ms. Edit → draft done: {:.0} ms; edit → full posterior done: {:.2} s.\n",
            line("building the UI (`App::ui`)", &self.build_ms),
            line("eframe CPU time (UI + tessellation + paint)", &self.cpu_ms),
            self.frames_shown,
            self.frames_shown as f64 / secs.max(1e-9),
            self.run_seconds,
            self.edit_to_start_ms,
            self.start_to_frame_ms,
            self.edit_to_start_ms + self.start_to_frame_ms,
            self.draft_done_ms,
            self.full_done_s
        )
    }
}
