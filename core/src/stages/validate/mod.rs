//! The validate stage: does a candidate harness beat its parent on tasks it was not mined
//! from? [`validate`] is the stage's one entry, which `loop`, `validate` and the editor
//! all call.
//!
//! The parent runs (or reuses) the validate split — and, for the paper's two-way rule, the
//! mine split too — and its episodes fix the (task, seed) pairs; the candidate runs the
//! same pairs, a batch of `parallel` at a time, until all are in or the [`AcceptanceRule`] says
//! acceptance is out of reach (early stopping; the rule is `decide`). Infrastructure errors
//! are re-run by the runner and never counted. An optional cost veto rejects a candidate
//! that spends more than X times the parent's tokens on the same pairs. Every decision
//! becomes a line of the store's `validations.jsonl` ([`ValidationRecord`]), where the
//! editor finds what to mark.

mod decide;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use decide::{policy_text, smallest_reachable_p, AcceptanceRule, Decider, Decision, Planned};

use super::Context;
use crate::episodes::{score, Episode, Runner, Spend};
use crate::harness::Harness;
use crate::splits::Split;
use crate::stages::propose;
use crate::store::Store;
use crate::task::Task;

/// How a candidate is judged.
#[derive(Debug, Clone, Copy)]
pub struct ValidateOptions {
    pub policy: AcceptanceRule,
    /// Reject a candidate that spends more than this many times the parent's tokens.
    pub max_cost_ratio: Option<f64>,
    /// How many candidates are judged against the same parent sample (the loop's
    /// iteration: its candidates and their combination); the test's level is α / family.
    pub family: usize,
    /// Which seeds the validate split's pairs use (see [`Context::sample`]): the loop draws
    /// a fresh sample each iteration, so no sample decides twice.
    pub sample: u32,
}

