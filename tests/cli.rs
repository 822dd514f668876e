//! The `sdalab` binary end to end: shapes, units and reproducibility of `simulate`, twin
//! scenarios, and bad input answered with a one-line reason, a non-zero exit and no file.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::process::{Command, Output};

use sdalab::export::read_npy_f32;
use sdalab::scenario::Scenario;

/// Runs `sdalab` with whitespace-separated arguments (temporary paths contain no spaces).
fn sdalab(args: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdalab")).args(args.split_whitespace()).output().expect("the sdalab binary runs")
}

fn assert_ok(output: &Output) {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
}

/// Fails unless the command failed with one line on stderr containing `needle`, and `out` was not written.
fn assert_rejected(output: &Output, needle: &str, out: &Path) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "succeeded; stderr: {stderr}");
    assert!(stderr.contains(needle), "stderr `{stderr}` does not mention `{needle}`");
    assert_eq!(stderr.trim_end().lines().count(), 1, "reason is not one line: {stderr}");
    assert!(!out.exists(), "{} was written", out.display());
}

#[test]
fn simulate_lorenz63_has_the_paper_climate_and_is_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name);
    for (name, seed) in [("a.npy", 1), ("b.npy", 1), ("c.npy", 2)] {
        let out = path(name);
        assert_ok(&sdalab(&format!(
            "simulate --system lorenz63 --length 65 --samples 256 --seed {seed} --out {}",
            out.display()
        )));
    }
    let x = read_npy_f32(&path("a.npy")).unwrap();
    assert_eq!(x.shape, vec![256, 65, 3]);
    let mean_z = x.data.iter().skip(2).step_by(3).map(|&v| v as f64).sum::<f64>() / (256.0 * 65.0);
    assert!((mean_z - 23.5).abs() <= 1.0, "mean z = {mean_z}");
    let bytes = |name: &str| std::fs::read(path(name)).unwrap();
    assert_eq!(bytes("a.npy"), bytes("b.npy"), "same seed, different file");
    assert_ne!(bytes("a.npy"), bytes("c.npy"), "different seeds, same file");
}

/// `--chunk` writes the same ensemble as one go; an interrupted run (a part missing, another
/// half-written) given the same command finishes it, and a different command is refused.
#[test]
fn simulate_in_parts_resumes_to_the_same_ensemble() {
    let dir = tempfile::tempdir().unwrap();
    let (whole, parts) = (dir.path().join("whole.npy"), dir.path().join("parts.npy"));
    let common = "simulate --system lorenz63 --length 20 --samples 10 --seed 4";
    assert_ok(&sdalab(&format!("{common} --out {}", whole.display())));
    // An interrupted run: the parts folder with two finished parts and a torn one.
    let folder = dir.path().join("parts.npy.parts");
    assert_ok(&sdalab(&format!("{common} --chunk 3 --out {}", parts.display())));
    assert!(!folder.exists(), "the parts are removed once joined");
    let expected = std::fs::read(&whole).unwrap();
    assert_eq!(std::fs::read(&parts).unwrap(), expected);
    std::fs::create_dir(&folder).unwrap();
    let part = |start: usize, end: usize| folder.join(format!("{start:06}-{end:06}.npy"));
    let manifest = r#"{"system": "lorenz63", "length": 20, "samples": 10, "seed": 4, "burn_in": 1024, "chunk": 3}"#;
    std::fs::write(folder.join("manifest.json"), manifest).unwrap();
    let zeros = vec![0f32; 3 * 20 * 3];
    sdalab::export::write_npy_f32(&part(0, 3), &[3, 20, 3], &zeros).unwrap();
    std::fs::write(part(3, 6), b"torn").unwrap();
    std::fs::remove_file(&parts).unwrap();
    assert_ok(&sdalab(&format!("{common} --chunk 3 --out {}", parts.display())));
    // The finished part is kept as it is (zeros here, to show it was not simulated again); the
    // torn one and the missing ones are simulated.
    let resumed = read_npy_f32(&parts).unwrap();
    let reference = read_npy_f32(&whole).unwrap();
    assert!(resumed.data[..zeros.len()].iter().all(|v| *v == 0.0));
    assert_eq!(resumed.data[zeros.len()..], reference.data[zeros.len()..]);
    // Parts of another simulation are refused.
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("manifest.json"), manifest.replace("\"seed\": 4", "\"seed\": 5")).unwrap();
    let other = sdalab(&format!("{common} --chunk 3 --out {}", parts.display()));
    assert!(!other.status.success() && String::from_utf8_lossy(&other.stderr).contains("another simulation"));
}

