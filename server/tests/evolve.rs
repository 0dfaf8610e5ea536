//! The self-improvement loop end to end with real containers and a model whose weakness is
//! known: it always opens `vim` to write a file, unless its system prompt tells it not to.
//! The loop must find that weakness, accept a proposal that addresses it, and the test
//! split's pass rate must rise — asserted on the ledger, not on log text. Killed with
//! SIGKILL midway and restarted, it must finish with a consistent ledger.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use self_harness::evolve::ledger::{self, Entry, Stage};
use self_harness::splits::Split;
use serde_json::{json, Value};
use support::ledger::{assert_consistent, entries};
use support::vim_project::{vim_model, workspace, FIX};
use support::ScriptedModel;

fn loop_command(cwd: &Path, base_url: &str, tasks: &Path, harness: &Path) -> std::process::Command {
    loop_command_with(cwd, base_url, tasks, harness, &["--iterations", "1"])
}

fn loop_command_with(
    cwd: &Path,
    base_url: &str,
    tasks: &Path,
    harness: &Path,
    extra: &[&str],
) -> std::process::Command {
    let mut command = common::bin();
    command
        .current_dir(cwd)
        .env("OPENAI_BASE_URL", base_url)
        .env("OPENAI_MODEL", "vim-lover")
        .args(["loop", "--auto-apply", "--repeats", "2", "--seed", "3"])
        .args(extra)
        .arg("--harness")
        .arg(harness)
        .arg("--tasks")
        .arg(tasks);
    command
}

/// Runs the loop to its end in `cwd` (off the async runtime) and checks it succeeded.
async fn run_loop(cwd: &Path, base_url: &str, tasks: &Path, harness: &Path, extra: &[&str]) {
    let (cwd, base_url, tasks, harness) =
        (cwd.to_path_buf(), base_url.to_string(), tasks.to_path_buf(), harness.to_path_buf());
    let extra: Vec<String> = extra.iter().map(|a| a.to_string()).collect();
    let output = tokio::task::spawn_blocking(move || {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        common::run(&mut loop_command_with(&cwd, &base_url, &tasks, &harness, &extra))
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stdout));
    // Each episode's line says how far the run is: `[3/≤24, ≤1m 5s left]`.
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines().filter(|l| l.contains(" turns) ")) {
        assert!(line.contains("/≤") && line.ends_with(']'), "no progress on: {line}");
    }
}

/// Runs git in `repo`; its standard output.
fn git(repo: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git").arg("-C").arg(repo).args(args).output().unwrap();
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Cuts the ledger after its first entry that `last` matches, as a crash there would have.
fn cut_ledger_after(cwd: &Path, last: impl Fn(&Entry) -> bool) -> Vec<Entry> {
    let mut kept = entries(cwd);
    let at = kept.iter().position(last).expect("the entry to cut after");
    kept.truncate(at + 1);
    let path = cwd.join(".self-harness/ledger.jsonl");
    std::fs::remove_file(&path).unwrap();
    ledger::append(&path, &kept).unwrap();
    kept
}

fn test_rate(entries: &[Entry], version: &str) -> (u32, u32) {
    entries
        .iter()
        .find_map(|e| match e {
            Entry::Evaluation { harness_version, split: Split::Test, score, .. } if harness_version == version => {
                Some((score.passed, score.counted))
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no test evaluation of {version}"))
}

#[tokio::test]
async fn the_loop_finds_the_vim_weakness_and_fixes_it() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    // A person's work in the same repository, staged and not: not the loop's to commit.
    let repo = harness.parent().unwrap();
    std::fs::write(repo.join("staged.txt"), "mine\n").unwrap();
    git(repo, &["add", "staged.txt"]);
    std::fs::write(repo.join("untracked.txt"), "mine too\n").unwrap();
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "1"]).await;

    let entries = entries(&cwd);
    assert_consistent(&entries);
    assert_eq!(git(repo, &["show", "--name-only", "--format=", "HEAD"]), "harness/system.md\n", "only harness files");
    assert_eq!(git(repo, &["diff", "--cached", "--name-only"]), "staged.txt\n", "still staged, not committed");
    let Some(Entry::Start { harness_version: first, .. }) = entries.first() else { panic!("no start") };
    let weaknesses = entries
        .iter()
        .find_map(|e| if let Entry::Weaknesses { ids, .. } = e { Some(ids.clone()) } else { None })
        .expect("weaknesses mined");
    assert!(weaknesses.iter().any(|id| id == "interactive-program"), "{weaknesses:?}");
    assert!(weaknesses.iter().any(|id| id == "model-interactive-program"), "the model reading agrees: {weaknesses:?}");
    let accepted: Vec<&Entry> =
        entries.iter().filter(|e| matches!(e, Entry::Decision { decision, .. } if decision.accepted)).collect();
    assert_eq!(accepted.len(), 1, "{entries:#?}");
    let Some(Entry::Applied { harness_version: last, commit, .. }) =
        entries.iter().find(|e| matches!(e, Entry::Applied { .. }))
    else {
        panic!("nothing applied")
    };
    assert!(commit.is_some(), "the harness is in a git repository, so the edit is a commit");
    assert!(std::fs::read_to_string(harness.join("system.md")).unwrap().contains(FIX));

    let (before, counted) = test_rate(&entries, first);
    let (after, counted_after) = test_rate(&entries, last);
    assert_eq!((before, after), (0, counted_after), "test split: {before}/{counted} → {after}/{counted_after}");
    assert!(counted_after > 0);

    // What the model cost outside episodes is in the ledger too, per stage.
    for stage in [Stage::Mine, Stage::Propose] {
        let spent = entries.iter().find_map(|e| match e {
            Entry::Spent { stage: s, spend, .. } if *s == stage => Some(spend.tokens),
            _ => None,
        });
        assert!(spent.is_some_and(|t| t > 0), "{stage:?} tokens recorded: {spent:?}");
    }

    // Budgets hold across runs: a second iteration with a token budget the first run has
    // already spent stops at once, in a new process that has spent nothing itself.
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "2", "--budget-tokens", "1"]).await;
    let after = self::entries(&cwd);
    assert!(
        matches!(after.last(), Some(Entry::Finish { reason, .. }) if reason.starts_with("token budget spent")),
        "{:?}",
        after.last()
    );
    assert!(!after.iter().any(|e| e.iteration() == Some(2)), "nothing of iteration 2 ran");

    // The ledger resumes only with the settings that made it: another model is refused, with
    // what differs, before anything runs.
    let mut other = loop_command_with(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "2"]);
    other.env("OPENAI_MODEL", "another-model");
    let output = tokio::task::spawn_blocking(move || common::run(&mut other)).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("other settings") && stderr.contains("model vim-lover (now another-model)"), "{stderr}");
    assert_eq!(self::entries(&cwd), after, "nothing was recorded");

    let log = std::process::Command::new("git")
        .arg("-C")
        .arg(&harness)
        .args(["log", "--format=%s%n%b", "-1"])
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&log.stdout);
    assert!(log.contains("self-harness:") && log.to_lowercase().contains("interactive"), "{log}");
}

