//! Harbor as an episode backend: a batch of episodes run as Harbor trials, on any of
//! Harbor's environments (Docker here; Daytona, Modal, GKE, … with the user's own
//! credentials), and read back into the store exactly as local episodes are kept.
//!
//! A batch becomes one Harbor job per (seed, attempt) group of tasks: the job config names
//! the tasks, our agent class (`integrations/harbor/`, which runs `self-harness act
//! --stdio` per trial) with the harness and the seed, the environment and the concurrency.
//! While `harbor run` works, every trial that finishes is read back at once
//! ([`trial::read_trial`] for Harbor's reward and errors, our `agent/trace.jsonl` for the
//! turns) and written as the episode's trace, with the reward and error class filled in,
//! at the path the caller keys it by. So a killed job loses only the trials in flight, and
//! the next batch submits just what is missing — the same resume as a killed local run.
//! Harbor's own failures (an environment that would not start, a verifier without a
//! reward, a timeout) become our error classes; trials Harbor never ran are
//! infrastructure errors, re-run and never counted.

pub mod trial;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::Harness;
use crate::task::Task;
use crate::trace::{self, EpisodeErrorKind, Header, Outcome, TraceWriter};

/// Our agent class, as Harbor imports it.
pub const AGENT_IMPORT_PATH: &str = "self_harness_harbor:SelfHarnessAgent";
/// Harbor's Docker environment for hosts without a registry (`integrations/harbor/`).
pub const OFFLINE_DOCKER_IMPORT_PATH: &str = "self_harness_harbor:OfflineDockerEnvironment";
/// How often the job folder is looked at for finished trials.
const POLL: Duration = Duration::from_secs(2);

/// Where and how Harbor runs the episodes.
#[derive(Debug, Clone)]
pub struct Harbor {
    /// The `harbor` program.
    pub program: PathBuf,
    /// Harbor's environment: a type (`docker`, `daytona`, `modal`, `gke`, …),
    /// `offline-docker` (ours, for hosts without a registry), or an import path.
    pub environment: String,
    /// Passed through to the environment (`--ek key=value`).
    pub environment_kwargs: Vec<(String, String)>,
    /// Trials at once.
    pub parallel: usize,
    /// Where the job folders go.
    pub jobs_dir: PathBuf,
    /// The folder holding the `self_harness_harbor` package (put on `PYTHONPATH`).
    pub integration: PathBuf,
    /// The `self-harness` binary the agent class starts.
    pub binary: PathBuf,
}

/// One episode to run: the trace goes to `dir`, as a local episode's would.
pub struct Submission<'a> {
    pub task: &'a Task,
    pub seed: u64,
    pub attempt: u32,
    pub dir: PathBuf,
}

/// What a batch was run with.
pub struct Batch<'a> {
    pub harness: &'a Harness,
    /// The model the agent asks for, and its OpenAI-compatible endpoint (the agent gets
    /// both as OPENAI_MODEL and OPENAI_BASE_URL; its key, from the usual variable).
    pub model: &'a str,
    pub endpoint: &'a str,
    /// A cap on each episode's agent time below the task's own.
    pub time_limit: Option<Duration>,
}

/// One episode read back.
#[derive(Debug, Clone)]
pub struct Finished {
    /// Its index in the submissions.
    pub index: usize,
    pub trace: PathBuf,
    pub outcome: Outcome,
}

/// Why Harbor cannot run some of `tasks` (`None` when it can run them all). Harbor judges
/// a trial by the task's `tests/test.sh` in the trial's own environment; a task judged by
/// reference commands (`judge = "intercode"`) needs a second container of its image, which
/// Harbor does not give.
pub fn cannot_run(tasks: &[Task]) -> Option<String> {
    let judged = tasks.iter().filter(|t| matches!(t.verifier.reward, crate::task::RewardSource::Reference(_)));
    let names: Vec<&str> = judged.map(|t| t.name.as_str()).collect();
    let first = names.first()?;
    Some(format!(
        "{} task(s) ({first}{}) are judged by reference commands (judge = \"intercode\"), which needs a second \
         container of the task's image that Harbor does not give: run them without --backend harbor",
        names.len(),
        if names.len() > 1 { ", …" } else { "" }
    ))
}

