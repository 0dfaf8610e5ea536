//! The language server, in process, through the protocol as an editor speaks it: document
//! sync with non-ASCII text, harness-file diagnostics, hover, completion, definition;
//! weaknesses from the store as diagnostics (updated when another process rewrites it, and
//! shown while the side bar's pass rate over thousands of traces is still being counted);
//! proposals as code actions resolved into annotated edits and their proposed text;
//! validation marks; and requests that are stale, cancelled, for unopened documents or
//! plain garbage. No Docker here: jobs that run episodes are in tests/lsp_jobs.rs.

mod support;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};
use support::lsp_client::{uri, LspClient};
use support::prepared_store;

use self_harness::lsp::settings::Settings;
use self_harness::stages::mine::Weakness;
use self_harness::stages::propose::{self as propose, Proposal};
use self_harness::trace::TraceWriter;

/// A project: a copy of the minimal harness in `harness/`, an empty store.
struct Project {
    _dir: tempfile::TempDir,
    root: PathBuf,
    harness: PathBuf,
}

fn project() -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().canonicalize().unwrap();
    let harness = root.join("harness");
    self_harness::util::copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal"), &harness)
        .unwrap();
    Project { _dir: dir, root, harness }
}

async fn client(project: &Project) -> LspClient {
    let mut client = LspClient::in_process().await;
    client.initialize(&project.root, json!({"harness": "harness"})).await;
    client
}

