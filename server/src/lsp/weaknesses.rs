//! Weaknesses as diagnostics: each mined weakness of a harness on the `harness.toml` line
//! where its surface is written — found in the document's *current* text, so that it
//! follows edits — with its support, its evidence (trace turns) as related information,
//! a link to its section of the report, and the data its code actions need.

use std::path::Path;

use serde_json::json;
use tower_lsp::ls_types::{
    CodeDescription, Diagnostic, DiagnosticRelatedInformation, DiagnosticSeverity, Location, NumberOrString, Position,
    Range, Uri,
};

use super::store_view::StoreView;
use crate::harness::locate_surface;
use crate::stages::mine::Weakness;

/// The `source` of every diagnostic this server publishes.
pub const SOURCE: &str = "self-harness";

/// The diagnostics for the `harness.toml` of `harness_dir`, whose text is `text`.
pub fn diagnostics(view: &StoreView, harness_dir: &Path, text: &str, report: Option<&Uri>) -> Vec<Diagnostic> {
    let harness_uri = Uri::from_file_path(harness_dir);
    view.weaknesses_of(harness_dir)
        .map(|w| {
            let line = locate_surface(text, &w.surface).unwrap_or(0);
            Diagnostic {
                range: line_range(text, line),
                severity: Some(severity(&w.criticality)),
                code: Some(NumberOrString::String(w.id.clone())),
                code_description: report.and_then(|r| {
                    format!("{}#weakness-{}", r.as_str(), w.id).parse().ok().map(|href| CodeDescription { href })
                }),
                source: Some(SOURCE.to_string()),
                message: message(w),
                related_information: Some(
                    view.evidence(&w.id)
                        .iter()
                        .map(|e| DiagnosticRelatedInformation {
                            location: Location {
                                uri: e.uri.clone(),
                                range: Range::new(Position::new(e.line, 0), Position::new(e.line, 0)),
                            },
                            message: e.message.clone(),
                        })
                        .collect(),
                ),
                tags: None,
                data: Some(json!({
                    "kind": "weakness",
                    "weakness": w.id,
                    "harness": harness_uri.as_ref().map(|u| u.as_str().to_string()),
                })),
            }
        })
        .collect()
}

/// "7/20 failed traces: Opens interactive programs (also 1/12 passing)".
pub fn message(w: &Weakness) -> String {
    let c = w.counts;
    let mut text = if c.failed_total > 0 {
        format!("{}/{} failed traces: {}", c.failed_with, c.failed_total, w.title)
    } else {
        format!("{}: {}", w.support, w.title)
    };
    if c.passed_with > 0 {
        text.push_str(&format!(" (also {}/{} passing)", c.passed_with, c.passed_total));
    }
    text
}

fn severity(criticality: &str) -> DiagnosticSeverity {
    match criticality {
        "high" => DiagnosticSeverity::WARNING,
        "medium" => DiagnosticSeverity::INFORMATION,
        _ => DiagnosticSeverity::HINT,
    }
}

/// The whole of line `line` (0-based), in UTF-16 code units as LSP counts them.
pub fn line_range(text: &str, line: u32) -> Range {
    let width = text.lines().nth(line as usize).map_or(0, |l| l.encode_utf16().count() as u32);
    Range::new(Position::new(line, 0), Position::new(line, width))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stages::mine::{Evidence, Support};

    fn weakness(harness: Option<&Path>) -> Weakness {
        Weakness {
            id: "interactive-program".into(),
            title: "Opens interactive programs".into(),
            description: String::new(),
            criticality: "high".into(),
            support: "7 of 20 failed traces".into(),
            counts: Support { failed_with: 7, failed_total: 20, passed_with: 1, passed_total: 12 },
            surface: "prompts.system".into(),
            location: None,
            evidence: vec![Evidence { trace: "/tmp/t/trace.jsonl".into(), turn: None, detail: "vim".into() }],
            tasks: vec![],
            keep_passing: vec![],
            harness: harness.map(Path::to_path_buf),
        }
    }

    #[test]
    fn on_the_surface_line_of_the_current_text() {
        let dir = Path::new("/work/h");
        let view = StoreView {
            weaknesses: vec![weakness(Some(dir)), weakness(Some(Path::new("/other")))],
            ..StoreView::default()
        };
        let text = "name = \"é\"\n\n[prompts]\nsystem = \"système.md\"\n";
        let report: Uri = "file:///p/.self-harness/report.html".parse().unwrap();
        let found = diagnostics(&view, dir, text, Some(&report));
        assert_eq!(found.len(), 1, "only this harness's weaknesses");
        let d = &found[0];
        assert_eq!(d.range, Range::new(Position::new(3, 0), Position::new(3, 21)), "UTF-16 width of the line");
        assert_eq!(d.severity, Some(DiagnosticSeverity::WARNING));
        assert_eq!(d.message, "7/20 failed traces: Opens interactive programs (also 1/12 passing)");
        assert_eq!(
            d.code_description.as_ref().unwrap().href.as_str(),
            "file:///p/.self-harness/report.html#weakness-interactive-program"
        );
        assert_eq!(d.data.as_ref().unwrap()["weakness"], "interactive-program");
        // An edit above moves it along.
        let moved = diagnostics(&view, dir, &format!("# a comment\n{text}"), None);
        assert_eq!(moved[0].range.start.line, 4);
    }
}
