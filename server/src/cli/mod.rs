//! The command line: a thin front end over the stages. Parses arguments, shows progress
//! and tables, maps outcomes to exit codes, and removes every container on Ctrl-C.

mod act;
mod bench;
mod bench_model;
mod eval;
mod export;
mod harness_cmd;
mod images;
mod loop_cmd;
mod mine;
mod model;
mod propose;
mod report;
mod tasks;
mod trust;
mod ui;
mod validate;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::sandbox::{reaper, Engine, SandboxError};

/// Exit codes, as documented in `--help`.
pub mod exit {
    pub const OK: u8 = 0;
    /// A task (or check) did not pass.
    pub const FAILED: u8 = 1;
    /// Bad input: arguments, task folders, files.
    pub const BAD_INPUT: u8 = 2;
    /// The environment is not ready: Docker unreachable, base images not built, not root,
    /// another loop working in the same store.
    pub const ENVIRONMENT: u8 = 3;
    /// Interrupted by Ctrl-C or SIGTERM (everything started was removed).
    pub const INTERRUPTED: u8 = 130;
}

const AFTER_HELP: &str = "\
Exit codes:
  0    success
  1    a task or check did not pass
  2    bad input (arguments, task folders)
  3    environment not ready (Docker unreachable, base images missing, another loop in the same store)
  130  interrupted (every container it started has been removed)

Environment:
  DOCKER_HOST          Docker engine to use (default: unix:///var/run/docker.sock)
  NO_COLOR             disable colours
  SELF_HARNESS_LOG     log filter, e.g. `debug` or `self_harness=trace` (default: warn)
  OPENAI_BASE_URL      model endpoint (overrides [model] base_url of self-harness.toml)
  OPENAI_API_KEY       API key (or the variable named by [model] api_key_env)
  OPENAI_MODEL         model name (overrides [model] model)
  XDG_CONFIG_HOME      where `self-harness trust` keeps its record (default: ~/.config)

Start here:
  self-harness images build               # once: local stand-ins for ubuntu:24.04 & co
  self-harness tasks check tasks/ --oracle
  self-harness model serve --detach        # a local OpenAI-compatible model
";

#[derive(Parser)]
#[command(name = "self-harness", version, about = "Let a model improve its own agent harness on Terminal-Bench tasks", after_help = AFTER_HELP)]
struct Cli {
    /// More log output on stderr (-v info, -vv debug).
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    verbose: u8,
    /// Disable colours (also: NO_COLOR=1).
    #[arg(long, global = true)]
    no_color: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Load, build and check Terminal-Bench tasks.
    #[command(subcommand)]
    Tasks(tasks::TasksCommand),
    /// Other agents' harnesses in and out: import a mini-swe-agent configuration as a
    /// harness folder, export a harness back.
    #[command(subcommand)]
    Harness(harness_cmd::HarnessCommand),
    /// Build the local base images that stand in for registry images (ubuntu:24.04, python:3.13-slim-bookworm, …).
    #[command(subcommand)]
    Images(images::ImagesCommand),
    /// Run a harness with a model on tasks: episodes in containers, traces, a pass-rate table.
    Eval(eval::EvalArgs),
    /// Mine weaknesses: run (or reuse) the harness on the mine split, then detectors and the model read the failed traces.
    Mine(mine::MineArgs),
    /// Propose harness edits for the mined weaknesses: checked candidates with their diffs.
    Propose(propose::ProposeArgs),
    /// Validate a candidate (a proposal, or any edited harness) against its parent on the validate split.
    Validate(validate::ValidateArgs),
    /// The self-improvement loop: mine weaknesses, propose harness edits, validate them, apply what holds up.
    Loop(loop_cmd::LoopArgs),
    /// Write a run's traces in another format: Harbor's trajectories (ATIF), one per episode.
    Export(export::ExportArgs),
    /// Act out one episode whose commands a driver performs (Harbor's agent; see docs/harbor.md).
    Act(act::ActArgs),
    /// What the loop did and whether it helped: test-split pass rates with 95% intervals, per-iteration decisions, costs, a plot.
    Report(report::ReportArgs),
    /// Measure the runner: exec round trips and container life cycle, side by side with the docker CLI.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Speak LSP over stdio for editors (VS Code, Neovim, Helix): harness files as documents,
    /// weaknesses as diagnostics, proposals as code actions, validation in the background.
    #[command(after_help = "Started by the editor, not by hand; see docs/lsp.md for the protocol and README for \
                            the Neovim and Helix setups. Logs go to stderr (SELF_HARNESS_LOG=debug for more).")]
    Lsp {
        /// Accepted for editors that pass it; stdio is the only transport.
        #[arg(long)]
        stdio: bool,
    },
    /// Serve a real local model (Qwen2.5-Coder via llama.cpp) with an OpenAI-compatible API.
    #[command(subcommand)]
    Model(model::ModelCommand),
    /// Trust a repository's self-harness.toml to choose its endpoint's key (bound to its content), list or revoke.
    Trust(trust::TrustArgs),
    /// Remove containers left behind by Self-Harness processes that were killed.
    Clean {
        /// Remove every Self-Harness container, also those of running processes.
        #[arg(long)]
        all: bool,
    },
}

/// A failure with the exit code it maps to. The message is for the person at the terminal.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        CliError { code, message: message.into() }
    }

    /// A file or folder of this machine that could not be made, written or read.
    pub fn io(what: impl std::fmt::Display, e: std::io::Error) -> Self {
        CliError::new(exit::ENVIRONMENT, format!("{what}: {e}"))
    }
}

