//! Hostile but realistic input to the release binary: generated scenario mutations, extreme flags
//! and awkward output paths. Every run must either succeed with a finite result, or fail with a
//! one-line reason, exit status 1 (2 for a malformed command line; never a panic, an abort or the
//! memory limit) and no output left
//! behind. Runs go under an address-space limit, with the memory budget lowered to 1 GiB.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// Address space allowed to each run (the budget refuses far below it).
const ADDRESS_SPACE: &str = "--as=6442450944";

fn run(args: &[String]) -> Output {
    Command::new("prlimit")
        .arg(ADDRESS_SPACE)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_sdalab"))
        .args(args)
        .env("SDALAB_MEMORY_LIMIT", "1G")
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("prlimit runs the binary")
}

/// What a run did wrong, if anything: `None` when it succeeded with a finite `.npy` at `out` (or
/// no file was asked for), or failed cleanly.
fn fault(output: &Output, out: Option<&Path>) -> Option<String> {
    let stderr = String::from_utf8_lossy(&output.stderr);
    if output.status.success() {
        let out = out?;
        return match sdalab::export::read_npy_f32(out) {
            Ok(a) if a.data.iter().all(|v| v.is_finite()) => None,
            Ok(_) => Some("exit 0 with non-finite values written".into()),
            Err(e) => Some(format!("exit 0 but the output is unreadable: {e}")),
        };
    }
    let last = stderr.trim_end().lines().last().unwrap_or("");
    // 1: refused; 2: the command line itself is malformed (clap's usage errors).
    if !matches!(output.status.code(), Some(1 | 2)) {
        return Some(format!("exit {:?}: {}", output.status, stderr.chars().take(400).collect::<String>()));
    }
    if !last.starts_with("sdalab: ") || last.chars().count() > 400 {
        return Some(format!("reason not one short line: {}", stderr.chars().take(400).collect::<String>()));
    }
    if out.is_some_and(Path::exists) {
        return Some(format!("failed ({last}) but left {}", out.map(Path::display).unwrap()));
    }
    None
}

/// Values to put where a count, a size or an index is expected.
fn hostile_numbers() -> Vec<Value> {
    vec![
        json!(0),
        json!(-1),
        json!(1.5),
        json!(1e15),
        json!(4611686018427387904u64),
        json!(18446744073709551615u64),
        json!(1e308),
        json!("7"),
        Value::Null,
        json!([]),
    ]
}

/// Values to put where a real number (a value, a noise level, a step) is expected.
fn hostile_reals() -> Vec<Value> {
    vec![json!(0.0), json!(-1.0), json!(1e-320), json!(1e9), json!(1e308), json!(-1e308), json!("1"), Value::Null]
}

/// `base` with the entry at `path` (object keys and array indices) set to `value`.
fn mutate(base: &Value, path: &[&str], value: Value) -> Value {
    let mut out = base.clone();
    let mut at = &mut out;
    for key in &path[..path.len() - 1] {
        at = match key.parse::<usize>() {
            Ok(i) => &mut at[i],
            Err(_) => &mut at[*key],
        };
    }
    let last = path[path.len() - 1];
    match last.parse::<usize>() {
        Ok(i) => at[i] = value,
        Err(_) => at[last] = value,
    }
    out
}

