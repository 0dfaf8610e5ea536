//! The store: `.self-harness/` beside the project config, where runs, traces, weaknesses,
//! proposals, validations and the ledger live. The CLI and the language server read and
//! write it through this module only, so both see the same files.
//!
//! ```text
//! .self-harness/runs/<run>/run.json                  what `eval` ran, written when it ends
//! .self-harness/runs/<run>/<task>/<trial>/trace.jsonl one episode (see `trace`)
//! .self-harness/runs/loop-<version>/<task>/s<seed>/  the loop's episodes, keyed (see `evolve::episodes`)
//! .self-harness/splits.json                           the seeded mine/validate/test split
//! .self-harness/weaknesses.json                       the last mining's weaknesses
//! .self-harness/proposals.json                        the standing proposals, per weakness
//! .self-harness/candidates/<proposal>/                each proposal's candidate harness
//! .self-harness/validations.jsonl                     one line per validation decision
//! .self-harness/ledger.jsonl                          the loop's ledger
//! ```

use std::path::{Path, PathBuf};

use crate::evolve::validation::ValidationRecord;
use crate::harness::Harness;
use crate::propose::{Proposal, Weakness};

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

    /// The store in the folder `root` itself (whatever its name).
    pub fn in_folder(root: &Path) -> Store {
        Store { root: root.to_path_buf() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn weaknesses_path(&self) -> PathBuf {
        self.root.join("weaknesses.json")
    }

    pub fn proposals_path(&self) -> PathBuf {
        self.root.join("proposals.json")
    }

    pub fn validations_path(&self) -> PathBuf {
        self.root.join("validations.jsonl")
    }

    pub fn ledger_path(&self) -> PathBuf {
        self.root.join("ledger.jsonl")
    }

    pub fn candidates_dir(&self) -> PathBuf {
        self.root.join("candidates")
    }

    /// A copy of `harness` kept under its version, so that a proposal can still be
    /// validated against its parent after the working folder has been edited.
    pub fn snapshot(&self, harness: &Harness) -> std::io::Result<PathBuf> {
        let dir = self.candidates_dir().join("parents").join(harness.version());
        if !dir.join(crate::harness::MANIFEST_FILE).is_file() {
            let partial = dir.with_extension("partial");
            crate::util::copy_dir(harness.dir(), &partial)?;
            if dir.exists() {
                std::fs::remove_dir_all(&dir)?;
            }
            std::fs::rename(&partial, &dir)?;
        }
        Ok(dir)
    }

    /// The harness `proposal` edits, as it was when proposed: the working folder while it is
    /// unchanged, otherwise the snapshot.
    pub fn proposal_parent(&self, proposal: &Proposal) -> Result<Harness, String> {
        if let Ok(working) = Harness::load(&proposal.parent_dir) {
            if working.version() == proposal.parent_version {
                return Ok(working);
            }
        }
        let snapshot = self.candidates_dir().join("parents").join(&proposal.parent_version);
        Harness::load(&snapshot).map_err(|_| {
            format!(
                "the harness {} has changed since proposal {} was made, and no copy of version {} is kept; \
                 propose again",
                proposal.parent_dir.display(),
                proposal.id,
                proposal.parent_version
            )
        })
    }

    /// The last mining's weaknesses (none before the first).
    pub fn weaknesses(&self) -> Result<Vec<Weakness>, String> {
        read_json(&self.weaknesses_path())
    }

    pub fn save_weaknesses(&self, weaknesses: &[Weakness]) -> std::io::Result<()> {
        write_json(&self.weaknesses_path(), &weaknesses)
    }

    /// The standing proposals (none before the first).
    pub fn proposals(&self) -> Result<Vec<Proposal>, String> {
        read_json(&self.proposals_path())
    }

    /// Replaces the proposals for the weaknesses in `fresh_for` by `fresh`, keeping the rest.
    pub fn save_proposals(&self, fresh_for: &[String], fresh: &[Proposal]) -> Result<(), String> {
        let mut all = self.proposals()?;
        all.retain(|p| !fresh_for.contains(&p.weakness));
        all.extend_from_slice(fresh);
        write_json(&self.proposals_path(), &all).map_err(|e| e.to_string())
    }

    /// Every validation decision recorded so far (a torn last line is skipped).
    pub fn validations(&self) -> Result<Vec<ValidationRecord>, String> {
        crate::util::read_json_lines(&self.validations_path()).map(|(records, _)| records)
    }

    pub fn append_validation(&self, record: &ValidationRecord) -> std::io::Result<()> {
        crate::util::append_json_line(&self.validations_path(), record)
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

/// A JSON file of the store; an empty list when it does not exist yet.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::util::write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())
}
