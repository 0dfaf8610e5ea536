//! The `harness.toml` manifest as Rust types: the one place where every key, its type,
//! its default, its allowed range and its documentation are defined. The JSON Schema
//! (`harnesses/harness.schema.json`), the linter's unknown-key and type checks, and the
//! editor's hover docs ([`key_docs`]) are all derived from these types, so they cannot
//! disagree.

use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// A harness folder's manifest (`harness.toml`): who the harness is, how the agent loop
/// runs (`[policy]`), and which files hold its prompts, notes, tools and hooks. Every file
/// path is relative to the folder that holds `harness.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "Self-Harness harness manifest (harness.toml)")]
pub struct Manifest {
    /// Short name of the harness, shown in reports and traces (e.g. "minimal").
    #[schemars(length(min = 1, max = 100))]
    pub name: String,
    /// One or two sentences on what this harness is for.
    #[serde(default)]
    pub description: String,
    /// Runtime policy of the agent loop: limits, output truncation, action format,
    /// completion rule, context budget and sampling temperature.
    #[serde(default)]
    pub policy: Policy,
    /// The Markdown prompt templates (minijinja syntax).
    pub prompts: Prompts,
    /// Skills/notes: Markdown files whose text is available to the templates as `notes`.
    #[serde(default)]
    pub notes: Vec<NoteRef>,
    /// Tool scripts copied into the container as `/opt/harness/tools/<name>` (on PATH) and
    /// listed to the templates as `tools`.
    #[serde(default)]
    pub tools: Vec<ToolRef>,
    /// Scripts the runner executes in the container at fixed points of an episode.
    #[serde(default)]
    pub hooks: Hooks,
}

/// Runtime policy of the agent loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Most model turns in one episode; the episode ends (as a failure) when they are used up.
    #[serde(default = "defaults::max_turns")]
    #[schemars(range(min = 1, max = 1000))]
    pub max_turns: u32,
    /// Seconds one shell command may run before its whole process group is killed; the
    /// model is told that the command timed out.
    #[serde(default = "defaults::command_timeout_secs")]
    #[schemars(range(min = 1, max = 86400))]
    pub command_timeout_secs: u32,
    /// How command output is cut before the model sees it.
    #[serde(default)]
    pub output: OutputPolicy,
    /// How the model expresses an action: "json" (a JSON object following the harness's
    /// action schema, sent as a `response_format` JSON schema), "tool_calls" (native tool
    /// calls), "markdown" (free text with the command in a fenced code block, as
    /// mini-swe-agent's text-based configuration asks; `[policy.markdown]` says which blocks
    /// count), or "keystrokes" (Terminus-2's JSON: batches of keystrokes typed into a
    /// terminal pane, each followed by a wait, and `task_complete`).
    #[serde(default)]
    pub action_format: ActionFormat,
    /// How a reply is read under `action_format = "markdown"`.
    #[serde(default)]
    pub markdown: MarkdownPolicy,
    /// Under `action_format = "tool_calls"`: the name of the tool that runs a command (its
    /// one argument is `command`); several calls in one reply run one after the other.
    #[serde(default = "defaults::command_tool")]
    #[schemars(length(min = 1, max = 64))]
    pub command_tool: String,
    /// How many times in a row an unparseable reply is answered with an error message
    /// before the episode ends; 0 ends it at the first unparseable reply.
    #[serde(default = "defaults::parse_retries")]
    #[schemars(range(min = 0, max = 20))]
    pub parse_retries: u32,
    /// When the agent's declaration that it is done is accepted.
    #[serde(default)]
    pub completion: Completion,
    /// With `completion = "command"`: the first line of a command's output that ends the
    /// episode (mini-swe-agent's `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`); the lines
    /// after it, if any, are the agent's final output.
    #[serde(default = "defaults::completion_signal")]
    #[schemars(length(min = 1, max = 200))]
    pub completion_signal: String,
    /// Where each command runs: "persistent" (one shell session for the whole episode:
    /// `cd`, variables, functions and background jobs carry over) or "fresh" (a new shell
    /// for each command, started in the episode's first working directory, as
    /// mini-swe-agent runs them).
    #[serde(default)]
    pub shell: ShellMode,
    /// Environment variables set for every command the agent runs (mini-swe-agent's
    /// `environment.env`: `PAGER = "cat"`, …).
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, String>,
    /// When true, a command that fails exactly as it failed before (same text, same exit
    /// code) is followed by a notice that running it again will not help. Small models
    /// repeat a failing command until their turns or time run out.
    #[serde(default)]
    pub warn_repeated_failures: bool,
    /// When above 0, a reply whose command already failed in this episode (the same text)
    /// is not run: the model is asked again, at a higher temperature and told why, up to
    /// this many times; after that the command runs. Notices alone rarely move a small
    /// model out of a loop, because its own repeated replies in the conversation pull it
    /// back; a fresh sample does.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub resample_repeated_failures: u32,
    /// When above 0, a reply that runs no command and does not say done is not kept: the
    /// model is asked again, at a higher temperature and told to reply with a command or
    /// done, up to this many times. Small models stall in such replies until their time
    /// runs out, each one pulling the next along.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub resample_idle_replies: u32,
    /// When true, the agent's done is not accepted while its latest command failed (a
    /// non-zero exit code or a timeout): it is told that the task is not done yet and goes
    /// on. Small models declare done in the same reply as a command that then fails.
    #[serde(default)]
    pub refuse_done_after_failure: bool,
    /// Most tokens the conversation sent to the model may hold (prompt + history).
    #[serde(default = "defaults::context_budget_tokens")]
    #[schemars(range(min = 256, max = 10000000))]
    pub context_budget_tokens: u32,
    /// What happens when the conversation would exceed `context_budget_tokens`.
    #[serde(default)]
    pub on_context_overflow: ContextOverflow,
    /// Sampling temperature sent to the model (0 = greedy).
    #[serde(default = "defaults::temperature")]
    #[schemars(range(min = 0.0, max = 2.0))]
    pub temperature: f64,
}

