//! The worker protocol: events in order, cancellation within one network evaluation, a new run
//! replacing the old, a panicking job reported as `Failed` with the worker still serving, the
//! newest frame winning the mailbox, and a joined shutdown.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use candle_core::{DType, Device, Tensor};
use crossbeam_channel::{Receiver, Sender, bounded};
use sdalab::dynamics::System;
use sdalab::sampler::{Guidance, SamplerPlan};
use sdalab::scenario::Scenario;
use sdalab::score::{ExactGaussianScore, ScoreError, TrajectoryScore};
use sdalab::worker::{Event, Job, JobId, PriorSpec, Worker};

const WAIT: Duration = Duration::from_secs(120);

fn scenario() -> Scenario {
    Scenario::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/linear-rotation.json")).unwrap()
}

fn job(prior: PriorSpec, samples: usize, steps: usize, corrections: usize) -> Job {
    Job {
        scenario: scenario(),
        prior,
        guidance: Guidance::Sda { gamma: 1e-2 },
        plan: SamplerPlan { samples, steps, corrections, tau: 0.25, seed: 3 },
        frame_members: 8,
        modes_every: 4,
        compare: None,
        max_modes: 3,
        reuse: None,
    }
}

fn exact_score() -> Arc<dyn TrajectoryScore> {
    let s = scenario();
    let System::Linear(model) = &s.system else { panic!("linear scenario expected") };
    let prior = model.trajectory_prior(s.length);
    Arc::new(ExactGaussianScore::whole(&prior, s.system.chain().normalisation(), DType::F32, &Device::Cpu).unwrap())
}

/// The exact score, counting its evaluations; at evaluation `stop_at` it tells the test and
/// waits until the test lets it go on.
struct Gate {
    inner: Arc<dyn TrajectoryScore>,
    calls: Arc<AtomicUsize>,
    stop_at: usize,
    reached: Sender<()>,
    release: Mutex<Receiver<()>>,
}

impl TrajectoryScore for Gate {
    fn epsilon(&self, x: &Tensor, t: f64) -> Result<Tensor, ScoreError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n == self.stop_at {
            self.reached.send(()).unwrap();
            self.release.lock().unwrap().recv_timeout(WAIT).unwrap();
        }
        self.inner.epsilon(x, t)
    }
}

struct Gated {
    prior: PriorSpec,
    calls: Arc<AtomicUsize>,
    reached: Receiver<()>,
    release: Sender<()>,
}

fn gated(stop_at: usize) -> Gated {
    let (reached_tx, reached) = bounded(1);
    let (release, release_rx) = bounded(1);
    let calls = Arc::new(AtomicUsize::new(0));
    let gate = Gate {
        inner: exact_score(),
        calls: calls.clone(),
        stop_at,
        reached: reached_tx,
        release: Mutex::new(release_rx),
    };
    Gated { prior: PriorSpec::Custom { name: "gate".into(), score: Arc::new(gate) }, calls, reached, release }
}

fn next_event(worker: &Worker) -> Event {
    worker.events().recv_timeout(WAIT).expect("the worker should report within the timeout")
}

/// Events of `job` until its final one (Finished, Failed or Cancelled), which is returned last.
fn events_until_end(worker: &Worker, job: JobId) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let event = next_event(worker);
        assert_eq!(event.job(), job, "events of another job interleaved: {event:?}");
        let last = matches!(event, Event::Finished(_) | Event::Failed { .. } | Event::Cancelled { .. });
        seen.push(event);
        if last {
            return seen;
        }
    }
}

