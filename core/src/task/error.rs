//! Why a task folder could not be loaded: the file, the place in it, and what is wrong, in
//! a form both people (Display) and `--json` (Serialize) can use.

use std::fmt;
use std::path::{Path, PathBuf};

/// A task that could not be loaded: which file, where in it, and what is wrong.
#[derive(Debug, Clone, thiserror::Error, serde::Serialize)]
pub struct TaskError {
    pub path: PathBuf,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
}

impl TaskError {
    pub fn new(path: &Path, message: impl Into<String>) -> Self {
        TaskError { path: path.to_path_buf(), line: None, column: None, message: message.into() }
    }

    /// An error at a byte offset of `text`, reported as a 1-based line and column.
    pub fn at(path: &Path, text: &str, offset: usize, message: impl Into<String>) -> Self {
        let before = &text[..offset.min(text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        TaskError { line: Some(line), column: Some(column), ..Self::new(path, message) }
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)
    }
}