/// How command output is truncated before the model sees it: the first `head_bytes` and
/// the last `tail_bytes` are kept, and `marker` stands for what was cut.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OutputPolicy {
    /// Bytes kept from the start of a command's output.
    #[serde(default = "defaults::head_bytes")]
    #[schemars(range(min = 0, max = 1048576))]
    pub head_bytes: u32,
    /// Bytes kept from the end of a command's output.
    #[serde(default = "defaults::tail_bytes")]
    #[schemars(range(min = 0, max = 1048576))]
    pub tail_bytes: u32,
    /// Text put where output was cut; `{omitted_bytes}` is replaced by the number of bytes
    /// left out.
    #[serde(default = "defaults::marker")]
    pub marker: String,
}

/// How the model expresses its action each turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ActionFormat {
    /// The model replies with one JSON object `{"thought", "command", "done"}`, constrained
    /// by a `response_format` JSON schema.
    #[default]
    Json,
    /// The model uses native tool calls: `shell` (run a command) and `done`.
    ToolCalls,
    /// The model writes free text with the command in one fenced code block (see
    /// `[policy.markdown]`); no grammar constrains the reply.
    Markdown,
    /// The model replies as Harbor's Terminus-2 does: `{"analysis", "plan", "commands":
    /// [{"keystrokes", "duration"}], "task_complete"}`. The keystrokes are typed into a
    /// terminal pane (160×40, a login bash; `C-c`, `Enter`, `Up`, … are keys), each batch
    /// followed by its wait (at most 60 s), and the model sees what the terminal printed
    /// since its last look. There are no exit codes; `policy.shell` is not read.
    Keystrokes,
}

/// How a reply is read under `action_format = "markdown"`: the command is the content of
/// a fenced code block whose info string is `info_string`; the text around it is the
/// agent's thought.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MarkdownPolicy {
    /// The info string of a command's fence (```bash); "" takes any fenced block.
    #[serde(default = "defaults::info_string")]
    #[schemars(length(max = 64))]
    pub info_string: String,
    /// A reply without such a block: "format_error" (answered with `prompts.format_error`,
    /// counted against `parse_retries`) or "done" (the agent has finished).
    #[serde(default)]
    pub no_block: NoBlock,
    /// A reply with several such blocks: "format_error", "first" (the first one runs), or
    /// "join" (they run one after the other, as one command).
    #[serde(default)]
    pub several_blocks: SeveralBlocks,
}

