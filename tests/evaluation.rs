//! `sdalab eval lorenz63` end to end on a small grid: the CSV it writes, that Langevin
//! corrections bring SDA closer to the particle posterior, and that a rerun resumes instead of
//! recomputing; `sdalab eval prior` on the bundled Lorenz-63 model.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::process::Command;

use sdalab::evaluation::{EvalRow, Regime, RowMethod, read_rows};

const HEADER: &str = "case,obs,method,model,k,corrections,steps,tau,gamma,samples,particles,seed,\
w1,floor,w1_over_floor,log_prior,log_likelihood,rmse,spread,seconds,mmps_iterations";

fn eval(out: &std::path::Path) -> std::process::Output {
    let args = "eval lorenz63 --cases 1 --obs lo --k 4 --corrections 0,4 --samples 64 --steps 32 \
                --particles 4096 --keep 64 --out";
    Command::new(env!("CARGO_BIN_EXE_sdalab"))
        .args(args.split_whitespace())
        .arg(out)
        .output()
        .expect("the sdalab binary runs")
}

fn sda_w1(rows: &[EvalRow], corrections: usize) -> f64 {
    rows.iter()
        .find(|r| matches!(r.method, RowMethod::Sda { k: 4, corrections: c, .. } if c == corrections))
        .map(|r| r.w1)
        .expect("the SDA row is present")
}

#[test]
fn small_eval_grid_writes_its_rows_and_corrections_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("eval");
    let first = eval(&out);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let text = std::fs::read_to_string(out.join("eval.csv")).unwrap();
    assert_eq!(text.lines().next(), Some(HEADER));
    let rows = read_rows(&out.join("eval.csv")).unwrap();
    assert_eq!(rows.len(), 3, "one floor row and two SDA rows");
    assert!(rows.iter().all(|r| r.case == 0 && r.regime == Regime::Lo && r.samples == 64));
    let floor = rows.iter().find(|r| r.method == RowMethod::Particle).unwrap();
    let (w1_c0, w1_c4) = (sda_w1(&rows, 0), sda_w1(&rows, 4));
    eprintln!("floor {:.2}, W1 C=0 {w1_c0:.2}, C=4 {w1_c4:.2}", floor.w1);
    assert!(floor.w1 > 0.0 && floor.w1 < w1_c4, "the floor is the best any ensemble of 64 can do");
    assert!(w1_c4 < w1_c0, "k = 4: C = 4 must beat C = 0 on W1 ({w1_c4:.2} vs {w1_c0:.2})");
    assert!(rows.iter().all(|r| r.floor == floor.w1));
    assert!(rows.iter().filter(|r| r.method != RowMethod::Particle).all(|r| r.model.starts_with("lorenz63-k4@")));
    let report = std::fs::read_to_string(out.join("eval.md")).unwrap();
    assert!(report.contains("| k=4 |") && report.contains("floor"), "{report}");
    assert_eq!(&std::fs::read(out.join("eval.png")).unwrap()[1..4], b"PNG");
    assert_eq!(&std::fs::read(out.join("cost.png")).unwrap()[1..4], b"PNG");

    // A rerun finds every row done: nothing is sampled again, the file is unchanged.
    let second = eval(&out);
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert_eq!(std::fs::read_to_string(out.join("eval.csv")).unwrap(), text);
}

#[test]
fn eval_rejects_bad_settings_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    for (args, needle) in [
        ("--obs mid", "lo or hi"),
        ("--samples 128 --keep 64", "--keep"),
        ("--k 7", "lorenz63-k7"),
        ("--cases 0", "--cases"),
        ("--mmps-iterations 0", "--mmps-iterations"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_sdalab"))
            .args(["eval", "lorenz63", "--out"])
            .arg(dir.path().join("out"))
            .args(args.split_whitespace())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(needle), "{args}: {stderr}");
        assert!(!dir.path().join("out/eval.csv").exists(), "{args}: wrote rows");
    }
}

/// `eval prior` on the bundled Lorenz-63 model: a row per sampler, and unconditional samples that
/// look like the simulator's climate to first order (spread within a factor 1.5 of the
/// simulator's); bad settings are refused before any sampling.
#[test]
fn eval_prior_compares_unconditional_samples_with_the_simulator() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("prior");
    let output = Command::new(env!("CARGO_BIN_EXE_sdalab"))
        .args(
            "eval prior --system lorenz63 --samples 32 --steps 32 --corrections 0,1 --reference-samples 64 --out"
                .split_whitespace(),
        )
        .arg(&out)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = std::fs::read_to_string(out.join("prior.md")).unwrap();
    for label in ["| 32 steps, C = 0 (probability flow) |", "| 32 steps, C = 1, τ = 0.25 |"] {
        let row = report.lines().rfind(|l| l.starts_with(label)).unwrap_or_else(|| panic!("no `{label}`: {report}"));
        let ratio: f64 = row[label.len()..].split('|').next().unwrap().trim().parse().unwrap();
        assert!((0.67..1.5).contains(&ratio), "{label}: std ratio {ratio}");
    }
    assert!(report.contains("| simulator | 1.000 |"), "{report}");

    for (args, needle) in [
        ("--system linear", "exact score"),
        ("--system lorenz63 --samples 1", "--samples"),
        ("--system lorenz63 --data x.npy", "--data"),
        ("--system pendulum", "unknown system"),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_sdalab"))
            .args(["eval", "prior", "--out"])
            .arg(dir.path().join("bad"))
            .args(args.split_whitespace())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success() && stderr.contains(needle), "{args}: {stderr}");
        assert!(!dir.path().join("bad/prior.md").exists(), "{args}: wrote a report");
    }
}