#[tokio::test]
async fn a_sigkilled_loop_resumes_to_a_consistent_ledger() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();

    // Kill it once the baseline has started recording, then run the same command again.
    let mut child = loop_command(&cwd, model.base_url(), &tasks, &harness)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while !entries(&cwd).iter().any(|e| matches!(e, Entry::Evaluation { .. })) {
        assert!(Instant::now() < deadline, "the loop never recorded an evaluation");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    child.kill().unwrap();
    child.wait().unwrap();
    let partial = entries(&cwd);
    assert!(!matches!(partial.last(), Some(Entry::Finish { .. })), "killed before the end");
    // As if the kill had also cut a line in half: the resumed loop must not glue onto it.
    let ledger = cwd.join(".self-harness/ledger.jsonl");
    let mut file = std::fs::OpenOptions::new().append(true).open(&ledger).unwrap();
    std::io::Write::write_all(&mut file, b"{\"type\":\"decision\",\"at\":\"20").unwrap();

    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "1"]).await;
    let aside = std::fs::read_to_string(cwd.join(".self-harness/ledger.jsonl.torn")).unwrap();
    assert_eq!(aside, "{\"type\":\"decision\",\"at\":\"20\n", "the torn line is moved aside, not lost");
    let entries = entries(&cwd);
    assert_consistent(&entries);
    assert!(entries.iter().any(|e| matches!(e, Entry::Applied { .. })));

    // Every finished episode trace is complete, and none was run twice for the same key.
    let runs = cwd.join(".self-harness/runs");
    let traces: Vec<PathBuf> = walkdir::WalkDir::new(&runs)
        .into_iter()
        .filter_map(|e| e.ok())
        .map(|e| e.into_path())
        .filter(|p| p.file_name().is_some_and(|n| n == "trace.jsonl"))
        .collect();
    for trace in &traces {
        assert!(self_harness::trace::read(trace).unwrap().outcome.is_some(), "{}", trace.display());
    }
    assert!(!traces.is_empty());
}

