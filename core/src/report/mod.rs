//! The report: what the loop did and whether it helped, from the store alone (the ledger,
//! and the summaries `eval` keeps beside its runs).
//!
//! Baseline vs current harness on the held-out test split (the only place test results are
//! read), each with its 95% interval and, task by task, as a paired comparison: the exact
//! sign-flip test over the tasks' differences and a bootstrap interval of the change, with
//! the tasks that flipped. Then a per-iteration table (weaknesses, proposals, decisions and
//! why, edit sizes, raw and adjusted p-values, the validate split's pass rates on the pairs
//! the decision compared), how often proposals' predicted flips came true, how often repeats
//! of a task disagreed, what it all cost, and a plot of pass rate by iteration. Then every
//! `eval` run in the store, each paired with the first run on the same tasks and seeds. The
//! terminal, Markdown and the HTML page render the same tables.
//!
//! Here is the report as data (what `--json` prints); `fold` reads a ledger into it,
//! `render` draws it, `plot` makes its chart.

mod fold;
mod plot;
mod render;

use serde::Serialize;

use crate::episodes::{Evaluation, Score, Spend, TaskScore};
use crate::evolve::ledger::Entry;
use crate::stats::{bootstrap_mean_95, sign_flip_p, wilson_95};

pub use plot::svg;
pub use render::page;

/// A pass rate with its interval.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rate {
    pub harness_version: String,
    pub passed: u32,
    pub counted: u32,
    pub rate: f64,
    pub ci95: (f64, f64),
}

impl Rate {
    fn of(version: &str, score: &Score) -> Rate {
        Rate {
            harness_version: version.to_string(),
            passed: score.passed,
            counted: score.counted,
            rate: score.rate(),
            ci95: wilson_95(score.passed.into(), score.counted.into()),
        }
    }
}

/// Baseline and current harness on the test split, task by task.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Every task both ran, with the baseline's and the current harness's passes.
    pub tasks: Vec<TaskFlip>,
    pub better: usize,
    pub worse: usize,
    pub tied: usize,
    /// The mean over tasks of the current pass rate minus the baseline's.
    pub delta: f64,
    /// A 95% interval of `delta`, by bootstrap over tasks (tasks resampled, not episodes).
    pub ci95: (f64, f64),
    /// The exact one-sided sign-flip test over the tasks' differences in passes: the chance
    /// of at least this gain were the current harness no better than the baseline.
    pub p_value: f64,
}

/// One task of the test split, before and after.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskFlip {
    pub task: String,
    pub baseline: TaskScore,
    pub current: TaskScore,
}

impl TaskFlip {
    fn rate(score: &TaskScore) -> f64 {
        if score.counted == 0 {
            0.0
        } else {
            f64::from(score.passed) / f64::from(score.counted)
        }
    }
}

impl Comparison {
    fn of(baseline: &Score, current: &Score) -> Comparison {
        let tasks: Vec<TaskFlip> = baseline
            .per_task
            .iter()
            .filter_map(|(task, b)| {
                current.per_task.get(task).map(|c| TaskFlip { task: task.clone(), baseline: *b, current: *c })
            })
            .collect();
        let differences: Vec<i64> =
            tasks.iter().map(|t| i64::from(t.current.passed) - i64::from(t.baseline.passed)).collect();
        let rates: Vec<f64> = tasks.iter().map(|t| TaskFlip::rate(&t.current) - TaskFlip::rate(&t.baseline)).collect();
        Comparison {
            better: differences.iter().filter(|d| **d > 0).count(),
            worse: differences.iter().filter(|d| **d < 0).count(),
            tied: differences.iter().filter(|d| **d == 0).count(),
            delta: if rates.is_empty() { 0.0 } else { rates.iter().sum::<f64>() / rates.len() as f64 },
            ci95: bootstrap_mean_95(&rates, 10_000, 0),
            p_value: sign_flip_p(&differences),
            tasks,
        }
    }
}

/// What one proposer's candidates became.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct SourceTally {
    pub proposed: u32,
    pub accepted: u32,
}

/// One decision as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRow {
    pub proposals: Vec<String>,
    pub accepted: bool,
    pub reason: String,
    pub p_value: Option<f64>,
    /// Adjusted for the candidates judged together; what acceptance compared with α.
    pub p_adjusted: Option<f64>,
    pub changed_lines: u32,
    pub stopped_early: bool,
    /// The tasks compared (fewer than the split's when stopped early), and those of them
    /// the candidate passed more / less often than its parent.
    pub tasks: usize,
    pub improved: Vec<String>,
    pub regressed: Vec<String>,
}

