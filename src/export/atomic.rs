//! Write-to-temporary-then-rename.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use super::ExportError;

/// Writes `path` through `write`, first into `path.partial`, renamed over `path` only once
/// everything succeeded. On failure the temporary file is removed and `path` is untouched.
pub fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), ExportError> {
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
