//! A harness is a folder that entirely defines the agent's behaviour: `harness.toml` (the
//! [`Manifest`]: runtime policy and the files it names) plus Markdown prompt templates,
//! notes, tool scripts and hooks. Everything the self-improvement loop may edit is a plain
//! file here, so an edit is a diff a person can read. This module loads and checks a
//! folder (reporting every problem at once, with positions, for the editor), hashes it into
//! a version id, and renders its prompts. The format is documented in
//! `harnesses/README.md`; its JSON Schema is `harnesses/harness.schema.json`.

mod action;
mod diagnostic;
pub mod interop;
mod lint;
mod locate;
mod manifest;
mod scripts;
mod template;

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

pub use action::{Action, ActionError, Keystrokes, LONGEST_WAIT};
pub use diagnostic::{HarnessDiagnostic, Position, Range, Severity};
pub use locate::locate_surface;
pub use manifest::{
    defaults, json_schema, json_schema_text, key_doc, key_docs, ActionFormat, Completion, ContextOverflow, HookRef,
    Hooks, KeyDoc, Manifest, MarkdownPolicy, NoBlock, NoteRef, OutputPolicy, Policy, Prompts, SeveralBlocks, ShellMode,
    ToolRef,
};
pub use scripts::{syntax_error, Interpreter};
pub use template::{
    check_template, PromptContext, TemplateKind, Uname, FORMAT_ERROR_VARIABLES, OBSERVATION_VARIABLES,
    TEMPLATE_VARIABLES,
};

/// The manifest's file name inside a harness folder.
pub const MANIFEST_FILE: &str = "harness.toml";
/// Where tools are copied in the container (`<TOOLS_DIR>/<name>`); the runner puts it on PATH.
pub const TOOLS_DIR: &str = "/opt/harness/tools";
/// Where hooks are copied in the container (`<HOOKS_DIR>/on_start`, `…/after_command`, …).
pub const HOOKS_DIR: &str = "/opt/harness/hooks";
/// Hex digits of the sha256 kept in a version id.
pub const VERSION_LEN: usize = 12;

/// A loaded, valid harness folder.
#[derive(Debug, Clone)]
pub struct Harness {
    dir: PathBuf,
    manifest: Manifest,
    system: String,
    instruction: String,
    /// The texts of `prompts.observation` and `prompts.format_error`, when named.
    observation: Option<String>,
    format_error: Option<String>,
    notes: Vec<Note>,
    tools: Vec<Tool>,
    on_start: Option<Hook>,
    before_completion: Option<Hook>,
    after_command: Option<Hook>,
    version: String,
    warnings: Vec<HarnessDiagnostic>,
}

/// A note (skill) with its text.
#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub name: String,
    /// Path relative to the harness folder.
    pub file: String,
    pub text: String,
}

/// A tool script, ready to be copied into the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    /// Path relative to the harness folder.
    pub file: String,
    pub description: String,
    pub usage: String,
    pub script: Vec<u8>,
}

impl Tool {
    /// Where the tool lives in the container: `/opt/harness/tools/<name>`.
    pub fn container_path(&self) -> String {
        format!("{TOOLS_DIR}/{}", self.name)
    }
}

/// A hook script, ready to be copied into the container.
#[derive(Debug, Clone, PartialEq)]
pub struct Hook {
    /// Path relative to the harness folder.
    pub file: String,
    pub timeout: Duration,
    pub script: Vec<u8>,
    /// Where it is copied in the container, e.g. `/opt/harness/hooks/before_completion`.
    pub container_path: String,
}

/// The first user message: the rendered instruction, followed by what the on-start hook
/// printed (as the model was shown it), if anything.
pub fn first_message(instruction: &str, on_start_shown: Option<&str>) -> String {
    match on_start_shown.map(str::trim_end).filter(|s| !s.trim().is_empty()) {
        Some(said) => format!("{}\n\n{said}", instruction.trim_end()),
        None => instruction.to_string(),
    }
}

/// What a command did, as `prompts.observation` sees it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Observation {
    pub command: String,
    /// `None` when the command was stopped at its timeout.
    pub exit_code: Option<i64>,
    /// The output as `[policy.output]` cut it.
    pub output: String,
    pub truncated: bool,
    pub omitted_bytes: u64,
    pub timed_out: bool,
    pub timeout_secs: u64,
    /// Why the runner stopped the command, or "".
    pub exception_info: String,
}

