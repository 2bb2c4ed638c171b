//! The files a run reads, kept so that every error can quote the line it points at.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

/// Index of a file in [`Sources`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FileId(pub u32);

/// A position in a source file: 1-based line and column; line 0 means "the file as a whole".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Loc {
    pub file: FileId,
    pub line: u32,
    pub column: u32,
}

impl Loc {
    pub fn new(file: FileId, line: u32, column: u32) -> Self {
        Loc { file, line, column }
    }
    pub fn file_only(file: FileId) -> Self {
        Loc {
            file,
            line: 0,
            column: 0,
        }
    }
}

#[derive(Debug)]
struct SourceFile {
    path: PathBuf,
    text: Arc<str>,
}

/// The registry of loaded files. Cheap to clone; shared by loader, validator and reporter.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    files: Arc<RwLock<Vec<SourceFile>>>,
}

impl Sources {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&self, path: &Path, text: impl Into<Arc<str>>) -> FileId {
        let mut files = self.files.write().expect("sources lock");
        files.push(SourceFile {
            path: path.to_path_buf(),
            text: text.into(),
        });
        FileId((files.len() - 1) as u32)
    }

    pub fn path(&self, id: FileId) -> PathBuf {
        let files = self.files.read().expect("sources lock");
        files
            .get(id.0 as usize)
            .map(|f| f.path.clone())
            .unwrap_or_default()
    }

    pub fn text(&self, id: FileId) -> Arc<str> {
        let files = self.files.read().expect("sources lock");
        files
            .get(id.0 as usize)
            .map(|f| f.text.clone())
            .unwrap_or_else(|| Arc::from(""))
    }

    /// The text of one line (1-based), without its line break.
    pub fn line(&self, id: FileId, line: u32) -> Option<String> {
        if line == 0 {
            return None;
        }
        self.text(id)
            .lines()
            .nth(line as usize - 1)
            .map(str::to_owned)
    }

    /// Every file loaded so far, in load order.
    pub fn all(&self) -> Vec<(FileId, PathBuf)> {
        let files = self.files.read().expect("sources lock");
        files
            .iter()
            .enumerate()
            .map(|(i, f)| (FileId(i as u32), f.path.clone()))
            .collect()
    }
}
