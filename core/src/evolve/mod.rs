//! The self-improvement loop: it sequences the stages and keeps the ledger. A baseline on
//! the mine split, then per iteration mine → propose → validate → apply, and the test split
//! before the first edit is installed and at the end; the work is done by
//! `crate::stages`, and this module decides what runs next and records what happened
//! ([`ledger`]).
//!
//! Every step first looks in the ledger (and the episode store) for its own result, so the
//! same command after a crash or Ctrl-C continues where the last one stopped: finished
//! episodes are reused, recorded proposals are not asked for again, recorded decisions are
//! not re-validated, and an edit already installed is recognised by its version.

pub mod ledger;
mod next;
mod plan;
mod reinstall;
pub mod screen;

use std::path::{Path, PathBuf};

use ledger::{Entry, Stage};
pub use next::{next, Next};
pub use plan::{plan, Plan};

use crate::episodes::{score, Episode, Spend};
use crate::harness::Harness;
use crate::splits::Split;
use crate::stages::mine::{self, Weakness};
use crate::stages::propose::{self, Proposal, ProposeOptions};
use crate::stages::validate::{self, AcceptanceRule, Candidate, Decision, ValidateOptions};
use crate::stages::Context;

/// How the loop runs.
#[derive(Debug, Clone)]
pub struct LoopOptions {
    pub harness_dir: PathBuf,
    pub iterations: u32,
    pub auto_apply: bool,
    /// Weaknesses addressed per iteration (the best supported first, rotating while nothing
    /// is accepted: see `addressed`).
    pub weaknesses: usize,
    /// How each iteration proposes (its `iteration` is set per iteration).
    pub propose: ProposeOptions,
    pub validate: ValidateOptions,
    /// Candidates validated per iteration after screening on the mine split (see
    /// [`screen`]); 0 validates every proposal, unscreened.
    pub finalists: usize,
    /// The fewest tasks a round of screening runs on ([`screen::MIN_ROUND`]); the split's
    /// size or more screens every candidate on all of it.
    pub screen_round: usize,
    pub budget_tokens: Option<u64>,
    pub budget_usd: Option<f64>,
}

impl LoopOptions {
    /// Iterations run when not told otherwise.
    pub const DEFAULT_ITERATIONS: u32 = 2;
    /// Weaknesses addressed per iteration when not told otherwise.
    pub const DEFAULT_WEAKNESSES: usize = 2;
    /// Candidates validated per iteration when not told otherwise: one, which the validate
    /// split judges at the full α.
    pub const DEFAULT_FINALISTS: usize = 1;
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
    /// A store file (the standing proposals) could not be read or written.
    #[error("{0}")]
    Store(String),
    #[error(transparent)]
    Validate(#[from] validate::ValidateError),
    #[error(transparent)]
    Harness(#[from] crate::harness::LoadError),
    #[error(
        "{} was started with other settings, so its episodes and decisions do not apply: {differences}. Run \
         again with the same settings to resume it, or start a new store: move {} away, or run from another folder",
        ledger.display(),
        ledger.parent().map_or_else(|| ledger.display(), |p| p.display())
    )]
    Resume { ledger: PathBuf, differences: String },
    /// The options cannot be honoured (a USD budget for a model without a price).
    #[error("{0}")]
    Price(String),
    #[error(
        "another loop is working in {}: {holder}; its ledger has one writer, so wait for that loop to end or stop it",
        store.display()
    )]
    Busy { store: PathBuf, holder: String },
    /// The working harness was edited while the loop ran: the winner is not installed over it.
    #[error(
        "the harness {} changed while the loop ran (version {expected} when the iteration began, {found} now), so \
         the accepted edit was not installed over it; it is kept in {}: copy it by hand, or restore version \
         {expected} and run the loop again to install it",
        dir.display(),
        candidate.display()
    )]
    Changed { dir: PathBuf, expected: String, found: String, candidate: PathBuf },
}

/// The ledger of the store the stages work in.
struct Ledger<'c> {
    path: PathBuf,
    ctx: &'c Context<'c>,
}

