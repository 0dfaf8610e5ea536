//! The agent's action each turn, in the four forms a harness can ask for: a JSON object
//! constrained by a JSON Schema (`action_format = "json"`, sent as `response_format`),
//! native tool calls (`"tool_calls"`), free text with the command in a fenced code block
//! (`"markdown"`, as mini-swe-agent asks), or Terminus-2's JSON of keystroke batches
//! (`"keystrokes"`). The schema, the tool spec and the parsers live together so they
//! cannot drift apart.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{json, Value};

use super::manifest::{MarkdownPolicy, NoBlock, SeveralBlocks};

/// One action: what the model thinks, the shell command to run (if any), and whether it
/// declares the task finished.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub thought: String,
    /// Under `action_format = "keystrokes"`, the batches' keys one per line (what the trace
    /// and the hooks see of them).
    pub command: Option<String>,
    pub done: bool,
    /// Under `action_format = "keystrokes"`: what to type, batch by batch.
    #[serde(skip)]
    pub keys: Vec<Keystrokes>,
}

/// The longest wait one batch of keystrokes may ask for (Terminus-2's cap).
pub const LONGEST_WAIT: Duration = Duration::from_secs(60);

/// One batch of keystrokes and how long to wait after typing it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keystrokes {
    /// Typed as they are, except a whole tmux key name (`C-c`, `Enter`, `Up`, …), which
    /// is that key.
    pub keys: String,
    /// How long to wait before the next batch or the look at the screen (at most
    /// [`LONGEST_WAIT`]).
    pub wait: Duration,
}

impl Keystrokes {
    /// A batch that waits `seconds` (a model's number: negative or not a number is no
    /// wait, more than [`LONGEST_WAIT`] is that).
    pub fn new(keys: impl Into<String>, seconds: f64) -> Self {
        let seconds = if seconds > 0.0 { seconds.min(LONGEST_WAIT.as_secs_f64()) } else { 0.0 };
        Keystrokes { keys: keys.into(), wait: Duration::from_secs_f64(seconds) }
    }
}

/// A reply that is not a valid action: what is wrong with it, which the harness's
/// `prompts.format_error` puts into words for the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{problem}")]
pub struct ActionError {
    pub problem: String,
    /// The commands the reply held (several where one was expected).
    pub actions: Vec<String>,
}

impl ActionError {
    fn new(problem: impl Into<String>) -> Self {
        ActionError { problem: problem.into(), actions: Vec::new() }
    }
}

impl Action {
    /// Parses a model reply for `action_format = "json"`. Tolerates a Markdown code fence
    /// around the object; anything else that is not one action object is an error that
    /// says why (JSON's own message).
    pub fn parse_json(reply: &str) -> Result<Action, ActionError> {
        let trimmed = reply.trim();
        let body = trimmed
            .strip_prefix("```json")
            .or_else(|| trimmed.strip_prefix("```"))
            .and_then(|rest| rest.trim_end().strip_suffix("```"))
            .unwrap_or(trimmed)
            .trim();
        let mut action = serde_json::from_str::<Action>(body).map_err(|e| ActionError::new(e.to_string()))?;
        // Small models write JSON's null as a string; no shell has a `null` command.
        if action.command.as_deref().is_some_and(|c| c.trim() == "null") {
            action.command = None;
        }
        Ok(action)
    }
}

impl Action {
    /// Parses a model reply for `action_format = "markdown"`: the command is the content of
    /// the fenced code blocks whose info string is `policy.info_string` (any block when it is
    /// empty), the rest of the reply the thought; zero or several blocks are read as the
    /// policy says.
    pub fn parse_markdown(reply: &str, policy: &MarkdownPolicy) -> Result<Action, ActionError> {
        let (blocks, thought) = fenced_blocks(reply, &policy.info_string);
        let fence = format!("```{}", policy.info_string);
        let command = match (blocks.len(), policy.no_block, policy.several_blocks) {
            (0, NoBlock::Done, _) => return Ok(Action { thought, command: None, done: true, keys: Vec::new() }),
            (0, NoBlock::FormatError, _) => return Err(ActionError::new(format!("has no {fence} code block"))),
            (1, _, _) => blocks.into_iter().next().unwrap_or_default(),
            (n, _, SeveralBlocks::FormatError) => {
                let problem = format!("has {n} {fence} code blocks where one is expected");
                return Err(ActionError { problem, actions: blocks });
            }
            (_, _, SeveralBlocks::First) => blocks.into_iter().next().unwrap_or_default(),
            (_, _, SeveralBlocks::Join) => blocks.join("\n"),
        };
        if command.trim().is_empty() {
            return Err(ActionError::new(format!("has an empty {fence} code block")));
        }
        Ok(Action { thought, command: Some(command), done: false, keys: Vec::new() })
    }
}

