//! The loop itself: baseline, then per iteration mine → propose → validate → apply.
//!
//! Every step first looks in the ledger (and the episode store) for its own result, so the
//! same command after a crash or Ctrl-C continues where the last one stopped: finished
//! episodes are reused, recorded proposals are not asked for again, recorded decisions are
//! not re-validated, and an edit already installed is recognised by its version.

use std::path::{Path, PathBuf};

use super::episodes::{score, Episode, Runner};
use super::ledger::{self, Entry, Spend, Split, Stage};
use super::splits::Splits;
use super::validation::{validate_candidate, Baseline, ValidateOptions, Validation};
use crate::harness::Harness;
use crate::llm::{Client, UsageTotals};
use crate::propose::{self, Budget, Proposal, Proposer, RoundSpec, Weakness};
use crate::task::Task;
use crate::trace::Trace;
use crate::validate::Policy;

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub harness_dir: PathBuf,
    pub iterations: u32,
    pub auto_apply: bool,
    pub repeats: u32,
    pub seed: u64,
    pub policy: Policy,
    pub proposer: Proposer,
    /// Candidates asked of the model per weakness.
    pub per_weakness: usize,
    /// Weaknesses addressed per iteration (the best supported first).
    pub weaknesses: usize,
    pub budget: Budget,
    pub budget_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
    /// Reject candidates that spend more than this many times the parent's tokens.
    pub max_cost_ratio: Option<f64>,
}

/// What the loop needs around it.
pub struct LoopContext<'a> {
    pub runner: Runner<'a>,
    pub client: &'a Client,
    pub tasks: Vec<Task>,
    pub splits: Splits,
    pub ledger_path: PathBuf,
    /// Where proposals and candidate harnesses are kept.
    pub store_root: PathBuf,
    pub say: &'a (dyn Fn(&str) + Sync),
}

/// How the loop ended.
#[derive(Debug, Clone)]
pub struct LoopEnd {
    pub harness_version: String,
    pub reason: String,
}

#[derive(Debug, thiserror::Error)]
pub enum LoopError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Ledger(String),
    #[error("the harness {path} does not load: {message}")]
    Harness { path: PathBuf, message: String },
}

impl LoopContext<'_> {
    fn task(&self, name: &str) -> Option<&Task> {
        self.tasks.iter().find(|t| t.name == name)
    }

    fn append(&self, entry: Entry) -> std::io::Result<()> {
        ledger::append(&self.ledger_path, &entry)
    }

    fn entries(&self) -> Result<Vec<Entry>, LoopError> {
        ledger::read(&self.ledger_path).map(|l| l.entries).map_err(LoopError::Ledger)
    }

    /// Why the loop must stop spending, if it must: what earlier runs recorded in the
    /// ledger (`earlier`) plus what this process's model calls have cost so far.
    fn over_budget(&self, options: &LoopOptions, earlier: &Spend) -> Option<String> {
        let now = self.client.usage().totals();
        let (tokens, usd) = (earlier.tokens + now.total_tokens(), earlier.cost_usd + now.cost_usd);
        if options.budget_tokens.is_some_and(|b| tokens >= b) {
            return Some(format!("token budget spent ({tokens} tokens)"));
        }
        if options.budget_usd.is_some_and(|b| usd >= b) {
            return Some(format!("USD budget spent (${usd:.4})"));
        }
        None
    }

    /// Runs (or reuses) `harness` on a split and records the evaluation once.
    async fn evaluate(
        &self,
        harness: &Harness,
        split: Split,
        iteration: u32,
        options: &LoopOptions,
    ) -> Result<Vec<Episode>, LoopError> {
        let jobs: Vec<(&Task, u64)> = self
            .splits
            .tasks(split)
            .iter()
            .filter_map(|name| self.task(name))
            .flat_map(|task| (0..options.repeats).map(move |r| (task, options.seed + u64::from(r))))
            .collect();
        let episodes = self.runner.run_all(harness, &jobs).await?;
        let recorded = self.entries()?.iter().any(|e| {
            matches!(e, Entry::Evaluation { harness_version, split: s, .. } if harness_version == harness.version() && *s == split)
        });
        if !recorded {
            let (score, spend) = score(&episodes);
            (self.say)(&format!("{} on {split:?}: {}/{} passed", harness.version(), score.passed, score.counted));
            self.append(Entry::Evaluation {
                at: now(),
                iteration,
                harness_version: harness.version().to_string(),
                split,
                run: Runner::run_name(harness.version()),
                score,
                spend,
            })?;
        }
        Ok(episodes)
    }
}

