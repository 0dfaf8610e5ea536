//! `self-harness tasks …`

use std::path::PathBuf;
use std::sync::Arc;

use clap::{Args, Subcommand};
use futures_util::StreamExt;

use super::{engine, exit, ui, CliError, CliResult};
use crate::check::{self, CheckOptions, CheckStatus, TaskCheck};
use crate::task::{Suite, TaskError};

#[derive(Subcommand)]
pub enum TasksCommand {
    /// List the tasks of a suite (a folder of task folders) and any that fail to load.
    List {
        /// A folder of tasks, or one task folder.
        dir: PathBuf,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Build each task's image and, with --oracle, run its reference solution against its
    /// own tests. Exits 1 if any task fails: this is how a task author checks a task.
    ///
    /// A task that cannot be checked from this machine is counted apart, not as a failure:
    /// `needs-internet` when its build, solution or tests could not reach a host (named in
    /// the detail and in `--json` as `host`), `stale-pin` when it pins a package version its
    /// mirror no longer serves (it fails against the real image too).
    #[command(
        after_help = "Examples:\n  self-harness tasks check tasks/ --oracle\n  TB2_DIR=../shared/tb2 self-harness tasks check \"$TB2_DIR\" --oracle --parallel 2 --json"
    )]
    Check(CheckArgs),
}

#[derive(Args)]
pub struct CheckArgs {
    /// A folder of tasks, or one task folder.
    dir: PathBuf,
    /// Run the oracle solution and the task's tests (otherwise: load and build only).
    #[arg(long)]
    oracle: bool,
    /// How many tasks to check at once.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Check only these tasks (repeatable).
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
    /// Where to write each task's build, oracle and verifier logs.
    #[arg(long, value_name = "DIR", default_value_os_t = default_logs_dir())]
    logs: PathBuf,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: TasksCommand) -> CliResult {
    match command {
        TasksCommand::List { dir, json } => list(dir, json),
        TasksCommand::Check(args) => check(args).await,
    }
}

fn load(dir: &std::path::Path) -> Result<Suite, CliError> {
    Suite::load(dir).map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))
}

fn report_load_errors(errors: &[TaskError]) {
    for error in errors {
        ui::error(&format!("task not loaded: {error}"));
    }
}

fn list(dir: PathBuf, json: bool) -> CliResult {
    let suite = load(&dir)?;
    if json {
        let value = serde_json::json!({ "tasks": suite.tasks, "errors": suite.errors });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        let mut table = ui::table(&["task", "format", "difficulty", "category", "agent timeout", "internet"]);
        for task in &suite.tasks {
            table.add_row(vec![
                task.name.clone(),
                format!("{:?}", task.format).to_lowercase(),
                task.metadata.difficulty.clone().unwrap_or_default(),
                task.metadata.category.clone().unwrap_or_default(),
                humantime::format_duration(task.agent_timeout).to_string(),
                if task.environment.allow_internet { "yes" } else { "no" }.into(),
            ]);
        }
        println!("{table}");
        report_load_errors(&suite.errors);
    }
    Ok(if suite.errors.is_empty() { exit::OK } else { exit::BAD_INPUT })
}

async fn check(args: CheckArgs) -> CliResult {
    let suite = load(&args.dir)?.select(&args.tasks).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    report_load_errors(&suite.errors);
    let engine = engine().await?;
    let options = CheckOptions { oracle: args.oracle, logs: args.logs.clone() };

    let bar = ui::progress(suite.tasks.len() as u64, if args.oracle { "checking (oracle)" } else { "building" });
    let bar = Arc::new(bar);
    let results: Vec<TaskCheck> = futures_util::stream::iter(suite.tasks.iter())
        .map(|task| {
            let (bar, options) = (bar.clone(), &options);
            async move {
                let phase = |phase: &str| bar.set_message(format!("{}: {phase}", task.name));
                let result = check::check_task(engine, task, options, &phase).await;
                bar.inc(1);
                let line = format!(
                    "{:<28} {:<15} reward {:<5} build {:>6.1}s  run {:>6.1}s",
                    result.task,
                    result.status.word(),
                    result.reward.map_or("-".into(), |r| format!("{r}")),
                    result.build_secs,
                    result.run_secs
                );
                if ui::interactive() {
                    bar.println(line);
                } else {
                    ui::info(&line);
                }
                result
            }
        })
        .buffer_unordered(args.parallel as usize)
        .collect()
        .await;
    bar.finish_and_clear();

    let mut results = results;
    results.sort_by(|a, b| a.task.cmp(&b.task));
    let summary = CheckSummary::of(&results, suite.errors.len());

    if args.json {
        let value = serde_json::json!({
            "results": results,
            "summary": summary,
            "load_errors": suite.errors,
            "logs": args.logs,
        });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        let mut table = ui::table(&["task", "build s", "run s", "reward", "status"]);
        for r in &results {
            let bad = !r.status.is_ok() && !r.status.is_unavailable();
            table.add_row(vec![
                r.task.clone(),
                format!("{:.1}{}", r.build_secs, if r.image_cached { " (cached)" } else { "" }),
                format!("{:.1}", r.run_secs),
                r.reward.map_or("-".into(), |x| format!("{x}")),
                ui::status_cell(r.status.word(), r.status.is_ok(), bad),
            ]);
        }
        println!("{table}");
        for r in results.iter().filter(|r| !r.status.is_ok()) {
            println!("{} {}: {}\n    logs: {}", r.status.word(), r.task, first_lines(&r.detail, 12), r.logs.display());
        }
        println!("{}", summary.line());
    }
    Ok(if summary.failed + summary.load_errors == 0 { exit::OK } else { exit::FAILED })
}

/// The counts under the table: needs that cannot be met here are counted apart from
/// failures, and do not fail the command.
#[derive(serde::Serialize)]
struct CheckSummary {
    tasks: usize,
    ok: usize,
    failed: usize,
    needs_internet: usize,
    /// The hosts that could not be reached, each once.
    hosts: Vec<String>,
    stale_pin: usize,
    load_errors: usize,
}

impl CheckSummary {
    fn of(results: &[TaskCheck], load_errors: usize) -> CheckSummary {
        let count = |status: CheckStatus| results.iter().filter(|r| r.status == status).count();
        let mut hosts: Vec<String> = results.iter().filter_map(|r| r.host.clone()).collect();
        hosts.sort();
        hosts.dedup();
        let ok = results.iter().filter(|r| r.status.is_ok()).count();
        let unavailable = results.iter().filter(|r| r.status.is_unavailable()).count();
        CheckSummary {
            tasks: results.len() + load_errors,
            ok,
            failed: results.len() - ok - unavailable,
            needs_internet: count(CheckStatus::NeedsInternet),
            hosts,
            stale_pin: count(CheckStatus::StalePin),
            load_errors,
        }
    }

    fn line(&self) -> String {
        let mut parts = vec![format!("{}/{} tasks ok", self.ok, self.tasks)];
        if self.failed > 0 {
            parts.push(format!("{} failed", self.failed));
        }
        if self.needs_internet > 0 {
            parts.push(format!("{} need the internet ({})", self.needs_internet, self.hosts.join(", ")));
        }
        if self.stale_pin > 0 {
            parts.push(format!("{} pin a version gone from its mirror", self.stale_pin));
        }
        if self.load_errors > 0 {
            parts.push(format!("{} failed to load", self.load_errors));
        }
        parts.join(" · ")
    }
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n    ")
}

fn default_logs_dir() -> PathBuf {
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace([':', '-'], "");
    PathBuf::from(".self-harness").join("checks").join(stamp)
}
