//! Harbor's Terminus-2 as a harness folder.
//!
//! Terminus-2 (PyPI `harbor`, Apache-2.0) keeps its prompt in a Python format string
//! (`agents/terminus_2/templates/terminus-json-plain.txt`: `{instruction}`,
//! `{terminal_state}`, braces doubled), sent as the first user message with no system
//! message; the model answers with a JSON object of keystroke batches typed into a tmux
//! pane, and marks the task complete twice. [`import`] turns the template into minijinja
//! (`{instruction}` → `{{ instruction }}`, `{terminal_state}` → `{{ terminal }}`) and the
//! rest into `action_format = "keystrokes"`, `completion = "twice"` and the policy that
//! comes nearest; what differs is named in the notes.

use super::{toml_string, Converted, InteropError};
use crate::harness::TemplateKind;

pub const DIST: &str = "harbor";
pub const MODULE: &str = "harbor";
/// The version the import is tested with.
pub const PINNED: &str = "0.25.0";
pub const INSTALL_HINT: &str =
    "pip install harbor==0.25.0 (Python 3.12 or later; scripts/setup-harbor.sh installs it in .venv-harbor)";
/// Terminus-2's JSON prompt, in the package.
pub const TEMPLATE: &str = "agents/terminus_2/templates/terminus-json-plain.txt";

/// Terminus-2's variables and what they are called here.
const VARIABLES: [(&str, &str); 2] = [("instruction", "instruction"), ("terminal_state", "terminal")];

/// What Terminus-2 shows of a look: its first and last 5,000 bytes.
const SHOWN_HALF: u32 = 5000;

/// How long one reply's keystrokes may take in all (Terminus-2 waits at most 60 s per batch
/// and bounds nothing else; 180 s is its own limit for a command it waits on).
const REPLY_TIME: u32 = 180;

/// Terminus-2's prompt (`text`, read from `source`) as the files of a harness folder
/// named `name`.
pub fn import(text: &str, source: &str, name: &str) -> Result<Converted, InteropError> {
    let mut notes = Vec::new();
    let instruction = jinja_of_format(text, source, &mut notes)?;
    let problems =
        crate::harness::check_template(std::path::Path::new("instruction.md"), &instruction, TemplateKind::Instruction);
    if let Some(problem) = problems.iter().find(|d| d.code == "template-syntax") {
        return Err(InteropError {
            file: source.to_string(),
            line: None,
            message: format!("does not compile here: {}", problem.message),
        });
    }
    notes.extend([
        "Terminus-2 sends no system message; system.md is empty, so the model gets an empty one".to_string(),
        "the pane is script(1) on a pseudo-terminal, rendered by a VT100 emulator, not tmux: the same keys, \
         the same 160×40 screen, but no tmux key names beyond the common ones (C-x, M-x, Enter, Escape, Tab, \
         BSpace, Space, arrows, Home, End, PageUp, PageDown, Delete)"
            .into(),
        "parser warnings (extra text around the JSON, a missing duration) are not shown to the model; \
         a reply that does not parse gets this program's format error, not Terminus-2's words"
            .into(),
        "the question after the first task_complete is this program's, in its own words".into(),
        format!(
            "the output marker is this program's; Terminus-2 shows the first and last {SHOWN_HALF} bytes of a look too"
        ),
        "Terminus-2 summarizes the conversation when it fills the context; here the oldest turns are dropped".into(),
        format!(
            "Terminus-2 bounds only each batch's wait (60 s); here one reply's keystrokes take at most {REPLY_TIME} s"
        ),
        "Terminus-2 runs until its episode limit (1,000,000 by default); max_turns is 1000, the most a harness allows"
            .into(),
        "format errors end the episode after 20 in a row (Terminus-2 goes on)".into(),
        "Terminus-2 leaves the temperature to the model's server; policy.temperature is 0.7".into(),
        "templates/timeout.txt is not imported: Terminus-2 shows it only when a command it waits on times out, \
         and it waits on none of the model's keystrokes"
            .into(),
        "Terminus-2's XML variant (terminus-xml-plain.txt) is not imported".into(),
    ]);
    let toml = format!(
        "# Imported from Terminus-2's prompt {source} by `self-harness harness import\n\
         # terminus-2`; IMPORTED.md says what did not map.\n\n\
         name = {name}\n\
         description = \"Harbor's Terminus-2 (JSON keystrokes), as a harness.\"\n\n\
         [policy]\n\
         max_turns = 1000\n\
         command_timeout_secs = {REPLY_TIME}\n\
         parse_retries = 20\n\
         action_format = \"keystrokes\"\n\
         completion = \"twice\"\n\
         on_context_overflow = \"drop_oldest_turns\"\n\
         temperature = 0.7\n\n\
         [policy.output]\n\
         head_bytes = {SHOWN_HALF}\n\
         tail_bytes = {SHOWN_HALF}\n\
         marker = \"\\n[... {{omitted_bytes}} bytes of the terminal omitted ...]\\n\"\n\n\
         [prompts]\n\
         system = \"system.md\"\n\
         instruction = \"instruction.md\"\n\
         observation = \"observation.md\"\n",
        name = toml_string(name),
    );
    let files = vec![
        ("harness.toml".to_string(), toml),
        ("system.md".to_string(), String::new()),
        ("instruction.md".to_string(), instruction),
        // Terminus-2's next message is the look itself.
        ("observation.md".to_string(), "{{ output }}".to_string()),
    ];
    Ok(Converted { files, notes })
}

