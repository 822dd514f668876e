//! Scenario files: every class of bad input is rejected with an error naming the offending entry;
//! good files survive a write/read round trip; twin experiments observe their truth with the
//! stated noise.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use sdalab::dynamics::{MarkovChain, ModelError, System};
use sdalab::observe::{Observation, ObservationOp, OperatorKind};
use sdalab::scenario::{SamplerSettings, Scenario, ScenarioError, TwinSpec, twin_experiment};

const LINEAR_2D: &str = r#"{"name": "linear", "transition": [[0.9, 0.1], [-0.1, 0.9]], "offset": [0, 0.1],
  "process_cov": [[0.1, 0.02], [0.02, 0.1]], "initial_mean": [1, 0], "initial_cov": [[1, 0], [0, 2]]}"#;

/// A valid Lorenz-63 scenario with one observation whose fields are given as JSON text.
fn l63_with(observation: &str) -> String {
    format!(r#"{{"system": "lorenz63", "length": 65, "observations": [{observation}]}}"#)
}

/// Parses `text`, expecting failure, and checks the message names `needle`.
fn rejects(text: &str, needle: &str) -> ScenarioError {
    match Scenario::from_json_str(text) {
        Ok(_) => panic!("accepted invalid scenario: {text}"),
        Err(e) => {
            let msg = e.to_string();
            assert!(msg.contains(needle), "message `{msg}` does not name `{needle}`");
            e
        }
    }
}

#[test]
fn the_design_example_parses() {
    let text = r#"{
      "system": "lorenz96",
      "length": 65,
      "observations": [
        { "t": 0,  "op": "identity", "index": 0, "value": -3.1, "std": 0.4 },
        { "t": 8,  "op": "abs",      "index": 0, "value": 5.2,  "std": 0.4 },
        { "t": 12, "op": "mean",     "indices": [0, 1, 20, 21], "value": 0.7, "std": 0.1 }
      ],
      "truth": null,
      "sampler": { "samples": 64, "steps": 256, "corrections": 1, "tau": 0.5, "gamma": 0.01, "seed": 0 }
    }"#;
    let s = Scenario::from_json_str(text).unwrap();
    assert_eq!(s.system.name(), "lorenz96");
    assert_eq!(s.observations.len(), 3);
    assert_eq!(s.observations[2].op, ObservationOp::Mean { indices: vec![0, 1, 20, 21] });
    assert_eq!(s.sampler.as_ref().and_then(|s| s.corrections), Some(1));
}

#[test]
fn malformed_json_reports_line_and_column() {
    let e = rejects("{\n  \"system\": \"lorenz63\",\n  \"length\": 65,,\n}", "line 3, column 16");
    assert!(matches!(e, ScenarioError::Syntax { line: 3, column: 16, .. }));
    rejects("{\"system\": \"lorenz63\", \"length\": 5", "malformed JSON at line 1");
}

