//! Training lowers the held-out DSM loss; checkpoints round-trip exactly; bad checkpoints are
//! clear errors, never panics; an interrupted run resumes to the same result.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::process::{Command, Output};

use candle_core::{Device, Tensor};
use sdalab::dynamics::{Lorenz63, MarkovChain, simulate_ensemble};
use sdalab::score::{
    Architecture, MlpConfig, ModelConfig, ScoreError, Trainer, TrainingData, TrainingSettings, load_checkpoint,
};

fn small_config(width: usize) -> ModelConfig {
    let l63 = Lorenz63::new();
    ModelConfig {
        system: "lorenz63".into(),
        state_shape: vec![3],
        window: 5,
        architecture: Architecture::Mlp(MlpConfig { width, depth: 2, embedding: 32, frequencies: 8 }),
        center: l63.normalisation().center().to_vec(),
        scale: l63.normalisation().scale().to_vec(),
        training: None,
    }
}

fn trainer(steps: usize) -> Trainer {
    trainer_averaging(steps, 0.99)
}

fn trainer_averaging(steps: usize, ema_decay: f64) -> Trainer {
    let l63 = Lorenz63::new();
    let (n, l) = (64, 128);
    let data: Vec<f32> = simulate_ensemble(&l63, l, n, 1024, 7, &|_| {}).into_iter().map(|v| v as f32).collect();
    let data = TrainingData::new(&data, &[n, l, 3], l63.normalisation(), 0.2, &Device::Cpu).unwrap();
    let settings = TrainingSettings {
        steps,
        batch: 128,
        learning_rate: 2e-3,
        weight_decay: 1e-3,
        seed: 1,
        validation_windows: 1024,
        ema_decay,
    };
    Trainer::new(small_config(64), data, settings, &Device::Cpu).unwrap()
}

#[test]
fn a_few_hundred_steps_lower_the_validation_loss() {
    let mut t = trainer(300);
    let before = t.validation_loss().unwrap();
    for _ in 0..300 {
        t.step().unwrap();
    }
    let after = t.validation_loss().unwrap();
    eprintln!("validation DSM loss {before:.4} → {after:.4}");
    assert!(after < 0.25 * before, "validation loss {before} → {after}");
    // Denoising standardised Lorenz-63 windows beats predicting ε = c_skip·x alone.
    assert!(after < 0.5, "validation loss {after}");
}

fn flat(t: &Tensor) -> Vec<f32> {
    t.flatten_all().unwrap().to_vec1().unwrap()
}

/// The checkpoint's weights are the exponential moving average of the optimised ones, with the
/// decay min(d, (1 + n)/(10 + n)) at update n, recomputed here from the online weights of every
/// step; with d = 0 they are the online weights themselves.
#[test]
fn checkpoints_hold_the_moving_average_of_the_weights() {
    let mut t = trainer_averaging(40, 0.9);
    let mut reference: std::collections::HashMap<String, Vec<f32>> =
        t.online_weights().iter().map(|(k, v)| (k.clone(), flat(v))).collect();
    for n in 1..=40 {
        t.step().unwrap();
        let decay = 0.9_f64.min((1.0 + n as f64) / (10.0 + n as f64)) as f32;
        for (name, w) in t.online_weights() {
            let avg = reference.get_mut(&name).unwrap();
            for (a, x) in avg.iter_mut().zip(flat(&w)) {
                *a = decay * *a + (1.0 - decay) * x;
            }
        }
    }
    let averaged = t.averaged_weights();
    let mut differs = false;
    for (name, expected) in &reference {
        let got = flat(&averaged[name]);
        for (g, e) in got.iter().zip(expected) {
            assert!((g - e).abs() <= 1e-5 * (1.0 + e.abs()), "{name}: {g} vs {e}");
        }
        differs |= got != flat(&t.online_weights()[name]);
    }
    assert!(differs, "the average equals the online weights");

    let mut plain = trainer_averaging(5, 0.0);
    for _ in 0..5 {
        plain.step().unwrap();
    }
    for (name, w) in plain.online_weights() {
        assert_eq!(flat(&w), flat(&plain.averaged_weights()[&name]), "{name}");
    }
}

