//! Where episodes should run: our local runner vs the Harbor backend vs Harbor's own oracle,
//! side by side in one run, on the same tasks.
//!
//! * **local**: our runner (`agent::run_episode`: image, container, agent, verifier,
//!   removal) on this machine's Docker engine.
//! * **harbor**: the same episodes as Harbor trials (`--backend harbor`, our agent class,
//!   the offline Docker environment), through `episodes::Runner` as the loop runs them.
//! * **harbor oracle**: Harbor's own `oracle` agent (it runs the task's solution) in the
//!   same environment: Harbor's floor, with no agent of ours in it.
//!
//! The model answers every request at once with the same action (run `true`, declare
//! done), so what is measured is the backend, not the model: each of our episodes is one
//! turn. For every `--parallel` level the three run the same tasks one after another;
//! each episode's phases are split as setup (start → the agent may send its first
//! command), agent, verify and remove (verdict → container gone), from our phase marks
//! for local and from each trial's `result.json` for Harbor; throughput is episodes per
//! minute of the batch's wall time. A warm-up round first builds every image on both
//! sides, uncounted.
//!
//!     cargo bench --bench backends [-- --tasks 8 --parallel 1,2,4]
//!
//! Needs Docker, the base images and Harbor (`scripts/setup-harbor.sh`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use futures_util::StreamExt;
use self_harness::agent::{run_episode, EpisodeSpec};
use self_harness::episodes::{Backend, Runner};
use self_harness::harbor;
use self_harness::harness::Harness;
use self_harness::llm::Client;
use self_harness::sandbox::Engine;
use self_harness::store::Store;
use self_harness::task::{Suite, Task};
use serde_json::{json, Value};
use support::{Reply, ScriptedModel};

/// The phases of one episode, in seconds.
#[derive(Default, Clone, Copy)]
struct Phases {
    setup: f64,
    agent: f64,
    verify: f64,
    remove: f64,
}

impl Phases {
    fn total(&self) -> f64 {
        self.setup + self.agent + self.verify + self.remove
    }
}

/// One backend at one parallel level.
struct Measured {
    backend: &'static str,
    parallel: usize,
    episodes: Vec<Phases>,
    wall: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let value = |flag: &str| args.iter().position(|a| a == flag).and_then(|i| args.get(i + 1)).cloned();
    let count: usize = value("--tasks").map_or(8, |v| v.parse().expect("--tasks N"));
    let levels: Vec<usize> = value("--parallel")
        .unwrap_or_else(|| "1,2,4".into())
        .split(',')
        .map(|v| v.trim().parse().expect("--parallel 1,2,4"))
        .collect();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(bench(count, &levels));
}

async fn bench(count: usize, levels: &[usize]) {
    let root = common::repo_root();
    assert!(root.join(".venv-harbor/bin/harbor").is_file(), "Harbor is not installed: run scripts/setup-harbor.sh");
    let suite = Suite::load(&root.join("tasks")).expect("the starter tasks");
    let tasks: Vec<Task> =
        suite.tasks.into_iter().filter(|t| t.metadata.difficulty.as_deref() == Some("easy")).take(count).collect();
    let harness = Harness::load(root.join("harnesses/minimal")).expect("harnesses/minimal");
    let model =
        ScriptedModel::responding(|_| Reply::json(&json!({"thought": "bench", "command": "true", "done": true}))).await;
    let client = Client::new(model.config()).unwrap();
    let engine = Engine::connect().await.expect("Docker engine");
    let scratch = tempfile::tempdir().unwrap();
    let max = levels.iter().copied().max().unwrap_or(1);

    eprintln!("warm-up: building the images of {} tasks on both sides", tasks.len());
    for task in &tasks {
        let image = self_harness::sandbox::image::ImageSpec::for_task(task);
        engine.ensure_image(&image, &mut |_| {}).await.expect("task image");
    }
    harbor_oracle(&root, &tasks, max, &scratch.path().join("warm-up"));

    let mut rows = Vec::new();
    for &parallel in levels {
        eprintln!("parallel {parallel}: local");
        rows.push(
            local(&engine, &client, &harness, &tasks, parallel, &scratch.path().join(format!("local-{parallel}")))
                .await,
        );
        eprintln!("parallel {parallel}: harbor");
        let project = scratch.path().join(format!("harbor-{parallel}"));
        rows.push(harbor(&client, &harness, &tasks, parallel, &project).await);
        eprintln!("parallel {parallel}: harbor oracle");
        rows.push(harbor_oracle(&root, &tasks, parallel, &scratch.path().join(format!("oracle-{parallel}"))));
    }
    print_table(&rows, tasks.len());
}