fn manifest(project: &Project) -> (PathBuf, String) {
    let path = project.harness.join("harness.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    (path, text)
}

fn line_of(text: &str, prefix: &str) -> u32 {
    text.lines().position(|l| l.starts_with(prefix)).unwrap() as u32
}

fn weakness(project: &Project, trace: &Path) -> Weakness {
    prepared_store::weakness(&project.harness, trace)
}

const FIX: &str = prepared_store::FIX;

fn proposal(project: &Project) -> Proposal {
    prepared_store::proposal(&project.root, &project.harness)
}

/// A trace file whose turn 1 is on line 2.
fn trace(project: &Project) -> PathBuf {
    let path = project.root.join(".self-harness/runs/loop-x/greet/s0/trace.jsonl");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let lines = [
        json!({"type": "header", "task": "greet"}),
        json!({"type": "turn", "index": 0}),
        json!({"type": "turn", "index": 1}),
    ];
    std::fs::write(&path, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
    path
}

fn store_write(project: &Project, file: &str, value: &impl serde::Serialize) {
    prepared_store::write(&project.root, file, value);
}

#[tokio::test]
async fn initialize_declares_what_is_implemented() {
    let project = project();
    let mut client = LspClient::in_process().await;
    let result = client.initialize(&project.root, json!({})).await;
    let caps = &result["capabilities"];
    assert_eq!(caps["textDocumentSync"]["change"], 2, "incremental");
    assert_eq!(caps["positionEncoding"], "utf-16");
    assert_eq!(caps["codeActionProvider"]["resolveProvider"], true);
    let commands: Vec<&str> =
        caps["executeCommandProvider"]["commands"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert!(commands.contains(&"selfHarness.validate") && commands.contains(&"selfHarness.autoApply.start"));
    assert!(!commands.contains(&"selfHarness.previewProposal"), "the client's command");
    client.shutdown().await;
}

#[tokio::test]
async fn syntax_problems_appear_on_a_bad_edit_and_clear_when_fixed() {
    let project = project();
    let mut client = client(&project).await;
    let (path, text) = manifest(&project);
    let uri = client.open(&path, &text).await;
    client.diagnostics(&uri, |d| d.is_empty()).await;

    // Non-ASCII before the edit: the column is in UTF-16 code units.
    let name = line_of(&text, "name");
    let edit = |version: i32, range: Value, text: &str| json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": range, "text": text}]});
    let range = json!({"start": {"line": name, "character": 8}, "end": {"line": name, "character": 8}});
    client.notify("textDocument/didChange", edit(2, range, "é😀")).await;
    assert_eq!(client.diagnostics_at(&uri, 2).await, Vec::<Value>::new());
    // name = "é😀minimal": break the string after the emoji (character 8 + 1 + 2).
    let range = json!({"start": {"line": name, "character": 11}, "end": {"line": name, "character": 11}});
    client.notify("textDocument/didChange", edit(3, range, "\"")).await;
    let broken = client.diagnostics_at(&uri, 3).await;
    assert_eq!(broken[0]["severity"], 1, "{broken:#?}");
    assert_eq!(broken[0]["source"], "self-harness");
    assert_eq!(broken[0]["range"]["start"]["line"], name);
    let range = json!({"start": {"line": name, "character": 11}, "end": {"line": name, "character": 12}});
    client.notify("textDocument/didChange", edit(4, range, "")).await;
    assert_eq!(client.diagnostics_at(&uri, 4).await, Vec::<Value>::new());

    // A missing file, then an unknown key.
    let replace = |version: i32, text: String| json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": text}]});
    let missing = format!("{text}\n[hooks.before_completion]\nfile = \"missing.sh\"\n");
    client.notify("textDocument/didChange", replace(5, missing.clone())).await;
    let problems = client.diagnostics_at(&uri, 5).await;
    assert!(problems.iter().any(|d| d["code"] == "file-missing"), "{problems:#?}");
    client.notify("textDocument/didChange", replace(6, format!("{missing}bogus = 1\n"))).await;
    let problems = client.diagnostics_at(&uri, 6).await;
    let unknown = problems.iter().find(|d| d["code"] == "unknown-key").expect("an unknown-key problem");
    assert!(unknown["message"].as_str().unwrap().contains("bogus"), "{problems:#?}");
    client.shutdown().await;
}

#[tokio::test]
async fn templates_report_unknown_variables() {
    let project = project();
    let mut client = client(&project).await;
    let path = project.harness.join("system.md");
    let uri = client.open(&path, "Hello {{ no_such_variable }}\n").await;
    let found = client.diagnostics(&uri, |d| !d.is_empty()).await;
    assert!(found[0]["message"].as_str().unwrap().contains("no_such_variable"), "{found:#?}");
    client.shutdown().await;
}

#[tokio::test]
async fn hover_completion_and_definition() {
    let project = project();
    let mut client = client(&project).await;
    let (path, text) = manifest(&project);
    let uri = client.open(&path, &text).await;
    let at = |line: u32, character: u32| json!({"textDocument": {"uri": uri}, "position": {"line": line, "character": character}});

    let hover = client.request("textDocument/hover", at(line_of(&text, "max_turns"), 3)).await.unwrap();
    assert!(hover["contents"]["value"].as_str().unwrap().contains("policy.max_turns"), "{hover}");
    let values =
        client.request("textDocument/completion", at(line_of(&text, "on_context_overflow"), 24)).await.unwrap();
    let labels: Vec<&str> = values.as_array().unwrap().iter().filter_map(|c| c["label"].as_str()).collect();
    assert!(labels.contains(&"\"fail\""), "{labels:?}");
    let target = client.request("textDocument/definition", at(line_of(&text, "system ="), 12)).await.unwrap();
    assert_eq!(target["uri"], uri_of(&project.harness.join("system.md")));
    client.shutdown().await;
}

fn uri_of(path: &Path) -> String {
    uri(path)
}

#[tokio::test]
async fn weaknesses_are_diagnostics_on_their_line_and_follow_the_store() {
    let project = project();
    let trace = trace(&project);
    let mut client = client(&project).await;
    let (path, text) = manifest(&project);
    let uri = client.open(&path, &text).await;
    client.diagnostics(&uri, |d| d.is_empty()).await;

    // Another process writes the store: the diagnostic appears.
    store_write(&project, "weaknesses.json", &vec![weakness(&project, &trace)]);
    let found = client.diagnostics(&uri, |d| !d.is_empty()).await;
    let d = &found[0];
    assert_eq!(d["code"], "interactive-program");
    assert_eq!(d["severity"], 2, "high criticality: warning");
    assert_eq!(d["range"]["start"]["line"], line_of(&text, "system ="));
    assert_eq!(d["message"], "2/2 failed traces: Opens interactive programs");
    assert_eq!(d["relatedInformation"][0]["location"]["uri"], uri_of(&trace));
    assert_eq!(d["relatedInformation"][0]["location"]["range"]["start"]["line"], 2, "turn 1 is line 2");
    assert!(d["codeDescription"]["href"].as_str().unwrap().ends_with("report.html#weakness-interactive-program"));
    assert_eq!(d["data"]["weakness"], "interactive-program");

    // It follows the text: two lines inserted above move it down two lines.
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 2},
                   "contentChanges": [{"range": {"start": {"line": 0, "character": 0}, "end": {"line": 0, "character": 0}},
                                       "text": "# one\n# two\n"}]}),
        )
        .await;
    let moved = client.diagnostics(&uri, |d| !d.is_empty()).await;
    assert_eq!(moved[0]["range"]["start"]["line"], line_of(&text, "system =") + 2);

    // The hover on that line explains it.
    let hover = client
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": line_of(&text, "system =") + 2, "character": 1}}),
        )
        .await
        .unwrap();
    assert!(hover["contents"]["value"].as_str().unwrap().contains("Must keep passing: count"), "{hover}");

    // A weakness of another harness is not shown here; an emptied store clears it.
    let mut other = weakness(&project, &trace);
    other.harness = Some("/elsewhere".into());
    store_write(&project, "weaknesses.json", &vec![other]);
    client.diagnostics(&uri, |d| d.is_empty()).await;
    client.shutdown().await;
}