/// Runs the loop to its end.
pub async fn run(options: &LoopOptions, ctx: &LoopContext<'_>) -> Result<LoopEnd, LoopError> {
    let load = |dir: &Path| {
        Harness::load(dir).map_err(|d| LoopError::Harness {
            path: dir.to_path_buf(),
            message: d.iter().map(|d| d.to_string()).collect::<Vec<_>>().join("; "),
        })
    };
    let mut harness = load(&options.harness_dir)?;
    let entries = ctx.entries()?;
    // Budgets hold across restarts: what earlier runs of this loop spent counts too.
    let earlier = ledger::total_spend(&entries);
    if !entries.iter().any(|e| matches!(e, Entry::Start { .. })) {
        ctx.append(Entry::Start {
            at: now(),
            harness_dir: options.harness_dir.clone(),
            harness_version: harness.version().to_string(),
            model: ctx.runner.model.clone(),
            splits: ctx.splits.sets.clone(),
            seed: options.seed,
            repeats: options.repeats,
            policy: options.policy.to_string(),
        })?;
    }
    let done_iterations = entries
        .iter()
        .filter_map(|e| if let Entry::IterationEnd { iteration, .. } = e { Some(*iteration) } else { None })
        .max()
        .unwrap_or(0);

    // Baseline: the starting harness on every split (the test split only for the report).
    if done_iterations == 0 {
        (ctx.say)("baseline");
        for split in [Split::Mine, Split::Validate, Split::Test] {
            ctx.evaluate(&harness, split, 0, options).await?;
        }
    }

    let mut reason = format!("{} iteration(s) done", options.iterations);
    for iteration in done_iterations + 1..=options.iterations {
        if let Some(why) = ctx.over_budget(options, &earlier) {
            reason = why;
            break;
        }
        (ctx.say)(&format!("iteration {iteration}: mining"));
        let mined = ctx.evaluate(&harness, Split::Mine, iteration, options).await?;
        let weaknesses = weaknesses(ctx, &harness, &mined, iteration, options.seed).await?;
        if weaknesses.is_empty() {
            reason = "no weakness found in the mine split's failed traces".into();
            ctx.append(Entry::IterationEnd { at: now(), iteration, harness_version: harness.version().to_string() })?;
            break;
        }

        (ctx.say)(&format!(
            "iteration {iteration}: proposing for {} weakness(es)",
            weaknesses.len().min(options.weaknesses)
        ));
        let proposals = proposals(options, ctx, &harness, &weaknesses, iteration).await?;
        // The standing proposals, where `propose` keeps them and the editor looks for them.
        let addressed: Vec<String> = weaknesses.iter().take(options.weaknesses).map(|w| w.id.clone()).collect();
        ctx.runner.store.save_proposals(&addressed, &proposals).map_err(LoopError::Ledger)?;
        if !options.auto_apply {
            reason = format!(
                "waiting for a person: {} proposal(s) in {}; review them, then run again with --auto-apply",
                proposals.len(),
                ctx.store_root.join("proposals").join(iteration.to_string()).display()
            );
            ctx.append(Entry::Finish {
                at: now(),
                harness_version: harness.version().to_string(),
                reason: reason.clone(),
            })?;
            return Ok(LoopEnd { harness_version: harness.version().to_string(), reason });
        }

        (ctx.say)(&format!("iteration {iteration}: validating {} candidate(s)", proposals.len()));
        let held_out = ctx.evaluate(&harness, Split::Validate, iteration, options).await?;
        // The paper's two-way rule also weighs the held-in (mined) episodes.
        let baseline: Vec<Baseline> = held_out
            .into_iter()
            .map(|episode| Baseline { episode, held_in: false })
            .chain(mined.iter().cloned().map(|episode| Baseline { episode, held_in: true }))
            .collect();
        let mut accepted: Vec<(Proposal, f64)> = Vec::new();
        for proposal in &proposals {
            if let Some(why) = ctx.over_budget(options, &earlier) {
                (ctx.say)(&format!("  {why}: {} left unvalidated", proposal.id));
                break;
            }
            let candidate = load(&proposal.dir)?;
            let verdict =
                validate(options, ctx, iteration, &harness, &candidate, &baseline, std::slice::from_ref(proposal))
                    .await?;
            if let Some(p) = verdict {
                accepted.push((proposal.clone(), p));
            }
        }
        // Several winners: validate them combined before accepting the combination.
        let mut winner: Option<(PathBuf, Vec<String>, String)> = None;
        accepted.sort_by(|a, b| a.1.total_cmp(&b.1));
        if accepted.len() > 1 {
            let dir = ctx.store_root.join("candidates").join(format!("{iteration}-combined"));
            if let Some(combined) =
                combine(&harness, &accepted.iter().map(|(p, _)| p.clone()).collect::<Vec<_>>(), &dir, options.budget)
            {
                let all: Vec<Proposal> = accepted.iter().map(|(p, _)| p.clone()).collect();
                if validate(options, ctx, iteration, &harness, &combined, &baseline, &all).await?.is_some() {
                    winner = Some((dir, all.iter().map(|p| p.id.clone()).collect(), combined.version().to_string()));
                }
            }
        }
        if winner.is_none() {
            winner = accepted.first().map(|(p, _)| (p.dir.clone(), vec![p.id.clone()], p.version.clone()));
        }
        if let Some((dir, ids, version)) = winner {
            apply(ctx, options, iteration, &dir, &ids, &version, &weaknesses, &proposals)?;
            harness = load(&options.harness_dir)?;
        }
        ctx.append(Entry::IterationEnd { at: now(), iteration, harness_version: harness.version().to_string() })?;
    }

    // The report's numbers: the final harness on the held-out test split.
    (ctx.say)("final evaluation on the test split");
    ctx.evaluate(&harness, Split::Test, options.iterations, options).await?;
    ctx.append(Entry::Finish { at: now(), harness_version: harness.version().to_string(), reason: reason.clone() })?;
    Ok(LoopEnd { harness_version: harness.version().to_string(), reason })
}