impl From<crate::app::Error> for CliError {
    fn from(e: crate::app::Error) -> Self {
        use crate::app::ErrorKind;
        let code = match e.kind {
            ErrorKind::BadInput => exit::BAD_INPUT,
            ErrorKind::Environment => exit::ENVIRONMENT,
            ErrorKind::Failed => exit::FAILED,
        };
        CliError::new(code, e.message)
    }
}

impl From<SandboxError> for CliError {
    fn from(e: SandboxError) -> Self {
        let code = match e {
            SandboxError::Unreachable { .. }
            | SandboxError::MissingBaseImage { .. }
            | SandboxError::NoStandIn { .. } => exit::ENVIRONMENT,
            _ => exit::FAILED,
        };
        CliError::new(code, e.to_string())
    }
}

pub type CliResult = Result<u8, CliError>;

/// Entry point of the `self-harness` binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    ui::init(cli.verbose, cli.no_color);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            ui::error(&format!("cannot start the async runtime: {e}"));
            return ExitCode::from(exit::ENVIRONMENT);
        }
    };
    // `act` handles SIGTERM itself: the driver stops an episode that way, and its trace
    // must still end with an outcome.
    let handles_signals = matches!(cli.command, Command::Act(_));
    let code = runtime.block_on(async {
        let outcome = tokio::select! {
            outcome = run(cli.command) => outcome,
            signal = shutdown_signal(), if !handles_signals => {
                ui::warn(&format!("{signal}: stopping and removing containers…"));
                Err(CliError::new(exit::INTERRUPTED, format!("interrupted by {signal}")))
            }
        };
        // Whatever happened, nothing this process started stays behind.
        if let Some(engine) = ENGINE.get() {
            if let Err(e) = reaper::remove_owned(engine).await {
                ui::warn(&format!("could not remove this run's containers: {e}"));
            }
        }
        match outcome {
            Ok(code) => code,
            Err(e) => {
                if e.code != exit::INTERRUPTED {
                    ui::error(&e.message);
                }
                e.code
            }
        }
    });
    // Do not wait for blocking threads: `lsp` leaves one reading stdin, which a client may
    // keep open after `exit`.
    runtime.shutdown_background();
    ExitCode::from(code)
}