impl Harbor {
    /// `harbor` from the repository's `.venv-harbor` (as `scripts/setup-harbor.sh` makes
    /// it; the repository is found upwards from `here` or from this program, which is built
    /// in it) or `HARBOR` when set, with the integration package beside it
    /// (`SELF_HARNESS_HARBOR_PACKAGE` overrides); the jobs under `jobs_dir`.
    pub fn locate(here: &Path, environment: String, parallel: usize, jobs_dir: PathBuf) -> Result<Harbor, String> {
        let binary = std::env::current_exe().map_err(|e| format!("cannot find this program's path: {e}"))?;
        let is_root = |dir: &&Path| dir.join("integrations/harbor/self_harness_harbor").is_dir();
        let root = here.ancestors().find(is_root).or_else(|| binary.ancestors().find(is_root));
        let program = match (std::env::var_os("HARBOR"), root) {
            (Some(program), _) => PathBuf::from(program),
            (None, Some(root)) if root.join(".venv-harbor/bin/harbor").is_file() => {
                root.join(".venv-harbor/bin/harbor")
            }
            _ => {
                return Err("Harbor is not installed: run scripts/setup-harbor.sh (or set HARBOR to its program)".into())
            }
        };
        let integration = match (std::env::var_os("SELF_HARNESS_HARBOR_PACKAGE"), root) {
            (Some(dir), _) => PathBuf::from(dir),
            (None, Some(root)) => root.join("integrations/harbor"),
            (None, None) => {
                return Err("the Harbor agent package (integrations/harbor/) is not found above this folder or this \
                            program; set SELF_HARNESS_HARBOR_PACKAGE to it"
                    .into())
            }
        };
        Ok(Harbor { program, environment, environment_kwargs: Vec::new(), parallel, jobs_dir, integration, binary })
    }

