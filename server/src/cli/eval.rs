//! `self-harness eval`: run a harness with a model on tasks and report pass rates — the
//! arguments turned into [`eval::Plan`] and the shared runner, and what [`eval::eval`]
//! returns drawn as a table (or JSON Lines).

use std::path::PathBuf;

use clap::Args;

use super::{exit, ui, CliError, CliResult};
use crate::app::eval;
use crate::episodes::{Backend, Episode, Runner};
use crate::splits::Split;
use crate::store::{RunDir, Store};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  self-harness model serve --detach\n  self-harness eval --harness harnesses/minimal --tasks tasks/ --repeats 2 --parallel 2"
)]
pub struct EvalArgs {
    /// The harness folder (with harness.toml).
    #[arg(long)]
    harness: PathBuf,
    /// A folder of tasks, or one task folder.
    #[arg(long)]
    tasks: PathBuf,
    /// Only these tasks (repeatable).
    #[arg(long = "task", value_name = "NAME")]
    only: Vec<String>,
    /// Only the tasks of this split (the seeded split in .self-harness/splits.json, made on
    /// first use as the loop makes it); `test` is how a harness is compared on held-out tasks.
    #[arg(long, value_enum, conflicts_with = "only")]
    split: Option<Split>,
    /// Episodes per task (seeds `--seed`, `--seed` + 1, …; `--trials` is its old name). An
    /// episode the store already has (the same harness version,
    /// model, time cap, task and seed: an earlier evaluation's, an interrupted one's, a
    /// loop's) is reused, not run again; so a stopped evaluation, run again, goes on.
    #[arg(long, alias = "trials", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeats: u32,
    /// Episodes run at once.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Base seed; repeat k of every task uses seed + k, so runs of two harnesses are paired.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    backend: super::BackendArgs,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// JSON Lines on stdout instead of the table: an `episode` event as each episode ends
    /// (reused ones first; with its `progress`: done, planned, left_s), then `finished`
    /// with the `evaluation` (its `reused` episodes counted, each task's `traces` listed).
    #[arg(long)]
    json: bool,
}

pub async fn run(args: EvalArgs) -> CliResult {
    // Everything that can be wrong with the input is checked before anything is written.
    let harness = super::load_harness(&args.harness)?;
    let suite = super::load_suite(&args.tasks)?;
    let store = Store::at(&super::current_dir()?);
    let only = match args.split {
        Some(split) => {
            let names = super::splits_for(&store, &suite, args.seed)?.tasks(split).to_vec();
            if names.is_empty() {
                return Err(CliError::new(exit::BAD_INPUT, format!("the {split:?} split has no tasks")));
            }
            names
        }
        None => args.only.clone(),
    };
    let suite = suite.select(&only).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    let (client, model) = args.agent.client()?;
    let config = super::project_config(args.agent.config.as_deref())?;
    // Its own set-up, lighter than the stages' (`stage_setup`): it needs a split only when
    // asked for one, so evaluating another folder of tasks in this store stays possible.
    let harbor = args.backend.harbor(&config.backend, &store, args.parallel as usize)?;
    let backend = crate::app::backend(harbor, &suite.tasks, super::local_engine()).await?;
    let planned = suite.tasks.len() as u64 * u64::from(args.repeats);
    let reporter = ui::Reporter::new(ui::progress(0, "eval"), planned, args.json);
    if let Backend::Harbor(harbor) = &backend {
        reporter.bar().set_message(format!("Harbor ({}), {} at a time", harbor.environment, harbor.parallel));
    }
    let on_episode = |e: &Episode| reporter.episode(&e.task, e.seed, &e.outcome);
    let runner = Runner {
        backend: &backend,
        client: &client,
        model,
        store,
        parallel: args.parallel as usize,
        time_limit: args.agent.time_limit(),
        on_episode: &on_episode,
    };
    let plan = eval::Plan {
        harness: &harness,
        tasks: suite.tasks.iter().collect(),
        split: args.split,
        repeats: args.repeats,
        seed: args.seed,
    };
    let say = |line: &str| reporter.bar().set_message(line.to_string());
    let summary = eval::eval(&runner, &plan, &say).await.inspect_err(|_| reporter.bar().finish_and_clear())?;
    if !reporter.finished(serde_json::json!({ "evaluation": summary })) {
        let mut table = ui::table(&["task", "pass", "errors", "tokens", "seconds"]);
        for r in &summary.tasks {
            table.add_row(vec![
                r.task.clone(),
                format!("{}/{}", r.passed, r.counted),
                r.errors.to_string(),
                r.tokens.to_string(),
                format!("{:.0}", r.seconds),
            ]);
        }
        println!("{table}");
        let reused = match summary.reused {
            0 => String::new(),
            n => format!(" ({n} of {planned} episodes reused from the store)"),
        };
        println!(
            "pass rate {:.1}% ({}/{}), 95% CI {:.1}–{:.1}%; {} tokens, ${:.4}; {:.0} s wall{reused}; kept in {}",
            summary.pass_rate * 100.0,
            summary.passed,
            summary.counted,
            summary.ci95.0 * 100.0,
            summary.ci95.1 * 100.0,
            summary.tokens,
            summary.cost_usd,
            summary.wall_seconds,
            runner.store.runs_dir().join(&summary.run).join(RunDir::SUMMARY).display()
        );
        if summary.infrastructure_errors > 0 {
            ui::warn(&format!(
                "{} episode(s) ended in an infrastructure or model error and are not counted",
                summary.infrastructure_errors
            ));
        }
    }
    Ok(exit::OK)
}
