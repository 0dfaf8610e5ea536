//! Language features for harness files, from their text alone (plus the folder on disk for
//! the files `harness.toml` names): problems as diagnostics, hover docs for every key,
//! completion of keys and enum values, and go-to-definition from a file name to the file.
//! Everything here is a pure function of a document; the harness module does the checking.

use std::path::{Path, PathBuf};

use tower_lsp::ls_types::{
    CompletionItem, CompletionItemKind, Diagnostic, DiagnosticSeverity, Documentation, MarkupContent, MarkupKind,
    NumberOrString, Position, Range,
};

use super::documents::Document;
use super::weaknesses::SOURCE;
use crate::harness::{self, HarnessDiagnostic, Manifest, Severity, MANIFEST_FILE};

/// What a file is to this server, by its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A `harness.toml`; the harness folder is its parent.
    Manifest,
    /// A template named by the `harness.toml` of `harness` (`prompts.*`), of what kind.
    Template { harness: PathBuf, kind: harness::TemplateKind },
    /// Another file of a harness folder (notes, tools, hooks).
    HarnessFile { harness: PathBuf },
    /// The project configuration, `self-harness.toml`.
    ProjectConfig,
}

/// How far up from a file its harness folder may be (notes/, tools/, hooks/ are one level).
const HARNESS_DEPTH: usize = 3;

/// What `path` is, or `None` for files this server leaves alone.
pub fn kind_of(path: &Path) -> Option<Kind> {
    match path.file_name()?.to_str()? {
        MANIFEST_FILE => return Some(Kind::Manifest),
        "self-harness.toml" => return Some(Kind::ProjectConfig),
        _ => {}
    }
    let harness = path.ancestors().skip(1).take(HARNESS_DEPTH).find(|dir| dir.join(MANIFEST_FILE).is_file())?;
    let relative = path.strip_prefix(harness).ok()?.to_string_lossy().replace('\\', "/");
    let manifest = std::fs::read_to_string(harness.join(MANIFEST_FILE)).ok();
    let manifest: Option<Manifest> = manifest.and_then(|text| toml::from_str(&text).ok());
    let harness = harness.to_path_buf();
    let template = manifest.as_ref().and_then(|m| {
        m.prompts.templates().into_iter().find(|(_, file)| trim_dot(file) == relative).map(|(kind, _)| kind)
    });
    match template {
        Some(kind) => Some(Kind::Template { harness, kind }),
        None => Some(Kind::HarnessFile { harness }),
    }
}

fn trim_dot(path: &str) -> &str {
    path.trim_start_matches("./")
}

/// The problems of a harness document (or the project config), for `path`.
pub fn problems(kind: &Kind, path: &Path, text: &str) -> Vec<Diagnostic> {
    let found = match kind {
        Kind::Manifest => harness::check_manifest(path, text),
        Kind::Template { kind, .. } => harness::check_template(path, text, *kind),
        Kind::HarnessFile { .. } => Vec::new(),
        Kind::ProjectConfig => return config_problems(text),
    };
    found.iter().filter(|d| d.path == path).map(|d| to_lsp(d, text)).collect()
}

/// A harness problem as an LSP diagnostic, its character columns turned into UTF-16.
fn to_lsp(d: &HarnessDiagnostic, text: &str) -> Diagnostic {
    let position = |p: harness::Position| {
        let line = p.line.saturating_sub(1);
        let line_text = text.lines().nth(line).unwrap_or_default();
        let character: usize = line_text.chars().take(p.column.saturating_sub(1)).map(char::len_utf16).sum();
        Position::new(line as u32, character as u32)
    };
    Diagnostic {
        range: Range::new(position(d.range.start), position(d.range.end)),
        severity: Some(match d.severity {
            Severity::Error => DiagnosticSeverity::ERROR,
            Severity::Warning => DiagnosticSeverity::WARNING,
        }),
        code: Some(NumberOrString::String(d.code.to_string())),
        source: Some(SOURCE.to_string()),
        message: d.message.clone(),
        ..Diagnostic::default()
    }
}