/// What a markdown reply without a command block means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum NoBlock {
    /// It is unusable: the model is told so (`prompts.format_error`).
    #[default]
    FormatError,
    /// The agent is done.
    Done,
}

/// What a markdown reply with several command blocks means.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeveralBlocks {
    /// It is unusable: the model is told so (`prompts.format_error`).
    #[default]
    FormatError,
    /// The first block runs; the others are ignored.
    First,
    /// The blocks run one after the other, as one command.
    Join,
}

/// Where the agent's commands run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShellMode {
    /// One shell session for the episode.
    #[default]
    Persistent,
    /// A new shell for each command, in the episode's first working directory.
    Fresh,
}

/// When the agent's declaration that it is done is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Completion {
    /// The episode ends as soon as the agent says it is done.
    #[default]
    Declare,
    /// The `before_completion` hook runs first; done is accepted only when it exits 0,
    /// otherwise its output goes back to the model and the episode continues.
    DeclareAfterCheck,
    /// Done sent with a command is confirmed first: the command runs, its output is shown,
    /// and the agent is asked to say done again (or to go on), so it sees what its last
    /// command did before it stops. Done without a command, or said again, counts.
    Confirm,
    /// The episode ends when a command's first output line is `completion_signal` (or the
    /// agent says done, where its action format can say it).
    Command,
    /// Done counts only when said in two replies in a row, as Terminus-2 asks: the first
    /// is answered with the output (or the terminal) and the question whether the task is
    /// really complete.
    Twice,
}

/// What happens when the conversation would exceed the context budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ContextOverflow {
    /// The episode ends with the error class "context overflow".
    #[default]
    Fail,
    /// The oldest turns (after the system prompt and the instruction) are dropped until
    /// the conversation fits.
    DropOldestTurns,
    /// Earlier command outputs are shortened, oldest first, until the conversation fits.
    TruncateOutputs,
}

/// The prompt templates: Markdown files rendered with minijinja.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Prompts {
    /// Template of the system message (e.g. "system.md").
    #[schemars(length(min = 1))]
    pub system: String,
    /// Template of the first user message, which carries the task's instruction
    /// (e.g. "instruction.md").
    #[schemars(length(min = 1))]
    pub instruction: String,
    /// Template of what the model sees after each of its commands (e.g. "observation.md"),
    /// with `command`, `exit_code` (none when it was stopped), `output` (cut as
    /// `[policy.output]` says), `truncated`, `omitted_bytes`, `timed_out` and `timeout_secs`;
    /// the runner's notices and the after-command hook's output follow it. Without it: the
    /// exit code, then the output (or, after a timeout, a notice and the output so far).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub observation: Option<String>,
    /// Template of what the model sees after a reply with no usable action (e.g.
    /// "format_error.md"), with `error`: what is wrong with it. It counts against
    /// `policy.parse_retries`. Without it: the action format's own message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub format_error: Option<String>,
}

impl Prompts {
    /// Every template file the manifest names, with what it is for.
    pub fn templates(&self) -> Vec<(super::TemplateKind, &str)> {
        use super::TemplateKind::*;
        let optional = [(Observation, &self.observation), (FormatError, &self.format_error)];
        let named = optional.into_iter().filter_map(|(kind, file)| Some((kind, file.as_deref()?)));
        [(System, self.system.as_str()), (Instruction, self.instruction.as_str())].into_iter().chain(named).collect()
    }
}

/// One skill/note: a Markdown file the templates can show to the model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoteRef {
    /// Name of the note, unique in this harness (letters, digits, '_', '-', '.').
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Markdown file holding the note's text.
    #[schemars(length(min = 1))]
    pub file: String,
}