#[tokio::test]
async fn mine_propose_and_validate_step_by_step() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let manifest = std::fs::read_to_string(harness.join("harness.toml")).unwrap();
    let line = manifest.lines().position(|l| l.trim_start().starts_with("system =")).unwrap() + 1;
    let cli = |args: Vec<String>| {
        let (cwd, base) = (cwd.clone(), model.base_url().to_string());
        tokio::task::spawn_blocking(move || {
            common::run(common::bin().current_dir(&cwd).env("OPENAI_BASE_URL", &base).args(&args))
        })
    };
    let path = |p: &Path| p.to_string_lossy().into_owned();
    let mine = ["mine", "--repeats", "1", "--harness", &path(&harness), "--tasks", &path(&tasks)];
    let output = cli(mine.iter().map(|a| a.to_string()).collect()).await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.contains("interactive-program") && table.contains("5 of 5 failed traces"), "{table}");
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join(".self-harness/weaknesses.json")).unwrap()).unwrap();
    let first = &written[0];
    assert_eq!(first["id"], "interactive-program", "the detector's finding ranks first: {written:#}");
    assert!(first["evidence"][0]["detail"].as_str().unwrap().contains("vim /app/greeting.txt"), "{first}");
    // It concerns the system prompt: located on the manifest line that names it.
    assert_eq!(first["location"], serde_json::json!({"file": "harness.toml", "line": line}), "{first}");
    assert_eq!(first["counts"]["failed_with"], 5);
    assert!(!cwd.join(".self-harness/ledger.jsonl").exists(), "mining alone records no decision");

    // propose: the model's fix for the weakness becomes a standing proposal with its diff.
    let propose = |proposer: &str| {
        cli(vec![
            "propose".into(),
            "--json".into(),
            "--harness".into(),
            path(&harness),
            "--weakness".into(),
            "interactive-program".into(),
            "--proposer".into(),
            proposer.into(),
        ])
    };
    let output = propose("model").await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    let printed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let proposal = &printed["proposals"][0];
    assert_eq!(proposal["weakness"], "interactive-program");
    assert!(proposal["diff"].as_str().unwrap().contains(&format!("+{FIX}")), "{proposal}");
    let stored: Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join(".self-harness/proposals.json")).unwrap()).unwrap();
    assert_eq!(stored, printed["proposals"], "what is printed is what is kept");
    let id = proposal["id"].as_str().unwrap().to_string();

    // validate: the candidate runs the validate split's pairs and wins every one of them —
    // against the harness as it was proposed for, even after a person applied the edit.
    let system = harness.join("system.md");
    let original = std::fs::read_to_string(&system).unwrap();
    std::fs::write(&system, format!("{original}\n{FIX}\n")).unwrap();
    let validate = |id: &str| {
        cli(vec![
            "validate".into(),
            "--json".into(),
            "--proposal".into(),
            id.into(),
            "--tasks".into(),
            path(&tasks),
            "--repeats".into(),
            "2".into(),
        ])
    };
    let output = validate(&id).await.unwrap();
    assert_eq!(output.status.code(), Some(0), "accepted: {}", String::from_utf8_lossy(&output.stdout));
    let decision = common::finished(&output)["validation"].clone();
    assert_eq!((decision["accepted"].as_bool(), decision["proposal"].as_str()), (Some(true), Some(id.as_str())));
    assert_eq!((&decision["parent"]["passed"], &decision["candidate"]["passed"]), (&json!(0), &json!(10)));
    assert!(decision["p_value"].as_f64().unwrap() <= 0.05, "{decision}");
    std::fs::write(&system, original).unwrap();

    // An ablation of the same size does not address the weakness: rejected (exit 1),
    // stopped as soon as acceptance was out of reach.
    let output = propose("generic").await.unwrap();
    assert_eq!(output.status.code(), Some(0));
    let generic: Value = serde_json::from_slice(&output.stdout).unwrap();
    let generic_id = generic["proposals"][0]["id"].as_str().unwrap().to_string();
    let output = validate(&generic_id).await.unwrap();
    assert_eq!(output.status.code(), Some(1), "rejected: {}", String::from_utf8_lossy(&output.stdout));
    let decision = common::finished(&output)["validation"].clone();
    assert_eq!(decision["accepted"], false);
    assert_eq!(decision["stopped_early"], true, "{decision}");

    let (records, _): (Vec<Value>, bool) =
        self_harness::util::read_json_lines(&cwd.join(".self-harness/validations.jsonl")).unwrap();
    assert_eq!(records.len(), 2, "one line per decision");

    // eval --split test: exactly the held-out tasks of the split the others used.
    let output = cli(["eval", "--json", "--split", "test", "--harness", &path(&harness), "--tasks", &path(&tasks)]
        .iter()
        .map(|a| a.to_string())
        .collect())
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let summary = common::finished(&output)["evaluation"].clone();
    assert_eq!(summary["passed"], 0, "the vim model fails them");
    let splits: Value =
        serde_json::from_str(&std::fs::read_to_string(cwd.join(".self-harness/splits.json")).unwrap()).unwrap();
    let ran: Vec<&Value> = summary["tasks"].as_array().unwrap().iter().map(|t| &t["task"]).collect();
    let test_split: Vec<&Value> = splits["sets"]["test"].as_array().unwrap().iter().collect();
    assert_eq!(ran, test_split);
}

