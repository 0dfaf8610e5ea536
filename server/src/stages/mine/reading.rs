//! The model reads failed traces: the part of mining that needs judgement.
//!
//! Each failed trace is condensed to fit a small context (the instruction,
//! then per turn the command, its exit code and the start of its output, then the tests
//! that failed) and the model returns a structured *signature*: the terminal cause, its
//! criticality, a mechanism from a fixed list, and the turns that show it; the root cause
//! is the first failure it never recovered from. Signatures are clustered by mechanism.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::json;

use super::{Evidence, Support, Weakness};
use crate::llm::{ChatRequest, Client, Message};
use crate::task::Task;
use crate::trace::Trace;

/// Mechanisms the model chooses from; a fixed list makes clustering exact.
const MECHANISMS: &[(&str, &str, &str)] = &[
    ("declared-done-too-early", "Declares the task done before the work is finished or checked", "prompts.system"),
    ("wrong-output-format", "Produces output in a different format than asked", "prompts.system"),
    ("interactive-program", "Starts an interactive program that cannot be used without a terminal", "prompts.system"),
    ("misread-task", "Misreads what the task asks for", "prompts.instruction"),
    ("command-errors", "Keeps running commands that fail without fixing the cause", "prompts.system"),
    ("ran-out-of-turns", "Runs out of turns or time while still exploring", "policy.max_turns"),
    ("malformed-replies", "Replies that are not valid actions", "prompts.system"),
    ("other", "Another failure", "prompts.system"),
];

/// One failed trace as the model read it.
struct Reading {
    task: String,
    cause: String,
    trace: PathBuf,
    turns: Vec<u32>,
    criticality: String,
}

#[derive(Deserialize)]
struct Signature {
    terminal_cause: String,
    criticality: String,
    mechanism: String,
    #[serde(default)]
    turns: Vec<u32>,
}

/// The model's reading of the failed traces among `traces`, clustered by mechanism into
/// weaknesses (not yet located in the harness).
pub(super) async fn weaknesses(
    client: &Client,
    traces: &[(PathBuf, Trace)],
    tasks: &[Task],
    seed: u64,
) -> Vec<Weakness> {
    let failed: Vec<&(PathBuf, Trace)> = traces
        .iter()
        .filter(|(_, t)| t.outcome.as_ref().is_some_and(|o| o.error_class.counts() && !o.passed))
        .collect();
    let mut clusters: BTreeMap<String, Vec<Reading>> = BTreeMap::new();
    for (i, (path, trace)) in failed.iter().enumerate() {
        let instruction = tasks.iter().find(|t| t.name == trace.header.task).map_or("", |t| t.instruction.as_str());
        match signature(client, &condense(trace, instruction), seed + i as u64).await {
            Ok(s) => {
                let mechanism =
                    if MECHANISMS.iter().any(|(m, _, _)| *m == s.mechanism) { s.mechanism } else { "other".into() };
                clusters.entry(mechanism).or_default().push(Reading {
                    task: trace.header.task.clone(),
                    cause: s.terminal_cause,
                    trace: path.clone(),
                    turns: s.turns,
                    criticality: s.criticality,
                });
            }
            Err(e) => tracing::warn!("the model could not read {}: {e}", path.display()),
        }
    }
    clusters
        .into_iter()
        .filter(|(mechanism, _)| mechanism != "other")
        .map(|(mechanism, members)| {
            let (_, title, surface) = MECHANISMS.iter().find(|(m, _, _)| *m == mechanism).copied().unwrap_or((
                "other",
                "Another failure",
                "prompts.system",
            ));
            let mut tasks: Vec<String> = members.iter().map(|m| m.task.clone()).collect();
            tasks.sort();
            tasks.dedup();
            let high = members.iter().filter(|m| m.criticality == "high").count();
            Weakness {
                id: format!("model-{mechanism}"),
                title: title.to_string(),
                description: members.iter().map(|m| format!("- {}", m.cause)).take(5).collect::<Vec<_>>().join("\n"),
                criticality: if high * 2 >= members.len() { "high" } else { "medium" }.into(),
                support: format!("{} of {} failed traces (the model's reading)", members.len(), failed.len()),
                counts: Support {
                    failed_with: members.len() as u32,
                    failed_total: failed.len() as u32,
                    ..Support::default()
                },
                surface: surface.to_string(),
                location: None,
                evidence: members
                    .iter()
                    .map(|m| Evidence {
                        trace: m.trace.clone(),
                        turn: m.turns.first().copied(),
                        detail: m.cause.clone(),
                    })
                    .collect(),
                tasks,
                keep_passing: Vec::new(),
                harness: None,
            }
        })
        .collect()
}

/// A failed trace in a few thousand characters: the task (when its instruction is known),
/// then per turn the command, its exit code and the start of its output, then the tests
/// that failed. What the model reads here, and what the proposer is shown.
pub fn condense(trace: &Trace, instruction: &str) -> String {
    let cut = |s: &str, n: usize| -> String { s.chars().take(n).collect() };
    let mut text = match instruction.trim() {
        "" => format!("Task {}\n\nTurns:\n", trace.header.task),
        known => format!("Task: {}\n\nTurns:\n", cut(known, 600)),
    };
    for turn in &trace.turns {
        if let Some(error) = &turn.parse_error {
            text.push_str(&format!("{}: unparseable reply ({})\n", turn.index, cut(error, 80)));
        }
        if let Some(c) = &turn.command {
            let status = c.exit_code.map_or("stopped at timeout".to_string(), |e| format!("exit {e}"));
            text.push_str(&format!(
                "{}: $ {} → {status}: {}\n",
                turn.index,
                cut(&c.text, 200),
                cut(c.output_shown.trim(), 160).replace('\n', " | ")
            ));
        }
        if turn.done {
            text.push_str(&format!("{}: declared done\n", turn.index));
        }
        if text.len() > 3500 {
            text.push_str("…\n");
            break;
        }
    }
    if let Some(outcome) = &trace.outcome {
        let failed: Vec<&str> = outcome
            .tests
            .iter()
            .filter(|t| t.status != crate::verify::TestStatus::Passed)
            .map(|t| t.name.as_str())
            .collect();
        text.push_str(&format!(
            "\nOutcome: failed ({:?}); failing tests: {}\n",
            outcome.error_class,
            failed.join(", ")
        ));
    }
    text
}

async fn signature(client: &Client, condensed: &str, seed: u64) -> Result<Signature, String> {
    let mechanisms: Vec<&str> = MECHANISMS.iter().map(|(m, _, _)| *m).collect();
    let schema = json!({
        "type": "object",
        "properties": {
            "terminal_cause": {"type": "string", "maxLength": 200},
            "criticality": {"type": "string", "enum": ["high", "medium", "low"]},
            "mechanism": {"type": "string", "enum": mechanisms},
            "turns": {"type": "array", "items": {"type": "integer"}, "maxItems": 5}
        },
        "required": ["terminal_cause", "criticality", "mechanism", "turns"],
        "additionalProperties": false
    });
    let prompt = format!(
        "An agent failed this task in a Linux container. Read its episode and name the root cause: \
         the first failure it never recovered from.\n\n{condensed}\n\
         Reply with the terminal cause (one sentence), its criticality, the mechanism, and the turns that show it."
    );
    let request = ChatRequest::new(vec![Message::user(prompt)])
        .json_schema("signature", schema)
        .temperature(0.0)
        .seed(seed)
        .max_tokens(300);
    let response = client.chat(&request).await.map_err(|e| e.to_string())?;
    serde_json::from_str(response.content.trim()).map_err(|e| e.to_string())
}
