//! Our episodes as Harbor trials, for real: Harbor 0.25.0 (from `scripts/setup-harbor.sh`)
//! runs our agent class on its Docker environment (`offline-docker`: Harbor's own, with
//! no-network enforced by `network_mode: none`, since the egress sidecar's images need a
//! registry), the agent's commands go through `environment.exec` over the driver protocol,
//! and the trials are read back into the store. Never skipped for want of Harbor: without
//! `.venv-harbor` the tests fail and name the script.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::scripted_model::{Reply, ScriptedModel};

fn harbor_installed() {
    let program = common::repo_root().join(".venv-harbor/bin/harbor");
    assert!(program.is_file(), "Harbor is not installed at {}: run scripts/setup-harbor.sh", program.display());
}

/// Containers of Harbor's docker environment for the trial folder `trial` that still exist
/// (Harbor names the compose project after the trial: `<trial, lower case>__env`).
fn containers_of(trial: &Path) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "--filter", "label=com.docker.compose.project", "--format", "{{.Names}}"])
        .output()
        .expect("docker CLI");
    let project = trial.file_name().unwrap().to_string_lossy().to_lowercase();
    String::from_utf8_lossy(&out.stdout).lines().filter(|n| n.starts_with(&project)).map(str::to_string).collect()
}

fn action(command: &str, done: bool) -> Reply {
    Reply::json(&json!({"thought": "next", "command": command, "done": done}))
}

/// `harnesses/minimal` with a tool, an after-command hook and a 3-second command timeout.
fn harness_with_tool_and_hook(dir: &Path) -> PathBuf {
    common::copy_minimal_prompts(dir);
    let manifest = std::fs::read_to_string(common::repo_root().join("harnesses/minimal/harness.toml")).unwrap();
    let manifest = manifest.replace("command_timeout_secs = 120", "command_timeout_secs = 3")
        + "\n[[tools]]\nname = \"shout\"\nfile = \"shout.sh\"\ndescription = \"Upper-cases its argument.\"\n\n\
           [hooks.after_command]\nfile = \"after.sh\"\n";
    std::fs::write(dir.join("harness.toml"), manifest).unwrap();
    std::fs::write(dir.join("shout.sh"), "#!/bin/bash\necho \"${1^^}\"\n").unwrap();
    std::fs::write(dir.join("after.sh"), "echo \"after: exit $EXIT_CODE\"\n").unwrap();
    dir.to_path_buf()
}

fn eval_on_harbor(project: &Path, harness: &Path, model: &ScriptedModel, tasks: &[&str], extra: &[&str]) -> Value {
    let mut command = common::bin();
    command
        .current_dir(project)
        .args(["eval", "--json", "--backend", "harbor", "--harbor-env", "offline-docker", "--harness"])
        .arg(harness)
        .arg("--tasks")
        .arg(common::repo_root().join("tasks"))
        .args(extra)
        .env("OPENAI_BASE_URL", model.base_url())
        .env("OPENAI_MODEL", "scripted")
        .env("HARBOR", common::repo_root().join(".venv-harbor/bin/harbor"))
        .env("SELF_HARNESS_HARBOR_PACKAGE", common::repo_root().join("integrations/harbor"));
    for task in tasks {
        command.args(["--task", task]);
    }
    let output = common::run(&mut command);
    assert!(output.status.success(), "eval failed: {}", String::from_utf8_lossy(&output.stdout));
    common::finished(&output)["evaluation"].clone()
}

