//! Proposals as code actions. Listing is cheap (titles and data only); the edit of a
//! proposal is computed in `codeAction/resolve` against the document as it is then, as a
//! `WorkspaceEdit` with a change annotation that says why, followed by the command that
//! validates it. "Preview" actions ask the client to show the diff (a client command),
//! and the same diff, made with `similar`, goes into hovers for clients without a diff view.

use std::collections::HashMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{json, Value};
use similar::TextDiff;
use tower_lsp::ls_types::{
    AnnotatedTextEdit, ChangeAnnotation, CodeAction, CodeActionKind, CodeActionOrCommand, Command, CreateFile,
    Diagnostic, DocumentChangeOperation, DocumentChanges, OneOf, OptionalVersionedTextDocumentIdentifier, Position,
    Range, ResourceOp, TextDocumentEdit, TextEdit, Uri, WorkspaceEdit,
};

use super::marks::revert_edits;
use super::store_view::StoreView;
use crate::stages::propose::{apply_edit, Proposal};

/// Command names, as in docs/lsp.md.
pub mod commands {
    pub const PROPOSE: &str = "selfHarness.propose";
    pub const VALIDATE: &str = "selfHarness.validate";
    /// Implemented by the client: show the diff of a proposal.
    pub const PREVIEW: &str = "selfHarness.previewProposal";
}

/// A document as the resolver sees it: open in the editor (with its version) or on disk.
pub struct DocumentText {
    pub uri: Uri,
    pub text: String,
    pub version: Option<i32>,
}

/// The actions for the diagnostics of a code-action request.
pub fn list(view: &StoreView, diagnostics: &[Diagnostic]) -> Vec<CodeActionOrCommand> {
    let mut actions = Vec::new();
    for diagnostic in diagnostics {
        let Some(data) = &diagnostic.data else { continue };
        let action = |title: String, data: Option<Value>, command: Option<Command>| {
            CodeActionOrCommand::CodeAction(CodeAction {
                title,
                kind: Some(CodeActionKind::QUICKFIX),
                diagnostics: Some(vec![diagnostic.clone()]),
                data,
                command,
                ..CodeAction::default()
            })
        };
        match data["kind"].as_str() {
            Some("weakness") => {
                let Some(weakness) = data["weakness"].as_str().and_then(|id| view.weakness(id)) else { continue };
                let args = Some(vec![json!({"weakness": weakness.id})]);
                actions.push(action(
                    format!("Propose fixes: {}", weakness.title),
                    None,
                    Some(Command { title: "Propose fixes".into(), command: commands::PROPOSE.into(), arguments: args }),
                ));
                for p in view.proposals_for(&weakness.id) {
                    let state = state_of(view, p);
                    // A rejected edit is not offered again: applying it would install what the
                    // validation turned down, and validate the same candidate once more.
                    if !is_rejected(view, p) {
                        actions.push(action(
                            format!("Apply proposal {}{state}: {}", p.id, summary(&p.edit.rationale)),
                            Some(json!({"kind": "proposal", "proposal": p.id})),
                            None,
                        ));
                    }
                    actions.push(action(
                        format!("Preview proposal {}{state}", p.id),
                        None,
                        Some(Command {
                            title: "Preview".into(),
                            command: commands::PREVIEW.into(),
                            arguments: Some(vec![json!({"proposal": p.id})]),
                        }),
                    ));
                }
            }
            Some("rejected-edit") => {
                actions.push(action("Revert rejected edit".into(), Some(data.clone()), None));
            }
            _ => {}
        }
    }
    actions
}

/// Whether the latest decision about `proposal` rejected it.
fn is_rejected(view: &StoreView, proposal: &Proposal) -> bool {
    view.decision_of(&proposal.id).is_some_and(|d| !d.record.decision.accepted)
}

/// " (accepted)" / " (rejected)" when the proposal has been decided.
fn state_of(view: &StoreView, proposal: &Proposal) -> &'static str {
    match view.decision_of(&proposal.id) {
        Some(d) if d.record.decision.accepted => " (accepted)",
        Some(_) => " (rejected)",
        None => "",
    }
}

fn summary(rationale: &str) -> String {
    let first = rationale.lines().next().unwrap_or_default();
    if first.chars().count() > 70 {
        format!("{}…", first.chars().take(69).collect::<String>())
    } else {
        first.to_string()
    }
}

