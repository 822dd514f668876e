//! Where the bundled checkpoints are, and which one each system uses by default.

use std::path::{Path, PathBuf};

/// The bundled `checkpoints/` folder: the one in the working directory if there is one, else the
/// one in the source tree this binary was built from.
pub fn bundled_dir() -> PathBuf {
    let local = Path::new("checkpoints");
    if local.is_dir() { local.to_path_buf() } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("checkpoints") }
}

/// The checkpoint the app and `assimilate` use for a system when none is named.
pub fn default_for(system: &str) -> Option<PathBuf> {
    sdalab::score::default_checkpoint_name(system).map(|name| bundled_dir().join(name))
}

/// The bundled lessons, `assets/presets/`, found like [`bundled_dir`].
pub fn lessons_dir() -> PathBuf {
    let local = Path::new("assets/presets");
    if local.is_dir() { local.to_path_buf() } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/presets") }
}