fn probe() -> (Tensor, Tensor) {
    let x = Tensor::randn(0f32, 1.0, (6, 5, 3), &Device::Cpu).unwrap();
    let t = Tensor::new(&[0.01f32, 0.2, 0.4, 0.6, 0.8, 0.99], &Device::Cpu).unwrap();
    (x, t)
}

fn saved_checkpoint(dir: &Path) -> Trainer {
    std::fs::create_dir_all(dir).unwrap();
    let mut t = trainer(20);
    for _ in 0..20 {
        t.step().unwrap();
    }
    t.save(dir).unwrap();
    t.config().save(&dir.join("config.json")).unwrap();
    t
}

#[test]
fn checkpoints_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let t = saved_checkpoint(dir.path());
    let loaded = load_checkpoint(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(&loaded.config, t.config());
    let (x, tt) = probe();
    let run = |net: &sdalab::score::ScoreNetwork| -> Vec<f32> {
        net.forward(&x, &tt).unwrap().flatten_all().unwrap().to_vec1().unwrap()
    };
    // The averaged network (trainable weights, generic kernels) and the loaded one (constant
    // weights, fused kernels) agree to rounding; two loads of the same files agree exactly.
    let (a, b) = (run(&t.averaged_network().unwrap()), run(&loaded.network));
    for (x, y) in a.iter().zip(&b) {
        assert!((x - y).abs() <= 1e-5 * (1.0 + x.abs()), "{x} vs {y}");
    }
    let again = load_checkpoint(dir.path(), &Device::Cpu).unwrap();
    assert_eq!(b, run(&again.network));
}

fn load_error(dir: &Path) -> String {
    match load_checkpoint(dir, &Device::Cpu) {
        Ok(_) => panic!("loaded a bad checkpoint"),
        Err(e) => {
            assert!(matches!(e, ScoreError::Checkpoint { .. }), "{e:?}");
            e.to_string()
        }
    }
}

#[test]
fn bad_checkpoints_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    saved_checkpoint(dir.path());
    let weights = dir.path().join("model.safetensors");
    let original = std::fs::read(&weights).unwrap();

    // A missing tensor.
    let mut tensors = candle_core::safetensors::load(&weights, &Device::Cpu).unwrap();
    tensors.remove("blocks.1.contract.weight").unwrap();
    candle_core::safetensors::save(&tensors, &weights).unwrap();
    let msg = load_error(dir.path());
    assert!(msg.contains("blocks.1.contract.weight") && msg.contains("model.safetensors"), "{msg}");

    // A truncated file.
    std::fs::write(&weights, &original[..original.len() / 2]).unwrap();
    let msg = load_error(dir.path());
    assert!(msg.contains("model.safetensors"), "{msg}");

    // Weights of another shape than the config says.
    std::fs::write(&weights, &original).unwrap();
    small_config(32).save(&dir.path().join("config.json")).unwrap();
    let msg = load_error(dir.path());
    assert!(msg.contains("shape"), "{msg}");

    // A config that is not one, and none at all.
    std::fs::write(dir.path().join("config.json"), "{\"system\": \"lorenz63\", \"window\": 4}").unwrap();
    let msg = load_error(dir.path());
    assert!(msg.contains("config.json"), "{msg}");
    std::fs::remove_file(dir.path().join("config.json")).unwrap();
    assert!(load_error(dir.path()).contains("config.json"));
    // No weights.
    small_config(64).save(&dir.path().join("config.json")).unwrap();
    std::fs::remove_file(&weights).unwrap();
    assert!(load_error(dir.path()).contains("missing"));
}