#[test]
fn simulate_lorenz96_and_linear_write_their_state_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("l96.npy");
    assert_ok(&sdalab(&format!("simulate --system lorenz96 --length 10 --samples 3 --out {}", out.display())));
    assert_eq!(read_npy_f32(&out).unwrap().shape, vec![3, 10, 40]);

    let model = dir.path().join("model.json");
    std::fs::write(
        &model,
        r#"{"name": "linear", "transition": [[0.5]], "offset": [1.0], "process_cov": [[0.25]],
            "initial_mean": [2.0], "initial_cov": [[1.0]]}"#,
    )
    .unwrap();
    let out = dir.path().join("lin.npy");
    assert_ok(&sdalab(&format!(
        "simulate --system linear --model {} --length 30 --samples 2000 --seed 4 --out {}",
        model.display(),
        out.display()
    )));
    let x = read_npy_f32(&out).unwrap();
    assert_eq!(x.shape, vec![2000, 30, 1]);
    // x_{i+1} = x_i/2 + 1 + N(0, 1/4) settles at mean 2 and variance (1/4)/(1 − 1/4) = 1/3.
    let last: Vec<f64> = x.data.chunks(30).map(|t| t[29] as f64).collect();
    let m = last.iter().sum::<f64>() / 2000.0;
    let v = last.iter().map(|a| (a - m).powi(2)).sum::<f64>() / 2000.0;
    assert!((m - 2.0).abs() < 0.06 && (v - 1.0 / 3.0).abs() < 0.05, "mean {m}, variance {v}");
}

#[test]
fn scenario_makes_a_valid_twin_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    assert_ok(&sdalab(&format!(
        "scenario --system lorenz63 --length 65 --every 8 --indices 0 --std 0.4 --seed 3 --out {}",
        out.display()
    )));
    let s = Scenario::load(&out).unwrap();
    assert_eq!(s.observations.len(), 9);
    assert_eq!(s.observations.iter().map(|o| o.t).collect::<Vec<_>>(), (0..65).step_by(8).collect::<Vec<_>>());
    assert_eq!(s.truth.as_ref().map(Vec::len), Some(65 * 3));
    let v = sdalab(&format!("validate {}", out.display()));
    assert_ok(&v);
    assert!(String::from_utf8_lossy(&v.stdout).contains("9 identity"));
}

#[test]
fn bad_input_is_one_line_a_failure_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.npy");
    let o = out.display();
    let cases = [
        (format!("simulate --system lorenz64 --length 5 --samples 2 --out {o}"), "lorenz64"),
        (format!("simulate --system linear --length 5 --samples 2 --out {o}"), "--model"),
        (format!("simulate --system lorenz63 --length 0 --samples 2 --out {o}"), "--length"),
        (format!("simulate --system lorenz63 --length ten --samples 2 --out {o}"), "--length"),
        (format!("simulate --system lorenz63 --samples 2 --out {o}"), "--length"),
        (format!("scenario --system lorenz63 --length 65 --indices 5 --std 0.4 --out {o}"), "index"),
        (format!("scenario --system lorenz63 --length 65 --indices 0 --std -1 --out {o}"), "std"),
        (format!("scenario --system lorenz63 --length 65 --indices 0 --std 1 --op sine --out {o}"), "sine"),
    ];
    for (args, needle) in &cases {
        assert_rejected(&sdalab(args), needle, &out);
    }
    let missing_dir = dir.path().join("no/such/dir/x.npy");
    let o = sdalab(&format!("simulate --system lorenz63 --length 3 --samples 2 --out {}", missing_dir.display()));
    assert_rejected(&o, "does not exist", &missing_dir);

    let bad = dir.path().join("bad.json");
    let text = r#"{"system": "lorenz63", "length": 9,
                   "observations": [{"t": 9, "op": "identity", "index": 0, "value": 1, "std": 1}]}"#;
    std::fs::write(&bad, text).unwrap();
    assert_rejected(&sdalab(&format!("validate {}", bad.display())), "observations[0].t", &out);
}

#[test]
fn help_lists_the_commands_and_no_command_without_a_display_says_so() {
    let o = sdalab("--help");
    assert_ok(&o);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("simulate") && text.contains("scenario") && text.contains("--preset"), "{text}");
    // With no command the app opens; with no display that fails with a one-line reason.
    let o = Command::new(env!("CARGO_BIN_EXE_sdalab"))
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .output()
        .unwrap();
    assert_rejected(&o, "DISPLAY", Path::new("/nonexistent/never-written"));
}

