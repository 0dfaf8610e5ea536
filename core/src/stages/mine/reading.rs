//! The model reads failed traces: the part of mining that needs judgement.
//!
//! Each failed trace is condensed to fit a small context (the instruction, then per turn the
//! command, its exit code and the start of its output, then the tests that failed) and the
//! model returns a structured *signature* in its own words: the terminal cause, its
//! criticality, the mechanism (a short name it chooses), the harness surface a fix would
//! edit (one of the harness's keys) and the turns that show it; the root cause is the first
//! failure it never recovered from. The prompt names a few known mechanisms for the model to
//! reuse (small models echo instructions when asked for a name from nothing), but any name
//! is taken: signatures are clustered by the content words of their mechanism names, so no
//! fixed list decides what a failure may be, and none is thrown away.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::json;

use super::{Evidence, Support, Weakness};
use crate::llm::{ChatRequest, Client, Message};
use crate::task::Task;
use crate::trace::Trace;

/// One failed trace as the model read it.
struct Reading {
    task: String,
    mechanism: String,
    surface: String,
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
    #[serde(default = "system_prompt")]
    surface: String,
    #[serde(default)]
    turns: Vec<u32>,
}

fn system_prompt() -> String {
    "prompts.system".into()
}

/// The surfaces a weakness can name: the prompts, notes, tools, the completion hook and
/// every policy key.
fn surfaces() -> Vec<String> {
    let fixed = ["prompts.system", "prompts.instruction", "notes", "tools", "hooks.before_completion"];
    let policy = crate::harness::key_docs()
        .iter()
        .filter(|d| d.path.starts_with("policy.") && !d.kind.starts_with("table"))
        .map(|d| d.path.clone());
    fixed.into_iter().map(String::from).chain(policy).collect()
}

/// The model's reading of the failed traces among `traces`, clustered by mechanism into
/// weaknesses (not yet located in the harness), most readings first.
pub async fn read_failures(client: &Client, traces: &[(PathBuf, Trace)], tasks: &[Task], seed: u64) -> Vec<Weakness> {
    let failed: Vec<&(PathBuf, Trace)> = traces
        .iter()
        .filter(|(_, t)| t.outcome.as_ref().is_some_and(|o| o.error_class.counts() && !o.passed))
        .collect();
    let surfaces = surfaces();
    let mut readings = Vec::new();
    for (i, (path, trace)) in failed.iter().enumerate() {
        let instruction = tasks.iter().find(|t| t.name == trace.header.task).map_or("", |t| t.instruction.as_str());
        match signature(client, &condense(trace, instruction), &surfaces, seed + i as u64).await {
            Ok(s) if !content_words(&s.mechanism).is_empty() => readings.push(Reading {
                task: trace.header.task.clone(),
                mechanism: s.mechanism.trim().to_string(),
                surface: if surfaces.contains(&s.surface) { s.surface } else { system_prompt() },
                cause: s.terminal_cause,
                trace: path.clone(),
                turns: s.turns,
                criticality: s.criticality,
            }),
            Ok(s) => tracing::warn!("the model named no mechanism for {}: {:?}", path.display(), s.mechanism),
            Err(e) => tracing::warn!("the model could not read {}: {e}", path.display()),
        }
    }
    let names: Vec<&str> = readings.iter().map(|r| r.mechanism.as_str()).collect();
    let mut clusters = cluster(&names);
    clusters.sort_by_key(|members| std::cmp::Reverse(members.len()));
    clusters
        .into_iter()
        .map(|members| weakness(&members.iter().map(|&i| &readings[i]).collect::<Vec<_>>(), failed.len()))
        .collect()
}

/// One cluster of readings as a weakness, named by its first reading's mechanism.
fn weakness(members: &[&Reading], failed: usize) -> Weakness {
    let name = &members[0].mechanism;
    // Its words, up to about 48 characters (models do not always keep a name short).
    let mut slug = String::new();
    for word in name.to_lowercase().split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()) {
        if !slug.is_empty() && slug.len() + 1 + word.len() > 48 {
            break;
        }
        if !slug.is_empty() {
            slug.push('-');
        }
        slug.push_str(word);
    }
    let mut title: Vec<char> = name.chars().collect();
    if let Some(first) = title.first_mut() {
        *first = first.to_ascii_uppercase();
    }
    // The surface most of its readings name (on a tie the system prompt, else the first named).
    let count = |s: &str| members.iter().filter(|m| m.surface == s).count();
    let surface = members.iter().map(|m| m.surface.as_str()).fold("prompts.system", |best, s| {
        if count(s) > count(best) {
            s
        } else {
            best
        }
    });
    let mut tasks: Vec<String> = members.iter().map(|m| m.task.clone()).collect();
    tasks.sort();
    tasks.dedup();
    let high = members.iter().filter(|m| m.criticality == "high").count();
    Weakness {
        id: format!("model-{slug}"),
        title: title.into_iter().collect(),
        description: members.iter().map(|m| format!("- {}", m.cause)).take(5).collect::<Vec<_>>().join("\n"),
        criticality: if high * 2 >= members.len() { "high" } else { "medium" }.into(),
        support: format!("{} of {failed} failed traces (the model's reading)", members.len()),
        counts: Support { failed_with: members.len() as u32, failed_total: failed as u32, ..Support::default() },
        surface: surface.to_string(),
        location: None,
        evidence: members
            .iter()
            .map(|m| Evidence { trace: m.trace.clone(), turn: m.turns.first().copied(), detail: m.cause.clone() })
            .collect(),
        tasks,
        keep_passing: Vec::new(),
        harness: None,
    }
}

