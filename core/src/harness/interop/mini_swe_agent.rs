//! mini-swe-agent's configuration as a harness folder, and back.
//!
//! mini-swe-agent (PyPI `mini-swe-agent`, MIT) keeps its whole harness in one YAML file:
//! `agent.system_template` and `agent.instance_template`, `model.observation_template`
//! and `model.format_error_template` (Jinja), an action regex over a fenced code block
//! (`litellm_textbased`) or a `bash` tool call, completion by the command `echo
//! COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT`, each command in a fresh subshell with
//! `environment.env` set, `agent.step_limit`. [`import`] maps each key to the harness
//! surface that means the same, the templates' variables renamed ([`super::jinja`]);
//! [`export`] maps back. Whatever has no counterpart is named in the result's notes,
//! never dropped silently; a file that is not such a configuration, a template that does
//! not compile and an action regex that does not compile are refused with the file and
//! the line.

use serde_yaml_ng::Value;

use super::jinja::{self, attr, var, Rename};
use super::{toml_string, Converted, InteropError};
use crate::harness::{ActionFormat, Completion, Harness, ShellMode, TemplateKind};

pub const DIST: &str = "mini-swe-agent";
pub const MODULE: &str = "minisweagent";
/// The version the imports are tested with.
pub const PINNED: &str = "2.4.6";
pub const INSTALL_HINT: &str = "pip install mini-swe-agent==2.4.6";
/// The package's own configurations, read by default: (file in the package, harness name).
pub const PACKAGED: [(&str, &str); 2] =
    [("config/mini_textbased.yaml", "mini-swe-agent-textbased"), ("config/mini.yaml", "mini-swe-agent")];

/// The action regex of mini-swe-agent's text-based model classes, when a file names none.
const DEFAULT_ACTION_REGEX: &str = r"```mswea_bash_command\s*\n(.*?)\n```";
/// The first output line that ends an episode.
const SIGNAL: &str = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT";
/// mini-swe-agent's `environment.timeout` default, in seconds.
const DEFAULT_TIMEOUT: u64 = 30;
/// Output up to this long reaches an imported observation template uncut, as in
/// mini-swe-agent, whose templates elide long output themselves.
const UNCUT: u64 = 524_288;
/// mini-swe-agent answers format errors until its step limit; a harness at most this many
/// times in a row.
const MOST_PARSE_RETRIES: u64 = 20;

/// mini-swe-agent's template variables that every template has here under another name.
const COMMON: &[Rename] = &[
    var("task", "instruction"),
    var("system", "uname.system"),
    var("release", "uname.release"),
    var("version", "uname.version"),
    var("machine", "uname.machine"),
    var("step_limit", "policy.max_turns"),
    var("timeout", "policy.command_timeout_secs"),
    var("cwd", "workdir"),
];
/// The observation's: mini-swe-agent's `output` is a mapping.
const OBSERVATION: &[Rename] = &[
    attr("output", "returncode", "exit_code"),
    attr("output", "output", "output"),
    attr("output", "exception_info", "exception_info"),
];
/// The format error's variables, which mean the same here.
const FORMAT_ERROR_KEPT: &[&str] = &["error", "actions", "finish_reason", "has_tool_calls"];
/// [`COMMON`] and [`OBSERVATION`] the other way, for export.
const COMMON_BACK: &[Rename] = &[
    var("instruction", "task"),
    attr("uname", "system", "system"),
    attr("uname", "release", "release"),
    attr("uname", "version", "version"),
    attr("uname", "machine", "machine"),
    attr("policy", "max_turns", "step_limit"),
    attr("policy", "command_timeout_secs", "timeout"),
    var("workdir", "cwd"),
];
const OBSERVATION_BACK: &[Rename] = &[
    var("exit_code", "output.returncode"),
    var("output", "output.output"),
    var("exception_info", "output.exception_info"),
];