/// `assimilate --method enks|4dvar` on the linear scenario: the EnKS members and every 4D-Var
/// minimum (started from the EnKS members, or from a file) sit on the exact posterior mean.
#[test]
fn classical_methods_write_posterior_ensembles() {
    use sdalab::dynamics::System;
    let dir = tempfile::tempdir().unwrap();
    let scenario_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/linear-rotation.json");
    let scenario = Scenario::load(&scenario_path).unwrap();
    let System::Linear(model) = &scenario.system else { panic!("linear scenario expected") };
    let exact = model.smooth(scenario.length, &scenario.linear_observations().unwrap()).unwrap();
    let d = scenario.state_dim();
    let mean_error = |path: &Path, members: usize| {
        let a = read_npy_f32(path).unwrap();
        assert_eq!(a.shape, vec![members, scenario.length, d]);
        let mut worst: f64 = 0.0;
        for t in 0..scenario.length {
            for i in 0..d {
                let mean = (0..members).map(|k| a.data[(k * scenario.length + t) * d + i] as f64).sum::<f64>()
                    / members as f64;
                worst = worst.max((mean - exact.means[t][i]).abs());
            }
        }
        worst
    };
    let s = scenario_path.display();
    let enks = dir.path().join("enks.npy");
    let o = sdalab(&format!(
        "assimilate --scenario {s} --method enks --samples 3000 --form stochastic --out {}",
        enks.display()
    ));
    assert_ok(&o);
    assert!(mean_error(&enks, 3000) < 0.1);
    let var = dir.path().join("4dvar.npy");
    assert_ok(&sdalab(&format!("assimilate --scenario {s} --method 4dvar --samples 8 --out {}", var.display())));
    assert!(mean_error(&var, 8) < 1e-4);
    let from_file = dir.path().join("4dvar-from-file.npy");
    let o = sdalab(&format!(
        "assimilate --scenario {s} --method 4dvar --starts {} --out {}",
        enks.display(),
        from_file.display()
    ));
    assert_ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("3000 members"));

    // Bad input: a first-guess file of the wrong shape; 4D-Var on a system with no adjoint.
    let never = dir.path().join("never.npy");
    let other = dir.path().join("other.npy");
    assert_ok(&sdalab(&format!("simulate --system lorenz63 --length 5 --samples 2 --out {}", other.display())));
    let o = sdalab(&format!(
        "assimilate --scenario {s} --method 4dvar --starts {} --out {}",
        other.display(),
        never.display()
    ));
    assert_rejected(&o, "shape", &never);
    let kolmogorov = dir.path().join("k.json");
    std::fs::write(&kolmogorov, r#"{"system": "kolmogorov", "length": 3, "observations": []}"#).unwrap();
    let o = sdalab(&format!(
        "assimilate --scenario {} --method 4dvar --samples 2 --out {}",
        kolmogorov.display(),
        never.display()
    ));
    assert_rejected(&o, "adjoint", &never);
    let o = sdalab(&format!("assimilate --scenario {s} --method enks --samples 1 --out {}", never.display()));
    assert_rejected(&o, "at least 2", &never);
}

/// A scenario's `sampler` block chooses MMPS; with the linear system's exact score and no
/// corrections the ensemble matches the Kalman/RTS posterior, and bad MMPS settings are refused.
#[test]
fn assimilate_takes_mmps_from_the_scenario_and_matches_the_kalman_posterior() {
    let dir = tempfile::tempdir().unwrap();
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/linear-rotation.json");
    let mut json: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&source).unwrap()).unwrap();
    json["sampler"] =
        serde_json::json!({ "guidance": "mmps", "mmps_iterations": 8, "samples": 512, "steps": 64, "corrections": 0 });
    let path = dir.path().join("mmps.json");
    std::fs::write(&path, json.to_string()).unwrap();
    let out = dir.path().join("post.npy");
    let o = sdalab(&format!("assimilate --scenario {} --out {}", path.display(), out.display()));
    assert_ok(&o);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert!(stderr.contains("Mmps { iterations: 8 }"), "{stderr}");
    let scenario = Scenario::load(&path).unwrap();
    let sdalab::dynamics::System::Linear(model) = &scenario.system else { panic!("a linear scenario") };
    let rows: Vec<_> = scenario.observations.iter().map(|o| o.as_linear(2).unwrap()).collect();
    let exact = model.smooth(scenario.length, &rows).unwrap();
    let x = read_npy_f32(&out).unwrap();
    let (n, per) = (512.0, scenario.length * 2);
    let (mut sq, mut ratio) = (0.0, 0.0);
    for i in 0..per {
        let col: Vec<f64> = x.data.chunks(per).map(|m| m[i] as f64).collect();
        let mean = col.iter().sum::<f64>() / n;
        let var = col.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
        let exact_var = exact.covariances[i / 2][(i % 2, i % 2)];
        sq += ((mean - exact.means[i / 2][i % 2]) / exact_var.sqrt()).powi(2);
        ratio += var / exact_var;
    }
    let (rms, ratio) = ((sq / per as f64).sqrt(), ratio / per as f64);
    assert!(rms < 0.15 && (0.8..=1.05).contains(&ratio), "RMS mean error {rms}, variance ratio {ratio}");
    let refused = dir.path().join("refused.npy");
    let o = sdalab(&format!(
        "assimilate --scenario {} --guidance mmps --mmps-iterations 0 --out {}",
        path.display(),
        refused.display()
    ));
    assert_rejected(&o, "--mmps-iterations", &refused);
    json["sampler"]["mmps_iterations"] = serde_json::json!(0);
    std::fs::write(&path, json.to_string()).unwrap();
    let o = sdalab(&format!("assimilate --scenario {} --out {}", path.display(), refused.display()));
    assert_rejected(&o, "sampler.mmps_iterations", &refused);
}
