//! One proposal round against a scripted model: what a weak model's unusable edits become,
//! and the simple ask that follows them.

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
