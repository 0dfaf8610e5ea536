//! The work behind the editor's commands: each function runs one stage exactly as the CLI
//! does (same store, same episode cache, same records), reporting to a job. The language
//! server never runs a container itself; it calls these, and these call the stages.

use std::path::{Path, PathBuf};

use tokio::sync::OnceCell;

use super::jobs::{JobHandle, PassRate};
use super::settings::Settings;
use crate::evolve::episodes::{Episode, Runner};
use crate::evolve::ledger::Split;
use crate::evolve::splits::{load_or_make, Splits};
use crate::evolve::validation::{validate_candidate, Baseline, Progress, ValidateOptions};
use crate::harness::Harness;
use crate::llm::Client;
use crate::propose::{Budget, Proposer, RoundSpec};
use crate::sandbox::Engine;
use crate::store::Store;
use crate::task::Suite;

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

/// What every stage needs, resolved from the project.
struct Context {
    client: Client,
    model: String,
    suite: Suite,
    splits: Splits,
    store: Store,
    settings: Settings,
}

impl Context {
    fn new(project: &Project) -> Result<Context, String> {
        let config = project.settings.model_config(&project.root).map_err(|e| e.to_string())?;
        let model = config.model.clone();
        let client = Client::new(config).map_err(|e| e.to_string())?;
        let tasks = project.settings.tasks_dir(&project.root);
        let suite = Suite::load(&tasks).map_err(|e| format!("{}: {e}", tasks.display()))?;
        if let Some(error) = suite.errors.first() {
            return Err(format!("some tasks do not load: {error}"));
        }
        let store = project.store();
        let splits = load_or_make(&store.root().join("splits.json"), &suite.tasks, project.settings.seed())?;
        Ok(Context { client, model, suite, splits, store, settings: project.settings.clone() })
    }

    fn runner<'a>(&'a self, engine: &'a Engine, on_episode: &'a (dyn Fn(&Episode) + Sync)) -> Runner<'a> {
        Runner {
            engine,
            client: &self.client,
            model: self.model.clone(),
            store: self.store.clone(),
            parallel: self.settings.parallel(),
            time_limit: self.settings.episode_timeout_secs.map(std::time::Duration::from_secs),
            on_episode,
        }
    }

    fn jobs(&self, split: Split) -> Vec<(&crate::task::Task, u64)> {
        let (seed, repeats) = (self.settings.seed(), self.settings.repeats());
        self.splits
            .tasks(split)
            .iter()
            .filter_map(|name| self.suite.tasks.iter().find(|t| &t.name == name))
            .flat_map(|task| (0..repeats).map(move |r| (task, seed + u64::from(r))))
            .collect()
    }
}