/// A mini-swe-agent configuration (`text`, read from `source`) as the files of a harness
/// folder named `name`. Long because it is one translation read in the configuration's
/// order — the action format, the templates, the policy, the manifest — each value beside
/// the note that says how it mapped.
pub fn import(text: &str, source: &str, name: &str) -> Result<Converted, InteropError> {
    let at_line = |line: Option<usize>, message: String| InteropError { file: source.to_string(), line, message };
    let root: Value =
        serde_yaml_ng::from_str(text).map_err(|e| at_line(e.location().map(|l| l.line()), format!("not YAML: {e}")))?;
    let section = |name: &str| root.get(name).filter(|v| v.is_mapping());
    let agent = section("agent")
        .ok_or_else(|| at_line(Some(1), "not a mini-swe-agent configuration: it has no `agent` section".into()))?;
    let environment = section("environment");
    let model = section("model");
    let line_of = |key: &str| key_line(text, key);
    let mut notes = Vec::new();

    let template = |table: Option<&Value>, key: &str| -> Option<String> {
        table.and_then(|t| t.get(key)).and_then(Value::as_str).map(str::to_string)
    };
    let required = |key: &str| {
        template(Some(agent), key).ok_or_else(|| {
            at_line(
                line_of("agent").or(Some(1)),
                format!("not a mini-swe-agent configuration: `agent.{key}` is missing or not text"),
            )
        })
    };
    let system = required("system_template")?;
    let instance = required("instance_template")?;

    let model_class = template(model, "model_class");
    let text_based = match &model_class {
        Some(class) => class.contains("textbased"),
        None => {
            let asks_for_blocks =
                system.contains("```mswea_bash_command") || instance.contains("```mswea_bash_command");
            notes.push(format!(
                "`model.model_class` is not set: read as {} because its templates {} ```mswea_bash_command blocks",
                if asks_for_blocks { "text-based (litellm_textbased)" } else { "tool calls (litellm)" },
                if asks_for_blocks { "ask for" } else { "do not ask for" }
            ));
            asks_for_blocks
        }
    };
    let info_string = if text_based {
        let regex = template(model, "action_regex").unwrap_or_else(|| DEFAULT_ACTION_REGEX.to_string());
        if let Err(e) = regex::Regex::new(&regex) {
            return Err(at_line(line_of("action_regex"), format!("`model.action_regex` does not compile: {e}")));
        }
        match info_string_of(&regex) {
            Some(info) => Some(info),
            None => {
                notes.push(format!(
                    "`model.action_regex` {regex:?} is not a fenced block with an info string: any fenced block is taken"
                ));
                Some(String::new())
            }
        }
    } else {
        None
    };

    // The templates, renamed and checked as the harness will check them.
    let observation_default = "{% if output.exception_info %}<exception>{{output.exception_info}}</exception>\n{% endif %}<returncode>{{output.returncode}}</returncode>\n<output>\n{{output.output}}</output>";
    let observation = template(model, "observation_template").unwrap_or_else(|| {
        notes.push("`model.observation_template` is not set: mini-swe-agent's default is imported".into());
        observation_default.to_string()
    });
    let format_error = template(model, "format_error_template").unwrap_or_else(|| "{{ error }}".to_string());
    // Each template: its YAML key, the file it becomes, its text, its kind, the variables
    // renamed on the way, and the unmapped names it may keep.
    let pieces: [Piece; 4] = [
        ("agent.system_template", "system.md", &system, TemplateKind::System, COMMON.to_vec(), &[]),
        ("agent.instance_template", "instruction.md", &instance, TemplateKind::Instruction, COMMON.to_vec(), &[]),
        (
            "model.observation_template",
            "observation.md",
            &observation,
            TemplateKind::Observation,
            [COMMON, OBSERVATION].concat(),
            &[],
        ),
        (
            "model.format_error_template",
            "format_error.md",
            &format_error,
            TemplateKind::FormatError,
            COMMON.to_vec(),
            FORMAT_ERROR_KEPT,
        ),
    ];
    let files = translate(pieces, &at_line, &line_of, &mut notes)?;

    // The policy.
    let step_limit = agent.get("step_limit").and_then(Value::as_u64).unwrap_or(0);
    let max_turns = if step_limit == 0 {
        notes.push("`agent.step_limit` is 0 (no limit): max_turns is 1000, the most a harness allows".into());
        1000
    } else {
        step_limit.min(1000)
    };
    let timeout = environment.and_then(|e| e.get("timeout")).and_then(Value::as_u64).unwrap_or(DEFAULT_TIMEOUT);
    let env: Vec<(String, String)> = environment
        .and_then(|e| e.get("env"))
        .and_then(Value::as_mapping)
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.as_str()?.to_string(), scalar(v)?))).collect())
        .unwrap_or_default();
    if let Some(temperature) = model.and_then(|m| m.get("model_kwargs")).and_then(|k| k.get("temperature")) {
        notes.push(format!("`model.model_kwargs.temperature` {temperature:?} becomes policy.temperature"));
    }
    let temperature = model
        .and_then(|m| m.get("model_kwargs"))
        .and_then(|k| k.get("temperature"))
        .and_then(Value::as_f64)
        .unwrap_or(0.0);
    notes.extend(not_imported(&root, agent, environment, model));
    notes.push("commands run in `bash -c`, not mini-swe-agent's login shell `bash -lc`".into());
    notes.push(format!(
        "format errors end the episode after {MOST_PARSE_RETRIES} in a row (mini-swe-agent goes on to its step limit)"
    ));

    let action = match &info_string {
        Some(info) => format!(
            "action_format = \"markdown\"\n\n[policy.markdown]\ninfo_string = {}\nno_block = \"format_error\"\nseveral_blocks = \"format_error\"\n",
            toml_string(info)
        ),
        None => {
            notes.push("each reply's `bash` tool calls run joined, one after the other, as one command".into());
            "action_format = \"tool_calls\"\ncommand_tool = \"bash\"\n".into()
        }
    };
    let env_table = if env.is_empty() {
        String::new()
    } else {
        let lines: Vec<String> = env.iter().map(|(k, v)| format!("{} = {}", toml_key(k), toml_string(v))).collect();
        format!("\n[policy.env]\n{}\n", lines.join("\n"))
    };
    let toml = format!(
        "# Imported from mini-swe-agent's configuration {source} by `self-harness harness import\n\
         # mini-swe-agent`; IMPORTED.md says what did not map.\n\n\
         name = {name}\n\
         description = \"mini-swe-agent's configuration, as a harness.\"\n\n\
         [policy]\n\
         max_turns = {max_turns}\n\
         command_timeout_secs = {timeout}\n\
         parse_retries = {MOST_PARSE_RETRIES}\n\
         completion = \"command\"\n\
         completion_signal = \"{SIGNAL}\"\n\
         shell = \"fresh\"\n\
         temperature = {temperature:?}\n\
         {action}{env_table}\n\
         [policy.output]\n\
         head_bytes = {UNCUT}\n\
         tail_bytes = {UNCUT}\n\n\
         [prompts]\n\
         system = \"system.md\"\n\
         instruction = \"instruction.md\"\n\
         observation = \"observation.md\"\n\
         format_error = \"format_error.md\"\n",
        name = toml_string(name),
    );
    let mut files = files;
    files.insert(0, ("harness.toml".to_string(), toml));
    Ok(Converted { files, notes })
}

