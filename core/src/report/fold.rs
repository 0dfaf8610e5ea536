//! The report from the loop's ledger: one pass over its entries, each adding to the
//! iteration it belongs to (the ledger is the report's only input besides `eval`'s runs).

use std::collections::HashMap;

use super::{Comparison, DecisionRow, IterationRow, Rate, Report, ScreeningRow};
use crate::episodes::{Score, Spend};
use crate::evolve::ledger::Entry;
use crate::splits::Split;
use crate::stages::validate::Decision;

impl Report {
    /// The report of a loop's ledger; `None` when it has not started.
    pub fn from_ledger(entries: &[Entry]) -> Option<Report> {
        let Some(Entry::Start { model, policy, .. }) = entries.iter().find(|e| matches!(e, Entry::Start { .. })) else {
            return None;
        };
        let mut fold = Fold::new(Report::empty(model, &policy.to_string()));
        for entry in entries {
            fold.add(entry);
        }
        Some(fold.finish())
    }
}

/// The report so far, and what later entries need from earlier ones.
struct Fold<'e> {
    report: Report,
    /// Each proposal's changed lines and proposer, for the decisions made of it.
    changed: HashMap<String, u32>,
    source_of: HashMap<String, String>,
    /// Each iteration's decisions (candidate version, decision), for its validate rates.
    decided: HashMap<u32, Vec<(&'e str, &'e Decision)>>,
    /// The first and the latest evaluation on the test split.
    baseline: Option<Score>,
    current: Option<Score>,
}

impl<'e> Fold<'e> {
    fn new(report: Report) -> Self {
        let (changed, source_of, decided) = Default::default();
        Fold { report, changed, source_of, decided, baseline: None, current: None }
    }

    /// The row of iteration `i`, made when it is first met.
    fn row(&mut self, i: u32) -> &mut IterationRow {
        let rows = &mut self.report.iterations;
        let at = match rows.iter().position(|r| r.iteration == i) {
            Some(at) => at,
            None => {
                rows.push(IterationRow { iteration: i, ..Default::default() });
                rows.len() - 1
            }
        };
        &mut rows[at]
    }

    /// Spend counted in the whole and in iteration `i`.
    fn spent(&mut self, i: u32, spend: &Spend) {
        self.report.spend.add(spend);
        self.row(i).spend.add(spend);
    }

    /// Predicted flips checked (in iteration `i`) and how many came true.
    fn predicted(&mut self, i: u32, hits: u32, total: u32) {
        self.report.predicted_hits += hits;
        self.report.predicted_total += total;
        let row = self.row(i);
        row.predicted_hits += hits;
        row.predicted_total += total;
    }

