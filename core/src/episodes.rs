//! Episodes of the stages, each run at most once, and what they add up to.
//!
//! An episode is identified by (harness version, model, time cap, task content, seed) and
//! lives at a path derived from that key:
//! `.self-harness/runs/loop-<version>-<setup>/<task>-<content>/s<seed>/trace.jsonl`, where
//! setup hashes the model's name and the time cap (sampling is part of the harness version)
//! and content hashes the task folder. A finished trace there *is* the result, so a loop
//! that crashed and restarts reuses every finished episode and re-runs only the one in
//! flight (a `.partial` trace): nothing is lost, nothing counted twice; and two processes
//! asking for the same episode take turns on its folder's lock, so the second reuses what
//! the first ran. Episodes that end in an infrastructure error (Docker, the host, the model
//! endpoint failing) are moved aside and re-run after a wait, three attempts at most; they
//! are never counted. [`score`] adds episodes up into pass counts per task ([`Score`]) and
//! what they cost ([`Spend`]); an [`Evaluation`] is what `eval` measured in one run, kept
//! beside its traces.

use std::collections::BTreeMap;
use std::path::PathBuf;

use futures_util::StreamExt;
use serde::{Deserialize, Serialize};

use crate::agent::{self, EpisodeSpec};
use crate::harness::Harness;
use crate::llm::Client;
use crate::sandbox::Engine;
use crate::store::{RunDir, Store};
use crate::task::Task;
use crate::trace::{self, Outcome};

/// Attempts per episode when the infrastructure fails.
const ATTEMPTS: u32 = 3;

/// The wait before re-running an episode the infrastructure failed, after the first and
/// second failure: long enough for a restarted Docker engine or model server to be back.
const BACKOFF: [std::time::Duration; 2] = [std::time::Duration::from_secs(5), std::time::Duration::from_secs(20)];

/// The result of one episode.
#[derive(Debug, Clone)]
pub struct Episode {
    pub task: String,
    pub seed: u64,
    pub trace: PathBuf,
    pub outcome: Outcome,
}

impl Episode {
    /// Whether it counts (not an infrastructure error).
    pub fn counts(&self) -> bool {
        self.outcome.error_class.counts()
    }
}

/// Where episodes run.
pub enum Backend {
    /// In containers of this machine's Docker engine (the default).
    Local(Engine),
    /// As Harbor trials on one of its environments (`--backend harbor`), kept at the same
    /// paths, so everything above sees no difference. Needs no Docker engine here unless
    /// Harbor's environment is Docker.
    Harbor(crate::harbor::Harbor),
}

/// Runs episodes for the stages (the loop's, the command line's and the editor's alike).
pub struct Runner<'a> {
    pub backend: &'a Backend,
    pub client: &'a Client,
    pub model: String,
    pub store: Store,
    pub parallel: usize,
    /// A cap on each episode's agent time (see `EpisodeSpec::time_limit`).
    pub time_limit: Option<std::time::Duration>,
    /// Called with a line per finished episode.
    pub on_episode: &'a (dyn Fn(&Episode) + Sync),
}

impl Runner<'_> {
    /// The folder holding the episodes of one harness version with this model and time cap.
    pub fn run_name(&self, version: &str) -> String {
        run_name(version, &self.model, self.time_limit)
    }

    /// Runs (or reuses) the episode of `harness` for every (task, seed) key, `parallel` at a
    /// time; the key (with the harness version, model and time cap) is the episode's folder.
    pub async fn run_all(&self, harness: &Harness, keys: &[(&Task, u64)]) -> std::io::Result<Vec<Episode>> {
        let engine = match self.backend {
            Backend::Local(engine) => engine,
            Backend::Harbor(harbor) => return self.run_all_on_harbor(harbor, harness, keys).await,
        };
        // Made into a list first: a stream over a borrowing closure is not `Send` for every
        // lifetime, which spawning the loop (the editor's jobs do) requires.
        let mut episodes = Vec::with_capacity(keys.len());
        for &(task, seed) in keys {
            episodes.push(self.run_one(engine, harness, task, seed));
        }
        futures_util::stream::iter(episodes)
            .buffered(self.parallel.max(1))
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect()
    }

    /// The episodes of `keys` that [`Runner::run_all`] will reuse rather than run: finished
    /// here before, and counted. Read without taking their locks, so an episode another
    /// process finishes meanwhile is reused all the same, only not listed.
    pub fn finished(&self, harness: &Harness, keys: &[(&Task, u64)]) -> Vec<Episode> {
        let finished = |&(task, seed): &(&Task, u64)| {
            let trace = self.episode_dir(harness, task, seed).join(trace::FILE_NAME);
            let outcome = trace::read(&trace).ok()?.outcome?;
            Some(Episode { task: task.name.clone(), seed, trace, outcome }).filter(Episode::counts)
        };
        keys.iter().filter_map(finished).collect()
    }

    /// The folder of the (harness version, task, seed) episode.
    fn episode_dir(&self, harness: &Harness, task: &Task, seed: u64) -> PathBuf {
        self.store
            .run_dir(&self.run_name(harness.version()))
            .join(format!("{}-{}", task.name, task.content_hash()))
            .join(format!("s{seed}"))
    }

    /// Runs (or reuses) one episode here.
    async fn run_one(&self, engine: &Engine, harness: &Harness, task: &Task, seed: u64) -> std::io::Result<Episode> {
        let dir = self.episode_dir(harness, task, seed);
        // Another process (the editor beside a loop) may be running this very episode: wait
        // for it and reuse its trace, rather than both writing the same `.partial`.
        let waiting = || tracing::info!("waiting for another process running the episode in {}", dir.display());
        let _running = crate::util::FileLock::acquire(&dir.join(".lock"), "an episode", waiting).await?;
        let mut attempt = 0;
        loop {
            if let Some(episode) = reuse(task, seed, &dir, attempt)? {
                return Ok(episode);
            }
            if let Some(wait) = attempt.checked_sub(1).and_then(|a| BACKOFF.get(a as usize)) {
                tokio::time::sleep(*wait).await;
            }
            attempt += 1;
            let spec = EpisodeSpec {
                task,
                harness,
                client: self.client,
                model: self.model.clone(),
                seed,
                attempt: attempt - 1,
                dir: dir.clone(),
                time_limit: self.time_limit,
            };
            let result = agent::run_episode(engine, &spec, &|_| {}).await?;
            let episode = Episode { task: task.name.clone(), seed, trace: result.trace, outcome: result.outcome };
            (self.on_episode)(&episode);
            if episode.counts() || attempt >= ATTEMPTS {
                return Ok(episode);
            }
        }
    }
}

