//! The prompt templates: Markdown files in minijinja syntax. Checking a template finds
//! syntax errors and variables that do not exist (with their positions) before any
//! episode runs; rendering fills the known variables from a [`PromptContext`] and the
//! harness, and fails on anything undefined rather than sending the model a blank.

use std::path::Path;

use minijinja::machinery::{tokenize, Token};
use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

use super::diagnostic::{did_you_mean, HarnessDiagnostic, Range};
use super::manifest;

/// The variables every template may use, with what they hold (documented in
/// `harnesses/README.md`).
pub const TEMPLATE_VARIABLES: &[(&str, &str)] = &[
    ("instruction", "the task's instruction (string)"),
    ("task_name", "the task's name (string)"),
    ("workdir", "the working directory of the agent's shell in the container (string)"),
    ("tools", "the harness's tools: list of {name, description, usage, path}"),
    ("notes", "the harness's notes: list of {name, text}"),
    ("policy", "the [policy] table: policy.max_turns, policy.command_timeout_secs, policy.output.head_bytes, …"),
    ("action_schema", "the JSON Schema of the action object, pretty-printed (string; action_format = \"json\")"),
    ("uname", "the container's kernel, as `uname` says it: uname.system, uname.release, uname.version, uname.machine"),
    ("terminal", "the terminal's screen when the episode starts (string; action_format = \"keystrokes\", else \"\")"),
];

/// What a template is for, which decides the variables it may use beyond
/// [`TEMPLATE_VARIABLES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// `prompts.system`: the system message.
    System,
    /// `prompts.instruction`: the first user message.
    Instruction,
    /// `prompts.observation`: what the model sees after each command.
    Observation,
    /// `prompts.format_error`: what the model sees after a reply with no usable action.
    FormatError,
}

/// The variables of `prompts.observation`, beyond the common ones.
pub const OBSERVATION_VARIABLES: &[(&str, &str)] = &[
    ("command", "the command that ran (string)"),
    ("exit_code", "its exit code (integer; none when it was stopped at its timeout)"),
    ("output", "its output, stdout and stderr interleaved, cut as [policy.output] says (string)"),
    ("truncated", "whether the output was cut (boolean)"),
    ("omitted_bytes", "how many bytes of output were cut (integer)"),
    ("timed_out", "whether the command was stopped at its timeout (boolean)"),
    ("timeout_secs", "the command's time limit in seconds (integer)"),
    ("exception_info", "why the runner stopped the command, or \"\" (string)"),
];

/// The variables of `prompts.format_error`, beyond the common ones.
pub const FORMAT_ERROR_VARIABLES: &[(&str, &str)] = &[
    ("error", "what is wrong with the reply, as the parser of the action format says it (string)"),
    ("actions", "the commands the reply held (list of strings; several, or none, when that was wrong)"),
    (
        "finish_reason",
        "why the model stopped writing: \"stop\", \"length\" (cut at the token limit), \"tool_calls\" (string)",
    ),
    ("has_tool_calls", "whether the reply held tool calls (boolean)"),
];

impl TemplateKind {
    /// The variables this template may use beyond [`TEMPLATE_VARIABLES`].
    pub fn variables(self) -> &'static [(&'static str, &'static str)] {
        match self {
            TemplateKind::System | TemplateKind::Instruction => &[],
            TemplateKind::Observation => OBSERVATION_VARIABLES,
            TemplateKind::FormatError => FORMAT_ERROR_VARIABLES,
        }
    }
}

/// The built-in `prompts.observation`, used when a harness names none (the text every
/// harness saw before the key existed; `harnesses/minimal/observation.md` holds it too).
pub const DEFAULT_OBSERVATION: &str = "\
{% if timed_out %}The command did not finish within {{ timeout_secs }} s and was stopped (with everything it started). \
Avoid interactive programs and long-running commands in the foreground.
output so far:
{{ output }}{% else %}exit code: {{ exit_code }}
{{ output }}{% endif %}";

