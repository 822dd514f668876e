//! Scenario editing as the app does it: observations added, dragged, painted and removed
//! through the editor round-trip through the scenario file; undo and redo restore exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;

use sdalab::gui::{Lesson, Pattern, ScenarioEditor, ValueSource, load_lessons};
use sdalab::observe::ObservationOp;
use sdalab::scenario::{SamplerSettings, Scenario};

fn lorenz63_editor() -> ScenarioEditor {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/lorenz63-lo.json");
    ScenarioEditor::new(Scenario::load(&path).unwrap(), 9).unwrap()
}

#[test]
fn edits_save_and_reload_identically() {
    let mut editor = lorenz63_editor();
    let before = editor.observations().len();
    editor.add(3, ObservationOp::Abs { index: 0 }, 0.5, ValueSource::Truth).unwrap();
    editor.add(10, ObservationOp::Square { index: 2 }, 2.0, ValueSource::At(400.0)).unwrap();
    editor.add(11, ObservationOp::Identity { index: 1 }, 0.25, ValueSource::At(-3.5)).unwrap();
    editor.begin_drag();
    editor.drag(before + 2, 12, -4.0).unwrap();
    editor.remove(0).unwrap();
    assert!(editor.paint(20, 2, true, 0.7).unwrap());
    assert!(!editor.paint(20, 2, true, 0.7).unwrap(), "painting an observed cell changes nothing");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edited.json");
    let settings = SamplerSettings { samples: Some(32), steps: Some(16), ..Default::default() };
    editor.save(&path, Some(settings.clone())).unwrap();
    let reloaded = Scenario::load(&path).unwrap();
    assert_eq!(reloaded.observations, editor.observations());
    assert_eq!(reloaded.truth, editor.scenario().truth);
    assert_eq!(reloaded.sampler, Some(settings));
    let moved = &reloaded.observations[before + 1];
    assert_eq!((moved.t, moved.value), (12, -4.0));
}

#[test]
fn undo_and_redo_restore_exactly() {
    let mut editor = lorenz63_editor();
    let original = editor.observations().to_vec();
    editor.add(5, ObservationOp::Identity { index: 1 }, 1.0, ValueSource::Truth).unwrap();
    let added = editor.observations().to_vec();
    // One drag of many moves is one undo step.
    editor.begin_drag();
    for t in 6..12 {
        editor.drag(original.len(), t, t as f64).unwrap();
    }
    editor.replace_all(Vec::new()).unwrap();
    assert!(editor.observations().is_empty());
    assert!(editor.undo());
    assert!(editor.undo());
    assert_eq!(editor.observations(), added.as_slice());
    assert!(editor.undo());
    assert_eq!(editor.observations(), original.as_slice());
    assert!(!editor.undo());
    assert!(editor.redo());
    assert_eq!(editor.observations(), added.as_slice());
}

#[test]
fn refused_edits_change_nothing() {
    let mut editor = lorenz63_editor();
    let original = editor.observations().to_vec();
    let revision = editor.revision();
    assert!(
        editor.add(65, ObservationOp::Identity { index: 0 }, 1.0, ValueSource::At(0.0)).is_err(),
        "state out of range"
    );
    assert!(
        editor.add(3, ObservationOp::Identity { index: 3 }, 1.0, ValueSource::At(0.0)).is_err(),
        "no 4th component"
    );
    assert!(editor.add(3, ObservationOp::Identity { index: 0 }, -1.0, ValueSource::At(0.0)).is_err(), "negative std");
    assert!(editor.remove(999).is_err());
    assert_eq!(editor.observations(), original.as_slice());
    assert_eq!(editor.revision(), revision);
    assert!(!editor.can_undo());
}

#[test]
fn the_noise_slider_keeps_each_observations_standardised_noise() {
    let mut editor = lorenz63_editor();
    let truth = editor.scenario().truth.clone().unwrap();
    let z = |o: &sdalab::observe::Observation| (o.value - o.predict(&truth, 3)) / o.std;
    let before: Vec<f64> = editor.observations().iter().map(z).collect();
    editor.set_std(2.0, true).unwrap();
    let after: Vec<f64> = editor.observations().iter().map(z).collect();
    assert!(editor.observations().iter().all(|o| o.std == 2.0));
    for (a, b) in before.iter().zip(&after) {
        assert!((a - b).abs() < 1e-9);
    }
    editor.resample_noise().unwrap();
    let redrawn: Vec<f64> = editor.observations().iter().map(z).collect();
    assert!(redrawn.iter().zip(&after).any(|(a, b)| (a - b).abs() > 1e-6), "new noise was drawn");
}