impl Ledger<'_> {
    fn append(&self, entry: Entry) -> std::io::Result<()> {
        ledger::append(&self.path, &[entry])
    }

    fn entries(&self) -> Result<Vec<Entry>, LoopError> {
        ledger::read(&self.path).map(|l| l.entries).map_err(LoopError::Ledger)
    }

    /// What those of `episodes` that no entry lists yet cost, and all of them as an entry
    /// lists them (their traces, relative to the store): so each episode is counted once,
    /// whichever entry (an evaluation, a decision) meets it first.
    fn uncounted(&self, entries: &[Entry], episodes: &[Episode]) -> (Spend, Vec<String>) {
        let counted = ledger::counted_episodes(entries);
        let root = self.ctx.store().root();
        let listed: Vec<String> =
            episodes.iter().map(|e| e.trace.strip_prefix(root).unwrap_or(&e.trace).display().to_string()).collect();
        let fresh: Vec<Episode> = episodes
            .iter()
            .zip(&listed)
            .filter(|(_, l)| !counted.contains(l.as_str()))
            .map(|(e, _)| e.clone())
            .collect();
        (score(&fresh).1, listed)
    }

    /// Why the loop must stop spending, if it must: what earlier runs recorded in the
    /// ledger (`earlier`) plus what this process's model calls have cost so far.
    fn over_budget(&self, options: &LoopOptions, earlier: &Spend) -> Option<String> {
        let now = self.ctx.client().usage().totals();
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
    async fn evaluate(&self, harness: &Harness, split: Split, iteration: u32) -> Result<Vec<Episode>, LoopError> {
        let episodes = self.ctx.run_split(harness, split).await?;
        let entries = self.entries()?;
        let recorded = entries.iter().any(|e| {
            matches!(e, Entry::Evaluation { harness_version, split: s, .. } if harness_version == harness.version() && *s == split)
        });
        if !recorded {
            let (score, _) = score(&episodes);
            let (spend, episodes_listed) = self.uncounted(&entries, &episodes);
            (self.ctx.say)(&format!("{} on {split:?}: {}/{} passed", harness.version(), score.passed, score.counted));
            self.append(Entry::Evaluation {
                at: now(),
                iteration,
                harness_version: harness.version().to_string(),
                split,
                run: self.ctx.runner.run_name(harness.version()),
                score,
                spend,
                episodes: episodes_listed,
            })?;
        }
        Ok(episodes)
    }
}

/// Runs the loop to its end: the step [`next`] reads from the ledger, again and again.
pub async fn run(options: &LoopOptions, ctx: &Context<'_>) -> Result<LoopEnd, LoopError> {
    let lock = ctx.store().loop_lock_path();
    let Some(_held) = crate::util::FileLock::try_acquire(&lock, "the loop")? else {
        let holder = crate::util::FileLock::holder(&lock).unwrap_or_else(|| "a process".into());
        return Err(LoopError::Busy { store: ctx.store().root().to_path_buf(), holder });
    };
    let ledger = Ledger { path: ctx.store().ledger_path(), ctx };
    warn_of_unknown_prices(options, ctx)?;
    let mut harness = Harness::open(&options.harness_dir)?;
    match crate::util::repair_torn_tail(&ledger.path) {
        Ok(Some(aside)) => (ctx.say)(&format!(
            "the last line of {} was cut off (a crash?); it was moved to {} and the loop resumes from the lines before it",
            ledger.path.display(),
            aside.display()
        )),
        Ok(None) => {}
        Err(e) => return Err(LoopError::Ledger(format!("{}: {e}", ledger.path.display()))),
    }
    let entries = ledger.entries()?;
    // Budgets hold across restarts: what earlier runs of this loop spent counts too.
    let earlier = ledger::total_spend(&entries);
    start(options, &ledger, &entries, &harness)?;
    if let Some(installed) =
        reinstall::reinstall(ctx.store(), &entries, &options.harness_dir, &harness, options.auto_apply)?
    {
        (ctx.say)(&format!(
            "{} held version {}, which this loop had moved past: its installed edits are in again (version {})",
            options.harness_dir.display(),
            harness.version(),
            installed.version()
        ));
        harness = installed;
    }
    if let Some(note) = crate::stages::repeats_note(&harness, ctx.repeats) {
        (ctx.say)(&note);
    }

    let mut reason = format!("{} iteration(s) done", options.iterations);
    loop {
        let entries = ledger.entries()?;
        match next(&entries, harness.version(), options.iterations) {
            Next::Installed { iteration, proposals, applied } => {
                (ctx.say)(&format!(
                    "iteration {iteration} had installed {} (version {}) when the loop stopped; recording it",
                    proposals.join("+"),
                    harness.version()
                ));
                if !applied {
                    record_applied(&ledger, options, &harness, iteration, &proposals, &[], &[])?;
                }
                let version = harness.version().to_string();
                ledger.append(Entry::IterationEnd { at: now(), iteration, harness_version: version })?;
            }
            Next::Baseline => {
                (ctx.say)("baseline");
                ledger.evaluate(&harness, Split::Mine, 0).await?;
            }
            Next::Iteration(iteration) => {
                if let Some(why) = ledger.over_budget(options, &earlier) {
                    reason = why;
                    break;
                }
                match iterate(options, &ledger, &earlier, &mut harness, iteration).await? {
                    Iterated::Ended => {}
                    Iterated::Stopped(why) => {
                        reason = why;
                        break;
                    }
                    Iterated::Waiting(why) => {
                        let version = harness.version().to_string();
                        ledger.append(Entry::Finish {
                            at: now(),
                            harness_version: version.clone(),
                            reason: why.clone(),
                        })?;
                        return Ok(LoopEnd { harness_version: version, reason: why });
                    }
                }
            }
            Next::Final => break,
            Next::Finished(reason) => {
                (ctx.say)(&format!("the loop had finished already: {reason}"));
                return Ok(LoopEnd { harness_version: harness.version().to_string(), reason });
            }
        }
    }

    // The report's numbers: the final harness on the held-out test split (the baseline's too,
    // iteration 0's, when nothing was installed: it is the starting harness).
    (ctx.say)("final evaluation on the test split");
    let iteration = if tested(&ledger.entries()?) { options.iterations } else { 0 };
    ledger.evaluate(&harness, Split::Test, iteration).await?;
    ledger.append(Entry::Finish {
        at: now(),
        harness_version: harness.version().to_string(),
        reason: reason.clone(),
    })?;
    Ok(LoopEnd { harness_version: harness.version().to_string(), reason })
}