/// The built-in `prompts.format_error` for `action_format = "json"`.
pub const DEFAULT_FORMAT_ERROR_JSON: &str =
    "Your reply is not a valid action ({{ error }}). Reply with exactly one JSON \
object: {\"thought\": string, \"command\": string or null, \"done\": true or false}.";

/// The built-in `prompts.format_error` for `action_format = "markdown"`.
pub const DEFAULT_FORMAT_ERROR_MARKDOWN: &str = "Your reply {{ error }}. Reply with your reasoning and exactly one \
```{{ policy.markdown.info_string }} code block holding the one shell command to run next.";

/// The built-in `prompts.format_error` for `action_format = "keystrokes"`.
pub const DEFAULT_FORMAT_ERROR_KEYSTROKES: &str = "Your reply {{ error }}. Reply with one JSON object: \
{\"analysis\": string, \"plan\": string, \"commands\": [{\"keystrokes\": string, \"duration\": seconds}], \
\"task_complete\": true or false}.";

/// The built-in `prompts.format_error` for tool calls, whose parser says what to send
/// instead.
pub const DEFAULT_FORMAT_ERROR: &str = "{{ error }}";

/// What an episode knows that the harness does not: the task and where the agent works.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct PromptContext {
    /// The task's instruction, as the task author wrote it.
    pub instruction: String,
    /// The task's name.
    pub task_name: String,
    /// The working directory of the agent's shell in the container.
    pub workdir: String,
    /// The container's kernel.
    pub uname: Uname,
    /// The terminal's screen at the start, under `action_format = "keystrokes"` (else "").
    pub terminal: String,
}

/// What `uname` says of a container (`-s`, `-r`, `-v`, `-m`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Uname {
    pub system: String,
    pub release: String,
    pub version: String,
    pub machine: String,
}

impl Uname {
    /// The command that prints the four, one per line.
    pub const COMMAND: &'static str = "uname -s; uname -r; uname -v; uname -m";

