//! Validate, as a person asks for it: from what they name — a standing proposal, a
//! candidate folder beside its parent, or the working folder with the editor's unsaved
//! texts against its last commit — to the stage's decision, with each episode said to be
//! the parent's or the candidate's. The command line and the editor both call it, so what
//! a candidate is, and which episodes are its parent's, is decided here once.

use std::path::{Path, PathBuf};

use super::{Error, ErrorKind, Setup};
use crate::episodes::{run_name, Episode};
use crate::harness::Harness;
use crate::stages::validate::{self, Candidate, Progress, ValidateError, ValidateOptions, Validation};
use crate::store::Store;

/// What is validated.
#[derive(Debug, Clone)]
pub enum Target {
    /// A standing proposal: its candidate folder against the kept copy of its parent.
    Proposal(String),
    /// A candidate harness folder against the parent folder it edits.
    Folders { candidate: PathBuf, parent: PathBuf },
    /// The working folder `dir`, with `overlays` (a file and its unsaved text) on top,
    /// against its last commit.
    Working { dir: PathBuf, overlays: Vec<(PathBuf, String)> },
}

/// Whose an episode of a validation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Parent,
    Candidate,
}

/// The candidate `target` names, checked to differ from its parent. A working folder and
/// its last commit are kept in the store, so the decision's folders stay as they were
/// judged while the person goes on editing.
pub fn candidate(store: &Store, target: Target) -> Result<Candidate, Error> {
    let bad = |message: String| Error::new(ErrorKind::BadInput, message);
    let candidate = match target {
        Target::Proposal(id) => Candidate::proposal(store, &id).map_err(bad)?,
        Target::Folders { candidate, parent } => Candidate {
            harness: Harness::open(&candidate).map_err(|e| bad(e.to_string()))?,
            parent: Harness::open(&parent).map_err(|e| bad(e.to_string()))?,
            proposal: None,
            working: parent,
        },
        Target::Working { dir, overlays } => Candidate {
            harness: snapshot_with(store, &dir, &overlays).map_err(bad)?,
            parent: committed(store, &dir).map_err(bad)?,
            proposal: None,
            working: dir,
        },
    };
    candidate.ensure_changed().map_err(|e| bad(e.to_string()))?;
    Ok(candidate)
}

/// Validates `candidate` with `options` on `setup`: each finished episode goes to
/// `on_episode` with its side, each step to `say`, the running count of pairs to
/// `on_progress`; the decision is recorded in the store (`validations.jsonl`).
pub async fn validate(
    setup: &Setup,
    candidate: &Candidate,
    options: ValidateOptions,
    on_episode: &(dyn Fn(Side, &Episode) + Sync),
    say: &(dyn Fn(&str) + Sync),
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Validation, Error> {
    // The parent's episodes are the ones in its run folder (the runner's key).
    let parents = setup.store.run_dir(&run_name(candidate.parent.version(), &setup.model, setup.time_limit));
    let sided = |e: &Episode| on_episode(if e.trace.starts_with(&parents) { Side::Parent } else { Side::Candidate }, e);
    let ctx = setup.context(&sided, say);
    validate::validate(&ctx, candidate, options, on_progress).await.map_err(|e| match e {
        ValidateError::Unchanged => Error::new(ErrorKind::BadInput, e.to_string()),
        ValidateError::Io(e) => Error::new(ErrorKind::Environment, e.to_string()),
    })
}

/// The working folder with unsaved editor texts on top, kept as a candidate folder.
fn snapshot_with(store: &Store, working: &Path, overlays: &[(PathBuf, String)]) -> Result<Harness, String> {
    // Unique per job: two jobs of one server may snapshot at once.
    let scratch = crate::util::scratch_beside(&store.candidates_dir().join("edit")).map_err(|e| e.to_string())?;
    crate::util::copy_dir(working, scratch.path()).map_err(|e| e.to_string())?;
    for (path, text) in overlays {
        if let Ok(relative) = path.strip_prefix(working) {
            crate::util::write_atomic(&scratch.path().join(relative), text.as_bytes()).map_err(|e| e.to_string())?;
        }
    }
    let version = Harness::open(scratch.path()).map_err(|e| e.to_string())?.version().to_string();
    let dir = store.candidates_dir().join(format!("edit-{version}"));
    // Named by its content: when another job placed the same one first, theirs is as good.
    if let Err(e) = std::fs::rename(scratch.path(), &dir) {
        if !dir.is_dir() {
            return Err(format!("cannot place {}: {e}", dir.display()));
        }
    }
    Harness::open(&dir).map_err(|e| e.to_string())
}

/// The harness folder as last committed to git, kept as a parent snapshot.
fn committed(store: &Store, working: &Path) -> Result<Harness, String> {
    let git = |dir: &Path, args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))
    };
    let line = |output: std::process::Output| String::from_utf8_lossy(&output.stdout).trim().to_string();
    // `git archive` run inside a subfolder archives only that subfolder of the tree it is
    // given, so it runs at the top with the folder's own tree.
    let top = line(git(working, &["rev-parse", "--show-toplevel"])?);
    let prefix = line(git(working, &["rev-parse", "--show-prefix"])?);
    let output = git(Path::new(&top), &["archive", "--format=tar", &format!("HEAD:{prefix}")])?;
    if !output.status.success() {
        return Err(format!(
            "{} has no committed version to compare with ({}); commit it, or validate a proposal",
            working.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let scratch = store.candidates_dir().join(format!("committed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    tar::Archive::new(output.stdout.as_slice()).unpack(&scratch).map_err(|e| e.to_string())?;
    let harness = Harness::open(&scratch).map_err(|e| e.to_string())?;
    let kept = store.snapshot(&harness).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&scratch);
    Harness::open(&kept).map_err(|e| e.to_string())
}