/// Says which models have no price (their cost is not counted); an error when a USD budget
/// was asked for, which could then not be kept.
fn warn_of_unknown_prices(options: &LoopOptions, ctx: &Context<'_>) -> Result<(), LoopError> {
    for (config, section) in [(ctx.client().config(), "model"), (ctx.proposer_model.config(), "proposer")] {
        if config.price().is_none() {
            let unknown = format!(
                "no price is known for the model {} at {}, so what it costs is not counted; give it one in \
                 [{section}.price] of self-harness.toml",
                config.model, config.base_url
            );
            if options.budget_usd.is_some() {
                return Err(LoopError::Price(format!("a USD budget cannot be kept: {unknown}")));
            }
            (ctx.say)(&format!("warning: {unknown}"));
        }
    }
    Ok(())
}

/// Records the loop's settings when the ledger is new; a ledger is resumed only with the
/// settings that made its episodes and decisions.
fn start(options: &LoopOptions, ledger: &Ledger<'_>, entries: &[Entry], harness: &Harness) -> Result<(), LoopError> {
    let ctx = ledger.ctx;
    let start = Entry::Start {
        at: now(),
        harness_dir: options.harness_dir.clone(),
        harness_version: harness.version().to_string(),
        model: ctx.runner.model.clone(),
        splits: ctx.splits.sets.clone(),
        seed: ctx.seed,
        repeats: ctx.repeats,
        policy: options.validate.policy,
        episode_timeout_secs: ctx.runner.time_limit.map(|t| t.as_secs()),
    };
    match entries.iter().find(|e| matches!(e, Entry::Start { .. })) {
        None => ledger.append(start)?,
        Some(started) => {
            let differences = started.start_differences(&start);
            if !differences.is_empty() {
                return Err(LoopError::Resume { ledger: ledger.path.clone(), differences: differences.join("; ") });
            }
        }
    }
    Ok(())
}

/// How an iteration ended.
enum Iterated {
    /// It ended (its `IterationEnd` is recorded), with an edit installed or not.
    Ended,
    /// It ended, and the loop ends with it, for this reason.
    Stopped(String),
    /// It stopped before screening, for a person to review its proposals.
    Waiting(String),
}

