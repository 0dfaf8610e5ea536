//! The validate stage: does a candidate harness beat its parent on tasks it was not mined
//! from? [`validate`] is the stage's one entry, which `loop`, `validate` and the editor
//! all call.
//!
//! The parent runs (or reuses) the validate split — and, for the paper's two-way rule, the
//! mine split too — and its episodes fix the (task, seed) pairs; the candidate runs the
//! same pairs, a batch of `parallel` at a time, until all are in or the [`Policy`] says
//! acceptance is out of reach (early stopping; the rule is `decide`). Infrastructure errors
//! are re-run by the runner and never counted. An optional cost veto rejects a candidate
//! that spends more than X times the parent's tokens on the same pairs. Every decision
//! becomes a line of the store's `validations.jsonl` ([`ValidationRecord`]), where the
//! editor finds what to mark.

mod decide;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use decide::{Decider, Decision, Pair, Policy};

use super::Context;
use crate::episodes::{score, Episode, Runner, Spend};
use crate::harness::Harness;
use crate::splits::Split;
use crate::stages::propose;
use crate::store::Store;
use crate::task::Task;

/// How a candidate is judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    pub policy: Policy,
    /// Reject a candidate that spends more than this many times the parent's tokens.
    pub max_cost_ratio: Option<f64>,
}

/// What is validated: an edited harness against the harness it edits.
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The edited harness.
    pub harness: Harness,
    /// The harness it edits.
    pub parent: Harness,
    /// The proposal it is, when it is one proposal.
    pub proposal: Option<String>,
    /// The working harness folder the edit is for (where the editor marks it).
    pub working: PathBuf,
}

impl Candidate {
    /// The standing proposal `id`: its candidate folder against the kept copy of the
    /// harness it edits.
    pub fn proposal(store: &Store, id: &str) -> Result<Candidate, String> {
        let proposal = propose::find(store, id)?;
        let parent = propose::parent_of(store, &proposal)?;
        let harness = Harness::load(&proposal.dir).map_err(|d| {
            let first = d.first().map(|d| d.to_string()).unwrap_or_default();
            format!("the candidate of proposal {id} ({}) does not load: {first}", proposal.dir.display())
        })?;
        Ok(Candidate { harness, parent, proposal: Some(proposal.id), working: proposal.parent_dir })
    }

    /// An error when there is nothing to validate: the candidate is its parent.
    pub fn ensure_changed(&self) -> Result<(), ValidateError> {
        match self.harness.version() == self.parent.version() {
            true => Err(ValidateError::Unchanged),
            false => Ok(()),
        }
    }
}

/// Where a validation stands, after each batch of the candidate's episodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub parent_passed: u32,
    pub candidate_passed: u32,
}