fn sdalab(args: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sdalab")).args(args.split_whitespace()).output().expect("sdalab runs")
}

fn ok(o: &Output) -> String {
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "failed: {stderr}");
    stderr
}

#[test]
fn an_interrupted_run_resumes_to_the_same_weights() {
    let dir = tempfile::tempdir().unwrap();
    let common = "train --system lorenz63 --window 3 --width 32 --depth 1 --embedding 16 --steps 60 --batch 64 \
                  --trajectories 8 --length 64 --log-every 20 --save-every 20";
    let whole = dir.path().join("whole");
    let parts = dir.path().join("parts");
    ok(&sdalab(&format!("{common} --out {}", whole.display())));
    ok(&sdalab(&format!("{common} --stop-after 30 --out {}", parts.display())));
    assert!(!parts.join("loss.png").exists(), "a stopped run is not finished");
    // Without --resume an existing run is refused.
    let refused = sdalab(&format!("{common} --out {}", parts.display()));
    assert!(!refused.status.success() && String::from_utf8_lossy(&refused.stderr).contains("--resume"));
    ok(&sdalab(&format!("{common} --resume --out {}", parts.display())));
    for file in ["model.safetensors", "loss.png", "loss.csv", "config.json"] {
        assert!(parts.join(file).is_file(), "{file} missing");
    }
    let a = std::fs::read(whole.join("model.safetensors")).unwrap();
    let b = std::fs::read(parts.join("model.safetensors")).unwrap();
    assert!(a == b, "resumed weights differ from an uninterrupted run");
    let csv = std::fs::read_to_string(parts.join("loss.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 4, "{csv}");
}

#[test]
fn assimilate_rejects_bad_input_in_one_line_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("ck");
    saved_checkpoint(&ckpt);
    let out = dir.path().join("never.npy");
    let scenario = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let short = scenario("short.json", r#"{"system": "lorenz63", "length": 4}"#);
    let l96 = scenario("l96.json", r#"{"system": "lorenz96", "length": 10}"#);
    let bad = scenario("bad.json", r#"{"system": "lorenz63", "length": 10, "observations": [{"t": 0}]}"#);
    let lin = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/linear-rotation.json");
    let cases = [
        (format!("--scenario {} --checkpoint {}", short.display(), ckpt.display()), "needs a trajectory of at least"),
        (format!("--scenario {} --checkpoint {}", l96.display(), ckpt.display()), "lorenz63"),
        (format!("--scenario {} --checkpoint {}", bad.display(), ckpt.display()), "observations[0]"),
        (format!("--scenario {} --checkpoint {}/nothing", short.display(), dir.path().display()), "nothing"),
        (format!("--scenario {} --window 4", lin.display()), "window"),
        (format!("--scenario {} --checkpoint {}", lin.display(), ckpt.display()), "linear"),
        (format!("--scenario {} --samples 0", lin.display()), "--samples"),
    ];
    for (args, needle) in &cases {
        let o = sdalab(&format!("assimilate {args} --steps 4 --out {}", out.display()));
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(!o.status.success(), "{args}: succeeded");
        assert!(stderr.contains(needle), "{args}: `{stderr}` lacks `{needle}`");
        assert_eq!(stderr.trim_end().lines().filter(|l| l.starts_with("sdalab:")).count(), 1, "{stderr}");
        assert!(!out.exists());
    }
}

#[test]
fn assimilate_is_reproducible_and_writes_physical_units() {
    let dir = tempfile::tempdir().unwrap();
    let lin = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/scenarios/linear-rotation.json");
    let run = |name: &str, seed: u64| {
        let out = dir.path().join(name);
        ok(&sdalab(&format!(
            "assimilate --scenario {} --samples 32 --steps 16 --corrections 1 --seed {seed} --out {}",
            lin.display(),
            out.display()
        )));
        std::fs::read(out).unwrap()
    };
    let (a, b, c) = (run("a.npy", 3), run("b.npy", 3), run("c.npy", 4));
    assert_eq!(a, b);
    assert_ne!(a, c);
    let x = sdalab::export::read_npy_f32(&dir.path().join("a.npy")).unwrap();
    assert_eq!(x.shape, vec![32, 33, 2]);
    // The rotation starts at N([2, 0], 0.5·I): the ensemble mean of state 0 is near 2 in physical units.
    let first: f64 = x.data.chunks(33 * 2).map(|s| s[0] as f64).sum::<f64>() / 32.0;
    assert!((first - 2.0).abs() < 1.0, "state 0 mean {first}");
}

#[test]
fn bundled_checkpoints_load_and_describe_themselves() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints");
    let mut count = 0;
    for entry in std::fs::read_dir(&root).into_iter().flatten() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let checkpoint = load_checkpoint(&dir, &Device::Cpu).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let system = sdalab::dynamics::System::named(&checkpoint.config.system).expect("a named system");
        assert_eq!(checkpoint.config.state_shape, system.chain().state_shape());
        assert!(checkpoint.config.training.is_some(), "{}: no training record", dir.display());
        assert!(dir.join("README.md").is_file(), "{}: no README", dir.display());
        count += 1;
    }
    assert!(count >= 1, "no bundled checkpoints in {}", root.display());
}

/// `--check-every` logs unconditional samples of the averaged weights against the simulator in
/// loss.csv (rows at multiples of it, even between --log-every rows), with an extra panel in
/// loss.png; Kolmogorov runs check against their held-out trajectories' spectrum instead.
#[test]
fn training_logs_unconditional_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("checked");
    ok(&sdalab(&format!(
        "train --system lorenz63 --window 3 --width 32 --depth 1 --embedding 16 --steps 40 --batch 64 \
         --trajectories 8 --length 64 --log-every 40 --save-every 40 --check-every 20 --check-samples 4 \
         --check-steps 4 --out {}",
        out.display()
    )));
    let rows = sdalab::export::read_loss_csv(&out.join("loss.csv")).unwrap();
    let checked: Vec<usize> = rows.iter().filter(|r| r.prior.std_ratio.is_finite()).map(|r| r.step).collect();
    assert_eq!(checked, vec![20, 40], "{rows:?}");
    for r in rows.iter().filter(|r| r.step > 0) {
        assert!(r.prior.energy_factor.is_nan(), "no spectrum for Lorenz-63");
        assert!(r.prior.std_ratio > 0.0 && r.prior.log_density.is_finite(), "{r:?}");
    }
    let (short, tall) = (image_height(&out.join("loss.png")), 500);
    assert!(short > tall, "loss.png has no check panels ({short} px tall)");
    let config: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["training"]["ema_decay"], 0.999);

    let truths = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/presets/kolmogorov-truths.npy");
    let fields = dir.path().join("fields");
    ok(&sdalab(&format!(
        "train --system kolmogorov --arch unet2d --channels 4,8 --blocks 1 --embedding 8 --window 3 --data {} \
         --valid-fraction 0.25 --steps 4 --batch 4 --log-every 4 --check-every 4 --check-samples 2 --check-steps 2 \
         --out {}",
        truths.display(),
        fields.display()
    )));
    let rows = sdalab::export::read_loss_csv(&fields.join("loss.csv")).unwrap();
    let last = rows.last().unwrap();
    assert_eq!(last.step, 4);
    assert!(
        last.prior.energy_factor >= 1.0 && last.prior.std_ratio > 0.0 && last.prior.log_density.is_nan(),
        "{last:?}"
    );
}

fn image_height(png: &Path) -> u32 {
    let bytes = std::fs::read(png).unwrap();
    // The IHDR chunk: width then height, big-endian, from byte 16.
    u32::from_be_bytes([bytes[20], bytes[21], bytes[22], bytes[23]])
}