    fn add(&mut self, entry: &'e Entry) {
        // Only the ledger's last entry says the loop finished: anything after a Finish is
        // the loop resumed for more iterations, running again.
        self.report.finished = None;
        match entry {
            Entry::Start { .. } | Entry::Applied { .. } => {}
            Entry::Evaluation { harness_version, split, score, spend, iteration, .. } => {
                self.spent(*iteration, spend);
                self.evaluation(harness_version, *split, score, *iteration);
            }
            Entry::Weaknesses { iteration, titles, .. } => self.row(*iteration).weaknesses = titles.clone(),
            Entry::Spent { iteration, spend, .. } => self.spent(*iteration, spend),
            Entry::Proposal { iteration, id, changed_lines, source, .. } => {
                self.changed.insert(id.clone(), *changed_lines);
                self.source_of.insert(id.clone(), source.clone());
                self.report.sources.entry(source.clone()).or_default().proposed += 1;
                self.row(*iteration).proposals += 1;
            }
            Entry::Discarded { iteration, id, reason, .. } => {
                self.row(*iteration).discarded.push(format!("{id}: {reason}"));
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
                self.spent(*iteration, spend);
                self.predicted(*iteration, *predicted_hits, *predicted_total);
                self.row(*iteration).screenings.push(ScreeningRow {
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
                self.spent(*iteration, spend);
                self.predicted(*iteration, *predicted_hits, *predicted_total);
                self.decision(*iteration, proposals, candidate_version, decision, *stopped_early);
            }
            Entry::IterationEnd { iteration, harness_version, .. } => self.iteration_end(*iteration, harness_version),
            Entry::Finish { reason, .. } => self.report.finished = Some(reason.clone()),
        }
    }

    /// A harness version's evaluation: on the test split, the baseline (the first) or the
    /// current harness (the latest); on the validate split at iteration 0, the baseline's
    /// rate there.
    fn evaluation(&mut self, harness_version: &str, split: Split, score: &Score, iteration: u32) {
        let report = &mut self.report;
        for t in score.per_task.values().filter(|t| t.counted > 1) {
            report.repeats_disagreed.1 += 1;
            report.repeats_disagreed.0 += u32::from(t.passed > 0 && t.passed < t.counted);
        }
        match split {
            Split::Test => {
                let rate = Rate::of(harness_version, score);
                if report.baseline.is_none() {
                    report.baseline = Some(rate.clone());
                    self.baseline = Some(score.clone());
                }
                report.current = Some(rate);
                self.current = Some(score.clone());
            }
            Split::Validate if iteration == 0 => {
                let row = self.row(iteration);
                row.validate_parent = Some(score.rate());
                row.validate_pairs = Some(score.counted);
            }
            Split::Validate | Split::Mine => {}
        }
    }

    fn decision(
        &mut self,
        iteration: u32,
        proposals: &[String],
        candidate_version: &'e str,
        decision: &'e Decision,
        stopped_early: bool,
    ) {
        let Decision { accepted, reason, p_value, p_adjusted, candidate, improved, regressed, .. } = decision;
        if *accepted {
            for source in proposals.iter().filter_map(|p| self.source_of.get(p)) {
                self.report.sources.entry(source.clone()).or_default().accepted += 1;
            }
        }
        self.decided.entry(iteration).or_default().push((candidate_version, decision));
        let changed_lines = proposals.iter().filter_map(|p| self.changed.get(p)).sum();
        let row = self.row(iteration);
        if *accepted {
            row.accepted += 1
        } else {
            row.rejected += 1
        }
        row.decisions.push(DecisionRow {
            proposals: proposals.to_vec(),
            accepted: *accepted,
            reason: reason.clone(),
            p_value: *p_value,
            p_adjusted: *p_adjusted,
            changed_lines,
            stopped_early,
            tasks: candidate.per_task.len(),
            improved: improved.clone(),
            regressed: regressed.clone(),
        });
    }

    /// The validate split's rates on the same pairs: those of the decision applied, else of
    /// the fullest one (the harness stayed the parent); iteration 0's from iteration 1's
    /// parent where the baseline did not run the validate split.
    fn iteration_end(&mut self, iteration: u32, harness_version: &str) {
        let decisions = self.decided.get(&iteration).cloned().unwrap_or_default();
        let applied = decisions.iter().find(|(v, d)| d.accepted && *v == harness_version).map(|(_, d)| d);
        let fullest = decisions.iter().map(|(_, d)| d).max_by_key(|d| d.parent.counted);
        let row = self.row(iteration);
        if let Some(d) = applied {
            (row.validate_parent, row.validate_after) = (Some(d.parent.rate()), Some(d.candidate.rate()));
            row.validate_pairs = Some(d.parent.counted);
        } else if let Some(d) = fullest.filter(|d| d.parent.counted > 0) {
            (row.validate_parent, row.validate_after) = (Some(d.parent.rate()), Some(d.parent.rate()));
            row.validate_pairs = Some(d.parent.counted);
        }
        // A loop whose baseline ran the mine split only: the starting harness's validate rate
        // is its first iteration's parent sample.
        if let Some(d) = fullest.filter(|d| iteration == 1 && d.parent.counted > 0) {
            let start = self.row(0);
            if start.validate_parent.is_none() {
                (start.validate_parent, start.validate_pairs) = (Some(d.parent.rate()), Some(d.parent.counted));
            }
        }
    }

    /// The report, with the paired comparison of baseline and current when they differ.
    fn finish(mut self) -> Report {
        let report = &mut self.report;
        if let (Some(b), Some(c)) = (&self.baseline, &self.current) {
            let versions = report.baseline.as_ref().zip(report.current.as_ref());
            if versions.is_some_and(|(b, c)| b.harness_version != c.harness_version) {
                report.comparison = Some(Comparison::of(b, c));
            }
        }
        self.report
    }
}