/// `self-harness.toml`: its TOML syntax (the CLI reports the rest when it loads it).
fn config_problems(text: &str) -> Vec<Diagnostic> {
    match toml::from_str::<toml::Table>(text) {
        Ok(_) => Vec::new(),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            let range = harness::Range::of(text, span);
            let d = HarnessDiagnostic {
                path: PathBuf::new(),
                range,
                severity: Severity::Error,
                message: e.message().to_string(),
                code: "syntax",
            };
            vec![to_lsp(&d, text)]
        }
    }
}

/// Where the cursor is in `harness.toml`: the table of its line and the key, if any.
struct Spot {
    /// Dotted table path, with `[]` for arrays of tables: `policy.output`, `tools[]`.
    table: String,
    /// The key written on the line, when there is one before `=`.
    key: Option<String>,
    /// Whether the cursor is after the `=`.
    in_value: bool,
}

fn spot(doc: &Document, position: Position) -> Spot {
    let mut table = String::new();
    for n in (0..position.line).rev() {
        let line = doc.line(n);
        let line = line.trim();
        if let Some(header) = line.strip_prefix("[[").and_then(|l| l.split("]]").next()) {
            table = format!("{}[]", header.trim());
            break;
        }
        if let Some(header) = line.strip_prefix('[').and_then(|l| l.split(']').next()) {
            table = header.trim().to_string();
            break;
        }
    }
    let line = doc.line(position.line);
    let cursor: usize = {
        let mut units = 0;
        line.chars()
            .take_while(|c| {
                units += c.len_utf16();
                units <= position.character as usize
            })
            .map(char::len_utf8)
            .sum()
    };
    let (key, in_value) = match line.split_once('=') {
        Some((lhs, _)) => (Some(lhs.trim().trim_matches('"').to_string()), cursor > lhs.len()),
        None => (None, false),
    };
    Spot { table, key: key.filter(|k| !k.is_empty() && !k.starts_with('#') && !k.starts_with('[')), in_value }
}

fn join(table: &str, key: &str) -> String {
    if table.is_empty() {
        key.to_string()
    } else {
        format!("{table}.{key}")
    }
}

/// Markdown docs of the key at `position` of a `harness.toml`.
pub fn hover(doc: &Document, position: Position) -> Option<String> {
    if position.line as usize >= doc.rope.len_lines() {
        return None;
    }
    let spot = spot(doc, position);
    let path = match &spot.key {
        Some(key) => join(&spot.table, key),
        None if !spot.table.is_empty() => spot.table.clone(),
        None => return None,
    };
    let doc = harness::key_doc(&path)?;
    let mut text = format!("**`{}`** — {}\n\n{}", doc.path, doc.kind, doc.description);
    if let Some(default) = &doc.default {
        text.push_str(&format!("\n\nDefault: `{default}`"));
    }
    if doc.required {
        text.push_str("\n\nRequired.");
    }
    Some(text)
}

/// Completions at `position` of a `harness.toml`: the keys of the current table, or the
/// values of an enum after `=`.
pub fn completion(doc: &Document, position: Position) -> Vec<CompletionItem> {
    let spot = spot(doc, position);
    if spot.in_value {
        let Some(key) = &spot.key else { return Vec::new() };
        let Some(key_doc) = harness::key_doc(&join(&spot.table, key)) else { return Vec::new() };
        return enum_values(&key_doc.kind)
            .into_iter()
            .map(|value| CompletionItem {
                label: format!("\"{value}\""),
                kind: Some(CompletionItemKind::ENUM_MEMBER),
                detail: Some(key_doc.path.clone()),
                ..CompletionItem::default()
            })
            .collect();
    }
    let prefix = if spot.table.is_empty() { String::new() } else { format!("{}.", spot.table) };
    harness::key_docs()
        .iter()
        .filter_map(|d| {
            let rest = d.path.strip_prefix(&prefix)?;
            (!rest.contains('.') && !rest.contains('[')).then(|| CompletionItem {
                label: rest.to_string(),
                kind: Some(CompletionItemKind::PROPERTY),
                detail: Some(d.kind.clone()),
                documentation: Some(Documentation::MarkupContent(MarkupContent {
                    kind: MarkupKind::Markdown,
                    value: d.description.clone(),
                })),
                insert_text: Some(format!("{rest} = ")),
                ..CompletionItem::default()
            })
        })
        .collect()
}

