//! ATIF, checked against Harbor itself: `export --atif` writes real traces (episodes of the
//! 1.5B model, kept in `fixtures/harbor/run/`) as trajectories that Harbor 0.25.0's own
//! pydantic `Trajectory` model accepts; `mine --from-harbor` mines a Harbor-shaped job
//! folder (a Terminus-2 trial and one of our exported trajectories, reward 0); and hostile
//! job folders (a link out, malformed JSON) and bad runs (missing, torn) are errors that name
//! the file. Harbor comes from `scripts/setup-harbor.sh` (`.venv-harbor/`, or the python
//! `HARBOR_PYTHON` names); without it the validation test fails and says so.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{bin, fixture, json, repo_root, run};
use self_harness::trace::atif;

/// Validates each trajectory with Harbor's `Trajectory` model; returns what Harbor says
/// per file ("ok" or its validation error).
fn validate_with_harbor(paths: &[PathBuf]) -> Vec<(PathBuf, String)> {
    let script = r#"
import sys
from harbor.models.trajectories import Trajectory
print(Trajectory.model_fields["schema_version"].default)
for path in sys.argv[1:]:
    try:
        t = Trajectory.model_validate_json(open(path).read())
        print("ok", len(t.steps))
    except Exception as e:
        print("invalid", str(e).replace("\n", " | "))
"#;
    let output = Command::new(common::harbor_python()).arg("-c").arg(script).args(paths).output().expect("run python");
    assert!(output.status.success(), "python failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let mut lines = text.lines();
    let newest = lines.next().unwrap_or_default();
    assert_eq!(newest, atif::ATIF_VERSION, "we write the ATIF version the installed Harbor writes");
    paths.iter().cloned().zip(lines.map(str::to_string)).collect()
}

fn export(run_dir: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let mut command = bin();
    command.args(["export", "--atif"]).arg(run_dir).arg("--out").arg(out).arg("--json").args(extra);
    run(&mut command)
}

fn written(output: &std::process::Output) -> Vec<PathBuf> {
    let report = json(output);
    let written = report["written"].as_array().expect("written");
    written.iter().map(|w| PathBuf::from(w["trajectory"].as_str().unwrap())).collect()
}

#[test]
fn exported_real_traces_are_valid_harbor_trajectories() {
    let out = tempfile::tempdir().unwrap();
    let output = export(&fixture("harbor/run"), out.path(), &[]);
    assert_eq!(output.status.code(), Some(0));
    let paths = written(&output);
    assert_eq!(paths.len(), 4, "one trajectory per episode");
    assert!(paths.iter().any(|p| p.ends_with("count-fatal-lines/0/trajectory.json")), "{paths:?}");

    // Ours, as written: steps, tool calls, observations and our facts in `extra`.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("count-fatal-lines/0/trajectory.json")).unwrap())
            .unwrap();
    assert_eq!(doc["agent"]["model_name"], "qwen2.5-coder-1.5b-instruct");
    assert_eq!(doc["extra"]["outcome"]["error_class"], "agent_timeout");
    assert_eq!(doc["steps"][0]["tool_calls"][0]["function_name"], "shell");
    assert_eq!(doc["steps"][0]["metrics"]["prompt_tokens"], 250);

    // And as Harbor reads them.
    let verdicts = validate_with_harbor(&paths);
    for (path, verdict) in &verdicts {
        println!("{}: {verdict}", path.display());
    }
    let invalid: Vec<_> = verdicts.iter().filter(|(_, v)| !v.starts_with("ok")).collect();
    assert!(invalid.is_empty(), "Harbor rejects: {invalid:#?}");
    assert_eq!(verdicts.len(), paths.len());
}

#[test]
fn with_the_harness_and_tasks_the_prompts_are_the_first_steps() {
    // A trace of the minimal harness as it is now, on a starter task.
    let harness = repo_root().join("harnesses/minimal");
    let version = self_harness::harness::Harness::load(&harness).expect("minimal loads").version().to_string();
    let run_dir = tempfile::tempdir().unwrap();
    let text = std::fs::read_to_string(fixture("harbor/run/count-words/0/trace.jsonl")).unwrap();
    let mut lines: Vec<serde_json::Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    lines[0]["harness_version"] = serde_json::json!(version);
    let episode = run_dir.path().join("count-words/0");
    std::fs::create_dir_all(&episode).unwrap();
    let body: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    std::fs::write(episode.join("trace.jsonl"), body.join("\n") + "\n").unwrap();

    let out = tempfile::tempdir().unwrap();
    let tasks = repo_root().join("tasks");
    let flags = ["--harness", harness.to_str().unwrap(), "--tasks", tasks.to_str().unwrap()];
    let output = export(run_dir.path(), out.path(), &flags);
    assert_eq!(output.status.code(), Some(0));
    let paths = written(&output);
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&paths[0]).unwrap()).unwrap();
    assert_eq!(doc["steps"][0]["source"], "system");
    assert_eq!(doc["steps"][1]["source"], "user");
    assert!(doc["steps"][0]["message"].as_str().unwrap().contains("/app"), "the workdir is rendered");
    assert_eq!(doc["steps"][2]["source"], "agent");
    let verdicts = validate_with_harbor(&paths);
    assert!(verdicts[0].1.starts_with("ok"), "{verdicts:?}");
}

