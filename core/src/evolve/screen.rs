//! Screening: which of an iteration's proposals go on to the validate split. Each candidate
//! runs on the mine split with the tasks and seeds its parent ran there, and only those that
//! passed more of it than their parent can be finalists. The choice sees only mine-split
//! episodes, so the validate split's test is still made on data nothing was chosen on, and
//! its family is the few finalists rather than every proposal: with 12 validate tasks, 5
//! tasks turned from failing to passing accept one candidate at α = 0.05, where seven
//! candidates would need 8.
//!
//! On a large mine split the candidates are halved in rounds (successive halving): all of
//! them run on the first part of the split (its tasks in a seeded order), the better half go
//! on to a part twice as large, and so on; the last round is the whole split, where the
//! finalists must gain. Every round has at least [`MIN_ROUND`] tasks, so a small split is
//! one round, every candidate on all of it. On InterCode's 85 mine tasks eight candidates
//! cost 344 episodes instead of 680, most of them spent on the candidates still in the race.
//!
//! Each candidate's screening is recorded once, when it drops out or finishes, with the
//! scores of the part it ran on; a resumed loop replays the rounds from those records and
//! the stored episodes, so a recorded candidate is never run again.

use super::ledger::Entry;
use super::{now, Ledger, LoopError, LoopOptions};
use crate::episodes::{score, Episode, Score, Spend};
use crate::splits::Split;
use crate::stages::propose::Proposal;

/// The fewest tasks a round of screening runs on: fewer would rank candidates on noise.
pub const MIN_ROUND: usize = 20;

/// How many tasks each round runs on, for `candidates` screened on a split of `tasks` to
/// leave `finalists`: the last round is the whole split, and each round before it half the
/// next (rounded up) as long as more than twice the finalists would enter the last round and
/// no round falls under `min_round` tasks.
pub fn rounds(tasks: usize, candidates: usize, finalists: usize, min_round: usize) -> Vec<usize> {
    let mut sizes = vec![tasks];
    let mut entering_last = candidates;
    while entering_last > 2 * finalists.max(1) && sizes[0].div_ceil(2) >= min_round.max(1) {
        sizes.insert(0, sizes[0].div_ceil(2));
        entering_last = entering_last.div_ceil(2);
    }
    sizes
}

/// Episodes screening costs (see [`rounds`]): every candidate on the first round's tasks,
/// then the half that stays on each larger part (`repeats` episodes a task).
pub fn episodes(tasks: usize, candidates: usize, finalists: usize, min_round: usize, repeats: u32) -> u64 {
    let mut alive = candidates;
    let mut before = 0;
    let mut total = 0u64;
    for size in rounds(tasks, candidates, finalists, min_round) {
        total += (alive * (size - before)) as u64 * u64::from(repeats);
        before = size;
        alive = survivors(alive, finalists);
    }
    total
}

/// How many of `alive` candidates go on to the next round.
fn survivors(alive: usize, finalists: usize) -> usize {
    alive.div_ceil(2).max(finalists)
}

/// The mine split's tasks in the order screening's parts take them: a shuffle seeded by the
/// loop's seed and the iteration, so a part is a sample of every file system and difficulty.
fn order(tasks: &[String], seed: u64, iteration: u32) -> Vec<String> {
    let mut order = tasks.to_vec();
    order.sort();
    fastrand::Rng::with_seed(seed ^ (u64::from(iteration) << 32)).shuffle(&mut order);
    order
}

/// `score` counting only `tasks`.
fn within(score: &Score, tasks: &[String]) -> Score {
    let mut part = Score::default();
    for task in tasks {
        if let Some(t) = score.per_task.get(task) {
            part.per_task.insert(task.clone(), *t);
            part.passed += t.passed;
            part.counted += t.counted;
        }
    }
    part
}

/// One candidate in the race: its parent's and its own scores on the part it has run on.
struct Runner<'p> {
    proposal: &'p Proposal,
    /// Its place among the proposals.
    index: usize,
    parent: Score,
    candidate: Score,
    /// Its episodes so far and its harness version; `None` when its screening is recorded.
    episodes: Option<(Vec<Episode>, String)>,
    /// Its recorded screening: the tasks it ran on, its parent's scores and its own there.
    recorded: Option<(usize, Score, Score)>,
}

impl Runner<'_> {
    fn gain(&self) -> i64 {
        i64::from(self.candidate.passed) - i64::from(self.parent.passed)
    }
}

