//! Checks on output paths made before any long work starts.

use std::path::Path;

use anyhow::ensure;

/// Fails early, before simulating or sampling, if `path` cannot be an output file.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    ensure!(parent.is_dir(), "{}: the folder {} does not exist", path.display(), parent.display());
    ensure!(!path.is_dir(), "{}: is a folder, not a file", path.display());
    Ok(())
}