/// `loop --json` is JSON Lines as it runs: the plan, each step, each episode with where the
/// run stands, and the end; nothing else on stdout.
#[tokio::test]
async fn the_loop_reports_json_lines_as_it_runs() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let (base_url, tasks_dir, harness_dir, dir) =
        (model.base_url().to_string(), tasks.clone(), harness.clone(), cwd.clone());
    let output = tokio::task::spawn_blocking(move || {
        let extra = ["--iterations", "1", "--proposer", "none", "--json"];
        common::run(&mut loop_command_with(&dir, &base_url, &tasks_dir, &harness_dir, &extra))
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    let kinds: Vec<&str> = events.iter().map(|e| e["event"].as_str().unwrap()).collect();
    assert_eq!(kinds.first(), Some(&"plan"), "{kinds:?}");
    assert_eq!(kinds.last(), Some(&"finished"), "{kinds:?}");
    assert!(kinds.contains(&"say"), "{kinds:?}");
    let episodes: Vec<&serde_json::Value> = events.iter().filter(|e| e["event"] == "episode").collect();
    assert!(!episodes.is_empty());
    let planned = events[0]["plan"]["episodes"].as_u64().unwrap();
    for (i, e) in episodes.iter().enumerate() {
        assert_eq!(e["progress"]["done"].as_u64(), Some(i as u64 + 1), "{e}");
        assert_eq!(e["progress"]["planned"].as_u64(), Some(planned), "{e}");
        assert!(e["task"].is_string() && e["passed"].is_boolean(), "{e}");
    }
    assert!(episodes.last().unwrap()["progress"]["left_s"].is_number(), "paced once episodes ran");
}

#[tokio::test]
async fn an_unchanged_harness_is_not_mined_twice() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    // No proposer: nothing is accepted, so iteration 2 starts from the same harness.
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "2", "--proposer", "none"]).await;
    let entries = entries(&cwd);
    assert_consistent(&entries);
    let mined: Vec<(u32, &Vec<String>)> = entries
        .iter()
        .filter_map(|e| if let Entry::Weaknesses { iteration, ids, .. } = e { Some((*iteration, ids)) } else { None })
        .collect();
    assert_eq!(mined.len(), 2, "{mined:?}");
    assert_eq!(mined[0].1, mined[1].1, "the same weaknesses");
    let readings: Vec<u32> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Spent { stage: Stage::Mine, iteration, .. } => Some(*iteration),
            _ => None,
        })
        .collect();
    assert_eq!(readings, [1], "the model read the traces once");
    // Nothing was accepted, so iteration 2 moves down the list: it addresses the weaknesses
    // iteration 1 did not (the vim model's traces show more than the two addressed each time).
    let rounds = |i: u32| -> Vec<&String> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Spent { stage: Stage::Propose, iteration, weakness: Some(w), .. } if *iteration == i => Some(w),
                _ => None,
            })
            .collect()
    };
    let (first, second) = (rounds(1), rounds(2));
    assert!(mined[0].1.len() > first.len(), "more weaknesses than addressed: {mined:?}");
    assert_eq!(first.len(), 2, "{first:?}");
    assert!(second.iter().all(|w| !first.contains(w)), "{first:?} then {second:?} of {:?}", mined[0].1);

    // The loop reads where it stands from its ledger: run again, a finished loop does
    // nothing; asked for one iteration more, it goes on after its last.
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "2", "--proposer", "none"]).await;
    assert_eq!(support::ledger::entries(&cwd), entries, "a finished loop appends nothing");
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "3", "--proposer", "none"]).await;
    let more = support::ledger::entries(&cwd);
    assert_eq!(&more[..entries.len()], &entries[..], "nothing before it is changed");
    let ended: Vec<u32> = more
        .iter()
        .filter_map(|e| if let Entry::IterationEnd { iteration, .. } = e { Some(*iteration) } else { None })
        .collect();
    assert_eq!(ended, [1, 2, 3]);
    assert!(matches!(more.last(), Some(Entry::Finish { .. })), "{:?}", more.last());
}

/// The vim model, except that it always proposes the same edit, which does not help.
async fn proposing_the_same_useless_edit() -> ScriptedModel {
    ScriptedModel::responding(|request| {
        if request["response_format"]["json_schema"]["name"] == "proposals" {
            return support::Reply::json(&json!({
                "proposals": [{"file": "system.md", "search": "", "replace": "Think about the task before you act.",
                               "rationale": "r", "expected_fixes": [], "might_break": []}],
                "decline": null
            }));
        }
        vim_model(request)
    })
    .await
}

