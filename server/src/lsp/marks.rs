//! Validation marks: where a validated edit still stands in a document, it is marked with
//! its decision — accepted edits get a code lens and an inlay hint with the evidence
//! ("✓ accepted · +3/16 · p=0.031"), rejected ones a diagnostic that offers "Revert".
//! Marks are found by the edit's text, so a result never lands on text it did not
//! validate, whatever happened to the document meanwhile.

use std::path::Path;

use serde_json::json;
use tower_lsp::ls_types::{
    CodeLens, Command, Diagnostic, DiagnosticSeverity, InlayHint, InlayHintLabel, NumberOrString, Position, Range,
    TextEdit,
};

use super::store_view::{find_lines, Decided, StoreView};
use super::weaknesses::{line_range, SOURCE};
use crate::stages::validate::ValidationRecord;

/// One validated edit found in a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// 0-based line of its first (non-blank) line, and how many lines it spans.
    pub line: u32,
    pub lines: u32,
    pub accepted: bool,
    /// "✓ accepted · +3/16 · p=0.031"
    pub label: String,
    pub reason: String,
    pub candidate_version: String,
}

/// The marks in file `file` (relative to the harness folder `harness_dir`), text `text`.
pub fn marks(view: &StoreView, harness_dir: &Path, file: &str, text: &str) -> Vec<Mark> {
    let mut found = Vec::new();
    for decided in view.decided_for(harness_dir) {
        for hunk in decided.hunks.iter().filter(|h| h.file == file) {
            let Some(line) = find_lines(text, &hunk.added) else { continue };
            let lines = hunk.added.iter().filter(|l| !l.trim().is_empty()).count().max(1) as u32;
            found.push(Mark {
                line,
                lines,
                accepted: decided.record.decision.accepted,
                label: label(&decided.record),
                reason: decided.record.decision.reason.clone(),
                candidate_version: decided.record.candidate_version.clone(),
            });
        }
    }
    found
}

/// "✓ accepted · +3/16 tasks · p=0.031" or "✗ rejected · +0/16 tasks · p=1.000".
pub fn label(record: &ValidationRecord) -> String {
    let word = if record.decision.accepted { "✓ accepted" } else { "✗ rejected" };
    format!("{word} · {}", record.evidence())
}

pub fn code_lenses(marks: &[Mark]) -> Vec<CodeLens> {
    marks
        .iter()
        .filter(|m| m.accepted)
        .map(|m| CodeLens {
            range: Range::new(Position::new(m.line, 0), Position::new(m.line, 0)),
            command: Some(Command {
                title: m.label.clone(),
                command: "selfHarness.report".into(),
                arguments: Some(vec![json!({})]),
            }),
            data: None,
        })
        .collect()
}

pub fn inlay_hints(marks: &[Mark], text: &str) -> Vec<InlayHint> {
    marks
        .iter()
        .filter(|m| m.accepted)
        .map(|m| InlayHint {
            position: line_range(text, m.line).end,
            label: InlayHintLabel::String(m.label.clone()),
            kind: None,
            text_edits: None,
            tooltip: Some(tower_lsp::ls_types::InlayHintTooltip::String(m.reason.clone())),
            padding_left: Some(true),
            padding_right: None,
            data: None,
        })
        .collect()
}

/// Rejected edits as diagnostics over their lines; `data` names what "Revert" undoes.
pub fn rejected_diagnostics(marks: &[Mark], file: &str, text: &str) -> Vec<Diagnostic> {
    marks
        .iter()
        .filter(|m| !m.accepted)
        .map(|m| Diagnostic {
            range: Range::new(Position::new(m.line, 0), line_range(text, m.line + m.lines - 1).end),
            severity: Some(DiagnosticSeverity::WARNING),
            code: Some(NumberOrString::String("rejected-edit".into())),
            source: Some(SOURCE.into()),
            message: format!("{}: {}", m.label, m.reason),
            data: Some(json!({"kind": "rejected-edit", "candidate": m.candidate_version, "file": file})),
            ..Diagnostic::default()
        })
        .collect()
}