/// Mechanisms small models recognise when they see them named, each with the id of the
/// detector (and catalog remedies) for the same thing; the model may name others.
pub const KNOWN_MECHANISMS: &[(&str, &str)] = &[
    ("no-verification", "declares done before checking the result"),
    ("wrong-output-format", "writes output in a different format than asked"),
    ("interactive-program", "starts an interactive program"),
    ("misread-task", "misreads what the task asks"),
    ("repeated-command", "repeats a failing command"),
    ("ran-out-of-turns", "runs out of turns while exploring"),
    ("unparseable-action", "replies that are not valid actions"),
];

/// Words that say nothing about a mechanism.
const STOP_WORDS: &[&str] = &[
    "a", "an", "the", "and", "or", "of", "to", "in", "into", "on", "for", "with", "without", "before", "after", "it",
    "its", "is", "are", "be", "by", "from", "that", "this", "agent", "task", "model", "not", "no",
];

/// The content words of a mechanism's name, crudely stemmed ("Repeats failing commands"
/// and "repeated failing command" share all of theirs).
fn content_words(name: &str) -> BTreeSet<String> {
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !STOP_WORDS.contains(w))
        .map(|w| {
            let stem = ["ing", "ed", "es", "s"].iter().find_map(|end| w.strip_suffix(end).filter(|s| s.len() >= 3));
            stem.unwrap_or(w).to_string()
        })
        .collect()
}

/// Whether two mechanism names say the same: they share at least half of their content
/// words together (Jaccard ≥ ½).
pub fn same_mechanism(a: &str, b: &str) -> bool {
    let (a, b) = (content_words(a), content_words(b));
    !a.is_empty() && a.intersection(&b).count() * 2 >= a.union(&b).count()
}

/// Groups mechanism names: a name joins the first group whose first name is the
/// [`same_mechanism`], else starts its own. Returns the indices of each group's names, in
/// order of first appearance.
fn cluster(names: &[&str]) -> Vec<Vec<usize>> {
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, name) in names.iter().enumerate() {
        match groups.iter_mut().find(|g| same_mechanism(names[g[0]], name)) {
            Some(group) => group.push(i),
            None => groups.push(vec![i]),
        }
    }
    groups
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

async fn signature(client: &Client, condensed: &str, surfaces: &[String], seed: u64) -> Result<Signature, String> {
    let schema = json!({
        "type": "object",
        "properties": {
            "terminal_cause": {"type": "string", "maxLength": 200},
            "criticality": {"type": "string", "enum": ["high", "medium", "low"]},
            "mechanism": {"type": "string", "minLength": 3, "maxLength": 60},
            "surface": {"type": "string", "enum": surfaces},
            "turns": {"type": "array", "items": {"type": "integer"}, "maxItems": 5}
        },
        "required": ["terminal_cause", "criticality", "mechanism", "surface", "turns"],
        "additionalProperties": false
    });
    let prompt = format!(
        "An agent failed this task in a Linux container. Read its episode and name the root cause: \
         the first failure it never recovered from.\n\n{condensed}\n\
         Reply with the terminal cause (one sentence about this episode), its criticality, the mechanism, \
         the part of the agent's harness a fix would change (its system prompt, the instruction template, \
         notes, tools, the completion hook, or a policy key), and the turns that show it.\n\
         The mechanism is a short name for this kind of mistake, in 2 to 6 words, that fits other tasks too. \
         Use one of these when it fits, or name a new one in the same style:\n{known}",
        known = KNOWN_MECHANISMS.iter().map(|(_, name)| format!("- {name}")).collect::<Vec<_>>().join("\n")
    );
    let request = ChatRequest::new(vec![Message::user(prompt)])
        .json_schema("signature", schema)
        .temperature(0.0)
        .seed(seed)
        .max_tokens(300);
    let response = client.chat(&request).await.map_err(|e| e.to_string())?;
    serde_json::from_str(response.content.trim()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mechanisms_in_the_models_words_are_grouped_by_their_content_words() {
        let names = [
            "Repeats failing commands",
            "writes a label next to the answer",
            "repeated failing command",
            "Opens vim without a terminal",
            "writes the file name next to the answer",
            "Declares done too early",
        ];
        let groups = cluster(&names);
        assert_eq!(groups, [vec![0, 2], vec![1, 4], vec![3], vec![5]]);
        assert!(content_words("the agent is not").is_empty(), "no content");
        assert_eq!(content_words("Writes labels"), content_words("writing label"));
    }

    #[test]
    fn a_long_name_becomes_an_id_of_whole_words() {
        let reading = Reading {
            task: "t".into(),
            mechanism: "the agent attempted to execute a command (jq) that is not installed".into(),
            surface: "notes".into(),
            cause: "c".into(),
            trace: PathBuf::from("/t/trace.jsonl"),
            turns: vec![2],
            criticality: "high".into(),
        };
        let w = weakness(&[&reading], 3);
        assert_eq!(w.id, "model-the-agent-attempted-to-execute-a-command-jq-that");
        assert_eq!(
            (w.title.as_str(), w.surface.as_str()),
            ("The agent attempted to execute a command (jq) that is not installed", "notes")
        );
        assert_eq!(w.support, "1 of 3 failed traces (the model's reading)");
    }
}