fn scenario_mutations(base: &Value) -> Vec<(String, Value)> {
    let mut cases = Vec::new();
    let mut add = |what: String, v: Value| cases.push((what, v));
    for v in hostile_numbers() {
        add(format!("length = {v}"), mutate(base, &["length"], v.clone()));
        add(format!("t = {v}"), mutate(base, &["observations", "0", "t"], v.clone()));
        add(format!("index = {v}"), mutate(base, &["observations", "0", "index"], v.clone()));
        for key in ["samples", "steps", "corrections", "seed", "mmps_iterations"] {
            add(format!("sampler.{key} = {v}"), mutate(base, &["sampler", key], v.clone()));
        }
    }
    for v in hostile_reals() {
        add(format!("value = {v}"), mutate(base, &["observations", "0", "value"], v.clone()));
        add(format!("std = {v}"), mutate(base, &["observations", "0", "std"], v.clone()));
        for key in ["tau", "gamma", "zeta"] {
            add(format!("sampler.{key} = {v}"), mutate(base, &["sampler", key], v.clone()));
        }
    }
    let long = "x".repeat(100_000);
    for v in [json!(""), json!("sine"), json!(long), json!(5), Value::Null, json!("mean"), json!("abs")] {
        add(
            format!("op = {}", v.to_string().chars().take(20).collect::<String>()),
            mutate(base, &["observations", "0", "op"], v),
        );
    }
    for v in [
        json!("lorenz64"),
        json!(""),
        json!(5),
        Value::Null,
        json!({}),
        json!([]),
        json!({"name": "kolmogorov", "grid": 0}),
        json!({"name": "kolmogorov", "grid": 1e9}),
        json!({"name": "linear"}),
        json!("x".repeat(100_000)),
    ] {
        add(format!("system = {}", v.to_string().chars().take(30).collect::<String>()), mutate(base, &["system"], v));
    }
    for v in [Value::Null, json!(5), json!([{}]), json!([[]]), json!("obs")] {
        add(format!("observations = {v}"), mutate(base, &["observations"], v));
    }
    for v in [json!([]), json!([1.0, 2.0]), json!("truth"), json!([[1.0]]), json!(5)] {
        add(format!("truth = {v}"), mutate(base, &["truth"], v));
    }
    for v in [json!("bogus"), json!(5), Value::Null] {
        add(format!("sampler.guidance = {v}"), mutate(base, &["sampler", "guidance"], v));
    }
    // The linear model's own entries: shapes, signs, magnitudes, definiteness.
    if base["system"].is_object() {
        let matrices = [
            json!([[0.0, 0.0], [0.0, 0.0]]),
            json!([[-1.0, 0.0], [0.0, 1.0]]),
            json!([[1.0, 2.0], [2.0, 1.0]]),
            json!([[1e308, 0.0], [0.0, 1e308]]),
            json!([[1e-320, 0.0], [0.0, 1e-320]]),
            json!([[1.0, 0.5], [0.4, 1.0]]),
            json!([[1.0, 0.0]]),
            json!([[1.0]]),
            json!([[1.0, "x"], [0.0, 1.0]]),
            json!([]),
            Value::Null,
        ];
        for key in ["transition", "process_cov", "initial_cov"] {
            for m in &matrices {
                add(format!("system.{key} = {m}"), mutate(base, &["system", key], m.clone()));
            }
        }
        for v in [json!([0.0]), json!([1e308, 1e308]), json!(["x", 0.0]), Value::Null] {
            add(format!("system.initial_mean = {v}"), mutate(base, &["system", "initial_mean"], v.clone()));
            add(format!("system.offset = {v}"), mutate(base, &["system", "offset"], v));
        }
        // The same combination observed twice with a noise too small to represent: the Kalman
        // filter's innovation covariance is singular there.
        let mut twice = base.clone();
        twice["observations"][0]["std"] = json!(1e-200);
        let again = twice["observations"][0].clone();
        if let Some(list) = twice["observations"].as_array_mut() {
            list.push(again);
        }
        add("an observation repeated with std 1e-200".into(), twice);
    }
    add("an unknown entry".into(), mutate(base, &["bogus"], json!(1)));
    add("the sampler block a number".into(), mutate(base, &["sampler"], json!(3)));
    cases
}

fn bases() -> Vec<(&'static str, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios");
    ["lorenz63-lo.json", "linear-rotation.json"]
        .into_iter()
        .map(|name| {
            let mut v: Value = serde_json::from_str(&std::fs::read_to_string(root.join(name)).unwrap()).unwrap();
            if v.get("sampler").is_none() {
                v["sampler"] = json!({});
            }
            (name, v)
        })
        .collect()
}