/// Why a candidate could not be validated.
#[derive(Debug, thiserror::Error)]
pub enum ValidateError {
    #[error("the candidate is the same harness as its parent: nothing to validate")]
    Unchanged,
    /// Episodes could not run, or the decision could not be recorded.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Runs (or reuses) the parent's episodes, runs the candidate on the same pairs, decides,
/// and records the decision in the store.
pub async fn validate(
    ctx: &Context<'_>,
    candidate: &Candidate,
    options: ValidateOptions,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> Result<ValidationRecord, ValidateError> {
    candidate.ensure_changed()?;
    let (harness, parent) = (&candidate.harness, &candidate.parent);
    (ctx.say)(&format!("validating {} against {}", harness.version(), parent.version()));
    // The paper's two-way rule also weighs the held-in (mine) tasks.
    let mut sides = vec![(Split::Validate, false)];
    if options.policy == Policy::Paper {
        sides.push((Split::Mine, true));
    }
    let mut baseline = Vec::new();
    for (split, held_in) in sides {
        let episodes = ctx.run_split(parent, split).await?;
        baseline.extend(episodes.into_iter().map(|episode| Baseline { episode, held_in }));
    }
    let compared = compare(&ctx.runner, ctx.tasks, harness, &baseline, options, on_progress).await?;
    let record = ValidationRecord {
        at: crate::agent::now_rfc3339(),
        proposal: candidate.proposal.clone(),
        harness: Some(candidate.working.canonicalize().unwrap_or_else(|_| candidate.working.clone())),
        parent_dir: parent.dir().to_path_buf(),
        parent_version: parent.version().to_string(),
        candidate_dir: harness.dir().to_path_buf(),
        candidate_version: harness.version().to_string(),
        policy: options.policy.to_string(),
        decision: compared.decision,
        stopped_early: compared.stopped_early,
        cost_ratio: compared.cost_ratio,
        spend: compared.spend,
    };
    append_record(ctx.store(), &record)?;
    Ok(record)
}

/// A parent episode the candidate is compared against.
struct Baseline {
    episode: Episode,
    /// From the split the weakness was mined on (only the paper policy uses these).
    held_in: bool,
}

/// The candidate's side of a validation.
struct Compared {
    decision: Decision,
    stopped_early: bool,
    /// What the candidate's episodes spent.
    spend: Spend,
    /// Candidate tokens over parent tokens on the pairs that ran.
    cost_ratio: Option<f64>,
}

/// Runs `candidate` on the pairs of `baseline` and decides.
async fn compare(
    runner: &Runner<'_>,
    tasks: &[Task],
    candidate: &Harness,
    baseline: &[Baseline],
    options: ValidateOptions,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> std::io::Result<Compared> {
    let compared: Vec<&Baseline> = baseline
        .iter()
        .filter(|b| b.episode.counts() && (!b.held_in || options.policy == Policy::Paper))
        .filter(|b| tasks.iter().any(|t| t.name == b.episode.task))
        .collect();
    let mut decider = Decider::new(options.policy, compared.len());
    let mut progress = Progress { total: compared.len(), ..Progress::default() };
    let mut episodes = Vec::new();
    let mut parent_tokens = 0;
    let mut stopped_early = false;
    for batch in compared.chunks(runner.parallel.max(1)) {
        if !decider.can_still_accept() {
            stopped_early = true;
            break;
        }
        let jobs: Vec<(&Task, u64)> = batch
            .iter()
            .filter_map(|b| tasks.iter().find(|t| t.name == b.episode.task).map(|t| (t, b.episode.seed)))
            .collect();
        let ran = runner.run_all(candidate, &jobs).await?;
        for (parent, episode) in batch.iter().zip(ran) {
            progress.done += 1;
            if episode.counts() {
                let (parent_passed, candidate_passed) = (parent.episode.outcome.passed, episode.outcome.passed);
                decider.add(Pair {
                    task: episode.task.clone(),
                    held_in: parent.held_in,
                    parent_passed,
                    candidate_passed,
                });
                progress.parent_passed += u32::from(parent_passed);
                progress.candidate_passed += u32::from(candidate_passed);
                parent_tokens += parent.episode.outcome.tokens_in + parent.episode.outcome.tokens_out;
            }
            episodes.push(episode);
        }
        on_progress(&progress);
    }
    let mut decision = decider.decide();
    let (_, spend) = score(&episodes);
    let candidate_tokens: u64 =
        episodes.iter().filter(|e| e.counts()).map(|e| e.outcome.tokens_in + e.outcome.tokens_out).sum();
    let cost_ratio = (parent_tokens > 0).then(|| candidate_tokens as f64 / parent_tokens as f64);
    cost_veto(&mut decision, cost_ratio, options.max_cost_ratio);
    Ok(Compared { decision, stopped_early, spend, cost_ratio })
}

/// Turns an acceptance into a rejection when the candidate spends over `limit` times the
/// parent's tokens.
fn cost_veto(decision: &mut Decision, ratio: Option<f64>, limit: Option<f64>) {
    if let (true, Some(ratio), Some(limit)) = (decision.accepted, ratio, limit) {
        if ratio > limit {
            decision.accepted = false;
            decision.reason =
                format!("{}; vetoed: spends {ratio:.2}× the parent's tokens (limit {limit}×)", decision.reason);
        }
    }
}

/// One validation decision as `.self-harness/validations.jsonl` keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidationRecord {
    pub at: String,
    /// The proposal validated, when it was one.
    #[serde(default)]
    pub proposal: Option<String>,
    /// The working harness folder the edit is for (where the editor marks it).
    #[serde(default)]
    pub harness: Option<PathBuf>,
    pub parent_dir: PathBuf,
    pub parent_version: String,
    pub candidate_dir: PathBuf,
    pub candidate_version: String,
    pub policy: String,
    /// Accepted or not, why, the p-value and the scores.
    #[serde(flatten)]
    pub decision: Decision,
    pub stopped_early: bool,
    pub cost_ratio: Option<f64>,
    pub spend: Spend,
}

impl ValidationRecord {
    /// "+3/16 · p=0.031": the change in passes over the pairs compared, and the p-value.
    pub fn evidence(&self) -> String {
        let d = &self.decision;
        let delta = i64::from(d.candidate.passed) - i64::from(d.parent.passed);
        let p = d.p_value.map(|p| format!(" · p={p:.3}")).unwrap_or_default();
        format!("{delta:+}/{}{p}", d.parent.counted)
    }
}

/// Every validation decision recorded so far (a torn last line is skipped).
pub fn records(store: &Store) -> Result<Vec<ValidationRecord>, String> {
    crate::util::read_json_lines(&store.validations_path()).map(|(records, _)| records)
}

/// Appends a decision to the store's `validations.jsonl`.
pub fn append_record(store: &Store, record: &ValidationRecord) -> std::io::Result<()> {
    crate::util::append_json_line(&store.validations_path(), record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::episodes::Score;

    #[test]
    fn the_cost_veto_rejects_only_accepted_and_expensive_candidates() {
        let accepted = Decision {
            accepted: true,
            reason: "4 pairs better".into(),
            p_value: Some(0.06),
            parent: Score::default(),
            candidate: Score::default(),
            improved: vec![],
            regressed: vec![],
        };
        let mut v = accepted.clone();
        cost_veto(&mut v, Some(2.5), Some(1.5));
        assert!(!v.accepted && v.reason.contains("vetoed: spends 2.50× the parent's tokens"), "{}", v.reason);
        for (ratio, limit) in [(Some(1.2), Some(1.5)), (Some(9.0), None), (None, Some(1.5))] {
            let mut v = accepted.clone();
            cost_veto(&mut v, ratio, limit);
            assert!(v.accepted, "{ratio:?} {limit:?}");
        }
        let mut rejected = Decision { accepted: false, ..accepted };
        cost_veto(&mut rejected, Some(3.0), Some(1.5));
        assert!(!rejected.reason.contains("vetoed"));
    }
}