/// One tool: a script copied into the container as `/opt/harness/tools/<name>`, made
/// executable and put on PATH; the agent calls it from its shell commands.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ToolRef {
    /// Command name of the tool, unique in this harness (letters, digits, '_', '-', '.').
    #[schemars(length(min = 1, max = 64))]
    pub name: String,
    /// Script file (with a `#!` line) that becomes the tool.
    #[schemars(length(min = 1))]
    pub file: String,
    /// What the tool does, shown to the model.
    #[schemars(length(min = 1))]
    pub description: String,
    /// How to call it (e.g. "view FILE [START] [END]"), shown to the model.
    #[serde(default)]
    pub usage: String,
}

/// Scripts run in the container at fixed points of an episode.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hooks {
    /// Script run once, before the agent's first turn, with `WORKDIR` (the agent's working
    /// directory) in its environment; what it prints is shown to the model after the task's
    /// instruction, and its exit code does not matter. For what the agent
    /// would otherwise find out by trial and error: the files it works on, where a
    /// repository is, which tools are missing.
    #[serde(default)]
    pub on_start: Option<HookRef>,
    /// Check run before the agent may declare completion (only with
    /// `completion = "declare_after_check"`). Exit code 0 accepts done; otherwise its output
    /// goes back to the model and the episode continues.
    #[serde(default)]
    pub before_completion: Option<HookRef>,
    /// Script run after each of the agent's commands, with `COMMAND` and `EXIT_CODE` in its
    /// environment (`EXIT_CODE` is empty when the command timed out). What it prints is
    /// shown to the model after the command's output; its exit code does not matter. For
    /// advice the moment it applies: a hint when a command fails in a known way.
    #[serde(default)]
    pub after_command: Option<HookRef>,
}

/// One hook script.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HookRef {
    /// Script file, run by bash, copied into the container as `/opt/harness/hooks/<hook
    /// name>` at the episode's start (so `find / -newer "$0"` lists what the episode changed).
    /// `HOOK_STATE` names a folder for the hook's own files (markers, notes kept between
    /// calls), which lasts the episode and is never judged; a file it writes elsewhere is a
    /// change of the agent's like any other.
    #[schemars(length(min = 1))]
    pub file: String,
    /// Seconds the hook may run; a hook that times out counts as failed.
    #[serde(default = "defaults::hook_timeout_secs")]
    #[schemars(range(min = 1, max = 3600))]
    pub timeout_secs: u32,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            max_turns: defaults::max_turns(),
            command_timeout_secs: defaults::command_timeout_secs(),
            output: OutputPolicy::default(),
            action_format: ActionFormat::default(),
            markdown: MarkdownPolicy::default(),
            command_tool: defaults::command_tool(),
            parse_retries: defaults::parse_retries(),
            completion: Completion::default(),
            completion_signal: defaults::completion_signal(),
            shell: ShellMode::default(),
            env: Default::default(),
            warn_repeated_failures: false,
            resample_repeated_failures: 0,
            resample_idle_replies: 0,
            refuse_done_after_failure: false,
            context_budget_tokens: defaults::context_budget_tokens(),
            on_context_overflow: ContextOverflow::default(),
            temperature: defaults::temperature(),
        }
    }
}

impl Default for MarkdownPolicy {
    fn default() -> Self {
        MarkdownPolicy {
            info_string: defaults::info_string(),
            no_block: NoBlock::default(),
            several_blocks: SeveralBlocks::default(),
        }
    }
}

impl Default for OutputPolicy {
    fn default() -> Self {
        OutputPolicy {
            head_bytes: defaults::head_bytes(),
            tail_bytes: defaults::tail_bytes(),
            marker: defaults::marker(),
        }
    }
}

impl OutputPolicy {
    /// Cuts `output` to its first `head_bytes` and last `tail_bytes` (on character
    /// boundaries) with the marker between them; output that fits is returned unchanged.
    pub fn truncate(&self, output: &str) -> String {
        self.cut(output).0
    }

