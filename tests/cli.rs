//! The `sdalab` binary end to end: shapes, units and reproducibility of `simulate`, twin
//! scenarios, and bad input answered with a one-line reason, a non-zero exit and no file.

use std::path::Path;
use std::process::{Command, Output};

use sdalab::export::read_npy_f32;
use sdalab::scenario::Scenario;

fn sdalab(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdalab"))
        .args(args)
        .output()
        .expect("the sdalab binary runs")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
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
    let a = dir.path().join("a.npy");
    let b = dir.path().join("b.npy");
    let c = dir.path().join("c.npy");
    let args = |out: &Path, seed: &str| {
        let out = path_str(out).to_string();
        let seed = seed.to_string();
        move || {
            sdalab(&[
                "simulate",
                "--system",
                "lorenz63",
                "--length",
                "65",
                "--samples",
                "256",
                "--seed",
                &seed,
                "--out",
                &out,
            ])
        }
    };
    for (out, seed) in [(&a, "1"), (&b, "1"), (&c, "2")] {
        let o = args(out, seed)();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let x = read_npy_f32(&a).unwrap();
    assert_eq!(x.shape, vec![256, 65, 3]);
    let mean_z = x.data.iter().skip(2).step_by(3).map(|&v| v as f64).sum::<f64>() / (256.0 * 65.0);
    assert!((mean_z - 23.5).abs() <= 1.0, "mean z = {mean_z}");
    assert_eq!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&b).unwrap(),
        "same seed, different file"
    );
    assert_ne!(
        std::fs::read(&a).unwrap(),
        std::fs::read(&c).unwrap(),
        "different seeds, same file"
    );
}

#[test]
fn simulate_lorenz96_and_linear_write_their_state_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("l96.npy");
    let o = sdalab(&[
        "simulate",
        "--system",
        "lorenz96",
        "--length",
        "10",
        "--samples",
        "3",
        "--out",
        path_str(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(read_npy_f32(&out).unwrap().shape, vec![3, 10, 40]);

    let model = dir.path().join("model.json");
    std::fs::write(
        &model,
        r#"{"name": "linear", "transition": [[0.5]], "offset": [1.0], "process_cov": [[0.25]],
            "initial_mean": [2.0], "initial_cov": [[1.0]]}"#,
    )
    .unwrap();
    let out = dir.path().join("lin.npy");
    let o = sdalab(&[
        "simulate",
        "--system",
        "linear",
        "--model",
        path_str(&model),
        "--length",
        "30",
        "--samples",
        "2000",
        "--seed",
        "4",
        "--out",
        path_str(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let x = read_npy_f32(&out).unwrap();
    assert_eq!(x.shape, vec![2000, 30, 1]);
    // x_{i+1} = x_i/2 + 1 + N(0, 1/4) settles at mean 2 and variance (1/4)/(1 − 1/4) = 1/3.
    let last: Vec<f64> = x.data.chunks(30).map(|t| t[29] as f64).collect();
    let m = last.iter().sum::<f64>() / 2000.0;
    let v = last.iter().map(|a| (a - m).powi(2)).sum::<f64>() / 2000.0;
    assert!(
        (m - 2.0).abs() < 0.06 && (v - 1.0 / 3.0).abs() < 0.05,
        "mean {m}, variance {v}"
    );
}

#[test]
fn scenario_makes_a_valid_twin_experiment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("s.json");
    let o = sdalab(&[
        "scenario",
        "--system",
        "lorenz63",
        "--length",
        "65",
        "--every",
        "8",
        "--indices",
        "0",
        "--std",
        "0.4",
        "--seed",
        "3",
        "--out",
        path_str(&out),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let s = Scenario::load(&out).unwrap();
    assert_eq!(s.observations.len(), 9);
    assert_eq!(
        s.observations.iter().map(|o| o.t).collect::<Vec<_>>(),
        (0..65).step_by(8).collect::<Vec<_>>()
    );
    assert_eq!(s.truth.as_ref().map(Vec::len), Some(65 * 3));
    let v = sdalab(&["validate", path_str(&out)]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).contains("9 identity"));
}

#[test]
fn bad_input_is_one_line_a_failure_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.npy");
    let o = sdalab(&[
        "simulate",
        "--system",
        "lorenz64",
        "--length",
        "5",
        "--samples",
        "2",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "lorenz64", &out);
    let o = sdalab(&[
        "simulate",
        "--system",
        "linear",
        "--length",
        "5",
        "--samples",
        "2",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "--model", &out);
    let o = sdalab(&[
        "simulate",
        "--system",
        "lorenz63",
        "--length",
        "0",
        "--samples",
        "2",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "--length", &out);
    let missing_dir = dir.path().join("no/such/dir/x.npy");
    let o = sdalab(&[
        "simulate",
        "--system",
        "lorenz63",
        "--length",
        "3",
        "--samples",
        "2",
        "--out",
        path_str(&missing_dir),
    ]);
    assert_rejected(&o, "x.npy", &missing_dir);

    let out = dir.path().join("never.json");
    let o = sdalab(&[
        "scenario",
        "--system",
        "lorenz63",
        "--length",
        "65",
        "--indices",
        "5",
        "--std",
        "0.4",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "index", &out);
    let o = sdalab(&[
        "scenario",
        "--system",
        "lorenz63",
        "--length",
        "65",
        "--indices",
        "0",
        "--std",
        "-1",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "std", &out);

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"{"system": "lorenz63", "length": 9, "observations": [{"t": 9, "op": "identity", "index": 0, "value": 1, "std": 1}]}"#)
        .unwrap();
    let o = sdalab(&["validate", path_str(&bad)]);
    assert_rejected(&o, "observations[0].t", &out);
}

#[test]
fn no_subcommand_prints_help() {
    let o = sdalab(&[]);
    assert!(o.status.success());
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("simulate") && text.contains("scenario"), "{text}");
}

#[test]
fn argument_errors_are_one_line_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("never.npy");
    let o = sdalab(&[
        "simulate",
        "--system",
        "lorenz63",
        "--length",
        "ten",
        "--samples",
        "2",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "--length", &out);
    let o = sdalab(&[
        "simulate",
        "--system",
        "lorenz63",
        "--samples",
        "2",
        "--out",
        path_str(&out),
    ]);
    assert_rejected(&o, "--length", &out);
}