/// What the parser found wrong with a reply, as `prompts.format_error` sees it.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FormatError {
    pub error: String,
    /// The commands the reply held.
    pub actions: Vec<String>,
    /// Why the model stopped writing (`stop`, `length`, `tool_calls`).
    pub finish_reason: String,
    pub has_tool_calls: bool,
}

/// A prompt template failed to render (e.g. it used an attribute that does not exist).
#[derive(Debug, thiserror::Error)]
#[error("{path}: {message}; fix the template")]
pub struct RenderError {
    pub path: PathBuf,
    pub message: String,
}

/// A harness folder that does not load, with every problem in it: the one message the
/// command line, the editor and the loop give for it.
#[derive(Debug, thiserror::Error)]
#[error("the harness {} does not load:\n  {}", dir.display(), problems.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("\n  "))]
pub struct LoadError {
    pub dir: PathBuf,
    pub problems: Vec<HarnessDiagnostic>,
}

impl Harness {
    /// [`Harness::load`] for a caller that reports the problems rather than shows them
    /// one by one where they are.
    pub fn open(dir: impl AsRef<Path>) -> Result<Harness, LoadError> {
        let dir = dir.as_ref();
        Harness::load(dir).map_err(|problems| LoadError { dir: dir.to_path_buf(), problems })
    }

    /// Loads the harness folder `dir`, or returns every problem in it (errors and
    /// warnings). A harness that loads keeps its warnings in [`Harness::warnings`].
    pub fn load(dir: impl AsRef<Path>) -> Result<Harness, Vec<HarnessDiagnostic>> {
        let dir = dir.as_ref();
        let manifest_path = dir.join(MANIFEST_FILE);
        let text = match std::fs::read(&manifest_path) {
            Ok(bytes) => match String::from_utf8(bytes) {
                Ok(text) => text,
                Err(e) => {
                    let at = Range::of(
                        &String::from_utf8_lossy(e.as_bytes()),
                        e.utf8_error().valid_up_to()..e.utf8_error().valid_up_to(),
                    );
                    return Err(vec![HarnessDiagnostic::error(
                        &manifest_path,
                        at,
                        "not-utf8",
                        "harness.toml is not valid UTF-8; save it as UTF-8",
                    )]);
                }
            },
            Err(e) => {
                return Err(vec![HarnessDiagnostic::error(
                    &manifest_path,
                    Range::file_start(),
                    "file-missing",
                    format!(
                        "cannot read {}: {e}; a harness folder needs a harness.toml (see harnesses/minimal/)",
                        manifest_path.display()
                    ),
                )])
            }
        };
        let checked = check(&manifest_path, &text, true);
        let (Some(manifest), files) = (checked.manifest, checked.files) else { return Err(checked.diagnostics) };
        if checked.diagnostics.iter().any(HarnessDiagnostic::is_error) {
            return Err(checked.diagnostics);
        }
        let text_of = |file: &str| {
            String::from_utf8_lossy(files.get(&normalize(file)).map_or(&[][..], Vec::as_slice)).into_owned()
        };
        let bytes_of = |file: &str| files.get(&normalize(file)).cloned().unwrap_or_default();
        let hook = |name: &str, h: &HookRef| Hook {
            file: h.file.clone(),
            timeout: Duration::from_secs(h.timeout_secs.into()),
            script: bytes_of(&h.file),
            container_path: format!("{HOOKS_DIR}/{name}"),
        };
        let mut hashed = files.clone();
        hashed.insert(MANIFEST_FILE.to_string(), text.clone().into_bytes());
        Ok(Harness {
            dir: dir.to_path_buf(),
            system: text_of(&manifest.prompts.system),
            instruction: text_of(&manifest.prompts.instruction),
            observation: manifest.prompts.observation.as_deref().map(text_of),
            format_error: manifest.prompts.format_error.as_deref().map(text_of),
            notes: manifest
                .notes
                .iter()
                .map(|n| Note { name: n.name.clone(), file: n.file.clone(), text: text_of(&n.file) })
                .collect(),
            tools: manifest
                .tools
                .iter()
                .map(|t| Tool {
                    name: t.name.clone(),
                    file: t.file.clone(),
                    description: t.description.clone(),
                    usage: t.usage.clone(),
                    script: bytes_of(&t.file),
                })
                .collect(),
            on_start: manifest.hooks.on_start.as_ref().map(|h| hook("on_start", h)),
            before_completion: manifest.hooks.before_completion.as_ref().map(|h| hook("before_completion", h)),
            after_command: manifest.hooks.after_command.as_ref().map(|h| hook("after_command", h)),
            version: version_of(&hashed),
            manifest,
            warnings: checked.diagnostics,
        })
    }