/// The quoted values of a kind written as `one of "json", "tool_calls"`.
fn enum_values(kind: &str) -> Vec<String> {
    if !kind.starts_with("one of") {
        return Vec::new();
    }
    kind.split('"').skip(1).step_by(2).map(str::to_string).collect()
}

/// The file named by the string under the cursor in a `harness.toml`, when it exists.
pub fn definition(doc: &Document, position: Position, harness_dir: &Path) -> Option<PathBuf> {
    let line = doc.line(position.line);
    let (_, value) = line.split_once('=')?;
    let name = value.trim().trim_matches('"').trim_matches('\'');
    let path = harness_dir.join(name);
    (!name.is_empty() && path.is_file()).then_some(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minimal() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")
    }

    #[test]
    fn files_are_recognised_by_location() {
        let dir = minimal();
        assert_eq!(kind_of(&dir.join("harness.toml")), Some(Kind::Manifest));
        let harness = dir.clone();
        assert_eq!(
            kind_of(&dir.join("system.md")),
            Some(Kind::Template { harness: harness.clone(), kind: crate::harness::TemplateKind::System })
        );
        assert_eq!(kind_of(&dir.join("notes/x.md")), Some(Kind::HarnessFile { harness }));
        assert_eq!(kind_of(Path::new("/etc/hosts")), None);
        assert_eq!(kind_of(Path::new("/p/self-harness.toml")), Some(Kind::ProjectConfig));
    }

    #[test]
    fn syntax_errors_and_unknown_keys_with_utf16_ranges() {
        let path = minimal().join("harness.toml");
        let text = "name = \"é😀\"\nbogus = 1\n";
        let found = problems(&Kind::Manifest, &path, text);
        let unknown = found.iter().find(|d| d.message.contains("bogus")).expect("unknown key reported");
        assert_eq!(unknown.range.start, Position::new(1, 0));
        let broken = problems(&Kind::Manifest, &path, "name = \"é😀\" x\n");
        assert!(broken.iter().any(|d| d.severity == Some(DiagnosticSeverity::ERROR)), "{broken:?}");
        assert!(problems(&Kind::ProjectConfig, &path, "[model\n").len() == 1);
    }

    #[test]
    fn hover_completion_and_definition() {
        let text = std::fs::read_to_string(minimal().join("harness.toml")).unwrap();
        let doc = Document::new(&text, 1);
        let line = |needle: &str| text.lines().position(|l| l.starts_with(needle)).unwrap() as u32;
        let hover_text = hover(&doc, Position::new(line("max_turns"), 2)).unwrap();
        assert!(hover_text.contains("policy.max_turns"), "{hover_text}");
        let values = completion(&doc, Position::new(line("action_format"), 18));
        let labels: Vec<&str> = values.iter().map(|c| c.label.as_str()).collect();
        assert!(labels.contains(&"\"json\"") && labels.contains(&"\"tool_calls\""), "{labels:?}");
        let keys = completion(&doc, Position::new(line("max_turns"), 0));
        assert!(keys.iter().any(|c| c.label == "command_timeout_secs"), "keys of [policy]");
        assert!(!keys.iter().any(|c| c.label == "head_bytes"), "not of [policy.output]");
        let target = definition(&doc, Position::new(line("system"), 12), &minimal()).unwrap();
        assert!(target.ends_with("system.md"));
    }
}