/// Why the first proposal discarded in `iteration` was.
fn discarded_in(entries: &[Entry], iteration: u32) -> Option<&str> {
    entries.iter().find_map(|e| match e {
        Entry::Discarded { iteration: i, reason, .. } if *i == iteration => Some(reason.as_str()),
        _ => None,
    })
}

#[tokio::test]
async fn a_candidate_already_rejected_is_not_validated_again() {
    if !common::docker_available() {
        return;
    }
    let model = proposing_the_same_useless_edit().await;
    let (_root, tasks, harness, cwd) = workspace();
    // Unscreened, so that the edit is validated (screening would leave it out: see below).
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "2", "--finalists", "0"]).await;
    let entries = entries(&cwd);
    assert_consistent(&entries);
    let decisions: Vec<u32> = entries
        .iter()
        .filter_map(|e| if let Entry::Decision { iteration, .. } = e { Some(*iteration) } else { None })
        .collect();
    assert_eq!(decisions, [1], "validated once");
    let again = discarded_in(&entries, 2);
    assert_eq!(again, Some("the same harness as a candidate rejected in iteration 1"));
}

#[tokio::test]
async fn a_candidate_already_screened_out_is_not_screened_again() {
    if !common::docker_available() {
        return;
    }
    // Iteration 1 screens the useless edit out; iteration 2, from the same parent, discards
    // it unrun.
    let model = proposing_the_same_useless_edit().await;
    let (_root, tasks, harness, cwd) = workspace();
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "2", "--weaknesses", "1"]).await;
    let entries = entries(&cwd);
    assert_consistent(&entries);
    let screened: Vec<u32> = entries
        .iter()
        .filter_map(|e| if let Entry::Screening { iteration, .. } = e { Some(*iteration) } else { None })
        .collect();
    assert_eq!(screened, [1], "screened once: {entries:#?}");
    assert!(!entries.iter().any(|e| matches!(e, Entry::Decision { .. })), "nothing validated");
    let again = discarded_in(&entries, 2);
    let again = again.unwrap_or_else(|| panic!("iteration 2 discards it: {entries:#?}"));
    assert!(
        again.starts_with("the same harness as a candidate screened in iteration 1 and not validated (0 → 0 of "),
        "{again}"
    );
    // The discarded copy is not kept; the screened one is.
    let candidates: Vec<String> = std::fs::read_dir(cwd.join(".self-harness/candidates"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(candidates.iter().any(|c| c.starts_with("1-")), "{candidates:?}");
    assert!(!candidates.iter().any(|c| c.starts_with("2-")), "{candidates:?}");
}

#[tokio::test]
async fn a_candidate_that_gains_nothing_on_the_mine_split_is_not_validated() {
    if !common::docker_available() {
        return;
    }
    // The vim model, proposing an edit that does not help, and the fix: screening runs both
    // on the mine split, and only the fix, which gains there, is validated.
    let model = ScriptedModel::responding(|request| {
        if request["response_format"]["json_schema"]["name"] == "proposals" {
            return support::Reply::json(&json!({
                "proposals": [
                    {"file": "system.md", "search": "", "replace": "Think about the task before you act.",
                     "rationale": "r", "expected_fixes": [], "might_break": []},
                    {"file": "system.md", "search": "", "replace": FIX,
                     "rationale": "no vim", "expected_fixes": [], "might_break": []}
                ],
                "decline": null
            }));
        }
        vim_model(request)
    })
    .await;
    let (_root, tasks, harness, cwd) = workspace();
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "1", "--weaknesses", "1"]).await;
    let entries = entries(&cwd);
    assert_consistent(&entries);
    let proposals: Vec<&str> = entries
        .iter()
        .filter_map(|e| if let Entry::Proposal { id, .. } = e { Some(id.as_str()) } else { None })
        .collect();
    assert_eq!(proposals.len(), 2, "{entries:#?}");
    let gains: Vec<(String, i64)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Screening { proposal, .. } => Some((proposal.clone(), e.gain().unwrap())),
            _ => None,
        })
        .collect();
    assert_eq!(gains.len(), 2, "both screened: {gains:?}");
    assert_eq!(gains[0], (proposals[0].to_string(), 0), "the advice gains nothing: {gains:?}");
    assert!(gains[1].1 > 0, "the fix gains on the mine split: {gains:?}");
    let decisions: Vec<(Vec<String>, u32, bool)> = entries
        .iter()
        .filter_map(|e| match e {
            Entry::Decision { proposals, decision, .. } => {
                Some((proposals.clone(), decision.family, decision.accepted))
            }
            _ => None,
        })
        .collect();
    assert_eq!(decisions, [(vec![proposals[1].to_string()], 1, true)], "only the fix, judged as a family of one");
    // The report says what screening did.
    let markdown = cwd.join("report.md");
    let output = common::run(common::bin().current_dir(&cwd).arg("report").arg("--markdown").arg(&markdown));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let report = std::fs::read_to_string(&markdown).unwrap();
    assert!(report.contains(&format!("{} screened on the mine split: 0 → 0 of", proposals[0])), "{report}");
    assert!(report.contains("(+") && report.contains(", validated"), "{report}");
}

