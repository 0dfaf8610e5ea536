//! Lints `harness.toml` text against the manifest's JSON Schema, with positions:
//! the TOML is parsed with spans (recovering from syntax errors), then walked beside the
//! schema generated from [`Manifest`](super::Manifest), so unknown keys, wrong types,
//! out-of-range values and missing keys are all reported at once, each at its own place.
//! Checks the schema cannot express (duplicate names, paths that leave the folder, a hook
//! the completion rule never runs) follow on the typed manifest.

use std::collections::HashMap;
use std::path::Path;

use serde_json::Value as Json;
use toml::de::{DeTable, DeValue};
use toml::Spanned;

use super::diagnostic::{did_you_mean, HarnessDiagnostic, Range};
use super::manifest::{self, enum_values, object_branch, resolve, types, ActionFormat, Completion, Manifest, NoBlock};

/// Parses and checks `text` as the `harness.toml` at `path`. Returns the manifest when
/// the text has no errors, and every problem found.
pub(crate) fn check_text(path: &Path, text: &str) -> (Option<Manifest>, Vec<HarnessDiagnostic>) {
    let mut out = Vec::new();
    let (root, errors) = DeTable::parse_recoverable(text);
    for error in &errors {
        let range = error.span().map_or_else(Range::file_start, |s| Range::of(text, s));
        out.push(HarnessDiagnostic::error(
            path,
            range,
            "toml-syntax",
            format!("TOML syntax error: {}", error.message().trim_end()),
        ));
    }
    let schema = manifest::json_schema();
    // After a syntax error the recovered tree misses what could not be parsed, so a
    // "missing key" would only echo the syntax error: those are left out then.
    let walker = Walker { path, text, root: schema, report_missing: errors.is_empty() };
    walker.table(root.get_ref(), root.span(), schema, "", &mut out);
    // Tables are walked in key order, not file order; report in file order.
    out.sort_by_key(|d| d.range);
    if !out.is_empty() {
        return (None, out);
    }
    let manifest = match toml::from_str::<Manifest>(text) {
        Ok(manifest) => manifest,
        Err(e) => {
            // The schema walk should have caught this; report serde's own words as a fallback.
            let range = e.span().map_or_else(Range::file_start, |s| Range::of(text, s));
            out.push(HarnessDiagnostic::error(path, range, "invalid-value", e.message().trim_end().to_string()));
            return (None, out);
        }
    };
    semantic(path, text, root.get_ref(), &manifest, &mut out);
    out.sort_by_key(|d| d.range);
    (Some(manifest), out)
}

struct Walker<'a> {
    path: &'a Path,
    text: &'a str,
    root: &'a Json,
    report_missing: bool,
}

