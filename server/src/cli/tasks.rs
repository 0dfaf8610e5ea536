//! `self-harness tasks …`

use std::path::PathBuf;

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
    /// mirror no longer serves (it fails against the real image too), `ubuntu-pin` when it
    /// pins an Ubuntu package version and fails on the Debian root standing in for Ubuntu,
    /// which installs Debian's version of such a package instead (said in the detail and in
    /// `--json` as `stand_in`, also when the task passes).
    ///
    /// A task judged by reference commands (`judge = "intercode"`) whose reference cannot
    /// judge an agent here is counted apart too: `unstable-reference` (two runs differ: the
    /// clock, processes, randomness), `broken-reference` (it calls a program the image
    /// lacks), `judges-nothing` (it changes and prints nothing). `--write-exclusions` writes
    /// the tasks counted apart to the suite's excluded.toml, which every command then
    /// leaves out. `--nop` runs nothing instead of the solution (Harbor's `nop` agent): every
    /// task's tests should then fail; one that passes judges nothing.
    #[command(
        after_help = "Examples:\n  self-harness tasks check tasks/ --oracle\n  TB2_DIR=../shared/tb2 self-harness tasks check \"$TB2_DIR\" --oracle --parallel 2 --json\n  self-harness tasks check intercode/ --oracle --parallel 2 --write-exclusions\n  self-harness tasks check intercode/ --nop --parallel 2"
    )]
    Check(CheckArgs),
    /// Write a public benchmark's tasks as task folders. `intercode`: InterCode-ALFA's 300
    /// shell tasks (PyPI `icalfa`, read where it is installed), judged by InterCode's rule.
    ///
    /// The same package gives byte-identical folders, each recording the package version
    /// and the task's index in its dataset; a malformed entry is named and skipped. Then
    /// `tasks check DIR --oracle --write-exclusions` leaves out the tasks whose reference
    /// cannot judge here.
    #[command(
        after_help = "Examples:\n  pip install icalfa==0.3.6\n  self-harness tasks import intercode --out intercode\n  self-harness tasks import intercode --from icalfa-0.3.6-py3-none-any.whl --out intercode --json"
    )]
    Import(ImportArgs),
}

#[derive(Args)]
pub struct ImportArgs {
    /// The benchmark.
    #[arg(value_parser = ["intercode"])]
    benchmark: String,
    /// A wheel, or a folder holding the package (unpacked wheel, site-packages); by
    /// default the package installed for --python.
    #[arg(long, value_name = "PATH")]
    from: Option<PathBuf>,
    /// The Python whose installed package is read.
    #[arg(long, value_name = "PYTHON", default_value = "python3", env = "SELF_HARNESS_PYTHON")]
    python: String,
    /// The folder to write the task folders into (created if needed).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Print JSON instead of a summary.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct CheckArgs {
    /// A folder of tasks, or one task folder.
    dir: PathBuf,
    /// Run the oracle solution and the task's tests (otherwise: load and build only).
    #[arg(long, conflicts_with = "nop")]
    oracle: bool,
    /// Run nothing, then the task's tests: they should fail.
    #[arg(long)]
    nop: bool,
    /// Write the tasks that cannot judge here (counted apart) to DIR/excluded.toml, and
    /// bring back those checked that can; needs --oracle.
    #[arg(long, requires = "oracle")]
    write_exclusions: bool,
    /// How many tasks to check at once.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Check only these tasks (repeatable).
    #[arg(long = "task", value_name = "NAME")]
    tasks: Vec<String>,
    /// Where to write each task's build, oracle and verifier logs.
    #[arg(long, value_name = "DIR", default_value_os_t = default_logs_dir())]
    logs: PathBuf,
    /// JSON Lines on stdout instead of the table: a `task` event as each task's check ends
    /// (with its `progress`), then `finished` with the `results` and the `summary`.
    #[arg(long)]
    json: bool,
}

