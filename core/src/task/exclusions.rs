//! A suite's `excluded.toml`: the tasks left out of every run, each with why.
//!
//! Some tasks cannot judge an agent on this machine: they need a host it cannot reach, or
//! their reference command gives another result on each run, calls a program the image
//! lacks, or changes and prints nothing. `tasks check --oracle --write-exclusions` finds
//! them and writes this file beside the task folders; every command that loads the suite
//! then leaves them out, and says so, and `tasks list` names them with their reasons.
//! Removing the file, or a task's entry, brings the task back; checking again rewrites the
//! entries of the tasks it checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::TaskError;

/// The file's name inside the suite folder.
pub const FILE_NAME: &str = "excluded.toml";

/// Why one task is left out.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    /// The `tasks check` status that excluded it (`unstable-reference`, `needs-internet`, …).
    pub status: String,
    pub reason: String,
    /// When it was checked (RFC 3339).
    pub checked: String,
}

/// The exclusions of a suite, by task name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusions {
    #[serde(default)]
    pub tasks: BTreeMap<String, Exclusion>,
}

impl Exclusions {
    /// The path of the file for the suite in `dir`.
    pub fn path(dir: &Path) -> PathBuf {
        dir.join(FILE_NAME)
    }

    /// The suite's exclusions (none when it has no file); a file that does not parse is an
    /// error at its line and column.
    pub fn load(dir: &Path) -> Result<Exclusions, TaskError> {
        let path = Exclusions::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Exclusions::default()),
            Err(e) => return Err(TaskError::new(&path, format!("cannot read: {e}"))),
        };
        toml::from_str(&text).map_err(|e| {
            let message = e.message().to_string();
            match e.span() {
                Some(span) => TaskError::at(&path, &text, span.start, message),
                None => TaskError::new(&path, message),
            }
        })
    }

    /// Sets the entries of the tasks just checked: `Some` excludes one, `None` brings it
    /// back. Others are kept as they are.
    pub fn update(&mut self, checked: impl IntoIterator<Item = (String, Option<Exclusion>)>) {
        for (task, exclusion) in checked {
            match exclusion {
                Some(exclusion) => self.tasks.insert(task, exclusion),
                None => self.tasks.remove(&task),
            };
        }
    }

    /// Writes the file (atomically), or removes it when nothing is excluded.
    pub fn save(&self, dir: &Path) -> std::io::Result<()> {
        let path = Exclusions::path(dir);
        if self.tasks.is_empty() {
            return match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
                _ => Ok(()),
            };
        }
        let body = toml::to_string(self).map_err(std::io::Error::other)?;
        let text = format!(
            "# Tasks left out of every run, each with why. Written by\n\
             # `self-harness tasks check --oracle --write-exclusions`; remove an entry to bring a task back.\n\n{body}"
        );
        crate::util::write_atomic(&path, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_round_trip_and_a_recheck_brings_a_task_back() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(Exclusions::load(dir.path()).unwrap(), Exclusions::default());
        let mut exclusions = Exclusions::default();
        let entry =
            |why: &str| Exclusion { status: "unstable-reference".into(), reason: why.into(), checked: "t".into() };
        exclusions.update([("a".into(), Some(entry("clock"))), ("b".into(), Some(entry("pids")))]);
        exclusions.save(dir.path()).unwrap();
        let mut loaded = Exclusions::load(dir.path()).unwrap();
        assert_eq!(loaded, exclusions);
        loaded.update([("a".into(), None)]);
        assert_eq!(loaded.tasks.keys().collect::<Vec<_>>(), vec!["b"]);
        loaded.update([("b".into(), None)]);
        loaded.save(dir.path()).unwrap();
        assert!(!Exclusions::path(dir.path()).exists(), "nothing excluded: no file");
    }

    #[test]
    fn a_broken_file_names_its_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(Exclusions::path(dir.path()), "[tasks.a]\nstatus = 3\n").unwrap();
        let error = Exclusions::load(dir.path()).unwrap_err();
        assert_eq!(error.line, Some(2), "{error}");
    }
}