impl Action {
    /// Parses a model reply for `action_format = "keystrokes"`, as Terminus-2 reads it: the
    /// JSON object from the reply's first `{` to its last `}` (text around it is
    /// tolerated), with `analysis`, `plan` and `commands` (a list of `{"keystrokes":
    /// string, "duration": seconds}`, 1 s where the duration is missing or not a number),
    /// and `task_complete` (a boolean, or "true", "yes", "1"). A reply that completes the
    /// task is not refused for a broken command list: it types nothing.
    pub fn parse_keystrokes(reply: &str) -> Result<Action, ActionError> {
        let (Some(start), Some(end)) = (reply.find('{'), reply.rfind('}')) else {
            return Err(ActionError::new("has no JSON object"));
        };
        if end < start {
            return Err(ActionError::new("has no JSON object"));
        }
        let object = match serde_json::from_str::<Value>(&reply[start..=end]) {
            Ok(Value::Object(object)) => object,
            Ok(_) => return Err(ActionError::new("is not a JSON object")),
            Err(e) => return Err(ActionError::new(format!("is not valid JSON ({e})"))),
        };
        let missing: Vec<&str> =
            ["analysis", "plan", "commands"].into_iter().filter(|field| !object.contains_key(*field)).collect();
        if !missing.is_empty() {
            return Err(ActionError::new(format!("misses the required field(s) {}", missing.join(", "))));
        }
        let done = match object.get("task_complete") {
            Some(Value::Bool(done)) => *done,
            Some(Value::String(text)) => matches!(text.to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
            _ => false,
        };
        let text = |field: &str| object.get(field).and_then(Value::as_str).unwrap_or_default().trim().to_string();
        let thought = [text("analysis"), text("plan")].into_iter().filter(|t| !t.is_empty()).collect::<Vec<_>>();
        let keys = match keystroke_batches(&object["commands"]) {
            Ok(keys) => keys,
            Err(_) if done => Vec::new(),
            Err(problem) => return Err(ActionError::new(problem)),
        };
        let typed: Vec<&str> = keys.iter().map(|k| k.keys.trim_end_matches('\n')).filter(|k| !k.is_empty()).collect();
        let command = (!typed.is_empty()).then(|| typed.join("\n"));
        Ok(Action { thought: thought.join("\n"), command, done, keys })
    }
}

/// The batches of Terminus-2's `commands` list, or what is wrong with it.
fn keystroke_batches(commands: &Value) -> Result<Vec<Keystrokes>, String> {
    let Value::Array(commands) = commands else {
        return Err("has a \"commands\" field that is not a list".into());
    };
    commands
        .iter()
        .enumerate()
        .map(|(i, command)| {
            let keys = command.get("keystrokes").and_then(Value::as_str);
            let keys = keys.ok_or_else(|| format!("has a command {} without a \"keystrokes\" string", i + 1))?;
            let seconds = command.get("duration").and_then(Value::as_f64).unwrap_or(1.0);
            Ok(Keystrokes::new(keys, seconds))
        })
        .collect()
}

/// The contents of the fenced code blocks of `text` whose info string's first word is
/// `info` (every block when `info` is empty), and the text outside them. A fence is a line
/// of three or more backticks, indented by at most three spaces; a block runs to the next
/// fence of at least as many backticks, or to the end.
fn fenced_blocks(text: &str, info: &str) -> (Vec<String>, String) {
    let mut blocks = Vec::new();
    let mut outside = Vec::new();
    let mut open: Option<(usize, bool, Vec<&str>)> = None;
    for line in text.lines() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let ticks = trimmed.chars().take_while(|c| *c == '`').count();
        let fence = indent <= 3 && ticks >= 3;
        match &mut open {
            None if fence => {
                let word = trimmed[ticks..].split_whitespace().next().unwrap_or_default();
                open = Some((ticks, info.is_empty() || word == info, Vec::new()));
            }
            None => outside.push(line),
            Some((opened, _, _)) if fence && trimmed[ticks..].trim().is_empty() && ticks >= *opened => {
                if let Some((_, counts, lines)) = open.take() {
                    if counts {
                        blocks.push(lines.join("\n"));
                    }
                }
            }
            Some((_, _, lines)) => lines.push(line),
        }
    }
    if let Some((_, true, lines)) = open {
        blocks.push(lines.join("\n"));
    }
    (blocks, outside.join("\n").trim().to_string())
}

