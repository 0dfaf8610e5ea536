//! Terminal-Bench tasks: the contract between task authors and the runner.
//!
//! A task is a folder. Two layouts are understood and turned into the same [`Task`]:
//! Terminal-Bench 2.0 (`task.toml`, `instruction.md`, `environment/`, `tests/test.sh`,
//! `solution/solve.sh`, see [`tb2`]) and the original Terminal-Bench layout (`task.yaml`,
//! `Dockerfile`, `run-tests.sh`, `tests/`, `solution.sh`, see [`tb1`]). A folder of tasks
//! loads as a [`Suite`]; a broken task becomes a [`TaskError`] naming the file and the
//! problem while the rest of the suite still loads.

mod error;
pub mod exclusions;
pub mod intercode;
mod suite;
mod tb1;
mod tb2;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

pub use error::TaskError;
pub use suite::Suite;

/// One loaded task, whichever folder layout it came from.
#[derive(Debug, Clone, Serialize)]
pub struct Task {
    /// The folder name; unique within a suite.
    pub name: String,
    pub dir: PathBuf,
    pub format: TaskFormat,
    /// What the agent is asked to do (Markdown).
    pub instruction: String,
    pub metadata: Metadata,
    pub environment: Environment,
    pub agent_timeout: Duration,
    pub verifier: VerifierSpec,
    pub solution: Option<Solution>,
    /// The hash of the folder's files, computed on first use (see [`Task::content_hash`]).
    #[serde(skip)]
    pub(crate) content_hash: std::sync::OnceLock<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskFormat {
    /// Terminal-Bench 2.0 (`task.toml`).
    Tb2,
    /// The original Terminal-Bench layout (`task.yaml`).
    Tb1,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Metadata {
    pub difficulty: Option<String>,
    pub category: Option<String>,
    pub tags: Vec<String>,
}

/// How to build and limit the container the task runs in.
#[derive(Debug, Clone, Serialize)]
pub struct Environment {
    /// The Docker build context.
    pub context: PathBuf,
    /// The Dockerfile, relative to `context`.
    pub dockerfile: PathBuf,
    pub build_timeout: Duration,
    pub cpus: Option<f64>,
    pub memory_bytes: Option<i64>,
    /// Disk for the container's writable layer (`storage`), enforced where the engine can.
    pub storage_bytes: Option<i64>,
    pub allow_internet: bool,
}

/// A file or folder on the host copied to a path in the container.
#[derive(Debug, Clone, Serialize)]
pub struct Upload {
    pub from: PathBuf,
    /// Absolute path in the container; a folder's contents land inside it.
    pub to: String,
}

/// How the task's own tests are run and read.
#[derive(Debug, Clone, Serialize)]
pub struct VerifierSpec {
    /// The tests (and for TB1 the `run-tests.sh` beside them), copied in before running.
    pub uploads: Vec<Upload>,
    /// The shell command that runs the tests, from the image's working directory.
    pub command: String,
    pub timeout: Duration,
    pub env: Vec<(String, String)>,
    pub reward: RewardSource,
}

/// Where the verdict comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardSource {
    /// TB2: `/logs/verifier/reward.txt` or `reward.json`.
    RewardFile,
    /// TB1: every test in the pytest output passed.
    PytestOutput,
    /// InterCode's rule (`judge = "intercode"`): the reference commands, each run in a fresh
    /// container of the same image, against the agent's changes and its last command's
    /// output. No test script runs; `uploads` and `command` are empty.
    Reference(Vec<Reference>),
}

/// A reference command of a task judged by [`RewardSource::Reference`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reference {
    /// The file it came from (`gold`, `gold2`), as the verdict names it.
    pub name: String,
    /// The command, typed into a shell as the agent types its own.
    pub command: String,
}