    /// Reads [`Uname::COMMAND`]'s output; missing lines stay empty.
    pub fn parse(output: &str) -> Uname {
        let mut lines = output.lines().map(|l| l.trim().to_string());
        let mut next = || lines.next().unwrap_or_default();
        Uname { system: next(), release: next(), version: next(), machine: next() }
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env
}

/// Renders `source` (the template at `name`) with `context`.
pub(crate) fn render(name: &str, source: &str, context: minijinja::Value) -> Result<String, minijinja::Error> {
    let env = environment();
    let template = env.template_from_named_str(name, source)?;
    template.render(context)
}

/// Every problem in the template `text` (file `path`, a template of `kind`): syntax errors
/// and unknown variables.
pub fn check_template(path: &Path, text: &str, kind: TemplateKind) -> Vec<HarnessDiagnostic> {
    let env = environment();
    let template = match env.template_from_str(text) {
        Ok(template) => template,
        Err(e) => {
            let range = match (e.range(), e.line()) {
                (Some(span), _) => Range::of(text, span),
                (None, Some(line)) => {
                    let offset = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum();
                    Range::of(text, offset..offset)
                }
                (None, None) => Range::file_start(),
            };
            let detail = e.detail().map(str::to_string).unwrap_or_else(|| e.kind().to_string());
            return vec![HarnessDiagnostic::error(
                path,
                range,
                "template-syntax",
                format!("template syntax error: {detail}; see the minijinja syntax in harnesses/README.md"),
            )];
        }
    };
    let globals: Vec<String> = env.globals().map(|(name, _)| name.to_string()).collect();
    let known: Vec<&str> = TEMPLATE_VARIABLES.iter().chain(kind.variables()).map(|(name, _)| *name).collect();
    let policy_fields: Vec<String> = manifest::key_docs()
        .iter()
        .filter_map(|d| d.path.strip_prefix("policy.").filter(|rest| !rest.contains('.')).map(str::to_string))
        .collect();

    let mut unknown: Vec<String> = template
        .undeclared_variables(false)
        .into_iter()
        .filter(|v| !known.contains(&v.as_str()) && !globals.contains(v))
        .collect();
    unknown.sort();
    let mut unknown_policy: Vec<String> = template
        .undeclared_variables(true)
        .into_iter()
        .filter_map(|v| v.strip_prefix("policy.").map(|rest| rest.split('.').next().unwrap_or_default().to_string()))
        .filter(|field| !policy_fields.contains(field))
        .collect();
    unknown_policy.sort();
    unknown_policy.dedup();
    if unknown.is_empty() && unknown_policy.is_empty() {
        return Vec::new();
    }

    let mut out = Vec::new();
    let tokens: Vec<_> = tokenize(text, false, SyntaxConfig::default()).filter_map(Result::ok).collect();
    for (i, (token, span)) in tokens.iter().enumerate() {
        let Token::Ident(name) = token else { continue };
        let after_dot = i > 0 && matches!(tokens[i - 1].0, Token::Dot);
        let range = Range::of(text, span.start_offset as usize..span.end_offset as usize);
        if !after_dot && unknown.iter().any(|u| u == name) {
            let mut message = format!("unknown template variable `{name}`");
            match did_you_mean(name, known.iter().copied()) {
                Some(s) => message.push_str(&format!("; did you mean `{s}`?")),
                None => message.push_str(&format!("; the variables are: {}", known.join(", "))),
            }
            out.push(HarnessDiagnostic::error(path, range, "unknown-variable", message));
        } else if after_dot
            && i >= 2
            && matches!(tokens[i - 2].0, Token::Ident("policy"))
            && !(i >= 3 && matches!(tokens[i - 3].0, Token::Dot))
            && unknown_policy.iter().any(|u| u == name)
        {
            let mut message = format!("`policy` has no field `{name}`");
            match did_you_mean(name, policy_fields.iter().map(String::as_str)) {
                Some(s) => message.push_str(&format!("; did you mean `policy.{s}`?")),
                None => message.push_str(&format!("; its fields are: {}", policy_fields.join(", "))),
            }
            out.push(HarnessDiagnostic::error(path, range, "unknown-variable", message));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_variables_pass_and_locals_are_not_reported() {
        let text =
            "{{ instruction }} {% for t in tools %}{{ t.name }}{% endfor %} {{ policy.max_turns }} {{ range(3) }}";
        assert_eq!(check_template(Path::new("s.md"), text, TemplateKind::System), vec![]);
    }

    #[test]
    fn each_kind_knows_its_own_variables() {
        let observation = "{{ exit_code }} {{ output }} {{ instruction }}";
        assert_eq!(check_template(Path::new("o.md"), observation, TemplateKind::Observation), vec![]);
        let d = check_template(Path::new("s.md"), observation, TemplateKind::System);
        assert_eq!(d.len(), 2, "exit_code and output are not the system prompt's: {d:#?}");
        assert_eq!(check_template(Path::new("f.md"), "{{ error }}", TemplateKind::FormatError), vec![]);
        assert_eq!(check_template(Path::new("o.md"), DEFAULT_OBSERVATION, TemplateKind::Observation), vec![]);
        for default in [DEFAULT_FORMAT_ERROR_JSON, DEFAULT_FORMAT_ERROR_MARKDOWN, DEFAULT_FORMAT_ERROR] {
            assert_eq!(check_template(Path::new("f.md"), default, TemplateKind::FormatError), vec![]);
        }
    }

    #[test]
    fn unknown_variable_and_policy_field_are_located() {
        let text = "Hi\n{{ instrction }} and {{ policy.max_turn }}";
        let d = check_template(Path::new("s.md"), text, TemplateKind::System);
        assert_eq!(d.len(), 2, "{d:#?}");
        assert_eq!((d[0].range.start.line, d[0].range.start.column, d[0].range.end.column), (2, 4, 14));
        assert!(d[0].message.contains("did you mean `instruction`"), "{}", d[0].message);
        assert_eq!((d[1].range.start.line, d[1].range.start.column), (2, 32));
        assert!(d[1].message.contains("policy.max_turns"), "{}", d[1].message);
    }
}
