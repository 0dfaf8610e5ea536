//! Problems found in a harness folder, in the shape an editor needs: the file, a range of
//! 1-based lines and character columns, a severity, a stable code and a message that says
//! what to do. The loader reports every problem it finds at once; the language server
//! publishes them as they are.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// A position in a file: 1-based line, 1-based column counted in characters (Unicode
/// scalar values), not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// A range in a file; `end` is exclusive (the character after the last one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Range {
    pub start: Position,
    pub end: Position,
}

/// How bad a problem is: errors stop the harness from loading, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

/// One problem in a harness folder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HarnessDiagnostic {
    /// The file the problem is in (`harness.toml` or a file it names).
    pub path: PathBuf,
    pub range: Range,
    pub severity: Severity,
    /// What is wrong and what to do about it.
    pub message: String,
    /// A stable kebab-case identifier of the kind of problem, e.g. `unknown-key`.
    pub code: &'static str,
}

impl Position {
    /// The position of byte `offset` in `text` (clamped to the text, and moved back to a
    /// character boundary).
    pub fn at(text: &str, offset: usize) -> Position {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position { line, column: before[line_start..].chars().count() + 1 }
    }
}

impl Range {
    /// The range of the bytes `span` of `text`.
    pub fn of(text: &str, span: std::ops::Range<usize>) -> Range {
        let start = Position::at(text, span.start);
        let end = Position::at(text, span.end.max(span.start));
        Range { start, end }
    }

    /// The start of a file, for problems that have no better place.
    pub fn file_start() -> Range {
        let p = Position { line: 1, column: 1 };
        Range { start: p, end: p }
    }
}

impl HarnessDiagnostic {
    pub(crate) fn error(path: &Path, range: Range, code: &'static str, message: impl Into<String>) -> Self {
        HarnessDiagnostic { path: path.to_path_buf(), range, severity: Severity::Error, message: message.into(), code }
    }

    pub(crate) fn warning(path: &Path, range: Range, code: &'static str, message: impl Into<String>) -> Self {
        HarnessDiagnostic { severity: Severity::Warning, ..Self::error(path, range, code, message) }
    }

    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for HarnessDiagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{}:{}:{}: {severity}[{}]: {}",
            self.path.display(),
            self.range.start.line,
            self.range.start.column,
            self.code,
            self.message
        )
    }
}

/// The closest of `candidates` to `word`, if it is close enough to be a likely typo.
pub(crate) fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters() {
        let text = "a = \"é€\"\nbé = 1";
        assert_eq!(Position::at(text, 0), Position { line: 1, column: 1 });
        // After `a = "é€` (é is 2 bytes, € is 3): column 8.
        assert_eq!(Position::at(text, 10), Position { line: 1, column: 8 });
        assert_eq!(Position::at(text, text.find("= 1").unwrap()), Position { line: 2, column: 4 });
        // Offsets inside a character or past the end never panic.
        assert_eq!(Position::at(text, 6), Position { line: 1, column: 6 });
        assert_eq!(Position::at(text, 999), Position { line: 2, column: 7 });
    }

    #[test]
    fn suggestions_are_close_words_only() {
        assert_eq!(did_you_mean("max_turn", ["max_turns", "temperature"]), Some("max_turns"));
        assert_eq!(did_you_mean("zzz", ["max_turns", "temperature"]), None);
    }
}