pub async fn run(command: TasksCommand) -> CliResult {
    match command {
        TasksCommand::List { dir, json } => list(dir, json),
        TasksCommand::Check(args) => check(args).await,
        TasksCommand::Import(args) => import(args),
    }
}

fn import(args: ImportArgs) -> CliResult {
    use crate::pypackage::{Package, PackageError};
    use crate::task::intercode;
    let package = match &args.from {
        Some(path) => Package::open(path, intercode::DIST, intercode::MODULE),
        None => Package::installed(&args.python, intercode::DIST, intercode::MODULE),
    };
    let package = package.map_err(|e| {
        let hint = match e {
            PackageError::NotInstalled { .. } => {
                format!("\n  install it: {}, or give --from a wheel or folder", intercode::INSTALL_HINT)
            }
            _ => String::new(),
        };
        CliError::new(exit::BAD_INPUT, format!("{e}{hint}"))
    })?;
    if package.version.as_deref() != Some(intercode::PINNED) {
        ui::warn(&format!(
            "{}: the suite is measured with {} {}; other versions may hold other tasks",
            package.describe(),
            intercode::DIST,
            intercode::PINNED
        ));
    }
    let report = intercode::import(&package, &args.out).map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
    } else {
        let counts: Vec<String> = report.per_file_system.iter().map(|(fs, n)| format!("{fs} {n}")).collect();
        println!(
            "wrote {} tasks ({}) from {} into {}",
            report.tasks.len(),
            counts.join(", "),
            report.package,
            report.out.display()
        );
        for skipped in &report.skipped {
            ui::warn(&format!("skipped {skipped}"));
        }
        println!("next: self-harness tasks check {} --oracle --parallel 2 --write-exclusions", report.out.display());
    }
    Ok(if report.skipped.is_empty() { exit::OK } else { exit::FAILED })
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
    let excluded: Vec<serde_json::Value> = suite
        .excluded
        .iter()
        .map(|(task, why)| serde_json::json!({"task": task.name, "status": why.status, "reason": why.reason}))
        .collect();
    if json {
        let value = serde_json::json!({ "tasks": suite.tasks, "excluded": excluded, "errors": suite.errors });
        println!("{}", serde_json::to_string_pretty(&value).unwrap_or_default());
    } else {
        let mut table = ui::table(&["task", "format", "judge", "difficulty", "category", "agent timeout", "internet"]);
        for task in &suite.tasks {
            let judge = match task.verifier.reward {
                crate::task::RewardSource::Reference(_) => "intercode",
                _ => "tests",
            };
            table.add_row(vec![
                task.name.clone(),
                format!("{:?}", task.format).to_lowercase(),
                judge.into(),
                task.metadata.difficulty.clone().unwrap_or_default(),
                task.metadata.category.clone().unwrap_or_default(),
                humantime::format_duration(task.agent_timeout).to_string(),
                if task.environment.allow_internet { "yes" } else { "no" }.into(),
            ]);
        }
        println!("{table}");
        if let Some(note) = suite.excluded_note(&dir) {
            println!("{note}:");
            for (task, why) in &suite.excluded {
                println!("  {} ({}): {}", task.name, why.status, first_lines(&why.reason, 1));
            }
        }
        report_load_errors(&suite.errors);
    }
    Ok(if suite.errors.is_empty() { exit::OK } else { exit::BAD_INPUT })
}