/// The proposals to validate (see the module's paragraph); with `options.finalists` = 0,
/// every proposal, unscreened. `mined` are the parent's episodes on the mine split.
pub(super) async fn screen(
    options: &LoopOptions,
    ledger: &Ledger<'_>,
    earlier: &Spend,
    mined: &[Episode],
    proposals: &[Proposal],
    iteration: u32,
) -> Result<Vec<Proposal>, LoopError> {
    if options.finalists == 0 {
        return Ok(proposals.to_vec());
    }
    let (ctx, say) = (ledger.ctx, ledger.ctx.say);
    let order = order(ctx.splits.tasks(Split::Mine), ctx.seed, iteration);
    let sizes = rounds(order.len(), proposals.len(), options.finalists, options.screen_round);
    say(&format!(
        "iteration {iteration}: screening {} candidate(s) on the mine split{}",
        proposals.len(),
        match sizes.len() {
            1 => String::new(),
            n => format!(
                " in {n} rounds of {} tasks, the better half going on each time",
                sizes.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", ")
            ),
        }
    ));
    let (parent_all, _) = score(mined);
    let recorded_entries = ledger.entries()?;
    let mut alive: Vec<Runner> = proposals
        .iter()
        .enumerate()
        .map(|(index, proposal)| {
            let recorded = recorded_entries.iter().find_map(|e| match e {
                Entry::Screening { iteration: i, proposal: id, tasks, parent, candidate, .. }
                    if *i == iteration && *id == proposal.id =>
                {
                    Some((tasks.map_or(order.len(), |t| t as usize), parent.clone(), candidate.clone()))
                }
                _ => None,
            });
            Runner { proposal, index, parent: Score::default(), candidate: Score::default(), episodes: None, recorded }
        })
        .collect();
    for (round, &size) in sizes.iter().enumerate() {
        let part = &order[..size];
        let last = round + 1 == sizes.len();
        // A recorded candidate whose record covers less than this part dropped out earlier.
        alive.retain(|r| r.recorded.as_ref().is_none_or(|(covered, ..)| *covered >= size));
        for runner in &mut alive {
            if let Some((_, parent, candidate)) = &runner.recorded {
                (runner.parent, runner.candidate) = (within(parent, part), within(candidate, part));
                continue;
            }
            if let Some(why) = ledger.over_budget(options, earlier) {
                say(&format!("  {why}: screening stopped, none is validated"));
                return Ok(Vec::new());
            }
            let candidate = crate::harness::Harness::open(&runner.proposal.dir)?;
            let keys: Vec<_> = ctx.keys(Split::Mine).into_iter().filter(|(t, _)| part.contains(&t.name)).collect();
            let episodes = ctx.runner.run_all(&candidate, &keys).await?;
            runner.parent = within(&parent_all, part);
            runner.candidate = score(&episodes).0;
            runner.episodes = Some((episodes, candidate.version().to_string()));
        }
        // The better first; on a tie the smaller edit, then the order proposed.
        alive.sort_by_key(|r| (std::cmp::Reverse(r.gain()), r.proposal.changed_lines, r.index));
        let stay = if last { alive.len() } else { survivors(alive.len(), options.finalists) };
        // Those leaving the race are recorded in the order proposed.
        let mut leaving: Vec<&Runner> = if last { alive.iter().collect() } else { alive[stay..].iter().collect() };
        leaving.sort_by_key(|r| r.index);
        for runner in leaving {
            record(ledger, runner, iteration, &parent_all, (round, sizes.len(), size, order.len()))?;
        }
        alive.truncate(stay);
    }
    alive.retain(|r| r.gain() > 0);
    alive.truncate(options.finalists);
    if alive.is_empty() {
        say("  no candidate passed more of the mine split than its parent: none is validated");
    }
    Ok(alive.into_iter().map(|r| r.proposal.clone()).collect())
}

/// The iteration and outcome of an earlier screening of the harness version `candidate`
/// against the harness version `parent` (the one its iteration mined), if the ledger holds
/// one. A decision on it, where one followed, is what the caller asks about first.
pub(super) fn screened(entries: &[Entry], parent: &str, candidate: &str) -> Option<(u32, String)> {
    let mined_from = |iteration: u32| {
        entries.iter().find_map(|e| match e {
            Entry::Weaknesses { iteration: i, harness_version, .. } if *i == iteration => {
                Some(harness_version.as_str())
            }
            _ => None,
        })
    };
    entries.iter().find_map(|e| match e {
        Entry::Screening { iteration, candidate_version, tasks, parent: before, candidate: after, .. }
            if candidate_version == candidate && mined_from(*iteration) == Some(parent) =>
        {
            let part = tasks.map_or(String::new(), |t| format!(" of the first {t} tasks"));
            let outcome =
                format!("{} → {} of {} passed{part} of the mine split", before.passed, after.passed, after.counted);
            Some((*iteration, outcome))
        }
        _ => None,
    })
}

