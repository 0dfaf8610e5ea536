//! `self-harness report` from a prepared ledger and `eval` summaries: the numbers, the JSON,
//! the plot, the HTML, Markdown, and the empty-store message.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use self_harness::episodes::{Evaluation, Score, Spend, TaskRow, TaskScore};
use self_harness::evolve::ledger::{append, Entry, Stage};
use self_harness::splits::Split;
use self_harness::stages::validate::{AcceptanceRule, Decision};
use serde_json::{json, Value};

fn score(per_task: &[(&str, u32, u32)]) -> Score {
    let mut score = Score::default();
    for (task, passed, counted) in per_task {
        score.per_task.insert(task.to_string(), TaskScore { passed: *passed, counted: *counted });
        score.passed += passed;
        score.counted += counted;
    }
    score
}

fn spend(tokens: u64) -> Spend {
    Spend { tokens, cost_usd: 0.0, container_seconds: 60.0 }
}

fn evaluation(iteration: u32, version: &str, split: Split, s: Score) -> Entry {
    Entry::Evaluation {
        at: "t".into(),
        iteration,
        harness_version: version.into(),
        split,
        run: format!("loop-{version}"),
        score: s,
        spend: spend(100),
        episodes: vec![],
    }
}

fn decision(iteration: u32, id: &str, candidate: &str, accepted: bool, p: f64, hits: u32) -> Entry {
    Entry::Decision {
        at: "t".into(),
        iteration,
        proposals: vec![id.into()],
        parent_version: "v0".into(),
        candidate_version: candidate.into(),
        policy: AcceptanceRule::default(),
        decision: Decision {
            accepted,
            reason: if accepted { "4 pairs better".into() } else { "no better".into() },
            p_value: Some(p),
            p_adjusted: Some(p),
            family: 1,
            parent: score(&[("a", 0, 2), ("b", 0, 2)]),
            candidate: if accepted { score(&[("a", 2, 2), ("b", 2, 2)]) } else { score(&[("a", 0, 2), ("b", 0, 2)]) },
            improved: if accepted { vec!["a".into(), "b".into()] } else { vec![] },
            regressed: vec![],
        },
        predicted_hits: hits,
        predicted_total: 2,
        stopped_early: !accepted,
        spend: spend(50),
        episodes: vec![],
    }
}

fn ledger(store: &Path) {
    let path = store.join("ledger.jsonl");
    let entries = vec![
        Entry::Start {
            at: "t".into(),
            harness_dir: "h".into(),
            harness_version: "v0".into(),
            model: "m".into(),
            splits: BTreeMap::new(),
            seed: 0,
            repeats: 2,
            policy: AcceptanceRule::default(),
            episode_timeout_secs: None,
        },
        evaluation(0, "v0", Split::Mine, score(&[("m", 0, 2)])),
        Entry::Spent {
            at: "t".into(),
            iteration: 1,
            stage: Stage::Mine,
            spend: Spend { tokens: 30, cost_usd: 0.0, container_seconds: 0.0 },
            weakness: None,
        },
        Entry::Weaknesses {
            at: "t".into(),
            iteration: 1,
            harness_version: "v0".into(),
            ids: vec!["interactive-program".into()],
            titles: vec!["Opens interactive programs".into()],
            detectors: String::new(),
        },
        Entry::Proposal {
            at: "t".into(),
            iteration: 1,
            id: "1-x-1".into(),
            weakness: "interactive-program".into(),
            source: "model".into(),
            file: "system.md".into(),
            changed_lines: 1,
            rationale: "r".into(),
            expected_fixes: vec!["a".into(), "b".into()],
            might_break: vec![],
        },
        Entry::Proposal {
            at: "t".into(),
            iteration: 1,
            id: "1-x-2".into(),
            weakness: "interactive-program".into(),
            source: "model".into(),
            file: "system.md".into(),
            changed_lines: 3,
            rationale: "r".into(),
            expected_fixes: vec![],
            might_break: vec![],
        },
        Entry::Discarded { at: "t".into(), iteration: 1, id: "1-x-3".into(), reason: "near-duplicate of 1-x-1".into() },
        decision(1, "1-x-2", "v2", false, 1.0, 0),
        decision(1, "1-x-1", "v1", true, 0.0625, 2),
        // The baseline ran the mine split; the test split's waited for the first install.
        evaluation(0, "v0", Split::Test, score(&[("t1", 0, 2), ("t2", 1, 2)])),
        Entry::Applied {
            at: "t".into(),
            iteration: 1,
            proposals: vec!["1-x-1".into()],
            harness_version: "v1".into(),
            commit: None,
        },
        Entry::IterationEnd { at: "t".into(), iteration: 1, harness_version: "v1".into() },
        evaluation(1, "v1", Split::Test, score(&[("t1", 2, 2), ("t2", 2, 2)])),
        Entry::Finish { at: "t".into(), harness_version: "v1".into(), reason: "1 iteration(s) done".into() },
    ];
    append(&path, &entries).unwrap();
    // A crash mid-line must not break the report.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .map(|mut f| std::io::Write::write_all(&mut f, b"{\"type\":\"ev"))
        .unwrap()
        .unwrap();
}

