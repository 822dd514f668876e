//! Reading whole input files without trusting them: only regular files (a FIFO or a device never
//! ends), and no more than a stated size, so a link to an endless or enormous file is refused
//! with a reason instead of exhausting memory.

use std::fs::File;
use std::io::{self, Read};
use std::path::Path;

use crate::budget::Bytes;

/// The most a text input (a scenario, lesson, configuration or CSV) may hold.
pub const MAX_TEXT_FILE: u64 = 64 << 20;

/// The bytes of `path`, at most `max` of them.
pub fn read_bounded(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let meta = std::fs::metadata(path)?;
    if !meta.is_file() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "is not a regular file"));
    }
    if meta.len() > max {
        let message = format!("holds {}, more than the {} allowed", Bytes(meta.len()), Bytes(max));
        return Err(io::Error::new(io::ErrorKind::InvalidData, message));
    }
    let mut bytes = Vec::new();
    File::open(path)?.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(io::ErrorKind::InvalidData, format!("grew beyond the {} allowed", Bytes(max))));
    }
    Ok(bytes)
}

/// The text of `path` (UTF-8), at most [`MAX_TEXT_FILE`] bytes.
pub fn read_text(path: &Path) -> io::Result<String> {
    String::from_utf8(read_bounded(path, MAX_TEXT_FILE)?)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("is not UTF-8 text ({e})")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_small_regular_files_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.json");
        std::fs::write(&file, "{}").unwrap();
        assert_eq!(read_text(&file).unwrap(), "{}");
        assert!(read_bounded(&file, 1).unwrap_err().to_string().contains("more than"));
        assert!(read_text(dir.path()).unwrap_err().to_string().contains("not a regular file"));
        assert!(read_text(Path::new("/dev/zero")).unwrap_err().to_string().contains("not a regular file"));
        std::fs::write(&file, [0xff, 0xfe]).unwrap();
        assert!(read_text(&file).unwrap_err().to_string().contains("UTF-8"));
    }
}