#[tokio::test]
async fn screening_halves_the_candidates_in_rounds_and_resumes_from_its_records() {
    if !common::docker_available() {
        return;
    }
    // Three edits that do not help and the fix, screened in rounds of at least one task: all
    // four on the first 3 of the 5 mine tasks, the better two on all five.
    let model = ScriptedModel::responding(|request| {
        if request["response_format"]["json_schema"]["name"] == "proposals" {
            let advice = |text: &str| {
                json!({"file": "system.md", "search": "", "replace": text, "rationale": "r",
                       "expected_fixes": [], "might_break": []})
            };
            return support::Reply::json(&json!({
                "proposals": [
                    advice("Think about the task before you act."),
                    advice("Prefer one short command per turn over long pipelines."),
                    advice("When a listing is long, count its lines with wc -l first."),
                    {"file": "system.md", "search": "", "replace": FIX,
                     "rationale": "no vim", "expected_fixes": [], "might_break": []}
                ],
                "decline": null
            }));
        }
        vim_model(request)
    })
    .await;
    let (_root, tasks, harness, cwd) = workspace();
    let args = ["--iterations", "1", "--weaknesses", "1", "--candidates", "4", "--screen-round", "1"];
    run_loop(&cwd, model.base_url(), &tasks, &harness, &args).await;
    let screenings = |entries: &[Entry]| -> Vec<(String, Option<u32>, i64)> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Screening { proposal, tasks, .. } => Some((proposal.clone(), *tasks, e.gain().unwrap())),
                _ => None,
            })
            .collect()
    };
    let first = entries(&cwd);
    assert_consistent(&first);
    let screened = screenings(&first);
    assert_eq!(screened.len(), 4, "every candidate screened once: {screened:?}");
    let out: Vec<_> = screened.iter().filter(|(_, tasks, _)| *tasks == Some(3)).collect();
    assert_eq!(out.len(), 2, "two out after the first round's 3 tasks: {screened:?}");
    assert!(out.iter().all(|(_, _, gain)| *gain == 0), "{screened:?}");
    let fix = screened.iter().find(|(_, _, gain)| *gain > 0).expect("the fix gains");
    assert_eq!((fix.1, fix.2), (None, 10), "the fix ran on the whole split, two seeds a task: {screened:?}");
    let decisions: Vec<(Vec<String>, bool)> = first
        .iter()
        .filter_map(|e| match e {
            Entry::Decision { proposals, decision, .. } => Some((proposals.clone(), decision.accepted)),
            _ => None,
        })
        .collect();
    assert_eq!(decisions, [(vec![fix.0.clone()], true)], "only the fix is validated");
    // 4 × 3 + 2 × 2 candidate tasks of the mine split, two episodes each, not 4 × 5.
    let report = common::run(common::bin().current_dir(&cwd).args(["report", "--json"]));
    let report: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    let counted: u64 = report["iterations"][1]["screenings"]
        .as_array()
        .unwrap_or_else(|| panic!("{report}"))
        .iter()
        .map(|s| s["counted"].as_u64().unwrap())
        .sum();
    assert_eq!(counted, (4 * 3 + 2 * 2) * 2, "{report}");

    // A crash after the first record: the same command replays the rounds from the records
    // and the stored episodes and records the other three, the same.
    let kept = cut_ledger_after(&cwd, |e| matches!(e, Entry::Screening { .. }));
    git(harness.parent().unwrap(), &["reset", "-q", "--hard", "HEAD~1"]);
    run_loop(&cwd, model.base_url(), &tasks, &harness, &args).await;
    let again = entries(&cwd);
    assert_consistent(&again);
    let mut resumed = screenings(&again);
    let mut before = screened.clone();
    resumed.sort();
    before.sort();
    assert_eq!(resumed, before, "the same screenings, each once");
    assert!(again.len() > kept.len());
}