/// Fills in the edit of an action from [`list`]. `document` gives a file's current text.
pub fn resolve(
    view: &StoreView,
    mut action: CodeAction,
    document: &dyn Fn(&Path) -> Option<DocumentText>,
) -> Result<CodeAction, String> {
    let data = action.data.clone().unwrap_or_default();
    match data["kind"].as_str() {
        Some("proposal") => {
            let id = data["proposal"].as_str().unwrap_or_default();
            let proposal = view.proposal(id).ok_or_else(|| format!("proposal {id} is no longer in the store"))?;
            if let Some(decided) = view.decision_of(id).filter(|_| is_rejected(view, proposal)) {
                return Err(format!(
                    "proposal {id} was rejected ({}): it is not applied again; propose anew, or edit by hand",
                    decided.record.evidence()
                ));
            }
            action.edit = Some(proposal_edit(view, proposal, document)?);
            action.command = Some(Command {
                title: "Validate".into(),
                command: commands::VALIDATE.into(),
                arguments: Some(vec![json!({"proposal": id})]),
            });
            Ok(action)
        }
        Some("rejected-edit") => {
            let candidate = data["candidate"].as_str().unwrap_or_default();
            let file = data["file"].as_str().unwrap_or_default();
            let decided = view
                .decided
                .iter()
                .find(|d| d.record.candidate_version == candidate)
                .ok_or_else(|| format!("no decision about {candidate} in the store"))?;
            let harness = decided.record.harness.clone().ok_or("the decision names no harness folder")?;
            let path = crate::util::join_inside(&harness, file)?;
            let doc = document(&path).ok_or_else(|| format!("cannot read {file}"))?;
            let edits = revert_edits(decided, file, &doc.text);
            if edits.is_empty() {
                return Err("the rejected edit is no longer in the document".into());
            }
            let revert = DocumentChangeOperation::Edit(document_edit(doc, edits, "self-harness/revert"));
            action.edit = Some(workspace_edit(
                vec![revert],
                "self-harness/revert",
                ChangeAnnotation {
                    label: "Revert a rejected edit".into(),
                    needs_confirmation: Some(false),
                    description: Some(decided.record.decision.reason.clone()),
                },
            ));
            Ok(action)
        }
        _ => Ok(action),
    }
}

/// The whole of a proposal as one workspace edit against the files as they are now: the
/// files it creates, and one edit per file it changes (a file changed twice is edited once).
fn proposal_edit(
    view: &StoreView,
    proposal: &Proposal,
    document: &dyn Fn(&Path) -> Option<DocumentText>,
) -> Result<WorkspaceEdit, String> {
    let id = &proposal.id;
    let annotation = format!("self-harness/{id}");
    let files = proposed_files(proposal, document)?;
    // The files it creates first, then an edit per file.
    let mut changes: Vec<DocumentChangeOperation> = files
        .iter()
        .filter(|(_, _, created)| *created)
        .map(|(doc, _, _)| {
            DocumentChangeOperation::Op(ResourceOp::Create(CreateFile {
                uri: doc.uri.clone(),
                options: None,
                annotation_id: Some(annotation.clone()),
            }))
        })
        .collect();
    for (doc, proposed, _) in files {
        let edits = line_edits(&doc.text, &proposed);
        changes.push(DocumentChangeOperation::Edit(document_edit(doc, edits, &annotation)));
    }
    let weakness = view.weakness(&proposal.weakness).map_or(proposal.weakness.as_str(), |w| w.title.as_str());
    Ok(workspace_edit(
        changes,
        &annotation,
        ChangeAnnotation {
            label: format!("Self-Harness proposal {id}"),
            needs_confirmation: Some(false),
            description: Some(format!("For \"{weakness}\": {}", proposal.edit.rationale)),
        },
    ))
}

/// Each file a proposal touches, in the order it first does: its text now, its text with
/// every part of the proposal for it applied, and whether the proposal creates it.
fn proposed_files(
    proposal: &Proposal,
    document: &dyn Fn(&Path) -> Option<DocumentText>,
) -> Result<Vec<(DocumentText, String, bool)>, String> {
    let id = &proposal.id;
    let mut files: Vec<(DocumentText, String, bool)> = Vec::new();
    for part in proposal.edit.parts() {
        let path = crate::util::join_inside(&proposal.parent_dir, &part.file)?;
        let uri = Uri::from_file_path(&path).ok_or_else(|| format!("{} has no URI", path.display()))?;
        let at = match files.iter().position(|(doc, _, _)| doc.uri == uri) {
            Some(at) => at,
            None => {
                let (doc, created) = match document(&path) {
                    Some(doc) => (doc, false),
                    // A file the proposal creates.
                    None if part.search.is_empty() && !path.exists() => {
                        (DocumentText { uri, text: String::new(), version: None }, true)
                    }
                    None => return Err(format!("cannot read {}", path.display())),
                };
                let text = doc.text.clone();
                files.push((doc, text, created));
                files.len() - 1
            }
        };
        files[at].1 = apply_edit(&files[at].1, &part)
            .map_err(|e| format!("proposal {id} no longer applies to {}: {e}", path.display()))?;
    }
    Ok(files)
}