/// One iteration: mine → propose → screen → validate → apply, each step taking what the
/// ledger holds of it. `harness` becomes the installed winner, if there is one.
async fn iterate(
    options: &LoopOptions,
    ledger: &Ledger<'_>,
    earlier: &Spend,
    harness: &mut Harness,
    iteration: u32,
) -> Result<Iterated, LoopError> {
    let ctx = ledger.ctx;
    (ctx.say)(&format!("iteration {iteration}: mining"));
    let mined = ledger.evaluate(harness, Split::Mine, iteration).await?;
    let weaknesses = weaknesses(ledger, harness, &mined, iteration).await?;
    if weaknesses.is_empty() {
        ledger.append(Entry::IterationEnd { at: now(), iteration, harness_version: harness.version().to_string() })?;
        return Ok(Iterated::Stopped("no weakness found in the mine split's failed traces".into()));
    }

    let addressed = addressed(&ledger.entries()?, &weaknesses, harness.version(), iteration, options.weaknesses);
    (ctx.say)(&format!(
        "iteration {iteration}: proposing for {} weakness(es): {}",
        addressed.len(),
        addressed.iter().map(|w| w.id.as_str()).collect::<Vec<_>>().join(", ")
    ));
    let proposals = proposals(options, ledger, harness, &addressed, iteration).await?;
    if !options.auto_apply {
        return Ok(Iterated::Waiting(format!(
            "waiting for a person: {} proposal(s) in {}; review them, then run again with --auto-apply",
            proposals.len(),
            ctx.store().iteration_dir(iteration).display()
        )));
    }

    let finalists = screen::screen(options, ledger, earlier, &mined, &proposals, iteration).await?;
    (ctx.say)(&format!("iteration {iteration}: validating {} candidate(s)", finalists.len()));
    // One family per iteration: its finalists and, when there are several, their
    // combination are judged against the same parent sample — a fresh one each
    // iteration (the first is the baseline's), so no sample decides twice.
    let family = finalists.len() + usize::from(finalists.len() > 1);
    let judging = ValidateOptions { family, sample: iteration - 1, ..options.validate };
    if !finalists.is_empty() {
        say_if_out_of_reach(ctx, judging, harness).await?;
    }
    // Candidates are validated against the kept copy of their parent, as the editor
    // does, so that the decision's parent folder still holds the parent after an apply.
    let parent = Harness::open(&ctx.store().snapshot(harness)?)?;
    let mut accepted: Vec<(Proposal, f64)> = Vec::new();
    for proposal in &finalists {
        if let Some(why) = ledger.over_budget(options, earlier) {
            (ctx.say)(&format!("  {why}: {} left unvalidated", proposal.id));
            break;
        }
        let candidate = Harness::open(&proposal.dir)?;
        let verdict =
            decide(options, judging, ledger, iteration, &parent, candidate, std::slice::from_ref(proposal)).await?;
        if let Some(p) = verdict {
            accepted.push((proposal.clone(), p));
        }
    }
    // Several winners: validate them combined before accepting the combination.
    let mut winner: Option<(PathBuf, Vec<String>, String)> = None;
    accepted.sort_by(|a, b| a.1.total_cmp(&b.1));
    if accepted.len() > 1 {
        let dir = ctx.store().candidates_dir().join(format!("{iteration}-combined"));
        let all: Vec<Proposal> = accepted.iter().map(|(p, _)| p.clone()).collect();
        if let Some(combined) = propose::combine(harness, &all, &dir, options.propose.budget) {
            let version = combined.version().to_string();
            if decide(options, judging, ledger, iteration, &parent, combined, &all).await?.is_some() {
                winner = Some((dir, all.iter().map(|p| p.id.clone()).collect(), version));
            }
        }
    }
    if winner.is_none() {
        winner = accepted.first().map(|(p, _)| (p.dir.clone(), vec![p.id.clone()], p.version.clone()));
    }
    if let Some((dir, ids, version)) = winner {
        // The starting harness on the test split, for the report, while it is the working
        // one (a loop that installs nothing has it evaluated at its end, as its final).
        if !tested(&ledger.entries()?) {
            ledger.evaluate(harness, Split::Test, 0).await?;
        }
        *harness = install(options, harness, &dir, &version)?;
        record_applied(ledger, options, harness, iteration, &ids, &weaknesses, &proposals)?;
    }
    ledger.append(Entry::IterationEnd { at: now(), iteration, harness_version: harness.version().to_string() })?;
    Ok(Iterated::Ended)
}

/// True once the ledger holds a test-split evaluation: the first is the starting harness's.
fn tested(entries: &[Entry]) -> bool {
    entries.iter().any(|e| matches!(e, Entry::Evaluation { split: Split::Test, .. }))
}

/// Says so when no candidate can be accepted, whatever the parent does or, failing that,
/// against the parent's sample of the validate split (run here, as validation would).
async fn say_if_out_of_reach(ctx: &Context<'_>, judging: ValidateOptions, harness: &Harness) -> Result<(), LoopError> {
    let tasks = ctx.splits.tasks(Split::Validate).len();
    let mut why = unreachable(&judging, &vec![0; tasks], ctx.repeats);
    if why.is_none() {
        let (parent, _) = score(&ctx.run_sample(harness, Split::Validate, judging.sample).await?);
        let passes: Vec<u32> = parent.per_task.values().map(|t| t.passed).collect();
        why = unreachable(&judging, &passes, ctx.repeats);
    }
    if let Some(why) = why {
        (ctx.say)(&format!("  no candidate can be accepted: {why}"));
    }
    Ok(())
}

/// Why no candidate can be accepted against a parent with `passes` per validate task, if
/// none can: even a candidate passing every episode would reach an adjusted p above α.
fn unreachable(judging: &ValidateOptions, passes: &[u32], repeats: u32) -> Option<String> {
    let AcceptanceRule::PairedTasks { alpha } = judging.policy else { return None };
    let best = validate::smallest_reachable_p(passes, repeats, judging.family);
    (best > alpha).then(|| {
        format!(
            "against a parent passing {} of the {} episodes of the validate split, even a candidate passing them \
             all reaches p = {best:.4} (×{} candidate(s)) > α = {alpha}; the validations stop before their first \
             episode",
            passes.iter().sum::<u32>(),
            passes.len() as u32 * repeats,
            judging.family
        )
    })
}