    /// [`OutputPolicy::truncate`], and how many bytes it left out.
    pub fn cut(&self, output: &str) -> (String, usize) {
        let (head, tail) = (self.head_bytes as usize, self.tail_bytes as usize);
        if output.len() <= head.saturating_add(tail) {
            return (output.to_string(), 0);
        }
        let mut head_end = head;
        while !output.is_char_boundary(head_end) {
            head_end -= 1;
        }
        let mut tail_start = output.len() - tail;
        while !output.is_char_boundary(tail_start) {
            tail_start += 1;
        }
        let omitted = tail_start - head_end;
        let marker = self.marker.replace("{omitted_bytes}", &omitted.to_string());
        (format!("{}{}{}", &output[..head_end], marker, &output[tail_start..]), omitted)
    }
}

/// Default values of the optional keys (also written into the JSON Schema).
pub mod defaults {
    pub fn max_turns() -> u32 {
        30
    }
    pub fn command_timeout_secs() -> u32 {
        120
    }
    pub fn parse_retries() -> u32 {
        2
    }
    pub fn context_budget_tokens() -> u32 {
        32768
    }
    pub fn temperature() -> f64 {
        0.0
    }
    pub fn head_bytes() -> u32 {
        4096
    }
    pub fn tail_bytes() -> u32 {
        4096
    }
    pub fn marker() -> String {
        "\n[... {omitted_bytes} bytes of output omitted ...]\n".to_string()
    }
    pub fn hook_timeout_secs() -> u32 {
        60
    }
    pub fn completion_signal() -> String {
        "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT".to_string()
    }
    pub fn info_string() -> String {
        "bash".to_string()
    }
    pub fn command_tool() -> String {
        "shell".to_string()
    }
}

/// The JSON Schema (draft-07) of `harness.toml`, generated from [`Manifest`]; the file
/// `harnesses/harness.schema.json` is this value, pretty-printed.
pub fn json_schema() -> &'static serde_json::Value {
    static SCHEMA: OnceLock<serde_json::Value> = OnceLock::new();
    SCHEMA.get_or_init(|| {
        let schema = schemars::generate::SchemaSettings::draft07().into_generator().into_root_schema_for::<Manifest>();
        schema.to_value()
    })
}

/// The text of `harnesses/harness.schema.json`.
pub fn json_schema_text() -> String {
    let mut text = serde_json::to_string_pretty(json_schema()).unwrap_or_default();
    text.push('\n');
    text
}

/// Documentation of one `harness.toml` key, for hover docs and the README.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyDoc {
    /// Dotted path of the key: `policy.output.head_bytes`; entries of arrays of tables use
    /// `[]`: `tools[].name`.
    pub path: String,
    /// The doc comment of the key.
    pub description: String,
    /// Its type in words: "integer 1..=1000", "one of \"json\", \"tool_calls\"", "table".
    pub kind: String,
    /// Its default as TOML text, when it is optional and has one.
    pub default: Option<String>,
    /// Whether the key must be present.
    pub required: bool,
}

/// Every key of `harness.toml` with its documentation, in schema order, derived from the
/// JSON Schema (and so from the doc comments above).
pub fn key_docs() -> &'static [KeyDoc] {
    static DOCS: OnceLock<Vec<KeyDoc>> = OnceLock::new();
    DOCS.get_or_init(|| {
        let root = json_schema();
        let mut docs = Vec::new();
        collect_docs(root, root, "", &mut docs);
        docs
    })
}

/// The documentation of the key at a dotted path (`policy.max_turns`, `tools[].file`).
pub fn key_doc(path: &str) -> Option<&'static KeyDoc> {
    key_docs().iter().find(|d| d.path == path)
}

pub(crate) fn resolve<'a>(root: &'a serde_json::Value, schema: &'a serde_json::Value) -> &'a serde_json::Value {
    let mut schema = schema;
    for _ in 0..16 {
        if let Some(r) = schema.get("$ref").and_then(|r| r.as_str()) {
            match root.pointer(r.trim_start_matches('#')) {
                Some(s) => schema = s,
                None => break,
            }
        } else if let Some([only]) = schema.get("allOf").and_then(|a| a.as_array()).map(Vec::as_slice) {
            // Draft-07 schemars wraps a documented `$ref` as `allOf: [{$ref}]`.
            schema = only;
        } else {
            break;
        }
    }
    schema
}