#[tokio::test]
async fn a_proposal_that_creates_a_file_resolves_into_a_create_and_one_edit_per_file() {
    let project = project();
    let trace = trace(&project);
    let weakness = weakness(&project, &trace);
    let harness = self_harness::harness::Harness::load(&project.harness).unwrap();
    let no_verification = Weakness { id: "no-verification".into(), ..weakness.clone() };
    let hook = propose::remedies(&harness, &no_verification)
        .into_iter()
        .find(|e| e.files().contains("hooks/show-changes.sh"))
        .unwrap();
    let proposal = Proposal { edit: hook, ..proposal(&project) };
    store_write(&project, "weaknesses.json", &vec![weakness]);
    store_write(&project, "proposals.json", &vec![proposal]);
    let mut client = client(&project).await;
    let (path, text) = manifest(&project);
    let manifest_uri = client.open(&path, &text).await;
    client.diagnostics(&manifest_uri, |d| !d.is_empty()).await;

    let apply = json!({"title": "Apply", "data": {"kind": "proposal", "proposal": "interactive-program-1"}});
    let resolved = client.request("codeAction/resolve", apply).await.unwrap();
    let changes = resolved["edit"]["documentChanges"].as_array().unwrap();
    let script = project.harness.join("hooks/show-changes.sh");
    assert_eq!(changes.len(), 3, "{changes:#?}");
    assert_eq!((changes[0]["kind"].as_str(), &changes[0]["uri"]), (Some("create"), &json!(uri(&script))));
    assert_eq!(
        changes[1]["textDocument"]["uri"], manifest_uri,
        "both manifest changes in one edit of the open document"
    );
    let manifest_edits: Vec<&str> =
        changes[1]["edits"].as_array().unwrap().iter().map(|e| e["newText"].as_str().unwrap()).collect();
    assert_eq!(manifest_edits.len(), 2, "{manifest_edits:?}");
    assert!(
        manifest_edits[0].contains("declare_after_check") && manifest_edits[1].contains("[hooks.before_completion]")
    );
    assert_eq!(changes[2]["textDocument"]["uri"], json!(uri(&script)));
    assert!(changes[2]["edits"][0]["newText"].as_str().unwrap().starts_with("#!/bin/bash\n"));

    // The preview shows the manifest with both of its changes, names the script it also
    // writes, and hands the editor the whole proposal to apply on Accept (it once showed and
    // wrote the first change only: the harness then named a hook script never written).
    let preview =
        client.request("selfHarness/proposedText", json!({"proposal": "interactive-program-1"})).await.unwrap();
    assert_eq!(preview["uri"], manifest_uri);
    let proposed = preview["proposed"].as_str().unwrap();
    assert!(proposed.contains("declare_after_check") && proposed.contains("[hooks.before_completion]"), "{proposed}");
    assert_eq!(preview["files"], json!(["harness.toml", "hooks/show-changes.sh"]));
    assert_eq!(preview["edit"]["documentChanges"], resolved["edit"]["documentChanges"]);
    let diff = preview["diff"].as_str().unwrap();
    assert!(diff.contains("+++ b/harness.toml") && diff.contains("+++ b/hooks/show-changes.sh"), "{diff}");
    client.shutdown().await;
}