    /// Runs the submissions as Harbor trials; `on_episode` hears of each as it is read
    /// back. Every submission comes back: one Harbor never ran is an infrastructure error
    /// (its trace says why). Fails only when a trace cannot be written or Harbor cannot be
    /// started.
    pub async fn run(
        &self,
        batch: &Batch<'_>,
        submissions: &[Submission<'_>],
        on_episode: &(dyn Fn(&Finished) + Sync),
    ) -> std::io::Result<Vec<Finished>> {
        let mut groups: BTreeMap<(u64, u32), Vec<usize>> = BTreeMap::new();
        for (index, submission) in submissions.iter().enumerate() {
            groups.entry((submission.seed, submission.attempt)).or_default().push(index);
        }
        let mut done: BTreeMap<usize, Finished> = BTreeMap::new();
        for ((seed, attempt), indices) in groups {
            let job = self.run_job(batch, submissions, seed, attempt, &indices, &mut done, on_episode).await?;
            for &index in &indices {
                if let std::collections::btree_map::Entry::Vacant(slot) = done.entry(index) {
                    let detail = format!("Harbor ran no trial for it (job {}): {}", job.folder.display(), job.failure);
                    let finished = write_episode(batch, &submissions[index], index, None, missing(detail))?;
                    on_episode(&finished);
                    slot.insert(finished);
                }
            }
        }
        Ok(done.into_values().collect())
    }

    /// One Harbor job: the tasks `indices` with one seed, followed until `harbor` exits.
    #[allow(clippy::too_many_arguments)]
    async fn run_job(
        &self,
        batch: &Batch<'_>,
        submissions: &[Submission<'_>],
        seed: u64,
        attempt: u32,
        indices: &[usize],
        done: &mut BTreeMap<usize, Finished>,
        on_episode: &(dyn Fn(&Finished) + Sync),
    ) -> std::io::Result<JobRun> {
        std::fs::create_dir_all(&self.jobs_dir)?;
        let name = format!("{}-s{seed}-a{attempt}-{}", batch.harness.version(), std::process::id());
        let name = format!("{name}-{}", chrono_stamp());
        let folder = self.jobs_dir.join(&name);
        let config = self.job_config(batch, submissions, seed, attempt, indices, &name);
        let config_path = self.jobs_dir.join(format!("{name}.json"));
        crate::util::write_atomic(&config_path, serde_json::to_string_pretty(&config)?.as_bytes())?;

        let log = std::fs::File::create(self.jobs_dir.join(format!("{name}.log")))?;
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(["run", "--config"])
            .arg(&config_path)
            .args(["--yes", "--quiet"])
            .env("PYTHONPATH", python_path(&self.integration))
            .env("SELF_HARNESS_BIN", &self.binary)
            .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
            .env("NO_COLOR", "1")
            .env(crate::config::ENV_BASE_URL, batch.endpoint)
            .env(crate::config::ENV_MODEL, batch.model)
            .env_remove(crate::config::ENV_SELF_HARNESS_MODEL)
            .stdin(std::process::Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .process_group(0);
        let mut child = command.spawn().map_err(|e| {
            std::io::Error::new(e.kind(), format!("cannot start Harbor ({}): {e}", self.program.display()))
        })?;
        // Harbor is stopped (SIGINT to its group: it removes its environments) if this
        // future is dropped, e.g. on Ctrl-C.
        let mut stop = StopOnDrop(child.id());
        let by_task: BTreeMap<&str, usize> = indices.iter().map(|&i| (submissions[i].task.name.as_str(), i)).collect();
        let status = loop {
            let exited = tokio::time::timeout(POLL, child.wait()).await;
            self.collect(batch, submissions, &folder, &by_task, done, on_episode)?;
            if let Ok(status) = exited {
                stop.0 = None;
                break status?;
            }
        };
        let failure = if status.success() {
            "it ended without a result for this task".to_string()
        } else {
            let log = std::fs::read_to_string(self.jobs_dir.join(format!("{name}.log"))).unwrap_or_default();
            let tail: Vec<&str> = log.lines().filter(|l| !l.trim().is_empty()).rev().take(3).collect();
            format!("harbor exited with {status}: {}", tail.into_iter().rev().collect::<Vec<_>>().join(" | "))
        };
        Ok(JobRun { folder, failure })
    }

    fn job_config(
        &self,
        batch: &Batch<'_>,
        submissions: &[Submission<'_>],
        seed: u64,
        attempt: u32,
        indices: &[usize],
        name: &str,
    ) -> Value {
        let mut kwargs = json!({
            "harness": batch.harness.dir(),
            "seed": seed,
            "attempt": attempt,
            "binary": self.binary,
        });
        if let Some(limit) = batch.time_limit {
            kwargs["time_limit_sec"] = limit.as_secs().into();
        }
        let env_kwargs: serde_json::Map<String, Value> =
            self.environment_kwargs.iter().map(|(k, v)| (k.clone(), Value::String(v.clone()))).collect();
        let mut environment = json!({"kwargs": env_kwargs, "delete": true});
        match self.environment.as_str() {
            "offline-docker" => environment["import_path"] = OFFLINE_DOCKER_IMPORT_PATH.into(),
            path if path.contains(':') => environment["import_path"] = path.into(),
            kind => environment["type"] = kind.into(),
        }
        json!({
            "job_name": name,
            "jobs_dir": self.jobs_dir,
            "n_concurrent_trials": self.parallel.max(1),
            "quiet": true,
            "environment": environment,
            "agents": [{"import_path": AGENT_IMPORT_PATH, "model_name": batch.model, "kwargs": kwargs}],
            "tasks": indices.iter().map(|&i| json!({"path": submissions[i].task.dir})).collect::<Vec<_>>(),
        })
    }

    /// Reads back every trial of `folder` that has finished and is not read yet.
    fn collect(
        &self,
        batch: &Batch<'_>,
        submissions: &[Submission<'_>],
        folder: &Path,
        by_task: &BTreeMap<&str, usize>,
        done: &mut BTreeMap<usize, Finished>,
        on_episode: &(dyn Fn(&Finished) + Sync),
    ) -> std::io::Result<()> {
        let Ok(entries) = std::fs::read_dir(folder) else { return Ok(()) };
        for entry in entries.flatten() {
            let dir = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            let result = match trial::read_trial(folder, &dir) {
                Ok(result) if result.finished => result,
                Ok(_) => continue,
                Err(problems) => {
                    tracing::warn!("{}", problems.join("; "));
                    continue;
                }
            };
            let Some(&index) = by_task.get(result.task.as_str()) else { continue };
            if done.contains_key(&index) {
                continue;
            }
            let ours = dir.join("agent").join(trace::FILE_NAME);
            let finished = write_episode(batch, &submissions[index], index, Some(&ours), result.outcome)?;
            on_episode(&finished);
            done.insert(index, finished);
        }
        Ok(())
    }
}

struct JobRun {
    folder: PathBuf,
    /// Why a trial may be missing.
    failure: String,
}

/// Writes the episode's trace at the submission's folder: the turns of our trace from the
/// trial (when the agent got that far) and an outcome that joins ours (turns, tokens, how
/// the agent stopped) with Harbor's (the reward, and its error when it had one).
fn write_episode(
    batch: &Batch<'_>,
    submission: &Submission<'_>,
    index: usize,
    ours: Option<&Path>,
    harbor: Outcome,
) -> std::io::Result<Finished> {
    let read = ours.and_then(|path| trace::read(path).ok());
    let header = read.as_ref().map(|t| t.header.clone()).unwrap_or_else(|| Header {
        schema: trace::SCHEMA_VERSION,
        task: submission.task.name.clone(),
        harness: batch.harness.name().to_string(),
        harness_version: batch.harness.version().to_string(),
        model: batch.model.to_string(),
        seed: submission.seed,
        attempt: submission.attempt,
        started_at: harbor.finished_at.clone(),
    });
    let mut writer = TraceWriter::create(&submission.dir, &header)?;
    let mut outcome = harbor;
    match read {
        Some(trace) => {
            for turn in &trace.turns {
                writer.turn(turn)?;
            }
            if let Some(agent) = trace.outcome {
                // Harbor's error wins (it knows the environment and the verifier); without
                // one, the agent's own reason for stopping stands.
                if outcome.error_class == EpisodeErrorKind::None {
                    outcome.error_class = agent.error_class;
                    outcome.error_detail = agent.error_detail;
                }
                outcome.turns = agent.turns;
                outcome.tokens_in = agent.tokens_in;
                outcome.tokens_out = agent.tokens_out;
                outcome.cost_usd = agent.cost_usd;
                outcome.duration_ms = agent.duration_ms;
            }
        }
        None if outcome.error_class.counts() => {
            // A verdict without our trace: the agent never ran, so nothing can be counted.
            outcome.error_class = EpisodeErrorKind::InfrastructureError;
            outcome.error_detail.get_or_insert_with(|| "the trial has no trace of our agent".into());
        }
        None => {}
    }
    if outcome.finished_at.is_empty() {
        outcome.finished_at = crate::util::now_rfc3339();
    }
    let trace = writer.finish(&outcome)?;
    Ok(Finished { index, trace, outcome })
}

/// The outcome of an episode Harbor never ran.
fn missing(detail: String) -> Outcome {
    Outcome {
        reward: None,
        passed: false,
        tests: Vec::new(),
        judgement: None,
        error_class: EpisodeErrorKind::InfrastructureError,
        error_detail: Some(detail),
        turns: 0,
        tokens_in: 0,
        tokens_out: 0,
        cost_usd: 0.0,
        duration_ms: 0,
        verify_ms: None,
        limits: None,
        finished_at: String::new(),
    }
}

fn python_path(integration: &Path) -> std::ffi::OsString {
    let mut path = integration.as_os_str().to_owned();
    if let Some(existing) = std::env::var_os("PYTHONPATH") {
        path.push(":");
        path.push(existing);
    }
    path
}

/// `20261203T101500Z`, for job names.
fn chrono_stamp() -> String {
    crate::util::now_rfc3339().replace(['-', ':'], "")
}

/// Sends SIGINT to Harbor's process group when dropped while it still runs.
struct StopOnDrop(Option<u32>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            // SAFETY: kill(2) on a process group we started; a group already gone is ESRCH.
            unsafe {
                libc::kill(-(pid as i32), libc::SIGINT);
            }
        }
    }
}