/// The configuration's keys that have no place in a harness, one note each.
fn not_imported(root: &Value, agent: &Value, environment: Option<&Value>, model: Option<&Value>) -> Vec<String> {
    let mut found = Vec::new();
    found.extend(unmapped_keys(agent, "agent", &["system_template", "instance_template", "step_limit"]));
    found.extend(environment.map(|e| unmapped_keys(e, "environment", &["env", "timeout"])).unwrap_or_default());
    found.extend(
        model
            .map(|m| {
                unmapped_keys(
                    m,
                    "model",
                    &["observation_template", "format_error_template", "action_regex", "model_class"],
                )
            })
            .unwrap_or_default(),
    );
    for (key, _) in root.as_mapping().into_iter().flatten() {
        if let Some(key) = key.as_str().filter(|k| !["agent", "environment", "model"].contains(k)) {
            found.push(format!("`{key}` is not a harness's concern: not imported"));
        }
    }
    found
}

/// A template to import: its YAML key, the file it becomes, its text, its kind, the
/// variables renamed on the way, and the unmapped names it may keep.
type Piece<'a> = (&'a str, &'a str, &'a str, TemplateKind, Vec<Rename>, &'a [&'a str]);

/// The templates as the harness's files, their variables renamed (each name with no
/// counterpart here noted), each checked as the harness will check it: one that does not
/// compile is refused, at its line.
fn translate(
    pieces: [Piece; 4],
    at_line: &dyn Fn(Option<usize>, String) -> InteropError,
    line_of: &dyn Fn(&str) -> Option<usize>,
    notes: &mut Vec<String>,
) -> Result<Vec<(String, String)>, InteropError> {
    let mut files = Vec::new();
    for (key, file, text_of, kind, renames, kept) in pieces {
        let leaf = key.rsplit('.').next().unwrap_or(key);
        let translated = jinja::rename(text_of, &renames)
            .map_err(|e| at_line(line_of(leaf), format!("`{key}` does not compile: {e}")))?;
        match jinja::unmapped(text_of, &renames, kept) {
            None => {
                return Err(at_line(line_of(leaf), format!("`{key}` does not compile")));
            }
            Some(unknown) if !unknown.is_empty() => notes.push(format!(
                "`{key}` uses {} with no counterpart here: the template will not render until it is rewritten",
                unknown.join(", ")
            )),
            Some(_) => {}
        }
        let problems = crate::harness::check_template(std::path::Path::new(file), &translated, kind);
        if let Some(problem) = problems.iter().find(|d| d.code == "template-syntax") {
            return Err(at_line(line_of(leaf), format!("`{key}` does not compile here: {}", problem.message)));
        }
        files.push((file.to_string(), translated));
    }
    Ok(files)
}

