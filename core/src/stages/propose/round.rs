//! One round of proposals for one weakness (the unit [`propose`](super::propose) repeats
//! per weakness). The proposer is asked for candidates, each is checked by [`prepare`] into
//! its own candidate folder, and near-duplicates (of each other or of `earlier` proposals)
//! are dropped — every edit asked for ends up either a [`Proposal`] or a discarded line
//! with its reason. The catalog's remedies follow the model's edits when the proposer
//! includes them. When the model gave edits and none was usable, it is asked once more
//! the simple way (one-sentence instructions, appended to the prompt its weakness concerns):
//! small models manage that where the full edit format defeats them.

use std::path::{Path, PathBuf};

use super::model::copies_example;
use super::{
    ablation_edit, near_duplicate, prepare, propose_rules_with_model, propose_with_model, remedies, Budget, Proposal,
    Proposer, RawEdit, CATALOG_BUDGET,
};
use crate::harness::Harness;
use crate::llm::Client;
use crate::stages::mine::Weakness;

/// What a round needs.
pub struct RoundSpec<'a> {
    pub harness: &'a Harness,
    pub weakness: &'a Weakness,
    /// Candidates asked of the model.
    pub candidates: usize,
    pub proposer: Proposer,
    /// Tasks the proposer may name as expected fixes or risks.
    pub tasks: &'a [String],
    pub seed: u64,
    pub budget: Budget,
    /// Candidate folders are made under it, one per proposal id.
    pub candidates_dir: &'a Path,
    /// Proposal ids are `<id_prefix>-<n>`.
    pub id_prefix: String,
    pub iteration: u32,
}

/// What a round produced.
#[derive(Debug, Default)]
pub struct Round {
    pub proposals: Vec<Proposal>,
    /// (id, reason) of every edit that did not become a proposal.
    pub discarded: Vec<(String, String)>,
    /// The proposer's reason when it declined and proposed nothing.
    pub declined: Option<String>,
    /// Why the proposer could not be asked at all (the model endpoint failed).
    pub error: Option<String>,
}

/// Runs one round: the model's edits (ablation proposers replace each by an edit of the
/// same size, so that the comparison is fair), then the catalog's remedies, as the
/// proposer says.
pub async fn round(client: &Client, spec: &RoundSpec<'_>, earlier: &[Proposal]) -> Round {
    let mut out = Round::default();
    let mut numbered = 0;
    if spec.proposer.asks_model() {
        match propose_with_model(client, spec.harness, spec.weakness, spec.candidates, spec.tasks, spec.seed).await {
            Err(e) => out.error = Some(format!("the model could not propose: {e}")),
            Ok((edits, declined)) => {
                let edits: Vec<(RawEdit, Proposer)> = edits
                    .into_iter()
                    .enumerate()
                    .filter_map(|(n, edit)| match spec.proposer {
                        Proposer::Model | Proposer::ModelAndCatalog => Some((edit, Proposer::Model)),
                        kind => ablation_edit(kind, spec.harness, edit.replace.len(), spec.seed + n as u64)
                            .map(|e| (e, kind)),
                    })
                    .collect();
                if edits.is_empty() {
                    out.declined = declined;
                }
                let (asked, before) = (edits.len(), out.proposals.len());
                check(spec, edits, numbered, earlier, &mut out);
                numbered += asked;
                // A model that gave edits, none of them usable: ask it the simple way once.
                let model = matches!(spec.proposer, Proposer::Model | Proposer::ModelAndCatalog);
                if model && asked > 0 && out.proposals.len() == before {
                    let simple =
                        propose_rules_with_model(client, spec.harness, spec.weakness, spec.candidates, spec.seed);
                    match simple.await {
                        Ok(rules) => {
                            let rules: Vec<(RawEdit, Proposer)> =
                                rules.into_iter().map(|e| (e, Proposer::Model)).collect();
                            let n = rules.len();
                            check(spec, rules, numbered, earlier, &mut out);
                            numbered += n;
                        }
                        Err(e) => out
                            .discarded
                            .push((format!("{}-rules", spec.id_prefix), format!("the simple ask failed: {e}"))),
                    }
                }
            }
        }
    }
    if spec.proposer.uses_catalog() {
        let remedies = remedies(spec.harness, spec.weakness).into_iter().map(|e| (e, Proposer::Catalog)).collect();
        check(spec, remedies, numbered, earlier, &mut out);
    }
    out
}

/// Turns edits (each with who made it) into proposals or discarded lines; ids continue
/// after `numbered`.
fn check(
    spec: &RoundSpec<'_>,
    edits: Vec<(RawEdit, Proposer)>,
    numbered: usize,
    earlier: &[Proposal],
    out: &mut Round,
) {
    for (n, (edit, source)) in edits.into_iter().enumerate() {
        let id = format!("{}-{}", spec.id_prefix, numbered + n + 1);
        if source == Proposer::Model && copies_example(spec.weakness, &edit) {
            out.discarded.push((id, "copies an example of the prompt instead of proposing".into()));
            continue;
        }
        if let Some(dup) = earlier.iter().chain(&out.proposals).find(|p| near_duplicate(&p.edit, &edit)) {
            out.discarded.push((id, format!("near-duplicate of {}", dup.id)));
            continue;
        }
        let dir: PathBuf = spec.candidates_dir.join(&id);
        let budget = if source == Proposer::Catalog { CATALOG_BUDGET } else { spec.budget };
        match prepare(spec.harness, &edit, &dir, budget) {
            Err(reason) => out.discarded.push((id, reason)),
            Ok((candidate, diff, changed_lines)) => out.proposals.push(Proposal {
                id,
                iteration: spec.iteration,
                weakness: spec.weakness.id.clone(),
                source,
                edit,
                diff,
                changed_lines,
                dir,
                version: candidate.version().to_string(),
                parent_dir: spec.harness.dir().canonicalize().unwrap_or_else(|_| spec.harness.dir().to_path_buf()),
                parent_version: spec.harness.version().to_string(),
            }),
        }
    }
}
