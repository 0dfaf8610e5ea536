//! Proposal rounds against a scripted model — what a weak model's unusable edits become and
//! the simple ask that follows them, a reasoning model's reply, a misquoted search text, the
//! remedy catalog — and against the real local model: a real weakness becomes at least one
//! candidate that loads.

mod common;
mod support;

use std::path::Path;

use self_harness::harness::Harness;
use self_harness::llm::Client;
use self_harness::stages::mine::Weakness;
use self_harness::stages::propose::{round, Budget, Proposer, RoundSpec};
use serde_json::{json, Value};
use support::{Reply, ScriptedModel};

fn weakness() -> Weakness {
    serde_json::from_value(json!({
        "id": "no-verification", "title": "Declares done without checking",
        "description": "The agent declared the task done without checking its work.",
        "criticality": "high", "support": "4 of 4 failed traces", "surface": "prompts.system",
        "evidence": [{"trace": "/t/trace.jsonl", "turn": 0, "detail": "wc -l /app/data.txt (done in the same reply)"}],
        "tasks": ["count-lines"]
    }))
    .unwrap()
}

const RULE: &str = "Before you say done, run a command that shows the result of your work.";

/// What the 0.5B model does with the full format: echoes its field names, copies examples.
fn weak_model(request: &Value) -> Reply {
    match request["response_format"]["json_schema"]["name"].as_str() {
        Some("proposals") => {
            let example = request["messages"][0]["content"].as_str().unwrap_or_default();
            let copied = example.contains("Never open an editor or a pager");
            let edit = |replace: &str| {
                json!({"file": "system.md", "search": "search", "replace": replace,
                "rationale": "r", "expected_fixes": [], "might_break": []})
            };
            Reply::json(&json!({"proposals": [
                edit("replace"),
                edit(if copied { "Never open an editor or a pager such as vim, nano or less: write files with printf or a heredoc and read them with cat." } else { "replace" })
            ], "decline": null}))
        }
        Some("instructions") => Reply::json(&json!({"instructions": [RULE, "replace"]})),
        _ => Reply::text("OK"),
    }
}

#[tokio::test]
async fn unusable_edits_are_discarded_with_reasons_and_the_simple_ask_gives_a_proposal() {
    let model = ScriptedModel::responding(weak_model).await;
    let client = Client::new(model.config()).unwrap();
    let harness = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let weakness = weakness();
    let spec = RoundSpec {
        harness: &harness,
        weakness: &weakness,
        candidates: 2,
        proposer: Proposer::Model,
        tasks: &["count-lines".to_string()],
        seed: 1,
        budget: Budget::default(),
        candidates_dir: dir.path(),
        id_prefix: "1-no-verification".into(),
        iteration: 1,
    };
    let out = round(&client, &spec, &[]).await;

    let reasons: Vec<(&str, &str)> = out.discarded.iter().map(|(id, r)| (id.as_str(), r.as_str())).collect();
    assert_eq!(reasons[0].0, "1-no-verification-1");
    assert!(reasons[0].1.contains("too short"), "an echoed field name: {reasons:?}");
    assert_eq!(reasons[1], ("1-no-verification-2", "copies an example of the prompt instead of proposing"));
    assert_eq!(reasons[2].0, "1-no-verification-4", "the simple ask's own echo: {reasons:?}");
    assert_eq!(out.proposals.len(), 1, "{out:?}");
    let proposal = &out.proposals[0];
    assert_eq!((proposal.id.as_str(), proposal.edit.file.as_str()), ("1-no-verification-3", "system.md"));
    assert!(proposal.diff.contains(&format!("+{RULE}")), "{}", proposal.diff);
    assert_eq!(model.requests().len(), 2, "the full ask, then the simple one");
}

/// A round for the weakness above against the minimal harness, with `proposer`.
async fn round_of(client: &Client, proposer: Proposer) -> self_harness::stages::propose::Round {
    let harness = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let weakness = weakness();
    let spec = RoundSpec {
        harness: &harness,
        weakness: &weakness,
        candidates: 2,
        proposer,
        tasks: &["count-lines".to_string()],
        seed: 1,
        budget: Budget::default(),
        candidates_dir: dir.path(),
        id_prefix: "no-verification".into(),
        iteration: 0,
    };
    let out = round(client, &spec, &[]).await;
    // The candidate folders go with the temporary folder: load them while it stands.
    for proposal in &out.proposals {
        let loaded = Harness::load(&proposal.dir).unwrap_or_else(|d| panic!("{}: {d:?}", proposal.id));
        assert_eq!(loaded.version(), proposal.version);
        assert_ne!(loaded.version(), harness.version());
    }
    out
}

/// The same with the scripted model, and how many requests it got.
async fn round_with(model: &ScriptedModel, proposer: Proposer) -> (self_harness::stages::propose::Round, usize) {
    let out = round_of(&Client::new(model.config()).unwrap(), proposer).await;
    (out, model.requests().len())
}