/// The `n` weaknesses iteration `iteration` addresses: the best supported first, except that
/// those addressed fewer times against this harness version go before those addressed more.
/// An iteration that accepted nothing leaves the harness, its traces and so its weaknesses
/// as they were, and the same weaknesses on top would get the catalog's same remedies again
/// (discarded as settled) and the model's more of the same: so the loop moves down the list,
/// and comes back to the top once every weakness has had its turn. Only earlier iterations
/// count, so a resumed iteration addresses what it addressed before it stopped.
fn addressed(entries: &[Entry], weaknesses: &[Weakness], version: &str, iteration: u32, n: usize) -> Vec<Weakness> {
    let same_parent: std::collections::BTreeSet<u32> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Weaknesses { iteration: i, harness_version, .. } if *i < iteration && harness_version == version => {
                Some(*i)
            }
            _ => None,
        })
        .collect();
    let times = |id: &str| {
        entries
            .iter()
            .filter(|e| {
                matches!(e, Entry::Spent { iteration: i, stage: Stage::Propose, weakness: Some(w), .. }
                    if same_parent.contains(i) && w == id)
            })
            .count()
    };
    let mut order: Vec<(usize, usize)> = weaknesses.iter().enumerate().map(|(rank, w)| (times(&w.id), rank)).collect();
    order.sort_unstable();
    let mut chosen: Vec<usize> = order.into_iter().take(n).map(|(_, rank)| rank).collect();
    chosen.sort_unstable();
    chosen.into_iter().map(|rank| weaknesses[rank].clone()).collect()
}

/// This iteration's weaknesses: the ones recorded for it when resuming, the previous
/// iteration's when neither the harness nor the detectors changed since (same traces, same
/// findings), otherwise mined anew from the mine split's episodes, their model cost and the
/// result recorded.
async fn weaknesses(
    ledger: &Ledger<'_>,
    harness: &Harness,
    episodes: &[Episode],
    iteration: u32,
) -> Result<Vec<Weakness>, LoopError> {
    let store = ledger.ctx.store();
    let entries = ledger.entries()?;
    if let Some((i, ids)) = reusable(&entries, harness.version(), iteration) {
        let kept = read_json::<Vec<Weakness>>(&weaknesses_record(ledger, i));
        if let Some(kept) = kept.filter(|k| k.iter().map(|w| &w.id).eq(ids.iter())) {
            mine::save(store, &kept)?;
            if i != iteration {
                record_weaknesses(ledger, harness, iteration, &kept, None)?;
            }
            return Ok(kept);
        }
    }

    let (mined, spend) = mine::weaknesses(ledger.ctx, harness, episodes).await?;
    let spent = Entry::Spent { at: now(), iteration, stage: Stage::Mine, spend, weakness: None };
    record_weaknesses(ledger, harness, iteration, &mined, Some(spent))?;
    Ok(mined)
}

/// The iteration whose recorded weaknesses (ids) iteration `iteration` takes: its own when
/// resuming; the latest earlier one's when it mined the same harness version with the
/// detectors in use (the same traces would give the same findings).
fn reusable<'e>(entries: &'e [Entry], version: &str, iteration: u32) -> Option<(u32, &'e [String])> {
    let (i, mined_from, ids, detectors) = entries.iter().rev().find_map(|e| match e {
        Entry::Weaknesses { iteration: i, harness_version, ids, detectors, .. } if *i <= iteration => {
            Some((*i, harness_version, ids, detectors))
        }
        _ => None,
    })?;
    let same_findings = mined_from == version && *detectors == mine::detectors_in_use();
    (i == iteration || same_findings).then_some((i, ids.as_slice()))
}

/// The loop's own copy of an iteration's weaknesses (`weaknesses.json` beside it is the
/// store's latest, which `mine` and the editor also write).
fn weaknesses_record(ledger: &Ledger<'_>, iteration: u32) -> PathBuf {
    ledger.ctx.store().iteration_dir(iteration).join("weaknesses.json")
}