/// A Python format string as a minijinja template: `{{` and `}}` are braces, `{name}` is a
/// variable (renamed by [`VARIABLES`]; another name is kept and noted), and text that
/// minijinja would read as its own syntax is kept raw.
fn jinja_of_format(text: &str, source: &str, notes: &mut Vec<String>) -> Result<String, InteropError> {
    let refuse = |at: usize, message: &str| InteropError {
        file: source.to_string(),
        line: Some(text[..at].matches('\n').count() + 1),
        message: message.to_string(),
    };
    let mut out = String::new();
    let mut literal = String::new();
    let flush = |literal: &mut String, out: &mut String| {
        if ["{{", "{%", "{#", "}}", "%}", "#}"].iter().any(|s| literal.contains(s)) {
            out.push_str(&format!("{{% raw %}}{literal}{{% endraw %}}"));
        } else {
            out.push_str(literal);
        }
        literal.clear();
    };
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            '{' if chars.peek().is_some_and(|(_, n)| *n == '{') => {
                chars.next();
                literal.push('{');
            }
            '}' if chars.peek().is_some_and(|(_, n)| *n == '}') => {
                chars.next();
                literal.push('}');
            }
            '}' => return Err(refuse(at, "a single `}` in a format string (Python refuses it too)")),
            '{' => {
                let mut field = String::new();
                loop {
                    match chars.next() {
                        Some((_, '}')) => break,
                        Some((_, '{')) | None => return Err(refuse(at, "a `{` that is not closed")),
                        Some((_, c)) => field.push(c),
                    }
                }
                if !field.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') || field.is_empty() {
                    return Err(refuse(at, &format!("`{{{field}}}` is not a plain variable (a format spec or index)")));
                }
                let name = match VARIABLES.iter().find(|(theirs, _)| *theirs == field) {
                    Some((_, ours)) => ours.to_string(),
                    None => {
                        notes.push(format!(
                            "`{{{field}}}` has no counterpart here: the template will not render until it is rewritten"
                        ));
                        field
                    }
                };
                flush(&mut literal, &mut out);
                out.push_str(&format!("{{{{ {name} }}}}"));
            }
            c => literal.push(c),
        }
    }
    flush(&mut literal, &mut out);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_format_string_becomes_a_template_that_renders_the_same() {
        let text = "Reply as {{\"a\": 1}}.\n\nTask:\n{instruction}\n\nScreen:\n{terminal_state}\n";
        let mut notes = Vec::new();
        let template = jinja_of_format(text, "t.txt", &mut notes).unwrap();
        assert_eq!(template, "Reply as {\"a\": 1}.\n\nTask:\n{{ instruction }}\n\nScreen:\n{{ terminal }}\n");
        assert!(notes.is_empty());
        // Text minijinja would read as its own is kept raw.
        let raw = jinja_of_format("{{{{x}}}} {instruction}", "t.txt", &mut notes).unwrap();
        assert_eq!(raw, "{% raw %}{{x}} {% endraw %}{{ instruction }}");
        let other = jinja_of_format("{model}", "t.txt", &mut notes).unwrap();
        assert_eq!(other, "{{ model }}");
        assert_eq!(notes.len(), 1, "{notes:?}");
    }

    #[test]
    fn a_broken_format_string_is_refused_with_its_line() {
        let mut notes = Vec::new();
        let error = jinja_of_format("one\ntwo }\n", "t.txt", &mut notes).unwrap_err();
        assert_eq!((error.file.as_str(), error.line), ("t.txt", Some(2)));
        let error = jinja_of_format("{instruction", "t.txt", &mut notes).unwrap_err();
        assert!(error.message.contains("not closed"), "{error}");
        let error = jinja_of_format("{0:>4}", "t.txt", &mut notes).unwrap_err();
        assert!(error.message.contains("not a plain variable"), "{error}");
    }
}
