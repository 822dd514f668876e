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
use super::run_state::Status;
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
        record: None,
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

/// A view being edited on its own: the scenario of lesson `preset`, default tools, no run.
struct Editing<V> {
    editor: super::editor::ScenarioEditor,
    tools: super::tools::EditTools,
    run: super::run_state::RunState,
    view: V,
}

fn editing<V: Default>(preset: &str) -> Editing<V> {
    let scenario = session(preset).editor.scenario().clone();
    Editing {
        editor: super::editor::ScenarioEditor::new(scenario, 7).expect("a lesson's scenario is valid"),
        tools: super::tools::EditTools::default(),
        run: super::run_state::RunState::default(),
        view: V::default(),
    }
}

/// Presses the primary button at `from`, moves through `through` one frame each, and releases at
/// the last point.
fn drag<S>(harness: &mut Harness<S>, from: egui::Pos2, through: &[egui::Pos2]) {
    harness.hover_at(from);
    harness.step();
    harness.drag_at(from);
    harness.step();
    for p in through {
        harness.hover_at(*p);
        harness.step();
    }
    harness.drop_at(*through.last().unwrap_or(&from));
    harness.step();
    harness.step();
}

use eframe::egui;
use egui_plot::PlotPoint;

use super::fields::FieldsView;
use super::series::{SeriesData, SeriesView};
use super::snapshots::SnapshotsView;

fn series_ui(ui: &mut egui::Ui, e: &mut Editing<SeriesView>) {
    let data = SeriesData {
        run: &e.run,
        tweedie: false,
        components: vec![(0, "x".into()), (1, "y".into()), (2, "z".into())],
        modes: &[],
        id: "series",
        link_y: false,
        y_include: None,
        mean_label: super::strings::MEAN,
    };
    e.view.ui(ui, &mut e.editor, &e.tools, &data);
}

/// Dragging an observation in a time-series plot moves it (state and value), and one undo puts
/// it back.
#[test]
fn dragging_an_observation_moves_it() {
    let mut harness = Harness::builder()
        .with_size([900.0, 700.0])
        .build_ui_state(series_ui, editing::<SeriesView>("lorenz63-z-only"));
    harness.run();
    let (index, o) = {
        let observations = harness.state().editor.observations();
        let i = observations.len() / 2;
        (i, observations[i].clone())
    };
    let [c] = o.op.indices()[..] else { panic!("the lesson observes single components") };
    let transform = harness.state().view.transforms[c];
    let from = transform.position_from_point(&PlotPoint::new(o.t as f64, o.value));
    let to = transform.position_from_point(&PlotPoint::new(o.t as f64 + 4.0, o.value - 3.0));
    // Quick moves: the first one already leaves the pick radius.
    drag(&mut harness, from, &[from.lerp(to, 0.5), to]);
    let moved = harness.state().editor.observations()[index].clone();
    assert!((moved.t as i64 - (o.t as i64 + 4)).abs() <= 1, "state {} → {}", o.t, moved.t);
    assert!((moved.value - (o.value - 3.0)).abs() < 0.5, "value {} → {}", o.value, moved.value);
    assert!(harness.state_mut().editor.undo());
    assert_eq!(harness.state().editor.observations()[index], o, "one undo reverts the whole drag");
}

/// A fast brush stroke across the Lorenz-96 observations panel (one pointer event from edge to
/// edge) observes every column it crossed.
#[test]
fn a_fast_stroke_paints_a_connected_line_on_a_field() {
    let mut harness = Harness::builder().with_size([1400.0, 800.0]).build_ui_state(
        |ui, e: &mut Editing<FieldsView>| {
            e.view.ui(ui, &mut e.editor, &e.tools, &e.run, false, 0.55);
        },
        editing::<FieldsView>("lorenz96-stations"),
    );
    harness.run();
    let rect = harness.state().view.panel_rects[1];
    let (length, dim) = (harness.state().editor.scenario().length, harness.state().editor.scenario().state_dim());
    let y = rect.top() + rect.height() * 0.4;
    let t = ((y - rect.top()) / rect.height() * length as f32) as usize;
    let observed_at = |e: &Editing<FieldsView>| e.editor.observations().iter().filter(|o| o.t == t).count();
    let before = observed_at(harness.state());
    drag(&mut harness, egui::pos2(rect.left() + 1.0, y), &[egui::pos2(rect.right() - 1.0, y)]);
    assert_eq!(observed_at(harness.state()), dim, "state {t} had {before} observations");
    assert!(harness.state_mut().editor.undo());
    assert_eq!(observed_at(harness.state()), before, "one undo removes the stroke");
}