/// The JSON Schema of [`Action`].
pub(crate) fn action_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "thought": {
                "type": "string",
                // Without a bound, small models ramble here until max_tokens and the reply
                // is cut off mid-JSON; llama.cpp turns maxLength into its grammar.
                "maxLength": 300,
                "description": "Brief reasoning: what you learned from the last output and what you do next."
            },
            "command": {
                "type": ["string", "null"],
                "maxLength": 1000,
                "description": "One shell command to run next in the container, or null to run none."
            },
            "done": {
                "type": "boolean",
                "description": "true when the task is complete; the command, if any, runs first."
            }
        },
        "required": ["thought", "command", "done"],
        "additionalProperties": false
    })
}

/// The `response_format` field of an OpenAI-compatible chat request for JSON actions.
pub(crate) fn response_format() -> Value {
    json!({
        "type": "json_schema",
        "json_schema": { "name": "action", "strict": true, "schema": action_schema() }
    })
}

/// The `tools` field of an OpenAI-compatible chat request for `action_format =
/// "tool_calls"`: the command tool named `command_tool`, and `done` when `with_done`.
pub(crate) fn tool_spec(command_tool: &str, with_done: bool) -> Value {
    let mut tools = vec![json!({
        "type": "function",
        "function": {
            "name": command_tool,
            "description": "Run one shell command in the task's Linux container and see its output.",
            "parameters": {
                "type": "object",
                "properties": { "command": { "type": "string", "description": "The shell command to run." } },
                "required": ["command"],
                "additionalProperties": false
            }
        }
    })];
    if with_done {
        tools.push(json!({
            "type": "function",
            "function": {
                "name": "done",
                "description": "Declare the task complete.",
                "parameters": { "type": "object", "properties": {}, "additionalProperties": false }
            }
        }));
    }
    Value::Array(tools)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_fenced_replies() {
        let expected = Action { thought: "t".into(), command: Some("ls".into()), done: false, keys: Vec::new() };
        assert_eq!(Action::parse_json(r#"{"thought":"t","command":"ls","done":false}"#), Ok(expected.clone()));
        assert_eq!(
            Action::parse_json("```json\n{\"thought\":\"t\",\"command\":\"ls\",\"done\":false}\n```"),
            Ok(expected)
        );
        let done = Action::parse_json(r#"{"thought":"ok","command":null,"done":true}"#).unwrap();
        assert!(done.done && done.command.is_none());
        let quoted = Action::parse_json(r#"{"thought":"ok","command":" null","done":true}"#).unwrap();
        assert_eq!(quoted.command, None, "the string \"null\" is no command");
        let error = Action::parse_json("I will run ls").unwrap_err();
        assert!(error.problem.contains("expected value at line 1 column 1"), "{error}");
    }

    #[test]
    fn a_markdown_reply_is_read_as_its_policy_says() {
        let policy = MarkdownPolicy::default();
        let reply = "I will list the files.\n\n```bash\nls -la\n```\n\nThen look.";
        let action = Action::parse_markdown(reply, &policy).unwrap();
        assert_eq!(action.command.as_deref(), Some("ls -la"));
        assert_eq!(action.thought, "I will list the files.\n\n\nThen look.");
        assert!(!action.done);
        // Other languages' blocks are prose; a longer fence holds a shorter one.
        let reply = "```python\nprint(1)\n```\n````bash\ncat <<EOF\n```\nEOF\n````";
        assert_eq!(Action::parse_markdown(reply, &policy).unwrap().command.as_deref(), Some("cat <<EOF\n```\nEOF"));

        let none = Action::parse_markdown("Done, I think.", &policy).unwrap_err();
        assert_eq!(none.problem, "has no ```bash code block");
        let done = MarkdownPolicy { no_block: NoBlock::Done, ..policy.clone() };
        assert!(Action::parse_markdown("Done, I think.", &done).unwrap().done);

        let two = "```bash\ncd /a\n```\nand\n```bash\nls\n```";
        let several = Action::parse_markdown(two, &policy).unwrap_err();
        assert_eq!(several.problem, "has 2 ```bash code blocks where one is expected");
        assert_eq!(several.actions, vec!["cd /a", "ls"]);
        let first = MarkdownPolicy { several_blocks: SeveralBlocks::First, ..policy.clone() };
        assert_eq!(Action::parse_markdown(two, &first).unwrap().command.as_deref(), Some("cd /a"));
        let join = MarkdownPolicy { several_blocks: SeveralBlocks::Join, ..policy.clone() };
        assert_eq!(Action::parse_markdown(two, &join).unwrap().command.as_deref(), Some("cd /a\nls"));

        let mini = MarkdownPolicy { info_string: "mswea_bash_command".into(), ..policy.clone() };
        let reply = "THOUGHT: look\n\n```mswea_bash_command\nls\n```";
        assert_eq!(Action::parse_markdown(reply, &mini).unwrap().command.as_deref(), Some("ls"));
        let any = MarkdownPolicy { info_string: String::new(), ..policy };
        assert_eq!(Action::parse_markdown("```\npwd\n```", &any).unwrap().command.as_deref(), Some("pwd"));
        assert!(Action::parse_markdown("```bash\n\n```", &MarkdownPolicy::default()).is_err(), "an empty block");
    }

    #[test]
    fn a_keystrokes_reply_is_read_as_terminus_2_reads_it() {
        let reply = r#"Sure. {"analysis": "Empty folder.", "plan": "List it, then stop top.",
            "commands": [{"keystrokes": "ls -la\n", "duration": 0.1}, {"keystrokes": "C-c"}],
            "task_complete": false} Thanks"#;
        let action = Action::parse_keystrokes(reply).unwrap();
        assert_eq!(action.thought, "Empty folder.\nList it, then stop top.");
        assert_eq!(action.command.as_deref(), Some("ls -la\nC-c"));
        assert_eq!(action.keys, vec![Keystrokes::new("ls -la\n", 0.1), Keystrokes::new("C-c", 1.0)]);
        assert!(!action.done);

        let wait = Action::parse_keystrokes(
            r#"{"analysis": "", "plan": "", "commands": [{"keystrokes": "", "duration": 5}]}"#,
        )
        .unwrap();
        assert_eq!((wait.command, wait.keys.len()), (None, 1), "a wait types nothing");
        let done = r#"{"analysis": "a", "plan": "p", "commands": "none", "task_complete": "true"}"#;
        assert!(Action::parse_keystrokes(done).unwrap().done, "done, its broken list ignored");

        let problem = |reply: &str| Action::parse_keystrokes(reply).unwrap_err().problem;
        assert_eq!(problem("ls -la"), "has no JSON object");
        assert!(problem("{\"analysis\": }").starts_with("is not valid JSON ("), "{}", problem("{\"analysis\": }"));
        assert_eq!(problem(r#"{"commands": []}"#), "misses the required field(s) analysis, plan");
        assert_eq!(
            problem(r#"{"analysis": "", "plan": "", "commands": [{"duration": 1}]}"#),
            "has a command 1 without a \"keystrokes\" string"
        );
    }

    #[test]
    fn a_models_wait_is_cut_to_what_a_pane_waits() {
        assert_eq!(Keystrokes::new("ls\n", 0.1).wait, Duration::from_millis(100));
        assert_eq!(Keystrokes::new("", 600.0).wait, LONGEST_WAIT);
        assert_eq!(Keystrokes::new("", -1.0).wait, Duration::ZERO);
        assert_eq!(Keystrokes::new("", f64::NAN).wait, Duration::ZERO);
    }

    #[test]
    fn schema_lists_thought_first() {
        let schema = action_schema();
        let keys: Vec<_> = schema["properties"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["thought", "command", "done"]);
    }
}
