//! The panels and views driven through egui's own test harness (`egui_kittest`, widgets found
//! through the AccessKit tree), with no window and no GPU: the sampler controls, and for each
//! system the view tabs it offers, each view drawn, and pause / resume sent to the worker.

use std::path::Path;
use std::time::{Duration, Instant};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;

use super::app::{AppOptions, central};
use super::compare::CompareChoice;
use super::controls::SamplerControls;
use super::panels;
use super::session::{Session, Startup};
use super::strings as s;
use super::view::{ViewId, ViewRegistry};
use crate::scenario::GuidanceRule;

fn options(preset: &str) -> AppOptions {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    AppOptions {
        checkpoints: root.join("checkpoints"),
        lessons: root.join("assets/presets"),
        preset: Some(preset.into()),
        run: false,
        screenshot: None,
        size: [1200.0, 800.0],
        bench: None,
        compare: CompareChoice::None,
    }
}

/// A session on lesson `preset`, not sampling (views are drawn empty), once the lesson is open.
fn session(preset: &str) -> Session {
    let mut session = Session::new(options(preset), || {}).expect("the worker starts");
    session.auto_run = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    while session.startup == Startup::Loading {
        assert!(Instant::now() < deadline, "lesson `{preset}` did not open: {}", session.message);
        session.poll(&mut |_| {});
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(session.startup, Startup::Ready, "{}", session.message);
    session
}

#[test]
fn the_sampler_controls_switch_guidance_and_show_its_settings() {
    let mut harness = Harness::new_ui_state(
        |ui, controls: &mut SamplerControls| {
            controls.ui(ui, &[], false);
        },
        SamplerControls::default(),
    );
    assert!(harness.query_by_label(s::GAMMA).is_some(), "SDA's γ is shown by default");
    assert!(harness.query_by_label(s::MMPS_ITERATIONS).is_none());
    harness.get_by_label("MMPS").click();
    harness.run();
    assert_eq!(harness.state().guidance, GuidanceRule::Mmps);
    assert!(harness.query_by_label(s::MMPS_ITERATIONS).is_some(), "MMPS shows its iterations");
    assert!(harness.query_by_label(s::GAMMA).is_none());
    harness.get_by_label("DPS").click();
    harness.run();
    assert_eq!(harness.state().guidance, GuidanceRule::Dps);
    assert!(harness.query_by_label(s::ZETA).is_some());
    harness.get_by_label("none").click();
    harness.run();
    assert_eq!(harness.state().guidance, GuidanceRule::None);
}

#[test]
fn pause_and_resume_go_to_the_worker() {
    let mut harness =
        Harness::new_ui_state(|ui, session: &mut Session| panels::left(ui, session), session("linear-kalman"));
    assert!(!harness.state().worker.is_paused());
    harness.get_by_label(s::PAUSE).click();
    harness.run();
    assert!(harness.state().worker.is_paused());
    assert!(harness.query_by_label(s::RESUME).is_some());
    harness.get_by_label(s::RESUME).click();
    harness.run();
    assert!(!harness.state().worker.is_paused());
}

/// A view, its tab's label, and a label it draws.
type ViewCase = (ViewId, &'static str, &'static str);

/// Each system offers its own views; every tab opens its view, which draws its parts.
#[test]
fn every_system_offers_its_views_and_each_draws() {
    let cases: [(&str, &[ViewCase]); 4] = [
        (
            "lorenz63-z-only",
            &[
                (ViewId::Series, s::VIEW_SERIES, s::SERIES_HINT),
                (ViewId::Phase, s::VIEW_PHASE, s::PHASE_HINT),
                (ViewId::Diagnostics, s::VIEW_DIAGNOSTICS, s::RANK),
            ],
        ),
        (
            "linear-kalman",
            &[(ViewId::Series, s::VIEW_SERIES, s::SERIES_HINT), (ViewId::Diagnostics, s::VIEW_DIAGNOSTICS, s::RANK)],
        ),
        (
            "lorenz96-stations",
            &[(ViewId::Fields, s::VIEW_FIELDS, s::FIELD_HINT), (ViewId::Diagnostics, s::VIEW_DIAGNOSTICS, s::RANK)],
        ),
        (
            "kolmogorov-coarse",
            &[
                (ViewId::Snapshots, s::VIEW_FIELDS, s::SNAPSHOT_HINT),
                (ViewId::Diagnostics, s::VIEW_DIAGNOSTICS, s::RANK),
            ],
        ),
    ];
    for (preset, views) in cases {
        let state = (session(preset), ViewRegistry::new());
        let mut harness = Harness::builder()
            .with_size([1200.0, 800.0])
            .build_ui_state(|ui, (session, views): &mut (Session, ViewRegistry)| central(ui, session, views), state);
        let offered: Vec<ViewId> = harness.state().0.system_ui.views.to_vec();
        assert_eq!(offered, views.iter().map(|v| v.0).collect::<Vec<_>>(), "{preset}");
        for &(id, tab, part) in views {
            harness.get_by_label(tab).click();
            harness.run();
            assert_eq!(harness.state().0.view, id, "{preset}: the `{tab}` tab");
            assert!(harness.query_by_label(part).is_some(), "{preset}: the {id:?} view does not show `{part}`");
        }
    }
}

/// A status-line error stays while nothing succeeds and goes with the next action that does.
#[test]
fn an_error_in_the_status_line_clears_when_the_next_action_succeeds() {
    let mut session = session("lorenz63-z-only");
    session.say("cannot write /nowhere/x.png".into());
    session.poll(&mut |_| {});
    assert!(!session.message.is_empty(), "nothing happened yet");
    let op = session.tools.operator(0);
    let refused = session.editor.add(10_000, op.clone(), 1.0, super::editor::ValueSource::At(1.0));
    assert!(refused.is_err());
    session.poll(&mut |_| {});
    assert!(!session.message.is_empty(), "a refused edit is no success");
    session.editor.add(3, op, 1.0, super::editor::ValueSource::At(1.0)).expect("an observation in range");
    session.poll(&mut |_| {});
    assert!(session.message.is_empty(), "still showing `{}`", session.message);
}

/// The left panel keeps its layout when a run ends (the replay slider is always there) and when
/// the guidance rule changes (every rule's setting row has one height), so clicks land where aimed.
#[test]
fn the_controls_do_not_move_when_a_run_ends_or_the_rule_changes() {
    let mut session = session("linear-kalman");
    session.start_run();
    let mut harness = Harness::builder()
        .with_size([330.0, 1400.0])
        .build_ui_state(|ui, session: &mut Session| panels::left(ui, session), session);
    let below = |h: &Harness<Session>| h.get_by_label(s::COMPARE_HEADING).rect();
    let before = below(&harness);
    let deadline = Instant::now() + Duration::from_secs(60);
    while harness.state().run.finished.is_none() {
        assert!(Instant::now() < deadline, "the run did not finish: {:?}", harness.state().run.status);
        harness.state_mut().poll(&mut |_| {});
        std::thread::sleep(Duration::from_millis(20));
    }
    harness.run();
    assert_eq!(below(&harness), before, "the run's end moved the controls");
    let seed = |h: &Harness<Session>| h.get_by_label(s::SEED).rect();
    let sda = seed(&harness);
    for rule in ["MMPS", "DPS", "none", "SDA"] {
        harness.get_by_label(rule).click();
        harness.run();
        assert_eq!(seed(&harness), sda, "choosing {rule} moved the controls");
    }
}
