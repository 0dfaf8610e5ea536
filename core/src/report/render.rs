//! The report's renderings: the same tables (a [`Grid`] each) and notes for the terminal,
//! Markdown and the HTML page, which adds the plot, the weaknesses and the validations.

use super::{plot::svg, Comparison, Report};
use crate::stages::mine::Weakness;
use crate::stages::validate::ValidationRecord;

/// A table as rows of cells: the one shape the terminal and the HTML page both render.
struct Grid {
    header: Vec<&'static str>,
    rows: Vec<Vec<String>>,
}

impl Grid {
    /// The table, when it has rows.
    fn unless_empty(header: Vec<&'static str>, rows: Vec<Vec<String>>) -> Option<Grid> {
        (!rows.is_empty()).then_some(Grid { header, rows })
    }
}

fn pct(rate: f64) -> String {
    format!("{:.1}%", rate * 100.0)
}

/// Baseline and current on the test split, paired by task.
fn paired(c: &Comparison) -> Grid {
    let signed = |r: f64| format!("{:+.1} pp", r * 100.0);
    Grid {
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
    }
}

/// The tasks that passed more or less often with the current harness than with the baseline.
fn flips(c: &Comparison) -> Option<Grid> {
    let rows = c.tasks.iter().filter(|t| t.current.passed != t.baseline.passed).map(|t| {
        let way = if t.current.passed > t.baseline.passed { "better" } else { "worse" };
        vec![
            t.task.clone(),
            format!("{}/{}", t.baseline.passed, t.baseline.counted),
            format!("{}/{}", t.current.passed, t.current.counted),
            way.to_string(),
        ]
    });
    Grid::unless_empty(vec!["task", "baseline", "current", "flip"], rows.collect())
}

impl Report {
    /// The report's tables: the test split, the paired comparison and its flips, the
    /// iterations, the decisions, the `eval` runs.
    fn grids(&self) -> Vec<Grid> {
        let mut grids = vec![self.headline()];
        if let Some(c) = &self.comparison {
            grids.push(paired(c));
            grids.extend(flips(c));
        }
        grids.extend(self.iterations_grid());
        grids.extend(self.decisions_grid());
        grids.extend(self.evaluations_grid());
        grids
    }

    /// Baseline and current on the test split.
    fn headline(&self) -> Grid {
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
        headline
    }

    /// One row per iteration; none when no loop ran.
    fn iterations_grid(&self) -> Option<Grid> {
        let header = vec![
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
        ];
        let rows = self.iterations.iter().map(|it| {
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
            vec![
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
            ]
        });
        Grid::unless_empty(header, rows.collect())
    }

    /// One row per validation decision.
    fn decisions_grid(&self) -> Option<Grid> {
        let p = |p: Option<f64>| p.map_or("-".into(), |p| format!("{p:.4}"));
        let rows = self.iterations.iter().flat_map(|it| it.decisions.iter().map(move |d| (it.iteration, d))).map(
            |(iteration, d)| {
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
            },
        );
        let header = vec![
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
        ];
        Grid::unless_empty(header, rows.collect())
    }

    /// One row per `eval` run, paired with the first run on the same tasks and seeds.
    fn evaluations_grid(&self) -> Option<Grid> {
        let header = vec![
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
        ];
        let rows = self.evaluations.iter().map(|e| {
            let r = &e.rate;
            let (delta, p) = match &e.comparison {
                Some(c) => (
                    format!("{:+.1} pp ({} better, {} worse)", c.delta * 100.0, c.better, c.worse),
                    format!("{:.4}", c.p_value),
                ),
                None => ("(first)".into(), "-".into()),
            };
            vec![
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
            ]
        });
        Grid::unless_empty(header, rows.collect())
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