/// A fast stroke across three Kolmogorov snapshots paints a connected row in each.
#[test]
fn a_fast_stroke_paints_across_snapshots() {
    let mut harness = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(
        |ui, e: &mut Editing<SnapshotsView>| {
            e.view.ui(ui, &mut e.editor, &e.tools, &e.run, false);
        },
        editing::<SnapshotsView>("kolmogorov-coarse"),
    );
    harness.run();
    let cells = harness.state().view.observed_cells.clone();
    assert!(cells.len() >= 3, "{} snapshots shown", cells.len());
    let shape = harness.state().editor.scenario().system.chain().state_shape();
    let [h, w] = shape[..] else { panic!("Kolmogorov states are fields") };
    let row_y = |r: egui::Rect| r.top() + r.height() * (10.5 / h as f32);
    let from = egui::pos2(cells[0].0.left() + 0.5, row_y(cells[0].0));
    let to = egui::pos2(cells[2].0.right() - 0.5, row_y(cells[2].0));
    let identity_in_row = |e: &Editing<SnapshotsView>, t: usize| {
        e.editor
            .observations()
            .iter()
            .filter(|o| {
                o.t == t && matches!(o.op, crate::observe::ObservationOp::Identity { index } if index / w == 10)
            })
            .count()
    };
    drag(&mut harness, from, &[to]);
    for (_, t) in &cells[..3] {
        assert_eq!(identity_in_row(harness.state(), *t), w, "state {t}: the row is not connected");
    }
}

/// Ctrl+Z right after clicking a plot undoes the click's observation, and Ctrl+Shift+Z redoes
/// it; a press in a window without the keyboard asks the system for it.
#[test]
fn ctrl_z_after_a_click_on_a_plot_undoes_it() {
    let mut state = (session("lorenz63-z-only"), ViewRegistry::new());
    state.0.view = ViewId::Series;
    let mut harness = Harness::builder().with_size([1200.0, 800.0]).build_ui_state(
        |ui, (session, views): &mut (Session, ViewRegistry)| {
            super::app::shortcuts(ui.ctx(), session);
            central(ui, session, views);
        },
        state,
    );
    harness.run();
    let count = |h: &Harness<(Session, ViewRegistry)>| h.state().0.editor.observations().len();
    let before = count(&harness);
    harness.input_mut().focused = false;
    let target = harness.get_by_label(s::SERIES_HINT).rect().center_bottom() + egui::vec2(40.0, 120.0);
    harness.hover_at(target);
    harness.step();
    harness.drag_at(target);
    harness.step();
    let asked = harness.output().viewport_output.values().any(|v| v.commands.contains(&egui::ViewportCommand::Focus));
    assert!(asked, "the press asks for the keyboard");
    harness.drop_at(target);
    harness.input_mut().focused = true;
    harness.run();
    assert_eq!(count(&harness), before + 1, "the click adds an observation");
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::Z);
    harness.run();
    assert_eq!(count(&harness), before, "Ctrl+Z undoes it");
    harness.key_press_modifiers(egui::Modifiers::COMMAND | egui::Modifiers::SHIFT, egui::Key::Z);
    harness.run();
    assert_eq!(count(&harness), before + 1, "Ctrl+Shift+Z redoes it");
}