fn document_edit(doc: DocumentText, edits: Vec<TextEdit>, id: &str) -> TextDocumentEdit {
    TextDocumentEdit {
        text_document: OptionalVersionedTextDocumentIdentifier { uri: doc.uri, version: doc.version },
        edits: edits
            .into_iter()
            .map(|text_edit| OneOf::Right(AnnotatedTextEdit { text_edit, annotation_id: id.to_string() }))
            .collect(),
    }
}

fn workspace_edit(changes: Vec<DocumentChangeOperation>, id: &str, annotation: ChangeAnnotation) -> WorkspaceEdit {
    WorkspaceEdit {
        changes: None,
        document_changes: Some(DocumentChanges::Operations(changes)),
        change_annotations: Some(HashMap::from([(id.to_string(), annotation)])),
    }
}

/// The smallest whole-line edits that turn `old` into `new`.
pub fn line_edits(old: &str, new: &str) -> Vec<TextEdit> {
    let diff = TextDiff::from_lines(old, new);
    diff.ops()
        .iter()
        .filter(|op| op.tag() != similar::DiffTag::Equal)
        .map(|op| {
            let (old_range, new_range) = (op.old_range(), op.new_range());
            let new_text: String = new_range.filter_map(|i| diff.new_slice(i)).collect();
            TextEdit {
                range: Range::new(Position::new(old_range.start as u32, 0), Position::new(old_range.end as u32, 0)),
                new_text,
            }
        })
        .collect()
}

/// The answer to `selfHarness/proposedText`: the first file the proposal changes, before
/// and after (every part of the proposal for that file applied), for a diff view; every file
/// it touches; a unified diff of them all; and the whole proposal as one workspace edit, which
/// is what accepting the preview applies (a hook remedy also writes its script).
#[derive(Debug, Serialize)]
pub struct ProposedText {
    pub uri: Uri,
    pub original: String,
    pub proposed: String,
    pub diff: String,
    pub title: String,
    /// Each file the proposal touches, relative to the harness folder, the shown one first.
    pub files: Vec<String>,
    pub edit: WorkspaceEdit,
}

pub fn proposed_text(
    view: &StoreView,
    id: &str,
    document: &dyn Fn(&Path) -> Option<DocumentText>,
) -> Result<ProposedText, String> {
    let proposal = view.proposal(id).ok_or_else(|| format!("no proposal {id} in the store"))?;
    let files = proposed_files(proposal, document)?;
    let mut names: Vec<String> = Vec::new();
    for part in proposal.edit.parts() {
        if !names.contains(&part.file) {
            names.push(part.file.clone());
        }
    }
    let diff = files
        .iter()
        .zip(&names)
        .map(|((doc, proposed, _), name)| {
            TextDiff::from_lines(&doc.text, proposed)
                .unified_diff()
                .context_radius(3)
                .header(&format!("a/{name}"), &format!("b/{name}"))
                .to_string()
        })
        .collect();
    let edit = proposal_edit(view, proposal, document)?;
    let (doc, proposed, _) = files.into_iter().next().ok_or_else(|| format!("proposal {id} changes nothing"))?;
    Ok(ProposedText {
        uri: doc.uri,
        original: doc.text,
        proposed,
        diff,
        title: proposal.edit.rationale.clone(),
        files: names,
        edit,
    })
}

/// Markdown for a hover on a weakness: what it is and each proposal's diff.
pub fn weakness_hover(view: &StoreView, weakness: &str) -> Option<String> {
    let w = view.weakness(weakness)?;
    let mut text = format!("**{}** (`{}`, {})\n\n{}\n\n{}\n", w.title, w.id, w.criticality, w.description, w.support);
    if !w.keep_passing.is_empty() {
        text.push_str(&format!("\nMust keep passing: {}\n", w.keep_passing.join(", ")));
    }
    for p in view.proposals_for(&w.id) {
        text.push_str(&format!(
            "\n---\n**Proposal {}**{}: {}\n\n```diff\n{}```\n",
            p.id,
            state_of(view, p),
            p.edit.rationale,
            p.diff
        ));
    }
    Some(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_edits_are_minimal_and_reproduce_the_new_text() {
        let old = "a\nb\nc\ne\n";
        let new = "a\nB\nc\ne\nd\n";
        let edits = line_edits(old, new);
        assert_eq!(
            edits[0],
            TextEdit { range: Range::new(Position::new(1, 0), Position::new(2, 0)), new_text: "B\n".into() }
        );
        assert_eq!(
            edits[1],
            TextEdit { range: Range::new(Position::new(4, 0), Position::new(4, 0)), new_text: "d\n".into() }
        );
        // Apply back to front, as a client does.
        let mut lines: Vec<String> = old.split_inclusive('\n').map(str::to_string).collect();
        for e in edits.iter().rev() {
            let (start, end) = (e.range.start.line as usize, (e.range.end.line as usize).min(lines.len()));
            lines.splice(start..end, std::iter::once(e.new_text.clone()));
        }
        assert_eq!(lines.concat(), new);
    }
}