/// Our runner on this machine; the phases from its marks.
async fn local(
    engine: &Engine,
    client: &Client,
    harness: &Harness,
    tasks: &[Task],
    parallel: usize,
    dir: &Path,
) -> Measured {
    let started = Instant::now();
    let episodes = futures_util::stream::iter(tasks.iter().map(|task| async move {
        let spec = EpisodeSpec {
            task,
            harness,
            client,
            model: "scripted".into(),
            seed: 0,
            attempt: 0,
            dir: dir.join(&task.name),
            time_limit: None,
        };
        let marks: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
        let phase = |p: &str| marks.lock().unwrap().push((p.to_string(), Instant::now()));
        let begun = Instant::now();
        let result = run_episode(engine, &spec, &phase).await.expect("trace written");
        let ended = Instant::now();
        assert!(result.outcome.error_class.counts(), "{}: {:?}", task.name, result.outcome);
        let marks = marks.into_inner().unwrap();
        let at = |name: &str| marks.iter().find(|(p, _)| p == name).map(|(_, t)| *t).expect(name);
        let secs = |from: Instant, to: Instant| to.duration_since(from).as_secs_f64();
        Phases {
            setup: secs(begun, at("agent")),
            agent: secs(at("agent"), at("verifying")),
            verify: secs(at("verifying"), at("removing")),
            remove: secs(at("removing"), ended),
        }
    }))
    .buffer_unordered(parallel)
    .collect()
    .await;
    Measured { backend: "local", parallel, episodes, wall: started.elapsed() }
}

/// The same episodes as Harbor trials, as `--backend harbor` runs them.
async fn harbor(client: &Client, harness: &Harness, tasks: &[Task], parallel: usize, project: &Path) -> Measured {
    let root = common::repo_root();
    let store = Store::at(project);
    let jobs_dir = store.root().join("harbor-jobs");
    let backend = Backend::Harbor(harbor::Harbor {
        program: root.join(".venv-harbor/bin/harbor"),
        environment: "offline-docker".into(),
        environment_kwargs: Vec::new(),
        parallel,
        jobs_dir: jobs_dir.clone(),
        integration: root.join("integrations/harbor"),
        binary: PathBuf::from(env!("CARGO_BIN_EXE_self-harness")),
    });
    let runner = Runner {
        backend: &backend,
        client,
        model: "scripted".into(),
        store,
        parallel,
        time_limit: None,
        on_episode: &|_| {},
    };
    let jobs: Vec<(&Task, u64)> = tasks.iter().map(|t| (t, 0)).collect();
    let started = Instant::now();
    let episodes = runner.run_all(harness, &jobs).await.expect("harbor batch");
    let wall = started.elapsed();
    for episode in &episodes {
        assert!(episode.counts(), "{}: {:?}", episode.task, episode.outcome);
    }
    Measured { backend: "harbor", parallel, episodes: trial_phases(&jobs_dir), wall }
}