    /// The folder the harness was loaded from.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn name(&self) -> &str {
        &self.manifest.name
    }

    pub fn policy(&self) -> &Policy {
        &self.manifest.policy
    }

    pub fn notes(&self) -> &[Note] {
        &self.notes
    }

    pub fn tools(&self) -> &[Tool] {
        &self.tools
    }

    /// The before-completion hook; it runs only with `completion = "declare_after_check"`.
    pub fn before_completion(&self) -> Option<&Hook> {
        self.before_completion.as_ref()
    }

    /// The files of the folder the manifest uses: its prompts, notes, tools and hook.
    pub fn files(&self) -> Vec<String> {
        let prompts = self.manifest.prompts.templates().into_iter().map(|(_, file)| file.to_string());
        let notes = self.notes.iter().map(|n| n.file.clone());
        let tools = self.tools.iter().map(|t| t.file.clone());
        prompts.into_iter().chain(notes).chain(tools).chain(self.hooks().map(|h| h.file.clone())).collect()
    }

    /// Syntax errors of those of its scripts that are among `files` ("tools/x.sh: line 3:
    /// …"): a hook is run by bash, a tool by the interpreter of its `#!` line, which must be
    /// a shell or Python so that it can be checked.
    pub fn script_problems(&self, files: &[&str]) -> Vec<String> {
        let tools = self.tools.iter().map(|t| (&t.file, &t.script, Interpreter::of(&t.script)));
        let hook = self.hooks().map(|h| (&h.file, &h.script, Some(Interpreter::Shell)));
        tools
            .chain(hook)
            .filter(|(file, _, _)| files.contains(&file.as_str()))
            .filter_map(|(file, script, interpreter)| match interpreter {
                None => Some(format!("{file}: its #! line names neither a shell nor Python")),
                Some(interpreter) => syntax_error(script, interpreter).map(|e| format!("{file}: {e}")),
            })
            .collect()
    }

    /// The hook run once before the first turn, if any.
    pub fn on_start(&self) -> Option<&Hook> {
        self.on_start.as_ref()
    }

    /// The hook run after each command, if any.
    pub fn after_command(&self) -> Option<&Hook> {
        self.after_command.as_ref()
    }

    /// Its hooks, each run by bash.
    pub fn hooks(&self) -> impl Iterator<Item = &Hook> {
        self.on_start.iter().chain(&self.before_completion).chain(&self.after_command)
    }

    /// Problems that did not stop the harness from loading.
    pub fn warnings(&self) -> &[HarnessDiagnostic] {
        &self.warnings
    }

    /// The version id: the first 12 hex digits of a sha256 over `harness.toml` and every
    /// file it names (see `harnesses/README.md` for the exact recipe). Equal folders have
    /// equal ids on every machine; any change to any of these files changes it.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The system message for an episode.
    pub fn render_system(&self, context: &PromptContext) -> Result<String, RenderError> {
        self.render(&self.manifest.prompts.system, &self.system, context)
    }

    /// The first user message for an episode (it carries the task's instruction).
    pub fn render_instruction(&self, context: &PromptContext) -> Result<String, RenderError> {
        self.render(&self.manifest.prompts.instruction, &self.instruction, context)
    }

    /// What the model sees after a command ([`Observation`]): `prompts.observation`, or
    /// the built-in text.
    pub fn render_observation(&self, context: &PromptContext, seen: &Observation) -> Result<String, RenderError> {
        let (file, source) = self.template_text(TemplateKind::Observation);
        self.render_with(&file, &source, context, serde_json::to_value(seen).unwrap_or_default())
    }

    /// What the model sees after a reply with no usable action: `prompts.format_error`, or
    /// the action format's built-in text.
    pub fn render_format_error(&self, context: &PromptContext, problem: &FormatError) -> Result<String, RenderError> {
        let (file, source) = self.template_text(TemplateKind::FormatError);
        self.render_with(&file, &source, context, serde_json::to_value(problem).unwrap_or_default())
    }

    /// The file name and text of one of the harness's templates; for an observation or a
    /// format error it does not name, `(built-in …)` and the built-in text.
    pub fn template_text(&self, kind: TemplateKind) -> (String, String) {
        let prompts = &self.manifest.prompts;
        let named = |file: &Option<String>, text: &Option<String>| Some((file.clone()?, text.clone()?));
        match kind {
            TemplateKind::System => (prompts.system.clone(), self.system.clone()),
            TemplateKind::Instruction => (prompts.instruction.clone(), self.instruction.clone()),
            TemplateKind::Observation => named(&prompts.observation, &self.observation)
                .unwrap_or_else(|| ("(built-in observation)".into(), template::DEFAULT_OBSERVATION.into())),
            TemplateKind::FormatError => named(&prompts.format_error, &self.format_error).unwrap_or_else(|| {
                let text = match self.manifest.policy.action_format {
                    ActionFormat::Json => template::DEFAULT_FORMAT_ERROR_JSON,
                    ActionFormat::Markdown => template::DEFAULT_FORMAT_ERROR_MARKDOWN,
                    ActionFormat::Keystrokes => template::DEFAULT_FORMAT_ERROR_KEYSTROKES,
                    ActionFormat::ToolCalls => template::DEFAULT_FORMAT_ERROR,
                };
                ("(built-in format error)".into(), text.into())
            }),
        }
    }

    fn render(&self, file: &str, source: &str, context: &PromptContext) -> Result<String, RenderError> {
        self.render_with(file, source, context, serde_json::json!({}))
    }

    /// Renders a template with the common variables and `extra` (an object) beside them.
    fn render_with(
        &self,
        file: &str,
        source: &str,
        context: &PromptContext,
        extra: serde_json::Value,
    ) -> Result<String, RenderError> {
        let tools: Vec<_> = self
            .tools
            .iter()
            .map(|t| {
                serde_json::json!({
                    "name": t.name, "description": t.description, "usage": t.usage, "path": t.container_path(),
                })
            })
            .collect();
        let notes: Vec<_> = self.notes.iter().map(|n| serde_json::json!({"name": n.name, "text": n.text})).collect();
        let schema = serde_json::to_string_pretty(&action::action_schema()).unwrap_or_default();
        let mut value = serde_json::json!({
            "instruction": context.instruction,
            "task_name": context.task_name,
            "workdir": context.workdir,
            "tools": tools,
            "notes": notes,
            "policy": self.manifest.policy,
            "action_schema": schema,
            "uname": context.uname,
            "terminal": context.terminal,
        });
        if let (Some(all), serde_json::Value::Object(extra)) = (value.as_object_mut(), extra) {
            all.extend(extra);
        }
        template::render(file, source, minijinja::Value::from(minijinja::value::Serde(&value)))
            .map_err(|e| RenderError { path: self.dir.join(file), message: format!("{e:#}") })
    }

    /// The JSON Schema of the action object (`action_format = "json"`).
    pub fn action_schema(&self) -> serde_json::Value {
        action::action_schema()
    }

    /// The `response_format` request field that constrains replies to the action schema.
    pub fn response_format(&self) -> serde_json::Value {
        action::response_format()
    }

    /// The `tools` request field for `action_format = "tool_calls"`: the command tool
    /// (`shell`, or `policy.command_tool`), and `done` unless completion is by a command.
    pub fn tool_spec(&self) -> serde_json::Value {
        let policy = &self.manifest.policy;
        action::tool_spec(&policy.command_tool, policy.completion != Completion::Command)
    }
}