/// The edits that give `text` back the parent's lines where the candidate's stand.
pub fn revert_edits(decided: &Decided, file: &str, text: &str) -> Vec<TextEdit> {
    decided
        .hunks
        .iter()
        .filter(|h| h.file == file)
        .filter_map(|hunk| {
            let line = find_lines(text, &hunk.added)?;
            let span = hunk.added.iter().filter(|l| !l.trim().is_empty()).count() as u32;
            let new_text: String = hunk.removed.iter().map(|l| format!("{l}\n")).collect();
            Some(TextEdit { range: Range::new(Position::new(line, 0), Position::new(line + span, 0)), new_text })
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::episodes::{Score, Spend};
    use crate::lsp::store_view::diff_hunks;

    /// Five tasks, each passed `passed` times of once.
    fn tasks(passed: u32) -> std::collections::BTreeMap<String, crate::episodes::TaskScore> {
        (0..5).map(|t| (format!("t{t}"), crate::episodes::TaskScore { passed, counted: 1 })).collect()
    }

    pub(crate) fn decided(accepted: bool, old: &str, new: &str) -> Decided {
        let record = ValidationRecord {
            at: String::new(),
            proposal: Some("p-1".into()),
            harness: Some("/h".into()),
            parent_dir: "/p".into(),
            parent_version: "parent".into(),
            candidate_dir: "/c".into(),
            candidate_version: "cand".into(),
            policy: crate::stages::validate::AcceptanceRule::default(),
            sample: 0,
            decision: crate::stages::validate::Decision {
                accepted,
                reason: "5 tasks better, 0 worse, 0 tied: p = 0.0312 ≤ 0.05".into(),
                p_value: Some(0.03125),
                p_adjusted: Some(0.03125),
                family: 1,
                parent: Score { per_task: tasks(0), passed: 0, counted: 5 },
                candidate: Score { per_task: tasks(1), passed: 5, counted: 5 },
                improved: (0..5).map(|t| format!("t{t}")).collect(),
                regressed: vec![],
            },
            stopped_early: false,
            cost_ratio: None,
            spend: Spend::default(),
        };
        Decided { hunks: diff_hunks("system.md", old, new), record }
    }

    #[test]
    fn marks_follow_the_text_and_revert_restores_the_parent() {
        let view =
            StoreView { decided: vec![decided(true, "a\nb\n", "a\nb\nNever open vim.\n")], ..Default::default() };
        let text = "a\nnew line above\nb\nNever open vim.\n";
        let found = marks(&view, Path::new("/h"), "system.md", text);
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].line, found[0].accepted), (3, true));
        assert_eq!(found[0].label, "✓ accepted · +5/5 tasks · p=0.031");
        assert_eq!(code_lenses(&found)[0].command.as_ref().unwrap().title, found[0].label);
        assert_eq!(inlay_hints(&found, text)[0].position, Position::new(3, 15));
        assert!(marks(&view, Path::new("/h"), "system.md", "a\nb\n").is_empty(), "edit gone, mark gone");
        assert!(marks(&view, Path::new("/other"), "system.md", text).is_empty(), "another harness");

        let rejected = decided(false, "a\nold\n", "a\nnew one\n");
        let view = StoreView { decided: vec![rejected.clone()], ..Default::default() };
        let text = "a\nnew one\n";
        let found = marks(&view, Path::new("/h"), "system.md", text);
        let diagnostics = rejected_diagnostics(&found, "system.md", text);
        assert_eq!(diagnostics[0].range, Range::new(Position::new(1, 0), Position::new(1, 7)));
        let edits = revert_edits(&rejected, "system.md", text);
        assert_eq!(
            edits,
            vec![TextEdit { range: Range::new(Position::new(1, 0), Position::new(2, 0)), new_text: "old\n".into() }]
        );
    }
}