#[test]
fn scenario_mutations_never_panic_and_never_leave_a_broken_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut faults = Vec::new();
    let mut count = 0;
    for (name, base) in bases() {
        for (what, scenario) in scenario_mutations(&base) {
            let file = dir.path().join("s.json");
            std::fs::write(&file, scenario.to_string()).unwrap();
            let out = dir.path().join("o.npy");
            let _ = std::fs::remove_file(&out);
            let file_arg = file.display().to_string();
            let commands: [(Vec<String>, Option<&Path>); 2] = [
                (vec!["validate".into(), file_arg.clone()], None),
                (
                    [
                        "assimilate",
                        "--scenario",
                        &file_arg,
                        "--samples",
                        "2",
                        "--steps",
                        "2",
                        "--out",
                        &out.display().to_string(),
                    ]
                    .map(String::from)
                    .to_vec(),
                    Some(&out),
                ),
            ];
            for (args, out) in commands {
                count += 1;
                if let Some(f) = fault(&run(&args), out) {
                    faults.push(format!("{name}, {what}, `{}`: {f}", args[0]));
                }
            }
        }
    }
    assert!(count >= 500, "only {count} runs");
    assert!(faults.is_empty(), "{} of {count} runs misbehaved:\n{}", faults.len(), faults.join("\n"));
}

/// Whether `reason` names `flag`, or the symbol of the setting it sets (a diverged run names the
/// likely cause by its symbol).
fn names(reason: &str, flag: &str) -> bool {
    let symbol = match flag {
        "--tau" => "τ",
        "--gamma" => "γ",
        "--zeta" => "ζ",
        other => other,
    };
    reason.contains(flag) || reason.contains(symbol)
}

#[test]
fn extreme_flags_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.npy");
    let o = out.display().to_string();
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/lorenz63-lo.json").display().to_string();
    let mut faults = Vec::new();
    let mut count = 0;
    for value in ["0", "-1", "NaN", "inf", "1e400", "18446744073709551616", "1000000000", "x"] {
        let cases: Vec<Vec<String>> = vec![
            ["simulate", "--system", "lorenz63", "--length", value, "--samples", "2", "--out", &o]
                .map(String::from)
                .to_vec(),
            ["simulate", "--system", "lorenz63", "--length", "5", "--samples", value, "--out", &o]
                .map(String::from)
                .to_vec(),
            ["assimilate", "--scenario", &scenario, "--samples", value, "--steps", "2", "--out", &o]
                .map(String::from)
                .to_vec(),
            ["assimilate", "--scenario", &scenario, "--samples", "2", "--steps", value, "--out", &o]
                .map(String::from)
                .to_vec(),
            ["assimilate", "--scenario", &scenario, "--samples", "2", "--steps", "2", "--tau", value, "--out", &o]
                .map(String::from)
                .to_vec(),
            ["assimilate", "--scenario", &scenario, "--samples", "2", "--steps", "2", "--gamma", value, "--out", &o]
                .map(String::from)
                .to_vec(),
            ["assimilate", "--scenario", &scenario, "--samples", "2", "--steps", "2", "--seed", value, "--out", &o]
                .map(String::from)
                .to_vec(),
        ];
        for args in cases {
            let _ = std::fs::remove_file(&out);
            count += 1;
            let output = run(&args);
            // The flag given the hostile value is the one before it.
            let flag = args.iter().position(|a| a == value).map(|i| args[i - 1].clone()).unwrap_or_default();
            let stderr = String::from_utf8_lossy(&output.stderr);
            if let Some(f) = fault(&output, Some(&out)) {
                faults.push(format!("`{}`: {f}", args.join(" ")));
            } else if !output.status.success() && !names(&stderr, &flag) {
                faults.push(format!("`{}`: the reason does not name {flag}: {}", args.join(" "), stderr.trim()));
            }
        }
    }
    assert!(faults.is_empty(), "{} of {count} runs misbehaved:\n{}", faults.len(), faults.join("\n"));
}

#[test]
fn awkward_output_paths_are_refused_before_any_work() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("link.npy");
    std::os::unix::fs::symlink(dir.path().join("elsewhere.npy"), &link).unwrap();
    let folder = dir.path().join("folder.npy");
    std::fs::create_dir(&folder).unwrap();
    let paths: Vec<PathBuf> =
        vec![link.clone(), folder.clone(), dir.path().join("no/such/folder/o.npy"), PathBuf::from("/proc/o.npy")];
    for path in &paths {
        let args = ["simulate", "--system", "lorenz63", "--length", "5", "--samples", "2", "--out"]
            .map(String::from)
            .into_iter()
            .chain([path.display().to_string()])
            .collect::<Vec<_>>();
        let output = run(&args);
        assert_eq!(output.status.code(), Some(1), "{}: {:?}", path.display(), output);
    }
    assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink(), "the link was replaced");
    assert!(folder.is_dir());
}