impl Walker<'_> {
    fn error(&self, span: std::ops::Range<usize>, code: &'static str, message: String) -> HarnessDiagnostic {
        HarnessDiagnostic::error(self.path, Range::of(self.text, span), code, message)
    }

    fn table(
        &self,
        table: &DeTable,
        span: std::ops::Range<usize>,
        schema: &Json,
        at: &str,
        out: &mut Vec<HarnessDiagnostic>,
    ) {
        let Some(object) = object_branch(self.root, schema) else { return };
        let properties = object.get("properties").and_then(|p| p.as_object());
        let known: Vec<&str> = properties.map(|p| p.keys().map(String::as_str).collect()).unwrap_or_default();
        for (key, value) in table.iter() {
            let name = key.get_ref().as_ref();
            let key_path = if at.is_empty() { name.to_string() } else { format!("{at}.{name}") };
            match properties.and_then(|p| p.get(name)) {
                Some(property) => self.value(value, property, &key_path, out),
                None => {
                    let place = if at.is_empty() { "at the top level".to_string() } else { format!("in [{at}]") };
                    let mut message = format!("unknown key `{name}` {place}");
                    match did_you_mean(name, known.iter().copied()) {
                        Some(suggestion) => message.push_str(&format!("; did you mean `{suggestion}`?")),
                        None if !known.is_empty() => message.push_str(&format!("; known keys: {}", known.join(", "))),
                        None => {}
                    }
                    out.push(self.error(key.span(), "unknown-key", message));
                }
            }
        }
        let required = object.get("required").and_then(|r| r.as_array());
        let required = required.filter(|_| self.report_missing);
        for key in required.into_iter().flatten().filter_map(|k| k.as_str()) {
            if !table.keys().any(|k| k.get_ref().as_ref() == key) {
                let key_path = if at.is_empty() { key.to_string() } else { format!("{at}.{key}") };
                let doc = manifest::key_doc(&doc_path(&key_path));
                let hint = doc.map(|d| format!(" ({})", d.description)).unwrap_or_default();
                // The root table's span is the whole file; point at its start instead.
                let span = if at.is_empty() { 0..0 } else { span.clone() };
                out.push(self.error(span, "missing-key", format!("missing required key `{key_path}`{hint}; add it")));
            }
        }
    }

    fn value(&self, value: &Spanned<DeValue>, schema: &Json, at: &str, out: &mut Vec<HarnessDiagnostic>) {
        let schema = resolve(self.root, schema);
        let span = value.span();
        let expected = types(self.root, schema);
        let description = manifest::describe_kind(self.root, schema);
        let actual = value.get_ref();
        let matches = expected.iter().any(|t| match t.as_str() {
            "object" => actual.is_table(),
            "array" => actual.is_array(),
            "string" => actual.is_str(),
            "integer" => actual.is_integer(),
            "number" => actual.is_integer() || actual.is_float(),
            "boolean" => actual.is_bool(),
            _ => false,
        });
        if !matches {
            out.push(self.error(
                span,
                "wrong-type",
                format!("`{at}` must be {}, found {}", with_article(&description), actual.type_str()),
            ));
            return;
        }
        let concrete = manifest::branches(self.root, schema)
            .into_iter()
            .find(|b| {
                let t = b.get("type").and_then(|t| t.as_str());
                match actual {
                    DeValue::Table(_) => b.get("properties").is_some(),
                    DeValue::Array(_) => t == Some("array"),
                    _ => true,
                }
            })
            .unwrap_or(schema);
        match actual {
            DeValue::Table(table) => self.table(table, span, concrete, at, out),
            DeValue::Array(items) => {
                if let Some(item_schema) = concrete.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.value(item, item_schema, &format!("{at}[{i}]"), out);
                    }
                }
            }
            DeValue::String(s) => {
                if let Some(values) = enum_values(self.root, schema) {
                    if !values.iter().any(|v| v == s.as_ref()) {
                        let quoted: Vec<_> = values.iter().map(|v| format!("\"{v}\"")).collect();
                        let mut message = format!("`{at}` must be one of {}, found \"{s}\"", quoted.join(", "));
                        if let Some(suggestion) = did_you_mean(s, values.iter().map(String::as_str)) {
                            message.push_str(&format!("; did you mean \"{suggestion}\"?"));
                        }
                        out.push(self.error(span.clone(), "invalid-value", message));
                    }
                }
                let length = s.chars().count() as u64;
                if let Some(min) = concrete.get("minLength").and_then(|m| m.as_u64()) {
                    if length < min {
                        let message = if min == 1 {
                            format!("`{at}` must not be empty")
                        } else {
                            format!("`{at}` must be at least {min} characters long")
                        };
                        out.push(self.error(span.clone(), "out-of-range", message));
                    }
                }
                if let Some(max) = concrete.get("maxLength").and_then(|m| m.as_u64()) {
                    if length > max {
                        out.push(self.error(
                            span,
                            "out-of-range",
                            format!("`{at}` must be at most {max} characters long, found {length}"),
                        ));
                    }
                }
            }
            DeValue::Integer(i) => {
                let number = i128::from_str_radix(i.as_str(), i.radix()).ok();
                self.range(number.map(|n| n as f64), &i.to_string(), concrete, span, at, out);
            }
            DeValue::Float(f) => {
                if expected.iter().any(|t| t == "integer") && !expected.iter().any(|t| t == "number") {
                    out.push(self.error(
                        span,
                        "wrong-type",
                        format!("`{at}` must be {}, found float", with_article(&description)),
                    ));
                    return;
                }
                let number = f.as_str().replace('_', "").parse::<f64>().ok().filter(|n| n.is_finite());
                self.range(number, f.as_str(), concrete, span, at, out);
            }
            DeValue::Boolean(_) | DeValue::Datetime(_) => {}
        }
    }

    fn range(
        &self,
        number: Option<f64>,
        shown: &str,
        schema: &Json,
        span: std::ops::Range<usize>,
        at: &str,
        out: &mut Vec<HarnessDiagnostic>,
    ) {
        let min = schema.get("minimum").and_then(|m| m.as_f64());
        let max = schema.get("maximum").and_then(|m| m.as_f64());
        let inside = number.is_some_and(|n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m));
        if !inside && (min.is_some() || max.is_some() || number.is_none()) {
            let bounds = match (min, max) {
                (Some(min), Some(max)) => format!("between {min} and {max}"),
                (Some(min), None) => format!("at least {min}"),
                (None, Some(max)) => format!("at most {max}"),
                (None, None) => "a finite number".to_string(),
            };
            out.push(self.error(span, "out-of-range", format!("`{at}` must be {bounds}, found {shown}")));
        }
    }
}

