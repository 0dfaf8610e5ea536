//! The work behind the editor's commands: each function turns the editor's settings into
//! the application layer's set-up ([`Setup`], the one the command line builds from its
//! flags) and options, calls the operation or the stage's one entry — the same one the CLI
//! and the loop call, so the same store, episode cache, records and options — and reports
//! to a job. The language server never runs a container itself; it calls these, and these
//! call the application layer and the stages.

use std::path::PathBuf;

use tokio::sync::OnceCell;

use super::jobs::{JobHandle, PassRate};
use super::settings::Settings;
use crate::app::eval::Plan;
use crate::app::{validate, Choices, Setup};
use crate::episodes::Episode;
use crate::evolve::LoopOptions;
use crate::harness::Harness;
use crate::llm::Client;
use crate::sandbox::Engine;
use crate::splits::Split;
use crate::stages;
use crate::stages::validate::Progress;
use crate::store::Store;

/// Where the commands act: the project folder (its store) and the editor's settings.
#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub settings: Settings,
}

impl Project {
    pub fn store(&self) -> Store {
        Store::at(&self.root)
    }

    pub fn harness_dir(&self) -> PathBuf {
        let dir = self.settings.harness_dir(&self.root);
        dir.canonicalize().unwrap_or(dir)
    }
}

static ENGINE: OnceCell<Engine> = OnceCell::const_new();

/// The Docker engine, connected once per server.
pub async fn engine() -> Result<&'static Engine, String> {
    ENGINE.get_or_try_init(Engine::connect).await.map_err(|e| e.to_string())
}

/// Removes every container this server started (at shutdown).
pub async fn remove_containers() {
    if let Some(engine) = ENGINE.get() {
        if let Err(e) = crate::sandbox::reaper::remove_owned(engine).await {
            tracing::warn!("could not remove this server's containers: {e}");
        }
    }
}

/// The Harbor backend when the project's `[backend]` asks for one (the editor has no flags).
fn harbor_backend(project: &Project, store: &Store) -> Result<Option<crate::harbor::Harbor>, String> {
    let config = project.settings.project_config(&project.root).map_err(|e| e.to_string())?.backend;
    let flags = crate::app::HarborFlags::default();
    crate::app::harbor(&config, flags, &project.root, store, project.settings.parallel()).map_err(|e| e.to_string())
}

/// The one set-up every front end uses, from the editor's settings (the editor has no flags).
async fn setup(project: &Project) -> Result<Setup, String> {
    if let Some(why) = project.settings.refused() {
        return Err(why);
    }
    let settings = &project.settings;
    let config = settings.model_config(&project.root).map_err(|e| e.to_string())?;
    let model = config.model.clone();
    let client = Client::new(config).map_err(|e| e.to_string())?;
    let proposer_model = proposer_model(project, &client)?;
    let store = project.store();
    let harbor = harbor_backend(project, &store)?;
    let choices = Choices {
        tasks: settings.tasks_dir(&project.root),
        store,
        client,
        model,
        proposer_model,
        harbor,
        parallel: settings.parallel(),
        time_limit: settings.episode_timeout_secs.map(std::time::Duration::from_secs),
        repeats: settings.repeats(),
        seed: settings.seed(),
    };
    let local = async { engine().await.cloned() };
    Setup::new(choices, local).await.map_err(|e| e.to_string())
}

/// The proposer's client, sharing `acting`'s accounting.
fn proposer_model(project: &Project, acting: &Client) -> Result<Client, String> {
    let config = project.settings.proposer_config(&project.root).map_err(|e| e.to_string())?;
    Ok(Client::new(config).map_err(|e| e.to_string())?.with_usage(acting.usage().clone()))
}

/// Counts finished episodes for a job's progress.
fn counter(job: &JobHandle, total: usize, what: &str) -> impl Fn(&Episode) + Sync {
    let done = std::sync::atomic::AtomicU64::new(0);
    let passed = std::sync::atomic::AtomicU64::new(0);
    let (job, what) = (job.clone(), what.to_string());
    move |e: &Episode| {
        let n = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
        let p = passed.fetch_add(u64::from(e.outcome.passed), std::sync::atomic::Ordering::Relaxed)
            + u64::from(e.outcome.passed);
        job.report(format!("{what} {n}/{total} · {p} passed"), n, total as u64, None);
    }
}

/// Evaluates the harness on every task of the split (episodes shared with the loop and the
/// command line's `eval`), kept in the store as an evaluation: its pass rate.
pub async fn eval(project: Project, job: JobHandle) -> Result<String, String> {
    let setup = setup(&project).await?;
    let harness = Harness::open(project.harness_dir()).map_err(|e| e.to_string())?;
    let splits = [Split::Mine, Split::Validate, Split::Test];
    let total = setup.episodes(&splits);
    let on_episode = counter(&job, total, "eval");
    let ctx = setup.context(&on_episode, &|_| {});
    let plan =
        Plan { harness: &harness, tasks: setup.tasks_of(&splits), split: None, repeats: ctx.repeats, seed: ctx.seed };
    let say = |line: &str| job.report(line.to_string(), 0, total as u64, None);
    let evaluation = crate::app::eval::eval(&ctx.runner, &plan, &say).await.map_err(|e| e.to_string())?;
    Ok(format!("harness {}: {}/{} passed", harness.version(), evaluation.passed, evaluation.counted))
}

