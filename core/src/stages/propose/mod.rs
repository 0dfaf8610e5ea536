//! The propose stage: small, concrete edits to the harness, each tied to one weakness.
//!
//! A proposer returns *raw* edits (file, search text, replacement, rationale, the tasks it
//! expects to flip and those it might break). A `round` asks it for one weakness's edits
//! and turns each into a candidate with `edit::prepare` (applied to a copy of the harness,
//! re-loaded, held to the edit budget) or into a discarded line with its reason;
//! near-duplicates are dropped. Proposers: the model itself (`model`, the product), the
//! remedy `catalog` of known edits for the detectors' weaknesses (or both), and ablations
//! for honest comparison — `generic` (a generic instruction of the same length), `random`
//! (a random valid edit of the same size) and `none`.
//!
//! [`propose`] is the stage's one entry: rounds for several weaknesses, the parent kept in
//! the store so that its proposals stay verifiable after it is edited, and the result kept
//! as the standing proposals (`proposals.json`), which `validate` and the editor read. The
//! loop takes the same steps one round at a time ([`propose_for`]), recording each.

mod catalog;
mod edit;
mod model;
mod round;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use catalog::{remedies, CATALOG_BUDGET};
#[cfg(test)]
pub(crate) use edit::tests::recorded;
pub use edit::{ablation_edit, apply_edit, combine, install, near_duplicate, prepare, restore};
pub use model::{propose_rules_with_model, propose_with_model, ProposeError};
pub use round::{round, Round, RoundSpec};

use crate::episodes::Spend;
use crate::harness::Harness;
use crate::llm::Client;
use crate::splits::{Split, Splits};
use crate::stages::mine::Weakness;
use crate::store::Store;

/// Who proposes edits (and, on a proposal, who made it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Proposer {
    /// The model proposes (the product).
    Model,
    /// The remedy catalog: the known edits for a detector's weakness.
    Catalog,
    /// Both: the catalog's remedies and the model's edits, each validated.
    #[serde(rename = "model+catalog")]
    #[value(name = "model+catalog")]
    ModelAndCatalog,
    /// Ablation: a generic instruction of the same length as the model's edit.
    Generic,
    /// Ablation: a random valid edit of the same size.
    Random,
    /// Ablation: no edits.
    None,
}

impl Proposer {
    /// Whether the model is asked for edits (itself, or for the sizes of an ablation).
    fn asks_model(self) -> bool {
        !matches!(self, Proposer::Catalog | Proposer::None)
    }

    /// The most candidates one weakness gets when `asked` are asked of the model: those (or
    /// as many ablation edits) and the catalog's remedies, as this proposer makes them.
    pub fn most_per_weakness(self, asked: usize) -> usize {
        let model = if self.asks_model() { asked } else { 0 };
        model + if self.uses_catalog() { catalog::MOST_REMEDIES } else { 0 }
    }

    /// Whether the catalog's remedies are proposed.
    fn uses_catalog(self) -> bool {
        matches!(self, Proposer::Catalog | Proposer::ModelAndCatalog)
    }
}

/// An edit as proposed, before it is checked: a change to one file of the harness, and
/// the `more` files the same change needs (a new hook script beside the `harness.toml`
/// lines that register it), all applied together or not at all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RawEdit {
    /// A file of the harness folder, relative to it.
    pub file: String,
    /// Text to replace, which must occur once (runs of whitespace count as equal); empty
    /// means "append `replace` to the file" (or create it). Text that is not in the file
    /// discards the edit.
    pub search: String,
    pub replace: String,
    /// Further files of the same change, edited the same way; an empty `search` on a file
    /// that does not exist creates it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub more: Vec<FileEdit>,
    pub rationale: String,
    #[serde(default)]
    pub expected_fixes: Vec<String>,
    #[serde(default)]
    pub might_break: Vec<String>,
}

/// One file's part of an edit: `search` replaced by `replace` in `file`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEdit {
    pub file: String,
    pub search: String,
    pub replace: String,
}

impl FileEdit {
    /// Its file, relative to the harness folder; an error for a path that could leave it.
    pub fn relative_path(&self) -> Result<&std::path::Path, String> {
        let path = std::path::Path::new(&self.file);
        let inside = path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
        if inside && !self.file.is_empty() {
            Ok(path)
        } else {
            Err(format!("{} is not a file of the harness folder", self.file))
        }
    }
}