#[tokio::test]
async fn a_candidate_that_overflows_the_context_loses_its_pairs() {
    if !common::docker_available() {
        return;
    }
    // The vim model, told not to open vim, still does so on every other episode (odd
    // seeds), so the parent passes half of each task; and a system prompt asking for
    // everything at once overflows its context.
    const GREEDY: &str = "Before each command, repeat the whole conversation so far.";
    let model = ScriptedModel::responding(|request| {
        let system = request["messages"][0]["content"].as_str().unwrap_or_default();
        let odd_episode = request["seed"].as_u64().unwrap_or_default() / 1000 % 2 == 1;
        if request["response_format"]["json_schema"]["name"] == "action" {
            if system.contains(GREEDY) {
                return support::Reply::error(
                    400,
                    "This model's maximum context length is 8192 tokens (context_length_exceeded)",
                );
            }
            if odd_episode {
                return support::Reply::json(
                    &json!({"thought": "edit", "command": "vim /app/greeting.txt", "done": true}),
                );
            }
        }
        vim_model(request)
    })
    .await;
    let (_root, tasks, harness, cwd) = workspace();
    let system = harness.join("system.md");
    std::fs::write(&system, format!("{}\n{FIX}\n", std::fs::read_to_string(&system).unwrap())).unwrap();
    let candidate = cwd.join("greedy");
    self_harness::util::copy_dir(&harness, &candidate).unwrap();
    let text = std::fs::read_to_string(candidate.join("system.md")).unwrap();
    std::fs::write(candidate.join("system.md"), format!("{text}{GREEDY}\n")).unwrap();
    let (cwd_, base, tasks_, harness_, candidate_) =
        (cwd.clone(), model.base_url().to_string(), tasks.clone(), harness.clone(), candidate.clone());
    let output = tokio::task::spawn_blocking(move || {
        common::run(
            common::bin()
                .current_dir(&cwd_)
                .env("OPENAI_BASE_URL", &base)
                .args(["validate", "--json", "--repeats", "2", "--candidate"])
                .arg(&candidate_)
                .arg("--parent")
                .arg(&harness_)
                .arg("--tasks")
                .arg(&tasks_),
        )
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(1), "rejected: {}", String::from_utf8_lossy(&output.stderr));
    let decision = common::finished(&output)["validation"].clone();
    // The overflow is the candidate's failure: its pairs are counted, as losses, not left
    // out and re-run as if the infrastructure had failed.
    let (parent, candidate) = (&decision["parent"], &decision["candidate"]);
    assert!(candidate["counted"].as_u64() > Some(0), "{decision}");
    assert_eq!((candidate["counted"].clone(), candidate["passed"].clone()), (parent["counted"].clone(), json!(0)));
    assert!(parent["passed"].as_u64() > Some(0), "{decision}");
    assert!(!decision["regressed"].as_array().unwrap().is_empty(), "{decision}");
    let overflowed = walkdir::WalkDir::new(cwd.join(".self-harness/runs"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("trace."))
        .filter_map(|e| self_harness::trace::read(e.path()).ok()?.outcome)
        .filter(|o| o.error_class == self_harness::trace::EpisodeErrorKind::ContextOverflow)
        .count();
    assert_eq!(overflowed as u64, candidate["counted"].as_u64().unwrap(), "one attempt each, none re-run");
}

#[tokio::test]
async fn a_split_too_small_to_accept_is_said_up_front_and_spends_nothing() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    // Six tasks: two per split, so even two flips give p = 1/4.
    for n in 7..=15 {
        std::fs::remove_dir_all(tasks.join(format!("greet-{n}"))).unwrap();
    }
    let fixed = cwd.join("fixed");
    self_harness::util::copy_dir(&harness, &fixed).unwrap();
    let text = std::fs::read_to_string(fixed.join("system.md")).unwrap();
    std::fs::write(fixed.join("system.md"), format!("{text}\n{FIX}\n")).unwrap();
    let run = |args: Vec<std::ffi::OsString>| {
        let (cwd, base) = (cwd.clone(), model.base_url().to_string());
        tokio::task::spawn_blocking(move || {
            common::run(common::bin().current_dir(&cwd).env("OPENAI_BASE_URL", &base).args(&args))
        })
    };
    let os = |args: &[&dyn AsRef<std::ffi::OsStr>]| args.iter().map(|a| a.as_ref().to_os_string()).collect();

    let plan = run(os(&[&"loop", &"--dry-run", &"--harness", &harness, &"--tasks", &tasks])).await.unwrap();
    assert_eq!(plan.status.code(), Some(0));
    let said = String::from_utf8_lossy(&plan.stderr);
    assert!(said.contains("with 2 validate task(s)") && said.contains("no candidate can be accepted"), "{said}");

    let output = run(os(&[&"validate", &"--json", &"--candidate", &fixed, &"--parent", &harness, &"--tasks", &tasks]))
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(1), "{}", String::from_utf8_lossy(&output.stderr));
    let decision = common::finished(&output)["validation"].clone();
    let reason = decision["reason"].as_str().unwrap();
    assert!(reason.starts_with("no candidate can be accepted on 2 validate task(s)"), "{reason}");
    assert!(!cwd.join(".self-harness/runs").exists(), "not one episode ran");
}

