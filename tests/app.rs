//! End to end: `sdalab --preset … --run --screenshot …` opens the app (under Xvfb when there is
//! no display), samples the lesson, saves a screenshot of the window and exits 0; an unknown
//! lesson makes it exit non-zero with the known ones listed.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;
use std::process::{Command, Output};

fn app(args: &[&str], runtime: &Path) -> Output {
    let bin = env!("CARGO_BIN_EXE_sdalab");
    let mut cmd = if std::env::var_os("DISPLAY").is_some() {
        Command::new(bin)
    } else {
        let mut c = Command::new("xvfb-run");
        c.args(["-a", "-s", "-screen 0 1600x1000x24", bin]);
        c
    };
    cmd.args(args).env("XDG_RUNTIME_DIR", runtime).current_dir(env!("CARGO_MANIFEST_DIR"));
    cmd.output().expect("without a DISPLAY the test needs xvfb-run (Debian packages xvfb and xauth)")
}

fn runtime_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    dir
}

#[test]
fn a_lesson_runs_to_a_screenshot() {
    let runtime = runtime_dir();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("linear.png");
    let png_arg = png.to_str().unwrap();
    let out =
        app(&["--preset", "linear-kalman", "--run", "--screenshot", png_arg, "--size", "1200x800"], runtime.path());
    assert!(out.status.success(), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let image = image::open(&png).expect("the screenshot is a PNG").to_rgba8();
    assert!(image.width() >= 1000 && image.height() >= 700, "{}×{}", image.width(), image.height());
    // Not blank: plots, text and the ensemble give many colours, and much of the window differs
    // from its background.
    let background = *image.get_pixel(image.width() / 2, image.height() - 3);
    let differing = image.pixels().filter(|p| **p != background).count();
    let mut colours: Vec<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 200, "only {} colours", colours.len());
    assert!(differing > (image.width() * image.height() / 10) as usize, "mostly background");
}

/// The comparison mode end to end: SDA and 4D-Var side by side, on the linear lesson.
#[test]
fn a_comparison_runs_to_a_screenshot() {
    let runtime = runtime_dir();
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("compare.png");
    let args = ["--preset", "linear-kalman", "--run", "--compare", "4dvar", "--screenshot", png.to_str().unwrap()];
    let out = app(&args, runtime.path());
    assert!(out.status.success(), "exit {:?}: {}", out.status, String::from_utf8_lossy(&out.stderr));
    let image = image::open(&png).expect("the screenshot is a PNG").to_rgba8();
    let mut colours: Vec<[u8; 4]> = image.pixels().map(|p| p.0).collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 200, "only {} colours", colours.len());
}

#[test]
fn an_unknown_lesson_fails_with_the_known_ones_listed() {
    let runtime = runtime_dir();
    let out = app(&["--preset", "no-such-lesson", "--run", "--screenshot", "/tmp/never.png"], runtime.path());
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no-such-lesson") && stderr.contains("lorenz63-z-only"), "{stderr}");
}