/// A candidate screened on the mine split, as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ScreeningRow {
    pub proposal: String,
    pub parent_passed: u32,
    pub candidate_passed: u32,
    pub counted: u32,
    /// The tasks of the mine split it ran on before it dropped out of screening's rounds;
    /// `None`: all of them.
    pub tasks: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IterationRow {
    pub iteration: u32,
    pub weaknesses: Vec<String>,
    pub proposals: u32,
    pub discarded: Vec<String>,
    /// Candidates run on the mine split before validation, in the order they ran.
    pub screenings: Vec<ScreeningRow>,
    pub decisions: Vec<DecisionRow>,
    pub accepted: u32,
    pub rejected: u32,
    /// Validate-split pass rate of the parent, and of the version this iteration ended
    /// with, over the same pairs: those of the decision applied (or, when none was, of the
    /// fullest one); at iteration 0, the baseline's.
    pub validate_parent: Option<f64>,
    pub validate_after: Option<f64>,
    /// How many pairs those rates are over.
    pub validate_pairs: Option<u32>,
    pub predicted_hits: u32,
    pub predicted_total: u32,
    pub spend: Spend,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    pub model: String,
    pub policy: String,
    pub baseline: Option<Rate>,
    pub current: Option<Rate>,
    /// Baseline and current on the test split, paired by task (when they differ).
    pub comparison: Option<Comparison>,
    pub iterations: Vec<IterationRow>,
    /// Predicted flips that came true, of those predicted, over all decisions.
    pub predicted_hits: u32,
    pub predicted_total: u32,
    /// Of the evaluations' tasks run more than once, how many had repeats that disagreed
    /// (some passed, some failed), and how many there were.
    pub repeats_disagreed: (u32, u32),
    /// Per proposer (`model`, `catalog`, an ablation): proposals validated, and accepted.
    pub sources: std::collections::BTreeMap<String, SourceTally>,
    pub spend: Spend,
    pub finished: Option<String>,
    /// What `eval` measured in this store, oldest first.
    pub evaluations: Vec<EvaluationRow>,
}

/// One `eval` run, beside the first run on the same tasks, repeats and seed (its reference):
/// paired task by task, so harnesses evaluated in one store compare exactly.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvaluationRow {
    pub run: String,
    pub harness: String,
    pub rate: Rate,
    pub model: String,
    pub temperature: f64,
    pub split: Option<String>,
    pub tasks: usize,
    pub repeats: u32,
    /// Repeat k of every task used seed + k.
    pub seed: u64,
    pub tokens: u64,
    pub container_seconds: f64,
    pub wall_seconds: f64,
    /// The run it is compared with, and how.
    pub reference: Option<String>,
    pub comparison: Option<Comparison>,
}

impl EvaluationRow {
    /// Rows for `evaluations` (oldest first), each compared with the first one before it
    /// that ran the same tasks with the same repeats and seed.
    pub fn all(evaluations: &[Evaluation]) -> Vec<EvaluationRow> {
        let same = |a: &Evaluation, b: &Evaluation| {
            let tasks = |e: &Evaluation| e.tasks.iter().map(|t| t.task.clone()).collect::<Vec<_>>();
            (a.repeats, a.seed, tasks(a)) == (b.repeats, b.seed, tasks(b))
        };
        evaluations
            .iter()
            .enumerate()
            .map(|(i, e)| {
                let reference = evaluations[..i].iter().find(|r| same(r, e));
                EvaluationRow {
                    run: e.run.clone(),
                    harness: e.harness.clone(),
                    rate: Rate::of(&e.harness_version, &e.score()),
                    model: e.model.clone(),
                    temperature: e.temperature,
                    split: e.split.clone(),
                    tasks: e.tasks.len(),
                    repeats: e.repeats,
                    seed: e.seed,
                    tokens: e.tokens,
                    container_seconds: e.container_seconds(),
                    wall_seconds: e.wall_seconds,
                    reference: reference.map(|r| r.run.clone()),
                    comparison: reference.map(|r| Comparison::of(&r.score(), &e.score())),
                }
            })
            .collect()
    }
}

impl Report {
    /// The report of a store: its loop's ledger (`entries`) and its `evaluations`; `None`
    /// when it has neither.
    pub fn of(entries: &[Entry], evaluations: &[Evaluation]) -> Option<Report> {
        // Without a ledger there is no acceptance rule: evaluations only.
        let first = evaluations.first().map(|e| Report::empty(&e.model, ""));
        let mut report = Report::from_ledger(entries).or(first)?;
        report.evaluations = EvaluationRow::all(evaluations);
        Some(report)
    }

    fn empty(model: &str, policy: &str) -> Report {
        Report {
            model: model.to_string(),
            policy: policy.to_string(),
            baseline: None,
            current: None,
            comparison: None,
            iterations: Vec::new(),
            predicted_hits: 0,
            predicted_total: 0,
            repeats_disagreed: (0, 0),
            sources: Default::default(),
            spend: Spend::default(),
            finished: None,
            evaluations: Vec::new(),
        }
    }
}