/// Keeps an iteration's weaknesses and records them, with what mining them cost (`spent`)
/// in the same append.
fn record_weaknesses(
    ledger: &Ledger<'_>,
    harness: &Harness,
    iteration: u32,
    weaknesses: &[Weakness],
    spent: Option<Entry>,
) -> Result<(), LoopError> {
    crate::store::write_json(&weaknesses_record(ledger, iteration), &weaknesses)?;
    let recorded = Entry::Weaknesses {
        at: now(),
        iteration,
        harness_version: harness.version().to_string(),
        ids: weaknesses.iter().map(|w| w.id.clone()).collect(),
        titles: weaknesses.iter().map(|w| w.title.clone()).collect(),
        detectors: mine::detectors_in_use(),
    };
    ledger::append(&ledger.path, &spent.into_iter().chain([recorded]).collect::<Vec<_>>())?;
    Ok(())
}

/// Proposals for this iteration, a round per weakness (see [`propose::propose_for`]): a
/// round the ledger has closed is read back from it, the others are asked for and each is
/// recorded as it ends, its proposals, discards and spend in one append. A candidate the
/// ledger has already decided, or screened without validating it, against the same parent
/// is discarded with that verdict as its reason: a catalog that offers the same remedies
/// every iteration would otherwise pay their screening again for another look at noise.
async fn proposals(
    options: &LoopOptions,
    ledger: &Ledger<'_>,
    harness: &Harness,
    weaknesses: &[Weakness],
    iteration: u32,
) -> Result<Vec<Proposal>, LoopError> {
    let store = ledger.ctx.store();
    let dir = store.iteration_dir(iteration);
    let entries = ledger.entries()?;
    let closed = |weakness: &str| {
        entries.iter().any(|e| match e {
            Entry::Spent { iteration: i, stage: Stage::Propose, weakness: w, .. } if *i == iteration => {
                // Ledgers written before rounds were recorded one by one close them all at once.
                w.as_deref().is_none_or(|w| w == weakness)
            }
            _ => false,
        })
    };
    let settled = |p: &Proposal| {
        if let Some((iteration, earlier)) = decided(&entries, harness.version(), &p.version) {
            let verdict = if earlier.accepted { "accepted" } else { "rejected" };
            return Some(format!("the same harness as a candidate {verdict} in iteration {iteration}"));
        }
        screen::screened(&entries, harness.version(), &p.version).map(|(iteration, outcome)| {
            format!("the same harness as a candidate screened in iteration {iteration} and not validated ({outcome})")
        })
    };
    propose::keep_parent(store, harness).map_err(LoopError::Store)?;
    let asking = ProposeOptions { iteration, ..options.propose };
    let mut found: Vec<Proposal> = Vec::new();
    for (w, weakness) in weaknesses.iter().enumerate() {
        if closed(&weakness.id) {
            for e in &entries {
                if let Entry::Proposal { iteration: i, id, weakness: of, .. } = e {
                    if *i == iteration && *of == weakness.id {
                        let text = std::fs::read_to_string(dir.join(format!("{id}.json")))?;
                        let read: Proposal = serde_json::from_str(&text)
                            .map_err(|e| LoopError::Ledger(format!("proposal {id}: {e}")))?;
                        propose::restore(&read, harness).map_err(LoopError::Store)?;
                        found.push(read);
                    }
                }
            }
            continue;
        }
        let round =
            propose::propose_for(ledger.ctx.proposer_model, store, harness, (w, weakness), &asking, &found, &settled)
                .await;
        let mut record: Vec<Entry> = Vec::new();
        for (id, reason) in round.discarded {
            record.push(Entry::Discarded { at: now(), iteration, id, reason });
        }
        for proposal in &round.proposals {
            crate::store::write_json(&dir.join(format!("{}.json", proposal.id)), proposal)?;
            let edit = &proposal.edit;
            record.push(Entry::Proposal {
                at: now(),
                iteration,
                id: proposal.id.clone(),
                weakness: proposal.weakness.clone(),
                source: format!("{:?}", proposal.source).to_lowercase(),
                file: edit.files(),
                changed_lines: proposal.changed_lines,
                rationale: edit.rationale.clone(),
                expected_fixes: edit.expected_fixes.clone(),
                might_break: edit.might_break.clone(),
            });
        }
        let weakness = Some(weakness.id.clone());
        record.push(Entry::Spent { at: now(), iteration, stage: Stage::Propose, spend: round.spend, weakness });
        ledger::append(&ledger.path, &record)?;
        found.extend(round.proposals);
    }
    // The standing proposals, where `propose` keeps them and the editor looks for them.
    let addressed: Vec<String> = weaknesses.iter().map(|w| w.id.clone()).collect();
    propose::save_standing(store, &addressed, &found).map_err(LoopError::Store)?;
    Ok(found)
}

/// The ledger's decision on `candidate` against `parent`, if it has one, and its iteration.
fn decided<'a>(entries: &'a [Entry], parent: &str, candidate: &str) -> Option<(u32, &'a Decision)> {
    entries.iter().find_map(|e| match e {
        Entry::Decision { iteration, parent_version, candidate_version, decision, .. }
            if parent_version == parent && candidate_version == candidate =>
        {
            Some((*iteration, decision))
        }
        _ => None,
    })
}

