//! Checks on output paths made before any long work starts: the folder exists and takes a new
//! file, and nothing that is not a regular file (a folder, a link, a FIFO, a device) would be
//! replaced.

use std::fs::{self, OpenOptions};
use std::path::Path;

use anyhow::{bail, ensure};

/// Fails early, before simulating or sampling, if `path` cannot be an output file.
pub fn check(path: &Path) -> anyhow::Result<()> {
    let parent = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    ensure!(parent.is_dir(), "{}: the folder {} does not exist", path.display(), parent.display());
    refuse_non_regular(path)?;
    probe(parent, path)
}

/// Fails early if `dir` cannot be an output folder: it must be a folder that takes new files, or
/// not exist yet in a folder that does (it is created only once every input has been checked).
pub fn check_dir(dir: &Path) -> anyhow::Result<()> {
    match fs::symlink_metadata(dir) {
        Ok(meta) if meta.is_dir() => probe(dir, dir),
        Ok(_) => bail!("{}: exists and is not a folder", dir.display()),
        Err(_) => {
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            ensure!(parent.is_dir(), "{}: the folder {} does not exist", dir.display(), parent.display());
            probe(parent, dir)
        }
    }
}

/// Refuses a path that exists and is not a regular file: writing would replace it.
fn refuse_non_regular(path: &Path) -> anyhow::Result<()> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        let kind = meta.file_type();
        let what = if kind.is_dir() {
            "a folder"
        } else if kind.is_symlink() {
            "a symbolic link"
        } else if !kind.is_file() {
            "not a regular file (a pipe, socket or device)"
        } else {
            return Ok(());
        };
        bail!("{}: is {what}; refusing to replace it", path.display());
    }
    Ok(())
}

/// Creates and removes a probe file in `folder`, so an unwritable folder (permissions, a
/// read-only file system) is found before the work rather than after it.
fn probe(folder: &Path, target: &Path) -> anyhow::Result<()> {
    let probe = folder.join(format!(".sdalab-probe-{}", std::process::id()));
    match OpenOptions::new().write(true).create_new(true).open(&probe) {
        Ok(_) => {
            let _ = fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => bail!("{}: cannot write in {}: {e}", target.display(), folder.display()),
    }
}