/// Checks the `harness.toml` text `text` that lives (or will live) at `manifest_path`:
/// syntax, keys, types, ranges, names, and — since the editor has the folder on disk — the
/// files it names and the templates in them. For the editor, before the file is saved.
pub fn check_manifest(manifest_path: &Path, text: &str) -> Vec<HarnessDiagnostic> {
    check(manifest_path, text, true).diagnostics
}

/// Like [`check_manifest`], but looks at the text alone, not at the files it names.
pub fn check_manifest_text(manifest_path: &Path, text: &str) -> Vec<HarnessDiagnostic> {
    check(manifest_path, text, false).diagnostics
}

struct Checked {
    manifest: Option<Manifest>,
    diagnostics: Vec<HarnessDiagnostic>,
    /// Contents of the files the manifest names, by normalized relative path.
    files: BTreeMap<String, Vec<u8>>,
}

fn check(manifest_path: &Path, text: &str, with_files: bool) -> Checked {
    let (manifest, mut diagnostics) = lint::check_text(manifest_path, text);
    let mut files = BTreeMap::new();
    let Some(manifest) = manifest else { return Checked { manifest: None, diagnostics, files } };
    if !with_files || diagnostics.iter().any(|d| d.code == "path-outside") {
        return Checked { manifest: Some(manifest), diagnostics, files };
    }
    let dir = manifest_path.parent().unwrap_or(Path::new("."));
    let root = toml::de::DeTable::parse_recoverable(text).0;
    let templates = manifest.prompts.templates();
    let kind_of = |file: &str| templates.iter().find(|(_, f)| *f == file).map(|(kind, _)| *kind);
    let notes: Vec<&str> = manifest.notes.iter().map(|n| n.file.as_str()).collect();
    for (segments, file) in lint::referenced_files(&manifest) {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let range = lint::span_of(root.get_ref(), &segments).map_or_else(Range::file_start, |s| Range::of(text, s));
        let key = segments
            .iter()
            .map(|s| if s.parse::<usize>().is_ok() { "[]" } else { s })
            .collect::<Vec<_>>()
            .join(".")
            .replace(".[]", "[]");
        let path = dir.join(&file);
        let key_normalized = normalize(&file);
        if files.contains_key(&key_normalized) {
            continue;
        }
        // A link inside the folder may lead anywhere (`tools/x.sh -> ~/.ssh/id_rsa`); what it
        // leads to is copied into containers, so it must stay inside the folder.
        if path.exists() && !crate::util::lies_inside(&path, dir) {
            diagnostics.push(HarnessDiagnostic::error(
                manifest_path,
                range,
                "path-outside",
                format!("\"{file}\" (named by `{key}`) is a link that leads outside the harness folder"),
            ));
            continue;
        }
        let bytes = match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => match std::fs::read(&path) {
                Ok(bytes) => bytes,
                Err(e) => {
                    diagnostics.push(HarnessDiagnostic::error(
                        manifest_path,
                        range,
                        "file-missing",
                        format!("cannot read \"{file}\" (named by `{key}`): {e}"),
                    ));
                    continue;
                }
            },
            Ok(_) => {
                diagnostics.push(HarnessDiagnostic::error(
                    manifest_path,
                    range,
                    "file-missing",
                    format!("\"{file}\" (named by `{key}`) is not a file; name a file inside the harness folder"),
                ));
                continue;
            }
            Err(_) => {
                diagnostics.push(HarnessDiagnostic::error(
                    manifest_path,
                    range,
                    "file-missing",
                    format!(
                        "\"{file}\" (named by `{key}`) does not exist in {}; create it or fix the path",
                        dir.display()
                    ),
                ));
                continue;
            }
        };
        let needs_text = kind_of(&file).is_some() || notes.contains(&file.as_str());
        if needs_text {
            match std::str::from_utf8(&bytes) {
                Ok(source) if kind_of(&file).is_some() => {
                    // A file named by two keys is checked as each.
                    for (kind, _) in templates.iter().filter(|(_, f)| *f == file) {
                        diagnostics.extend(check_template(&path, source, *kind));
                    }
                }
                Ok(_) => {}
                Err(e) => {
                    let lossy = String::from_utf8_lossy(&bytes);
                    let at = e.valid_up_to();
                    diagnostics.push(HarnessDiagnostic::error(
                        &path,
                        Range::of(&lossy, at..at),
                        "not-utf8",
                        format!("\"{file}\" is not valid UTF-8; save it as UTF-8"),
                    ));
                }
            }
        }
        files.insert(key_normalized, bytes);
    }
    Checked { manifest: Some(manifest), diagnostics, files }
}

/// A relative path as written in the manifest, with `.` parts dropped and `/` separators.
fn normalize(file: &str) -> String {
    Path::new(file)
        .components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// sha256 over the files sorted by path; each contributes its path (UTF-8), a 0 byte, its
/// length as 8 little-endian bytes, and its content.
fn version_of(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut hasher = Sha256::new();
    for (path, content) in files {
        hasher.update(path.as_bytes());
        hasher.update([0u8]);
        hasher.update((content.len() as u64).to_le_bytes());
        hasher.update(content);
    }
    let mut hex = hex::encode(hasher.finalize());
    hex.truncate(VERSION_LEN);
    hex
}