#[test]
fn a_run_reports_started_reference_then_finished_with_every_frame() {
    let wakes = Arc::new(AtomicUsize::new(0));
    let w = wakes.clone();
    let mut worker = Worker::spawn(Box::new(move || {
        w.fetch_add(1, Ordering::SeqCst);
    }))
    .unwrap();
    let id = worker.run(job(PriorSpec::ExactLinear { window: None }, 32, 12, 1));
    let events = events_until_end(&worker, id);
    assert!(matches!(events[0], Event::Started { evaluations: 24, .. }), "{:?}", events[0]);
    let Event::Reference(reference) = &events[1] else { panic!("expected the Kalman reference, got {:?}", events[1]) };
    let Event::Finished(done) = events.last().unwrap() else { panic!("expected Finished, got {:?}", events.last()) };
    assert_eq!(events.len(), 3);

    let s = scenario();
    let dim = s.state_dim();
    assert_eq!(done.samples, 32);
    assert_eq!(done.ensemble.len(), 32 * s.length * dim);
    assert_eq!(done.history.len(), 12);
    for (i, frame) in done.history.iter().enumerate() {
        assert_eq!(frame.step, i + 1);
        assert_eq!(frame.members, 8);
        assert_eq!(frame.x.len(), 8 * s.length * dim);
        assert_eq!(frame.evaluations, 2 * (i + 1));
        assert_eq!(frame.labels.is_some(), (i + 1) % 4 == 0 || i + 1 == 12);
    }
    // The observation misfit shrinks as the noise is removed.
    assert!(done.history[11].misfit < done.history[0].misfit, "misfit should fall");
    // Every member of the final frame is the same trajectory as in the finished ensemble.
    let last = &done.history[11];
    assert!(last.x.iter().zip(done.ensemble.iter()).all(|(a, b)| (a - b).abs() <= 1e-5 * (1.0 + b.abs())));
    // The ensemble mean follows the exact posterior mean: RMS of the standardised error under 1
    // (32 members give a standard error of 0.18; the prior mean is several posterior stds away).
    let n = s.length * dim;
    let z2: f64 = (0..n)
        .map(|i| {
            let mean = done.ensemble.iter().skip(i).step_by(n).map(|&v| v as f64).sum::<f64>() / 32.0;
            ((mean - reference.mean[i]) / reference.std[i]).powi(2)
        })
        .sum();
    let rms = (z2 / n as f64).sqrt();
    assert!(rms < 1.0, "standardised RMS error of the ensemble mean {rms}");
    // One wake per frame and per event at least.
    assert!(wakes.load(Ordering::SeqCst) >= 12 + 3);
    worker.shutdown().unwrap();
}

#[test]
fn cancel_stops_the_job_before_its_next_network_evaluation() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let g = gated(5);
    let id = worker.run(job(g.prior.clone(), 4, 100, 1));
    g.reached.recv_timeout(WAIT).unwrap();
    worker.cancel();
    g.release.send(()).unwrap();
    let events = events_until_end(&worker, id);
    assert!(matches!(events.last(), Some(Event::Cancelled { .. })), "{events:?}");
    assert_eq!(g.calls.load(Ordering::SeqCst), 5, "no evaluation may start after the cancel");
    worker.shutdown().unwrap();
}

#[test]
fn a_new_run_replaces_the_running_job() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let g = gated(3);
    let first = worker.run(job(g.prior.clone(), 4, 100, 0));
    g.reached.recv_timeout(WAIT).unwrap();
    let second = worker.run(job(PriorSpec::ExactLinear { window: None }, 8, 6, 0));
    g.release.send(()).unwrap();
    let events = events_until_end(&worker, first);
    assert!(matches!(events.last(), Some(Event::Cancelled { .. })));
    assert_eq!(g.calls.load(Ordering::SeqCst), 3);
    let events = events_until_end(&worker, second);
    assert!(matches!(events.last(), Some(Event::Finished(_))), "{events:?}");
    worker.shutdown().unwrap();
}

/// A score that panics, as a bug would.
struct Broken;

impl TrajectoryScore for Broken {
    fn epsilon(&self, _: &Tensor, _: f64) -> Result<Tensor, ScoreError> {
        panic!("broken score")
    }
}