/// The protocol end to end with a scripted model: the harness's tool and hook are uploaded
/// and run, `cd`, a variable and a background job outlive their command as they do
/// locally, a command is stopped at its timeout, a flood ends at the output cap, the
/// verifier's reward comes back, and the trace, its trajectory and Harbor's job are where
/// they should be; no container is left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_agent_acts_through_harbors_environment_as_it_does_here() {
    if !common::docker_available() {
        return;
    }
    harbor_installed();
    let model = ScriptedModel::start(vec![
        Reply::text("OK"), // eval's check that the endpoint answers
        action("cd /tmp; export GREETING=hi; sleep 301 > /dev/null 2>&1 &", false),
        action(
            "echo \"$PWD $GREETING\"; pgrep -f 'sleep 301' > /dev/null && echo alive; shout hey; ls /sys/class/net",
            false,
        ),
        action("sleep 20", false),
        action("yes", false),
        action("wc -l < /app/data.txt > /app/count.txt", true),
    ])
    .await;
    let project = tempfile::tempdir().unwrap();
    let harness = harness_with_tool_and_hook(&tempfile::tempdir().unwrap().keep());
    let tasks = ["count-lines"];
    // Blocks this worker; the scripted model answers from the other.
    let summary = eval_on_harbor(project.path(), &harness, &model, &tasks, &[]);
    assert_eq!((summary["passed"].as_u64(), summary["counted"].as_u64()), (Some(1), Some(1)), "{summary:#}");

    let listed = summary["tasks"][0]["traces"][0].as_str().expect("the evaluation lists its trace");
    let trace = self_harness::trace::read(&project.path().join(".self-harness").join(listed)).unwrap();
    let outputs: Vec<String> =
        trace.turns.iter().map(|t| t.command.as_ref().map(|c| c.output_shown.clone()).unwrap_or_default()).collect();
    assert_eq!(outputs[1], "/tmp hi\nalive\nHEY\nlo\n", "state carried over, no network but lo: {outputs:?}");
    let after = trace.turns[1].after_command.as_ref().expect("the after-command hook ran");
    assert_eq!(after.output_shown.trim(), "after: exit 0");
    let stopped = trace.turns[2].command.as_ref().unwrap();
    assert!(stopped.timed_out && stopped.exit_code.is_none(), "sleep 20 is stopped at 3 s: {stopped:?}");
    assert!(stopped.duration_ms < 15_000.0, "{stopped:?}");
    // A flood ends at the output cap, as on the local tmpfs, not at the 3 s timeout.
    let flood = trace.turns[3].command.as_ref().unwrap();
    assert_eq!((flood.output_bytes, flood.timed_out), (64 << 20, false), "{flood:?}");
    let outcome = trace.outcome.unwrap();
    assert_eq!((outcome.reward, outcome.passed, outcome.turns), (Some(1.0), true, 5));

    let jobs = project.path().join(".self-harness/harbor-jobs");
    let trial = std::fs::read_dir(&jobs)
        .unwrap()
        .flatten()
        .filter(|e| e.path().is_dir())
        .flat_map(|job| std::fs::read_dir(job.path()).unwrap().flatten())
        .find(|e| e.file_name().to_string_lossy().starts_with("count-lines__"))
        .expect("Harbor's trial folder")
        .path();
    for file in ["agent/trace.jsonl", "agent/trajectory.json", "result.json", "verifier/reward.txt"] {
        assert!(trial.join(file).is_file(), "{file} in {}", trial.display());
    }
    assert_eq!(containers_of(&trial), Vec::<String>::new(), "Harbor removed its containers");
}