#[test]
fn every_bundled_lesson_builds_a_valid_scenario() {
    let (lessons, errors) = load_lessons(&Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/presets"));
    assert!(errors.is_empty(), "{errors:?}");
    assert!(lessons.len() >= 7);
    for lesson in &lessons {
        let scenario = lesson.scenario().unwrap_or_else(|e| panic!("{}: {e}", lesson.name()));
        assert!(!scenario.observations.is_empty(), "{}", lesson.name());
        assert!(scenario.truth.is_some());
        assert!(!lesson.text.is_empty() && !lesson.title.is_empty());
        assert!(lesson.try_this.as_ref().is_some_and(|t| !t.is_empty()), "{}: no `try` line", lesson.name());
    }
    let names: Vec<String> = lessons.iter().map(Lesson::name).collect();
    for expected in [
        "lorenz63-dense",
        "lorenz63-lo",
        "lorenz63-z-only",
        "lorenz63-abs-x",
        "lorenz63-forecast",
        "lorenz96-stations",
        "lorenz96-swath",
        "linear-kalman",
    ] {
        assert!(names.iter().any(|n| n == expected), "missing lesson {expected}");
    }
}

#[test]
fn a_broken_lesson_is_reported_and_the_others_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let good = serde_json::json!({
        "title": "t", "text": "x", "system": "lorenz63", "length": 9, "truth_seed": 1, "std": 0.5,
        "pattern": { "kind": "every", "every": 2, "op": "identity", "indices": [0] }
    });
    std::fs::write(dir.path().join("good.json"), good.to_string()).unwrap();
    std::fs::write(dir.path().join("bad.json"), "{ \"title\": 3 }").unwrap();
    let (lessons, errors) = load_lessons(dir.path());
    assert_eq!(lessons.len(), 1);
    assert_eq!(errors.len(), 1);
    assert!(errors[0].contains("bad.json"), "{errors:?}");
    let swath = Pattern::Swath { width: 0, shift: 1, times: 1 };
    assert!(swath.cells(5, &[40]).unwrap_err().contains("width"));
}

#[test]
fn figures_export_as_png_and_svg_and_bad_paths_fail_cleanly() {
    use sdalab::gui::{FieldsFigure, SeriesFigure, Shown, save_fields, save_series};
    use sdalab::render::{Colormap, FieldImage};

    let editor = lorenz63_editor();
    let scenario = editor.scenario();
    let truth = scenario.truth.clone().unwrap();
    // Three members: the truth shifted by −1, 0, +1.
    let members: Vec<f32> = (-1..=1).flat_map(|s| truth.iter().map(move |v| (*v + s as f64) as f32)).collect();
    let labels = [0usize, 1, 1];
    let fig = SeriesFigure {
        title: "export test".into(),
        components: vec![(0, "x".into()), (2, "z".into())],
        length: scenario.length,
        dim: 3,
        members: Some(Shown { values: &members, members: 3, labels: Some(&labels) }),
        mean_std: Some(sdalab::gui::mean_std(&members, 3)),
        truth: Some(&truth),
        observations: &scenario.observations,
        modes: &[],
        mean_label: "posterior mean",
    };
    let fig = std::slice::from_ref(&fig);
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("series.png");
    save_series(&png, fig).unwrap();
    let image = image::open(&png).unwrap();
    assert_eq!((image.width(), image.height()), (1200, 2 * 260 + 40));
    let svg = dir.path().join("series.svg");
    save_series(&svg, fig).unwrap();
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg") && text.contains("export test"));
    assert!(text.contains("posterior mean") && text.contains("truth"), "the figure has a legend");

    let field = FieldImage {
        width: 4,
        height: 3,
        values: (0..12).map(|v| v as f32).collect(),
        lo: 0.0,
        hi: 11.0,
        colormap: Colormap::Sequential,
    };
    let fields =
        FieldsFigure { title: "fields".into(), panels: vec![("a".into(), field.clone()), ("b".into(), field)] };
    save_fields(&dir.path().join("fields.png"), &fields).unwrap();

    let missing = dir.path().join("no/such/folder/series.png");
    assert!(save_series(&missing, fig).is_err());
    assert!(!missing.exists());
}

#[test]
fn kolmogorov_lessons_take_their_truths_from_the_stored_trajectories() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/presets");
    let mut lesson = Lesson::load(&dir.join("kolmogorov-coarse.json")).unwrap();
    let stored = sdalab::export::read_npy_f32(&dir.join("kolmogorov-truths.npy")).unwrap();
    let (n, states, d) = (stored.shape[0], stored.shape[1], 32 * 32);
    assert_eq!(stored.shape[2..], [32, 32]);
    // Seed 5 of 4 stored trajectories: trajectory 1, from state 16 (the second block of 16).
    lesson.truth_seed = 5;
    let truth = lesson.scenario().unwrap().truth.unwrap();
    assert_eq!(truth.len(), 16 * d);
    assert_eq!(n, 4);
    let from = (states + 16) * d;
    for (a, b) in truth.iter().zip(&stored.data[from..from + 16 * d]) {
        assert_eq!(*a, *b as f64);
    }
    // The coarse view: 64 block means at states 0, 4, 8 and 12.
    let scenario = lesson.scenario().unwrap();
    assert_eq!(scenario.observations.len(), 4 * 64);
    assert!(scenario.observations.iter().all(|o| o.t % 4 == 0 && o.op.indices().len() == 16));
}
