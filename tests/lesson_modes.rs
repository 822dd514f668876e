//! The two symmetric Lorenz-63 lessons, sampled as the app samples them (worker, default
//! checkpoint, the lesson's own settings), show mirror images: at least two modes, and about half
//! of the members start with x > 0. (Modes are clusters of whole trajectories, which can change
//! lobe on the way, so the sign of a mode's first state does not split the weight evenly.)
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::time::Duration;

use sdalab::gui::Lesson;
use sdalab::sampler::Guidance;
use sdalab::worker::{Event, Job, PriorSpec, Worker};

fn positive_share(lesson: &str) -> (usize, f64) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let lesson = Lesson::load(&root.join("assets/presets").join(format!("{lesson}.json"))).unwrap();
    let scenario = lesson.scenario().unwrap();
    let settings = &lesson.sampler;
    let plan = sdalab::sampler::SamplerPlan {
        samples: settings.samples.unwrap() as usize,
        steps: settings.steps.unwrap() as usize,
        corrections: settings.corrections.unwrap() as usize,
        tau: 0.25,
        seed: 0,
    };
    let job = Job {
        scenario,
        prior: PriorSpec::Checkpoint(root.join("checkpoints/lorenz63-k4")),
        guidance: Guidance::Sda { gamma: 1e-2 },
        plan,
        frame_members: 16,
        modes_every: 0,
        compare: None,
        max_modes: 4,
        reuse: None,
    };
    let mut worker = Worker::spawn(Box::new(|| {})).unwrap();
    let id = worker.run(job);
    loop {
        match worker.events().recv_timeout(Duration::from_secs(600)).unwrap() {
            Event::Finished(done) if done.job == id => {
                let cells = done.ensemble.len() / done.samples;
                let positive = done.ensemble.chunks_exact(cells).filter(|member| member[0] > 0.0).count();
                return (done.modes.len(), positive as f64 / done.samples as f64);
            }
            Event::Failed { reason, .. } => panic!("{reason}"),
            _ => {}
        }
    }
}

#[test]
fn observing_z_only_gives_mirrored_modes_of_equal_weight() {
    let (modes, share) = positive_share("lorenz63-z-only");
    assert!(modes >= 2, "{modes} modes");
    assert!((share - 0.5).abs() < 0.15, "share of members starting with x > 0: {share}");
}

#[test]
fn observing_abs_x_gives_mirrored_modes_of_equal_weight() {
    let (modes, share) = positive_share("lorenz63-abs-x");
    assert!(modes >= 2, "{modes} modes");
    assert!((share - 0.5).abs() < 0.15, "share of members starting with x > 0: {share}");
}