impl Runner<'_> {
    /// [`Runner::run_all`] through Harbor: the episodes not finished yet go out as one
    /// batch of trials, and those the infrastructure failed as another, up to the same
    /// number of attempts as here.
    async fn run_all_on_harbor(
        &self,
        harbor: &crate::harbor::Harbor,
        harness: &Harness,
        keys: &[(&Task, u64)],
    ) -> std::io::Result<Vec<Episode>> {
        let dirs: Vec<PathBuf> = keys.iter().map(|&(task, seed)| self.episode_dir(harness, task, seed)).collect();
        // A job listed twice is one episode: locked once (a second flock from this process
        // would wait for the first forever) and submitted once.
        let unique: std::collections::BTreeSet<&PathBuf> = dirs.iter().collect();
        let mut locks = Vec::with_capacity(unique.len());
        for dir in unique {
            let waiting = || tracing::info!("waiting for another process running the episode in {}", dir.display());
            locks.push(crate::util::FileLock::acquire(&dir.join(".lock"), "an episode", waiting).await?);
        }
        let mut episodes: Vec<Option<Episode>> = vec![None; keys.len()];
        let batch = crate::harbor::Batch {
            harness,
            model: &self.model,
            endpoint: &self.client.config().base_url,
            time_limit: self.time_limit,
        };
        let mut attempt = 0;
        loop {
            let mut pending = Vec::new();
            for (i, &(task, seed)) in keys.iter().enumerate() {
                if episodes[i].is_none() && !pending.iter().any(|&p| dirs[p] == dirs[i]) {
                    match reuse(task, seed, &dirs[i], attempt)? {
                        Some(episode) => episodes[i] = Some(episode),
                        None => pending.push(i),
                    }
                }
            }
            if pending.is_empty() {
                return Ok(episodes.into_iter().flatten().collect());
            }
            if let Some(wait) = attempt.checked_sub(1).and_then(|a| BACKOFF.get(a as usize)) {
                tokio::time::sleep(*wait).await;
            }
            attempt += 1;
            let submissions: Vec<crate::harbor::Submission> = pending
                .iter()
                .map(|&i| crate::harbor::Submission {
                    task: keys[i].0,
                    seed: keys[i].1,
                    attempt: attempt - 1,
                    dir: dirs[i].clone(),
                })
                .collect();
            let on_finished = |finished: &crate::harbor::Finished| {
                let submission = &submissions[finished.index];
                (self.on_episode)(&Episode {
                    task: submission.task.name.clone(),
                    seed: submission.seed,
                    trace: finished.trace.clone(),
                    outcome: finished.outcome.clone(),
                });
            };
            harbor.run(&batch, &submissions, &on_finished).await?;
        }
    }
}

/// The finished episode in `dir` when it counts, or when `attempt` is the last; otherwise
/// (an infrastructure error, not the agent's doing) its trace is moved aside for the
/// record and `None` says to run it again, as does a folder without a finished trace.
fn reuse(task: &Task, seed: u64, dir: &std::path::Path, attempt: u32) -> std::io::Result<Option<Episode>> {
    let path = dir.join(trace::FILE_NAME);
    let Some(outcome) = trace::read(&path).ok().and_then(|found| found.outcome) else { return Ok(None) };
    let episode = Episode { task: task.name.clone(), seed, trace: path.clone(), outcome };
    if episode.counts() || attempt >= ATTEMPTS {
        return Ok(Some(episode));
    }
    std::fs::rename(&path, dir.join(format!("trace.error-{attempt}.jsonl")))?;
    Ok(None)
}