/// Harbor's oracle agent on the tasks, `parallel` trials at once.
fn harbor_oracle(root: &Path, tasks: &[Task], parallel: usize, jobs: &Path) -> Measured {
    let config = json!({
        "job_name": "oracle",
        "jobs_dir": jobs,
        "n_concurrent_trials": parallel,
        "quiet": true,
        "environment": {"import_path": self_harness::harbor::OFFLINE_DOCKER_IMPORT_PATH, "delete": true},
        "agents": [{"name": "oracle"}],
        "tasks": tasks.iter().map(|t| json!({"path": t.dir})).collect::<Vec<_>>(),
    });
    std::fs::create_dir_all(jobs).unwrap();
    let config_path = jobs.join("oracle.json");
    std::fs::write(&config_path, config.to_string()).unwrap();
    let started = Instant::now();
    let status = std::process::Command::new(root.join(".venv-harbor/bin/harbor"))
        .args(["run", "--yes", "--quiet", "--config"])
        .arg(&config_path)
        .env("PYTHONPATH", root.join("integrations/harbor"))
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .stdout(std::process::Stdio::null())
        .status()
        .expect("run harbor");
    let wall = started.elapsed();
    assert!(status.success(), "harbor run (oracle) failed");
    Measured { backend: "harbor oracle", parallel, episodes: trial_phases(jobs), wall }
}

/// The phases of every trial under `jobs` (one level of job folders), from Harbor's
/// `result.json`: setup is the trial's start to the agent's, remove the verifier's end to
/// the trial's.
fn trial_phases(jobs: &Path) -> Vec<Phases> {
    let mut phases = Vec::new();
    for job in std::fs::read_dir(jobs).unwrap().flatten().filter(|e| e.path().is_dir()) {
        for trial in std::fs::read_dir(job.path()).unwrap().flatten().filter(|e| e.path().is_dir()) {
            let text = std::fs::read_to_string(trial.path().join("result.json")).expect("a trial's result.json");
            let result: Value = serde_json::from_str(&text).unwrap();
            let at = |path: &[&str]| -> SystemTime {
                let text = path.iter().fold(&result, |v, k| &v[*k]).as_str().unwrap_or_else(|| panic!("{path:?}"));
                humantime::parse_rfc3339_weak(text).unwrap()
            };
            let secs = |from: SystemTime, to: SystemTime| to.duration_since(from).unwrap_or_default().as_secs_f64();
            let agent_start = at(&["agent_execution", "started_at"]);
            let agent_end = at(&["agent_execution", "finished_at"]);
            let verify_start = at(&["verifier", "started_at"]);
            let verify_end = at(&["verifier", "finished_at"]);
            phases.push(Phases {
                setup: secs(at(&["started_at"]), agent_start),
                // What lies between the agent and the verifier (Harbor copying logs out)
                // counts as the agent's.
                agent: secs(agent_start, verify_start.max(agent_end)),
                verify: secs(verify_start, verify_end),
                remove: secs(verify_end, at(&["finished_at"])),
            });
        }
    }
    phases
}

fn print_table(rows: &[Measured], tasks: usize) {
    println!(
        "episode backends: {tasks} easy starter tasks per batch, instant scripted model (one turn: `true`, done), \
         offline Docker for Harbor; seconds per episode (means), throughput over the batch's wall time"
    );
    println!(
        "| backend       | parallel | episodes | setup s | agent s | verify s | remove s | episode s | wall s | episodes/min |"
    );
    println!(
        "|---------------|----------|----------|---------|---------|----------|----------|-----------|--------|--------------|"
    );
    for row in rows {
        let n = row.episodes.len().max(1) as f64;
        let mean = |f: fn(&Phases) -> f64| row.episodes.iter().map(f).sum::<f64>() / n;
        let wall = row.wall.as_secs_f64();
        println!(
            "| {:<13} | {:>8} | {:>8} | {:>7.2} | {:>7.2} | {:>8.2} | {:>8.2} | {:>9.2} | {:>6.1} | {:>12.1} |",
            row.backend,
            row.parallel,
            row.episodes.len(),
            mean(|p| p.setup),
            mean(|p| p.agent),
            mean(|p| p.verify),
            mean(|p| p.remove),
            mean(Phases::total),
            wall,
            row.episodes.len() as f64 * 60.0 / wall,
        );
    }
}
