//! What the store says, in the shape the editor needs: weaknesses with their evidence
//! resolved to trace-file lines, the standing proposals, and each validation decision with
//! the hunks it validated (so that marks and reverts can find them in a document).
//! Loaded when the store's files change — also when another process writes them — never
//! per keystroke, and never on the protocol's path: a load reads files (the traces its
//! evidence names, the candidate folders of decisions), so the server runs it on a blocking
//! thread and [`Reloads`] decides which load is shown. The pass rate, which reads every
//! episode of a version, is counted apart from it, so that the weaknesses never wait for it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use similar::{DiffOp, TextDiff};
use tower_lsp::ls_types::Uri;

use crate::stages::mine::Weakness;
use crate::stages::propose::Proposal;
use crate::stages::validate::ValidationRecord;
use crate::store::Store;

/// One piece of evidence, as a place in a trace file.
#[derive(Debug, Clone, PartialEq)]
pub struct EvidenceLink {
    pub uri: Uri,
    /// 0-based line of the turn in the trace (JSON Lines, one turn per line).
    pub line: u32,
    pub message: String,
}

/// A changed block of one file: `removed` lines of the parent became `added` lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hunk {
    /// Relative to the harness folder.
    pub file: String,
    pub removed: Vec<String>,
    pub added: Vec<String>,
}

/// A validation decision and what it validated.
#[derive(Debug, Clone)]
pub struct Decided {
    pub record: ValidationRecord,
    pub hunks: Vec<Hunk>,
}

/// The store, loaded.
#[derive(Debug, Clone, Default)]
pub struct StoreView {
    pub weaknesses: Vec<Weakness>,
    pub proposals: Vec<Proposal>,
    /// The latest decision per candidate version, oldest first.
    pub decided: Vec<Decided>,
    pub(crate) evidence: HashMap<String, Vec<EvidenceLink>>,
}

impl StoreView {
    /// Loads what can be loaded; each file that cannot is one message (the rest still loads).
    ///
    /// The store's files may have come with a repository, so every folder they name must lie
    /// inside one of `allowed` (the workspace, the harness folder) and every trace inside the
    /// store: a proposal whose `parent_dir` is `~` would otherwise be applied there, and a
    /// decision whose `candidate_dir` is `/` would have the whole disk walked. What points
    /// elsewhere is left out, with a message that names it.
    pub fn load(store: &Store, allowed: &[PathBuf]) -> (StoreView, Vec<String>) {
        let mut view = StoreView::default();
        let mut errors = Vec::new();
        let outside = |file: &str, what: &str, path: &Path| {
            format!("{file}: {what} names {}, outside the workspace; it is ignored", path.display())
        };
        match crate::stages::mine::saved(store) {
            Ok(mut weaknesses) => {
                let root = [store.root().to_path_buf()];
                for weakness in &mut weaknesses {
                    weakness.evidence.retain(|e| {
                        let ok = inside(&e.trace, &root);
                        if !ok {
                            errors.push(outside("weaknesses.json", &format!("evidence of {}", weakness.id), &e.trace));
                        }
                        ok
                    });
                }
                view.weaknesses = weaknesses;
            }
            Err(e) => errors.push(e),
        }
        match crate::stages::propose::standing(store) {
            Ok(mut proposals) => {
                proposals.retain(|p| {
                    let bad = [&p.parent_dir, &p.dir].into_iter().find(|dir| !inside(dir, allowed));
                    if let Some(dir) = bad {
                        errors.push(outside("proposals.json", &format!("proposal {}", p.id), dir));
                    }
                    bad.is_none()
                });
                view.proposals = proposals;
            }
            Err(e) => errors.push(e),
        }
        match crate::stages::validate::records(store) {
            Ok(mut records) => {
                records.retain(|r| {
                    let dirs = [Some(&r.parent_dir), Some(&r.candidate_dir), r.harness.as_ref()];
                    let bad = dirs.into_iter().flatten().find(|dir| !inside(dir, allowed));
                    if let Some(dir) = bad {
                        errors.push(outside(
                            "validations.jsonl",
                            &format!("the decision on {}", r.candidate_version),
                            dir,
                        ));
                    }
                    bad.is_none()
                });
                let mut latest: Vec<ValidationRecord> = Vec::new();
                for record in records {
                    latest.retain(|r| r.candidate_version != record.candidate_version);
                    latest.push(record);
                }
                view.decided = latest.into_iter().map(|record| Decided { hunks: hunks_of(&record), record }).collect();
            }
            Err(e) => errors.push(e),
        }
        for weakness in &view.weaknesses {
            let links = weakness
                .evidence
                .iter()
                .filter_map(|e| {
                    let uri = Uri::from_file_path(&e.trace)?;
                    let line = e.turn.map_or(0, |turn| turn_line(&e.trace, turn));
                    let message = match e.turn {
                        Some(turn) => format!("turn {turn}: {}", e.detail),
                        None => e.detail.clone(),
                    };
                    Some(EvidenceLink { uri, line, message })
                })
                .collect();
            view.evidence.insert(weakness.id.clone(), links);
        }
        (view, errors)
    }

