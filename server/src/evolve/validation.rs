//! Validation of one candidate against its parent: the stage that `loop`, `validate` and
//! the language server share.
//!
//! The parent's episodes fix the (task, seed) pairs; the candidate runs the same pairs, a
//! batch of `parallel` at a time, until all are in or the policy says acceptance is out of
//! reach (early stopping). Infrastructure errors are re-run by the runner and never
//! counted. An optional cost veto rejects a candidate that spends more than X times the
//! parent's tokens on the same pairs.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::episodes::{score, Episode, Runner};
use super::ledger::Spend;
use crate::harness::Harness;
use crate::task::Task;
use crate::validate::{Decider, Pair, Policy, Verdict};

/// A parent episode the candidate is compared against.
#[derive(Debug, Clone)]
pub struct Baseline {
    pub episode: Episode,
    /// From the split the weakness was mined on (only the paper policy uses these).
    pub held_in: bool,
}

/// How a candidate is judged.
#[derive(Debug, Clone, Copy, Default)]
pub struct ValidateOptions {
    pub policy: Policy,
    /// Reject a candidate that spends more than this many times the parent's tokens.
    pub max_cost_ratio: Option<f64>,
}

/// Where a validation stands, after each batch of episodes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Progress {
    pub done: usize,
    pub total: usize,
    pub parent_passed: u32,
    pub candidate_passed: u32,
}

/// The outcome of one validation.
#[derive(Debug, Clone)]
pub struct Validation {
    pub verdict: Verdict,
    pub episodes: Vec<Episode>,
    pub stopped_early: bool,
    /// What the candidate's episodes spent.
    pub spend: Spend,
    /// Candidate tokens over parent tokens on the pairs that ran.
    pub cost_ratio: Option<f64>,
}

/// Runs `candidate` on the pairs of `baseline` and decides.
pub async fn validate_candidate(
    runner: &Runner<'_>,
    tasks: &[Task],
    candidate: &Harness,
    baseline: &[Baseline],
    options: ValidateOptions,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> std::io::Result<Validation> {
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
    let mut verdict = decider.decide();
    let (_, spend) = score(&episodes);
    let candidate_tokens: u64 =
        episodes.iter().filter(|e| e.counts()).map(|e| e.outcome.tokens_in + e.outcome.tokens_out).sum();
    let cost_ratio = (parent_tokens > 0).then(|| candidate_tokens as f64 / parent_tokens as f64);
    cost_veto(&mut verdict, cost_ratio, options.max_cost_ratio);
    Ok(Validation { verdict, episodes, stopped_early, spend, cost_ratio })
}

/// Turns an acceptance into a rejection when the candidate spends over `limit` times the
/// parent's tokens.
fn cost_veto(verdict: &mut Verdict, ratio: Option<f64>, limit: Option<f64>) {
    if let (true, Some(ratio), Some(limit)) = (verdict.accepted, ratio, limit) {
        if ratio > limit {
            verdict.accepted = false;
            verdict.reason =
                format!("{}; vetoed: spends {ratio:.2}× the parent's tokens (limit {limit}×)", verdict.reason);
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
    pub verdict: Verdict,
    pub stopped_early: bool,
    pub cost_ratio: Option<f64>,
    pub spend: Spend,
}

impl ValidationRecord {
    /// "+3/16 · p=0.031": the change in passes over the pairs compared, and the p-value.
    pub fn evidence(&self) -> String {
        let v = &self.verdict;
        let delta = i64::from(v.candidate.passed) - i64::from(v.parent.passed);
        let p = v.p_value.map(|p| format!(" · p={p:.3}")).unwrap_or_default();
        format!("{delta:+}/{}{p}", v.parent.counted)
    }
}

impl Validation {
    /// The record of this validation of `candidate` against `parent`, an edit of the
    /// working harness folder `harness`.
    pub fn record(
        &self,
        proposal: Option<&str>,
        harness: &std::path::Path,
        parent: &Harness,
        candidate: &Harness,
        policy: Policy,
    ) -> ValidationRecord {
        ValidationRecord {
            at: crate::agent::now_rfc3339(),
            proposal: proposal.map(str::to_string),
            harness: Some(harness.canonicalize().unwrap_or_else(|_| harness.to_path_buf())),
            parent_dir: parent.dir().to_path_buf(),
            parent_version: parent.version().to_string(),
            candidate_dir: candidate.dir().to_path_buf(),
            candidate_version: candidate.version().to_string(),
            policy: policy.to_string(),
            verdict: self.verdict.clone(),
            stopped_early: self.stopped_early,
            cost_ratio: self.cost_ratio,
            spend: self.spend,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::evolve::ledger::Score;

    #[test]
    fn the_cost_veto_rejects_only_accepted_and_expensive_candidates() {
        let accepted = Verdict {
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
        let mut rejected = Verdict { accepted: false, ..accepted };
        cost_veto(&mut rejected, Some(3.0), Some(1.5));
        assert!(!rejected.reason.contains("vetoed"));
    }
}
