//! Write-to-temporary-then-rename.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::ExportError;

/// Writes `path` through `write`, first into `path.partial`, renamed over `path` only once
/// everything succeeded. On failure the temporary file is removed and `path` is untouched. A path
/// that exists and is not a regular file (a folder, a link, a FIFO, a device) is refused, never
/// replaced.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), ExportError> {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.file_type().is_file()
    {
        let error =
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "is not a regular file; refusing to replace it");
        return Err(ExportError::io(path, error));
    }
    let mut partial = path.as_os_str().to_owned();
    partial.push(".partial");
    let partial = Path::new(&partial);
    let result = (|| {
        let mut w = BufWriter::new(File::create(partial)?);
        write(&mut w)?;
        w.flush()?;
        w.into_inner().map_err(|e| e.into_error())?.sync_all()?;
        std::fs::rename(partial, path)
    })();
    result.map_err(|e| {
        // Best effort: the temporary may not exist if creating it was what failed.
        let _ = std::fs::remove_file(partial);
        ExportError::io(path, e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_write_leaves_nothing_and_a_link_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.txt");
        write_atomically(&path, |w| w.write_all(b"one")).unwrap();
        let failed = write_atomically(&path, |_| Err(std::io::Error::other("disk full")));
        assert!(failed.is_err());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
        assert!(!dir.path().join("a.txt.partial").exists());
        let link = dir.path().join("link.txt");
        std::os::unix::fs::symlink(&path, &link).unwrap();
        let refused = write_atomically(&link, |w| w.write_all(b"two")).unwrap_err();
        let reason = std::error::Error::source(&refused).map(|e| e.to_string()).unwrap_or_default();
        assert!(reason.contains("not a regular file"), "{reason}");
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "one");
    }
}