/// The branches of an `anyOf`/`oneOf` without the `null` one (how schemars spells
/// `Option<T>`), or the schema itself.
pub(crate) fn branches<'a>(root: &'a serde_json::Value, schema: &'a serde_json::Value) -> Vec<&'a serde_json::Value> {
    let schema = resolve(root, schema);
    for key in ["anyOf", "oneOf"] {
        if let Some(list) = schema.get(key).and_then(|l| l.as_array()) {
            return list
                .iter()
                .map(|s| resolve(root, s))
                .filter(|s| s.get("type").and_then(|t| t.as_str()) != Some("null"))
                .collect();
        }
    }
    vec![schema]
}

/// The allowed strings of an enum schema (`enum` or `oneOf` of `const`s), if it is one.
pub(crate) fn enum_values(root: &serde_json::Value, schema: &serde_json::Value) -> Option<Vec<String>> {
    let schema = resolve(root, schema);
    if let Some(values) = schema.get("enum").and_then(|e| e.as_array()) {
        return Some(values.iter().filter_map(|v| v.as_str().map(str::to_string)).collect());
    }
    let list = schema.get("oneOf").or_else(|| schema.get("anyOf"))?.as_array()?;
    let mut values = Vec::new();
    for branch in list {
        let branch = resolve(root, branch);
        if let Some(c) = branch.get("const").and_then(|c| c.as_str()) {
            values.push(c.to_string());
        } else if let Some(e) = branch.get("enum").and_then(|e| e.as_array()) {
            values.extend(e.iter().filter_map(|v| v.as_str().map(str::to_string)));
        } else {
            return None;
        }
    }
    Some(values)
}

/// The JSON types a schema accepts, without "null".
pub(crate) fn types(root: &serde_json::Value, schema: &serde_json::Value) -> Vec<String> {
    let mut out = Vec::new();
    for branch in branches(root, schema) {
        match branch.get("type") {
            Some(serde_json::Value::String(t)) => out.push(t.clone()),
            Some(serde_json::Value::Array(list)) => {
                out.extend(list.iter().filter_map(|t| t.as_str().map(str::to_string)))
            }
            _ if enum_values(root, branch).is_some() => out.push("string".into()),
            _ => {}
        }
    }
    out.retain(|t| t != "null");
    out.dedup();
    out
}

/// The schema that applies to an object-typed value (first object branch).
pub(crate) fn object_branch<'a>(
    root: &'a serde_json::Value,
    schema: &'a serde_json::Value,
) -> Option<&'a serde_json::Value> {
    branches(root, schema).into_iter().find(|b| b.get("properties").is_some())
}

/// A schema's type in words, e.g. "integer 1..=1000".
pub(crate) fn describe_kind(root: &serde_json::Value, schema: &serde_json::Value) -> String {
    if let Some(values) = enum_values(root, schema) {
        let quoted: Vec<_> = values.iter().map(|v| format!("\"{v}\"")).collect();
        return format!("one of {}", quoted.join(", "));
    }
    let types = types(root, schema);
    let kind = match types.first().map(String::as_str) {
        Some("object") => "table".to_string(),
        Some("array") => {
            let items = branches(root, schema).into_iter().find_map(|b| b.get("items"));
            match items.map(|i| resolve(root, i)) {
                Some(i) if i.get("properties").is_some() => "array of tables".to_string(),
                Some(i) => format!("array of {}", describe_kind(root, i)),
                None => "array".to_string(),
            }
        }
        Some(t) => t.to_string(),
        None => "value".to_string(),
    };
    let schema = branches(root, schema).into_iter().next().unwrap_or(schema);
    match (schema.get("minimum").and_then(|m| m.as_f64()), schema.get("maximum").and_then(|m| m.as_f64())) {
        (Some(min), Some(max)) => format!("{kind} {min}..={max}"),
        (Some(min), None) => format!("{kind} >= {min}"),
        (None, Some(max)) => format!("{kind} <= {max}"),
        (None, None) => kind,
    }
}