/// A Harbor batch stopped half-way (its future dropped, as Ctrl-C drops it) resumes like a
/// stopped local run: Harbor is told to stop and removes its environments, the episode that
/// finished is kept and reused, and only the one in flight runs again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_harbor_batch_resumes_with_what_finished() {
    use self_harness::episodes::Runner;
    use std::sync::atomic::{AtomicUsize, Ordering};

    if !common::docker_available() {
        return;
    }
    harbor_installed();
    // Every turn: a wrong answer, declared done; slow enough that the second trial is still
    // running when the batch is stopped.
    let model = ScriptedModel::responding(|_| {
        action("echo 0 > /app/count.txt", true).delayed(std::time::Duration::from_secs(8))
    })
    .await;
    let client = self_harness::llm::Client::new(model.config()).unwrap();
    let project = tempfile::tempdir().unwrap();
    let store = self_harness::store::Store::at(project.path());
    let root = common::repo_root();
    let backend = self_harness::episodes::Backend::Harbor(self_harness::harbor::Harbor {
        program: root.join(".venv-harbor/bin/harbor"),
        environment: "offline-docker".into(),
        environment_kwargs: Vec::new(),
        parallel: 1,
        jobs_dir: store.root().join("harbor-jobs"),
        integration: root.join("integrations/harbor"),
        binary: PathBuf::from(env!("CARGO_BIN_EXE_self-harness")),
    });
    let harness = self_harness::harness::Harness::load(root.join("harnesses/minimal")).unwrap();
    let tasks: Vec<self_harness::task::Task> = ["count-lines", "create-config-file"]
        .iter()
        .map(|name| self_harness::task::Task::load(&root.join("tasks").join(name)).unwrap())
        .collect();
    let jobs: Vec<(&self_harness::task::Task, u64)> = tasks.iter().map(|t| (t, 0)).collect();
    let ran = AtomicUsize::new(0);
    let on_episode = |_: &self_harness::episodes::Episode| {
        ran.fetch_add(1, Ordering::SeqCst);
    };
    let runner = Runner {
        backend: &backend,
        client: &client,
        model: "scripted".into(),
        store: store.clone(),
        parallel: 1,
        time_limit: None,
        on_episode: &on_episode,
    };

    tokio::select! {
        _ = runner.run_all(&harness, &jobs) => panic!("the batch finished before it was stopped"),
        () = async {
            while ran.load(Ordering::SeqCst) < 1 {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
        } => {}
    }
    let runs = store.root().join("runs");
    let finished: Vec<PathBuf> = walk(&runs).into_iter().filter(|p| p.ends_with("trace.jsonl")).collect();
    assert_eq!(finished.len(), 1, "one episode finished before the stop: {finished:?}");
    let kept = std::fs::metadata(&finished[0]).unwrap().modified().unwrap();

    // Harbor got SIGINT: its trial containers go away.
    let jobs_dir = store.root().join("harbor-jobs");
    let trials: Vec<PathBuf> = walk(&jobs_dir).into_iter().filter(|p| p.ends_with("config.json")).collect();
    let mut left = Vec::new();
    for _ in 0..60 {
        left = trials.iter().filter_map(|c| c.parent()).flat_map(containers_of).collect();
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
    assert!(left.is_empty(), "containers left after the stop: {left:?}");

    let episodes = runner.run_all(&harness, &jobs).await.unwrap();
    assert_eq!(episodes.len(), 2);
    assert_eq!(ran.load(Ordering::SeqCst), 2, "only the episode in flight ran again");
    assert_eq!(std::fs::metadata(&finished[0]).unwrap().modified().unwrap(), kept, "the finished one was reused");
    for episode in &episodes {
        assert_eq!((episode.outcome.reward, episode.outcome.passed), (Some(0.0), false), "{episode:?}");
        assert!(episode.counts());
    }
}

/// What each episode of `run` that did not end cleanly, and each Harbor trial under
/// `project` that recorded an exception, said about it: for a failure message.
fn failures(runs: &Path, project: &Path) -> Vec<String> {
    let traces =
        walk(runs).into_iter().filter(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("trace")));
    let said = traces.filter_map(|path| {
        let outcome = self_harness::trace::read(&path).ok()?.outcome?;
        Some(format!("{}: {:?}: {:?}", path.display(), outcome.error_class, outcome.error_detail))
    });
    let trials = walk(&project.join(".self-harness/harbor-jobs")).into_iter().filter(|p| p.ends_with("result.json"));
    let raised = trials.filter_map(|path| {
        let result: Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
        let exception = result.get("exception_info").filter(|e| !e.is_null())?;
        Some(format!("{}: {exception}", path.display()))
    });
    said.chain(raised).collect()
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else { return found };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            found.extend(walk(&path));
        } else {
            found.push(path);
        }
    }
    found
}

/// The tasks of this test: the starter suite's easy tier, and two real Terminal-Bench 2.0
/// tasks from `TB2_DIR` (as `tests/tb2.rs`: without it that half says it skipped); and how
/// many are easy.
fn easy_and_tb2_tasks() -> (Vec<PathBuf>, usize) {
    let starter = common::repo_root().join("tasks");
    let mut tasks: Vec<PathBuf> = std::fs::read_dir(&starter)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|dir| {
            self_harness::task::Task::load(dir).is_ok_and(|t| t.metadata.difficulty.as_deref() == Some("easy"))
        })
        .collect();
    tasks.sort();
    let easy = tasks.len();
    match std::env::var_os("TB2_DIR").filter(|d| !d.is_empty()) {
        Some(tb2) => tasks.extend(
            ["log-summary-date-ranges", "large-scale-text-editing"].iter().map(|name| PathBuf::from(&tb2).join(name)),
        ),
        None => eprintln!("SKIPPED (the TB2 half): TB2_DIR is not set"),
    }
    (tasks, easy)
}

