//! The automation hook: `--run` starts the lesson at once, `--record FILE.gif` writes the
//! finished run's reverse diffusion as an animation, `--screenshot FILE` saves the window once
//! the run has finished (each closes the window when done), `--bench-gui FILE` runs the GUI
//! benchmark ([`super::frame_bench`]) and writes its report.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, unbounded};
use eframe::egui::{self, ColorImage, ViewportCommand};

use super::app::AppOptions;
use super::editor::ValueSource;
use super::frame_bench::{FrameBench, Phase};
use super::run_state::Status;
use super::session::{Session, Startup};
use super::view::ViewRegistry;

/// What the automation reports to `run_app` when the window closes.
pub type Outcome = Arc<Mutex<Option<Result<(), String>>>>;

/// Where the automation stands.
enum Stage {
    Off,
    WaitingForRun {
        deadline: Instant,
    },
    /// Frames to draw after the run finished, so the window shows the final state.
    Settling(u32),
    /// Waiting for the loader to write the animation.
    Recording,
    Capturing(Receiver<Arc<ColorImage>>),
    Done,
}

pub struct Automation {
    stage: Stage,
    screenshot: Option<PathBuf>,
    /// The animation to write, until it is asked for.
    record: Option<PathBuf>,
    /// An animation was asked for (the window closes when everything is done).
    records: bool,
    bench: Option<FrameBench>,
    outcome: Outcome,
    screenshot_tx: Sender<Arc<ColorImage>>,
    screenshot_rx: Receiver<Arc<ColorImage>>,
}

impl Automation {
    pub fn new(options: &AppOptions, outcome: Outcome) -> Self {
        let (screenshot, record, bench) = (options.screenshot.clone(), options.record.clone(), options.bench.clone());
        let (screenshot_tx, screenshot_rx) = unbounded();
        let stage = if options.run || screenshot.is_some() || bench.is_some() || record.is_some() {
            Stage::WaitingForRun { deadline: Instant::now() + Duration::from_secs(900) }
        } else {
            Stage::Off
        };
        Self {
            stage,
            screenshot,
            records: record.is_some(),
            record,
            bench: bench.map(FrameBench::new),
            outcome,
            screenshot_tx,
            screenshot_rx,
        }
    }

    /// Whether the window closes by itself (a screenshot or a benchmark).
    pub fn closes_window(&self) -> bool {
        self.screenshot.is_some() || self.bench.is_some() || self.records
    }

    /// Records one frame's build time for the benchmark.
    pub fn record(&mut self, session: &Session, build: Duration, cpu: Option<f32>, new_frame: bool) {
        if session.run.status == Status::Running
            && let Some(bench) = self.bench.as_mut()
        {
            bench.record(build, cpu, new_frame);
        }
        // Wake-ups between runs are the baseline.
        if session.run.status != Status::Running
            && let Some(bench) = self.bench.as_mut()
        {
            bench.record_idle();
        }
    }

    /// Advances the automation by one frame.
    pub fn step(&mut self, ctx: &egui::Context, session: &mut Session, views: &ViewRegistry) {
        if matches!(self.stage, Stage::Off | Stage::Done) {
            return;
        }
        if let Startup::Failed(reason) = &session.startup {
            let reason = reason.clone();
            return self.finish(ctx, session, Err(reason));
        }
        if self.bench.is_some() {
            return self.bench_step(ctx, session);
        }
        match &self.stage {
            Stage::Off | Stage::Done => {}
            Stage::WaitingForRun { deadline } => {
                let deadline = *deadline;
                match &session.run.status {
                    Status::Done => self.stage = Stage::Settling(3),
                    Status::Failed(reason) => {
                        let reason = format!("the run failed: {reason}");
                        self.finish(ctx, session, Err(reason))
                    }
                    Status::Cancelled => self.finish(ctx, session, Err("the run was cancelled".into())),
                    _ if Instant::now() > deadline => {
                        self.finish(ctx, session, Err("the run did not finish in 15 minutes".into()))
                    }
                    _ => ctx.request_repaint_after(Duration::from_millis(100)),
                }
            }
            Stage::Settling(n) => {
                let n = *n;
                if n > 0 {
                    self.stage = Stage::Settling(n - 1);
                    ctx.request_repaint();
                } else if let Some(path) = self.record.take() {
                    match session.export_animation(&path, views, session.view) {
                        Ok(_) => self.stage = Stage::Recording,
                        Err(reason) => self.finish(ctx, session, Err(reason)),
                    }
                    ctx.request_repaint_after(Duration::from_millis(100));
                } else if self.screenshot.is_none() {
                    if self.records {
                        self.finish(ctx, session, Ok(()));
                    } else {
                        self.stage = Stage::Done;
                    }
                } else {
                    let tx = self.screenshot_tx.clone();
                    let repaint = ctx.clone();
                    ctx.request_screenshot(move |image| {
                        let _ = tx.send(image);
                        repaint.request_repaint();
                    });
                    self.stage = Stage::Capturing(self.screenshot_rx.clone());
                }
            }
            Stage::Recording => match session.animation_written.take() {
                Some(Ok(_)) => {
                    self.stage = Stage::Settling(0);
                    ctx.request_repaint();
                }
                Some(Err(reason)) => self.finish(ctx, session, Err(reason)),
                None => ctx.request_repaint_after(Duration::from_millis(100)),
            },
            Stage::Capturing(rx) => {
                if let Ok(image) = rx.try_recv() {
                    let result = match &self.screenshot {
                        Some(path) => save_screenshot(path, &image),
                        None => Ok(()),
                    };
                    self.finish(ctx, session, result);
                } else {
                    ctx.request_repaint_after(Duration::from_millis(50));
                }
            }
        }
    }