/// Proposals for this iteration: recorded ones when resuming, otherwise asked for, checked,
/// deduplicated and recorded.
async fn proposals(
    options: &LoopOptions,
    ctx: &LoopContext<'_>,
    harness: &Harness,
    weaknesses: &[Weakness],
    iteration: u32,
) -> Result<Vec<Proposal>, LoopError> {
    let dir = ctx.store_root.join("proposals").join(iteration.to_string());
    let entries = ctx.entries()?;
    let recorded: Vec<&String> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Proposal { iteration: i, id, .. } if *i == iteration => Some(id),
            _ => None,
        })
        .collect();
    let asked = entries.iter().any(|e| matches!(e, Entry::Discarded { iteration: i, .. } | Entry::Proposal { iteration: i, .. } if *i == iteration));
    if asked {
        let mut found = Vec::new();
        for id in recorded {
            let text = std::fs::read_to_string(dir.join(format!("{id}.json")))?;
            found.push(serde_json::from_str(&text).map_err(|e| LoopError::Ledger(format!("proposal {id}: {e}")))?);
        }
        return Ok(found);
    }

    let validate_tasks: Vec<String> = ctx.splits.tasks(Split::Validate).to_vec();
    let before = ctx.client.usage().totals();
    let mut kept: Vec<Proposal> = Vec::new();
    for (w, weakness) in weaknesses.iter().take(options.weaknesses).enumerate() {
        let spec = RoundSpec {
            harness,
            weakness,
            candidates: options.per_weakness,
            proposer: options.proposer,
            tasks: &validate_tasks,
            // A new seed each iteration: an iteration that accepted nothing should not be
            // offered the very same edits again.
            seed: options.seed + u64::from(iteration) * 1000 + w as u64,
            budget: options.budget,
            candidates_dir: &ctx.store_root.join("candidates"),
            id_prefix: format!("{iteration}-{}", weakness.id),
            iteration,
        };
        let round = propose::round(ctx.client, &spec, &kept).await;
        let discard = |id: String, reason: String| ctx.append(Entry::Discarded { at: now(), iteration, id, reason });
        if let Some(error) = round.error {
            discard(format!("{iteration}-{}-model", weakness.id), error)?;
        }
        if let Some(why) = round.declined {
            discard(format!("{iteration}-{}", weakness.id), format!("declined: {why}"))?;
        }
        for (id, reason) in round.discarded {
            discard(id, reason)?;
        }
        for proposal in round.proposals {
            // The same candidate as an earlier iteration's: its decision stands.
            if let Some(earlier) = decided(&entries, harness.version(), &proposal.version) {
                let verdict = if earlier.accepted { "accepted" } else { "rejected" };
                let reason = format!("the same harness as a candidate {verdict} in iteration {}", earlier.iteration);
                discard(proposal.id, reason)?;
                continue;
            }
            let json = serde_json::to_string_pretty(&proposal).unwrap_or_default();
            std::fs::create_dir_all(&dir)?;
            crate::util::write_atomic(&dir.join(format!("{}.json", proposal.id)), json.as_bytes())?;
            let edit = &proposal.edit;
            ctx.append(Entry::Proposal {
                at: now(),
                iteration,
                id: proposal.id.clone(),
                weakness: weakness.id.clone(),
                source: format!("{:?}", proposal.source).to_lowercase(),
                file: edit.file.clone(),
                changed_lines: proposal.changed_lines,
                rationale: edit.rationale.clone(),
                expected_fixes: edit.expected_fixes.clone(),
                might_break: edit.might_break.clone(),
            })?;
            kept.push(proposal);
        }
    }
    ctx.append(Entry::Spent { at: now(), iteration, stage: Stage::Propose, spend: model_spend_since(ctx, &before) })?;
    Ok(kept)
}