async fn run(command: Command) -> CliResult {
    match command {
        Command::Tasks(command) => tasks::run(command).await,
        Command::Harness(command) => harness_cmd::run(command),
        Command::Images(command) => images::run(command).await,
        Command::Bench(command) => bench::run(command).await,
        Command::Eval(args) => eval::run(args).await,
        Command::Loop(args) => loop_cmd::run(args).await,
        Command::Mine(args) => mine::run(args).await,
        Command::Propose(args) => propose::run(args).await,
        Command::Validate(args) => validate::run(args).await,
        Command::Report(args) => report::run(args).await,
        Command::Export(args) => export::run(args).await,
        Command::Act(args) => act::run(args).await,
        Command::Model(command) => model::run(command).await,
        Command::Trust(args) => trust::run(args),
        Command::Lsp { .. } => {
            crate::lsp::serve_stdio().await;
            Ok(exit::OK)
        }
        Command::Clean { all } => {
            let engine = engine().await?;
            let removed = if all { reaper::remove_all(engine).await? } else { reaper::sweep_orphans(engine).await? };
            println!("removed {removed} container(s)");
            Ok(exit::OK)
        }
    }
}

/// How the agent reaches its model and how long an episode may take: shared by `eval`
/// and `loop`.
#[derive(clap::Args)]
struct AgentArgs {
    /// Cap each episode's agent time at this many seconds (below the task's own timeout):
    /// how a quick run stays quick.
    #[arg(long, value_name = "SECS")]
    episode_timeout: Option<u64>,
    /// The model (overrides self-harness.toml and OPENAI_MODEL).
    #[arg(long)]
    model: Option<String>,
    /// The project config (default: self-harness.toml found upwards from here).
    #[arg(long)]
    config: Option<std::path::PathBuf>,
    /// The model that reads failed traces and proposes edits (overrides [proposer] of
    /// self-harness.toml; default: the acting model).
    #[arg(long, value_name = "MODEL")]
    proposer_model: Option<String>,
    /// Its endpoint, e.g. a second `model serve --port 8081` (default: the acting model's).
    #[arg(long, value_name = "URL")]
    proposer_base_url: Option<String>,
}

impl AgentArgs {
    fn time_limit(&self) -> Option<std::time::Duration> {
        self.episode_timeout.map(std::time::Duration::from_secs)
    }

    /// The acting model's client and its name.
    fn client(&self) -> Result<(crate::llm::Client, String), CliError> {
        let (acting, name, _) = self.clients()?;
        Ok((acting, name))
    }

    /// The acting model's client, its name, and the proposer's client (which shares the
    /// acting client's accounting, so budgets and reports see both).
    fn clients(&self) -> Result<(crate::llm::Client, String, crate::llm::Client), CliError> {
        let mut project = project_config(self.config.as_deref())?;
        if let Some(model) = &self.model {
            project.model.model = model.clone();
            project.proposer.model = model.clone();
        }
        if let Some(model) = &self.proposer_model {
            project.proposer.model = model.clone();
        }
        if let Some(url) = &self.proposer_base_url {
            project.proposer.base_url = url.clone();
        }
        let bad = |e: crate::llm::LlmError| CliError::new(exit::BAD_INPUT, e.to_string());
        let name = project.model.model.clone();
        let acting = crate::llm::Client::new(project.model).map_err(bad)?;
        let proposer = crate::llm::Client::new(project.proposer).map_err(bad)?.with_usage(acting.usage().clone());
        Ok((acting, name, proposer))
    }
}

/// Which tasks run, how often and how many at once: shared by `mine`, `validate` and `loop`.
#[derive(clap::Args)]
struct SplitRunArgs {
    /// A folder of tasks (split into mine / validate / test, seeded and stratified, on first use).
    #[arg(long)]
    tasks: std::path::PathBuf,
    /// Episodes per task and harness version (paired by seed).
    #[arg(long, default_value_t = crate::stages::DEFAULT_REPEATS, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeats: u32,
    /// Episodes run at once.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Seed of the split and of the episodes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    backend: BackendArgs,
}