impl RawEdit {
    /// The files it changes, its own first.
    pub fn parts(&self) -> Vec<FileEdit> {
        let own = FileEdit { file: self.file.clone(), search: self.search.clone(), replace: self.replace.clone() };
        std::iter::once(own).chain(self.more.iter().cloned()).collect()
    }

    /// The files it changes, as one line.
    pub fn files(&self) -> String {
        self.parts().iter().map(|p| p.file.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// A checked candidate, ready for validation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub id: String,
    pub iteration: u32,
    pub weakness: String,
    pub source: Proposer,
    pub edit: RawEdit,
    /// Unified diff of the edited files.
    pub diff: String,
    pub changed_lines: u32,
    /// The candidate harness folder (a full copy with the edit).
    pub dir: PathBuf,
    pub version: String,
    /// The harness it edits, as it was when proposed.
    #[serde(default)]
    pub parent_dir: PathBuf,
    #[serde(default)]
    pub parent_version: String,
}

/// The edit budget.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    pub max_changed_lines: u32,
}

impl Default for Budget {
    fn default() -> Self {
        Budget { max_changed_lines: 12 }
    }
}

/// How proposals are asked for.
#[derive(Debug, Clone, Copy)]
pub struct ProposeOptions {
    /// Candidates asked of the proposer per weakness.
    pub candidates: usize,
    pub proposer: Proposer,
    pub budget: Budget,
    pub seed: u64,
    /// The loop's iteration (0 outside the loop): part of every proposal id, and of the
    /// seeds, so that an iteration that accepted nothing is not offered the same edits again.
    pub iteration: u32,
}

impl Default for ProposeOptions {
    fn default() -> Self {
        ProposeOptions { candidates: 3, proposer: Proposer::Model, budget: Budget::default(), seed: 0, iteration: 0 }
    }
}

/// What [`propose`] produced.
#[derive(Debug, Default)]
pub struct Proposed {
    pub proposals: Vec<Proposal>,
    /// (id, reason) of every edit that did not become a proposal, of every round the
    /// proposer declined, and of every round the model could not be asked.
    pub discarded: Vec<(String, String)>,
    /// Why the model could not be asked, the first time it could not (the endpoint failed).
    pub model_error: Option<String>,
    /// What the model calls cost.
    pub spend: Spend,
}

/// Proposals for each of `weaknesses`, one round after another (see [`propose_for`]). The
/// harness is kept in the store, and the proposals become the standing ones for these
/// weaknesses.
pub async fn propose(
    client: &Client,
    store: &Store,
    harness: &Harness,
    weaknesses: &[Weakness],
    options: &ProposeOptions,
    settled: &(dyn Fn(&Proposal) -> Option<String> + Sync),
) -> Result<Proposed, String> {
    keep_parent(store, harness)?;
    let mut out = Proposed::default();
    for (w, weakness) in weaknesses.iter().enumerate() {
        let round = propose_for(client, store, harness, (w, weakness), options, &out.proposals, settled).await;
        out.proposals.extend(round.proposals);
        out.discarded.extend(round.discarded);
        out.model_error = out.model_error.or(round.model_error);
        out.spend.add(&round.spend);
    }
    let addressed: Vec<String> = weaknesses.iter().map(|w| w.id.clone()).collect();
    save_standing(store, &addressed, &out.proposals)?;
    Ok(out)
}

/// Keeps a copy of `harness` in the store, so that its proposals can be validated against
/// it after the working folder has been edited (see [`parent_of`]).
pub fn keep_parent(store: &Store, harness: &Harness) -> Result<(), String> {
    store
        .snapshot(harness)
        .map(|_| ())
        .map_err(|e| format!("cannot keep a copy of the harness in {}: {e}", store.root().display()))
}

/// One round: proposals for the `index`-th weakness of an iteration (the index seeds it). A
/// near-duplicate of one in `earlier` (this iteration's other rounds) is dropped, and so is
/// one that `settled` says was decided before (its reason). Saves nothing: the loop records
/// each round in its ledger as it ends, so a crash loses at most the round in flight.
pub async fn propose_for(
    client: &Client,
    store: &Store,
    harness: &Harness,
    (index, weakness): (usize, &Weakness),
    options: &ProposeOptions,
    earlier: &[Proposal],
    settled: &(dyn Fn(&Proposal) -> Option<String> + Sync),
) -> Proposed {
    let before = client.usage().totals();
    let id_prefix = match options.iteration {
        0 => weakness.id.clone(),
        i => format!("{i}-{}", weakness.id),
    };
    let tasks = named_tasks(store);
    let spec = RoundSpec {
        harness,
        weakness,
        candidates: options.candidates,
        proposer: options.proposer,
        tasks: &tasks,
        seed: options.seed + u64::from(options.iteration) * 1000 + index as u64,
        budget: options.budget,
        candidates_dir: &store.candidates_dir(),
        id_prefix: id_prefix.clone(),
        iteration: options.iteration,
    };
    let round = round(client, &spec, earlier).await;
    let mut out = Proposed::default();
    if let Some(error) = round.error {
        out.discarded.push((format!("{id_prefix}-model"), error.clone()));
        out.model_error = Some(error);
    }
    if let Some(why) = round.declined {
        out.discarded.push((id_prefix, format!("declined: {why}")));
    }
    out.discarded.extend(round.discarded);
    for proposal in round.proposals {
        match settled(&proposal) {
            Some(reason) => {
                // Nothing runs it, and the copy its verdict was reached on is kept where it was.
                let _ = std::fs::remove_dir_all(&proposal.dir);
                out.discarded.push((proposal.id, reason))
            }
            None => out.proposals.push(proposal),
        }
    }
    out.spend = super::spend_since(client, &before);
    out
}

/// The tasks a proposer may name as expected fixes or risks: those of the split weaknesses
/// are mined from. Never the validate or test tasks, which judge its edits and must stay
/// unseen by it.
fn named_tasks(store: &Store) -> Vec<String> {
    Splits::load(&store.splits_path()).ok().flatten().map(|s| s.tasks(Split::Mine).to_vec()).unwrap_or_default()
}

/// The standing proposals (none before the first).
pub fn standing(store: &Store) -> Result<Vec<Proposal>, String> {
    crate::store::read_json_list(&store.proposals_path())
}

/// Replaces the standing proposals for the weaknesses in `fresh_for` by `fresh`, keeping
/// the rest.
pub fn save_standing(store: &Store, fresh_for: &[String], fresh: &[Proposal]) -> Result<(), String> {
    // A read-modify-write: the loop and the editor's jobs take turns, so neither drops the
    // other's proposals.
    let lock = store.proposals_lock_path();
    let _held = crate::util::FileLock::acquire_blocking(&lock, "proposing")
        .map_err(|e| format!("cannot lock {}: {e}", lock.display()))?;
    let mut all = standing(store)?;
    all.retain(|p| !fresh_for.contains(&p.weakness));
    all.extend_from_slice(fresh);
    let path = store.proposals_path();
    crate::store::write_json(&path, &all).map_err(|e| format!("{}: {e}", path.display()))
}

/// The standing proposal `id`, or an error that names the standing ones.
pub fn find(store: &Store, id: &str) -> Result<Proposal, String> {
    let proposals = standing(store)?;
    proposals.iter().find(|p| p.id == id).cloned().ok_or_else(|| {
        let known: Vec<&str> = proposals.iter().map(|p| p.id.as_str()).collect();
        format!("no proposal {id:?} in the store; standing: {}", known.join(", "))
    })
}

/// The harness `proposal` edits, as it was when proposed: its copy kept in the store
/// (taken now from the working folder, if that is still unchanged and no copy was kept).
/// Never the working folder itself, which may get the edit while it is being validated.
pub fn parent_of(store: &Store, proposal: &Proposal) -> Result<Harness, String> {
    let kept = store.snapshot_dir(&proposal.parent_version);
    if let Ok(parent) = Harness::load(&kept) {
        return Ok(parent);
    }
    let working = Harness::load(&proposal.parent_dir).ok().filter(|w| w.version() == proposal.parent_version);
    let kept = working.and_then(|w| store.snapshot(&w).ok());
    kept.and_then(|dir| Harness::load(dir).ok()).ok_or_else(|| {
        format!(
            "the harness {} has changed since proposal {} was made, and no copy of version {} is kept; \
             propose again",
            proposal.parent_dir.display(),
            proposal.id,
            proposal.parent_version
        )
    })
}
