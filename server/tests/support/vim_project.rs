//! A model whose weakness is known — it always opens `vim` to write a file, unless its
//! system prompt tells it not to — and a project to run it on: fifteen copies of a greeting
//! task (five per split, the fewest validate tasks on which a fix can be accepted at
//! α = 0.05), a git repository holding the minimal harness with few turns, and an empty
//! project folder for the store. Shared by the loop tests and the editor tests.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use super::Reply;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("server/ has a parent").to_path_buf()
}

pub const FIX: &str =
    "Never open an interactive editor such as vim: write files with echo or printf and a redirection.";

/// The model: acts per its system prompt, and proposes the fix when asked for proposals.
pub fn vim_model(request: &Value) -> Reply {
    let schema = request["response_format"]["json_schema"]["name"].as_str().unwrap_or_default();
    let system = request["messages"][0]["content"].as_str().unwrap_or_default().to_lowercase();
    match schema {
        "action" if system.contains("never open an interactive editor") => {
            Reply::json(&json!({"thought": "write it", "command": "echo hello > /app/greeting.txt", "done": true}))
        }
        "action" => Reply::json(&json!({"thought": "edit the file", "command": "vim /app/greeting.txt", "done": true})),
        "proposals" => Reply::json(&json!({
            "proposals": [{"file": "system.md", "search": "", "replace": FIX,
                           "rationale": "the agent opens vim, which needs a terminal it does not have",
                           "expected_fixes": [], "might_break": []}],
            "decline": null
        })),
        "signature" => Reply::json(&json!({
            "terminal_cause": "opened vim, which cannot be used without a terminal", "criticality": "high",
            "mechanism": "interactive-program", "turns": [0]
        })),
        _ => Reply::text("OK"),
    }
}

/// Fifteen copies of the greeting task, a git repository holding a copy of the minimal harness
/// with few turns, and an empty project folder (where the store goes).
pub fn workspace() -> (tempfile::TempDir, PathBuf, PathBuf, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let tasks = root.path().join("tasks");
    for n in 1..=15 {
        copy_dir(&repo_root().join("server/tests/fixtures/oracle/right-solution"), &tasks.join(format!("greet-{n}")));
    }
    let repo = root.path().join("repo");
    let harness = repo.join("harness");
    copy_dir(&repo_root().join("harnesses/minimal"), &harness);
    let manifest = harness.join("harness.toml");
    let text = std::fs::read_to_string(&manifest).unwrap().replace("max_turns = 30", "max_turns = 3");
    std::fs::write(&manifest, text).unwrap();
    for args in
        [&["init", "-q"][..], &["add", "."], &["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "minimal"]]
    {
        assert!(std::process::Command::new("git").arg("-C").arg(&repo).args(args).status().unwrap().success());
    }
    std::process::Command::new("git").arg("-C").arg(&repo).args(["config", "user.email", "t@t"]).status().unwrap();
    std::process::Command::new("git").arg("-C").arg(&repo).args(["config", "user.name", "t"]).status().unwrap();
    let project = root.path().join("project");
    std::fs::create_dir_all(&project).unwrap();
    (root, tasks, harness, project)
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let target = to.join(entry.path().strip_prefix(from).unwrap());
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