/// A harness as a mini-swe-agent configuration (YAML text), with what it cannot say.
/// Long because it is `import` backwards, key by key, each refusal or note beside the key
/// it concerns.
pub fn export(harness: &Harness) -> Result<Converted, InteropError> {
    let policy = harness.policy();
    let refuse = |message: String| InteropError { file: harness.dir().display().to_string(), line: None, message };
    let mut notes = Vec::new();
    let text_based = match policy.action_format {
        ActionFormat::Markdown => true,
        ActionFormat::ToolCalls => false,
        ActionFormat::Json | ActionFormat::Keystrokes => {
            return Err(refuse(format!(
                "mini-swe-agent has no {} action format: set action_format = \"markdown\" (or \"tool_calls\") first",
                if policy.action_format == ActionFormat::Json { "JSON" } else { "keystrokes" }
            )))
        }
    };
    let mut template = |kind: TemplateKind, renames: &[Rename], kept: &[&str]| -> Result<String, InteropError> {
        let (file, text) = harness.template_text(kind);
        let translated = jinja::rename(&text, renames).map_err(|e| refuse(format!("{file}: {e}")))?;
        if let Some(unknown) = jinja::unmapped(&text, renames, kept).filter(|u| !u.is_empty()) {
            notes.push(format!(
                "{file} uses {}, which mini-swe-agent's templates do not have: it fails there until rewritten",
                unknown.join(", ")
            ));
        }
        Ok(translated)
    };
    let system = template(TemplateKind::System, COMMON_BACK, &[])?;
    let instance = template(TemplateKind::Instruction, COMMON_BACK, &[])?;
    let observation = template(TemplateKind::Observation, &[OBSERVATION_BACK, COMMON_BACK].concat(), &[])?;
    let format_error = template(TemplateKind::FormatError, COMMON_BACK, FORMAT_ERROR_KEPT)?;

    if policy.completion != Completion::Command || policy.completion_signal != SIGNAL {
        notes.push(format!(
            "mini-swe-agent ends an episode only on `{SIGNAL}` as the first output line: completion = {:?} with signal {:?} does not carry over",
            policy.completion, policy.completion_signal
        ));
    }
    if policy.shell == ShellMode::Persistent {
        notes.push(
            "mini-swe-agent runs every command in a fresh shell: shell = \"persistent\" does not carry over".into(),
        );
    }
    let kept = u64::from(policy.output.head_bytes) + u64::from(policy.output.tail_bytes);
    let truncates = kept < 2 * UNCUT;
    if truncates {
        notes.push(
            "mini-swe-agent shows whole outputs to its observation template: [policy.output] does not carry over"
                .into(),
        );
    }
    for (what, on) in [
        ("warn_repeated_failures", policy.warn_repeated_failures),
        ("resample_repeated_failures", policy.resample_repeated_failures > 0),
        ("resample_idle_replies", policy.resample_idle_replies > 0),
        ("refuse_done_after_failure", policy.refuse_done_after_failure),
    ] {
        if on {
            notes.push(format!("policy.{what} has no counterpart in mini-swe-agent"));
        }
    }
    let manifest = harness.manifest();
    for (what, present) in [
        ("notes", !manifest.notes.is_empty()),
        ("tools", !manifest.tools.is_empty()),
        ("hooks", harness.hooks().next().is_some()),
    ] {
        if present {
            notes.push(format!("the harness's {what} have no counterpart in mini-swe-agent: not exported"));
        }
    }

    let mut yaml = String::from("# Exported by `self-harness harness export mini-swe-agent`");
    yaml.push_str(&format!(" from the harness {} ({}).\n", harness.name(), harness.version()));
    yaml.push_str("agent:\n");
    yaml.push_str(&block("system_template", &system, 2));
    yaml.push_str(&block("instance_template", &instance, 2));
    yaml.push_str(&format!("  step_limit: {}\n", policy.max_turns));
    yaml.push_str("environment:\n");
    yaml.push_str(&format!("  timeout: {}\n", policy.command_timeout_secs));
    if !policy.env.is_empty() {
        yaml.push_str("  env:\n");
        for (key, value) in &policy.env {
            yaml.push_str(&format!("    {key}: {}\n", yaml_string(value)));
        }
    }
    yaml.push_str("model:\n");
    if text_based {
        yaml.push_str("  model_class: litellm_textbased\n");
        let info = &policy.markdown.info_string;
        let regex = if info.is_empty() {
            "```[^\\n]*\\n(.*?)\\n```".to_string()
        } else {
            format!("```{}\\s*\\n(.*?)\\n```", regex::escape(info))
        };
        yaml.push_str(&format!("  action_regex: {}\n", yaml_string(&regex)));
    } else if policy.command_tool != "bash" {
        notes.push(format!(
            "mini-swe-agent's tool is `bash`: command_tool {:?} does not carry over",
            policy.command_tool
        ));
    }
    yaml.push_str("  model_kwargs:\n");
    yaml.push_str(&format!("    temperature: {:?}\n", policy.temperature));
    yaml.push_str(&block("observation_template", &observation, 2));
    yaml.push_str(&block("format_error_template", &format_error, 2));
    Ok(Converted { files: vec![("config.yaml".to_string(), yaml)], notes })
}