#[test]
fn unknown_system_is_rejected() {
    let e = rejects(r#"{"system": "lorenz64", "length": 5}"#, "lorenz64");
    assert!(matches!(e, ScenarioError::UnknownSystem { .. }));
    rejects(r#"{"system": {"name": "chua"}, "length": 5}"#, "chua");
    rejects(r#"{"system": 3, "length": 5}"#, "system");
}

#[test]
fn unknown_operator_is_rejected() {
    let e = rejects(&l63_with(r#"{"t": 1, "op": "arctan", "index": 0, "value": 1, "std": 1}"#), "observations[0].op");
    assert!(e.to_string().contains("arctan"));
    assert!(matches!(e, ScenarioError::UnknownOp { .. }));
}

#[test]
fn unknown_fields_are_rejected_wherever_they_are() {
    rejects(r#"{"system": "lorenz63", "lenght": 5}"#, "unknown field `lenght`");
    rejects(&l63_with(r#"{"t": 1, "op": "identity", "index": 0, "value": 1, "std": 1, "sd": 2}"#), "observations[0]");
    let linear = LINEAR_2D.replace("\"offset\"", "\"extra\": 1, \"offset\"");
    rejects(&format!(r#"{{"system": {linear}, "length": 5}}"#), "system.extra");
    rejects(r#"{"system": "lorenz63", "length": 5, "sampler": {"stepz": 3}}"#, "sampler.stepz");
}

#[test]
fn missing_fields_are_named() {
    rejects(&l63_with(r#"{"t": 1, "op": "identity", "index": 0, "value": 1}"#), "missing field `std`");
    rejects(r#"{"system": "lorenz63"}"#, "missing field `length`");
    rejects(&l63_with(r#"{"t": 1, "op": "identity", "value": 1, "std": 1}"#), "needs `index`");
    rejects(&l63_with(r#"{"t": 1, "op": "mean", "index": 0, "value": 1, "std": 1}"#), "takes `indices`");
}

#[test]
fn out_of_range_indices_and_times_are_rejected() {
    let e =
        rejects(&l63_with(r#"{"t": 1, "op": "identity", "index": 3, "value": 1, "std": 1}"#), "observations[0].index");
    assert!(matches!(e, ScenarioError::IndexOutOfRange { index: 3, dim: 3, .. }));
    rejects(&l63_with(r#"{"t": 1, "op": "square", "index": -1, "value": 1, "std": 1}"#), "observations[0].index");
    let e = rejects(&l63_with(r#"{"t": 1, "op": "mean", "indices": [0, 2, 7], "value": 1, "std": 1}"#), "indices[2]");
    assert!(matches!(e, ScenarioError::IndexOutOfRange { index: 7, .. }));
    let e = rejects(&l63_with(r#"{"t": 65, "op": "identity", "index": 0, "value": 1, "std": 1}"#), "observations[0].t");
    assert!(matches!(e, ScenarioError::TimeOutOfRange { t: 65, length: 65, .. }));
    rejects(&l63_with(r#"{"t": -2, "op": "identity", "index": 0, "value": 1, "std": 1}"#), "observations[0].t");
}

#[test]
fn non_positive_or_non_finite_std_is_rejected() {
    for std in ["0", "-0.4"] {
        let obs = format!(r#"{{"t": 1, "op": "abs", "index": 0, "value": 1, "std": {std}}}"#);
        let e = rejects(&l63_with(&obs), "observations[0].std");
        assert!(matches!(e, ScenarioError::Std { .. }));
    }
    // JSON cannot spell infinity; an overflowing literal is caught where it stands.
    rejects(&l63_with(r#"{"t": 1, "op": "abs", "index": 0, "value": 1, "std": 1e999}"#), "observations[0].std");
    // Scenarios built in memory (by the GUI, say) go through the same validation.
    for std in [f64::INFINITY, f64::NAN] {
        let s = scenario_with(Observation { t: 0, op: ObservationOp::Identity { index: 0 }, value: 1.0, std });
        assert!(matches!(s.validate(), Err(ScenarioError::Std { .. })));
    }
}

fn scenario_with(observation: Observation) -> Scenario {
    Scenario {
        system: System::named("lorenz63").unwrap(),
        length: 10,
        observations: vec![observation],
        truth: None,
        sampler: None,
    }
}

#[test]
fn non_finite_values_are_rejected() {
    rejects(&l63_with(r#"{"t": 1, "op": "abs", "index": 0, "value": -1e400, "std": 1}"#), "observations[0].value");
    let s = scenario_with(Observation { t: 3, op: ObservationOp::Identity { index: 1 }, value: f64::NAN, std: 1.0 });
    let e = s.validate().unwrap_err();
    assert!(e.to_string().contains("observations[0].value"), "{e}");
    let mut s = scenario_with(Observation { t: 3, op: ObservationOp::Identity { index: 1 }, value: 1.0, std: 1.0 });
    let mut truth = vec![0.0; 30];
    truth[7] = f64::INFINITY;
    s.truth = Some(truth);
    assert!(s.validate().unwrap_err().to_string().contains("truth[2][1]"));
}

#[test]
fn empty_indices_are_rejected() {
    let e =
        rejects(&l63_with(r#"{"t": 1, "op": "mean", "indices": [], "value": 1, "std": 1}"#), "observations[0].indices");
    assert!(matches!(e, ScenarioError::EmptyIndices { .. }));
}

#[test]
fn length_below_one_is_rejected() {
    for length in [0, -5] {
        let e = rejects(&format!(r#"{{"system": "lorenz63", "length": {length}}}"#), "length");
        assert!(matches!(e, ScenarioError::Length { .. }));
    }
}

#[test]
fn linear_models_with_mismatched_sizes_are_rejected() {
    let cases = [
        (
            LINEAR_2D.replace("[[0.9, 0.1], [-0.1, 0.9]]", "[[0.9, 0.1, 0], [-0.1, 0.9, 0], [0, 0, 1]]"),
            "system.transition",
        ),
        (LINEAR_2D.replace("[[0.9, 0.1], [-0.1, 0.9]]", "[[0.9, 0.1], [-0.1]]"), "system.transition[1]"),
        (LINEAR_2D.replace("\"offset\": [0, 0.1]", "\"offset\": [0]"), "system.offset"),
        (LINEAR_2D.replace("[[0.1, 0.02], [0.02, 0.1]]", "[[0.1]]"), "system.process_cov"),
        (LINEAR_2D.replace("[[1, 0], [0, 2]]", "[[1, 0, 0], [0, 2, 0]]"), "system.initial_cov"),
    ];
    for (model, needle) in cases {
        let e = rejects(&format!(r#"{{"system": {model}, "length": 4}}"#), needle);
        assert!(matches!(e, ScenarioError::Model(ModelError::Shape { .. })), "{e:?}");
    }
}

#[test]
fn covariances_that_are_not_symmetric_positive_definite_are_rejected() {
    let asym = LINEAR_2D.replace("[[0.1, 0.02], [0.02, 0.1]]", "[[0.1, 0.05], [0.02, 0.1]]");
    let e = rejects(&format!(r#"{{"system": {asym}, "length": 4}}"#), "system.process_cov");
    assert!(matches!(e, ScenarioError::Model(ModelError::NotSymmetric { .. })));
    let indefinite = LINEAR_2D.replace("[[1, 0], [0, 2]]", "[[1, 3], [3, 2]]");
    let e = rejects(&format!(r#"{{"system": {indefinite}, "length": 4}}"#), "system.initial_cov");
    assert!(matches!(e, ScenarioError::Model(ModelError::NotPositiveDefinite { .. })));
    let singular = LINEAR_2D.replace("[[0.1, 0.02], [0.02, 0.1]]", "[[0, 0], [0, 0]]");
    rejects(&format!(r#"{{"system": {singular}, "length": 4}}"#), "system.process_cov");
}

#[test]
fn truth_of_the_wrong_shape_is_rejected() {
    rejects(r#"{"system": "lorenz63", "length": 2, "truth": [[1, 2, 3]]}"#, "truth");
    rejects(r#"{"system": "lorenz63", "length": 2, "truth": [[1, 2, 3], [1, 2]]}"#, "truth[1]");
}

#[test]
fn bad_sampler_settings_are_rejected() {
    rejects(r#"{"system": "lorenz63", "length": 2, "sampler": {"samples": 0}}"#, "sampler.samples");
    rejects(r#"{"system": "lorenz63", "length": 2, "sampler": {"tau": -1}}"#, "sampler.tau");
    rejects(r#"{"system": "lorenz63", "length": 2, "sampler": {"steps": -3}}"#, "sampler.steps");
}

#[test]
fn linear_scenarios_round_trip_exactly() {
    let text = format!(
        r#"{{"system": {LINEAR_2D}, "length": 3,
            "observations": [{{"t": 0, "op": "identity", "index": 1, "value": 0.3, "std": 0.5}},
                             {{"t": 2, "op": "mean", "indices": [0, 1], "value": -0.1234567890123, "std": 0.25}}],
            "truth": [[1, 2], [3, 4], [5, 6.000000000000001]],
            "sampler": {{"samples": 8, "tau": 0.25}}}}"#
    );
    let a = Scenario::from_json_str(&text).unwrap();
    let written = a.to_json_string();
    let b = Scenario::from_json_str(&written).unwrap();
    assert_eq!(a.observations, b.observations);
    assert_eq!(a.truth, b.truth);
    assert_eq!(a.sampler, b.sampler);
    assert_eq!(b.sampler, Some(SamplerSettings { samples: Some(8), tau: Some(0.25), ..Default::default() }));
    match (&a.system, &b.system) {
        (System::Linear(x), System::Linear(y)) => {
            assert_eq!(x.transition_matrix(), y.transition_matrix());
            assert_eq!(x.process_cov(), y.process_cov());
            assert_eq!(x.initial_prior().covariance(), y.initial_prior().covariance());
        }
        _ => panic!("system changed in the round trip"),
    }
    assert_eq!(written, b.to_json_string());
}

#[test]
fn nonlinear_observations_have_no_exact_oracle() {
    let s = scenario_with(Observation { t: 0, op: ObservationOp::Abs { index: 0 }, value: 1.0, std: 1.0 });
    let e = s.linear_observations().unwrap_err();
    assert!(matches!(e, ScenarioError::Nonlinear { .. }) && e.to_string().contains("observations[0]"));
}

#[test]
fn twin_experiments_observe_the_truth_with_the_stated_noise() {
    let spec = TwinSpec {
        length: 60,
        every: 2,
        offset: 1,
        kind: OperatorKind::Identity,
        indices: (0..40).collect(),
        std: 0.5,
        seed: 3,
        burn_in: None,
    };
    let s = twin_experiment(System::named("lorenz96").unwrap(), &spec).unwrap();
    assert_eq!(s.observations.len(), 30 * 40);
    assert!(s.observations.iter().all(|o| o.t % 2 == 1));
    let truth = s.truth.as_ref().unwrap();
    let z: Vec<f64> = s.observations.iter().map(|o| (o.value - o.predict(truth, 40)) / o.std).collect();
    let n = z.len() as f64;
    let mean = z.iter().sum::<f64>() / n;
    let var = z.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    assert!(mean.abs() < 4.0 / n.sqrt(), "standardised residual mean {mean}");
    assert!((var - 1.0).abs() < 0.15, "standardised residual variance {var}");
    // Reproducible from the seed.
    let again = twin_experiment(System::named("lorenz96").unwrap(), &spec).unwrap();
    assert_eq!(again.observations, s.observations);
}

#[test]
fn twin_experiments_check_their_specification_first() {
    let spec = TwinSpec {
        length: 65,
        every: 8,
        offset: 0,
        kind: OperatorKind::Abs,
        indices: vec![3],
        std: 0.4,
        seed: 0,
        burn_in: None,
    };
    let e = twin_experiment(System::named("lorenz63").unwrap(), &spec).unwrap_err();
    assert!(matches!(e, ScenarioError::IndexOutOfRange { .. }), "{e}");
    let e =
        twin_experiment(System::named("lorenz63").unwrap(), &TwinSpec { every: 0, indices: vec![0], ..spec.clone() })
            .unwrap_err();
    assert!(e.to_string().contains("every"));
    let e = twin_experiment(System::named("lorenz63").unwrap(), &TwinSpec { std: 0.0, indices: vec![0], ..spec })
        .unwrap_err();
    assert!(matches!(e, ScenarioError::Std { .. }));
}

#[test]
fn bundled_example_scenarios_are_valid() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "json") {
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert!(s.truth.is_some() && !s.observations.is_empty(), "{}", path.display());
            count += 1;
        }
    }
    assert!(count >= 3, "expected the bundled examples in {}", dir.display());
}

#[test]
fn kolmogorov_field_scenarios_index_cells_row_major() {
    // A 32×32 vorticity field: flat indices 0‥1023, row-major (y rows); coarse views are `mean`s.
    let text = r#"{"system": "kolmogorov", "length": 8, "observations": [
        {"t": 0, "op": "mean", "indices": [0, 1, 32, 33], "value": 1.5, "std": 0.46},
        {"t": 4, "op": "identity", "index": 1023, "value": -2.0, "std": 0.46}]}"#;
    let s = Scenario::from_json_str(text).unwrap();
    assert_eq!(s.system.chain().state_shape(), vec![32, 32]);
    assert_eq!(s.state_dim(), 1024);
    let mut state = vec![0.0; 1024];
    state[32] = 4.0;
    assert_eq!(s.observations[0].op.apply(&state), 1.0);
    rejects(
        r#"{"system": "kolmogorov", "length": 8, "observations": [
            {"t": 0, "op": "identity", "index": 1024, "value": 0, "std": 0.46}]}"#,
        "1024",
    );
}

#[test]
fn kolmogorov_presets_of_other_sizes_are_system_objects() {
    let text = r#"{"system": {"name": "kolmogorov", "grid": 64, "resolution": 256}, "length": 4}"#;
    let s = Scenario::from_json_str(text).unwrap();
    assert_eq!(s.system.chain().state_shape(), vec![64, 64]);
    // Written back as the object (the default size as the bare name), and read again alike.
    let again = Scenario::from_json_str(&s.to_json_string()).unwrap();
    assert_eq!(again.system.chain().state_shape(), vec![64, 64]);
    let default = Scenario::from_json_str(r#"{"system": "kolmogorov", "length": 4}"#).unwrap();
    assert!(default.to_json_string().contains(r#""system": "kolmogorov""#));
    rejects(r#"{"system": {"name": "kolmogorov", "grid": 48, "resolution": 100}, "length": 4}"#, "system.resolution");
    rejects(r#"{"system": {"name": "kolmogorov", "grid": 12}, "length": 4}"#, "system.grid");
    rejects(r#"{"system": {"name": "kolmogorov", "reynolds": -5}, "length": 4}"#, "system.reynolds");
    rejects(r#"{"system": {"name": "kolmogorov", "viscosity": 1}, "length": 4}"#, "viscosity");
}
