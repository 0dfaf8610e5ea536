//! The store: `.self-harness/` beside the project config, where runs, traces and (later)
//! weaknesses, proposals and the ledger live.
//!
//! ```text
//! .self-harness/runs/<run>/run.json                  what was run, written when it ends
//! .self-harness/runs/<run>/<task>/<trial>/trace.jsonl one episode (see `trace`)
//! ```

use std::path::{Path, PathBuf};

/// The store folder's name.
pub const STORE_DIR: &str = ".self-harness";

#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
}

impl Store {
    /// The store under `project_dir`.
    pub fn at(project_dir: &Path) -> Store {
        Store { root: project_dir.join(STORE_DIR) }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A new, empty run folder named after the time and `label` (e.g. the harness version).
    pub fn new_run(&self, label: &str) -> std::io::Result<RunDir> {
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace([':', '-'], "");
        let base = format!("{stamp}-{label}");
        let runs = self.root.join("runs");
        std::fs::create_dir_all(&runs)?;
        for n in 0.. {
            let name = if n == 0 { base.clone() } else { format!("{base}-{n}") };
            match std::fs::create_dir(runs.join(&name)) {
                Ok(()) => return Ok(RunDir { name: name.clone(), path: runs.join(name) }),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        }
        unreachable!("an unbounded loop returns")
    }
}

/// One run's folder.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub name: String,
    pub path: PathBuf,
}

impl RunDir {
    /// Where the trace of `task`'s trial `trial` goes.
    pub fn episode_dir(&self, task: &str, trial: u32) -> PathBuf {
        self.path.join(task).join(trial.to_string())
    }
}