#[test]
fn report_numbers_plot_and_html() {
    let dir = tempfile::tempdir().unwrap();
    ledger(dir.path());
    let weakness = serde_json::json!([{"id": "interactive-program", "title": "Opens <interactive> programs",
        "description": "vim", "criticality": "high", "support": "2 of 2 failed traces", "surface": "prompts.system",
        "evidence": [{"trace": "/t/trace.jsonl", "turn": 0, "detail": "vim /app/x"}], "tasks": ["x"]}]);
    std::fs::write(dir.path().join("weaknesses.json"), weakness.to_string()).unwrap();
    let html = dir.path().join("report.html");
    let svg = dir.path().join("plot.svg");
    let output = common::run(
        common::bin()
            .args(["report", "--json", "--store"])
            .arg(dir.path())
            .arg("--html")
            .arg(&html)
            .arg("--svg")
            .arg(&svg),
    );
    assert_eq!(output.status.code(), Some(0));
    let report = common::json(&output);
    assert_eq!(report["baseline"]["passed"], 1);
    assert_eq!(report["baseline"]["counted"], 4);
    assert_eq!(report["current"]["rate"], 1.0);
    assert_eq!(report["current"]["harness_version"], "v1");
    let (lo, hi) = (report["baseline"]["ci95"][0].as_f64().unwrap(), report["baseline"]["ci95"][1].as_f64().unwrap());
    assert!((lo - 0.0456).abs() < 1e-3 && (hi - 0.6994).abs() < 1e-3, "{lo} {hi}");
    assert_eq!((report["predicted_hits"].as_u64(), report["predicted_total"].as_u64()), (Some(2), Some(4)));
    assert_eq!(report["spend"]["tokens"], 3 * 100 + 2 * 50 + 30, "episodes, and the model reading traces");
    let start = &report["iterations"][0];
    assert_eq!(
        (start["validate_parent"].as_f64(), start["validate_pairs"].as_u64()),
        (Some(0.0), Some(4)),
        "the starting harness on the validate split: iteration 1's parent sample"
    );
    let it = &report["iterations"][1];
    assert_eq!(
        (it["iteration"].as_u64(), it["proposals"].as_u64(), it["accepted"].as_u64(), it["rejected"].as_u64()),
        (Some(1), Some(2), Some(1), Some(1))
    );
    assert_eq!(it["discarded"].as_array().unwrap().len(), 1);
    assert_eq!(it["validate_parent"], 0.0);
    assert_eq!(it["validate_after"], 1.0);
    assert_eq!(it["decisions"][1]["changed_lines"], 1);
    let tasks = |d: &Value| (d["tasks"].clone(), d["improved"].clone(), d["regressed"].clone());
    assert_eq!(tasks(&it["decisions"][1]), (json!(2), json!(["a", "b"]), json!([])), "the accepted one");
    assert_eq!(it["validate_pairs"], 4, "both rates over the pairs the applied decision compared");
    // Baseline and current on the test split, paired by task: t1 0/2 → 2/2, t2 1/2 → 2/2.
    let c = &report["comparison"];
    assert_eq!((c["better"].as_u64(), c["worse"].as_u64(), c["tied"].as_u64()), (Some(2), Some(0), Some(0)));
    assert!((c["delta"].as_f64().unwrap() - 0.75).abs() < 1e-12, "{c}");
    assert_eq!(c["p_value"], 0.25, "differences 2 and 1: only both positive reach 3");
    let (lo, hi) = (c["ci95"][0].as_f64().unwrap(), c["ci95"][1].as_f64().unwrap());
    assert!((lo, hi) == (0.5, 1.0), "resampling two tasks: {lo} {hi}");
    assert_eq!(report["repeats_disagreed"], json!([1, 5]), "of five task evaluations, only t2 at baseline (1/2)");
    assert_eq!(report["sources"], json!({"model": {"proposed": 2, "accepted": 1}}));

    let svg = std::fs::read_to_string(&svg).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert_eq!(svg.matches("class=\"validate\"").count(), 2, "a point per iteration");
    assert_eq!(svg.matches("class=\"test\"").count(), 2, "baseline and current");
    let html = std::fs::read_to_string(&html).unwrap();
    assert!(html.contains("<svg") && html.contains("1-x-1 accepted") && html.contains("near-duplicate"));
    assert!(html.contains("<section id=\"weakness-interactive-program\"><h3>Opens &lt;interactive&gt; programs"));
    assert!(html.contains("/t/trace.jsonl turn 0: vim /app/x"), "evidence listed");
    assert!(
        html.contains("<h4>Evidence</h4><ul><li>") && !html.contains("Must keep passing"),
        "apart from keep-passing"
    );
    assert!(!html.contains("<pre>"), "tables are HTML tables");
    assert!(
        html.contains("<th>paired by task</th>") && html.contains("<td>t1</td><td>0/2</td><td>2/2</td><td>better</td>")
    );
    // Every decision with the validate tasks it compared, better, worse, tied and both p-values.
    assert!(html.contains("<th>validate tasks compared</th><th>better</th><th>worse</th><th>tied</th>"), "{html}");
    let accepted =
        "<td>1-x-1</td><td>accepted</td><td>2</td><td>2</td><td>0</td><td>0</td><td>0.0625</td><td>0.0625</td>";
    let rejected =
        "<td>1-x-2</td><td>rejected (stopped early)</td><td>2</td><td>0</td><td>0</td><td>2</td><td>1.0000</td>";
    assert!(html.contains(accepted) && html.contains(rejected), "{html}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("cut off"));
    assert_eq!(report["finished"], "1 iteration(s) done");

    let text = common::run(common::bin().args(["report", "--store"]).arg(dir.path()));
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("25.0%") && text.contains("100.0%") && text.contains("predicted flips that came true: 2/4"),
        "{text}"
    );
    assert!(text.contains("finished: 1 iteration(s) done"), "{text}");

    // Asked for more iterations, the loop goes on after its Finish: it is running again.
    let resumed = Entry::Spent {
        at: "t".into(),
        iteration: 2,
        stage: Stage::Mine,
        spend: Spend { tokens: 5, cost_usd: 0.0, container_seconds: 0.0 },
        weakness: None,
    };
    append(&dir.path().join("ledger.jsonl"), &[resumed]).unwrap();
    let output = common::run(common::bin().args(["report", "--json", "--store"]).arg(dir.path()));
    assert_eq!(common::json(&output)["finished"], Value::Null);
    let text = common::run(common::bin().args(["report", "--store"]).arg(dir.path()));
    assert!(!String::from_utf8_lossy(&text.stdout).contains("finished:"));
}