/// The oracle solution: a script that solves the task non-interactively.
#[derive(Debug, Clone, Serialize)]
pub struct Solution {
    /// Copied in before the command runs (to [`SOLUTION_DIR`]).
    pub uploads: Vec<Upload>,
    /// The shell command that runs the solution, from the image's working directory.
    pub command: String,
    /// Run as the agent runs its commands (typed into its shell session) rather than as a
    /// script, so that its output is what the agent's would be: tasks judged by
    /// [`RewardSource::Reference`] compare that output.
    pub typed: bool,
}

/// Where the task's tests are uploaded inside the container.
pub const TESTS_DIR: &str = "/tests";
/// Where the oracle solution is uploaded inside the container.
pub const SOLUTION_DIR: &str = "/solution";
/// Where TB2 verifiers write `reward.txt`, `reward.json` and `ctrf.json`.
pub const VERIFIER_LOGS_DIR: &str = "/logs/verifier";

impl Task {
    /// Loads the task in `dir`, recognising its layout by the file that defines it.
    pub fn load(dir: &Path) -> Result<Task, TaskError> {
        if dir.join("task.toml").is_file() {
            tb2::load(dir)
        } else if dir.join("task.yaml").is_file() {
            tb1::load(dir)
        } else {
            Err(TaskError::new(
                dir,
                "not a task folder: it has neither task.toml (Terminal-Bench 2.0) nor task.yaml (Terminal-Bench 1)",
            ))
        }
    }

    /// A short hash of every file of the task folder (names, contents, link targets): an
    /// episode of an edited task is another episode. Unreadable files count as their error.
    pub fn content_hash(&self) -> &str {
        self.content_hash.get_or_init(|| {
            use sha2::{Digest, Sha256};
            let mut hash = Sha256::new();
            let files = walkdir::WalkDir::new(&self.dir).follow_links(false).sort_by_file_name();
            for entry in files.into_iter().filter_map(Result::ok).filter(|e| !e.file_type().is_dir()) {
                let relative = entry.path().strip_prefix(&self.dir).unwrap_or(entry.path());
                hash.update(relative.to_string_lossy().as_bytes());
                hash.update([0]);
                let content = if entry.path_is_symlink() {
                    std::fs::read_link(entry.path()).map(|t| format!("link:{}", t.display()).into_bytes())
                } else {
                    std::fs::read(entry.path())
                };
                hash.update(content.unwrap_or_else(|e| format!("unreadable:{e}").into_bytes()));
                hash.update([0]);
            }
            hex::encode(hash.finalize())[..12].to_string()
        })
    }

    /// True when `dir` looks like a task folder (used to tell a task from a suite).
    pub fn is_task_dir(dir: &Path) -> bool {
        dir.join("task.toml").is_file() || dir.join("task.yaml").is_file()
    }
}

/// Parses a memory size as Docker and Harbor write it: `2G`, `512M`, `1024` (bytes), `1.5GB`.
pub(crate) fn parse_memory(text: &str) -> Option<i64> {
    let t = text.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
        Some(i) => (&t[..i], &t[i..]),
        None => (t, ""),
    };
    let factor: f64 = match unit {
        "" => 1.0,
        "k" | "ki" => 1024.0,
        "m" | "mi" => 1024.0 * 1024.0,
        "g" | "gi" => 1024.0 * 1024.0 * 1024.0,
        "t" | "ti" => 1024.0_f64.powi(4),
        _ => return None,
    };
    let value: f64 = number.trim().parse().ok()?;
    (value > 0.0).then_some((value * factor) as i64)
}

/// Seconds from a task file, rejecting values that make no sense as a timeout.
pub(crate) fn seconds(value: f64) -> Option<Duration> {
    (value.is_finite() && value > 0.0).then(|| Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_sizes_parse_like_docker() {
        assert_eq!(parse_memory("2G"), Some(2 * 1024 * 1024 * 1024));
        assert_eq!(parse_memory("512m"), Some(512 * 1024 * 1024));
        assert_eq!(parse_memory("1.5GB"), Some(1536 * 1024 * 1024));
        assert_eq!(parse_memory("4096"), Some(4096));
        assert_eq!(parse_memory("lots"), None);
        assert_eq!(parse_memory("-1G"), None);
    }
}