    /// The weaknesses mined from the harness in `harness_dir` (and those that name none).
    pub fn weaknesses_of<'a>(&'a self, harness_dir: &'a Path) -> impl Iterator<Item = &'a Weakness> + 'a {
        self.weaknesses.iter().filter(move |w| w.harness.as_deref().is_none_or(|h| h == harness_dir))
    }

    pub fn weakness(&self, id: &str) -> Option<&Weakness> {
        self.weaknesses.iter().find(|w| w.id == id)
    }

    pub fn evidence(&self, weakness: &str) -> &[EvidenceLink] {
        self.evidence.get(weakness).map_or(&[], Vec::as_slice)
    }

    pub fn proposals_for<'a>(&'a self, weakness: &'a str) -> impl Iterator<Item = &'a Proposal> + 'a {
        self.proposals.iter().filter(move |p| p.weakness == weakness)
    }

    pub fn proposal(&self, id: &str) -> Option<&Proposal> {
        self.proposals.iter().find(|p| p.id == id)
    }

    /// Decisions about edits of the working harness in `harness_dir`.
    pub fn decided_for<'a>(&'a self, harness_dir: &'a Path) -> impl Iterator<Item = &'a Decided> + 'a {
        self.decided.iter().filter(move |d| d.record.harness.as_deref() == Some(harness_dir))
    }

    /// The latest decision about a proposal.
    pub fn decision_of(&self, proposal: &str) -> Option<&Decided> {
        self.decided.iter().rev().find(|d| d.record.proposal.as_deref() == Some(proposal))
    }
}

/// Which reloads of the view were asked for, and which one the shown view answers: asks
/// made while a load runs share the next load instead of piling up, a load begun before an
/// ask does not answer it, and a load that ends after a newer one was shown is dropped.
#[derive(Debug, Default)]
pub struct Reloads {
    /// Asks so far, numbered from 1.
    asked: u64,
    /// The latest ask that wants the files read even if none changed.
    forced: u64,
    /// The latest ask the shown view answers: it was loaded by a load begun after it.
    shown: u64,
}

/// A load begun: it answers every ask made before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reload {
    answers: u64,
    /// Read the files even if their stamps did not change.
    pub force: bool,
}

impl Reloads {
    /// Records an ask; its number tells [`Reloads::answered`] when a load has covered it.
    pub fn ask(&mut self, force: bool) -> u64 {
        self.asked += 1;
        if force {
            self.forced = self.asked;
        }
        self.asked
    }

    pub fn answered(&self, ask: u64) -> bool {
        self.shown >= ask
    }

    /// A load of the files as they are now. Nothing changes until it ends, so a load that
    /// never ends (its task dropped) leaves its asks, forced ones too, to the next.
    pub fn begin(&self) -> Reload {
        Reload { answers: self.asked, force: self.forced > self.shown }
    }

    /// Whether what `load` read may be shown: not when a load that answers later asks was.
    pub fn end(&mut self, load: Reload) -> bool {
        let newer = load.answers > self.shown;
        if newer {
            self.shown = load.answers;
        }
        newer
    }
}

