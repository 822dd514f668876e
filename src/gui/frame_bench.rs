//! The GUI benchmark (`sdalab --preset NAME --bench-gui FILE`): frame times while a job streams
//! frames, how soon the UI thread answers a wake-up while the worker samples (what an input
//! event waits for: a menu opening, a dropdown), then the time from an observation edit to the
//! first frame of the job that replaces it, and from a cancel to the job's end.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use eframe::egui;

/// How often the probe wakes the UI while sampling.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// A thread that, like input arriving from the system, wakes the UI at times of its own and
/// notes when; the next frame measures how long the wake-up waited.
pub struct WakeProbe {
    woken_at: Arc<Mutex<Option<Instant>>>,
    stop: Arc<AtomicBool>,
}

impl WakeProbe {
    pub fn start(ctx: &egui::Context) -> Self {
        let woken_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
        let stop = Arc::new(AtomicBool::new(false));
        let (at, halt, ctx) = (woken_at.clone(), stop.clone(), ctx.clone());
        // Without the thread the benchmark still runs; the latency row then stays empty.
        let _ = std::thread::Builder::new().name("sdalab-wake-probe".into()).spawn(move || {
            while !halt.load(Ordering::Relaxed) {
                std::thread::sleep(PROBE_EVERY);
                let mut slot = at.lock().unwrap_or_else(|e| e.into_inner());
                if slot.is_none() {
                    *slot = Some(Instant::now());
                    ctx.request_repaint();
                }
            }
        });
        Self { woken_at, stop }
    }

    /// How long the last wake-up waited for this frame, if one is pending.
    pub fn answered(&self) -> Option<Duration> {
        self.woken_at.lock().unwrap_or_else(|e| e.into_inner()).take().map(|t| t.elapsed())
    }
}

impl Drop for WakeProbe {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Where the benchmark stands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Phase {
    /// The first job streams; frames are timed.
    Streaming,
    /// An observation was added at `edit`; waiting for the replacing job's first frame.
    Edited {
        edit: Instant,
    },
    /// A new job was started to be cancelled once its first frame is shown.
    Restarted,
    /// Cancel was asked for at `at`; waiting for the job to end.
    Cancelling {
        at: Instant,
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
    /// Wake-up → frame start while sampling, and while not (ms).
    wake_ms: Vec<f64>,
    idle_wake_ms: Vec<f64>,
    pub probe: Option<WakeProbe>,
    /// Cancel → the job reported cancelled (ms).
    pub cancel_ms: f64,
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
            wake_ms: Vec::new(),
            idle_wake_ms: Vec::new(),
            probe: None,
            cancel_ms: f64::NAN,
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

    /// Records a frame drawn while no job runs (a wake-up it answered is the baseline).
    pub fn record_idle(&mut self) {
        if let Some(waited) = self.probe.as_ref().and_then(WakeProbe::answered) {
            self.idle_wake_ms.push(waited.as_secs_f64() * 1e3);
        }
    }

    /// Records one frame drawn while a job runs (the streaming phase's frames are timed).
    pub fn record(&mut self, build: Duration, cpu: Option<f32>, new_frame: bool) {
        if let Some(waited) = self.probe.as_ref().and_then(WakeProbe::answered) {
            self.wake_ms.push(waited.as_secs_f64() * 1e3);
        }
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
             | per frame (ms) | frames | median | p99 | max |\n|---|---|---|---|---|\n{}{}{}{}\n\
             Worker frames shown: {} in {secs:.1} s ({:.1}/s). The lesson's posterior took {:.2} s.\n\n\
             Observation edit → replacing job starts: {:.0} ms; job start → its first frame ({first}): {:.0} ms; \
             edit → first new frame: {:.0} ms. Edit → draft done: {:.0} ms; edit → full posterior done: {:.2} s.\n\n\
             Cancel while sampling → the job has stopped: {:.0} ms.\n",
            line("building the UI (`App::ui`)", &self.build_ms),
            line("eframe CPU time (UI + tessellation + paint)", &self.cpu_ms),
            line("a wake-up (as by input) waits for its frame, while sampling", &self.wake_ms),
            line("the same, while no job runs", &self.idle_wake_ms),
            self.frames_shown,
            self.frames_shown as f64 / secs.max(1e-9),
            self.run_seconds,
            self.edit_to_start_ms,
            self.start_to_frame_ms,
            self.edit_to_start_ms + self.start_to_frame_ms,
            self.draft_done_ms,
            self.full_done_s,
            self.cancel_ms
        )
    }
}
