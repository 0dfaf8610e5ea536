//! `self-harness eval` as a user runs it: a scripted model behind OPENAI_BASE_URL, real
//! containers, a results table, traces in the store; and bad input stopped before anything
//! is written.

mod common;
mod support;

use std::path::Path;

use self_harness::sandbox::StorageQuota;
use serde_json::json;
use support::{Reply, ScriptedModel};

fn action(command: Option<&str>, done: bool) -> Reply {
    Reply::json(&json!({"thought": "step", "command": command, "done": done}))
}

fn eval(cwd: &Path, base_url: &str, args: &[&str]) -> std::process::Output {
    let mut command = common::bin();
    command.current_dir(cwd).env("OPENAI_BASE_URL", base_url).env("OPENAI_MODEL", "scripted").arg("eval").args(args);
    common::run(&mut command)
}

/// [`eval`] on a blocking thread, so the scripted model answers from the runtime meanwhile.
async fn eval_beside(cwd: &Path, base_url: &str, args: &[&str]) -> std::process::Output {
    let (cwd, base_url) = (cwd.to_path_buf(), base_url.to_string());
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || eval(&cwd, &base_url, &args.iter().map(String::as_str).collect::<Vec<_>>()))
        .await
        .unwrap()
}

fn minimal() -> String {
    common::repo_root().join("harnesses/minimal").display().to_string()
}

fn fixtures() -> String {
    common::fixture("oracle").display().to_string()
}

#[tokio::test]
async fn eval_runs_episodes_and_reports_pass_rates() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::start(vec![
        Reply::text("OK"), // the preflight request
        action(Some("echo hello > /app/greeting.txt"), true),
        action(Some("echo wrong > /app/greeting.txt"), true),
    ])
    .await;
    let cwd = tempfile::tempdir().unwrap();
    let base = model.base_url().to_string();
    let args =
        ["--harness", &minimal(), "--tasks", &fixtures(), "--task", "right-solution", "--repeats", "2", "--json"];
    let output = eval_beside(cwd.path(), &base, &args).await;
    assert_eq!(output.status.code(), Some(0));
    let summary = common::finished(&output)["evaluation"].clone();
    assert_eq!((summary["passed"].as_u64(), summary["counted"].as_u64()), (Some(1), Some(2)), "{summary}");
    assert_eq!(summary["pass_rate"].as_f64(), Some(0.5));
    // Each episode reported as it ended, with how far the run is.
    let episodes: Vec<_> = common::events(&output).into_iter().filter(|e| e["event"] == "episode").collect();
    let done: Vec<_> =
        episodes.iter().map(|e| (e["progress"]["done"].as_u64(), e["progress"]["planned"].as_u64())).collect();
    assert_eq!(done, [(Some(1), Some(2)), (Some(2), Some(2))], "{episodes:?}");
    assert!(episodes.iter().all(|e| e["task"] == "right-solution" && e["passed"].is_boolean()), "{episodes:?}");
    let (lo, hi) = (summary["ci95"][0].as_f64().unwrap(), summary["ci95"][1].as_f64().unwrap());
    assert!(lo < 0.5 && hi > 0.5);
    let kept = kept(cwd.path(), &summary);
    assert_eq!((kept.repeats, kept.seed, kept.temperature, kept.passed), (2, 0, 0.0, 1), "what the report reads back");
    let traces = traces(cwd.path(), &kept, "right-solution");
    assert_eq!(traces.len(), 2, "one per repeat");
    let passed: Vec<bool> =
        traces.iter().map(|t| self_harness::trace::read(t).unwrap().outcome.unwrap().passed).collect();
    assert_eq!(passed, [true, false], "in repeat order: seed 0 ran the right command");
}

/// The evaluation `summary` names, as kept in the store.
fn kept(cwd: &Path, summary: &serde_json::Value) -> self_harness::episodes::Evaluation {
    let run = cwd.join(".self-harness/runs").join(summary["run"].as_str().unwrap());
    serde_json::from_str(&std::fs::read_to_string(run.join("run.json")).unwrap()).unwrap()
}

