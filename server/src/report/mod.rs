//! The report: what the loop did and whether it helped, from the ledger alone.
//!
//! Baseline vs current harness on the held-out test split with 95% intervals (the only
//! place test results are read), a per-iteration table (weaknesses, proposals, decisions
//! and why, edit sizes, p-values), how often proposals' predicted flips came true, what it
//! all cost, and a plot of pass rate by iteration.

mod plot;

use serde::Serialize;

use crate::episodes::{Score, Spend};
use crate::evolve::ledger::Entry;
use crate::splits::Split;
use crate::stages::mine::Weakness;
use crate::stages::validate::ValidationRecord;
use crate::stats::wilson_95;

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

/// One decision as the report shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DecisionRow {
    pub proposals: Vec<String>,
    pub accepted: bool,
    pub reason: String,
    pub p_value: Option<f64>,
    pub changed_lines: u32,
    pub stopped_early: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct IterationRow {
    pub iteration: u32,
    pub weaknesses: Vec<String>,
    pub proposals: u32,
    pub discarded: Vec<String>,
    pub decisions: Vec<DecisionRow>,
    pub accepted: u32,
    pub rejected: u32,
    /// Validate-split pass rate of the parent, and of the version this iteration ended with.
    pub validate_parent: Option<f64>,
    pub validate_after: Option<f64>,
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
    pub iterations: Vec<IterationRow>,
    /// Predicted flips that came true, of those predicted, over all decisions.
    pub predicted_hits: u32,
    pub predicted_total: u32,
    pub spend: Spend,
    pub finished: Option<String>,
}