/// A float32 `.npy` whose header claims `shape` but holds `values` values.
fn npy_claiming(shape: &str, values: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f4', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, 4 * values));
    bytes
}

#[test]
fn corrupt_files_and_training_flags_are_refused_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let d = |name: &str| dir.path().join(name).display().to_string();
    std::fs::write(dir.path().join("huge.npy"), npy_claiming("(4611686018427387904, 4611686018427387904)", 4)).unwrap();
    std::fs::write(dir.path().join("short.npy"), npy_claiming("(4, 65, 3)", 7)).unwrap();
    std::fs::write(dir.path().join("scalar.npy"), npy_claiming("()", 1)).unwrap();
    std::fs::write(dir.path().join("garbage.npy"), b"\x93NUMPY not really").unwrap();
    std::fs::write(dir.path().join("ok.npy"), npy_claiming("(2, 65, 3)", 2 * 65 * 3)).unwrap();
    std::os::unix::fs::symlink("/dev/zero", dir.path().join("endless.json")).unwrap();
    // Checkpoints: an endless config, a folder where the weights should be, truncated weights.
    let bundled = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints/lorenz63-k2");
    for (name, config, weights) in [("endless", true, false), ("folder", false, true), ("truncated", false, false)] {
        let ck = dir.path().join(name);
        std::fs::create_dir(&ck).unwrap();
        if config {
            std::os::unix::fs::symlink("/dev/zero", ck.join("config.json")).unwrap();
        } else {
            std::fs::copy(bundled.join("config.json"), ck.join("config.json")).unwrap();
        }
        if weights {
            std::fs::create_dir(ck.join("model.safetensors")).unwrap();
        } else {
            let bytes = std::fs::read(bundled.join("model.safetensors")).unwrap();
            std::fs::write(ck.join("model.safetensors"), &bytes[..bytes.len() / 3]).unwrap();
        }
    }
    let model = dir.path().join("explosive.json");
    std::fs::write(
        &model,
        r#"{"name": "linear", "transition": [[3.0]], "offset": [0.0], "process_cov": [[1.0]],
            "initial_mean": [1.0], "initial_cov": [[1.0]]}"#,
    )
    .unwrap();
    let scenario =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/lorenz63-lo.json").display().to_string();
    let out = dir.path().join("out.npy");
    let o = out.display().to_string();
    let train_out = dir.path().join("run");
    let t = train_out.display().to_string();
    let mut cases: Vec<Vec<String>> = Vec::new();
    let mut add = |args: &[&str]| cases.push(args.iter().map(|a| a.to_string()).collect());
    for file in ["huge.npy", "short.npy", "scalar.npy", "garbage.npy", "endless.json", "missing.npy"] {
        add(&["train", "--system", "lorenz63", "--data", &d(file), "--steps", "1", "--out", &t]);
        add(&["metrics", "--system", "lorenz63", "--ensemble", &d(file)]);
        add(&["metrics", "--system", "lorenz63", "--ensemble", &d("ok.npy"), "--reference", &d(file)]);
        add(&["assimilate", "--scenario", &scenario, "--method", "4dvar", "--starts", &d(file), "--out", &o]);
    }
    for ck in ["endless", "folder", "truncated"] {
        add(&[
            "assimilate",
            "--scenario",
            &scenario,
            "--checkpoint",
            &d(ck),
            "--samples",
            "2",
            "--steps",
            "2",
            "--out",
            &o,
        ]);
    }
    add(&["validate", &d("endless.json")]);
    add(&["assimilate", "--scenario", &d("endless.json"), "--out", &o]);
    add(&[
        "simulate",
        "--system",
        "linear",
        "--model",
        &model.display().to_string(),
        "--length",
        "1000",
        "--samples",
        "2",
        "--out",
        &o,
    ]);
    for (flag, value) in [
        ("--weight-decay", "NaN"),
        ("--weight-decay", "-1"),
        ("--lr", "0"),
        ("--lr", "inf"),
        ("--width", "0"),
        ("--width", "1000000"),
        ("--kernel", "2"),
        ("--batch", "0"),
        ("--batch", "1000000000"),
        ("--valid-fraction", "1"),
        ("--ema-decay", "1"),
        ("--window", "4"),
    ] {
        add(&["train", "--system", "lorenz63", flag, value, "--steps", "1", "--out", &t]);
    }
    let mut faults = Vec::new();
    for args in &cases {
        let _ = std::fs::remove_file(&out);
        let output = run(args);
        let file = args.iter().any(|a| a == &o).then_some(out.as_path());
        if output.status.success() {
            faults.push(format!("`{}` succeeded", args.join(" ")));
        } else if let Some(f) = fault(&output, file) {
            faults.push(format!("`{}`: {f}", args.join(" ")));
        }
        if train_out.exists() {
            faults.push(format!("`{}` left {t}", args.join(" ")));
            let _ = std::fs::remove_dir_all(&train_out);
        }
    }
    assert!(faults.is_empty(), "{} of {} runs misbehaved:\n{}", faults.len(), cases.len(), faults.join("\n"));
}