/// Passes and counted episodes of a harness version with one model and time cap (the run
/// folder `run`, see `episodes::run_name`), over the episodes the loop, `mine`, `validate`
/// and the editor ran of it.
pub fn pass_rate(store: &Store, run: &str) -> Option<(u32, u32)> {
    let dir = store.run_dir(run);
    let (mut passed, mut counted) = (0, 0);
    for entry in walkdir::WalkDir::new(dir).into_iter().filter_map(Result::ok) {
        if entry.file_name() != crate::trace::FILE_NAME {
            continue;
        }
        let Some(outcome) = crate::trace::read(entry.path()).ok().and_then(|t| t.outcome) else { continue };
        if outcome.error_class.counts() {
            counted += 1;
            passed += u32::from(outcome.passed);
        }
    }
    (counted > 0).then_some((passed, counted))
}

/// True when `path` exists and, links resolved, lies inside one of `roots`.
fn inside(path: &Path, roots: &[PathBuf]) -> bool {
    roots.iter().any(|root| crate::util::lies_inside(path, root))
}

/// The line of turn `turn` in a trace file: the first `turn` line with that index (a torn
/// or unreadable file gives the header line).
fn turn_line(trace: &Path, turn: u32) -> u32 {
    let Ok(text) = std::fs::read_to_string(trace) else { return 0 };
    text.lines()
        .position(|line| {
            serde_json::from_str::<serde_json::Value>(line)
                .is_ok_and(|v| v["type"] == "turn" && v["index"].as_u64() == Some(u64::from(turn)))
        })
        .map_or(0, |n| n as u32)
}

/// The hunks by which the candidate differs from its parent, over every file of the
/// candidate folder.
fn hunks_of(record: &ValidationRecord) -> Vec<Hunk> {
    let mut hunks = Vec::new();
    for entry in walkdir::WalkDir::new(&record.candidate_dir).into_iter().filter_map(Result::ok) {
        if !entry.file_type().is_file() {
            continue;
        }
        let Ok(relative) = entry.path().strip_prefix(&record.candidate_dir) else { continue };
        let (Ok(new), old) = (
            std::fs::read_to_string(entry.path()),
            std::fs::read_to_string(record.parent_dir.join(relative)).unwrap_or_default(),
        ) else {
            continue;
        };
        hunks.extend(diff_hunks(&relative.to_string_lossy(), &old, &new));
    }
    hunks
}

/// The changed blocks between two texts, line by line.
pub fn diff_hunks(file: &str, old: &str, new: &str) -> Vec<Hunk> {
    let diff = TextDiff::from_lines(old, new);
    let lines = |text: &str, range: std::ops::Range<usize>| -> Vec<String> {
        text.lines().skip(range.start).take(range.len()).map(str::to_string).collect()
    };
    diff.ops()
        .iter()
        .filter_map(|op| match *op {
            DiffOp::Equal { .. } => None,
            DiffOp::Delete { old_index, old_len, .. } => Some((old_index..old_index + old_len, 0..0)),
            DiffOp::Insert { new_index, new_len, .. } => Some((0..0, new_index..new_index + new_len)),
            DiffOp::Replace { old_index, old_len, new_index, new_len } => {
                Some((old_index..old_index + old_len, new_index..new_index + new_len))
            }
        })
        .map(|(removed, added)| Hunk { file: file.to_string(), removed: lines(old, removed), added: lines(new, added) })
        .collect()
}

/// Where `lines` stand, one after the other, in `text`: the 0-based line of the first.
/// Blank lines at either end of `lines` are not required to match.
pub fn find_lines(text: &str, lines: &[String]) -> Option<u32> {
    let start = lines.iter().position(|l| !l.trim().is_empty())?;
    let end = lines.iter().rposition(|l| !l.trim().is_empty())? + 1;
    let wanted = &lines[start..end];
    let have: Vec<&str> = text.lines().collect();
    (0..have.len().saturating_sub(wanted.len() - 1))
        .find(|&i| wanted.iter().zip(&have[i..]).all(|(w, h)| w.trim_end() == h.trim_end()))
        .map(|i| i as u32)
}

