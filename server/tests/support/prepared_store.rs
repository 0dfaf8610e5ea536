//! A store as mining and proposing leave it, written directly: one weakness of the minimal
//! harness (it opens vim) and one proposal that fixes it, prepared by the same function the
//! loop uses. For editor tests that must not wait for a model.

use std::path::Path;

use self_harness::harness::Harness;
use self_harness::stages::mine::{Evidence, Support, Weakness};
use self_harness::stages::propose::{self, Budget, Proposal, Proposer, RawEdit};

pub const FIX: &str = "Never open an interactive editor such as vim: write files with printf.";

pub fn weakness(harness: &Path, trace: &Path) -> Weakness {
    Weakness {
        id: "interactive-program".into(),
        title: "Opens interactive programs".into(),
        description: "The agent opens vim.".into(),
        criticality: "high".into(),
        support: "2 of 2 failed traces".into(),
        counts: Support { failed_with: 2, failed_total: 2, passed_with: 0, passed_total: 1 },
        surface: "prompts.system".into(),
        location: None,
        evidence: vec![Evidence { trace: trace.to_path_buf(), turn: Some(1), detail: "vim /app/x".into() }],
        tasks: vec!["greet".into()],
        keep_passing: vec!["count".into()],
        harness: Some(harness.canonicalize().unwrap()),
    }
}

/// The proposal, its candidate folder and a copy of its parent under the project's store.
pub fn proposal(project: &Path, harness_dir: &Path) -> Proposal {
    let harness = Harness::load(harness_dir).unwrap();
    let edit = RawEdit {
        file: "system.md".into(),
        search: String::new(),
        replace: FIX.into(),
        more: Vec::new(),
        rationale: "vim needs a terminal the agent does not have".into(),
        expected_fixes: vec!["greet".into()],
        might_break: vec![],
    };
    let dir = project.join(".self-harness/candidates/interactive-program-1");
    let (candidate, diff, changed_lines) = propose::prepare(&harness, &edit, &dir, Budget::default()).unwrap();
    // As `propose` does: the parent is kept, so the proposal stays verifiable once the
    // working folder has it applied and saved.
    self_harness::store::Store::at(project).snapshot(&harness).unwrap();
    Proposal {
        id: "interactive-program-1".into(),
        iteration: 0,
        weakness: "interactive-program".into(),
        source: Proposer::Model,
        edit,
        diff,
        changed_lines,
        dir,
        version: candidate.version().to_string(),
        parent_dir: harness_dir.canonicalize().unwrap(),
        parent_version: harness.version().to_string(),
    }
}

/// A second proposal, of three changes in two files: the catalog's remedy that adds a hook
/// script and the manifest lines that name it (the editor's Accept must write them all).
pub fn two_file_proposal(project: &Path, harness_dir: &Path) -> Proposal {
    let harness = Harness::load(harness_dir).unwrap();
    let no_verification = Weakness { id: "no-verification".into(), ..weakness(harness_dir, Path::new("trace")) };
    let edit = propose::remedies(&harness, &no_verification)
        .into_iter()
        .find(|e| e.files().contains("hooks/show-changes.sh"))
        .expect("the catalog's hook remedy");
    let dir = project.join(".self-harness/candidates/interactive-program-2");
    let (candidate, diff, changed_lines) = propose::prepare(&harness, &edit, &dir, Budget::default()).unwrap();
    Proposal {
        id: "interactive-program-2".into(),
        edit,
        diff,
        changed_lines,
        dir,
        version: candidate.version().to_string(),
        ..proposal(project, harness_dir)
    }
}

/// The store an editor test opens: a short trace of the greeting task, the weakness that
/// points at it and the proposal that fixes it. Returns the trace.
pub fn for_editor(project: &Path, harness: &Path) -> std::path::PathBuf {
    let trace = project.join(".self-harness/runs/loop-x/greet/s0/trace.jsonl");
    std::fs::create_dir_all(trace.parent().unwrap()).unwrap();
    std::fs::write(&trace, "{\"type\":\"header\"}\n{\"type\":\"turn\",\"index\":0}\n{\"type\":\"turn\",\"index\":1}\n")
        .unwrap();
    write(project, "weaknesses.json", &vec![weakness(harness, &trace)]);
    write(project, "proposals.json", &vec![proposal(project, harness)]);
    trace
}

/// Writes one store file atomically, as another process would.
pub fn write(project: &Path, file: &str, value: &impl serde::Serialize) {
    let path = project.join(".self-harness").join(file);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    self_harness::util::write_atomic(&path, serde_json::to_string(value).unwrap().as_bytes()).unwrap();
}