/// Records `runner`'s screening (once), now that it dropped out in `round` of `rounds` or
/// finished, after `size` of the split's `tasks` tasks.
fn record(
    ledger: &Ledger<'_>,
    runner: &Runner,
    iteration: u32,
    parent_all: &Score,
    (round, rounds, size, tasks): (usize, usize, usize, usize),
) -> Result<(), LoopError> {
    let Some((episodes, candidate_version)) = &runner.episodes else { return Ok(()) };
    let (parent, candidate, proposal) = (&runner.parent, &runner.candidate, runner.proposal);
    let passes = |s: &Score, task: &str| s.per_task.get(task).map_or(0, |t| t.passed);
    let predicted: Vec<&String> =
        proposal.edit.expected_fixes.iter().filter(|t| parent_all.per_task.contains_key(*t)).collect();
    let hits = predicted.iter().filter(|t| passes(candidate, t) > passes(parent_all, t)).count();
    let outcome = if size == tasks {
        format!("{} of {} passed", candidate.passed, candidate.counted)
    } else {
        format!(
            "{} of {} passed on the first {size} of {tasks} tasks; out in round {} of {rounds}",
            candidate.passed,
            candidate.counted,
            round + 1
        )
    };
    (ledger.ctx.say)(&format!("  {} on the mine split: {} → {outcome}", proposal.id, parent.passed));
    let entries = ledger.entries()?;
    let (spend, episodes) = ledger.uncounted(&entries, episodes);
    ledger.append(Entry::Screening {
        at: now(),
        iteration,
        proposal: proposal.id.clone(),
        candidate_version: candidate_version.clone(),
        tasks: (size < tasks).then_some(size as u32),
        parent: parent.clone(),
        candidate: candidate.clone(),
        predicted_hits: hits as u32,
        predicted_total: predicted.len() as u32,
        spend,
        episodes,
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_split_is_one_round_and_a_large_one_halves_the_candidates() {
        // The starter suite's 12 mine tasks: every candidate on all of them.
        assert_eq!(rounds(12, 8, 1, MIN_ROUND), [12]);
        // InterCode's 85: eight candidates, then four, then two on the whole split.
        assert_eq!(rounds(85, 8, 1, MIN_ROUND), [22, 43, 85]);
        assert_eq!(episodes(85, 8, 1, MIN_ROUND, 1), 8 * 22 + 4 * 21 + 2 * 42);
        // Two candidates for one finalist need no halving; nor do two finalists of four.
        assert_eq!(rounds(85, 2, 1, MIN_ROUND), [85]);
        assert_eq!(rounds(85, 4, 2, MIN_ROUND), [85]);
        // No round under the minimum, however many candidates.
        assert_eq!(rounds(85, 64, 1, MIN_ROUND), [22, 43, 85]);
        assert_eq!(rounds(8, 8, 1, 2), [2, 4, 8]);
        // Unhalved, it is what screening every candidate on the split costs.
        assert_eq!(episodes(12, 8, 1, MIN_ROUND, 2), 8 * 12 * 2);
    }

    #[test]
    fn the_order_is_seeded_and_every_part_is_a_prefix_of_the_next() {
        let tasks: Vec<String> = (0..40).map(|i| format!("task-{i:02}")).collect();
        let a = order(&tasks, 0, 1);
        assert_eq!(
            a,
            order(&tasks.iter().rev().cloned().collect::<Vec<_>>(), 0, 1),
            "independent of the split's order"
        );
        assert_ne!(a, order(&tasks, 0, 2), "each iteration its own order");
        assert_ne!(a[..10], tasks[..10], "shuffled");
    }

    #[test]
    fn a_screening_is_found_only_against_the_parent_its_iteration_mined() {
        let scored = |passed| Score { passed, counted: 22, ..Score::default() };
        let weaknesses = |iteration, version: &str| Entry::Weaknesses {
            at: String::new(),
            iteration,
            harness_version: version.into(),
            ids: vec![],
            titles: vec![],
            detectors: String::new(),
        };
        let screening = |iteration, version: &str, tasks| Entry::Screening {
            at: String::new(),
            iteration,
            proposal: format!("{iteration}-p"),
            candidate_version: version.into(),
            tasks,
            parent: scored(8),
            candidate: scored(5),
            predicted_hits: 0,
            predicted_total: 0,
            spend: Spend::default(),
            episodes: vec![],
        };
        let entries = [
            weaknesses(1, "parent"),
            screening(1, "edit", Some(22)),
            weaknesses(2, "next"),
            screening(2, "other", None),
        ];
        assert_eq!(
            screened(&entries, "parent", "edit"),
            Some((1, "8 → 5 of 22 passed of the first 22 tasks of the mine split".into()))
        );
        assert_eq!(screened(&entries, "next", "edit"), None, "another parent");
        assert_eq!(screened(&entries, "parent", "other"), None, "screened against another parent");
        assert_eq!(screened(&entries, "next", "other").unwrap().0, 2);
    }

    #[test]
    fn a_score_within_a_part_counts_only_its_tasks() {
        let mut all = Score::default();
        for (task, passed) in [("a", 1), ("b", 0), ("c", 2)] {
            all.per_task.insert(task.into(), crate::episodes::TaskScore { passed, counted: 2 });
            all.passed += passed;
            all.counted += 2;
        }
        let part = within(&all, &["a".into(), "c".into(), "missing".into()]);
        assert_eq!((part.passed, part.counted, part.per_task.len()), (3, 4, 2));
    }
}