/// `loop-<version>-<setup>`: the folder of the episodes of harness `version` played by
/// `model` under the time cap `time_limit` (setup is a short hash of the two), so that an
/// episode is never reused for another model or cap.
pub fn run_name(version: &str, model: &str, time_limit: Option<std::time::Duration>) -> String {
    use sha2::{Digest, Sha256};
    let cap = time_limit.map_or("none".to_string(), |t| t.as_secs().to_string());
    let setup = hex::encode(Sha256::digest(format!("{model}\0{cap}").as_bytes()));
    format!("loop-{version}-{}", &setup[..8])
}

/// Passes and counted episodes of one task (infrastructure errors are not counted).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskScore {
    pub passed: u32,
    pub counted: u32,
}

/// A harness version's result on a set of tasks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub per_task: BTreeMap<String, TaskScore>,
    pub passed: u32,
    pub counted: u32,
}

impl Score {
    pub fn rate(&self) -> f64 {
        if self.counted == 0 {
            0.0
        } else {
            f64::from(self.passed) / f64::from(self.counted)
        }
    }
}

/// What episodes or model calls spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    pub tokens: u64,
    pub cost_usd: f64,
    pub container_seconds: f64,
}

impl Spend {
    pub fn add(&mut self, other: &Spend) {
        self.tokens += other.tokens;
        self.cost_usd += other.cost_usd;
        self.container_seconds += other.container_seconds;
    }
}

/// Pass counts of the counted episodes, and what all of them spent.
pub fn score(episodes: &[Episode]) -> (Score, Spend) {
    let mut score = Score::default();
    let mut spend = Spend::default();
    for e in episodes {
        spend.tokens += e.outcome.tokens_in + e.outcome.tokens_out;
        spend.cost_usd += e.outcome.cost_usd;
        spend.container_seconds += e.outcome.duration_ms as f64 / 1000.0;
        if !e.counts() {
            continue;
        }
        let task = score.per_task.entry(e.task.clone()).or_default();
        task.counted += 1;
        task.passed += u32::from(e.outcome.passed);
        score.counted += 1;
        score.passed += u32::from(e.outcome.passed);
    }
    (score, spend)
}

/// What `eval` measured in one run, kept as `runs/<run>/run.json`: the report reads it
/// back, so a comparison of harnesses can be regenerated from the store. Its episodes are
/// the runner's (each task row lists its traces), so a second evaluation of the same
/// harness, model, time cap and seeds — or a loop's — reuses them rather than running
/// them again; runs written before that keep their traces in the run folder itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub run: String,
    pub harness: String,
    pub harness_version: String,
    pub model: String,
    /// The harness's sampling temperature.
    #[serde(default)]
    pub temperature: f64,
    /// The split its tasks were, when it ran one.
    #[serde(default)]
    pub split: Option<String>,
    /// Repeat k of every task used seed + k.
    #[serde(default)]
    pub seed: u64,
    /// Episodes per task (`trials` in stores written before the one name).
    #[serde(default = "one", alias = "trials")]
    pub repeats: u32,
    pub pass_rate: f64,
    pub ci95: (f64, f64),
    pub passed: u64,
    pub counted: u64,
    pub infrastructure_errors: u64,
    pub tokens: u64,
    pub cost_usd: f64,
    /// This run's own time: reused episodes take none of it.
    pub wall_seconds: f64,
    /// Episodes found finished in the store and reused rather than run.
    #[serde(default)]
    pub reused: u64,
    pub tasks: Vec<TaskRow>,
}

fn one() -> u32 {
    1
}

/// One task of an [`Evaluation`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskRow {
    pub task: String,
    pub passed: u32,
    pub counted: u32,
    pub errors: u32,
    pub tokens: u64,
    pub seconds: f64,
    /// Its episodes' traces, relative to the store (`.self-harness`), in repeat order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub traces: Vec<PathBuf>,
}

impl Evaluation {
    /// Its passes per task.
    pub fn score(&self) -> Score {
        let per_task = self.tasks.iter().map(|r| (r.task.clone(), TaskScore { passed: r.passed, counted: r.counted }));
        Score { per_task: per_task.collect(), passed: self.passed as u32, counted: self.counted as u32 }
    }

    /// Container time: the episodes' durations added up.
    pub fn container_seconds(&self) -> f64 {
        self.tasks.iter().map(|r| r.seconds).sum()
    }
}

/// The evaluations kept in `store`, oldest first; a `run.json` that cannot be read is named
/// in the errors and left out.
pub fn evaluations(store: &Store) -> (Vec<Evaluation>, Vec<String>) {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(store.runs_dir())
        .map(|dir| dir.flatten().map(|e| e.path().join(RunDir::SUMMARY)).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    paths.sort();
    let (mut found, mut errors) = (Vec::new(), Vec::new());
    for path in paths {
        let read = std::fs::read_to_string(&path).map_err(|e| e.to_string());
        match read.and_then(|text| serde_json::from_str::<Evaluation>(&text).map_err(|e| e.to_string())) {
            Ok(evaluation) => found.push(evaluation),
            Err(e) => errors.push(format!("{}: {e}", path.display())),
        }
    }
    (found, errors)
}
