//! The language server's jobs for real: the `self-harness lsp` binary, real containers and
//! the model whose weakness is known (it opens vim unless told not to). From the editor:
//! mine → the weakness appears on its line; propose → its fix is a code action; apply →
//! validate with progress → the edit is marked accepted; with the cost veto set, the same
//! proposal is rejected. And a cancelled validation stops and leaves no container behind.

mod common;
mod support;

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};
use support::lsp_client::LspClient;
use support::vim_project::{vim_model, workspace, FIX};
use support::ScriptedModel;

fn settings(tasks: &Path, harness: &Path, model: &ScriptedModel) -> Value {
    json!({"harness": harness, "tasks": tasks, "repeats": 2, "parallel": 2, "model": {"baseUrl": model.base_url()}})
}

async fn start(cwd: &Path, tasks: &Path, harness: &Path, model: &ScriptedModel) -> LspClient {
    let bin = Path::new(env!("CARGO_BIN_EXE_self-harness"));
    let mut client = LspClient::spawn(bin, cwd, &[("OPENAI_MODEL", "vim-lover")]).await;
    client.initialize(cwd, settings(tasks, harness, model)).await;
    client
}

async fn execute(client: &mut LspClient, command: &str, argument: Value) -> String {
    let reply = client.request("workspace/executeCommand", json!({"command": command, "arguments": [argument]})).await;
    reply.unwrap_or_else(|e| panic!("{command}: {e}"))["job"].as_str().expect("a job id").to_string()
}

/// Waits for job `id` to end and returns how (`done`, `failed`, `cancelled`) and its message.
async fn ended(client: &mut LspClient, id: &str) -> (String, String) {
    let message = client
        .wait_for("selfHarness/jobs", Duration::from_secs(300), |p| {
            p["jobs"].as_array().unwrap().iter().any(|j| j["id"] == id && j["state"] != "running")
        })
        .await;
    let job = message["params"]["jobs"].as_array().unwrap().iter().find(|j| j["id"] == id).unwrap().clone();
    (job["state"].as_str().unwrap().to_string(), job["message"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn mine_propose_apply_validate_and_mark_from_the_editor() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let mut client = start(&cwd, &tasks, &harness, &model).await;
    let manifest = harness.join("harness.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let manifest_uri = client.open(&manifest, &text).await;
    client.diagnostics(&manifest_uri, |d| d.is_empty()).await;

    // Mine: the weakness shows on the line of the system prompt.
    let job = execute(&mut client, "selfHarness.mine", json!({})).await;
    assert_eq!(ended(&mut client, &job).await.0, "done");
    let found = client.diagnostics(&manifest_uri, |d| d.iter().any(|d| d["code"] == "interactive-program")).await;
    let weakness = found.iter().find(|d| d["code"] == "interactive-program").unwrap().clone();
    let system_line = text.lines().position(|l| l.starts_with("system =")).unwrap();
    assert_eq!(weakness["range"]["start"]["line"], system_line);

    // Propose: the model's fix becomes a code action.
    let job = execute(&mut client, "selfHarness.propose", json!({"weakness": "interactive-program"})).await;
    let (state, message) = ended(&mut client, &job).await;
    assert_eq!(state, "done", "{message}");
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": manifest_uri}, "range": weakness["range"],
                   "context": {"diagnostics": [weakness]}}),
        )
        .await
        .unwrap();
    let apply = actions
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["title"].as_str().unwrap().starts_with("Apply proposal"))
        .unwrap_or_else(|| panic!("{actions:#}"))
        .clone();

    // Apply: resolve, edit the open system prompt as the editor would, run its command.
    let system = harness.join("system.md");
    let original = std::fs::read_to_string(&system).unwrap();
    let system_uri = client.open(&system, &original).await;
    let resolved = client.request("codeAction/resolve", apply).await.unwrap();
    let edit = &resolved["edit"]["documentChanges"][0]["edits"][0];
    assert_eq!(edit["newText"], format!("{FIX}\n"));
    let edited = format!("{original}{FIX}\n");
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": system_uri, "version": 2}, "contentChanges": [{"text": edited}]}),
        )
        .await;
    let command = &resolved["command"];
    let job = execute(&mut client, command["command"].as_str().unwrap(), command["arguments"][0].clone()).await;

    // Validation reports progress with running pass rates, and ends accepted.
    let token = format!("self-harness/{job}");
    client
        .wait_for("$/progress", Duration::from_secs(60), |p| p["token"] == token && p["value"]["kind"] == "begin")
        .await;
    let report = client
        .wait_for("$/progress", Duration::from_secs(300), |p| {
            p["token"] == token && p["value"]["message"].as_str().is_some_and(|m| m.starts_with("validate"))
        })
        .await;
    assert!(report["params"]["value"]["message"].as_str().unwrap().contains("candidate"), "{report}");
    let (state, message) = ended(&mut client, &job).await;
    assert_eq!(state, "done");
    assert!(message.starts_with("✓ accepted · +5/5 tasks"), "{message}");

    // The mark: on the edited line of the open document.
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": system_uri}})).await.unwrap();
    assert_eq!(lenses[0]["range"]["start"]["line"], edited.lines().count() - 1, "{lenses:#}");
    assert!(lenses[0]["command"]["title"].as_str().unwrap().starts_with("✓ accepted · +5/5 tasks · p=0.031"));
    let state = client.request("selfHarness/state", Value::Null).await.unwrap();
    assert_eq!(state["proposals"][0]["state"], "accepted", "{state:#}");

    // `exit` ends the server even though its stdin stays open.
    client.shutdown().await;
    let status = tokio::time::timeout(Duration::from_secs(20), client.child.as_mut().unwrap().wait()).await;
    assert!(status.expect("the server exits after `exit`").unwrap().success());

    // The edit is saved (as VS Code saves the files a code action changed) and the editor
    // comes back another day: the mark still stands, since the decision keeps its own copy
    // of the parent rather than pointing at the working folder, which now has the edit.
    std::fs::write(&system, &edited).unwrap();
    let mut client = start(&cwd, &tasks, &harness, &model).await;
    let system_uri = client.open(&system, &edited).await;
    // The store is read in the background; the server asks for the lenses again once it is.
    client.wait_for("workspace/codeLens/refresh", Duration::from_secs(30), |_| true).await;
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": system_uri}})).await.unwrap();
    assert_eq!(lenses[0]["range"]["start"]["line"], edited.lines().count() - 1, "after saving: {lenses:#}");
    assert!(lenses[0]["command"]["title"].as_str().unwrap().starts_with("✓ accepted · +5/5 tasks"), "{lenses:#}");

    // The editor has the CLI's options, the cost veto among them: the same proposal, judged
    // with a spending limit no candidate meets, is rejected (its episodes are reused).
    let proposal = state["proposals"][0]["id"].as_str().unwrap().to_string();
    let mut strict = settings(&tasks, &harness, &model);
    strict["maxCostRatio"] = json!(0.01);
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"selfHarness": strict}})).await;
    let job = execute(&mut client, "selfHarness.validate", json!({"proposal": proposal})).await;
    let (state, message) = ended(&mut client, &job).await;
    assert_eq!(state, "done", "{message}");
    assert!(message.starts_with("✗ rejected") && message.contains("vetoed: spends"), "{message}");
    client.shutdown().await;
}