/// Validates `candidate` (made of `proposals`) against `parent` with the validate stage,
/// unless the ledger already holds its decision. Records the decision (once) and returns
/// the p-value (or 0 for rules without one) when accepted.
async fn decide(
    options: &LoopOptions,
    judging: ValidateOptions,
    ledger: &Ledger<'_>,
    iteration: u32,
    parent: &Harness,
    candidate: Harness,
    proposals: &[Proposal],
) -> Result<Option<f64>, LoopError> {
    if let Some((_, earlier)) = decided(&ledger.entries()?, parent.version(), candidate.version()) {
        return Ok(earlier.accepted.then(|| earlier.p_value.unwrap_or(0.0)));
    }
    let candidate = Candidate {
        harness: candidate,
        parent: parent.clone(),
        proposal: (proposals.len() == 1).then(|| proposals[0].id.clone()),
        working: options.harness_dir.clone(),
    };
    let validate::Validation { record, episodes } =
        validate::validate(ledger.ctx, &candidate, judging, &|_| {}).await?;
    let (spend, episodes) = ledger.uncounted(&ledger.entries()?, &episodes);
    let decision = &record.decision;
    // Predicted flips are checked where they were compared (the mine split's tasks the
    // proposer may name are compared under the paper rule only).
    let predicted: Vec<&String> = proposals
        .iter()
        .flat_map(|p| p.edit.expected_fixes.iter())
        .filter(|t| decision.parent.per_task.contains_key(*t))
        .collect();
    let predicted_hits = predicted.iter().filter(|t| decision.improved.contains(t)).count() as u32;
    (ledger.ctx.say)(&format!(
        "  {} {}: {}",
        proposals.iter().map(|p| p.id.as_str()).collect::<Vec<_>>().join("+"),
        if decision.accepted { "accepted" } else { "rejected" },
        decision.reason
    ));
    ledger.append(Entry::Decision {
        at: now(),
        iteration,
        proposals: proposals.iter().map(|p| p.id.clone()).collect(),
        parent_version: record.parent_version.clone(),
        candidate_version: record.candidate_version.clone(),
        policy: record.policy,
        decision: decision.clone(),
        predicted_hits,
        predicted_total: predicted.len() as u32,
        stopped_early: record.stopped_early,
        spend,
        episodes,
    })?;
    Ok(decision.accepted.then(|| decision.p_value.unwrap_or(0.0)))
}

/// Installs the winning candidate in `dir` (of harness version `version`) as the next
/// version of `parent`, only if the working folder still holds `parent`: a person's edits
/// made meanwhile are never overwritten (the candidate stays in the store).
fn install(options: &LoopOptions, parent: &Harness, dir: &Path, version: &str) -> Result<Harness, LoopError> {
    let working = Harness::open(&options.harness_dir)?;
    if working.version() != parent.version() {
        return Err(LoopError::Changed {
            dir: options.harness_dir.clone(),
            expected: parent.version().to_string(),
            found: working.version().to_string(),
            candidate: dir.to_path_buf(),
        });
    }
    propose::install(dir, &options.harness_dir)?;
    let installed = Harness::open(&options.harness_dir)?;
    if installed.version() != version {
        return Err(LoopError::Store(format!(
            "installing {} made {} version {}, not the validated {version}",
            dir.display(),
            options.harness_dir.display(),
            installed.version()
        )));
    }
    Ok(installed)
}

/// Records `harness`, just installed from proposals `ids`, as the next harness version,
/// and commits its files when the folder is in a git repository.
fn record_applied(
    ledger: &Ledger<'_>,
    options: &LoopOptions,
    harness: &Harness,
    iteration: u32,
    ids: &[String],
    weaknesses: &[Weakness],
    proposals: &[Proposal],
) -> Result<(), LoopError> {
    let version = harness.version();
    let titles: Vec<String> = proposals
        .iter()
        .filter(|p| ids.contains(&p.id))
        .filter_map(|p| weaknesses.iter().find(|w| w.id == p.weakness))
        .map(|w| format!("{} ({})", w.title, w.support))
        .collect();
    let message = format!(
        "self-harness: {}\n\nAccepted in iteration {iteration} ({}): {}\nHarness version {version}.",
        titles.first().cloned().unwrap_or_else(|| "accepted edit".into()),
        options.validate.policy,
        ids.join(", ")
    );
    let mut files = harness.files();
    files.push(crate::harness::MANIFEST_FILE.to_string());
    let commit = git_commit(&options.harness_dir, &files, &message);
    (ledger.ctx.say)(&format!(
        "  applied {} → version {version}{}",
        ids.join("+"),
        commit.as_ref().map(|c| format!(" (commit {c})")).unwrap_or_default()
    ));
    ledger.append(Entry::Applied {
        at: now(),
        iteration,
        proposals: ids.to_vec(),
        harness_version: version.to_string(),
        commit,
    })?;
    Ok(())
}