/// Where episodes run: shared by `eval`, `mine`, `validate` and `loop`.
#[derive(clap::Args, Clone)]
struct BackendArgs {
    /// Where episodes run: `local` (Docker on this machine) or `harbor` (as Harbor trials on
    /// --harbor-env; scripts/setup-harbor.sh installs Harbor). Default: `[backend] kind` of
    /// self-harness.toml, else local.
    #[arg(long, value_parser = ["local", "harbor"])]
    backend: Option<String>,
    /// Harbor's environment: `docker` (the default), `daytona`, `modal`, `gke`, … as Harbor
    /// names them; `offline-docker` (Harbor's Docker on a host without a registry, from
    /// integrations/harbor); or an import path `module:Class`.
    #[arg(long, value_name = "ENV")]
    harbor_env: Option<String>,
    /// A keyword argument for Harbor's environment (repeatable), e.g. `--harbor-ek region=us`.
    #[arg(long = "harbor-ek", value_name = "KEY=VALUE", value_parser = parse_key_value)]
    harbor_ek: Vec<(String, String)>,
}

impl BackendArgs {
    /// The Harbor backend when the flags or `[backend]` of the project config ask for one.
    fn harbor(
        &self,
        config: &crate::config::BackendConfig,
        store: &crate::store::Store,
        parallel: usize,
    ) -> Result<Option<crate::harbor::Harbor>, CliError> {
        let flags = crate::app::HarborFlags {
            wanted: self.backend.as_deref().map(|b| b == "harbor"),
            environment: self.harbor_env.clone(),
            kwargs: self.harbor_ek.clone(),
        };
        Ok(crate::app::harbor(config, flags, &current_dir()?, store, parallel)?)
    }
}

fn parse_key_value(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.trim().is_empty() => Ok((key.trim().to_string(), value.to_string())),
        _ => Err(format!("{text:?} is not KEY=VALUE")),
    }
}

/// What a command that runs a stage resolves first (the suite and its split, the models,
/// where episodes run), from its flags, through the one set-up every front end uses.
async fn stage_setup(
    store: crate::store::Store,
    run: &SplitRunArgs,
    agent: &AgentArgs,
) -> Result<crate::app::Setup, CliError> {
    let (client, model, proposer_model) = agent.clients()?;
    let config = project_config(agent.config.as_deref())?;
    let harbor = run.backend.harbor(&config.backend, &store, run.parallel as usize)?;
    let choices = crate::app::Choices {
        tasks: run.tasks.clone(),
        store,
        client,
        model,
        proposer_model,
        harbor,
        parallel: run.parallel as usize,
        time_limit: agent.time_limit(),
        repeats: run.repeats,
        seed: run.seed,
    };
    let setup = crate::app::Setup::new(choices, local_engine()).await?;
    if let Some(note) = setup.suite.excluded_note(&run.tasks) {
        ui::info(&note);
    }
    Ok(setup)
}

/// How a candidate is judged: shared by `validate` and `loop`.
#[derive(clap::Args)]
struct PolicyArgs {
    /// Acceptance rule: `paired` (default; the exact one-sided sign-flip test over the
    /// tasks' paired pass counts, at level α divided by the candidates judged together, and
    /// no task the parent always passed collapsing) or `paper` (the published study's
    /// two-way rule, for reproduction: held-in and held-out splits together, no split worse,
    /// one better). `sign-test` is the old name of `paired`.
    #[arg(long, default_value = "paired", value_parser = ["paired", "sign-test", "paper"])]
    policy: String,
    /// The test's significance level: the chance that a candidate no better than its
    /// parent is accepted (per iteration of the loop, whatever its number of candidates).
    #[arg(long, default_value_t = crate::stages::validate::AcceptanceRule::DEFAULT_ALPHA)]
    alpha: f64,
    /// Reject a candidate that spends more than this many times its parent's tokens on the
    /// same episodes (e.g. 1.5), however well it does.
    #[arg(long, value_name = "RATIO")]
    max_cost_ratio: Option<f64>,
}