/// The traces of `task`'s episodes in `evaluation`, repeat by repeat.
fn traces(cwd: &Path, evaluation: &self_harness::episodes::Evaluation, task: &str) -> Vec<std::path::PathBuf> {
    let row = evaluation.tasks.iter().find(|r| r.task == task).unwrap();
    row.traces.iter().map(|t| cwd.join(".self-harness").join(t)).collect()
}

/// An evaluation run again — stopped, or with more repeats (asked for here by the flag's
/// old name, `--trials`, which still works) — runs only the episodes the
/// store does not have: the first repeat's is reused (reported first, not asked of the
/// model again), the second is run, and both count.
#[tokio::test]
async fn a_second_eval_reuses_the_episodes_the_store_has() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::start(vec![
        Reply::text("OK"), // the first evaluation's preflight
        action(Some("echo hello > /app/greeting.txt"), true),
        Reply::text("OK"), // the second's
        action(Some("echo wrong > /app/greeting.txt"), true),
    ])
    .await;
    let cwd = tempfile::tempdir().unwrap();
    let base = model.base_url().to_string();
    let args = ["--harness", &minimal(), "--tasks", &fixtures(), "--task", "right-solution", "--json"];
    let first = eval_beside(cwd.path(), &base, &args).await;
    assert_eq!(first.status.code(), Some(0), "{}", String::from_utf8_lossy(&first.stderr));
    let first = kept(cwd.path(), &common::finished(&first)["evaluation"]);
    assert_eq!((first.passed, first.counted, first.reused), (1, 1, 0));

    let output = eval_beside(cwd.path(), &base, &[&args[..], &["--trials", "2"]].concat()).await;
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    let second = kept(cwd.path(), &common::finished(&output)["evaluation"]);
    assert_eq!((second.passed, second.counted, second.reused), (1, 2, 1), "{second:?}");
    assert_ne!(first.run, second.run, "each evaluation is kept");
    let traces = traces(cwd.path(), &second, "right-solution");
    assert_eq!(traces[0], self::traces(cwd.path(), &first, "right-solution")[0], "repeat 0 is the first run's episode");
    assert_eq!(model.requests().len(), 4, "repeat 0 was not asked of the model again");
    let episodes: Vec<_> = common::events(&output).into_iter().filter(|e| e["event"] == "episode").collect();
    let seen: Vec<_> = episodes.iter().map(|e| (e["seed"].as_u64(), e["passed"].as_bool())).collect();
    assert_eq!(seen, [(Some(0), Some(true)), (Some(1), Some(false))], "the reused episode reported first");
}

/// A task that asks for more CPUs and memory than the engine has runs with what it has
/// (Docker would refuse the container), and its trace says so.
#[tokio::test]
async fn a_task_asking_more_than_the_host_runs_capped_and_the_trace_says_so() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::start(vec![
        Reply::text("OK"), // the preflight request
        action(Some("echo hello > /app/greeting.txt"), true),
    ])
    .await;
    let cwd = tempfile::tempdir().unwrap();
    let base = model.base_url().to_string();
    let args = ["--harness", &minimal(), "--tasks", &fixtures(), "--task", "more-than-the-host", "--json"];
    let output = eval_beside(cwd.path(), &base, &args).await;
    let summary = common::finished(&output)["evaluation"].clone();
    assert_eq!((summary["passed"].as_u64(), summary["counted"].as_u64()), (Some(1), Some(1)), "{summary}");
    let kept = kept(cwd.path(), &summary);
    let trace = self_harness::trace::read(&traces(cwd.path(), &kept, "more-than-the-host")[0]).unwrap();
    let limits = trace.outcome.unwrap().limits.expect("the cap is recorded");
    assert!(
        limits.starts_with("asked 512 CPUs, ran with ") && limits.contains("asked 4194304 MiB of memory"),
        "{limits}"
    );
    // Its 20G of storage: capped where the engine can, otherwise said (this machine: overlay2 on ext4).
    match common::storage_quota().await {
        StorageQuota::Enforced => assert!(!limits.contains("storage"), "{limits}"),
        StorageQuota::Unavailable(why) => {
            assert!(limits.ends_with(&format!("asked 20480 MiB of storage, not enforced here ({why})")), "{limits}")
        }
        StorageQuota::Unknown => assert!(limits.contains("asked 20480 MiB of storage, not enforced here"), "{limits}"),
    }
}