impl Report {
    /// Builds the report; `None` for an empty ledger.
    pub fn from_ledger(entries: &[Entry]) -> Option<Report> {
        let Some(Entry::Start { model, policy, .. }) = entries.iter().find(|e| matches!(e, Entry::Start { .. })) else {
            return None;
        };
        let mut report = Report {
            model: model.clone(),
            policy: policy.clone(),
            baseline: None,
            current: None,
            iterations: Vec::new(),
            predicted_hits: 0,
            predicted_total: 0,
            spend: Spend::default(),
            finished: None,
        };
        let mut changed: std::collections::HashMap<String, u32> = Default::default();
        let mut validate_rates: std::collections::HashMap<String, f64> = Default::default();
        let mut version = String::new();
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
                Entry::Start { harness_version, .. } => version = harness_version.clone(),
                Entry::Evaluation { harness_version, split, score, spend, iteration, .. } => {
                    report.spend.add(spend);
                    let r = row(&mut report, *iteration);
                    report.iterations[r].spend.add(spend);
                    match split {
                        Split::Test => {
                            let rate = Rate::of(harness_version, score);
                            if report.baseline.is_none() {
                                report.baseline = Some(rate.clone());
                            }
                            report.current = Some(rate);
                        }
                        Split::Validate => {
                            validate_rates.insert(harness_version.clone(), score.rate());
                            if harness_version == &version {
                                report.iterations[r].validate_parent.get_or_insert(score.rate());
                            }
                        }
                        Split::Mine => {}
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
                Entry::Proposal { iteration, id, changed_lines, .. } => {
                    changed.insert(id.clone(), *changed_lines);
                    let r = row(&mut report, *iteration);
                    report.iterations[r].proposals += 1;
                }
                Entry::Discarded { iteration, id, reason, .. } => {
                    let r = row(&mut report, *iteration);
                    report.iterations[r].discarded.push(format!("{id}: {reason}"));
                }
                Entry::Decision {
                    iteration,
                    proposals,
                    accepted,
                    reason,
                    p_value,
                    stopped_early,
                    spend,
                    predicted_hits,
                    predicted_total,
                    candidate,
                    parent,
                    candidate_version,
                    ..
                } => {
                    report.spend.add(spend);
                    report.predicted_hits += predicted_hits;
                    report.predicted_total += predicted_total;
                    validate_rates.insert(candidate_version.clone(), candidate.rate());
                    let r = row(&mut report, *iteration);
                    let it = &mut report.iterations[r];
                    it.spend.add(spend);
                    it.predicted_hits += predicted_hits;
                    it.predicted_total += predicted_total;
                    it.validate_parent.get_or_insert(parent.rate());
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
                        changed_lines: proposals.iter().filter_map(|p| changed.get(p)).sum(),
                        stopped_early: *stopped_early,
                    });
                }
                Entry::Applied { harness_version, .. } => version = harness_version.clone(),
                Entry::IterationEnd { iteration, harness_version, .. } => {
                    let r = row(&mut report, *iteration);
                    report.iterations[r].validate_after =
                        validate_rates.get(harness_version).copied().or(report.iterations[r].validate_parent);
                }
                Entry::Finish { reason, .. } => report.finished = Some(reason.clone()),
            }
        }
        Some(report)
    }

    /// Tables for the terminal.
    pub fn text(&self, table: &dyn Fn(&[&str]) -> comfy_table::Table) -> String {
        let pct = |r: f64| format!("{:.1}%", r * 100.0);
        let mut out = format!("Self-Harness report — model {}, acceptance rule {}\n\n", self.model, self.policy);
        let mut headline = table(&["test split", "harness", "passed", "pass rate", "95% interval"]);
        for (label, rate) in [("baseline", &self.baseline), ("current", &self.current)] {
            if let Some(r) = rate {
                headline.add_row(vec![
                    label.to_string(),
                    r.harness_version.clone(),
                    format!("{}/{}", r.passed, r.counted),
                    pct(r.rate),
                    format!("{}–{}", pct(r.ci95.0), pct(r.ci95.1)),
                ]);
            }
        }
        out.push_str(&format!("{headline}\n\n"));
        let mut iterations = table(&[
            "iter",
            "weaknesses",
            "proposals",
            "discarded",
            "accepted",
            "rejected",
            "edit lines",
            "p-values",
            "validate rate",
            "tokens",
            "container min",
        ]);
        for it in &self.iterations {
            let p_values: Vec<String> =
                it.decisions.iter().map(|d| d.p_value.map_or("-".into(), |p| format!("{p:.3}"))).collect();
            let lines: Vec<String> = it.decisions.iter().map(|d| d.changed_lines.to_string()).collect();
            let rate = match (it.validate_parent, it.validate_after) {
                (Some(a), Some(b)) if it.iteration > 0 => format!("{} → {}", pct(a), pct(b)),
                (Some(a), _) => pct(a),
                _ => "-".into(),
            };
            iterations.add_row(vec![
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
        out.push_str(&format!("{iterations}\n\n"));
        for it in &self.iterations {
            for d in &it.decisions {
                let verdict = if d.accepted { "accepted" } else { "rejected" };
                let early = if d.stopped_early { " (stopped early)" } else { "" };
                out.push_str(&format!(
                    "iteration {}: {} {verdict}{early}: {}\n",
                    it.iteration,
                    d.proposals.join("+"),
                    d.reason
                ));
            }
            for reason in &it.discarded {
                out.push_str(&format!("iteration {}: discarded {reason}\n", it.iteration));
            }
        }
        out.push_str(&format!(
            "\npredicted flips that came true: {}/{}\nspent: {} tokens, ${:.4}, {:.1} container-minutes\n",
            self.predicted_hits,
            self.predicted_total,
            self.spend.tokens,
            self.spend.cost_usd,
            self.spend.container_seconds / 60.0
        ));
        if let Some(reason) = &self.finished {
            out.push_str(&format!("finished: {reason}\n"));
        }
        out
    }

    /// A self-contained HTML page: the tables and the plot.
    pub fn html(&self) -> String {
        page(Some(self), &[], &[])
    }
}

/// The report as one self-contained HTML page: the loop's report (when there is a ledger),
/// then each weakness in its own section (`#weakness-<id>`, where the editor's diagnostics
/// link to) with its evidence, and the validation decisions.
pub fn page(report: Option<&Report>, weaknesses: &[Weakness], validations: &[ValidationRecord]) -> String {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    let table = |header: &[&str]| {
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::ASCII_MARKDOWN).set_header(header.to_vec());
        t
    };
    let mut body = String::from("<h1>Self-Harness report</h1>");
    match report {
        Some(report) => body.push_str(&format!("{}<pre>{}</pre>", svg(report), escape(&report.text(&table)))),
        None => body.push_str("<p>No loop has run yet (no ledger).</p>"),
    }
    if !weaknesses.is_empty() {
        body.push_str("<h2>Weaknesses</h2>");
    }
    for w in weaknesses {
        let evidence: String =
            w.evidence.iter().map(|e| format!("<li><code>{}</code></li>", escape(&e.to_string()))).collect();
        body.push_str(&format!(
            "<section id=\"weakness-{id}\"><h3>{title} <small>({id}, {criticality})</small></h3><p>{support}</p>\
             <p>{description}</p><p>Surface: <code>{surface}</code>. Must keep passing: {keep}</p><ul>{evidence}</ul>\
             </section>",
            id = escape(&w.id),
            title = escape(&w.title),
            criticality = escape(&w.criticality),
            support = escape(&w.support),
            description = escape(&w.description),
            surface = escape(&w.surface),
            keep = escape(&w.keep_passing.join(", ")),
        ));
    }
    if !validations.is_empty() {
        body.push_str("<h2>Validations</h2><ul>");
        for v in validations {
            body.push_str(&format!(
                "<li>{} {} → {}: <b>{}</b> ({}) — {}</li>",
                escape(v.proposal.as_deref().unwrap_or("edit")),
                escape(&v.parent_version),
                escape(&v.candidate_version),
                if v.decision.accepted { "accepted" } else { "rejected" },
                escape(&v.evidence()),
                escape(&v.decision.reason)
            ));
        }
        body.push_str("</ul>");
    }
    format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>Self-Harness report</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222}}\
         pre{{background:#f6f6f6;padding:1rem;overflow-x:auto}}section{{border-top:1px solid #ddd}}</style></head>\
         <body>{body}</body></html>\n"
    )
}