#[test]
fn a_panicking_job_fails_and_the_worker_serves_the_next() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let id = worker.run(job(PriorSpec::Custom { name: "broken".into(), score: Arc::new(Broken) }, 4, 4, 0));
    let events = events_until_end(&worker, id);
    let Some(Event::Failed { reason, .. }) = events.last() else { panic!("expected Failed, got {events:?}") };
    assert!(reason.contains("broken score"), "{reason}");
    let id = worker.run(job(PriorSpec::ExactLinear { window: None }, 4, 4, 0));
    assert!(matches!(events_until_end(&worker, id).last(), Some(Event::Finished(_))));
    assert!(worker.is_alive());
    worker.shutdown().unwrap();
}

#[test]
fn bad_jobs_fail_with_a_reason() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let id = worker.run(job(PriorSpec::Checkpoint("/no/such/checkpoint".into()), 4, 4, 0));
    let Some(Event::Failed { reason, .. }) = events_until_end(&worker, id).pop() else { panic!("expected Failed") };
    assert!(reason.contains("/no/such/checkpoint"), "{reason}");
    let mut bad = job(PriorSpec::ExactLinear { window: None }, 4, 4, 0);
    bad.scenario.observations[0].std = -1.0;
    let id = worker.run(bad);
    let Some(Event::Failed { reason, .. }) = events_until_end(&worker, id).pop() else { panic!("expected Failed") };
    assert!(reason.contains("observations[0]"), "{reason}");
    worker.shutdown().unwrap();
}

#[test]
fn the_newest_frame_wins_the_mailbox() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let id = worker.run(job(PriorSpec::ExactLinear { window: None }, 4, 20, 0));
    assert!(matches!(events_until_end(&worker, id).last(), Some(Event::Finished(_))));
    let frame = worker.latest_frame().expect("the last frame waits in the mailbox");
    assert_eq!((frame.job, frame.step), (id, 20));
    assert!(worker.latest_frame().is_none(), "older frames were replaced, not queued");
    worker.shutdown().unwrap();
}

#[test]
fn shutdown_cancels_a_long_job_and_joins() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    worker.run(job(PriorSpec::ExactLinear { window: None }, 64, 1_000_000, 4));
    worker.frames().recv_timeout(WAIT).expect("the job is running");
    worker.shutdown().unwrap();
}

#[test]
fn a_paused_job_waits_and_steps_one_at_a_time() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    worker.pause(true);
    let id = worker.run(job(PriorSpec::ExactLinear { window: None }, 4, 10, 0));
    let first = worker.frames().recv_timeout(WAIT).unwrap();
    assert_eq!((first.job, first.step), (id, 1));
    assert!(worker.frames().recv_timeout(Duration::from_millis(300)).is_err(), "a paused job must not advance");
    worker.step();
    assert_eq!(worker.frames().recv_timeout(WAIT).unwrap().step, 2);
    worker.pause(false);
    let events = events_until_end(&worker, id);
    let Some(Event::Finished(done)) = events.last() else { panic!("expected Finished, got {events:?}") };
    assert_eq!(done.history.len(), 10);
    worker.shutdown().unwrap();
}

#[test]
fn the_first_frame_comes_after_the_first_network_evaluation() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    // Block at the second evaluation (the first correction): the preview must be out by then.
    let g = gated(2);
    let id = worker.run(job(g.prior.clone(), 4, 5, 2));
    g.reached.recv_timeout(WAIT).unwrap();
    let preview = worker.frames().recv_timeout(WAIT).unwrap();
    assert_eq!((preview.job, preview.step, preview.evaluations), (id, 1, 1));
    g.release.send(()).unwrap();
    let events = events_until_end(&worker, id);
    let Some(Event::Finished(done)) = events.last() else { panic!("expected Finished, got {events:?}") };
    // History holds corrected steps only.
    let evaluations: Vec<usize> = done.history.iter().map(|f| f.evaluations).collect();
    assert_eq!(evaluations, vec![3, 6, 9, 12, 15]);
    worker.shutdown().unwrap();
}