async fn check(args: CheckArgs) -> CliResult {
    let suite = load(&args.dir)?.with_excluded().select(&args.tasks).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    report_load_errors(&suite.errors);
    let engine = engine().await?;
    let solver = match (args.oracle, args.nop) {
        (true, _) => Some(check::Solver::Oracle),
        (_, true) => Some(check::Solver::Nop),
        _ => None,
    };
    let options = CheckOptions { solver, logs: args.logs.clone() };
    let what = match solver {
        Some(check::Solver::Oracle) => "checking (oracle)",
        Some(check::Solver::Nop) => "checking (nothing run)",
        None => "building",
    };
    let reporter = ui::Reporter::new(ui::progress(0, what), suite.tasks.len() as u64, args.json);
    let results: Vec<TaskCheck> = futures_util::stream::iter(suite.tasks.iter())
        .map(|task| {
            let (reporter, options) = (&reporter, &options);
            async move {
                let phase = |phase: &str| reporter.bar().set_message(format!("{}: {phase}", task.name));
                let result = check::check_task(engine, task, options, &phase).await;
                let line = format!(
                    "{:<28} {:<15} reward {:<5} build {:>6.1}s  run {:>6.1}s",
                    result.task,
                    result.status.word(),
                    result.reward.map_or("-".into(), |r| format!("{r}")),
                    result.build_secs,
                    result.run_secs
                );
                let fields = serde_json::json!({
                    "event": "task", "task": result.task, "status": result.status, "reward": result.reward,
                });
                reporter.item(fields, &line, &crate::util::now_rfc3339());
                result
            }
        })
        .buffer_unordered(args.parallel as usize)
        .collect()
        .await;

    let mut results = results;
    results.sort_by(|a, b| a.task.cmp(&b.task));
    let summary = CheckSummary::of(&results, suite.errors.len());
    if args.write_exclusions {
        write_exclusions(&args.dir, &results)?;
    }

    let value = serde_json::json!({
        "results": results,
        "summary": summary,
        "load_errors": suite.errors,
        "logs": args.logs,
    });
    if !reporter.finished(value) {
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

/// Sets the suite's excluded.toml entries of the checked tasks: those counted apart are
/// left out, the others brought back.
fn write_exclusions(dir: &std::path::Path, results: &[TaskCheck]) -> Result<(), CliError> {
    use crate::task::exclusions::{Exclusion, Exclusions};
    let bad = |e: String| CliError::new(exit::BAD_INPUT, e);
    let suite_dir = if crate::task::Task::is_task_dir(dir) { dir.parent().unwrap_or(dir) } else { dir };
    let mut exclusions = Exclusions::load(suite_dir).map_err(|e| bad(e.to_string()))?;
    let checked = crate::util::now_rfc3339();
    exclusions.update(results.iter().map(|r| {
        let why = r.status.is_unavailable().then(|| Exclusion {
            status: r.status.word().to_string(),
            reason: r.detail.clone(),
            checked: checked.clone(),
        });
        (r.task.clone(), why)
    }));
    exclusions.save(suite_dir).map_err(|e| bad(format!("{}: {e}", Exclusions::path(suite_dir).display())))?;
    ui::info(&format!(
        "{} task(s) of {} left out by {}",
        exclusions.tasks.len(),
        suite_dir.display(),
        Exclusions::path(suite_dir).display()
    ));
    Ok(())
}

/// The counts under the table: needs that cannot be met here, and references that cannot
/// judge here, are counted apart from failures and do not fail the command.
#[derive(serde::Serialize)]
struct CheckSummary {
    tasks: usize,
    ok: usize,
    failed: usize,
    needs_internet: usize,
    /// The hosts that could not be reached, each once.
    hosts: Vec<String>,
    stale_pin: usize,
    ubuntu_pin: usize,
    unstable_reference: usize,
    broken_reference: usize,
    judges_nothing: usize,
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
            ubuntu_pin: count(CheckStatus::UbuntuPin),
            unstable_reference: count(CheckStatus::UnstableReference),
            broken_reference: count(CheckStatus::BrokenReference),
            judges_nothing: count(CheckStatus::JudgesNothing),
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
        for (n, what) in [
            (self.ubuntu_pin, "pin an Ubuntu version Debian's stand-in could not replace"),
            (self.unstable_reference, "have a reference that differs between runs"),
            (self.broken_reference, "have a reference that calls a missing program"),
            (self.judges_nothing, "have a reference that changes and prints nothing"),
        ] {
            if n > 0 {
                parts.push(format!("{n} {what}"));
            }
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