/// A decision the ledger already holds.
struct Decided {
    iteration: u32,
    accepted: bool,
    p_value: Option<f64>,
}

/// The ledger's decision on `candidate` against `parent`, if it has one.
fn decided(entries: &[Entry], parent: &str, candidate: &str) -> Option<Decided> {
    entries.iter().find_map(|e| match e {
        Entry::Decision { iteration, parent_version, candidate_version, accepted, p_value, .. }
            if parent_version == parent && candidate_version == candidate =>
        {
            Some(Decided { iteration: *iteration, accepted: *accepted, p_value: *p_value })
        }
        _ => None,
    })
}

/// Validates `candidate` against the parent's episodes (see [`validate_candidate`]).
/// Records the decision (once) and returns the p-value (or 0 for rules without one) when
/// accepted.
#[allow(clippy::too_many_arguments)]
async fn validate(
    options: &LoopOptions,
    ctx: &LoopContext<'_>,
    iteration: u32,
    parent: &Harness,
    candidate: &Harness,
    baseline: &[Baseline],
    proposals: &[Proposal],
) -> Result<Option<f64>, LoopError> {
    if let Some(earlier) = decided(&ctx.entries()?, parent.version(), candidate.version()) {
        return Ok(earlier.accepted.then(|| earlier.p_value.unwrap_or(0.0)));
    }
    let validate_options = ValidateOptions { policy: options.policy, max_cost_ratio: options.max_cost_ratio };
    let validation =
        validate_candidate(&ctx.runner, &ctx.tasks, candidate, baseline, validate_options, &|_| {}).await?;
    let proposal = (proposals.len() == 1).then(|| proposals[0].id.as_str());
    ctx.runner.store.append_validation(&validation.record(
        proposal,
        &options.harness_dir,
        parent,
        candidate,
        options.policy,
    ))?;
    let Validation { verdict, stopped_early, spend, .. } = validation;
    let predicted: Vec<&String> = proposals.iter().flat_map(|p| p.edit.expected_fixes.iter()).collect();
    let predicted_hits = predicted.iter().filter(|t| verdict.improved.contains(t)).count() as u32;
    (ctx.say)(&format!(
        "  {} {}: {}",
        proposals.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join("+"),
        if verdict.accepted { "accepted" } else { "rejected" },
        verdict.reason
    ));
    ctx.append(Entry::Decision {
        at: now(),
        iteration,
        proposals: proposals.iter().map(|p| p.id.clone()).collect(),
        parent_version: parent.version().to_string(),
        candidate_version: candidate.version().to_string(),
        policy: options.policy.to_string(),
        accepted: verdict.accepted,
        reason: verdict.reason.clone(),
        p_value: verdict.p_value,
        parent: verdict.parent.clone(),
        candidate: verdict.candidate.clone(),
        improved: verdict.improved.clone(),
        regressed: verdict.regressed.clone(),
        predicted_hits,
        predicted_total: predicted.len() as u32,
        stopped_early,
        spend,
    })?;
    Ok(verdict.accepted.then(|| verdict.p_value.unwrap_or(0.0)))
}