/// Commits `files` of the harness folder (and nothing else a person may have staged or
/// changed) if it is inside a git work tree; the short hash, or `None`.
fn git_commit(dir: &Path, files: &[String], message: &str) -> Option<String> {
    let git = |args: &[&str]| std::process::Command::new("git").arg("-C").arg(dir).args(args).output().ok();
    let inside = git(&["rev-parse", "--is-inside-work-tree"])?;
    // Not in a repository, or in one that ignores it (a scratch copy): no commit.
    if !inside.status.success() || git(&["check-ignore", "-q", "."])?.status.success() {
        return None;
    }
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    crate::util::crash_point(&"installed, not yet committed");
    git(&[&["add", "--"][..], &files].concat())?;
    let committed = git(&[&["commit", "-q", "-m", message, "--"][..], &files].concat())?;
    if !committed.status.success() {
        tracing::warn!("git commit of the harness failed: {}", String::from_utf8_lossy(&committed.stderr));
        return None;
    }
    let head = git(&["rev-parse", "--short", "HEAD"])?;
    Some(String::from_utf8_lossy(&head.stdout).trim().to_string())
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Option<T> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

fn now() -> String {
    crate::util::now_rfc3339()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn weakness(id: &str) -> Weakness {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": id, "description": "", "criticality": "high", "support": "",
            "surface": "prompts.system", "evidence": [], "tasks": []
        }))
        .unwrap()
    }

    fn mined(iteration: u32, version: &str) -> Entry {
        let (ids, titles, detectors) = (vec![], vec![], String::new());
        Entry::Weaknesses { at: now(), iteration, harness_version: version.into(), ids, titles, detectors }
    }

    #[test]
    fn weaknesses_are_mined_again_when_the_harness_or_the_detectors_changed() {
        let recorded = |iteration, version: &str, detectors: String| Entry::Weaknesses {
            at: now(),
            iteration,
            harness_version: version.into(),
            ids: vec![format!("w{iteration}")],
            titles: vec![],
            detectors,
        };
        let entries = [recorded(1, "v0", mine::detectors_in_use())];
        assert_eq!(reusable(&entries, "v0", 1), Some((1, &["w1".to_string()][..])), "resuming");
        assert_eq!(reusable(&entries, "v0", 2).map(|(i, _)| i), Some(1), "nothing changed");
        assert_eq!(reusable(&entries, "v1", 2), None, "another harness");
        let before = [recorded(1, "v0", String::new())];
        assert_eq!(reusable(&before, "v0", 2), None, "mined by other detectors (before they were recorded)");
        assert_eq!(reusable(&before, "v0", 1).map(|(i, _)| i), Some(1), "its own iteration resumes as it was");
    }

    fn proposed_for(iteration: u32, weakness: &str) -> Entry {
        let weakness = Some(weakness.to_string());
        Entry::Spent { at: now(), iteration, stage: Stage::Propose, spend: Spend::default(), weakness }
    }

    fn ids(chosen: &[Weakness]) -> Vec<&str> {
        chosen.iter().map(|w| w.id.as_str()).collect()
    }

    #[test]
    fn an_iteration_that_accepted_nothing_moves_down_the_weaknesses_and_comes_back_to_the_top() {
        let list: Vec<Weakness> = ["a", "b", "c"].map(weakness).into();
        let mut entries = vec![];
        assert_eq!(ids(&addressed(&entries, &list, "v1", 1, 2)), ["a", "b"], "the best supported first");
        entries.extend([mined(1, "v1"), proposed_for(1, "a"), proposed_for(1, "b")]);
        assert_eq!(ids(&addressed(&entries, &list, "v1", 2, 2)), ["a", "c"], "c had no turn yet, a is ranked first");
        assert_eq!(ids(&addressed(&entries, &list, "v1", 2, 1)), ["c"]);
        entries.extend([mined(2, "v1"), proposed_for(2, "c")]);
        assert_eq!(ids(&addressed(&entries, &list, "v1", 3, 1)), ["a"], "every one had its turn: the top again");
        // A resumed iteration addresses what it did before it stopped: its own rounds do not count.
        assert_eq!(ids(&addressed(&entries, &list, "v1", 2, 1)), ["c"]);
        // An accepted edit made a new harness: its weaknesses start from the top.
        assert_eq!(ids(&addressed(&entries, &list, "v2", 3, 1)), ["a"]);
    }
}