/// Mines the harness's weaknesses on the mine split into the store.
pub async fn mine(project: Project, job: JobHandle) -> Result<String, String> {
    let setup = setup(&project).await?;
    let harness = Harness::open(project.harness_dir()).map_err(|e| e.to_string())?;
    let total = setup.episodes(&[Split::Mine]);
    let on_episode = counter(&job, total, "mine");
    let say = |line: &str| job.report(line.to_string(), total as u64, total as u64, None);
    let ctx = setup.context(&on_episode, &say);
    let mined = stages::mine::mine(&ctx, &harness).await.map_err(|e| e.to_string())?;
    Ok(format!("{} weakness(es) from {} episodes", mined.weaknesses.len(), mined.episodes.len()))
}

/// Proposals for one weakness into the store.
pub async fn propose(project: Project, weakness: String, job: JobHandle) -> Result<String, String> {
    if let Some(why) = project.settings.refused() {
        return Err(why);
    }
    let config = project.settings.proposer_config(&project.root).map_err(|e| e.to_string())?;
    let client = Client::new(config).map_err(|e| e.to_string())?;
    let store = project.store();
    let harness = Harness::open(project.harness_dir()).map_err(|e| e.to_string())?;
    let found = stages::mine::saved(&store)?.into_iter().find(|w| w.id == weakness);
    let weakness = found.ok_or_else(|| format!("no weakness {weakness} in the store"))?;
    job.report(format!("asking the model for fixes of {}", weakness.id), 0, 1, None);
    let options = project.settings.propose_options();
    let proposed =
        stages::propose::propose(&client, &store, &harness, std::slice::from_ref(&weakness), &options, &|_| None)
            .await?;
    if let Some(error) = proposed.model_error {
        return Err(error);
    }
    let mut message = format!("{} proposal(s) for {}", proposed.proposals.len(), weakness.id);
    let (declined, discarded): (Vec<_>, Vec<_>) =
        proposed.discarded.iter().partition(|(_, reason)| reason.starts_with("declined: "));
    for (_, reason) in declined {
        message.push_str(&format!("; the model {reason}"));
    }
    if !discarded.is_empty() {
        message.push_str(&format!("; {} discarded", discarded.len()));
    }
    Ok(message)
}

/// Validates a candidate; the decision goes to the store (validations.jsonl).
pub async fn validate(project: Project, target: validate::Target, job: JobHandle) -> Result<String, String> {
    let setup = setup(&project).await?;
    let candidate = validate::candidate(&setup.store, target).map_err(|e| e.to_string())?;
    let options = project.settings.validate_options();
    let total = setup.episodes(options.policy.splits());
    // The job counts the parent's episodes, then reports the validation's own progress.
    let parent_done = counter(&job, total, "parent");
    let on_episode = |side: validate::Side, e: &Episode| {
        if side == validate::Side::Parent {
            parent_done(e)
        }
    };
    let on_progress = |p: &Progress| {
        let rate = |passed: u32| if p.done == 0 { 0.0 } else { f64::from(passed) / p.done as f64 };
        job.report(
            format!(
                "validate {}/{} · parent {}/{} · candidate {}/{}",
                p.done, p.total, p.parent_passed, p.done, p.candidate_passed, p.done
            ),
            p.done as u64,
            total as u64,
            Some(PassRate { parent: rate(p.parent_passed), candidate: rate(p.candidate_passed) }),
        )
    };
    let validation = validate::validate(&setup, &candidate, options, &on_episode, &|_| {}, &on_progress).await;
    let record = validation.map_err(|e| e.to_string())?.record;
    Ok(format!("{}: {}", super::marks::label(&record), record.decision.reason))
}

/// The loop, unattended (auto-apply), until it ends or the job is cancelled.
pub async fn auto_apply(project: Project, iterations: u32, job: JobHandle) -> Result<String, String> {
    let setup = setup(&project).await?;
    let settings = &project.settings;
    let options = LoopOptions {
        harness_dir: project.harness_dir(),
        iterations,
        auto_apply: true,
        weaknesses: settings.weaknesses.unwrap_or(LoopOptions::DEFAULT_WEAKNESSES),
        propose: settings.propose_options(),
        validate: settings.validate_options(),
        finalists: settings.finalists.unwrap_or(LoopOptions::DEFAULT_FINALISTS),
        screen_round: crate::evolve::screen::MIN_ROUND,
        budget_tokens: settings.budget_tokens,
        budget_usd: settings.budget_usd,
    };
    let say = |line: &str| job.report(line.to_string(), 0, 0, None);
    let on_episode = |e: &Episode| {
        job.report(format!("{} s{}: {}", e.task, e.seed, if e.outcome.passed { "pass" } else { "fail" }), 0, 0, None)
    };
    let ctx = setup.context(&on_episode, &say);
    let end = crate::evolve::run(&options, &ctx).await.map_err(|e| e.to_string())?;
    Ok(format!("loop finished: {} (harness {})", end.reason, end.harness_version))
}