impl Default for ValidateOptions {
    fn default() -> Self {
        ValidateOptions { policy: AcceptanceRule::default(), max_cost_ratio: None, family: 1, sample: 0 }
    }
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
        let harness = Harness::open(&proposal.dir).map_err(|e| format!("the candidate of proposal {id}: {e}"))?;
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

/// A decision and the episodes it rests on.
#[derive(Debug, Clone)]
pub struct Validation {
    pub record: ValidationRecord,
    /// The parent's episodes that fixed the pairs, then the candidate's.
    pub episodes: Vec<Episode>,
}

/// Runs (or reuses) the parent's episodes, runs the candidate on the same pairs, decides,
/// and records the decision in the store.
pub async fn validate(
    ctx: &Context<'_>,
    candidate: &Candidate,
    options: ValidateOptions,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> Result<Validation, ValidateError> {
    candidate.ensure_changed()?;
    let (harness, parent) = (&candidate.harness, &candidate.parent);
    (ctx.say)(&format!("validating {} against {}", harness.version(), parent.version()));
    // A split too small to ever accept is rejected before any episode is spent on it.
    if let AcceptanceRule::PairedTasks { alpha } = options.policy {
        let named = ctx.splits.tasks(Split::Validate);
        let tasks = named.iter().filter(|n| ctx.tasks.iter().any(|t| &t.name == *n)).count();
        let best = smallest_reachable_p(&vec![0; tasks], ctx.repeats, options.family);
        if best > alpha {
            let decision = Decision::out_of_reach(tasks, options.family, best, alpha);
            let unrun = Compared {
                decision,
                episodes: Vec::new(),
                stopped_early: true,
                spend: Spend::default(),
                cost_ratio: None,
            };
            let record = record_of(candidate, options, &unrun);
            append_record(ctx.store(), &record)?;
            return Ok(Validation { record, episodes: Vec::new() });
        }
    }
    // The paper's two-way rule also weighs the held-in (mine) tasks: the parent's mined episodes.
    let mut baseline = Vec::new();
    for &split in options.policy.splits() {
        let held_in = split == Split::Mine;
        let sample = if held_in { 0 } else { options.sample };
        let episodes = ctx.run_sample(parent, split, sample).await?;
        baseline.extend(episodes.into_iter().map(|episode| Baseline { episode, held_in }));
    }
    let compared = compare(&ctx.runner, ctx.tasks, harness, &baseline, options, on_progress).await?;
    let record = record_of(candidate, options, &compared);
    append_record(ctx.store(), &record)?;
    let episodes = baseline.into_iter().map(|b| b.episode).chain(compared.episodes).collect();
    Ok(Validation { record, episodes })
}

/// The record of the decision about `candidate`, with what its episodes spent.
fn record_of(candidate: &Candidate, options: ValidateOptions, compared: &Compared) -> ValidationRecord {
    let (harness, parent, working) = (&candidate.harness, &candidate.parent, &candidate.working);
    ValidationRecord {
        at: crate::util::now_rfc3339(),
        proposal: candidate.proposal.clone(),
        harness: Some(working.canonicalize().unwrap_or_else(|_| working.clone())),
        parent_dir: parent.dir().to_path_buf(),
        parent_version: parent.version().to_string(),
        candidate_dir: harness.dir().to_path_buf(),
        candidate_version: harness.version().to_string(),
        policy: options.policy,
        sample: options.sample,
        decision: compared.decision.clone(),
        stopped_early: compared.stopped_early,
        cost_ratio: compared.cost_ratio,
        spend: compared.spend,
    }
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
    episodes: Vec<Episode>,
    stopped_early: bool,
    /// What the candidate's episodes spent.
    spend: Spend,
    /// Candidate tokens over parent tokens on the pairs that ran.
    cost_ratio: Option<f64>,
}

/// Runs `candidate` on the pairs of `baseline`, batch by batch, until the decision is
/// settled, and decides.
async fn compare(
    runner: &Runner<'_>,
    tasks: &[Task],
    candidate: &Harness,
    baseline: &[Baseline],
    options: ValidateOptions,
    on_progress: &(dyn Fn(&Progress) + Sync),
) -> std::io::Result<Compared> {
    let compared: Vec<(&Baseline, &Task)> = baseline
        .iter()
        .filter(|b| b.episode.counts() && (!b.held_in || options.policy == AcceptanceRule::Paper))
        .filter_map(|b| tasks.iter().find(|t| t.name == b.episode.task).map(|t| (b, t)))
        .collect();
    let plan = compared.iter().map(|(b, _)| Planned {
        task: b.episode.task.clone(),
        held_in: b.held_in,
        parent_passed: b.episode.outcome.passed,
    });
    let mut decider = Decider::new(options.policy, options.family, plan.collect());
    let mut progress = Progress { total: compared.len(), ..Progress::default() };
    let mut episodes = Vec::new();
    let mut parent_tokens = 0;
    loop {
        let batch = decider.next_batch(runner.parallel);
        if batch.is_empty() {
            break;
        }
        let keys: Vec<(&Task, u64)> = batch.iter().map(|&i| (compared[i].1, compared[i].0.episode.seed)).collect();
        let ran = runner.run_all(candidate, &keys).await?;
        for (&i, episode) in batch.iter().zip(ran) {
            let parent = &compared[i].0.episode;
            progress.done += 1;
            if episode.counts() {
                decider.record(i, Some(episode.outcome.passed));
                progress.parent_passed += u32::from(parent.outcome.passed);
                progress.candidate_passed += u32::from(episode.outcome.passed);
                parent_tokens += parent.outcome.tokens_in + parent.outcome.tokens_out;
            } else {
                decider.record(i, None);
            }
            episodes.push(episode);
        }
        on_progress(&progress);
    }
    let stopped_early = decider.pending() > 0;
    let mut decision = decider.decide();
    if let Some(best) = decider.best_case_p().filter(|_| stopped_early) {
        let left = decider.pending();
        decision.reason = format!(
            "{}; stopped with {left} of {} pair(s) left: even if the candidate passed them all, p would be {best:.4}",
            decision.reason,
            compared.len()
        );
    }
    // Pairs the infrastructure broke (after its retries) are left out for both sides: said.
    let dropped =
        baseline.iter().filter(|b| !b.episode.counts()).count() + episodes.iter().filter(|e| !e.counts()).count();
    if dropped > 0 {
        decision.reason = format!("{}; {dropped} pair(s) left out: the infrastructure failed", decision.reason);
    }
    let (_, spend) = score(&episodes);
    let candidate_tokens: u64 =
        episodes.iter().filter(|e| e.counts()).map(|e| e.outcome.tokens_in + e.outcome.tokens_out).sum();
    let cost_ratio = (parent_tokens > 0).then(|| candidate_tokens as f64 / parent_tokens as f64);
    cost_veto(&mut decision, cost_ratio, options.max_cost_ratio);
    Ok(Compared { decision, episodes, stopped_early, spend, cost_ratio })
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
    #[serde(with = "policy_text")]
    pub policy: AcceptanceRule,
    /// The sample of the validate split the parent's episodes came from (0: the first).
    #[serde(default)]
    pub sample: u32,
    /// Accepted or not, why, the p-value and the scores.
    #[serde(flatten)]
    pub decision: Decision,
    pub stopped_early: bool,
    pub cost_ratio: Option<f64>,
    pub spend: Spend,
}

impl ValidationRecord {
    /// Whether `other` decides the same question: the same candidate against the same
    /// parent, by the same rule, on the same sample.
    fn same_decision(&self, other: &ValidationRecord) -> bool {
        (&self.parent_version, &self.candidate_version, self.policy, self.sample, self.proposal.as_ref())
            == (&other.parent_version, &other.candidate_version, other.policy, other.sample, other.proposal.as_ref())
    }

    /// "+3/16 tasks · p=0.031": tasks better minus tasks worse, of the tasks compared, and
    /// the p-value acceptance was judged by (adjusted for the candidates judged together).
    pub fn evidence(&self) -> String {
        let d = &self.decision;
        let net = d.improved.len() as i64 - d.regressed.len() as i64;
        let p = d.p_adjusted.or(d.p_value).map(|p| format!(" · p={p:.3}")).unwrap_or_default();
        format!("{net:+}/{} tasks{p}", d.parent.per_task.len())
    }
}

/// Every validation decision recorded so far (a torn last line is skipped).
pub fn records(store: &Store) -> Result<Vec<ValidationRecord>, String> {
    crate::util::read_json_lines(&store.validations_path()).map(|(records, _)| records)
}

/// Appends a decision to the store's `validations.jsonl`, unless the same decision — this
/// candidate against this parent, by this rule, on this sample — is there already: a
/// validation killed after its record and resumed decides again from the same episodes,
/// and one decision is one line.
pub fn append_record(store: &Store, record: &ValidationRecord) -> std::io::Result<()> {
    let path = store.validations_path();
    let (recorded, _) = crate::util::read_json_lines::<ValidationRecord>(&path).map_err(std::io::Error::other)?;
    if recorded.iter().any(|r| r.same_decision(record)) {
        return Ok(());
    }
    crate::util::append_json_line(&path, record)
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
            p_adjusted: Some(0.06),
            family: 1,
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

    #[test]
    fn a_decision_recorded_again_is_one_line() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::at(dir.path());
        let record = |candidate: &str, sample: u32, at: &str| ValidationRecord {
            at: at.into(),
            proposal: Some("p-1".into()),
            harness: None,
            parent_dir: "/p".into(),
            parent_version: "parent".into(),
            candidate_dir: "/c".into(),
            candidate_version: candidate.into(),
            policy: AcceptanceRule::default(),
            sample,
            decision: Decision {
                accepted: false,
                reason: "1 task better".into(),
                p_value: Some(0.5),
                p_adjusted: Some(0.5),
                family: 1,
                parent: Score::default(),
                candidate: Score::default(),
                improved: vec![],
                regressed: vec![],
            },
            stopped_early: false,
            cost_ratio: None,
            spend: Spend::default(),
        };
        append_record(&store, &record("c1", 0, "first")).unwrap();
        // Killed after the line, resumed: the same decision, made again later.
        append_record(&store, &record("c1", 0, "again")).unwrap();
        // Another candidate, or the same on the next iteration's sample: decisions of their own.
        append_record(&store, &record("c2", 0, "other")).unwrap();
        append_record(&store, &record("c1", 1, "next sample")).unwrap();
        let at: Vec<String> = records(&store).unwrap().into_iter().map(|r| r.at).collect();
        assert_eq!(at, ["first", "other", "next sample"]);
    }
}
