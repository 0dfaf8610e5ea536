//! The store: `.self-harness/` beside the project config, where runs, traces, weaknesses,
//! proposals, validations and the ledger live. This module is its layout (every path below
//! is named here, so the CLI, the language server and the loop see the same files), the
//! kept copies of harness versions, and the atomic JSON reading and writing the files
//! share. What a file *holds* belongs to the stage that writes it: `stages::mine` owns
//! `weaknesses.json`, `stages::propose` `proposals.json`, `stages::validate`
//! `validations.jsonl`, `evolve::ledger` the ledger.
//!
//! ```text
//! .self-harness/runs/<run>/run.json                  what `eval` ran (its traces listed), written when it ends
//! .self-harness/runs/loop-<version>-<setup>/<task>-<hash>/s<seed>/trace.jsonl
//!                                                     every episode, keyed (see `episodes`)
//! .self-harness/splits.json                           the seeded mine/validate/test split
//! .self-harness/weaknesses.json                       the last mining's weaknesses
//! .self-harness/proposals.json                        the standing proposals, per weakness
//! .self-harness/candidates/<proposal>/                each proposal's candidate harness
//! .self-harness/candidates/parents/<version>/         kept copies of the harness versions proposed for
//! .self-harness/validations.jsonl                     one line per validation decision
//! .self-harness/ledger.jsonl                          the loop's ledger
//! .self-harness/loop.lock                             held by the loop that keeps the ledger
//! .self-harness/harbor-jobs/                          Harbor's job folders, when episodes run there
//! .self-harness/report.html                           the report page the editor opens
//! .self-harness/proposals.json.lock                   held while the standing proposals are rewritten
//! .self-harness/proposals/<iteration>/                the loop's record of an iteration (weaknesses, proposals)
//! ```

use std::path::{Path, PathBuf};

use crate::harness::Harness;

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

    /// Held while `proposals.json` is read, changed and written back.
    pub fn proposals_lock_path(&self) -> PathBuf {
        self.root.join("proposals.json.lock")
    }

    pub fn splits_path(&self) -> PathBuf {
        self.root.join("splits.json")
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

    /// The lock the loop holds while it runs: one ledger, one loop writing it. Other
    /// writers lock only what they write (an episode's folder, a file they rewrite) and
    /// readers never wait, so the editor stays usable beside a running loop.
    pub fn loop_lock_path(&self) -> PathBuf {
        self.root.join("loop.lock")
    }

    /// The loop's record of one iteration: its weaknesses and proposals as decided then.
    pub fn iteration_dir(&self, iteration: u32) -> PathBuf {
        self.root.join("proposals").join(iteration.to_string())
    }

    pub fn candidates_dir(&self) -> PathBuf {
        self.root.join("candidates")
    }

    /// Where the copy of harness version `version` is kept (see [`Store::snapshot`]).
    pub fn snapshot_dir(&self, version: &str) -> PathBuf {
        self.candidates_dir().join("parents").join(version)
    }

    /// A copy of `harness` kept under its version, so that a proposal can still be
    /// validated against its parent after the working folder has been edited.
    pub fn snapshot(&self, harness: &Harness) -> std::io::Result<PathBuf> {
        let dir = self.snapshot_dir(harness.version());
        let kept = |dir: &Path| dir.join(crate::harness::MANIFEST_FILE).is_file();
        if !kept(&dir) {
            let scratch = crate::util::scratch_beside(&dir)?;
            crate::util::copy_dir(harness.dir(), scratch.path())?;
            // Fails when another process kept the same version first: theirs is as good.
            if let Err(e) = std::fs::rename(scratch.path(), &dir) {
                if !kept(&dir) {
                    return Err(e);
                }
            }
        }
        Ok(dir)
    }

    /// Where runs are kept: the loop's episodes and `eval`'s runs.
    pub fn runs_dir(&self) -> PathBuf {
        self.root.join("runs")
    }

    /// The folder of the run `name` (see `episodes::run_name` for the runner's).
    pub fn run_dir(&self, name: &str) -> PathBuf {
        self.runs_dir().join(name)
    }

    /// Where Harbor's job folders go when the episodes run there.
    pub fn harbor_jobs_dir(&self) -> PathBuf {
        self.root.join("harbor-jobs")
    }

    /// The report page the editor writes and opens.
    pub fn report_page_path(&self) -> PathBuf {
        self.root.join("report.html")
    }

    /// A new, empty run folder named after the time and `label` (e.g. the harness version).
    pub fn new_run(&self, label: &str) -> std::io::Result<RunDir> {
        let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace([':', '-'], "");
        let base = format!("{stamp}-{label}");
        let runs = self.runs_dir();
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
    /// The file in a run folder that says what `eval` measured.
    pub const SUMMARY: &'static str = "run.json";
}

/// A JSON list file of the store; an empty list when it does not exist yet.
pub fn read_json_list<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Vec<T>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes a JSON file of the store atomically, making its folder if needed.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    crate::util::write_atomic(path, serde_json::to_string_pretty(value)?.as_bytes())?;
    crate::util::crash_point(&format_args!("wrote {}", path.display()));
    Ok(())
}