#[test]
fn no_ledger_is_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let output = common::run(common::bin().args(["report", "--store"]).arg(dir.path()));
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("run `self-harness loop` or `eval`"));
}

/// An `eval` summary of `harness` whose tasks passed as given (of 3 trials each, seeded from `seed`).
fn eval_run(store: &Path, run: &str, harness: &str, seed: u64, passes: &[(&str, u32)]) {
    let tasks: Vec<TaskRow> = passes
        .iter()
        .map(|(task, passed)| TaskRow {
            task: task.to_string(),
            passed: *passed,
            counted: 3,
            errors: 0,
            tokens: 100,
            seconds: 30.0,
            traces: Vec::new(),
        })
        .collect();
    let passed: u64 = passes.iter().map(|(_, p)| u64::from(*p)).sum();
    let evaluation = Evaluation {
        run: run.into(),
        harness: harness.into(),
        harness_version: format!("{harness}-v"),
        model: "m".into(),
        temperature: 0.7,
        split: Some("test".into()),
        seed,
        repeats: 3,
        pass_rate: passed as f64 / (3 * passes.len()) as f64,
        ci95: (0.0, 1.0),
        passed,
        counted: 3 * passes.len() as u64,
        infrastructure_errors: 0,
        tokens: 100 * passes.len() as u64,
        cost_usd: 0.0,
        wall_seconds: 120.0,
        reused: 0,
        tasks,
    };
    let path = store.join("runs").join(run).join("run.json");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, serde_json::to_string(&evaluation).unwrap()).unwrap();
}

