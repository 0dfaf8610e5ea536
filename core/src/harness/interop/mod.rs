//! Other agents' harnesses, in and out.
//!
//! Harness engineers do not start from our `minimal`: they run mini-swe-agent, whose
//! whole harness is one YAML file ([`mini_swe_agent`]), or Harbor's Terminus-2, whose
//! harness is a prompt and a keystroke protocol ([`terminus_2`]). An import turns such a
//! configuration into a harness folder the loop can evolve, an export turns the evolved
//! folder back into a configuration the other agent runs (mini-swe-agent's). Templates are translated by
//! renaming their variables ([`jinja`]); whatever has no counterpart on the other side is
//! named in [`Converted::notes`], never dropped silently.

pub mod jinja;
pub mod mini_swe_agent;
pub mod terminus_2;

use std::path::{Path, PathBuf};

/// `text` as a TOML string.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

/// What an import or export made: files by their path, and what did not map.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Converted {
    pub files: Vec<(String, String)>,
    /// One line per thing that has no counterpart, or that differs.
    pub notes: Vec<String>,
}

/// Input that cannot be converted: the file, the line when known, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}{}: {message}", line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct InteropError {
    pub file: String,
    pub line: Option<usize>,
    pub message: String,
}

impl Converted {
    /// Writes an imported harness into `dir` (created; it must not hold a harness already),
    /// with `IMPORTED.md` saying where it came from and what did not map. The folder is
    /// filled beside `dir` and renamed to it, so it is written whole or not at all.
    pub fn write_harness(&self, dir: &Path, source: &str) -> Result<(), InteropError> {
        let failed = |path: &Path, e: std::io::Error| InteropError {
            file: path.display().to_string(),
            line: None,
            message: e.to_string(),
        };
        if dir.join(super::MANIFEST_FILE).exists() {
            return Err(InteropError {
                file: dir.display().to_string(),
                line: None,
                message: "holds a harness already; choose another --out or remove it".into(),
            });
        }
        let scratch = crate::util::scratch_beside(dir).map_err(|e| failed(dir, e))?;
        let mut report = format!("# Imported\n\nFrom {source}.\n\n");
        if self.notes.is_empty() {
            report.push_str("Everything mapped.\n");
        } else {
            report.push_str("What did not map, or differs:\n\n");
            for note in &self.notes {
                report.push_str(&format!("- {note}\n"));
            }
        }
        let report_file = ("IMPORTED.md".to_string(), report);
        for (relative, text) in self.files.iter().chain(std::iter::once(&report_file)) {
            let path: PathBuf = scratch.path().join(relative);
            std::fs::write(&path, text).map_err(|e| failed(&path, e))?;
        }
        if dir.exists() {
            std::fs::remove_dir(dir).map_err(|e| failed(dir, e))?;
        }
        std::fs::rename(scratch.keep(), dir).map_err(|e| failed(dir, e))
    }
}