/// All accepted edits applied together, if they apply cleanly and stay a valid harness.
fn combine(harness: &Harness, proposals: &[Proposal], dir: &Path, budget: Budget) -> Option<Harness> {
    let mut current = harness.clone();
    let total = Budget { max_changed_lines: budget.max_changed_lines * proposals.len() as u32 };
    for (n, proposal) in proposals.iter().enumerate() {
        let step = dir.with_file_name(format!("{}-step{n}", dir.file_name()?.to_string_lossy()));
        let (next, _, _) = propose::prepare(&current, &proposal.edit, &step, total).ok()?;
        current = next;
    }
    propose::install(current.dir(), dir).ok()?;
    Harness::load(dir).ok()
}

/// Installs the winning candidate as the next harness version and commits it when the
/// harness folder is in a git repository.
#[allow(clippy::too_many_arguments)]
fn apply(
    ctx: &LoopContext<'_>,
    options: &LoopOptions,
    iteration: u32,
    candidate_dir: &Path,
    ids: &[String],
    version: &str,
    weaknesses: &[Weakness],
    proposals: &[Proposal],
) -> Result<(), LoopError> {
    propose::install(candidate_dir, &options.harness_dir)?;
    let titles: Vec<String> = proposals
        .iter()
        .filter(|p| ids.contains(&p.id))
        .filter_map(|p| weaknesses.iter().find(|w| w.id == p.weakness))
        .map(|w| format!("{} ({})", w.title, w.support))
        .collect();
    let message = format!(
        "self-harness: {}\n\nAccepted in iteration {iteration} ({}): {}\nHarness version {version}.",
        titles.first().cloned().unwrap_or_else(|| "accepted edit".into()),
        options.policy,
        ids.join(", ")
    );
    let commit = git_commit(&options.harness_dir, &message);
    (ctx.say)(&format!(
        "  applied {} → version {version}{}",
        ids.join("+"),
        commit.as_ref().map(|c| format!(" (commit {c})")).unwrap_or_default()
    ));
    ctx.append(Entry::Applied {
        at: now(),
        iteration,
        proposals: ids.to_vec(),
        harness_version: version.to_string(),
        commit,
    })?;
    Ok(())
}