#[test]
fn evaluations_in_the_store_are_compared_task_by_task_with_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let tasks = ["a", "b", "c", "d", "e", "f"];
    eval_run(dir.path(), "1-minimal", "minimal", 0, &tasks.map(|t| (t, 1)));
    eval_run(dir.path(), "2-reference", "reference", 0, &tasks.map(|t| (t, if t == "a" { 0 } else { 3 })));
    eval_run(dir.path(), "3-other", "other", 0, &[("a", 3)]);
    // Other seeds are other episodes: nothing to pair with, so compared with nothing.
    eval_run(dir.path(), "4-minimal", "minimal", 3, &tasks.map(|t| (t, 2)));
    std::fs::write(dir.path().join("runs/3-other/run.json"), "{\"run\": 1").unwrap();
    let markdown = dir.path().join("evidence.md");
    let output = common::run(
        common::bin().args(["report", "--json", "--store"]).arg(dir.path()).arg("--markdown").arg(&markdown),
    );
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("3-other/run.json"), "the unreadable one is named");
    let report = common::json(&output);
    let rows = report["evaluations"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    let references: Vec<_> = rows.iter().map(|r| r["reference"].clone()).collect();
    assert_eq!(references, [json!(null), json!("1-minimal"), json!(null)]);
    assert_eq!((rows[0]["seed"].as_u64(), rows[2]["seed"].as_u64()), (Some(0), Some(3)));
    let paired = &rows[1]["comparison"];
    assert_eq!((paired["better"].as_u64(), paired["worse"].as_u64()), (Some(5), Some(1)));
    // Differences +2 on five tasks and -1 on one, sum 9: of the 64 sign patterns of (1, 2, 2,
    // 2, 2, 2) only all-plus (11) and the observed one (9) reach 9.
    assert!((paired["p_value"].as_f64().unwrap() - 2.0 / 64.0).abs() < 1e-12, "{paired}");
    let text = std::fs::read_to_string(&markdown).unwrap();
    assert!(text.contains("| eval run | harness |"), "{text}");
    assert!(text.contains("| 2-reference | reference reference-v | 6 × 3 (test) | 0.7 |"), "{text}");
    assert!(text.contains("| 4-minimal | minimal minimal-v | 6 × 3 (test, seeds 3–5) | 0.7 |"), "{text}");
}