/// A random JSON value over the scenario format's vocabulary: keys it knows and some it does
/// not, numbers of every magnitude and sign, strings, nesting.
fn random_json(rng: &mut rand_chacha::ChaCha8Rng, depth: u32) -> Value {
    use rand::Rng;
    const KEYS: [&str; 24] = [
        "system",
        "length",
        "observations",
        "truth",
        "sampler",
        "t",
        "op",
        "index",
        "indices",
        "value",
        "std",
        "name",
        "transition",
        "offset",
        "process_cov",
        "initial_mean",
        "initial_cov",
        "grid",
        "resolution",
        "samples",
        "steps",
        "guidance",
        "tau",
        "bogus",
    ];
    const WORDS: [&str; 10] =
        ["lorenz63", "lorenz96", "kolmogorov", "linear", "identity", "abs", "square", "mean", "sda", ""];
    let number = |rng: &mut rand_chacha::ChaCha8Rng| -> Value {
        match rng.random_range(0..6) {
            0 => json!(rng.random_range(-3i64..70)),
            1 => json!(rng.random::<u64>()),
            2 => json!(rng.random_range(-1e3..1e3)),
            3 => json!(10f64.powi(rng.random_range(-320..308))),
            4 => json!(-(10f64.powi(rng.random_range(-10..308)))),
            _ => json!(rng.random_range(0i64..4)),
        }
    };
    match if depth == 0 { rng.random_range(0..4) } else { rng.random_range(0..7) } {
        0 => number(rng),
        1 => json!(WORDS[rng.random_range(0..WORDS.len())]),
        2 => Value::Null,
        3 => json!(rng.random::<bool>()),
        4 | 5 => {
            let mut map = serde_json::Map::new();
            for _ in 0..rng.random_range(0..7) {
                map.insert(KEYS[rng.random_range(0..KEYS.len())].into(), random_json(rng, depth - 1));
            }
            Value::Object(map)
        }
        _ => Value::Array((0..rng.random_range(0..5)).map(|_| random_json(rng, depth - 1)).collect()),
    }
}

/// The scenario parser and its checks over arbitrary JSON: an answer (a scenario or an error),
/// never a panic. Half the documents start from a valid scenario with one entry replaced.
#[test]
fn the_scenario_parser_never_panics_on_arbitrary_json() {
    use rand::{Rng, SeedableRng};
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(17);
    let (_, base) = bases().remove(0);
    let keys = ["system", "length", "observations", "truth", "sampler"];
    let mut accepted = 0;
    for i in 0..4000 {
        let doc = if i % 2 == 0 {
            random_json(&mut rng, 4)
        } else {
            let key = keys[rng.random_range(0..keys.len())];
            mutate(&base, &[key], random_json(&mut rng, 3))
        };
        let text = doc.to_string();
        let parsed = std::panic::catch_unwind(|| {
            sdalab::scenario::Scenario::from_json_str(&text).and_then(|s| s.validate().map(|()| s))
        });
        match parsed {
            Ok(Ok(_)) => accepted += 1,
            Ok(Err(e)) => assert!(e.to_string().chars().count() <= 400, "an unbounded message: {e}"),
            Err(_) => panic!("the parser panicked on {}", text.chars().take(300).collect::<String>()),
        }
    }
    // Some mutations keep the scenario valid (a new truth of the right size is rare, a sampler block
    // or an observation list of the right shape is not).
    assert!(accepted > 0, "no document was accepted: the generator never reaches the valid region");
}

