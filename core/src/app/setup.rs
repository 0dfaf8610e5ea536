//! What an operation that runs episodes resolves first, once, the same for every front end:
//! the suite (every task must load), its split (made seeded and stratified, and kept in the
//! store, the first time), the acting and proposing models, and where the episodes run —
//! as Harbor trials when asked and every task can be one, else in this machine's Docker.
//! The front end says what it chose (from its flags, or from the editor's settings) as
//! [`Choices`]; the [`Setup`] gives the stages their [`Context`].

use std::future::Future;
use std::path::PathBuf;
use std::time::Duration;

use super::{Error, ErrorKind};
use crate::episodes::{Backend, Episode, Runner};
use crate::llm::Client;
use crate::sandbox::Engine;
use crate::splits::{Split, Splits};
use crate::stages::Context;
use crate::store::Store;
use crate::task::{Suite, Task};

/// What the front end chose.
pub struct Choices {
    /// The folder of tasks.
    pub tasks: PathBuf,
    pub store: Store,
    /// The acting model's client and its name.
    pub client: Client,
    pub model: String,
    /// The model that reads traces and proposes (sharing the acting client's accounting).
    pub proposer_model: Client,
    /// Harbor, when the flags or the project config ask for it.
    pub harbor: Option<crate::harbor::Harbor>,
    /// Episodes at once.
    pub parallel: usize,
    /// A cap on each episode's agent time.
    pub time_limit: Option<Duration>,
    /// Episodes per task and harness version, seeds `seed`, `seed + 1`, ….
    pub repeats: u32,
    /// The seed of the split (when it is made) and of the episodes.
    pub seed: u64,
}

/// The resolved project an operation runs in.
pub struct Setup {
    pub suite: Suite,
    pub splits: Splits,
    pub client: Client,
    pub model: String,
    pub proposer_model: Client,
    pub store: Store,
    pub backend: Backend,
    pub parallel: usize,
    pub time_limit: Option<Duration>,
    pub repeats: u32,
    pub seed: u64,
}

impl Setup {
    /// Resolves `choices`; `local` connects to this machine's Docker engine, and is awaited
    /// only when the episodes run here.
    pub async fn new(choices: Choices, local: impl Future<Output = Result<Engine, String>>) -> Result<Setup, Error> {
        let suite = load_suite(&choices.tasks)?;
        let backend = backend(choices.harbor, &suite.tasks, local).await?;
        let store = choices.store;
        let splits = crate::splits::load_or_make(&store.splits_path(), &suite.tasks, choices.seed)
            .map_err(|e| Error::new(ErrorKind::BadInput, e))?;
        Ok(Setup {
            suite,
            splits,
            client: choices.client,
            model: choices.model,
            proposer_model: choices.proposer_model,
            store,
            backend,
            parallel: choices.parallel,
            time_limit: choices.time_limit,
            repeats: choices.repeats,
            seed: choices.seed,
        })
    }

    /// The stages' context: episodes reported to `on_episode`, steps to `say`.
    pub fn context<'a>(
        &'a self,
        on_episode: &'a (dyn Fn(&Episode) + Sync),
        say: &'a (dyn Fn(&str) + Sync),
    ) -> Context<'a> {
        Context {
            runner: Runner {
                backend: &self.backend,
                client: &self.client,
                model: self.model.clone(),
                store: self.store.clone(),
                parallel: self.parallel,
                time_limit: self.time_limit,
                on_episode,
            },
            proposer_model: &self.proposer_model,
            tasks: &self.suite.tasks,
            splits: &self.splits,
            repeats: self.repeats,
            seed: self.seed,
            say,
        }
    }

    /// The tasks of `splits`, split by split.
    pub fn tasks_of(&self, splits: &[Split]) -> Vec<&Task> {
        let names = splits.iter().flat_map(|&s| self.splits.tasks(s));
        names.filter_map(|name| self.suite.tasks.iter().find(|t| &t.name == name)).collect()
    }

    /// How many episodes a harness has on `splits`.
    pub fn episodes(&self, splits: &[Split]) -> usize {
        splits.iter().map(|&s| self.splits.tasks(s).len()).sum::<usize>() * self.repeats as usize
    }
}

/// The suite in `dir`, in which every task must load (each problem named otherwise).
pub fn load_suite(dir: &std::path::Path) -> Result<Suite, Error> {
    let bad = |message: String| Error::new(ErrorKind::BadInput, message);
    let suite = Suite::load(dir).map_err(|e| bad(format!("{}: {e}", dir.display())))?;
    if !suite.errors.is_empty() {
        let lines: Vec<String> = suite.errors.iter().map(|e| e.to_string()).collect();
        return Err(bad(format!("some tasks do not load:\n  {}", lines.join("\n  "))));
    }
    Ok(suite)
}

/// Where the episodes of `tasks` run: as Harbor trials when `harbor` is asked for and every
/// task can be one, else in this machine's Docker engine (`local` connects to it).
pub async fn backend(
    harbor: Option<crate::harbor::Harbor>,
    tasks: &[Task],
    local: impl Future<Output = Result<Engine, String>>,
) -> Result<Backend, Error> {
    Ok(match harbor {
        Some(_) if let Some(why) = crate::harbor::cannot_run(tasks) => {
            return Err(Error::new(ErrorKind::BadInput, why))
        }
        Some(harbor) => Backend::Harbor(harbor),
        None => Backend::Local(local.await.map_err(|e| Error::new(ErrorKind::Environment, e))?),
    })
}

/// What a front end was told about Harbor beyond the project config: the command line's
/// flags (the editor has none).
#[derive(Debug, Clone, Default)]
pub struct HarborFlags {
    /// `--backend harbor` (true) or `local` (false); `None` leaves it to `[backend]`.
    pub wanted: Option<bool>,
    pub environment: Option<String>,
    /// Keyword arguments for Harbor's environment, after `[backend]`'s.
    pub kwargs: Vec<(String, String)>,
}

/// The Harbor backend when `flags` or `[backend]` of the project config ask for one: its
/// environment the flag's, else the config's, else `docker`; its jobs kept in the store's
/// `harbor-jobs/`; Harbor itself found from `project` (see `harbor::Harbor::locate`).
pub fn harbor(
    config: &crate::config::BackendConfig,
    flags: HarborFlags,
    project: &std::path::Path,
    store: &Store,
    parallel: usize,
) -> Result<Option<crate::harbor::Harbor>, Error> {
    if !flags.wanted.unwrap_or(config.harbor) {
        return Ok(None);
    }
    let environment = flags.environment.or_else(|| config.harbor_env.clone()).unwrap_or_else(|| "docker".into());
    let jobs = store.harbor_jobs_dir();
    let mut backend = crate::harbor::Harbor::locate(project, environment, parallel, jobs)
        .map_err(|e| Error::new(ErrorKind::Environment, e))?;
    backend.environment_kwargs = config.harbor_env_kwargs.clone();
    backend.environment_kwargs.extend(flags.kwargs);
    Ok(Some(backend))
}