/// Commits the harness folder if it is inside a git work tree; the short hash, or `None`.
fn git_commit(dir: &Path, message: &str) -> Option<String> {
    let git = |args: &[&str]| std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok();
    let inside = git(&["rev-parse", "--is-inside-work-tree"])?;
    // Not in a repository, or in one that ignores it (a scratch copy): no commit.
    if !inside.status.success() || git(&["check-ignore", "-q", "."])?.status.success() {
        return None;
    }
    git(&["add", "--", "."])?;
    let committed = git(&["commit", "-q", "-m", message, "--", "."])?;
    if !committed.status.success() {
        tracing::warn!("git commit of the harness failed: {}", String::from_utf8_lossy(&committed.stderr));
        return None;
    }
    let head = git(&["rev-parse", "--short", "HEAD"])?;
    Some(String::from_utf8_lossy(&head.stdout).trim().to_string())
}

/// This iteration's weaknesses: the ones recorded for it when resuming, the previous
/// iteration's when the harness did not change since (same traces, same findings), otherwise
/// mined anew from the mine split's traces, their model cost and the result recorded.
async fn weaknesses(
    ctx: &LoopContext<'_>,
    harness: &Harness,
    episodes: &[Episode],
    iteration: u32,
    seed: u64,
) -> Result<Vec<Weakness>, LoopError> {
    let entries = ctx.entries()?;
    let recorded = entries.iter().rev().find_map(|e| match e {
        Entry::Weaknesses { iteration: i, harness_version, ids, .. } if *i <= iteration => {
            Some((*i, harness_version, ids))
        }
        _ => None,
    });
    if let Some((i, version, ids)) = recorded {
        if i == iteration || version == harness.version() {
            let kept = read_json::<Vec<Weakness>>(&weaknesses_record(ctx, i));
            if let Some(kept) = kept.filter(|k| k.iter().map(|w| &w.id).eq(ids.iter())) {
                if i != iteration {
                    record_weaknesses(ctx, harness, iteration, &kept)?;
                }
                return Ok(kept);
            }
        }
    }

    let traces: Vec<(PathBuf, Trace)> =
        episodes.iter().filter_map(|e| crate::trace::read(&e.trace).ok().map(|t| (e.trace.clone(), t))).collect();
    let before = ctx.client.usage().totals();
    let mined = super::mining::weaknesses(ctx.client, harness, &traces, &ctx.tasks, seed).await;
    ctx.append(Entry::Spent { at: now(), iteration, stage: Stage::Mine, spend: model_spend_since(ctx, &before) })?;
    record_weaknesses(ctx, harness, iteration, &mined)?;
    Ok(mined)
}

/// The loop's own copy of an iteration's weaknesses (`weaknesses.json` beside it is the
/// store's latest, which `mine` and the editor also write).
fn weaknesses_record(ctx: &LoopContext<'_>, iteration: u32) -> PathBuf {
    ctx.store_root.join("proposals").join(iteration.to_string()).join("weaknesses.json")
}

fn record_weaknesses(
    ctx: &LoopContext<'_>,
    harness: &Harness,
    iteration: u32,
    weaknesses: &[Weakness],
) -> Result<(), LoopError> {
    let path = weaknesses_record(ctx, iteration);
    std::fs::create_dir_all(path.parent().expect("under proposals/"))?;
    crate::util::write_atomic(&path, serde_json::to_string_pretty(weaknesses).unwrap_or_default().as_bytes())?;
    ctx.runner.store.save_weaknesses(weaknesses)?;
    ctx.append(Entry::Weaknesses {
        at: now(),
        iteration,
        harness_version: harness.version().to_string(),
        ids: weaknesses.iter().map(|w| w.id.clone()).collect(),
        titles: weaknesses.iter().map(|w| w.title.clone()).collect(),
    })?;
    Ok(())
}

/// What the model calls made since `before` cost.
fn model_spend_since(ctx: &LoopContext<'_>, before: &UsageTotals) -> Spend {
    let now = ctx.client.usage().totals();
    Spend {
        tokens: now.total_tokens().saturating_sub(before.total_tokens()),
        cost_usd: (now.cost_usd - before.cost_usd).max(0.0),
        container_seconds: 0.0,
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn now() -> String {
    crate::agent::now_rfc3339()
}