fn collect_docs(root: &serde_json::Value, schema: &serde_json::Value, prefix: &str, out: &mut Vec<KeyDoc>) {
    let Some(object) = object_branch(root, schema) else { return };
    let required: Vec<&str> = object
        .get("required")
        .and_then(|r| r.as_array())
        .map(|r| r.iter().filter_map(|v| v.as_str()).collect())
        .unwrap_or_default();
    let Some(properties) = object.get("properties").and_then(|p| p.as_object()) else { return };
    for (key, property) in properties {
        let path = if prefix.is_empty() { key.clone() } else { format!("{prefix}.{key}") };
        let description = property
            .get("description")
            .or_else(|| resolve(root, property).get("description"))
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string();
        let default = property.get("default").filter(|d| !d.is_null()).and_then(json_to_toml);
        out.push(KeyDoc {
            path: path.clone(),
            description,
            kind: describe_kind(root, property),
            default,
            required: required.contains(&key.as_str()),
        });
        let array_items = branches(root, property).into_iter().find_map(|b| b.get("items")).map(|i| resolve(root, i));
        match array_items {
            Some(items) if items.get("properties").is_some() => collect_docs(root, items, &format!("{path}[]"), out),
            _ => collect_docs(root, property, &path, out),
        }
    }
}

/// A scalar JSON default as TOML text; tables and arrays are left out.
fn json_to_toml(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(toml::Value::String(s.clone()).to_string()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        serde_json::Value::Array(a) if a.is_empty() => Some("[]".into()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_documented() {
        let docs = key_docs();
        for path in [
            "name",
            "description",
            "policy.max_turns",
            "policy.command_timeout_secs",
            "policy.output.head_bytes",
            "policy.output.tail_bytes",
            "policy.output.marker",
            "policy.action_format",
            "policy.parse_retries",
            "policy.markdown.info_string",
            "policy.markdown.no_block",
            "policy.markdown.several_blocks",
            "policy.command_tool",
            "policy.completion",
            "policy.completion_signal",
            "policy.shell",
            "policy.env",
            "policy.warn_repeated_failures",
            "policy.resample_repeated_failures",
            "policy.resample_idle_replies",
            "policy.refuse_done_after_failure",
            "policy.context_budget_tokens",
            "policy.on_context_overflow",
            "policy.temperature",
            "prompts.system",
            "prompts.instruction",
            "prompts.observation",
            "prompts.format_error",
            "notes[].name",
            "notes[].file",
            "tools[].name",
            "tools[].file",
            "tools[].description",
            "tools[].usage",
            "hooks.on_start",
            "hooks.on_start.file",
            "hooks.on_start.timeout_secs",
            "hooks.before_completion",
            "hooks.before_completion.file",
            "hooks.before_completion.timeout_secs",
            "hooks.after_command",
            "hooks.after_command.file",
            "hooks.after_command.timeout_secs",
        ] {
            let doc = key_doc(path).unwrap_or_else(|| panic!("no doc for {path}: {docs:#?}"));
            assert!(!doc.description.is_empty(), "{path} has no description");
        }
        // The 42 keys above plus the tables that hold them (policy, policy.output, prompts, …).
        assert_eq!(docs.len(), 50, "{docs:#?}");
        let max_turns = key_doc("policy.max_turns").unwrap();
        assert_eq!(max_turns.kind, "integer 1..=1000");
        assert_eq!(max_turns.default.as_deref(), Some("30"));
        assert_eq!(
            key_doc("policy.action_format").unwrap().kind,
            "one of \"json\", \"tool_calls\", \"markdown\", \"keystrokes\""
        );
        assert!(key_doc("name").unwrap().required);
    }

    #[test]
    fn truncate_keeps_head_and_tail_on_char_boundaries() {
        let policy = OutputPolicy { head_bytes: 4, tail_bytes: 3, marker: "[{omitted_bytes}]".into() };
        assert_eq!(policy.truncate("short"), "short");
        assert_eq!(policy.truncate("abcdefghijkl"), "abcd[5]jkl");
        // 'é' is two bytes: the head stops before it, the tail starts after it.
        assert_eq!(policy.truncate("abcéefghiéjk"), "abc[9]jk");
    }
}