/// A store with the weakness and its proposal (and `validations`, the lines of
/// validations.jsonl), the manifest open: the client and the code actions on the weakness.
async fn actions_on_the_weakness(project: &Project, validations: &[Value]) -> (LspClient, Value) {
    let trace = trace(project);
    store_write(project, "weaknesses.json", &vec![weakness(project, &trace)]);
    store_write(project, "proposals.json", &vec![proposal(project)]);
    if !validations.is_empty() {
        let lines: String = validations.iter().map(|v| format!("{v}\n")).collect();
        std::fs::write(project.root.join(".self-harness/validations.jsonl"), lines).unwrap();
    }
    let mut client = client(project).await;
    let (path, text) = manifest(project);
    let uri = client.open(&path, &text).await;
    let diagnostics = client.diagnostics(&uri, |d| !d.is_empty()).await;
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": diagnostics[0]["range"],
                   "context": {"diagnostics": diagnostics}}),
        )
        .await
        .unwrap();
    (client, actions)
}

#[tokio::test]
async fn proposals_are_code_actions_resolved_into_annotated_edits() {
    let project = project();
    let (mut client, actions) = actions_on_the_weakness(&project, &[]).await;
    let titles: Vec<&str> = actions.as_array().unwrap().iter().filter_map(|a| a["title"].as_str()).collect();
    assert_eq!(
        titles,
        [
            "Propose fixes: Opens interactive programs",
            "Apply proposal interactive-program-1: vim needs a terminal the agent does not have",
            "Preview proposal interactive-program-1"
        ]
    );
    let apply = actions[1].clone();
    assert!(apply.get("edit").is_none(), "listing is cheap: no edit yet");
    assert_eq!(actions[2]["command"]["command"], "selfHarness.previewProposal");
    assert_eq!(actions[0]["command"]["arguments"][0]["weakness"], "interactive-program");

    // Resolve against the system prompt as the editor has it (open, unsaved).
    let system = project.harness.join("system.md");
    let system_text = format!("{}Edited in the editor.\n", std::fs::read_to_string(&system).unwrap());
    let system_uri = client.open(&system, &system_text).await;
    let resolved = client.request("codeAction/resolve", apply).await.unwrap();
    let change = &resolved["edit"]["documentChanges"][0];
    assert_eq!(change["textDocument"]["uri"], system_uri);
    assert_eq!(change["textDocument"]["version"], 1, "for the version in the editor");
    let edit = &change["edits"][0];
    assert_eq!(edit["newText"], format!("{FIX}\n"));
    assert_eq!(edit["range"]["start"]["line"], system_text.lines().count(), "appended after the editor's text");
    let annotation = edit["annotationId"].as_str().unwrap();
    let explained = &resolved["edit"]["changeAnnotations"][annotation];
    assert!(explained["description"].as_str().unwrap().contains("Opens interactive programs"), "{explained}");
    assert_eq!(resolved["command"]["command"], "selfHarness.validate");
    assert_eq!(resolved["command"]["arguments"][0]["proposal"], "interactive-program-1");

    // The proposed text for a diff view, and a unified diff for clients without one.
    let proposed =
        client.request("selfHarness/proposedText", json!({"proposal": "interactive-program-1"})).await.unwrap();
    assert_eq!(proposed["original"], system_text);
    assert_eq!(proposed["proposed"], format!("{system_text}{FIX}\n"));
    assert!(proposed["diff"].as_str().unwrap().contains(&format!("+{FIX}")));
    let missing = client.request("selfHarness/proposedText", json!({"proposal": "nope"})).await.unwrap_err();
    assert!(missing["message"].as_str().unwrap().contains("no proposal nope"), "{missing}");

    // The side bar's view of it all.
    let state = client.request("selfHarness/state", Value::Null).await.unwrap();
    assert_eq!(state["proposals"][0]["state"], "proposed");
    assert_eq!(state["weaknesses"][0]["id"], "interactive-program");
    client.shutdown().await;
}