    /// The benchmark's script: stream a job, then add an observation and time the re-run.
    fn bench_step(&mut self, ctx: &egui::Context, session: &mut Session) {
        let current = session.current();
        let Some(bench) = self.bench.as_mut() else { return };
        if bench.probe.is_none() && bench.phase != Phase::Done {
            bench.probe = Some(super::frame_bench::WakeProbe::start(ctx));
        }
        match (bench.phase, &session.run.status) {
            (_, Status::Failed(reason)) => {
                let reason = format!("the run failed: {reason}");
                self.finish(ctx, session, Err(reason));
            }
            (Phase::Streaming, Status::Done) => {
                bench.run_seconds = session.run.finished.as_ref().map_or(f64::NAN, |f| f.timing.seconds);
                let t = session.editor.scenario().length / 2 + 1;
                let op = session.tools.operator(0);
                let edit = Instant::now();
                match session.editor.add(t, op, session.tools.std, ValueSource::Truth) {
                    Ok(_) => {
                        bench.phase = Phase::Edited { edit };
                        // As after an edit made with the mouse, in the same frame.
                        if let Some(after) = session.debounce() {
                            ctx.request_repaint_after(after);
                        }
                    }
                    Err(e) => {
                        let reason = format!("the benchmark's edit failed: {e}");
                        self.finish(ctx, session, Err(reason));
                    }
                }
            }
            (Phase::Edited { edit }, status) => {
                let run = &session.run;
                if let Some(first) = run.first_frame.filter(|_| current && bench.start_to_frame_ms.is_nan()) {
                    bench.edit_to_start_ms = (run.asked_at - edit).as_secs_f64() * 1e3;
                    bench.start_to_frame_ms = first * 1e3;
                    bench.first_was_draft = run.draft;
                }
                let done = current && *status == Status::Done;
                if done && run.draft && bench.draft_done_ms.is_nan() {
                    bench.draft_done_ms = edit.elapsed().as_secs_f64() * 1e3;
                }
                if done && !run.draft {
                    bench.full_done_s = edit.elapsed().as_secs_f64();
                    bench.phase = Phase::Restarted;
                    session.start_run();
                }
                // The worker wakes the GUI when a frame or event arrives; this is a fallback.
                ctx.request_repaint_after(Duration::from_millis(250));
            }
            (Phase::Restarted, Status::Running) if session.run.first_frame.is_some() => {
                session.worker.cancel();
                bench.phase = Phase::Cancelling { at: Instant::now() };
            }
            (Phase::Restarted, Status::Done) => {
                self.finish(ctx, session, Err("the run to cancel finished before its first frame was seen".into()));
            }
            (Phase::Cancelling { at }, status) => {
                if matches!(status, Status::Cancelled) {
                    bench.cancel_ms = at.elapsed().as_secs_f64() * 1e3;
                    bench.phase = Phase::Done;
                    bench.probe = None;
                    let run = &session.run;
                    let report = bench.report(&session.title(), &run.device);
                    let result = crate::export::write_atomically(&bench.out, |w| {
                        std::io::Write::write_all(w, report.as_bytes())
                    })
                    .map_err(|e| e.to_string());
                    self.finish(ctx, session, result);
                } else if matches!(status, Status::Done) {
                    self.finish(ctx, session, Err("the cancelled run finished instead".into()));
                } else {
                    ctx.request_repaint_after(Duration::from_millis(20));
                }
            }
            _ => ctx.request_repaint_after(Duration::from_millis(250)),
        }
    }

    fn finish(&mut self, ctx: &egui::Context, session: &mut Session, result: Result<(), String>) {
        if let Err(reason) = &result {
            session.say(reason.clone());
        }
        *self.outcome.lock().unwrap_or_else(|e| e.into_inner()) = Some(result);
        self.stage = Stage::Done;
        if self.closes_window() {
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
    }
}

/// Saves an egui screenshot as PNG, atomically.
fn save_screenshot(path: &Path, image: &ColorImage) -> Result<(), String> {
    let [w, h] = image.size;
    let bytes: Vec<u8> = image.pixels.iter().flat_map(|c| c.to_array()).collect();
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, bytes).ok_or("screenshot has an unexpected size")?;
    crate::export::write_atomically(path, |out| {
        buffer.write_to(out, image::ImageOutputFormat::Png).map_err(|e| std::io::Error::other(e.to_string()))
    })
    .map_err(|e| format!("cannot save the screenshot: {e}"))
}