#[tokio::test]
async fn a_second_loop_on_the_same_store_is_refused() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let _held = self_harness::util::FileLock::try_acquire(&cwd.join(".self-harness/loop.lock"), "the loop")
        .unwrap()
        .expect("free");
    let mut second = loop_command(&cwd, model.base_url(), &tasks, &harness);
    let output = tokio::task::spawn_blocking(move || common::run(&mut second)).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    let pid = format!("the loop (pid {}", std::process::id());
    assert!(stderr.contains("another loop is working in") && stderr.contains(&pid), "{stderr}");
    assert!(entries(&cwd).is_empty(), "nothing was recorded");
}

#[tokio::test]
async fn a_harness_edited_while_the_loop_runs_is_not_overwritten() {
    if !common::docker_available() {
        return;
    }
    let (_root, tasks, harness, cwd) = workspace();
    // A person edits the harness while the loop proposes (before it validates and installs).
    let system = harness.join("system.md");
    let edited = system.clone();
    let model = ScriptedModel::responding(move |request| {
        if request["response_format"]["json_schema"]["name"] == "proposals" {
            let mut text = std::fs::read_to_string(&edited).unwrap();
            if !text.contains("a person's line") {
                text.push_str("\nA person's line.\n");
                std::fs::write(&edited, text).unwrap();
            }
        }
        vim_model(request)
    })
    .await;
    let mut command = loop_command(&cwd, model.base_url(), &tasks, &harness);
    let output = tokio::task::spawn_blocking(move || common::run(&mut command)).await.unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("changed while the loop ran") && stderr.contains("it is kept in"), "{stderr}");
    let text = std::fs::read_to_string(&system).unwrap();
    assert!(text.contains("A person's line.") && !text.contains(FIX), "the person's edit stays: {text}");
    let entries = entries(&cwd);
    assert!(entries.iter().any(|e| matches!(e, Entry::Decision { decision, .. } if decision.accepted)));
    assert!(!entries.iter().any(|e| matches!(e, Entry::Applied { .. })), "nothing applied");
    let kept = stderr.split("it is kept in ").nth(1).unwrap().split(':').next().unwrap();
    assert!(std::fs::read_to_string(Path::new(kept).join("system.md")).unwrap().contains(FIX), "{kept}");
}

/// Crashes between two records, replayed by cutting the ledger of a finished loop there: the
/// rerun asks only for the proposal rounds not recorded, and an edit installed but not yet
/// recorded is recognised by its version and committed, not proposed and validated again.
#[tokio::test]
async fn a_loop_resumes_from_a_recorded_round_and_from_an_unrecorded_install() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (_root, tasks, harness, cwd) = workspace();
    let repo = harness.parent().unwrap();
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "1"]).await;
    let rounds = |entries: &[Entry]| -> Vec<String> {
        entries
            .iter()
            .filter_map(|e| match e {
                Entry::Spent { stage: Stage::Propose, weakness: Some(w), .. } => Some(w.clone()),
                _ => None,
            })
            .collect()
    };
    let all_rounds = rounds(&entries(&cwd));
    assert_eq!(all_rounds.len(), 2, "one recorded round per weakness addressed: {all_rounds:?}");
    let asked = |model: &ScriptedModel| {
        model.requests().iter().filter(|r| r.json()["response_format"]["json_schema"]["name"] == "proposals").count()
    };
    let asked_first = asked(&model);

    // Killed after the first round was recorded: the harness is as it was, the rest is not.
    cut_ledger_after(&cwd, |e| matches!(e, Entry::Spent { stage: Stage::Propose, .. }));
    git(repo, &["reset", "-q", "--hard", "HEAD~1"]);
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "1"]).await;
    let after = entries(&cwd);
    assert_consistent(&after);
    assert_eq!(rounds(&after), all_rounds, "each round recorded once");
    assert_eq!(asked(&model) - asked_first, 1, "only the unrecorded round was asked again");
    assert!(std::fs::read_to_string(harness.join("system.md")).unwrap().contains(FIX));

    // Killed after installing the winner, before recording or committing it.
    let installed = git(repo, &["rev-parse", "HEAD"]);
    cut_ledger_after(&cwd, |e| matches!(e, Entry::Decision { decision, .. } if decision.accepted));
    git(repo, &["reset", "-q", "--mixed", "HEAD~1"]);
    let asked_before = asked(&model);
    run_loop(&cwd, model.base_url(), &tasks, &harness, &["--iterations", "1"]).await;
    let after = entries(&cwd);
    assert_consistent(&after);
    assert_eq!(asked(&model), asked_before, "nothing proposed again");
    assert_eq!(after.iter().filter(|e| matches!(e, Entry::Decision { .. })).count(), 1, "nothing validated again");
    let applied = after.iter().filter(|e| matches!(e, Entry::Applied { commit: Some(_), .. })).count();
    assert_eq!(applied, 1, "recorded and committed once");
    assert_ne!(git(repo, &["rev-parse", "HEAD"]), installed, "a new commit of the same edit");
    assert_eq!(git(repo, &["status", "--porcelain", "--", "harness"]), "", "all of it committed");
}