#[tokio::test]
async fn with_thousands_of_traces_the_weakness_shows_and_the_pass_rate_follows() {
    let project = project();
    // 2,000 episodes of the current version, where the side bar counts them.
    let version = self_harness::harness::Harness::load(&project.harness).unwrap().version().to_string();
    let model = Settings::default().model_config(&project.root).map(|c| c.model).unwrap_or_default();
    let runs = project.root.join(".self-harness/runs").join(self_harness::episodes::run_name(&version, &model, None));
    let mut rng = fastrand::Rng::with_seed(3);
    let (mut passed, mut counted, mut first) = (0, 0, None);
    for i in 0..2_000 {
        let labelled = support::corpus::generate(&mut rng, i % 89, 0.25, 4);
        let mut writer = TraceWriter::create(&runs.join(format!("t{i}")), &labelled.trace.header).unwrap();
        for turn in &labelled.trace.turns {
            writer.turn(turn).unwrap();
        }
        let outcome = labelled.trace.outcome.as_ref().unwrap();
        first.get_or_insert(writer.finish(outcome).unwrap());
        if outcome.error_class.counts() {
            counted += 1;
            passed += u32::from(outcome.passed);
        }
    }
    let trace = first.unwrap();
    store_write(&project, "weaknesses.json", &vec![weakness(&project, &trace)]);

    // The side bar asks before the file is opened, as the extension does; the weakness
    // does not wait for the count its pass rate needs.
    let mut client = client(&project).await;
    let asked = client.send_request("selfHarness/state", Value::Null).await;
    let (path, text) = manifest(&project);
    let uri = client.open(&path, &text).await;
    let found = client.diagnostics(&uri, |d| !d.is_empty()).await;
    assert_eq!(found[0]["code"], "interactive-program");
    assert_eq!(found[0]["relatedInformation"][0]["location"]["uri"], uri_of(&trace));

    // The pass rate comes when counted, and the server says so.
    let mut state = client.response(asked).await.unwrap();
    while !state["harness"]["passRate"].is_number() {
        client.wait_for("selfHarness/stateChanged", Duration::from_secs(60), |_| true).await;
        state = client.request("selfHarness/state", Value::Null).await.unwrap();
    }
    assert_eq!(state["harness"]["passRate"], f64::from(passed) / f64::from(counted));
    assert_eq!(state["weaknesses"][0]["id"], "interactive-program");
    client.shutdown().await;
}

/// Five tasks, each passed `passed` times of once.
fn tasks(passed: u32) -> Value {
    (0..5).map(|t| (format!("t{t}"), json!({"passed": passed, "counted": 1}))).collect::<serde_json::Map<_, _>>().into()
}

/// A decision about the proposal, as `validate` records it.
fn decision(project: &Project, accepted: bool) -> Value {
    let p = proposal(project);
    let all = json!(["t0", "t1", "t2", "t3", "t4"]);
    json!({
        "at": "2026-11-24T00:00:00Z", "proposal": p.id, "harness": project.harness,
        "parent_dir": project.harness, "parent_version": p.parent_version,
        "candidate_dir": p.dir, "candidate_version": p.version, "policy": "paired-tasks(alpha=0.05)",
        "accepted": accepted,
        "reason": if accepted { "5 tasks better, 0 worse, 0 tied" } else { "0 tasks better, 5 worse, 0 tied" },
        "p_value": if accepted { 0.03125 } else { 1.0 }, "p_adjusted": if accepted { 0.03125 } else { 1.0 }, "family": 1,
        "parent": {"per_task": tasks(if accepted { 0 } else { 1 }), "passed": if accepted { 0 } else { 5 }, "counted": 5},
        "candidate": {"per_task": tasks(if accepted { 1 } else { 0 }), "passed": if accepted { 5 } else { 0 }, "counted": 5},
        "improved": if accepted { all.clone() } else { json!([]) },
        "regressed": if accepted { json!([]) } else { all }, "stopped_early": false, "cost_ratio": null,
        "spend": {"tokens": 0, "cost_usd": 0.0, "container_seconds": 0.0}
    })
}

