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

mod plot;

use serde::Serialize;

use crate::episodes::{Evaluation, Score, Spend, TaskScore};
use crate::evolve::ledger::Entry;
use crate::splits::Split;
use crate::stages::mine::Weakness;
use crate::stages::validate::{Decision, ValidationRecord};
use crate::stats::{bootstrap_mean_95, sign_flip_p, wilson_95};

pub use plot::svg;

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

/// A table as rows of cells: the one shape the terminal and the HTML page both render.
struct Grid {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Report {
    /// Builds the report; `None` for an empty ledger.
    /// The report of a store: its loop's ledger (`entries`) and its `evaluations`; `None`
    /// when it has neither.
    pub fn of(entries: &[Entry], evaluations: &[Evaluation]) -> Option<Report> {
        // Without a ledger there is no acceptance rule: evaluations only.
        let first = evaluations.first().map(|e| Report::empty(&e.model, ""));
        let mut report = Report::from_ledger(entries).or(first)?;
        report.evaluations = EvaluationRow::all(evaluations);
        Some(report)
    }

    pub fn from_ledger(entries: &[Entry]) -> Option<Report> {
        let Some(Entry::Start { model, policy, .. }) = entries.iter().find(|e| matches!(e, Entry::Start { .. })) else {
            return None;
        };
        let mut report = Report::empty(model, &policy.to_string());
        let mut changed: std::collections::HashMap<String, u32> = Default::default();
        let mut source_of: std::collections::HashMap<String, String> = Default::default();
        // Each iteration's decisions (candidate version, decision), for its validate rates.
        let mut decided: std::collections::HashMap<u32, Vec<(&str, &Decision)>> = Default::default();
        let (mut baseline, mut current): (Option<Score>, Option<Score>) = (None, None);
        for entry in entries {
            let row = |report: &mut Report, i: u32| -> usize {
                match report.iterations.iter().position(|r| r.iteration == i) {
                    Some(p) => p,
                    None => {
                        report.iterations.push(IterationRow { iteration: i, ..Default::default() });
                        report.iterations.len() - 1
                    }
                }
            };
            match entry {
                Entry::Start { .. } => {}
                Entry::Evaluation { harness_version, split, score, spend, iteration, .. } => {
                    report.spend.add(spend);
                    let r = row(&mut report, *iteration);
                    report.iterations[r].spend.add(spend);
                    let repeated = score.per_task.values().filter(|t| t.counted > 1);
                    for t in repeated {
                        report.repeats_disagreed.1 += 1;
                        report.repeats_disagreed.0 += u32::from(t.passed > 0 && t.passed < t.counted);
                    }
                    match split {
                        Split::Test => {
                            let rate = Rate::of(harness_version, score);
                            if report.baseline.is_none() {
                                report.baseline = Some(rate.clone());
                                baseline = Some(score.clone());
                            }
                            report.current = Some(rate);
                            current = Some(score.clone());
                        }
                        Split::Validate if *iteration == 0 => {
                            let it = &mut report.iterations[r];
                            it.validate_parent = Some(score.rate());
                            it.validate_pairs = Some(score.counted);
                        }
                        Split::Validate | Split::Mine => {}
                    }
                }
                Entry::Weaknesses { iteration, titles, .. } => {
                    let r = row(&mut report, *iteration);
                    report.iterations[r].weaknesses = titles.clone();
                }
                Entry::Spent { iteration, spend, .. } => {
                    report.spend.add(spend);
                    let r = row(&mut report, *iteration);
                    report.iterations[r].spend.add(spend);
                }
                Entry::Proposal { iteration, id, changed_lines, source, .. } => {
                    changed.insert(id.clone(), *changed_lines);
                    source_of.insert(id.clone(), source.clone());
                    report.sources.entry(source.clone()).or_default().proposed += 1;
                    let r = row(&mut report, *iteration);
                    report.iterations[r].proposals += 1;
                }
                Entry::Discarded { iteration, id, reason, .. } => {
                    let r = row(&mut report, *iteration);
                    report.iterations[r].discarded.push(format!("{id}: {reason}"));
                }
                Entry::Screening {
                    iteration,
                    proposal,
                    tasks,
                    parent,
                    candidate,
                    predicted_hits,
                    predicted_total,
                    spend,
                    ..
                } => {
                    report.spend.add(spend);
                    report.predicted_hits += predicted_hits;
                    report.predicted_total += predicted_total;
                    let r = row(&mut report, *iteration);
                    let it = &mut report.iterations[r];
                    it.spend.add(spend);
                    it.predicted_hits += predicted_hits;
                    it.predicted_total += predicted_total;
                    it.screenings.push(ScreeningRow {
                        proposal: proposal.clone(),
                        parent_passed: parent.passed,
                        candidate_passed: candidate.passed,
                        counted: candidate.counted,
                        tasks: *tasks,
                    });
                }
                Entry::Decision {
                    iteration,
                    proposals,
                    decision,
                    stopped_early,
                    spend,
                    predicted_hits,
                    predicted_total,
                    candidate_version,
                    ..
                } => {
                    let Decision { accepted, reason, p_value, p_adjusted, candidate, improved, regressed, .. } =
                        decision;
                    report.spend.add(spend);
                    report.predicted_hits += predicted_hits;
                    report.predicted_total += predicted_total;
                    if *accepted {
                        for source in proposals.iter().filter_map(|p| source_of.get(p)) {
                            report.sources.entry(source.clone()).or_default().accepted += 1;
                        }
                    }
                    decided.entry(*iteration).or_default().push((candidate_version.as_str(), decision));
                    let r = row(&mut report, *iteration);
                    let it = &mut report.iterations[r];
                    it.spend.add(spend);
                    it.predicted_hits += predicted_hits;
                    it.predicted_total += predicted_total;
                    if *accepted {
                        it.accepted += 1
                    } else {
                        it.rejected += 1
                    }
                    it.decisions.push(DecisionRow {
                        proposals: proposals.clone(),
                        accepted: *accepted,
                        reason: reason.clone(),
                        p_value: *p_value,
                        p_adjusted: *p_adjusted,
                        changed_lines: proposals.iter().filter_map(|p| changed.get(p)).sum(),
                        stopped_early: *stopped_early,
                        tasks: candidate.per_task.len(),
                        improved: improved.clone(),
                        regressed: regressed.clone(),
                    });
                }
                Entry::Applied { .. } => {}
                Entry::IterationEnd { iteration, harness_version, .. } => {
                    // The rates on the same pairs: those of the decision applied, else of
                    // the fullest one (the harness stayed the parent).
                    let decisions = decided.get(iteration).map(Vec::as_slice).unwrap_or_default();
                    let applied =
                        decisions.iter().find(|(v, d)| d.accepted && *v == harness_version.as_str()).map(|(_, d)| d);
                    let fullest = decisions.iter().map(|(_, d)| d).max_by_key(|d| d.parent.counted);
                    let r = row(&mut report, *iteration);
                    let it = &mut report.iterations[r];
                    if let Some(d) = applied {
                        (it.validate_parent, it.validate_after) = (Some(d.parent.rate()), Some(d.candidate.rate()));
                        it.validate_pairs = Some(d.parent.counted);
                    } else if let Some(d) = fullest.filter(|d| d.parent.counted > 0) {
                        (it.validate_parent, it.validate_after) = (Some(d.parent.rate()), Some(d.parent.rate()));
                        it.validate_pairs = Some(d.parent.counted);
                    }
                }
                Entry::Finish { reason, .. } => report.finished = Some(reason.clone()),
            }
        }
        if let (Some(b), Some(c)) = (&baseline, &current) {
            let versions = report.baseline.as_ref().zip(report.current.as_ref());
            if versions.is_some_and(|(b, c)| b.harness_version != c.harness_version) {
                report.comparison = Some(Comparison::of(b, c));
            }
        }
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

    /// The report's tables: the test split, the paired comparison and its flips, the
    /// iterations.
    fn grids(&self) -> Vec<Grid> {
        let pct = |r: f64| format!("{:.1}%", r * 100.0);
        let mut grids = Vec::new();
        let mut headline =
            Grid { header: vec!["test split", "harness", "passed", "pass rate", "95% interval"], rows: Vec::new() };
        for (label, rate) in [("baseline", &self.baseline), ("current", &self.current)] {
            if let Some(r) = rate {
                headline.rows.push(vec![
                    label.to_string(),
                    r.harness_version.clone(),
                    format!("{}/{}", r.passed, r.counted),
                    pct(r.rate),
                    format!("{}–{}", pct(r.ci95.0), pct(r.ci95.1)),
                ]);
            }
        }
        grids.push(headline);
        if let Some(c) = &self.comparison {
            let signed = |r: f64| format!("{:+.1} pp", r * 100.0);
            grids.push(Grid {
                header: vec!["paired by task", "better", "worse", "tied", "Δ pass rate", "95% interval", "p (exact)"],
                rows: vec![vec![
                    format!("{} tasks", c.tasks.len()),
                    c.better.to_string(),
                    c.worse.to_string(),
                    c.tied.to_string(),
                    signed(c.delta),
                    format!("{} to {}", signed(c.ci95.0), signed(c.ci95.1)),
                    format!("{:.4}", c.p_value),
                ]],
            });
            let flips: Vec<Vec<String>> = c
                .tasks
                .iter()
                .filter(|t| t.current.passed != t.baseline.passed)
                .map(|t| {
                    let way = if t.current.passed > t.baseline.passed { "better" } else { "worse" };
                    vec![
                        t.task.clone(),
                        format!("{}/{}", t.baseline.passed, t.baseline.counted),
                        format!("{}/{}", t.current.passed, t.current.counted),
                        way.to_string(),
                    ]
                })
                .collect();
            if !flips.is_empty() {
                grids.push(Grid { header: vec!["task", "baseline", "current", "flip"], rows: flips });
            }
        }
        let mut iterations = Grid {
            header: vec![
                "iter",
                "weaknesses",
                "proposals",
                "discarded",
                "accepted",
                "rejected",
                "edit lines",
                "p (adjusted)",
                "validate, same pairs",
                "tokens",
                "container min",
            ],
            rows: Vec::new(),
        };
        for it in &self.iterations {
            let p_values: Vec<String> = it
                .decisions
                .iter()
                .map(|d| match (d.p_value, d.p_adjusted) {
                    (Some(p), Some(a)) if (a - p).abs() > 1e-12 => format!("{p:.3} ({a:.3})"),
                    (Some(p), _) => format!("{p:.3}"),
                    _ => "-".into(),
                })
                .collect();
            let lines: Vec<String> = it.decisions.iter().map(|d| d.changed_lines.to_string()).collect();
            let pairs = it.validate_pairs.map(|n| format!(" of {n}")).unwrap_or_default();
            let rate = match (it.validate_parent, it.validate_after) {
                (Some(a), Some(b)) if it.iteration > 0 => format!("{} → {}{pairs}", pct(a), pct(b)),
                (Some(a), _) => format!("{}{pairs}", pct(a)),
                _ => "-".into(),
            };
            iterations.rows.push(vec![
                it.iteration.to_string(),
                it.weaknesses.len().to_string(),
                it.proposals.to_string(),
                it.discarded.len().to_string(),
                it.accepted.to_string(),
                it.rejected.to_string(),
                lines.join(" "),
                p_values.join(" "),
                rate,
                it.spend.tokens.to_string(),
                format!("{:.1}", it.spend.container_seconds / 60.0),
            ]);
        }
        if !self.iterations.is_empty() {
            grids.push(iterations);
        }
        let p = |p: Option<f64>| p.map_or("-".into(), |p| format!("{p:.4}"));
        let decisions: Vec<Vec<String>> = self
            .iterations
            .iter()
            .flat_map(|it| it.decisions.iter().map(move |d| (it.iteration, d)))
            .map(|(iteration, d)| {
                let (better, worse) = (d.improved.len(), d.regressed.len());
                vec![
                    iteration.to_string(),
                    d.proposals.join("+"),
                    format!(
                        "{}{}",
                        if d.accepted { "accepted" } else { "rejected" },
                        if d.stopped_early { " (stopped early)" } else { "" }
                    ),
                    d.tasks.to_string(),
                    better.to_string(),
                    worse.to_string(),
                    d.tasks.saturating_sub(better + worse).to_string(),
                    p(d.p_value),
                    p(d.p_adjusted),
                    d.changed_lines.to_string(),
                ]
            })
            .collect();
        if !decisions.is_empty() {
            grids.push(Grid {
                header: vec![
                    "iter",
                    "candidate",
                    "verdict",
                    "validate tasks compared",
                    "better",
                    "worse",
                    "tied",
                    "p (exact)",
                    "p adjusted",
                    "edit lines",
                ],
                rows: decisions,
            });
        }
        if !self.evaluations.is_empty() {
            let mut evaluations = Grid {
                header: vec![
                    "eval run",
                    "harness",
                    "tasks × repeats",
                    "temperature",
                    "pass rate (95% interval)",
                    "Δ vs first, paired",
                    "p (exact)",
                    "tokens",
                    "container min",
                    "wall min",
                ],
                rows: Vec::new(),
            };
            for e in &self.evaluations {
                let r = &e.rate;
                let (delta, p) = match &e.comparison {
                    Some(c) => (
                        format!("{:+.1} pp ({} better, {} worse)", c.delta * 100.0, c.better, c.worse),
                        format!("{:.4}", c.p_value),
                    ),
                    None => ("(first)".into(), "-".into()),
                };
                evaluations.rows.push(vec![
                    e.run.clone(),
                    format!("{} {}", e.harness, r.harness_version),
                    format!("{} × {}{}", e.tasks, e.repeats, sample(e.split.as_deref(), e.seed, e.repeats)),
                    format!("{}", e.temperature),
                    format!("{} {}/{} ({}–{})", pct(r.rate), r.passed, r.counted, pct(r.ci95.0), pct(r.ci95.1)),
                    delta,
                    p,
                    e.tokens.to_string(),
                    format!("{:.1}", e.container_seconds / 60.0),
                    format!("{:.1}", e.wall_seconds / 60.0),
                ]);
            }
            grids.push(evaluations);
        }
        grids
    }

    /// The lines after the tables: every decision and discarded proposal, then the totals.
    fn notes(&self) -> Vec<String> {
        let mut lines = Vec::new();
        if self.iterations.is_empty() && self.baseline.is_none() {
            return lines; // no loop ran here: nothing to note beyond the evaluations
        }
        for it in &self.iterations {
            for s in &it.screenings {
                let validated = it.decisions.iter().any(|d| d.proposals == [s.proposal.as_str()]);
                lines.push(format!(
                    "iteration {}: {} screened on the mine split: {} → {} of {} passed ({:+}){}{}",
                    it.iteration,
                    s.proposal,
                    s.parent_passed,
                    s.candidate_passed,
                    s.counted,
                    i64::from(s.candidate_passed) - i64::from(s.parent_passed),
                    s.tasks.map_or(String::new(), |t| format!(", out of the race after its first {t} tasks")),
                    if validated { ", validated" } else { "" }
                ));
            }
            for d in &it.decisions {
                let verdict = if d.accepted { "accepted" } else { "rejected" };
                let early = if d.stopped_early { " (stopped early)" } else { "" };
                lines.push(format!(
                    "iteration {}: {} {verdict}{early}: {}",
                    it.iteration,
                    d.proposals.join("+"),
                    d.reason
                ));
            }
            for reason in &it.discarded {
                lines.push(format!("iteration {}: discarded {reason}", it.iteration));
            }
        }
        lines.push(String::new());
        lines.push(match self.predicted_total {
            0 => "predicted flips that came true: none checked (the tasks a proposer may name were not run)".into(),
            n => format!("predicted flips that came true: {}/{n}", self.predicted_hits),
        });
        if !self.sources.is_empty() {
            let by: Vec<String> =
                self.sources.iter().map(|(s, t)| format!("{s} {} of {}", t.accepted, t.proposed)).collect();
            lines.push(format!("accepted by proposer: {}", by.join(", ")));
        }
        let (disagreed, repeated) = self.repeats_disagreed;
        if repeated > 0 {
            lines.push(format!(
                "repeats disagreed on {disagreed} of {repeated} task evaluations{}",
                if disagreed == 0 { " (identical repeats add no information)" } else { "" }
            ));
        }
        lines.push(format!(
            "spent: {} tokens, ${:.4}, {:.1} container-minutes",
            self.spend.tokens,
            self.spend.cost_usd,
            self.spend.container_seconds / 60.0
        ));
        if let Some(reason) = &self.finished {
            lines.push(format!("finished: {reason}"));
        }
        lines
    }

    /// Tables for the terminal.
    pub fn text(&self, table: &dyn Fn(&[&str]) -> comfy_table::Table) -> String {
        let mut out = format!("Self-Harness report — model {}, acceptance rule {}\n\n", self.model, self.policy);
        for grid in self.grids() {
            let mut t = table(&grid.header);
            for row in grid.rows {
                t.add_row(row);
            }
            out.push_str(&format!("{t}\n\n"));
        }
        for line in self.notes() {
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    /// The tables and notes as Markdown (GitHub tables).
    pub fn markdown(&self) -> String {
        let cell = |c: &str| c.replace('|', "\\|");
        let mut out = match self.policy.as_str() {
            "" => format!("Model `{}`.\n\n", self.model),
            policy => format!("Model `{}`, acceptance rule `{policy}`.\n\n", self.model),
        };
        for grid in self.grids() {
            if grid.rows.is_empty() {
                continue;
            }
            out.push_str(&format!("| {} |\n", grid.header.join(" | ")));
            out.push_str(&format!("|{}\n", "---|".repeat(grid.header.len())));
            for row in &grid.rows {
                out.push_str(&format!("| {} |\n", row.iter().map(|c| cell(c)).collect::<Vec<_>>().join(" | ")));
            }
            out.push('\n');
        }
        for line in self.notes().iter().filter(|l| !l.is_empty()) {
            out.push_str(&format!("* {line}\n"));
        }
        out
    }

    /// The tables and notes as HTML.
    fn html_body(&self) -> String {
        let mut body = format!(
            "<p>Model <code>{}</code>, acceptance rule <code>{}</code>.</p>",
            escape(&self.model),
            escape(&self.policy)
        );
        for grid in self.grids() {
            let head: String = grid.header.iter().map(|h| format!("<th>{}</th>", escape(h))).collect();
            let rows: String = grid
                .rows
                .iter()
                .map(|r| {
                    format!("<tr>{}</tr>", r.iter().map(|c| format!("<td>{}</td>", escape(c))).collect::<String>())
                })
                .collect();
            body.push_str(&format!("<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"));
        }
        let notes: String =
            self.notes().iter().filter(|l| !l.is_empty()).map(|l| format!("<li>{}</li>", escape(l))).collect();
        body.push_str(&format!("<ul>{notes}</ul>"));
        body
    }

    /// A self-contained HTML page: the tables and the plot.
    pub fn html(&self) -> String {
        page(Some(self), &[], &[])
    }
}

/// Which sample an evaluation is, after its size: ` (test)`, or ` (test, seeds 3–5)` for
/// repeats seeded other than from 0 (runs of other seeds are other episodes, never paired).
fn sample(split: Option<&str>, seed: u64, repeats: u32) -> String {
    let seeds =
        (seed != 0).then(|| format!("seeds {seed}–{}", seed.saturating_add(u64::from(repeats).saturating_sub(1))));
    let parts: Vec<String> = split.map(str::to_string).into_iter().chain(seeds).collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The report as one self-contained HTML page: the loop's report (when there is a ledger),
/// then each weakness in its own section (`#weakness-<id>`, where the editor's diagnostics
/// link to) with its evidence, and the validation decisions.
pub fn page(report: Option<&Report>, weaknesses: &[Weakness], validations: &[ValidationRecord]) -> String {
    let mut body = String::from("<h1>Self-Harness report</h1>");
    match report {
        Some(report) => body.push_str(&format!("{}{}", svg(report), report.html_body())),
        None => body.push_str("<p>No loop has run yet (no ledger).</p>"),
    }
    if !weaknesses.is_empty() {
        body.push_str("<h2>Weaknesses</h2>");
    }
    for w in weaknesses {
        let evidence: String =
            w.evidence.iter().map(|e| format!("<li><code>{}</code></li>", escape(&e.to_string()))).collect();
        let keep = match w.keep_passing.is_empty() {
            true => String::new(),
            false => format!("<p>Tasks that must keep passing: {}</p>", escape(&w.keep_passing.join(", "))),
        };
        body.push_str(&format!(
            "<section id=\"weakness-{id}\"><h3>{title} <small>({id}, {criticality})</small></h3><p>{support}</p>\
             <p>{description}</p><p>Surface: <code>{surface}</code>.</p><h4>Evidence</h4><ul>{evidence}</ul>{keep}\
             </section>",
            id = escape(&w.id),
            title = escape(&w.title),
            criticality = escape(&w.criticality),
            support = escape(&w.support),
            description = escape(&w.description),
            surface = escape(&w.surface),
        ));
    }
    if !validations.is_empty() {
        body.push_str(
            "<h2>Validations</h2><table><thead><tr><th>candidate</th><th>parent → candidate</th><th>decision</th>\
             <th>evidence</th><th>why</th></tr></thead><tbody>",
        );
        for v in validations {
            body.push_str(&format!(
                "<tr><td>{}</td><td>{} → {}</td><td><b>{}</b></td><td>{}</td><td>{}</td></tr>",
                escape(v.proposal.as_deref().unwrap_or("edit")),
                escape(&v.parent_version),
                escape(&v.candidate_version),
                if v.decision.accepted { "accepted" } else { "rejected" },
                escape(&v.evidence()),
                escape(&v.decision.reason)
            ));
        }
        body.push_str("</tbody></table>");
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Self-Harness report</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;color:#222}}\
         table{{border-collapse:collapse;margin:1rem 0}}th,td{{border:1px solid #ddd;padding:.25rem .5rem;\
         text-align:left;vertical-align:top}}th{{background:#f6f6f6}}section{{border-top:1px solid #ddd}}</style>\
         </head><body>{body}</body></html>\n"
    )
}