/// Evaluate runs the repeats per task asked for (VS Code's Evaluate prompts for them), not the
/// repeats setting; a number out of range is refused before anything runs.
#[tokio::test]
async fn evaluate_runs_the_repeats_asked_for() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let mut client = start(&cwd, &tasks, &harness, &model).await;
    let job = execute(&mut client, "selfHarness.eval", json!({"repeats": 1})).await;
    let (state, message) = ended(&mut client, &job).await;
    assert_eq!(state, "done", "{message}");
    assert!(message.ends_with("/15 passed"), "15 tasks × 1 repeat, not the setting's 2: {message}");
    // Kept as an evaluation, which the editor's report shows as `self-harness report` does.
    let report = client.request("workspace/executeCommand", json!({"command": "selfHarness.report", "arguments": []}));
    let report = report.await.unwrap();
    let evaluations = report["json"]["evaluations"].as_array().expect("the report's evaluations");
    assert_eq!(evaluations.len(), 1, "{report:#}");
    assert_eq!((evaluations[0]["tasks"].as_u64(), evaluations[0]["repeats"].as_u64()), (Some(15), Some(1)));
    assert!(report["markdown"].as_str().unwrap().contains("15 × 1"), "{}", report["markdown"]);
    // The old name of the argument still works; a second evaluation reuses every episode.
    let job = execute(&mut client, "selfHarness.eval", json!({"trials": 1})).await;
    assert_eq!(ended(&mut client, &job).await.0, "done");
    let refused = client
        .request("workspace/executeCommand", json!({"command": "selfHarness.eval", "arguments": [{"repeats": 0}]}))
        .await;
    assert!(refused.unwrap_err()["message"].as_str().unwrap().contains("1 to 20"));
    client.shutdown().await;
}

#[tokio::test]
async fn a_cancelled_validation_stops_and_leaves_no_container() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let mut client = start(&cwd, &tasks, &harness, &model).await;
    let pid = client.child.as_ref().unwrap().id().unwrap();

    // An unsaved edit of the working harness, validated against its last commit.
    let system = harness.join("system.md");
    let edited = format!("{}{FIX}\n", std::fs::read_to_string(&system).unwrap());
    client.open(&system, &edited).await;
    let job = execute(&mut client, "selfHarness.validate", json!({})).await;
    // Cancel once episodes are running.
    client
        .wait_for("selfHarness/jobs", Duration::from_secs(120), |p| {
            p["jobs"].as_array().unwrap().iter().any(|j| j["id"] == job && j["done"].as_u64() > Some(0))
        })
        .await;
    let cancelled = client
        .request("workspace/executeCommand", json!({"command": "selfHarness.cancel", "arguments": [{"job": job}]}))
        .await;
    assert_eq!(cancelled.unwrap()["cancelled"], true);
    assert_eq!(ended(&mut client, &job).await.0, "cancelled");

    // Its containers are removed (in the background, by the sandbox guards).
    let owned = || {
        let output = std::process::Command::new("docker")
            .args([
                "ps",
                "-a",
                "--filter",
                "label=dev.self-harness.managed",
                "--format",
                "{{.Label \"dev.self-harness.owner\"}}",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&output.stdout).lines().filter(|owner| owner.contains(&format!("/{pid}/"))).count()
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while owned() > 0 {
        assert!(std::time::Instant::now() < deadline, "containers of the cancelled validation remain");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let records = cwd.join(".self-harness/validations.jsonl");
    assert!(!records.exists(), "a cancelled validation decides nothing");
    client.shutdown().await;
}
