//! One round of proposals for one weakness (the unit [`propose`](super::propose) repeats
//! per weakness). The proposer is asked for candidates, each is checked by [`prepare`] into
//! its own candidate folder, and near-duplicates (of each other or of `earlier` proposals)
//! are dropped — every edit asked for ends up either a [`Proposal`] or a discarded line
//! with its reason. When the model gave edits and none was usable, it is asked once more
//! the simple way (one-sentence instructions, appended to the prompt its weakness concerns):
//! small models manage that where the full edit format defeats them.

use std::path::{Path, PathBuf};

use super::model::copies_example;
use super::{
    ablation_edit, near_duplicate, prepare, propose_rules_with_model, propose_with_model, Budget, Proposal, Proposer,
    RawEdit,
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

/// Runs one round. Ablation proposers replace each of the model's edits by an edit of the
/// same size, so that the comparison is fair.
pub async fn round(client: &Client, spec: &RoundSpec<'_>, earlier: &[Proposal]) -> Round {
    let mut out = Round::default();
    let (edits, declined) =
        match propose_with_model(client, spec.harness, spec.weakness, spec.candidates, spec.tasks, spec.seed).await {
            Ok(asked) => asked,
            Err(e) => {
                out.error = Some(format!("the model could not propose: {e}"));
                return out;
            }
        };
    let edits: Vec<_> = edits
        .into_iter()
        .enumerate()
        .filter_map(|(n, edit)| match spec.proposer {
            Proposer::Model => Some(edit),
            Proposer::None => None,
            kind => ablation_edit(kind, spec.harness, edit.replace.len(), spec.seed + n as u64),
        })
        .collect();
    if edits.is_empty() {
        out.declined = declined;
    }
    let asked = edits.len();
    check(spec, edits, 0, earlier, &mut out);
    // A model that gave edits, none of them usable: ask it the simple way once.
    if spec.proposer == Proposer::Model && asked > 0 && out.proposals.is_empty() {
        match propose_rules_with_model(client, spec.harness, spec.weakness, spec.candidates, spec.seed).await {
            Ok(rules) => check(spec, rules, asked, earlier, &mut out),
            Err(e) => out.discarded.push((format!("{}-rules", spec.id_prefix), format!("the simple ask failed: {e}"))),
        }
    }
    out
}

/// Turns edits into proposals or discarded lines; ids continue after `numbered`.
fn check(spec: &RoundSpec<'_>, edits: Vec<RawEdit>, numbered: usize, earlier: &[Proposal], out: &mut Round) {
    for (n, edit) in edits.into_iter().enumerate() {
        let id = format!("{}-{}", spec.id_prefix, numbered + n + 1);
        if spec.proposer == Proposer::Model && copies_example(spec.weakness, &edit) {
            out.discarded.push((id, "copies an example of the prompt instead of proposing".into()));
            continue;
        }
        if let Some(dup) = earlier.iter().chain(&out.proposals).find(|p| near_duplicate(&p.edit, &edit)) {
            out.discarded.push((id, format!("near-duplicate of {}", dup.id)));
            continue;
        }
        let dir: PathBuf = spec.candidates_dir.join(&id);
        match prepare(spec.harness, &edit, &dir, spec.budget) {
            Err(reason) => out.discarded.push((id, reason)),
            Ok((candidate, diff, changed_lines)) => out.proposals.push(Proposal {
                id,
                iteration: spec.iteration,
                weakness: spec.weakness.id.clone(),
                source: spec.proposer,
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