#[test]
fn a_missing_run_and_a_torn_trace_are_errors_that_name_them() {
    let out = tempfile::tempdir().unwrap();
    let output = export(Path::new("no-such-run-anywhere"), out.path(), &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no-such-run-anywhere"));

    let run_dir = tempfile::tempdir().unwrap();
    for task in ["count-words", "count-fatal-lines"] {
        let episode = run_dir.path().join(task).join("0");
        std::fs::create_dir_all(&episode).unwrap();
        std::fs::copy(fixture(&format!("harbor/run/{task}/0/trace.jsonl")), episode.join("trace.jsonl")).unwrap();
    }
    // Torn: the outcome line cut off mid-way.
    let torn = run_dir.path().join("count-fatal-lines/0/trace.jsonl");
    let text = std::fs::read_to_string(&torn).unwrap();
    std::fs::write(&torn, &text[..text.len() - 40]).unwrap();
    let output = export(run_dir.path(), out.path(), &[]);
    assert_eq!(output.status.code(), Some(2), "a torn trace is bad input");
    let report = json(&output);
    let errors = report["errors"].to_string();
    assert!(errors.contains("count-fatal-lines/0/trace.jsonl") && errors.contains("torn"), "{errors}");
    assert_eq!(written(&output).len(), 1, "the good trace is still written");
}

/// An `eval` run's folder holds its `run.json`; its episodes are the store's, listed per
/// task: they are exported as `<task>/<trial>`. A `run.json` is a stranger's file too: a
/// trace path out of the store, or a task that is not a plain name, is refused, naming it.
#[test]
fn an_eval_runs_listed_episodes_are_exported_and_a_path_out_of_the_store_is_refused() {
    let project = tempfile::tempdir().unwrap();
    let store = project.path().join(".self-harness");
    let episode = store.join("runs/loop-v-1234/count-words-abc/s0");
    std::fs::create_dir_all(&episode).unwrap();
    std::fs::copy(fixture("harbor/run/count-words/0/trace.jsonl"), episode.join("trace.jsonl")).unwrap();
    let run_dir = store.join("runs/20261207T100000Z-v");
    std::fs::create_dir_all(&run_dir).unwrap();
    let evaluation = |task: &str, trace: &str| {
        let row = serde_json::json!({"task": task, "passed": 0, "counted": 1, "errors": 0, "tokens": 1, "seconds": 1.0,
            "traces": [trace]});
        let doc = serde_json::json!({"run": "20261207T100000Z-v", "harness": "minimal", "harness_version": "v",
            "model": "m", "pass_rate": 0.0, "ci95": [0.0, 1.0], "passed": 0, "counted": 1, "infrastructure_errors": 0,
            "tokens": 1, "cost_usd": 0.0, "wall_seconds": 1.0, "tasks": [row]});
        std::fs::write(run_dir.join("run.json"), doc.to_string()).unwrap();
    };
    evaluation("count-words", "runs/loop-v-1234/count-words-abc/s0/trace.jsonl");
    let out = tempfile::tempdir().unwrap();
    let output = export(&run_dir, out.path(), &[]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(written(&output), [out.path().join("count-words/0/trajectory.json")]);

    // A good trace, but outside the store: exported, it would leak what it holds.
    let outside = project.path().join("outside.jsonl");
    std::fs::copy(fixture("harbor/run/count-words/0/trace.jsonl"), &outside).unwrap();
    let inside = "runs/loop-v-1234/count-words-abc/s0/trace.jsonl";
    for (task, trace) in
        [("count-words", "../outside.jsonl"), ("count-words", outside.to_str().unwrap()), ("../up", inside)]
    {
        evaluation(task, trace);
        let out = tempfile::tempdir().unwrap();
        let output = export(&run_dir, &out.path().join("atif"), &[]);
        assert_eq!(output.status.code(), Some(2), "{task} {trace}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("run.json") && stderr.contains("is not"), "{stderr}");
        assert_eq!(std::fs::read_dir(out.path()).unwrap().count(), 0, "nothing written");
    }
}

/// A Harbor job folder: the fixture's Terminus-2 trials, and a trial of ours whose
/// trajectory is `export`'s (the 1.5B model's episode that ran `tail -f` into its timeout)
/// and whose reward is 0.
fn job_folder() -> tempfile::TempDir {
    let job = tempfile::tempdir().unwrap();
    self_harness::util::copy_dir(&fixture("harbor/job"), job.path()).unwrap();
    let out = tempfile::tempdir().unwrap();
    assert_eq!(export(&fixture("harbor/run"), out.path(), &[]).status.code(), Some(0));
    let trial = job.path().join("count-fatal-lines__Qp4sT9a");
    std::fs::create_dir_all(trial.join("agent")).unwrap();
    std::fs::create_dir_all(trial.join("verifier")).unwrap();
    std::fs::copy(out.path().join("count-fatal-lines/0/trajectory.json"), trial.join("agent/trajectory.json")).unwrap();
    std::fs::write(trial.join("verifier/reward.txt"), "0\n").unwrap();
    let result = serde_json::json!({
        "task_name": "count-fatal-lines",
        "trial_name": "count-fatal-lines__Qp4sT9a",
        "agent_info": {"name": "self-harness", "version": "minimal@97501c56fbef"},
        "verifier_result": null,
        "exception_info": null,
    });
    std::fs::write(trial.join("result.json"), result.to_string()).unwrap();
    job
}

fn mine_harbor(job: &Path) -> std::process::Output {
    let cwd = tempfile::tempdir().unwrap();
    let mut command = bin();
    command.current_dir(cwd.path()).args(["mine", "--from-harbor"]).arg(job).arg("--json");
    run(&mut command)
}

#[test]
fn mining_a_harbor_job_finds_the_weaknesses_of_its_failed_trials() {
    let job = job_folder();
    let output = mine_harbor(job.path());
    assert_eq!(output.status.code(), Some(0));
    let report = common::finished(&output);
    assert_eq!(report["trials"].as_array().unwrap().len(), 3, "{report:#}");
    let weaknesses = report["weaknesses"].as_array().unwrap();
    let find = |id: &str| weaknesses.iter().find(|w| w["id"] == id).unwrap_or_else(|| panic!("no {id}: {report:#}"));
    // Ours: `tail -f` ran into its timeout (reward 0 from verifier/reward.txt).
    let timeout = find("command-timeout");
    assert_eq!(timeout["tasks"], serde_json::json!(["count-fatal-lines"]));
    assert!(timeout["evidence"][0]["trace"]
        .as_str()
        .unwrap()
        .ends_with("count-fatal-lines__Qp4sT9a/agent/trajectory.json"));
    // Terminus-2's: it opened vim and then ran the same `cat` three times.
    assert_eq!(find("interactive-program")["tasks"], serde_json::json!(["edit-config"]));
    assert_eq!(find("repeated-command")["evidence"][0]["turn"], 5, "turns are ATIF step ids");
    // The passing trial counts as passing, and must keep passing.
    assert_eq!(find("interactive-program")["counts"]["passed_total"], 1);
    assert_eq!(find("interactive-program")["keep_passing"], serde_json::json!(["count-lines"]));
    assert!(report["written_to"].is_null(), "without --harness nothing replaces the store's weaknesses");
}

#[test]
fn a_link_out_of_the_job_and_malformed_json_are_errors_that_name_the_file() {
    let job = job_folder();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("trajectory.json"), "{}").unwrap();
    // A trajectory that is a link to a file outside the job folder.
    let linked = job.path().join("edit-config__Tk3mQ1p/agent/trajectory.json");
    std::fs::remove_file(&linked).unwrap();
    std::os::unix::fs::symlink(outside.path().join("trajectory.json"), &linked).unwrap();
    // A whole trial folder that is a link to outside.
    std::os::unix::fs::symlink(outside.path(), job.path().join("elsewhere__Zz9")).unwrap();
    // A result.json that is not JSON.
    std::fs::write(job.path().join("count-lines__Vw8rZ2x/result.json"), "{\"task_name\": \"count-lines\",\n  oops}")
        .unwrap();

    let output = mine_harbor(job.path());
    assert_eq!(output.status.code(), Some(2), "bad input");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("edit-config__Tk3mQ1p/agent/trajectory.json: leads outside"), "{stderr}");
    assert!(stderr.contains("elsewhere__Zz9: a link that leads outside"), "{stderr}");
    assert!(stderr.contains("count-lines__Vw8rZ2x/result.json:2:"), "line of the malformed JSON: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn a_trajectory_that_is_not_atif_is_named() {
    let job = job_folder();
    std::fs::write(job.path().join("edit-config__Tk3mQ1p/agent/trajectory.json"), "{\"steps\": 3}").unwrap();
    // A reward file that is not a number, where result.json has none.
    std::fs::write(job.path().join("count-fatal-lines__Qp4sT9a/verifier/reward.txt"), "lots").unwrap();
    let output = mine_harbor(job.path());
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("edit-config__Tk3mQ1p/agent/trajectory.json: not an ATIF trajectory"), "{stderr}");
    assert!(stderr.contains("count-fatal-lines__Qp4sT9a/verifier/reward.txt: not a number"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