/// The info string of a fenced-block regex such as ```` ```mswea_bash_command\s*\n(.*?)\n``` ````.
fn info_string_of(regex: &str) -> Option<String> {
    let rest = regex.strip_prefix("```")?;
    let end = rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+')))?;
    let (info, tail) = rest.split_at(end);
    let shape = [r"\s*\n(.*?)\n```", r"\n(.*?)\n```", r"\s*\n(.*?)```"];
    shape.contains(&tail).then(|| info.to_string())
}

/// `key: value` lines the import does not use, as notes.
fn unmapped_keys(table: &Value, section: &str, used: &[&str]) -> Vec<String> {
    let Some(mapping) = table.as_mapping() else { return Vec::new() };
    mapping
        .iter()
        .filter_map(|(k, v)| Some((k.as_str()?, v)))
        .filter(|(k, _)| !used.contains(k))
        .map(|(k, v)| format!("`{section}.{k}` ({}) has no counterpart in a harness: not imported", short(v)))
        .collect()
}

fn short(value: &Value) -> String {
    let text = scalar(value).unwrap_or_else(|| serde_yaml_ng::to_string(value).unwrap_or_default().trim().to_string());
    let text = text.replace('\n', " ");
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

/// A scalar's text: strings as they are, numbers and booleans as YAML writes them.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The 1-based line of the first `key:` in a YAML text.
fn key_line(text: &str, key: &str) -> Option<usize> {
    text.lines().position(|l| l.trim_start().starts_with(&format!("{key}:"))).map(|i| i + 1)
}

fn toml_key(key: &str) -> String {
    if key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A YAML double-quoted scalar (JSON's string syntax is one): always a string, whatever
/// YAML 1.1 readers make of `off` or `1e3`.
fn yaml_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}

/// `key: |-` and `text` indented under it (a literal block keeps every character).
fn block(key: &str, text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let inner = " ".repeat(indent + 2);
    let chomp = if text.ends_with('\n') { "|" } else { "|-" };
    let mut out = format!("{pad}{key}: {chomp}\n");
    for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
        if line.is_empty() {
            out.push('\n');
        } else {
            out.push_str(&format!("{inner}{line}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fenced_block_regex_gives_its_info_string() {
        assert_eq!(info_string_of(DEFAULT_ACTION_REGEX).as_deref(), Some("mswea_bash_command"));
        assert_eq!(info_string_of(r"```bash\n(.*?)\n```").as_deref(), Some("bash"));
        assert_eq!(info_string_of(r"<cmd>(.*?)</cmd>"), None);
    }

    #[test]
    fn bad_input_is_refused_with_the_file_and_the_line() {
        let error = import("agent: [1, 2", "c.yaml", "x").unwrap_err();
        assert!(error.to_string().starts_with("c.yaml:"), "{error}");
        let error = import("model:\n  x: 1\n", "c.yaml", "x").unwrap_err();
        assert_eq!((error.line, error.message.contains("no `agent` section")), (Some(1), true), "{error}");
        let text = "agent:\n  system_template: hi\n  instance_template: |\n    {{ task\n";
        let error = import(text, "c.yaml", "x").unwrap_err();
        assert_eq!(error.line, Some(3), "{error}");
        let text = "agent:\n  system_template: hi\n  instance_template: '{{task}}'\nmodel:\n  model_class: litellm_textbased\n  action_regex: '```(unclosed'\n";
        let error = import(text, "c.yaml", "x").unwrap_err();
        assert_eq!((error.line, error.message.contains("does not compile")), (Some(6), true), "{error}");
    }

    #[test]
    fn blocks_keep_every_character() {
        let text = "a\n\n  b: c\n";
        let yaml = format!("x:\n{}", block("t", text, 2));
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(value["x"]["t"].as_str(), Some(text));
        let yaml = format!("x:\n{}", block("t", "no newline", 2));
        let value: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        assert_eq!(value["x"]["t"].as_str(), Some("no newline"));
    }
}