impl PolicyArgs {
    fn options(&self) -> crate::stages::validate::ValidateOptions {
        use crate::stages::validate::{AcceptanceRule, ValidateOptions};
        let policy = if self.policy == "paper" {
            AcceptanceRule::Paper
        } else {
            AcceptanceRule::PairedTasks { alpha: self.alpha }
        };
        ValidateOptions { policy, max_cost_ratio: self.max_cost_ratio, ..ValidateOptions::default() }
    }
}

/// The working directory, where the store lives.
fn current_dir() -> Result<std::path::PathBuf, CliError> {
    std::env::current_dir().map_err(|e| CliError::new(exit::ENVIRONMENT, format!("no working directory: {e}")))
}

/// Loads a harness, or says everything that is wrong with it (exit 2).
fn load_harness(dir: &std::path::Path) -> Result<crate::harness::Harness, CliError> {
    crate::harness::Harness::open(dir).map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))
}

/// Loads a suite in which every task must load (exit 2 otherwise, naming each problem).
fn load_suite(dir: &std::path::Path) -> Result<crate::task::Suite, CliError> {
    let suite = crate::app::load_suite(dir)?;
    if let Some(note) = suite.excluded_note(dir) {
        ui::info(&note);
    }
    Ok(suite)
}

/// The store's split of `suite`, made (seeded, stratified) and saved the first time.
fn splits_for(
    store: &crate::store::Store,
    suite: &crate::task::Suite,
    seed: u64,
) -> Result<crate::splits::Splits, CliError> {
    crate::splits::load_or_make(&store.splits_path(), &suite.tasks, seed).map_err(|e| CliError::new(exit::BAD_INPUT, e))
}

/// `self-harness.toml` (or `config`) with the environment applied.
fn project_config(config: Option<&std::path::Path>) -> Result<crate::config::ProjectConfig, CliError> {
    let bad = |e: crate::config::ConfigError| CliError::new(exit::BAD_INPUT, e.to_string());
    let loaded = match config {
        Some(path) => crate::config::ProjectConfig::load_file(path).map_err(bad)?,
        None => {
            let here = std::env::current_dir().map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
            crate::config::ProjectConfig::load(&here).map_err(bad)?
        }
    };
    let mut said: Vec<&str> = loaded.ignored.iter().map(String::as_str).collect();
    said.extend([&loaded.model, &loaded.proposer].iter().filter_map(|m| m.key_withheld.as_deref()));
    said.dedup();
    for why in said {
        ui::warn(why);
    }
    Ok(loaded)
}

/// [`engine`] for the application layer, which connects only when episodes run here.
async fn local_engine() -> Result<Engine, String> {
    engine().await.cloned().map_err(|e| e.message)
}

static ENGINE: tokio::sync::OnceCell<Engine> = tokio::sync::OnceCell::const_new();

/// Connects once per process, and sweeps what killed runs left behind.
async fn engine() -> Result<&'static Engine, CliError> {
    ENGINE
        .get_or_try_init(|| async {
            let engine = Engine::connect().await?;
            match reaper::sweep_orphans(&engine).await {
                Ok(0) => {}
                Ok(n) => ui::info(&format!("removed {n} container(s) left behind by killed runs")),
                Err(e) => tracing::warn!("could not sweep orphaned containers: {e}"),
            }
            Ok::<_, SandboxError>(engine)
        })
        .await
        .map_err(CliError::from)
}

async fn shutdown_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return "Ctrl-C";
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
    }
}