/// A comparison job reports the classical method's ensemble between the reference and the end:
/// the EnKS before SDA starts sampling, 4D-Var after it (from SDA's members). On the linear
/// scenario both agree with the exact posterior mean from the Kalman/RTS smoother.
#[test]
fn a_comparison_job_reports_the_classical_method_beside_sda() {
    use sdalab::baselines::{AnalysisForm, ClassicalMethod, EnsembleSmoother, FourDVar};
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let s = scenario();
    let per = s.length * s.state_dim();
    let enks = ClassicalMethod::EnsembleSmoother(EnsembleSmoother {
        members: 4000,
        form: AnalysisForm::SquareRoot,
        inflation: 1.0,
        rotate: false,
        seed: 1,
    });
    for (method, tolerance) in [(enks, 0.1), (ClassicalMethod::FourDVar(FourDVar::default()), 1e-4)] {
        let mut j = job(PriorSpec::ExactLinear { window: None }, 16, 8, 0);
        j.compare = Some(method.clone());
        let id = worker.run(j);
        let events = events_until_end(&worker, id);
        let kinds: Vec<&str> = events
            .iter()
            .map(|e| match e {
                Event::Started { .. } => "started",
                Event::Reference(_) => "reference",
                Event::Comparison(_) => "comparison",
                Event::Finished(_) => "finished",
                Event::Failed { .. } => "failed",
                Event::Cancelled { .. } => "cancelled",
            })
            .collect();
        assert_eq!(kinds, ["started", "reference", "comparison", "finished"], "{:?}", method.label());
        let (Event::Reference(reference), Event::Comparison(c)) = (&events[1], &events[2]) else { unreachable!() };
        assert_eq!(c.ensemble.len(), c.members * per);
        assert_eq!(c.label, method.label());
        let (mean, _) = sdalab::gui::mean_std(&c.ensemble, c.members);
        // The scenario's RTS posterior sds are ≈ 0.3–0.9: the EnKS mean (N = 4000) is within 0.1
        // of the exact one; every 4D-Var minimum is the exact mean (the MAP of a Gaussian).
        let worst = mean.iter().zip(&reference.mean).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
        assert!(worst < tolerance, "{}: mean differs from the exact posterior by {worst}", c.label);
        assert!(c.scores.log_likelihood.is_some() && c.seconds >= 0.0);
    }
}

/// The app's path to MMPS: with the linear system's exact prior and no corrections, the worker's
/// ensemble follows the Kalman reference it reports (mean and spread).
#[test]
fn mmps_jobs_follow_the_kalman_reference_without_corrections() {
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let mut mmps = job(PriorSpec::ExactLinear { window: None }, 256, 64, 0);
    mmps.guidance = Guidance::Mmps { iterations: 8 };
    let id = worker.run(mmps);
    let events = events_until_end(&worker, id);
    let Event::Reference(reference) = &events[1] else { panic!("expected the Kalman reference, got {:?}", events[1]) };
    let Event::Finished(done) = events.last().unwrap() else { panic!("expected Finished, got {:?}", events.last()) };
    let n = scenario().length * scenario().state_dim();
    let (mut z2, mut ratio) = (0.0, 0.0);
    for i in 0..n {
        let member: Vec<f64> = done.ensemble.iter().skip(i).step_by(n).map(|&v| v as f64).collect();
        let mean = member.iter().sum::<f64>() / member.len() as f64;
        let var = member.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (member.len() - 1) as f64;
        z2 += ((mean - reference.mean[i]) / reference.std[i]).powi(2);
        ratio += var.sqrt() / reference.std[i];
    }
    let (rms, ratio) = ((z2 / n as f64).sqrt(), ratio / n as f64);
    // 256 members: standard errors 0.06 (mean) and 0.045 (std); 64 steps leave the std ~5% low.
    assert!(rms < 0.25, "standardised RMS error of the ensemble mean {rms}");
    assert!((0.85..=1.05).contains(&ratio), "ensemble std over the Kalman std {ratio}");
    worker.shutdown().unwrap();
}
