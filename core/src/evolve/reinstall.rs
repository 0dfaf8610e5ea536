//! The ledger, not the harness folder, says where a loop stands. A folder put back to a
//! version the ledger had moved past — a fresh checkout of a folder made by an import and
//! kept out of the repository, a `git checkout` of its files — would otherwise be evolved
//! again from there, the installed edits silently gone. Such a folder gets the recorded
//! edits installed again, in order, each checked against the version it gave then; a loop
//! not allowed to write the folder (no `--auto-apply`) says so and stops instead. A folder
//! at a version the ledger never held is a person's edit and is left as it is.

use std::path::Path;

use super::ledger::Entry;
use super::LoopError;
use crate::harness::Harness;
use crate::stages::propose::{self, Budget, Proposal};
use crate::store::Store;

/// Brings the folder `dir`, holding `harness`, to the ledger's working version when it holds
/// an earlier version of the same loop: returns the harness installed, or `None` when there
/// was nothing to do. `allowed` is whether the loop may write the folder.
pub(super) fn reinstall(
    store: &Store,
    entries: &[Entry],
    dir: &Path,
    harness: &Harness,
    allowed: bool,
) -> Result<Option<Harness>, LoopError> {
    let Some(Entry::Start { harness_version: start, .. }) = entries.iter().find(|e| matches!(e, Entry::Start { .. }))
    else {
        return Ok(None);
    };
    let applied: Vec<(u32, &[String], &str)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Applied { iteration, proposals, harness_version, .. } => {
                Some((*iteration, proposals.as_slice(), harness_version.as_str()))
            }
            _ => None,
        })
        .collect();
    // The versions the folder held, oldest first: where it stands says what is missing.
    let lineage: Vec<&str> = std::iter::once(start.as_str()).chain(applied.iter().map(|a| a.2)).collect();
    let Some(at) = lineage.iter().rposition(|v| *v == harness.version()) else { return Ok(None) };
    let missing = &applied[at..];
    let Some(&(last_iteration, _, last_version)) = missing.last() else { return Ok(None) };
    if !allowed {
        return Err(LoopError::Store(format!(
            "the harness folder {} holds version {}, which this loop had moved past: it installed version \
             {last_version} in iteration {last_iteration}; run the loop with --auto-apply to install its edits \
             again, or give it a store of its own (--store)",
            dir.display(),
            harness.version()
        )));
    }
    let mut current = harness.clone();
    for &(iteration, ids, version) in missing {
        let proposals = ids
            .iter()
            .map(|id| {
                let path = store.iteration_dir(iteration).join(format!("{id}.json"));
                let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
                serde_json::from_str::<Proposal>(&text).map_err(|e| format!("{}: {e}", path.display()))
            })
            .collect::<Result<Vec<_>, String>>()
            .map_err(LoopError::Store)?;
        let candidate = match proposals.as_slice() {
            [one] => {
                propose::restore(one, &current).map_err(LoopError::Store)?;
                one.dir.clone()
            }
            several => {
                let combined = store.candidates_dir().join(format!("{iteration}-combined"));
                let unbounded = Budget { max_changed_lines: u32::MAX };
                propose::combine(&current, several, &combined, unbounded).ok_or_else(|| {
                    LoopError::Store(format!("the edits {} of iteration {iteration} no longer combine", ids.join("+")))
                })?;
                combined
            }
        };
        propose::install(&candidate, dir)?;
        current = Harness::open(dir)?;
        if current.version() != version {
            return Err(LoopError::Store(format!(
                "installing iteration {iteration}'s {} again made {} version {}, not the recorded {version}",
                ids.join("+"),
                dir.display(),
                current.version()
            )));
        }
    }
    Ok(Some(current))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evolve::ledger::Entry;

    fn entry(value: serde_json::Value) -> Entry {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn a_folder_put_back_gets_the_installed_edits_again_and_only_then() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("harness");
        propose::install(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal"), &dir).unwrap();
        let start = Harness::open(&dir).unwrap();
        let store = Store::at(&root.path().join("project"));
        let at = store.candidates_dir().join("1-w-1");
        let proposal = propose::recorded(&start, &at);
        let made = Harness::open(&at).unwrap();
        crate::store::write_json(&store.iteration_dir(1).join("1-w-1.json"), &proposal).unwrap();
        std::fs::remove_dir_all(&at).unwrap(); // a store kept without its candidates
        let entries = vec![
            entry(
                serde_json::json!({"type": "start", "at": "t", "harness_dir": dir, "harness_version": start.version(),
                "model": "m", "splits": {}, "seed": 1, "repeats": 1, "policy": "paired-tasks(alpha=0.05)"}),
            ),
            entry(serde_json::json!({"type": "applied", "at": "t", "iteration": 1, "proposals": ["1-w-1"],
                "harness_version": made.version(), "commit": null})),
        ];

        let err = reinstall(&store, &entries, &dir, &start, false).unwrap_err().to_string();
        assert!(err.contains(start.version()) && err.contains("--auto-apply"), "{err}");
        assert_eq!(Harness::open(&dir).unwrap().version(), start.version(), "not allowed: nothing written");

        let installed = reinstall(&store, &entries, &dir, &start, true).unwrap().expect("installed again");
        assert_eq!(installed.version(), made.version());
        assert_eq!(Harness::open(&dir).unwrap().version(), made.version());
        assert!(reinstall(&store, &entries, &dir, &installed, false).unwrap().is_none(), "where the ledger is");

        // A person's edit (a version the ledger never held) is theirs.
        std::fs::write(dir.join("system.md"), "Mine.\n").unwrap();
        let edited = Harness::open(&dir).unwrap();
        assert!(reinstall(&store, &entries, &dir, &edited, true).unwrap().is_none());
        assert_eq!(std::fs::read_to_string(dir.join("system.md")).unwrap(), "Mine.\n");
    }
}