/// Every numeric flag of every command at 0, −1, NaN, ∞, 2⁶⁴ and 10⁹, each from a cheap valid
/// command: refused with a reason, or run to a finite result within seconds (a value that would
/// run for hours is refused by its range).
#[test]
fn every_numeric_flag_at_its_extremes() {
    let dir = tempfile::tempdir().unwrap();
    let t = |name: &str| dir.path().join(name).display().to_string();
    let lo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/lorenz63-lo.json").display().to_string();
    let commands: Vec<(Vec<String>, &[&str])> = vec![
        (
            ["simulate", "--system", "lorenz63", "--length", "5", "--samples", "2", "--out", &t("o.npy")]
                .map(String::from)
                .to_vec(),
            &["--length", "--samples", "--seed", "--burn-in", "--chunk"],
        ),
        (
            [
                "scenario",
                "--system",
                "lorenz63",
                "--length",
                "17",
                "--every",
                "8",
                "--indices",
                "0",
                "--std",
                "0.4",
                "--out",
                &t("o.json"),
            ]
            .map(String::from)
            .to_vec(),
            &["--length", "--every", "--offset", "--indices", "--std", "--seed", "--burn-in"],
        ),
        (
            [
                "train",
                "--system",
                "lorenz63",
                "--steps",
                "1",
                "--trajectories",
                "2",
                "--length",
                "16",
                "--batch",
                "4",
                "--width",
                "8",
                "--depth",
                "1",
                "--check-every",
                "0",
                "--out",
                &t("run"),
            ]
            .map(String::from)
            .to_vec(),
            &[
                "--window",
                "--channels",
                "--blocks",
                "--kernel",
                "--width",
                "--depth",
                "--embedding",
                "--steps",
                "--batch",
                "--lr",
                "--weight-decay",
                "--trajectories",
                "--length",
                "--data-seed",
                "--seed",
                "--valid-fraction",
                "--log-every",
                "--save-every",
                "--ema-decay",
                "--check-every",
                "--check-samples",
                "--check-steps",
                "--stop-after",
            ],
        ),
        (
            ["assimilate", "--scenario", &lo, "--samples", "2", "--steps", "2", "--out", &t("o.npy")]
                .map(String::from)
                .to_vec(),
            &[
                "--particles",
                "--inflation",
                "--iterations",
                "--samples",
                "--steps",
                "--corrections",
                "--tau",
                "--gamma",
                "--zeta",
                "--mmps-iterations",
                "--seed",
            ],
        ),
        (
            [
                "eval",
                "lorenz63",
                "--cases",
                "1",
                "--k",
                "4",
                "--corrections",
                "0",
                "--samples",
                "2",
                "--steps",
                "2",
                "--particles",
                "64",
                "--keep",
                "8",
                "--out",
                &t("ev"),
            ]
            .map(String::from)
            .to_vec(),
            &[
                "--cases",
                "--first-case",
                "--k",
                "--corrections",
                "--samples",
                "--steps",
                "--tau",
                "--gamma",
                "--mmps-iterations",
                "--mmps-corrections",
                "--particles",
                "--keep",
                "--seed",
                "--gaussian-correction",
            ],
        ),
        (
            [
                "eval",
                "kolmogorov",
                "--cases",
                "1",
                "--length",
                "5",
                "--samples",
                "2",
                "--prior-samples",
                "1",
                "--steps",
                "2",
                "--out",
                &t("ek"),
            ]
            .map(String::from)
            .to_vec(),
            &[
                "--cases",
                "--length",
                "--samples",
                "--prior-samples",
                "--steps",
                "--corrections",
                "--tau",
                "--gamma",
                "--zeta",
                "--mmps-iterations",
                "--seed",
            ],
        ),
        (
            [
                "eval",
                "prior",
                "--system",
                "lorenz63",
                "--samples",
                "2",
                "--length",
                "9",
                "--steps",
                "2",
                "--reference-samples",
                "4",
                "--out",
                &t("ep"),
            ]
            .map(String::from)
            .to_vec(),
            &[
                "--samples",
                "--length",
                "--steps",
                "--corrections",
                "--tau",
                "--reference-samples",
                "--gaussian-correction",
                "--seed",
            ],
        ),
        (
            ["bench-da", "--seeds", "1", "--cycles", "10", "--out", &t("b.md")].map(String::from).to_vec(),
            &["--seeds", "--cycles"],
        ),
    ];
    let mut faults = Vec::new();
    let mut count = 0;
    for (base, flags) in &commands {
        for flag in *flags {
            for value in ["0", "-1", "NaN", "1e400", "18446744073709551616", "1000000000"] {
                for entry in std::fs::read_dir(dir.path()).unwrap() {
                    let path = entry.unwrap().path();
                    let _ = if path.is_dir() { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
                }
                let mut args = base.clone();
                match args.iter().position(|a| a == flag) {
                    Some(i) => args[i + 1] = value.into(),
                    None => {
                        let at = args.len() - 2;
                        args.splice(at..at, [flag.to_string(), value.to_string()]);
                    }
                }
                count += 1;
                let started = std::time::Instant::now();
                let output = Command::new("timeout")
                    .args(["60", "prlimit", ADDRESS_SPACE, "--", env!("CARGO_BIN_EXE_sdalab")])
                    .args(&args)
                    .env("SDALAB_MEMORY_LIMIT", "1G")
                    .env_remove("RUST_BACKTRACE")
                    .output()
                    .unwrap();
                let what = format!("`{}`", args.join(" "));
                if output.status.code() == Some(124) {
                    faults.push(format!("{what}: still running after {:.0} s", started.elapsed().as_secs_f64()));
                } else if let Some(f) = fault(&output, None) {
                    faults.push(format!("{what}: {f}"));
                } else if !output.status.success() && args[0] != "eval" {
                    // (An evaluation that fails while running keeps its finished rows to resume from.)
                    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
                    if !left.is_empty() {
                        faults.push(format!("{what}: failed but left {left:?}"));
                    }
                }
            }
        }
    }
    assert!(count >= 480, "only {count} runs");
    assert!(faults.is_empty(), "{} of {count} runs misbehaved:\n{}", faults.len(), faults.join("\n"));
}

/// `validate` and `assimilate` run the same checks: on sound and degenerate linear scenarios
/// (observations repeated with tiny noise), `validate` refuses exactly when `assimilate` refuses
/// before sampling; a refusal names the entry or the state.
#[test]
fn validate_and_assimilate_agree_on_linear_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let (_, base) = bases().remove(1);
    let mut variants = vec![base.clone()];
    for std in [1e-200, 1e-150, 1e-100, 1e-8] {
        let mut twice = base.clone();
        twice["observations"][0]["std"] = json!(std);
        let again = twice["observations"][0].clone();
        twice["observations"].as_array_mut().unwrap().push(again);
        variants.push(twice);
    }
    for (k, scenario) in variants.iter().enumerate() {
        let file = dir.path().join("s.json");
        std::fs::write(&file, scenario.to_string()).unwrap();
        let out = dir.path().join("o.npy");
        let _ = std::fs::remove_file(&out);
        let f = file.display().to_string();
        let o = out.display().to_string();
        let validate = run(&["validate".to_string(), f.clone()]);
        let assimilate =
            run(&["assimilate", "--scenario", &f, "--samples", "2", "--steps", "2", "--out", &o].map(String::from));
        let reason = |o: &Output| String::from_utf8_lossy(&o.stderr).trim().lines().last().unwrap_or("").to_string();
        // A run that passed the checks and then diverged is the sampler's answer, not a check.
        let refused_before_sampling = !assimilate.status.success() && !reason(&assimilate).contains("diverged");
        assert_eq!(
            !validate.status.success(),
            refused_before_sampling,
            "variant {k}: validate `{}`, assimilate `{}`",
            reason(&validate),
            reason(&assimilate)
        );
        for output in [&validate, &assimilate] {
            let r = reason(output);
            if !output.status.success() && !r.contains("diverged") {
                assert!(r.contains("observations[") || r.contains("state "), "variant {k}: {r}");
            }
        }
    }
}
