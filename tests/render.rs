//! The WGSL shaders: every file parses and validates (naga), and the colormap shader drawn
//! offscreen by the GPU (or Mesa's software rasteriser) matches the CPU colormap within 2/255.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails by panicking")]

use std::path::Path;

use sdalab::render::{Colormap, FieldImage, render_offscreen};

#[test]
fn every_wgsl_file_parses_and_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("shaders");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "wgsl") {
            continue;
        }
        let source = std::fs::read_to_string(&path).unwrap();
        let module = naga::front::wgsl::parse_str(&source)
            .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.emit_to_string(&source)));
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::default())
            .validate(&module)
            .unwrap_or_else(|e| panic!("{}: {e:?}", path.display()));
        count += 1;
    }
    assert!(count >= 1, "no shaders found in {}", dir.display());
}

/// A field with every colormap position, a missing cell, and values beyond the range.
fn field(colormap: Colormap) -> FieldImage {
    let (width, height) = (16, 6);
    let mut values: Vec<f32> =
        (0..width * height).map(|i| -1.2 + 2.4 * i as f32 / (width * height - 1) as f32).collect();
    values[5] = f32::NAN;
    FieldImage { width, height, values, lo: -1.0, hi: 1.0, colormap }
}

#[test]
fn the_colormap_shader_matches_the_cpu_reference() {
    for colormap in [Colormap::Diverging, Colormap::Sequential] {
        let image = field(colormap);
        // Four pixels per cell each way, so every pixel centre lies well inside one cell.
        let (w, h) = (4 * image.width as u32, 4 * image.height as u32);
        let pixels = render_offscreen(&image, w, h).expect("offscreen rendering needs a (software) GPU adapter");
        assert_eq!(pixels.len(), (w * h * 4) as usize);
        let mut worst = 0u8;
        for py in 0..h as usize {
            for px in 0..w as usize {
                let cell = (py / 4) * image.width + px / 4;
                let expected = colormap.rgba8(image.values[cell], image.lo, image.hi);
                let got = &pixels[(py * w as usize + px) * 4..][..4];
                for c in 0..3 {
                    worst = worst.max(got[c].abs_diff(expected[c]));
                }
                assert_eq!(got[3], 255);
            }
        }
        assert!(worst <= 2, "{colormap:?}: largest channel difference {worst}/255");
    }
}

#[test]
fn bad_fields_are_refused_before_any_gpu_work() {
    let mut image = field(Colormap::Diverging);
    image.values.pop();
    assert!(render_offscreen(&image, 8, 8).is_err());
}