/// `tools[1].name` → `tools[].name`, the form [`manifest::key_docs`] uses.
fn doc_path(path: &str) -> String {
    let mut out = String::new();
    let mut in_index = false;
    for c in path.chars() {
        match c {
            '[' => {
                in_index = true;
                out.push_str("[]");
            }
            ']' => in_index = false,
            _ if in_index => {}
            _ => out.push(c),
        }
    }
    out
}

fn with_article(kind: &str) -> String {
    if kind.starts_with("one of") {
        kind.to_string()
    } else if kind.starts_with(['a', 'e', 'i', 'o', 'u']) {
        format!("an {kind}")
    } else {
        format!("a {kind}")
    }
}

/// Looks up the span of a value by its path (`["tools", "1", "name"]`).
pub(crate) fn span_of(root: &DeTable, path: &[&str]) -> Option<std::ops::Range<usize>> {
    let (first, rest) = path.split_first()?;
    let value = root.get(*first)?;
    let mut current: &Spanned<DeValue> = value;
    for segment in rest {
        current = match current.get_ref() {
            DeValue::Table(t) => t.get(*segment)?,
            DeValue::Array(a) => a.get(segment.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(current.span())
}

/// The span of the key (not its value) at the end of `path`, in a table.
fn key_span_of(root: &DeTable, path: &[&str]) -> Option<std::ops::Range<usize>> {
    let (last, parents) = path.split_last()?;
    let table = match parents {
        [] => root,
        _ => match span_of_value(root, parents)? {
            DeValue::Table(table) => table,
            _ => return None,
        },
    };
    table.iter().find(|(key, _)| key.get_ref() == last).map(|(key, _)| key.span())
}

/// The value at `path`, if there is one.
fn span_of_value<'a>(root: &'a DeTable, path: &[&str]) -> Option<&'a DeValue<'a>> {
    let (first, rest) = path.split_first()?;
    let mut current: &Spanned<DeValue> = root.get(*first)?;
    for segment in rest {
        current = match current.get_ref() {
            DeValue::Table(t) => t.get(*segment)?,
            _ => return None,
        };
    }
    Some(current.get_ref())
}

/// A file name is safe for a tool or note name: it becomes a file in the container.
fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Checks on the typed manifest that the schema cannot express. Long because it is a list
/// of independent checks of a few lines each, in the order of the manifest's keys.
fn semantic(path: &Path, text: &str, root: &DeTable, manifest: &Manifest, out: &mut Vec<HarnessDiagnostic>) {
    let at = |segments: &[&str]| span_of(root, segments).map_or_else(Range::file_start, |s| Range::of(text, s));
    for (kind, names) in [
        ("tools", manifest.tools.iter().map(|t| t.name.as_str()).collect::<Vec<_>>()),
        ("notes", manifest.notes.iter().map(|n| n.name.as_str()).collect()),
    ] {
        let mut seen: HashMap<&str, usize> = HashMap::new();
        for (i, name) in names.iter().enumerate() {
            let index = i.to_string();
            let range = at(&[kind, &index, "name"]);
            if !valid_name(name) {
                out.push(HarnessDiagnostic::error(
                    path,
                    range,
                    "invalid-name",
                    format!("`{kind}[{i}].name` \"{name}\" must start with a letter or digit and hold only letters, digits, '_', '-' and '.'"),
                ));
            }
            if let Some(first) = seen.get(name) {
                out.push(HarnessDiagnostic::error(
                    path,
                    range,
                    "duplicate-name",
                    format!(
                        "duplicate name \"{name}\" in [[{kind}]] (first used by entry {}); rename one of them",
                        first + 1
                    ),
                ));
            } else {
                seen.insert(name, i);
            }
        }
    }
    for (segments, file) in referenced_files(manifest) {
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        if let Some(problem) = path_problem(&file) {
            out.push(HarnessDiagnostic::error(path, at(&segments), "path-outside", format!("\"{file}\" {problem}")));
        }
    }
    let policy = &manifest.policy;
    let written = |segments: &[&str]| span_of(root, segments).is_some();
    if policy.action_format == ActionFormat::Markdown
        && policy.markdown.no_block == NoBlock::FormatError
        && policy.completion != Completion::Command
    {
        out.push(HarnessDiagnostic::error(
            path,
            at(&["policy", "action_format"]),
            "no-way-to-finish",
            "with action_format = \"markdown\" a reply can say done only without a code block: set no_block = \"done\" in [policy.markdown], or completion = \"command\" (the agent finishes by printing completion_signal)",
        ));
    }
    if policy.action_format != ActionFormat::Markdown && written(&["policy", "markdown"]) {
        out.push(HarnessDiagnostic::warning(
            path,
            at(&["policy", "markdown"]),
            "unused-key",
            "[policy.markdown] is read only with action_format = \"markdown\"",
        ));
    }
    if policy.action_format == ActionFormat::Keystrokes && written(&["policy", "shell"]) {
        out.push(HarnessDiagnostic::warning(
            path,
            at(&["policy", "shell"]),
            "unused-key",
            "policy.shell is not read with action_format = \"keystrokes\": the agent types into one terminal for the whole episode",
        ));
    }
    if policy.completion != Completion::Command && written(&["policy", "completion_signal"]) {
        out.push(HarnessDiagnostic::warning(
            path,
            at(&["policy", "completion_signal"]),
            "unused-key",
            "completion_signal is read only with completion = \"command\"",
        ));
    }
    for name in policy.env.keys() {
        let identifier = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !identifier {
            let key =
                key_span_of(root, &["policy", "env", name]).map_or_else(Range::file_start, |s| Range::of(text, s));
            out.push(HarnessDiagnostic::error(
                path,
                key,
                "invalid-name",
                format!("`policy.env` key \"{name}\" is not a variable name: letters, digits and '_', not starting with a digit"),
            ));
        }
    }
    let hook = manifest.hooks.before_completion.is_some();
    match manifest.policy.completion {
        Completion::DeclareAfterCheck if !hook => out.push(HarnessDiagnostic::error(
            path,
            at(&["policy", "completion"]),
            "missing-hook",
            "completion = \"declare_after_check\" needs a check to run: add [hooks.before_completion] with a `file`, or use completion = \"declare\"",
        )),
        Completion::Declare if hook => out.push(HarnessDiagnostic::warning(
            path,
            at(&["hooks", "before_completion"]),
            "unused-hook",
            "the before_completion hook never runs with completion = \"declare\"; set completion = \"declare_after_check\" in [policy] or remove the hook",
        )),
        _ => {}
    }
}

/// Why a referenced path is not acceptable, if it is not: it must be relative and stay
/// inside the harness folder, so the folder alone defines the harness.
fn path_problem(file: &str) -> Option<&'static str> {
    let p = Path::new(file);
    if p.is_absolute() || file.starts_with('/') || file.starts_with('\\') {
        return Some("is an absolute path; name files relative to the harness folder");
    }
    if p.components().any(|c| matches!(c, std::path::Component::ParentDir)) || file.contains('\\') {
        return Some("leaves the harness folder; keep every file inside it (no `..`, `/` as the separator)");
    }
    None
}

/// Every file the manifest names, with the path of its key.
pub(crate) fn referenced_files(manifest: &Manifest) -> Vec<(Vec<String>, String)> {
    let key = |parts: &[&str]| parts.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut files = vec![
        (key(&["prompts", "system"]), manifest.prompts.system.clone()),
        (key(&["prompts", "instruction"]), manifest.prompts.instruction.clone()),
    ];
    for (name, file) in
        [("observation", &manifest.prompts.observation), ("format_error", &manifest.prompts.format_error)]
    {
        if let Some(file) = file {
            files.push((key(&["prompts", name]), file.clone()));
        }
    }
    for (i, note) in manifest.notes.iter().enumerate() {
        files.push((key(&["notes", &i.to_string(), "file"]), note.file.clone()));
    }
    for (i, tool) in manifest.tools.iter().enumerate() {
        files.push((key(&["tools", &i.to_string(), "file"]), tool.file.clone()));
    }
    if let Some(hook) = &manifest.hooks.on_start {
        files.push((key(&["hooks", "on_start", "file"]), hook.file.clone()));
    }
    if let Some(hook) = &manifest.hooks.before_completion {
        files.push((key(&["hooks", "before_completion", "file"]), hook.file.clone()));
    }
    if let Some(hook) = &manifest.hooks.after_command {
        files.push((key(&["hooks", "after_command", "file"]), hook.file.clone()));
    }
    files
}
