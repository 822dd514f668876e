//! Folder listings for the file dialog, read on the loader thread: the entries of one folder
//! (sub-folders first, then files, each by name), and where the dialog starts.

use std::path::{Path, PathBuf};

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub name: String,
    pub is_dir: bool,
    /// Bytes (files only).
    pub size: u64,
}

/// A folder's entries, or why it cannot be listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub dir: PathBuf,
    pub entries: Result<Vec<Entry>, String>,
}

/// Entries beyond this are not listed (a folder of millions of files stays responsive).
const MAX_ENTRIES: usize = 5000;

/// Where the file dialog opens by default: the user's documents folder if there is one, else
/// their home folder, else the system's temporary folder; never the folder the app started in.
pub fn default_dir() -> PathBuf {
    let home = std::env::var_os("HOME").or_else(|| std::env::var_os("USERPROFILE")).map(PathBuf::from);
    match home {
        Some(home) => {
            let documents = home.join("Documents");
            if documents.is_dir() { documents } else { home }
        }
        None => std::env::temp_dir(),
    }
}

/// Lists `dir` (hidden entries left out); `None` lists [`default_dir`].
pub fn list(dir: Option<&Path>) -> Listing {
    let dir = dir.map_or_else(default_dir, Path::to_path_buf);
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("cannot list {}: {e}", dir.display())).map(|read| {
        let mut entries: Vec<Entry> = read
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                // Follows links: a link to a folder opens as one.
                let meta = std::fs::metadata(e.path()).ok()?;
                (!name.starts_with('.')).then(|| Entry { name, is_dir: meta.is_dir(), size: meta.len() })
            })
            .take(MAX_ENTRIES)
            .collect();
        entries.sort_by(|a, b| b.is_dir.cmp(&a.is_dir).then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase())));
        entries
    });
    Listing { dir, entries }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_come_first_and_hidden_entries_are_left_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("b.json"), "{}").unwrap();
        std::fs::write(dir.path().join("A.png"), "x").unwrap();
        std::fs::write(dir.path().join(".hidden"), "x").unwrap();
        std::fs::create_dir(dir.path().join("zeta")).unwrap();
        let listing = list(Some(dir.path()));
        let names: Vec<(String, bool)> = listing.entries.unwrap().into_iter().map(|e| (e.name, e.is_dir)).collect();
        assert_eq!(names, vec![("zeta".into(), true), ("A.png".into(), false), ("b.json".into(), false)]);
        assert!(list(Some(&dir.path().join("missing"))).entries.is_err());
    }
}
