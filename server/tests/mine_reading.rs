//! The model's reading of failed traces: the mechanisms it names in its own words are
//! clustered by what they say, each cluster becomes a weakness on the surface its readings
//! name, and nothing is thrown away as "other" — with a scripted model that words the same
//! mechanism two ways, and with the real local model on the same traces.

mod common;
mod support;

use std::path::PathBuf;

use self_harness::llm::Client;
use self_harness::stages::mine::{read_failures, Weakness};
use self_harness::trace::{CommandRecord, EpisodeErrorKind, Header, Outcome, Trace, Turn, SCHEMA_VERSION};
use self_harness::verify::{TestResult, TestStatus};
use serde_json::{json, Value};
use support::{Reply, ScriptedModel};

/// A failed episode of `task`: its commands (text, exit code, output), the last said done.
fn failed(task: &str, commands: &[(&str, i64, &str)], failing_test: &str) -> (PathBuf, Trace) {
    let turns: Vec<Turn> = commands
        .iter()
        .enumerate()
        .map(|(i, (text, exit, output))| Turn {
            index: i as u32,
            command: Some(CommandRecord {
                text: text.to_string(),
                exit_code: Some(*exit),
                timed_out: false,
                output_shown: output.to_string(),
                output_bytes: output.len() as u64,
                duration_ms: 10.0,
            }),
            done: i + 1 == commands.len(),
            ..Turn::default()
        })
        .collect();
    let trace = Trace {
        header: Header {
            schema: SCHEMA_VERSION,
            task: task.into(),
            harness: "minimal".into(),
            harness_version: "v0".into(),
            model: "m".into(),
            seed: 0,
            attempt: 0,
            started_at: "2026-12-02T00:00:00Z".into(),
        },
        outcome: Some(Outcome {
            reward: Some(0.0),
            passed: false,
            tests: vec![TestResult { name: failing_test.into(), status: TestStatus::Failed }],
            judgement: None,
            error_class: EpisodeErrorKind::None,
            error_detail: None,
            turns: turns.len() as u32,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            duration_ms: 1000,
            verify_ms: None,
            limits: None,
            finished_at: "2026-12-02T00:01:00Z".into(),
        }),
        turns,
        torn_tail: false,
    };
    (PathBuf::from(format!("/runs/{task}/trace.jsonl")), trace)
}

fn traces() -> Vec<(PathBuf, Trace)> {
    let missing = "Makefile:2: *** missing separator.  Stop.";
    vec![
        failed("fix-makefile-build", &[("make", 2, missing), ("make", 2, missing), ("make", 2, missing)], "test_build"),
        failed("build-tool", &[("make all", 2, missing), ("make all", 2, missing)], "test_binary_exists"),
        failed(
            "count-lines",
            &[("wc -l /app/data.txt > /app/count.txt", 0, "")],
            "test_count_file_contains_only_a_number",
        ),
        failed("edit-notes", &[("vim /app/notes.txt", 1, "Vim: Warning: Output is not to a terminal")], "test_notes"),
    ]
}

fn scripted(request: &Value) -> Reply {
    let prompt = request["messages"][0]["content"].as_str().unwrap_or_default();
    let (mechanism, surface) = if prompt.contains("$ make all") {
        ("repeated failing command", "policy.warn_repeated_failures")
    } else if prompt.contains("$ make") {
        ("Repeats failing commands", "prompts.system")
    } else if prompt.contains("wc -l") {
        ("writes the file name next to the answer", "hooks.before_completion")
    } else {
        ("Opens vim without a terminal", "no.such.surface")
    };
    Reply::json(&json!({"terminal_cause": "c", "criticality": "high", "mechanism": mechanism,
                        "surface": surface, "turns": [0]}))
}

#[tokio::test]
async fn mechanisms_in_the_models_words_are_clustered_and_none_is_thrown_away() {
    let model = ScriptedModel::responding(scripted).await;
    let client = Client::new(model.config()).unwrap();
    let found = read_failures(&client, &traces(), &[], 1).await;
    let summary: Vec<(&str, &str, u32)> =
        found.iter().map(|w| (w.id.as_str(), w.surface.as_str(), w.counts.failed_with)).collect();
    assert_eq!(
        summary,
        [
            ("model-repeats-failing-commands", "prompts.system", 2),
            ("model-writes-the-file-name-next-to-the-answer", "hooks.before_completion", 1),
            ("model-opens-vim-without-a-terminal", "prompts.system", 1),
        ],
        "the same mechanism in two wordings is one weakness; an unknown surface falls back to the system prompt"
    );
    assert_eq!(found[0].title, "Repeats failing commands");
    assert_eq!(found[0].tasks, ["build-tool", "fix-makefile-build"]);
    let surfaces =
        model.requests()[0].json()["response_format"]["json_schema"]["schema"]["properties"]["surface"]["enum"].clone();
    assert!(surfaces.as_array().unwrap().contains(&json!("policy.warn_repeated_failures")), "every policy key");
}

#[tokio::test]
async fn the_real_local_model_names_the_failures_in_its_own_words() {
    let Some(config) = common::real_model(std::time::Duration::from_secs(600)).await else { return };
    let found: Vec<Weakness> = read_failures(&Client::new(config).unwrap(), &traces(), &[], 1).await;
    for w in &found {
        eprintln!("{} ({}, {}): {}", w.id, w.surface, w.support, w.title);
    }
    let read: u32 = found.iter().map(|w| w.counts.failed_with).sum();
    assert!(read >= 3, "the failed traces read and kept (4, or 3 when a name says nothing): {found:?}");
    assert!(found.iter().all(|w| w.id.starts_with("model-") && w.id.len() > "model-".len()), "{found:?}");
}