fn runs_written(cwd: &Path) -> bool {
    cwd.join(".self-harness/runs").read_dir().is_ok_and(|mut d| d.next().is_some())
}

#[tokio::test]
async fn a_model_that_is_down_is_one_message_and_writes_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    // Nothing listens on port 9 (discard) on loopback.
    let output = eval(cwd.path(), "http://127.0.0.1:9/v1", &["--harness", &minimal(), "--tasks", &fixtures()]);
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot reach the model endpoint") && stderr.contains("self-harness model serve"),
        "{stderr}"
    );
    assert!(!runs_written(cwd.path()));
}

#[tokio::test]
async fn a_broken_harness_is_reported_with_its_location_and_writes_nothing() {
    let cwd = tempfile::tempdir().unwrap();
    let harness = cwd.path().join("broken");
    std::fs::create_dir_all(&harness).unwrap();
    common::copy_minimal_prompts(&harness);
    std::fs::write(harness.join("harness.toml"), "name = \"broken\"\n[policy\nmax_turns = 3\n").unwrap();
    let output =
        eval(cwd.path(), "http://127.0.0.1:9/v1", &["--harness", harness.to_str().unwrap(), "--tasks", &fixtures()]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("harness.toml:2:"), "{stderr}");
    assert!(!runs_written(cwd.path()));
}

#[tokio::test]
async fn a_task_whose_image_fails_to_build_stops_before_any_episode() {
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::start(vec![Reply::text("OK")]).await;
    let cwd = tempfile::tempdir().unwrap();
    let base = model.base_url().to_string();
    let output =
        eval_beside(cwd.path(), &base, &["--harness", &minimal(), "--tasks", &fixtures(), "--task", "build-fails"])
            .await;
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("task build-fails") && stderr.contains("non-zero code: 3"), "{stderr}");
    assert!(!runs_written(cwd.path()));
}

/// The real local model on easy starter tasks, two episodes at a time: the run completes
/// with real traces and a table (whether the small model passes is the loop's business).
#[tokio::test]
async fn eval_with_the_real_local_model_completes_with_traces() {
    if !common::docker_available() {
        return;
    }
    let Some(url) = tokio::task::spawn_blocking(common::local_model_url).await.unwrap() else { return };
    let cwd = tempfile::tempdir().unwrap();
    let tasks = common::repo_root().join("tasks").display().to_string();
    let cwd_path = cwd.path().to_path_buf();
    let output = tokio::task::spawn_blocking(move || {
        let mut command = common::bin();
        command
            .current_dir(&cwd_path)
            .env("OPENAI_BASE_URL", &url)
            .env_remove("OPENAI_MODEL")
            .args(["eval", "--harness", &minimal(), "--tasks", &tasks, "--parallel", "2", "--json"])
            .args(["--task", "count-lines", "--task", "replace-word", "--task", "create-config-file"]);
        common::run(&mut command)
    })
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let summary = common::finished(&output)["evaluation"].clone();
    assert_eq!(summary["counted"].as_u64(), Some(3), "{summary}");
    assert_eq!(summary["model"], "qwen2.5-coder-0.5b-instruct");
    let kept = kept(cwd.path(), &summary);
    for task in ["count-lines", "replace-word", "create-config-file"] {
        let trace = self_harness::trace::read(&traces(cwd.path(), &kept, task)[0]).unwrap();
        assert!(!trace.turns.is_empty(), "{task}: no turns");
        assert!(trace.turns[0].tokens_in > 0 && !trace.turns[0].reply.is_empty(), "{task}: no real model reply");
        let outcome = trace.outcome.unwrap();
        assert!(outcome.error_class.counts(), "{task}: {:?}", outcome.error_detail);
    }
}