/// A path made absolute without touching the file system when it cannot be resolved.
pub fn absolute(path: &Path) -> PathBuf {
    path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_files_that_point_outside_the_workspace_are_left_out_and_named() {
        let workspace = tempfile::tempdir().unwrap();
        let harness = workspace.path().join("harnesses/minimal");
        std::fs::create_dir_all(&harness).unwrap();
        let store = Store::at(workspace.path());
        std::fs::create_dir_all(store.root()).unwrap();
        let proposal = |id: &str, parent: &Path| {
            serde_json::json!({
                "id": id, "iteration": 1, "weakness": "w", "source": "model",
                "edit": {"file": "system.md", "search": "", "replace": "x", "rationale": "r"},
                "diff": "", "changed_lines": 1, "dir": harness, "version": "v", "parent_dir": parent,
            })
        };
        let home = tempfile::tempdir().unwrap();
        let list = serde_json::json!([proposal("fine", &harness), proposal("to-home", home.path())]);
        std::fs::write(store.proposals_path(), list.to_string()).unwrap();

        let (view, errors) = StoreView::load(&store, &[workspace.path().to_path_buf()]);
        let ids: Vec<&str> = view.proposals.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["fine"]);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("proposals.json: proposal to-home names") && errors[0].contains("outside"),
            "{errors:?}"
        );

        // A decision whose candidate is "/" is not walked.
        let mut record = crate::lsp::marks::tests::decided(false, "a\n", "b\n").record;
        record.candidate_dir = "/".into();
        record.parent_dir = harness.clone();
        record.harness = Some(harness.clone());
        crate::util::append_json_line(&store.validations_path(), &record).unwrap();
        let (view, errors) = StoreView::load(&store, &[workspace.path().to_path_buf()]);
        assert!(view.decided.is_empty());
        assert!(errors.iter().any(|e| e.starts_with("validations.jsonl: the decision on cand names /,")), "{errors:?}");

        // A file name from a client or a store file must stay inside its folder.
        assert!(crate::util::join_inside(&harness, "../../etc/passwd").is_err());
        assert!(crate::util::join_inside(&harness, "/etc/passwd").is_err());
        std::os::unix::fs::symlink(home.path(), harness.join("notes")).unwrap();
        std::fs::write(home.path().join("x.md"), "").unwrap();
        assert!(crate::util::join_inside(&harness, "notes/x.md").is_err(), "a link out of the folder");
        assert_eq!(crate::util::join_inside(&harness, "system.md").unwrap(), harness.join("system.md"));
    }

    #[test]
    fn asks_share_a_load_and_an_older_load_is_never_shown_over_a_newer() {
        let mut reloads = Reloads::default();
        let first = reloads.ask(true);
        let second = reloads.ask(false);
        let old = reloads.begin();
        assert!(old.force, "one forced ask makes the shared load read the files");
        let third = reloads.ask(false);
        let new = reloads.begin();
        assert!(reloads.end(new));
        assert!(reloads.answered(first) && reloads.answered(second) && reloads.answered(third));
        assert!(!reloads.end(old), "the slow, older load ends last and is dropped");
        assert!(!reloads.begin().force, "the forced ask was answered");

        // A load that never ends answers nothing: its forced ask goes to the next load.
        let fourth = reloads.ask(true);
        let lost = reloads.begin();
        assert!(!reloads.answered(fourth));
        let next = reloads.begin();
        assert_eq!(next, lost);
        assert!(next.force && reloads.end(next) && reloads.answered(fourth));
    }

    #[test]
    fn hunks_and_finding_them_again() {
        let old = "a\nb\nc\n";
        let new = "a\nB1\nB2\nc\nd\n";
        let hunks = diff_hunks("system.md", old, new);
        assert_eq!(hunks.len(), 2, "{hunks:?}");
        assert_eq!(
            (hunks[0].removed.clone(), hunks[0].added.clone()),
            (vec!["b".into()], vec!["B1".into(), "B2".into()])
        );
        assert_eq!((hunks[1].removed.len(), hunks[1].added.clone()), (0, vec!["d".to_string()]));
        assert_eq!(find_lines("x\na\nB1\nB2\n", &hunks[0].added), Some(2));
        assert_eq!(find_lines("B1\nx\nB2\n", &hunks[0].added), None, "not one after the other");
        assert_eq!(find_lines("anything", &[String::new()]), None, "nothing to find");
        assert_eq!(find_lines("q\nd", &["".into(), "d".into()]), Some(1), "blank ends are not required");
    }
}