fn load(dir: &Path) -> Result<Harness, String> {
    Harness::load(dir).map_err(|d| {
        format!("the harness {} does not load: {}", dir.display(), d.first().map(|d| d.to_string()).unwrap_or_default())
    })
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

/// Runs the harness on every task (episodes shared with the loop): its pass rate.
pub async fn eval(project: Project, job: JobHandle) -> Result<String, String> {
    let ctx = Context::new(&project)?;
    let harness = load(&project.harness_dir())?;
    let jobs: Vec<_> = [Split::Mine, Split::Validate, Split::Test].into_iter().flat_map(|s| ctx.jobs(s)).collect();
    let on_episode = counter(&job, jobs.len(), "eval");
    let episodes =
        ctx.runner(engine().await?, &on_episode).run_all(&harness, &jobs).await.map_err(|e| e.to_string())?;
    let (score, _) = crate::evolve::episodes::score(&episodes);
    Ok(format!("harness {}: {}/{} passed", harness.version(), score.passed, score.counted))
}

/// Mines the harness's weaknesses on the mine split into the store.
pub async fn mine(project: Project, job: JobHandle) -> Result<String, String> {
    let ctx = Context::new(&project)?;
    let harness = load(&project.harness_dir())?;
    let jobs = ctx.jobs(Split::Mine);
    let on_episode = counter(&job, jobs.len(), "mine");
    let episodes =
        ctx.runner(engine().await?, &on_episode).run_all(&harness, &jobs).await.map_err(|e| e.to_string())?;
    job.report("reading failed traces".into(), jobs.len() as u64, jobs.len() as u64, None);
    let traces: Vec<_> =
        episodes.iter().filter_map(|e| crate::trace::read(&e.trace).ok().map(|t| (e.trace.clone(), t))).collect();
    let weaknesses =
        crate::evolve::mining::weaknesses(&ctx.client, &harness, &traces, &ctx.suite.tasks, ctx.settings.seed()).await;
    ctx.store.save_weaknesses(&weaknesses).map_err(|e| e.to_string())?;
    Ok(format!("{} weakness(es) from {} episodes", weaknesses.len(), episodes.len()))
}

/// Proposals for one weakness into the store.
pub async fn propose(project: Project, weakness: String, job: JobHandle) -> Result<String, String> {
    let config = project.settings.model_config(&project.root).map_err(|e| e.to_string())?;
    let client = Client::new(config).map_err(|e| e.to_string())?;
    let store = project.store();
    let harness = load(&project.harness_dir())?;
    let found = store.weaknesses()?.into_iter().find(|w| w.id == weakness);
    let weakness = found.ok_or_else(|| format!("no weakness {weakness} in the store"))?;
    store.snapshot(&harness).map_err(|e| format!("cannot keep a copy of the harness: {e}"))?;
    job.report(format!("asking the model for fixes of {}", weakness.id), 0, 1, None);
    let tasks = Splits::load(&store.root().join("splits.json"))
        .ok()
        .flatten()
        .map(|s| s.tasks(Split::Validate).to_vec())
        .unwrap_or_default();
    let spec = RoundSpec {
        harness: &harness,
        weakness: &weakness,
        candidates: 3,
        proposer: Proposer::Model,
        tasks: &tasks,
        seed: project.settings.seed(),
        budget: Budget::default(),
        candidates_dir: &store.candidates_dir(),
        id_prefix: weakness.id.clone(),
        iteration: 0,
    };
    let round = crate::propose::round(&client, &spec, &[]).await;
    if let Some(error) = round.error {
        return Err(error);
    }
    store.save_proposals(std::slice::from_ref(&weakness.id), &round.proposals)?;
    let mut message = format!("{} proposal(s) for {}", round.proposals.len(), weakness.id);
    if let Some(why) = round.declined {
        message.push_str(&format!("; the model declined: {why}"));
    }
    if !round.discarded.is_empty() {
        message.push_str(&format!("; {} discarded", round.discarded.len()));
    }
    Ok(message)
}

/// What is validated against what.
pub enum Candidate {
    /// A proposal of the store: its candidate folder against its parent.
    Proposal(String),
    /// The working harness folder with the editor's unsaved texts on top (path, text),
    /// against its last committed version.
    Working(Vec<(PathBuf, String)>),
}

/// Validates a candidate; the decision goes to the store (validations.jsonl).
pub async fn validate(project: Project, what: Candidate, job: JobHandle) -> Result<String, String> {
    let ctx = Context::new(&project)?;
    let working = project.harness_dir();
    let (candidate, parent, proposal) = match what {
        Candidate::Proposal(id) => {
            let proposals = ctx.store.proposals()?;
            let p = proposals.iter().find(|p| p.id == id).ok_or_else(|| format!("no proposal {id} in the store"))?;
            // Against the kept copy of the parent, never the working folder: the decision
            // names its parent's folder, from which the marks are worked out later, and the
            // working folder gets the edit (saved by the editor, perhaps mid-validation).
            let parent = ctx.store.proposal_parent(p)?;
            let kept = ctx.store.snapshot(&parent).map_err(|e| format!("cannot keep a copy of the harness: {e}"))?;
            (load(&p.dir)?, load(&kept)?, Some(id))
        }
        Candidate::Working(overlays) => {
            let candidate = snapshot_with(&ctx.store, &working, &overlays)?;
            let parent = committed(&ctx.store, &working)?;
            (candidate, parent, None)
        }
    };
    if candidate.version() == parent.version() {
        return Err("the edited harness is the same as its parent: nothing to validate".into());
    }
    let options = ValidateOptions { policy: ctx.settings.policy(), max_cost_ratio: None };
    let held_out = ctx.jobs(Split::Validate);
    let held_in = if options.policy == crate::validate::Policy::Paper { ctx.jobs(Split::Mine) } else { Vec::new() };
    let total = (held_out.len() + held_in.len()) as u64;
    let parent_done = counter(&job, held_out.len() + held_in.len(), "parent");
    let engine = engine().await?;
    let runner = ctx.runner(engine, &parent_done);
    let mut baseline = Vec::new();
    for (jobs, held) in [(&held_out, false), (&held_in, true)] {
        let episodes = runner.run_all(&parent, jobs).await.map_err(|e| e.to_string())?;
        baseline.extend(episodes.into_iter().map(|episode| Baseline { episode, held_in: held }));
    }
    let quiet = |_: &Episode| {};
    let runner = ctx.runner(engine, &quiet);
    let on_progress = |p: &Progress| {
        let rate = |passed: u32| if p.done == 0 { 0.0 } else { f64::from(passed) / p.done as f64 };
        job.report(
            format!(
                "validate {}/{} · parent {}/{} · candidate {}/{}",
                p.done, p.total, p.parent_passed, p.done, p.candidate_passed, p.done
            ),
            p.done as u64,
            total,
            Some(PassRate { parent: rate(p.parent_passed), candidate: rate(p.candidate_passed) }),
        )
    };
    let validation = validate_candidate(&runner, &ctx.suite.tasks, &candidate, &baseline, options, &on_progress)
        .await
        .map_err(|e| e.to_string())?;
    let record = validation.record(proposal.as_deref(), &working, &parent, &candidate, options.policy);
    ctx.store.append_validation(&record).map_err(|e| e.to_string())?;
    Ok(format!("{}: {}", super::marks::label(&record), record.verdict.reason))
}

/// The loop, unattended (auto-apply), until it ends or the job is cancelled.
pub async fn auto_apply(project: Project, iterations: u32, job: JobHandle) -> Result<String, String> {
    use crate::evolve::iterate::{self, LoopContext, LoopOptions};
    let ctx = Context::new(&project)?;
    let harness_dir = project.harness_dir();
    let options = LoopOptions {
        harness_dir,
        iterations,
        auto_apply: true,
        repeats: ctx.settings.repeats(),
        seed: ctx.settings.seed(),
        policy: ctx.settings.policy(),
        proposer: Proposer::Model,
        per_weakness: 3,
        weaknesses: 1,
        budget: Budget::default(),
        budget_tokens: ctx.settings.budget_tokens,
        budget_usd: ctx.settings.budget_usd,
        max_cost_ratio: None,
    };
    let say = |line: &str| job.report(line.to_string(), 0, 0, None);
    let on_episode = |e: &Episode| {
        job.report(format!("{} s{}: {}", e.task, e.seed, if e.outcome.passed { "pass" } else { "fail" }), 0, 0, None)
    };
    let context = LoopContext {
        runner: ctx.runner(engine().await?, &on_episode),
        client: &ctx.client,
        tasks: ctx.suite.tasks.clone(),
        splits: ctx.splits.clone(),
        ledger_path: ctx.store.ledger_path(),
        store_root: ctx.store.root().to_path_buf(),
        say: &say,
    };
    let end = iterate::run(&options, &context).await.map_err(|e| e.to_string())?;
    Ok(format!("loop finished: {} (harness {})", end.reason, end.harness_version))
}

/// The working folder with unsaved editor texts on top, kept as a candidate folder.
fn snapshot_with(store: &Store, working: &Path, overlays: &[(PathBuf, String)]) -> Result<Harness, String> {
    let scratch = store.candidates_dir().join(format!("edit-{}", std::process::id()));
    crate::util::copy_dir(working, &scratch).map_err(|e| e.to_string())?;
    for (path, text) in overlays {
        if let Ok(relative) = path.strip_prefix(working) {
            crate::util::write_atomic(&scratch.join(relative), text.as_bytes()).map_err(|e| e.to_string())?;
        }
    }
    let version = load(&scratch)?.version().to_string();
    let dir = store.candidates_dir().join(format!("edit-{version}"));
    if dir.exists() {
        let _ = std::fs::remove_dir_all(&scratch);
    } else {
        std::fs::rename(&scratch, &dir).map_err(|e| e.to_string())?;
    }
    load(&dir)
}

/// The harness folder as last committed to git, kept as a parent snapshot.
fn committed(store: &Store, working: &Path) -> Result<Harness, String> {
    let git = |dir: &Path, args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .output()
            .map_err(|e| format!("cannot run git: {e}"))
    };
    let line = |output: std::process::Output| String::from_utf8_lossy(&output.stdout).trim().to_string();
    // `git archive` run inside a subfolder archives only that subfolder of the tree it is
    // given, so it runs at the top with the folder's own tree.
    let top = line(git(working, &["rev-parse", "--show-toplevel"])?);
    let prefix = line(git(working, &["rev-parse", "--show-prefix"])?);
    let output = git(Path::new(&top), &["archive", "--format=tar", &format!("HEAD:{prefix}")])?;
    if !output.status.success() {
        return Err(format!(
            "{} has no committed version to compare with ({}); commit it, or validate a proposal",
            working.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let scratch = store.candidates_dir().join(format!("committed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&scratch);
    tar::Archive::new(output.stdout.as_slice()).unpack(&scratch).map_err(|e| e.to_string())?;
    let harness = load(&scratch)?;
    let kept = store.snapshot(&harness).map_err(|e| e.to_string())?;
    let _ = std::fs::remove_dir_all(&scratch);
    load(&kept)
}