/// The reverse diffusion exported as a GIF decodes to one full-size picture per replay frame
/// (thinned to the cap), not blank, and the first picture (noise) differs from the last
/// (the posterior).
#[test]
fn the_reverse_diffusion_exports_as_a_gif() {
    let mut session = session("linear-kalman");
    let refused = session.export_animation(Path::new("/nonexistent/x.gif"), &ViewRegistry::new(), ViewId::Series);
    assert!(refused.is_err(), "nothing to animate before a run");
    session.start_run();
    let deadline = Instant::now() + Duration::from_secs(120);
    while session.run.finished.is_none() {
        assert!(Instant::now() < deadline, "the run did not finish: {:?}", session.run.status);
        session.poll(&mut |_| {});
        std::thread::sleep(Duration::from_millis(20));
    }
    let history = session.run.finished.as_ref().map_or(0, |f| f.history.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("diffusion.gif");
    session.export_animation(&path, &ViewRegistry::new(), ViewId::Series).unwrap();
    while session.animation_written.is_none() {
        assert!(Instant::now() < deadline, "the animation was not written");
        session.poll(&mut |_| {});
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(matches!(session.animation_written, Some(Ok(_))), "{:?}", session.animation_written);

    let mut options = gif::DecodeOptions::new();
    options.set_color_output(gif::ColorOutput::RGBA);
    let mut decoder = options.read_info(std::fs::File::open(&path).unwrap()).unwrap();
    let (width, height) = (decoder.width(), decoder.height());
    assert!(width >= 600 && height >= 200, "{width}×{height}");
    let mut pictures: Vec<Vec<u8>> = Vec::new();
    while let Some(frame) = decoder.read_next_frame().unwrap() {
        assert_eq!((frame.width, frame.height), (width, height), "every picture is whole");
        pictures.push(frame.buffer.to_vec());
    }
    assert_eq!(pictures.len(), super::animation::positions(history).len());
    assert!(pictures.len() >= 2, "{history} replay frames");
    for (k, p) in pictures.iter().enumerate() {
        let colours: std::collections::HashSet<&[u8]> = p.chunks_exact(4).collect();
        assert!(colours.len() >= 8, "picture {k} is blank ({} colours)", colours.len());
    }
    let changed = pictures[0].iter().zip(pictures.last().unwrap()).filter(|(a, b)| a != b).count();
    assert!(changed > pictures[0].len() / 100, "the animation does not move ({changed} bytes differ)");
}

/// Runs the session's job (and its comparison, if any) to the end.
fn finish_run(session: &mut Session) {
    session.start_run();
    let deadline = Instant::now() + Duration::from_secs(300);
    while session.run.finished.is_none() || (session.comparing() && session.run.comparison.is_none()) {
        assert!(Instant::now() < deadline, "the run did not finish: {:?}", session.run.status);
        session.poll(&mut |_| {});
        std::thread::sleep(Duration::from_millis(20));
    }
    session.refresh_comparison();
}

/// The exported figure of a comparison holds both sides, SDA's and the classical method's.
#[test]
fn an_exported_comparison_holds_both_sides() {
    let mut session = session("lorenz63-z-only");
    session.compare.choice = CompareChoice::EnsembleSmoother;
    finish_run(&mut session);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("compare.png");
    super::panels::files::export_figure(&path, &mut session, &ViewRegistry::new()).unwrap();
    let (width, height) = image::image_dimensions(&path).unwrap();
    assert_eq!(width, 2 * 1200, "two columns");
    let picture = image::open(&path).unwrap().to_rgb8();
    // Each half has drawn content (the ensemble bands), not just a white page.
    for half in 0..2 {
        let inked = (0..height)
            .flat_map(|y| (half * 1200..(half + 1) * 1200).map(move |x| (x, y)))
            .filter(|&(x, y)| picture.get_pixel(x, y).0 != [255, 255, 255])
            .count();
        assert!(inked > (1200 * height / 20) as usize, "side {half} is nearly empty ({inked} pixels)");
    }
    if let Ok(dir) = std::env::var("SDALAB_KEEP_FIGURES") {
        std::fs::copy(&path, Path::new(&dir).join("compare-export.png")).unwrap();
    }
}

/// Polls `session` until `done` holds (a minute at most).
fn wait_for(session: &mut Session, what: &str, done: impl Fn(&Session) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done(session) {
        assert!(Instant::now() < deadline, "{what}: {}", session.message);
        session.poll(&mut |_| {});
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A saved scenario carries every sampler setting, the guidance rule with its parameters and
/// the model, and opening it (from another system) restores them all.
#[test]
fn a_saved_scenario_restores_the_model_and_every_setting() {
    let mut session = session("lorenz63-z-only");
    wait_for(&mut session, "the models", |s| !s.models.is_empty() && s.controls.model.is_some());
    let default = session.controls.model.clone();
    let other_model = session.models.iter().find(|m| Some(&m.dir) != default.as_ref());
    let model = other_model.expect("Lorenz-63 offers several checkpoints").dir.clone();
    let controls = &mut session.controls;
    controls.model = Some(model.clone());
    controls.guidance = GuidanceRule::Mmps;
    (controls.mmps_iterations, controls.samples, controls.steps, controls.corrections) = (3, 96, 40, 2);
    (controls.tau, controls.gamma, controls.zeta, controls.seed) = (0.3, 0.02, 0.7, 5);
    let saved = session.controls.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saved.json");
    session.editor.save(&path, Some(session.controls.settings())).unwrap();

    let mut other = self::session("linear-kalman");
    other.auto_run = false;
    other.open_scenario(&path);
    wait_for(&mut other, "the scenario and its model", |s| s.controls.model.is_some() && !s.models.is_empty());
    let restored = &other.controls;
    assert_eq!(restored.model.as_ref(), Some(&model));
    assert_eq!((restored.guidance, restored.mmps_iterations), (saved.guidance, saved.mmps_iterations));
    assert_eq!((restored.samples, restored.steps, restored.corrections), (96, 40, 2));
    assert_eq!((restored.tau, restored.gamma, restored.zeta, restored.seed), (0.3, 0.02, 0.7, 5));
    assert_eq!(other.editor.observations(), session.editor.observations());
}

/// After an edit the previous posterior stays on screen, marked stale (drawn dimmed), until the
/// new run's first frame replaces it.
#[test]
fn the_previous_posterior_stays_until_the_new_first_frame() {
    let mut session = session("lorenz63-z-only");
    finish_run(&mut session);
    assert!(!session.run.stale());
    let op = session.tools.operator(0);
    session.editor.add(10, op, 1.0, super::editor::ValueSource::Truth).unwrap();
    session.start_run();
    assert!(session.run.stale(), "the new job has sent nothing yet");
    assert!(session.run.shown(false).is_some_and(|s| s.members > 0), "the old posterior is still drawn");
    assert!(session.run.statistics_source(false).is_some(), "with its mean and band");
    wait_for(&mut session, "the new run's first frame", |s| s.run.first_frame.is_some());
    assert!(!session.run.stale());
}

/// Choosing a comparison after a run reuses SDA's finished posterior: no network call, the same
/// ensemble, and the comparison beside it.
#[test]
fn choosing_a_comparison_reuses_the_finished_posterior() {
    let mut session = session("lorenz63-z-only");
    session.auto_run = true;
    finish_run(&mut session);
    let before = session.run.finished.clone().unwrap();
    session.compare.choice = CompareChoice::EnsembleSmoother;
    session.compare_changed();
    assert_eq!(session.debounce(), None, "no waiting and no draft");
    wait_for(&mut session, "the comparison", |s| s.run.finished.is_some() && s.run.comparison.is_some());
    let after = session.run.finished.clone().unwrap();
    assert_ne!(after.job, before.job);
    assert_eq!(session.run.evaluations, 0, "no network call");
    assert_eq!(after.ensemble.values(), before.ensemble.values(), "the same posterior");
    assert!(session.run.comparison.as_ref().is_some_and(|c| c.label.contains("EnKS")));
    // A sampler setting is a new input: that samples afresh.
    session.controls.seed += 1;
    session.settings_changed();
    std::thread::sleep(Duration::from_millis(250));
    session.debounce();
    wait_for(&mut session, "the new run", |s| {
        s.run.finished.as_ref().is_some_and(|f| !s.run.draft && f.job != after.job)
    });
    assert_ne!(session.run.finished.as_ref().unwrap().ensemble.values(), before.ensemble.values());
}

/// The drafts that follow the pen converge on every Lorenz-63 lesson, before and after an edit
/// (too few steps diverged where z is observed densely and precisely).
#[test]
fn drafts_converge_on_every_lorenz63_lesson() {
    for preset in ["lorenz63-z-only", "lorenz63-lo", "lorenz63-abs-x", "lorenz63-dense"] {
        let mut session = session(preset);
        for edited in [false, true] {
            if edited {
                let t = session.editor.scenario().length / 2 + 1;
                let op = session.tools.operator(0);
                session.editor.add(t, op, 1.0, super::editor::ValueSource::Truth).unwrap();
            }
            session.start_draft();
            wait_for(&mut session, "the draft", |s| matches!(s.run.status, Status::Done | Status::Failed(_)));
            assert_eq!(session.run.status, Status::Done, "{preset} (edited: {edited})");
        }
    }
}

/// The forecast lesson does what its text says: observed only up to state 32, its posterior is
/// tight there and spreads over the unobserved half.
#[test]
fn the_forecast_lesson_spreads_over_its_unobserved_half() {
    let mut session = session("lorenz63-forecast");
    assert!(session.editor.observations().iter().all(|o| o.t <= 32));
    finish_run(&mut session);
    let truth = session.editor.scenario().truth.clone().unwrap();
    let f = session.run.finished.clone().unwrap();
    let (rmse, spread) = f.ensemble.error_and_spread_by_state(&truth);
    let mean = |v: &[f64], r: std::ops::Range<usize>| v[r.clone()].iter().sum::<f64>() / r.len() as f64;
    let (analysed, forecast) = (mean(&spread, 0..33), mean(&spread, 44..65));
    assert!(forecast > 3.0 * analysed, "spread {analysed:.2} observed vs {forecast:.2} in the forecast");
    assert!(mean(&rmse, 44..65) > mean(&rmse, 0..33), "the forecast's error grows too");
}

/// The file dialog browses folders (into one and back up), and saving over an existing file
/// asks first; once confirmed the scenario is written and the dialog remembers the folder.
#[test]
fn the_file_dialog_browses_and_asks_before_replacing() {
    use super::panels::files::{FileAction, FileDialog};
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("old.json"), "{}").unwrap();
    std::fs::write(dir.path().join("picture.png"), "x").unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let dialog = FileDialog::new(FileAction::Save, "old.json", Some(dir.path().to_path_buf()));
    type State = (Session, ViewRegistry, Option<FileDialog>);
    let state: State = (session("lorenz63-z-only"), ViewRegistry::new(), Some(dialog));
    let mut harness = Harness::builder().with_size([900.0, 700.0]).build_ui_state(
        |ui, (session, views, dialog): &mut State| super::panels::files::ui(ui.ctx(), session, views, dialog),
        state,
    );
    let settle = |h: &mut Harness<State>| {
        for _ in 0..50 {
            h.state_mut().0.poll(&mut |_| {});
            h.run();
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    settle(&mut harness);
    assert!(harness.query_by_label("picture.png   (1 B)").is_none(), "only .json files are offered");
    harness.get_by_label("sub/").click();
    settle(&mut harness);
    assert_eq!(harness.state().2.as_ref().unwrap().dir.as_deref(), Some(dir.path().join("sub").as_path()));
    assert!(harness.query_by_label(s::FOLDER_EMPTY).is_some());
    harness.get_by_label(s::FOLDER_UP).click();
    settle(&mut harness);
    harness.get_by_label("old.json   (2 B)").click();
    harness.get_by_label(s::SAVE).click();
    settle(&mut harness);
    assert!(harness.state().2.as_ref().unwrap().replacing.is_some(), "an existing file is not replaced unasked");
    assert_eq!(std::fs::read_to_string(dir.path().join("old.json")).unwrap(), "{}");
    harness.get_by_label(s::REPLACE).click();
    settle(&mut harness);
    assert!(harness.state().2.is_none(), "the dialog closed");
    let written = std::fs::read_to_string(dir.path().join("old.json")).unwrap();
    assert!(written.contains("\"observations\""), "the scenario was written");
    assert_eq!(harness.state().0.dialog_dir.as_deref(), Some(dir.path()));
}

/// The diagnostics of a 2-D field carry the energy spectrum panel; other systems' do not.
#[test]
fn kolmogorov_diagnostics_show_the_energy_spectrum() {
    for (preset, expected) in [("kolmogorov-coarse", true), ("lorenz63-lo", false)] {
        let mut state = (session(preset), ViewRegistry::new());
        state.0.view = ViewId::Diagnostics;
        let mut harness = Harness::builder()
            .with_size([1200.0, 900.0])
            .build_ui_state(|ui, (session, views): &mut (Session, ViewRegistry)| central(ui, session, views), state);
        harness.run();
        assert_eq!(harness.query_by_label(s::SPECTRUM).is_some(), expected, "{preset}");
    }
}

/// The Lorenz-96 lessons compare with the ensemble Kalman smoother in the app: its panels and
/// the scores table appear under SDA's fields.
#[test]
fn lorenz96_fields_compare_with_the_ensemble_kalman_smoother() {
    let mut session = session("lorenz96-stations");
    assert!(session.system_ui.compare);
    session.compare.choice = CompareChoice::EnsembleSmoother;
    finish_run(&mut session);
    let label = session.run.comparison.as_ref().unwrap().label.clone();
    let mut harness = Harness::builder().with_size([1400.0, 900.0]).build_ui_state(
        |ui, (session, views): &mut (Session, ViewRegistry)| central(ui, session, views),
        (session, ViewRegistry::new()),
    );
    harness.run();
    assert_eq!(harness.query_all_by_label(&label).count(), 2, "the method titles its row and the table");
    assert!(harness.query_by_label(s::SCORES_METHOD).is_some(), "the scores table is shown");
    assert_eq!(harness.query_all_by_label("spread (std)").count(), 2, "SDA's and the method's spread");
}