/// A rejected proposal is no longer offered to apply (it would install what validation turned
/// down, and validate it again), and resolving an old action for it says why.
#[tokio::test]
async fn a_rejected_proposal_is_not_offered_again() {
    let project = project();
    let (mut client, actions) = actions_on_the_weakness(&project, &[decision(&project, false)]).await;
    let titles: Vec<&str> = actions.as_array().unwrap().iter().filter_map(|a| a["title"].as_str()).collect();
    assert_eq!(
        titles,
        ["Propose fixes: Opens interactive programs", "Preview proposal interactive-program-1 (rejected)"]
    );
    let stale = json!({"title": "Apply proposal interactive-program-1", "data": {"kind": "proposal", "proposal": "interactive-program-1"}});
    let error = client.request("codeAction/resolve", stale).await.unwrap_err();
    assert!(error["message"].as_str().unwrap().contains("was rejected (-5/5 tasks"), "{error}");
    client.shutdown().await;
}

#[tokio::test]
async fn validated_edits_are_marked_where_their_text_stands() {
    let project = project();
    store_write(&project, "proposals.json", &vec![proposal(&project)]);
    let system = project.harness.join("system.md");
    let edited = format!("{}{FIX}\n", std::fs::read_to_string(&system).unwrap());
    let fix_line = edited.lines().count() as u32 - 1;
    let mut client = client(&project).await;
    let uri = client.open(&system, &edited).await;

    // Accepted: a code lens and an inlay hint with the evidence.
    std::fs::write(project.root.join(".self-harness/validations.jsonl"), format!("{}\n", decision(&project, true)))
        .unwrap();
    client.wait_for("selfHarness/stateChanged", Duration::from_secs(10), |_| true).await;
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}})).await.unwrap();
    assert_eq!(lenses[0]["range"]["start"]["line"], fix_line);
    assert_eq!(lenses[0]["command"]["title"], "✓ accepted · +5/5 tasks · p=0.031");
    let range = json!({"start": {"line": 0, "character": 0}, "end": {"line": fix_line + 1, "character": 0}});
    let hints =
        client.request("textDocument/inlayHint", json!({"textDocument": {"uri": uri}, "range": range})).await.unwrap();
    assert_eq!(hints[0]["label"], "✓ accepted · +5/5 tasks · p=0.031");

    // Rejected (a later decision about the same candidate): a diagnostic with "Revert".
    let both = format!("{}\n{}\n", decision(&project, true), decision(&project, false));
    std::fs::write(project.root.join(".self-harness/validations.jsonl"), both).unwrap();
    let found = client.diagnostics(&uri, |d| !d.is_empty()).await;
    assert_eq!(found[0]["code"], "rejected-edit");
    assert_eq!(found[0]["range"]["start"]["line"], fix_line);
    let actions = client
        .request(
            "textDocument/codeAction",
            json!({"textDocument": {"uri": uri}, "range": found[0]["range"], "context": {"diagnostics": found}}),
        )
        .await
        .unwrap();
    assert_eq!(actions[0]["title"], "Revert rejected edit");
    let revert = client.request("codeAction/resolve", actions[0].clone()).await.unwrap();
    let edit = &revert["edit"]["documentChanges"][0]["edits"][0];
    assert_eq!(
        (edit["range"]["start"]["line"].as_u64(), edit["newText"].as_str()),
        (Some(u64::from(fix_line)), Some(""))
    );
    let lenses = client.request("textDocument/codeLens", json!({"textDocument": {"uri": uri}})).await.unwrap();
    assert_eq!(lenses, json!([]), "no accepted mark on a rejected edit");

    // The edit undone in the editor: no mark lands on text that was not validated.
    let undone = std::fs::read_to_string(&system).unwrap();
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": undone}]}),
        )
        .await;
    client.diagnostics(&uri, |d| d.is_empty()).await;
    client.shutdown().await;
}

