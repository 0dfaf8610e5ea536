//! The model proposes edits for a weakness, as structured output.

use serde::Deserialize;
use serde_json::json;

use super::RawEdit;
use crate::harness::Harness;
use crate::llm::{ChatRequest, Client, LlmError, Message};
use crate::stages::mine::Weakness;

/// The model could not propose.
#[derive(Debug, thiserror::Error)]
pub enum ProposeError {
    #[error(transparent)]
    Model(#[from] LlmError),
    #[error("the model's proposals are not valid JSON of the requested shape: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct Reply {
    proposals: Vec<RawEdit>,
    #[serde(default)]
    decline: Option<String>,
}

/// Asks the model for up to `k` diverse, minimal edits addressing `weakness`. Returns the
/// edits and, when it declined, why.
pub async fn propose_with_model(
    client: &Client,
    harness: &Harness,
    weakness: &Weakness,
    k: usize,
    tasks: &[String],
    seed: u64,
) -> Result<(Vec<RawEdit>, Option<String>), ProposeError> {
    let files = editable_files(harness);
    let prompt = prompt(harness, &files, weakness, k, tasks);
    let task_list = json!({"type": "array", "items": {"type": "string", "enum": tasks}, "maxItems": 6});
    let schema = json!({
        "type": "object",
        "properties": {
            "proposals": {
                "type": "array",
                "maxItems": k,
                "items": {
                    "type": "object",
                    "properties": {
                        "file": {"type": "string", "enum": files},
                        "search": {"type": "string", "maxLength": 300},
                        "replace": {"type": "string", "maxLength": 600},
                        "more": {
                            "type": "array",
                            "maxItems": 2,
                            "items": {
                                "type": "object",
                                "properties": {
                                    "file": {"type": "string", "maxLength": 100},
                                    "search": {"type": "string", "maxLength": 300},
                                    "replace": {"type": "string", "maxLength": 1200}
                                },
                                "required": ["file", "search", "replace"],
                                "additionalProperties": false
                            }
                        },
                        "rationale": {"type": "string", "maxLength": 300},
                        "expected_fixes": task_list,
                        "might_break": task_list
                    },
                    "required": ["file", "search", "replace", "more", "rationale", "expected_fixes", "might_break"],
                    "additionalProperties": false
                }
            },
            "decline": {"type": ["string", "null"], "maxLength": 200}
        },
        "required": ["proposals", "decline"],
        "additionalProperties": false
    });
    // Room for whole edits, and for the thinking of a reasoning model before them.
    let reply: Reply = ask(client, prompt, "proposals", schema, seed, 4096).await?;
    Ok((reply.proposals, reply.decline.filter(|d| !d.trim().is_empty())))
}

/// One structured-output request, its reply parsed as `T`.
async fn ask<T: serde::de::DeserializeOwned>(
    client: &Client,
    prompt: String,
    name: &str,
    schema: serde_json::Value,
    seed: u64,
    max_tokens: u32,
) -> Result<T, ProposeError> {
    let request = ChatRequest::new(vec![Message::user(prompt)])
        .json_schema(name, schema)
        .temperature(0.7)
        .seed(seed)
        .max_tokens(max_tokens);
    let response = client.chat(&request).await?;
    serde_json::from_str(response.content.trim()).map_err(|e| ProposeError::Invalid(e.to_string()))
}

/// The simple ask, for models that cannot produce a usable edit in the full format (small
/// models echo its field names or copy its examples): one-sentence instructions against
/// the weakness, each appended to the prompt file its surface points at.
pub async fn propose_rules_with_model(
    client: &Client,
    harness: &Harness,
    weakness: &Weakness,
    k: usize,
    seed: u64,
) -> Result<Vec<RawEdit>, ProposeError> {
    let evidence: Vec<String> = weakness.evidence.iter().take(3).map(|e| format!("- {}", e.detail)).collect();
    let prompt = format!(
        "A terminal agent keeps making this mistake: {title}.\n{description}\nWhat it did in failed episodes:\n{evidence}\n\n\
         Write {k} different short instructions (one sentence each) to add to the agent's system prompt so \
         that it stops making this mistake. Address the agent as \"you\".",
        title = weakness.title,
        description = weakness.description,
        evidence = evidence.join("\n"),
    );
    let schema = json!({
        "type": "object",
        "properties": {
            "instructions": {"type": "array", "minItems": 1, "maxItems": k, "items": {"type": "string", "maxLength": 240}}
        },
        "required": ["instructions"],
        "additionalProperties": false
    });
    #[derive(Deserialize)]
    struct Instructions {
        instructions: Vec<String>,
    }
    let reply: Instructions = ask(client, prompt, "instructions", schema, seed, 600).await?;
    let file = if weakness.surface == "prompts.instruction" {
        harness.manifest().prompts.instruction.clone()
    } else {
        harness.manifest().prompts.system.clone()
    };
    Ok(reply
        .instructions
        .into_iter()
        .map(|text| RawEdit {
            file: file.clone(),
            search: String::new(),
            replace: text.trim().to_string(),
            more: Vec::new(),
            rationale: format!("an instruction against \"{}\" (asked for as one sentence)", weakness.title),
            expected_fixes: Vec::new(),
            might_break: Vec::new(),
        })
        .collect())
}

/// A worked edit shown in the prompt. Small models copy whatever example they are shown,
/// so the examples come from other weaknesses than the one asked about, and an edit that
/// copies one is recognised ([`copies_example`]) and discarded rather than validated.
struct Example {
    weakness: &'static str,
    weakness_title: &'static str,
    file: &'static str,
    search: &'static str,
    replace: &'static str,
}

const EXAMPLES: &[Example] = &[
    Example {
        weakness: "interactive-program",
        weakness_title: "Opens interactive programs",
        file: "system.md",
        search: "",
        replace: "Never open an editor or a pager such as vim, nano or less: write files with printf or a heredoc and read them with cat.",
    },
    Example {
        weakness: "ran-out-of-turns",
        weakness_title: "Runs out of turns while still exploring",
        file: "harness.toml",
        search: "max_turns = 30",
        replace: "max_turns = 40",
    },
    Example {
        weakness: "repeated-command",
        weakness_title: "Repeats the same command",
        file: "system.md",
        search: "",
        replace: "When a command gives the same result twice, do not run it a third time: change the approach.",
    },
];

/// Two examples, neither for `weakness` itself.
fn examples_for(weakness: &Weakness) -> impl Iterator<Item = &'static Example> + '_ {
    let mechanism = weakness.id.trim_start_matches("model-");
    EXAMPLES.iter().filter(move |e| e.weakness != mechanism).take(2)
}

/// Whether an edit copies one of the examples the prompt for `weakness` showed (wherever
/// the copy was put).
pub fn copies_example(weakness: &Weakness, edit: &RawEdit) -> bool {
    let words = |text: &str| text.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    examples_for(weakness).any(|e| words(&edit.replace).contains(&words(e.replace)))
}

/// The files a proposal may edit: the prompt templates (system, instruction, observation,
/// format error), the notes and the manifest.
fn editable_files(harness: &Harness) -> Vec<String> {
    let mut files: Vec<String> =
        harness.manifest().prompts.templates().into_iter().map(|(_, file)| file.to_string()).collect();
    files.extend(harness.notes().iter().map(|n| n.file.clone()));
    files.push(crate::harness::MANIFEST_FILE.to_string());
    files.dedup();
    files
}

/// What the model is asked: the weakness with its evidence, the files as they are, the
/// policy keys it may change, and the edit format by example.
fn prompt(harness: &Harness, files: &[String], weakness: &Weakness, k: usize, tasks: &[String]) -> String {
    let mut shown = String::new();
    for file in files {
        let text = std::fs::read_to_string(harness.dir().join(file)).unwrap_or_default();
        shown.push_str(&format!("--- {file} ---\n{text}\n"));
    }
    let evidence = weakness.evidence.iter().take(3).map(|e| format!("- {e}")).collect::<Vec<_>>().join("\n");
    // What a harness engineer would look at: one failing episode itself, condensed.
    let episode = weakness
        .evidence
        .iter()
        .find_map(|e| crate::trace::read(&e.trace).ok())
        .map(|trace| format!("One of the failed episodes, condensed:\n{}\n", crate::stages::mine::condense(&trace, "")))
        .unwrap_or_default();
    // Every key of the manifest is an edit too; the model cannot know them from the file.
    let policy_keys = crate::harness::key_docs()
        .iter()
        .filter(|d| !d.kind.starts_with("table"))
        .map(|d| {
            let text = d.description.replace('\n', " ");
            let first_sentence = text.split_inclusive(". ").next().unwrap_or_default().trim_end();
            format!("- {} ({}): {first_sentence}", d.path, d.kind)
        })
        .collect::<Vec<_>>()
        .join("\n");
    format!(
        "You improve the harness of a terminal agent: the files below define its prompts and policy.\n\
         A weakness was found in its failed episodes.\n\n\
         Weakness: {title}\n{description}\nSupport: {support}\nEvidence:\n{evidence}\n{keep}\n{episode}\
         Harness files:\n{shown}\n\
         Keys of harness.toml (dotted: `policy.max_turns` is `max_turns` in the [policy] table):\n{policy_keys}\n\n\
         Propose up to {k} different, minimal edits that would fix this weakness for this agent. An \
         edit replaces `search` (exact text that occurs once in the file) by `replace`; an empty \
         `search` appends `replace` to the end of the file. Keep each edit short and concrete: write \
         the actual new text, not a placeholder. Leave `more` empty, unless the edit needs a new \
         file: a hook (hooks/NAME.sh, a bash script the runner executes before done counts, with \
         `completion = \"declare_after_check\"` and a `[hooks.before_completion]` table whose `file` \
         names it; or after each command, named by `[hooks.after_command]`, with COMMAND and \
         EXIT_CODE set, its output shown to the agent; or once before the first turn, named by \
         `[hooks.on_start]`, with WORKDIR set, its output shown after the instruction), a tool (tools/NAME, a script with a #! line, listed under `[[tools]]`) or a note \
         (notes/NAME.md, listed under `[[notes]]`). Then `more` holds the other files of the same \
         change, as {{\"file\", \"search\": \"\", \"replace\": the whole text}} for a new file.\n\
         Examples for OTHER weaknesses (do not copy them; write edits for the weakness above):\n{examples}\n\
         List the tasks you expect it to fix and those it might \
         break (from: {tasks}). If no edit to these files can help, set `decline` to the reason.",
        examples = examples_for(weakness)
            .map(|e| format!(
                "- {}: {{\"file\": {:?}, \"search\": {:?}, \"replace\": {:?}, ...}}",
                e.weakness_title, e.file, e.search, e.replace
            ))
            .collect::<Vec<_>>()
            .join("\n"),
        keep = if weakness.keep_passing.is_empty() {
            String::new()
        } else {
            format!("Tasks that pass now and must keep passing: {}\n", weakness.keep_passing.join(", "))
        },
        title = weakness.title,
        description = weakness.description,
        support = weakness.support,
        tasks = tasks.join(", "),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prompt_shows_the_files_and_the_policy_knobs() {
        let harness =
            Harness::load(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let weakness: Weakness = serde_json::from_value(json!({
            "id": "no-verification", "title": "Declares done without checking", "description": "d",
            "criticality": "high", "support": "3 of 4 failed traces", "surface": "prompts.system",
            "evidence": [], "tasks": []
        }))
        .unwrap();
        let files = editable_files(&harness);
        assert_eq!(files, ["system.md", "instruction.md", "observation.md", "format_error.md", "harness.toml"]);
        let text = prompt(&harness, &files, &weakness, 3, &["count-lines".into()]);
        assert!(text.contains("--- harness.toml ---") && text.contains("completion = \"declare\""), "{text}");
        let knob = text.lines().find(|l| l.starts_with("- policy.completion")).expect("the completion rule is offered");
        assert!(text.contains("- Opens interactive programs: {\"file\": \"system.md\""), "{text}");
        assert!(knob.contains("confirm") && knob.contains("declare_after_check"), "{knob}");
        assert!(text.contains("- policy.output.head_bytes") && text.contains("- prompts.system"), "every key");

        // The examples are never the weakness's own, and a copied example is recognised.
        let vim: Weakness = serde_json::from_value(json!({
            "id": "model-interactive-program", "title": "t", "description": "d", "criticality": "high",
            "support": "s", "surface": "prompts.system", "evidence": [], "tasks": []
        }))
        .unwrap();
        assert!(examples_for(&vim).all(|e| e.weakness != "interactive-program"));
        assert_eq!(examples_for(&vim).count(), 2);
        let copied = crate::stages::propose::edit::tests::edit;
        let shown: Vec<&str> = examples_for(&weakness).map(|e| e.replace).collect();
        let loud = shown[0].to_uppercase().replace(' ', "  ");
        assert!(copies_example(&weakness, &copied("search", &loud)), "a copy, shouted, appended");
        assert!(copies_example(&weakness, &copied("x", &format!("search = '{}'", shown[1]))), "a copy inside");
        assert!(!copies_example(&weakness, &copied("", "Check the result with cat before you say done.")));
        let turns: Weakness = serde_json::from_value(json!({
            "id": "ran-out-of-turns", "title": "t", "description": "d", "criticality": "high",
            "support": "s", "surface": "policy.max_turns", "evidence": [], "tasks": []
        }))
        .unwrap();
        assert!(!copies_example(&turns, &copied("max_turns = 30", "max_turns = 40")), "not shown for its own weakness");
    }
}