#[tokio::test]
async fn a_reasoning_models_edit_is_read_past_its_thinking_and_a_misquoted_one_is_discarded() {
    let model = ScriptedModel::responding(|_| {
        let edits = json!({"proposals": [
            {"file": "system.md", "search": "", "replace": RULE, "rationale": "r", "expected_fixes": [], "might_break": []},
            {"file": "system.md", "search": "a sentence that is not in the prompt", "replace": "Something else entirely.",
             "rationale": "r", "expected_fixes": [], "might_break": []}
        ], "decline": null});
        Reply::text(format!("<think>The agent says done too early; add a rule.</think>\n{edits}"))
    })
    .await;
    let (out, asked) = round_with(&model, Proposer::Model).await;
    assert_eq!(asked, 1);
    assert_eq!(out.proposals.len(), 1, "{out:?}");
    assert!(out.proposals[0].diff.contains(&format!("+{RULE}")));
    assert_eq!(out.discarded.len(), 1, "{out:?}");
    assert!(out.discarded[0].1.contains("is not in system.md"), "never appended: {:?}", out.discarded);
}

#[tokio::test]
async fn a_created_hook_is_loaded_when_it_parses_and_discarded_when_it_does_not() {
    let hook = |script: &str| {
        json!({"file": "harness.toml", "search": "completion = \"declare\"",
               "replace": "completion = \"declare_after_check\"",
               "more": [{"file": "harness.toml", "search": "", "replace": "[hooks.before_completion]\nfile = \"hooks/check.sh\""},
                        {"file": "hooks/check.sh", "search": "", "replace": script}],
               "rationale": "r", "expected_fixes": ["count-lines"], "might_break": []})
    };
    let model = ScriptedModel::responding(move |_| {
        Reply::json(&json!({"proposals": [
            hook("#!/bin/bash\ngrep -qx '[0-9]*' /app/count.txt || { echo 'count.txt must hold digits only'; exit 1; }"),
            hook("#!/bin/bash\nif grep -q x /app/count.txt; then echo x\n"),
        ], "decline": null}))
    })
    .await;
    let (out, _) = round_with(&model, Proposer::Model).await;
    assert_eq!(out.proposals.len(), 1, "{out:?}");
    assert_eq!(out.proposals[0].edit.files(), "harness.toml, harness.toml, hooks/check.sh");
    assert!(out.proposals[0].diff.contains("+grep -qx"), "{}", out.proposals[0].diff);
    let reason = &out.discarded[0].1;
    assert!(reason.starts_with("a script does not pass its syntax check: hooks/check.sh: "), "{reason}");
}

#[tokio::test]
async fn the_catalog_proposes_known_remedies_beside_the_models_edits_or_alone() {
    let model = ScriptedModel::responding(weak_model).await;
    let (alone, asked) = round_with(&model, Proposer::Catalog).await;
    assert_eq!(asked, 0, "the catalog alone asks no model");
    assert!(alone.proposals.len() >= 2, "{alone:?}");
    assert!(alone.proposals.iter().all(|p| p.source == Proposer::Catalog));
    // AcceptanceRule remedies: one key each in harness.toml.
    let policy = |key: &str| {
        let wanted = format!("+{key}");
        alone
            .proposals
            .iter()
            .find(move |p| p.edit.file == "harness.toml" && p.edit.more.is_empty() && p.diff.contains(&wanted))
    };
    assert!(policy("completion = \"confirm\"").is_some(), "{alone:?}");
    assert!(policy("refuse_done_after_failure = true").is_some(), "{alone:?}");
    // Created hooks: each with its manifest table.
    for script in ["hooks/show-changes.sh", "hooks/survey.sh"] {
        let created = format!("+++ b/{script}");
        let hook = alone.proposals.iter().find(|p| p.diff.contains(&created)).unwrap_or_else(|| panic!("{alone:?}"));
        assert!(hook.diff.contains("+++ b/harness.toml"), "{}", hook.diff);
    }

    let model = ScriptedModel::responding(weak_model).await;
    let (both, _) = round_with(&model, Proposer::ModelAndCatalog).await;
    let sources: Vec<Proposer> = both.proposals.iter().map(|p| p.source).collect();
    assert!(sources.contains(&Proposer::Model) && sources.contains(&Proposer::Catalog), "{sources:?}");
}

#[tokio::test]
async fn the_real_local_model_turns_a_weakness_into_a_loadable_candidate() {
    let Some(config) = common::real_model(std::time::Duration::from_secs(600)).await else { return };
    let out = round_of(&Client::new(config).unwrap(), Proposer::Model).await;
    eprintln!("real proposer: {} proposal(s), discarded {:?}", out.proposals.len(), out.discarded);
    assert_eq!(out.error, None);
    assert!(!out.proposals.is_empty(), "no usable candidate (each one loaded is checked): {out:?}");
}