#[tokio::test]
async fn stale_cancelled_unopened_and_garbage_requests_get_answers_not_panics() {
    let project = project();
    let mut client = client(&project).await;
    let (path, text) = manifest(&project);
    let uri = client.open(&path, &text).await;

    // A request for a position the document no longer has, sent before and answered after
    // an edit that shortens it.
    let stale = client
        .send_request(
            "textDocument/hover",
            json!({"textDocument": {"uri": uri}, "position": {"line": 400, "character": 9}}),
        )
        .await;
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 2}, "contentChanges": [{"text": "name = \"x\"\n"}]}),
        )
        .await;
    assert_eq!(client.response(stale).await, Ok(Value::Null));

    // Cancelled: answered (with its result, or the cancellation error), never dropped.
    let cancelled = client
        .send_request(
            "textDocument/completion",
            json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 0}}),
        )
        .await;
    client.notify("$/cancelRequest", json!({"id": cancelled})).await;
    match client.response(cancelled).await {
        Ok(_) => {}
        Err(error) => assert_eq!(error["code"], -32800, "{error}"),
    }

    // Unopened documents, edits to them, ranges past the end, unknown commands, bad params.
    let elsewhere = uri_of(&project.root.join("nowhere/harness.toml"));
    let hover = client
        .request(
            "textDocument/hover",
            json!({"textDocument": {"uri": elsewhere}, "position": {"line": 0, "character": 0}}),
        )
        .await;
    assert_eq!(hover, Ok(Value::Null));
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": elsewhere, "version": 9}, "contentChanges": [{"text": "x"}]}),
        )
        .await;
    client
        .notify(
            "textDocument/didChange",
            json!({"textDocument": {"uri": uri, "version": 3},
                   "contentChanges": [{"range": {"start": {"line": 99, "character": 99}, "end": {"line": 0, "character": 0}},
                                       "text": "tail"}]}),
        )
        .await;
    let unknown = client.request("workspace/executeCommand", json!({"command": "selfHarness.nope"})).await;
    assert!(unknown.unwrap_err()["message"].as_str().unwrap().contains("unknown command"));
    let no_weakness =
        client.request("workspace/executeCommand", json!({"command": "selfHarness.propose", "arguments": [{}]})).await;
    assert!(no_weakness.unwrap_err()["message"].as_str().unwrap().contains("weakness"));
    let bad = client.request("textDocument/hover", json!({"textDocument": 5})).await;
    assert!(bad.is_err(), "bad params are an error reply");
    let resolve = client
        .request("codeAction/resolve", json!({"title": "x", "data": {"kind": "proposal", "proposal": "gone"}}))
        .await;
    assert!(resolve.unwrap_err()["message"].as_str().unwrap().contains("no longer in the store"));
    client.send_raw("{ this is not json").await;
    let logged = client.wait_for("window/logMessage", Duration::from_secs(10), |_| true).await;
    assert!(logged["params"]["message"].as_str().unwrap().contains("not a JSON-RPC message"), "{logged}");
    client.notify("selfHarness/unknownNotification", json!([1, 2])).await;
    client.notify("workspace/didChangeConfiguration", json!({"settings": {"selfHarness": {"repeats": "many"}}})).await;
    let message = client.wait_for("window/showMessage", Duration::from_secs(10), |_| true).await;
    assert!(message["params"]["message"].as_str().unwrap().contains("repeats"), "{message}");

    // Still serving, with the text it should have.
    let hover = client
        .request("textDocument/hover", json!({"textDocument": {"uri": uri}, "position": {"line": 0, "character": 1}}))
        .await
        .unwrap();
    assert!(hover["contents"]["value"].as_str().unwrap().contains("`name`"), "{hover}");
    client.shutdown().await;
}