/// Task name → passed, from `tasks check --oracle --json` over `dirs`' parents.
fn checked_here(dirs: &[PathBuf]) -> std::collections::BTreeMap<String, String> {
    let mut statuses = std::collections::BTreeMap::new();
    let mut parents: Vec<&Path> = dirs.iter().map(|d| d.parent().unwrap()).collect();
    parents.dedup();
    for parent in parents {
        let mut command = common::bin();
        command.args(["tasks", "check", "--oracle", "--json", "--parallel", "2"]).arg(parent);
        for dir in dirs.iter().filter(|d| d.parent() == Some(parent)) {
            command.arg("--task").arg(dir.file_name().unwrap());
        }
        let report = common::finished(&common::run(&mut command));
        for r in report["results"].as_array().unwrap() {
            statuses.insert(r["task"].as_str().unwrap().to_string(), r["status"].as_str().unwrap().to_string());
        }
    }
    statuses
}

/// Harbor's own oracle (its `oracle` agent) on `dirs` in the offline Docker environment:
/// task name → reward.
fn harbor_oracle(dirs: &[PathBuf], jobs: &Path) -> std::collections::BTreeMap<String, f64> {
    let config = json!({
        "job_name": "oracle",
        "jobs_dir": jobs,
        "n_concurrent_trials": 2,
        "quiet": true,
        "environment": {"import_path": self_harness::harbor::OFFLINE_DOCKER_IMPORT_PATH, "delete": true},
        "agents": [{"name": "oracle"}],
        "tasks": dirs.iter().map(|d| json!({"path": d})).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(jobs).unwrap();
    let config_path = jobs.join("oracle.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let status = Command::new(common::repo_root().join(".venv-harbor/bin/harbor"))
        .args(["run", "--yes", "--quiet", "--config"])
        .arg(&config_path)
        .env("PYTHONPATH", common::repo_root().join("integrations/harbor"))
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .status()
        .expect("run harbor");
    assert!(status.success(), "harbor run (oracle) failed");
    let job = jobs.join("oracle");
    let mut rewards = std::collections::BTreeMap::new();
    for trial in std::fs::read_dir(&job).unwrap().flatten().filter(|e| e.path().is_dir()) {
        let result = self_harness::harbor::trial::read_trial(&job, &trial.path()).unwrap();
        rewards.insert(result.task, result.outcome.reward.unwrap_or(-1.0));
    }
    rewards
}

/// Real parts only: Harbor's oracle passes exactly the tasks our own `tasks check` passes,
/// and the local model plays every task as a Harbor trial (our agent class, offline Docker):
/// every episode counted (no infrastructure error), its reward read back from Harbor, its
/// trace in the store, and no container left.
#[test]
fn the_oracle_and_the_local_model_run_through_harbor_as_they_do_here() {
    if !common::docker_available() {
        return;
    }
    harbor_installed();
    let Some(url) = common::local_model_url() else { return };
    let (dirs, easy) = easy_and_tb2_tasks();
    let project = tempfile::tempdir().unwrap();

    let here = checked_here(&dirs);
    let harbor = harbor_oracle(&dirs, &project.path().join("oracle-jobs"));
    eprintln!("{:<28} {:<16} harbor oracle reward", "task", "tasks check");
    for (task, status) in &here {
        eprintln!("{task:<28} {status:<16} {:?}", harbor.get(task));
    }
    assert_eq!(harbor.len(), dirs.len(), "one trial per task: {harbor:?}");
    for (task, status) in &here {
        let reward = harbor.get(task).copied();
        match status.as_str() {
            "pass" => assert_eq!(reward, Some(1.0), "{task} passes its oracle here but not through Harbor"),
            "needs-internet" | "stale-pin" => {}
            _ => assert_ne!(reward, Some(1.0), "{task} fails its oracle here ({status}) but passes through Harbor"),
        }
    }

    // The model plays four easy tasks and the TB2 ones (each capped at 60 s: what is
    // tested is the path, not the model). eval takes one folder: the starter tasks, then TB2's.
    let played: Vec<PathBuf> = dirs.iter().take(4).chain(dirs.iter().skip(easy)).cloned().collect();
    let mut counted = 0;
    let mut parents: Vec<&Path> = played.iter().map(|d| d.parent().unwrap()).collect();
    parents.dedup();
    for parent in parents {
        let mut command = common::bin();
        command
            .current_dir(project.path())
            .args(["eval", "--json", "--backend", "harbor", "--harbor-env", "offline-docker", "--parallel", "2"])
            .args(["--episode-timeout", "60", "--harness"])
            .arg(common::repo_root().join("harnesses/minimal"))
            .arg("--tasks")
            .arg(parent)
            .env("OPENAI_BASE_URL", &url)
            .env("HARBOR", common::repo_root().join(".venv-harbor/bin/harbor"));
        for dir in played.iter().filter(|d| d.parent() == Some(parent)) {
            command.arg("--task").arg(dir.file_name().unwrap());
        }
        let output = common::run(&mut command);
        assert!(output.status.success(), "eval through Harbor failed");
        let summary = common::finished(&output)["evaluation"].clone();
        eprintln!("local model through Harbor: {}/{} passed", summary["passed"], summary["counted"]);
        let store = project.path().join(".self-harness");
        if summary["infrastructure_errors"] != 0 {
            panic!(
                "infrastructure errors through Harbor: {:#?}\n{summary:#}",
                failures(&store.join("runs"), project.path())
            );
        }
        for row in summary["tasks"].as_array().unwrap() {
            assert_eq!(row["counted"], 1, "{row}");
            let trace = self_harness::trace::read(&store.join(row["traces"][0].as_str().unwrap()));
            let outcome = trace.unwrap().outcome.unwrap();
            assert!(outcome.reward.is_some() && outcome.turns > 0, "{outcome:?}");
            counted += 1;
        }
    }
    assert_eq!(counted, played.len());
    let trials: Vec<PathBuf> = walk(&project.path().join(".self-harness/harbor-jobs"))
        .into_iter()
        .filter(|p| p.ends_with("config.json"))
        .filter_map(|p| p.parent().map(Path::to_path_buf))
        .collect();
    let left: Vec<String> = trials.iter().flat_map(|t| containers_of(t)).collect();
    assert!(left.is_empty(), "containers left: {left:?}");
}

/// With `--backend harbor` Self-Harness itself needs no Docker engine: the Docker of
/// `offline-docker` is Harbor's business, as Modal's or GKE's would be. Here our process
/// sees a `DOCKER_HOST` that leads nowhere and only Harbor (through a wrapper) the real
/// one; `mine` still runs the harness's episodes as trials and mines them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stage_on_harbor_needs_no_docker_engine_here() {
    if !common::docker_available() {
        return;
    }
    harbor_installed();
    let model = ScriptedModel::responding(|_| action("echo 0 > /app/count.txt", true)).await;
    let project = tempfile::tempdir().unwrap();
    let root = common::repo_root();
    let tasks = project.path().join("tasks");
    std::fs::create_dir(&tasks).unwrap();
    for task in ["count-lines", "create-config-file", "replace-word", "sum-column"] {
        let status = Command::new("cp").arg("-r").arg(root.join("tasks").join(task)).arg(&tasks).status().unwrap();
        assert!(status.success());
    }
    let wrapper = project.path().join("harbor");
    let docker_host = match std::env::var("DOCKER_HOST") {
        Ok(host) => format!("export DOCKER_HOST='{host}'"),
        Err(_) => "unset DOCKER_HOST".to_string(),
    };
    std::fs::write(
        &wrapper,
        format!("#!/bin/sh\n{docker_host}\nexec '{}' \"$@\"\n", root.join(".venv-harbor/bin/harbor").display()),
    )
    .unwrap();
    std::fs::set_permissions(&wrapper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();

    let output = common::run(
        common::bin()
            .current_dir(project.path())
            .args(["mine", "--json", "--repeats", "1", "--backend", "harbor", "--harbor-env", "offline-docker"])
            .arg("--harness")
            .arg(root.join("harnesses/minimal"))
            .arg("--tasks")
            .arg(&tasks)
            .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
            .env("OPENAI_BASE_URL", model.base_url())
            .env("OPENAI_MODEL", "scripted")
            .env("HARBOR", &wrapper)
            .env("SELF_HARNESS_HARBOR_PACKAGE", root.join("integrations/harbor")),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "mine: {stderr}");
    let mined = common::finished(&output)["weaknesses"].clone();
    eprintln!("{mined:#}");
    let traces: Vec<PathBuf> =
        walk(&project.path().join(".self-harness/runs")).into_iter().filter(|p| p.ends_with("trace.jsonl")).collect();
    assert!(!traces.is_empty(), "episodes ran as Harbor trials: {stderr}");
    for trace in &traces {
        let outcome = self_harness::trace::read(trace).unwrap().outcome.unwrap();
        assert_eq!(
            (outcome.reward, outcome.error_class.counts()),
            (Some(0.0), true),
            "{}: {outcome:?}",
            trace.display()
        );
    }
}
