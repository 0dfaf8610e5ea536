//! `self-harness eval`: run a harness with a model on tasks and report pass rates.

use std::path::PathBuf;
use std::time::Instant;

use clap::Args;
use futures_util::StreamExt;

use super::{engine, exit, ui, CliError, CliResult};
use crate::agent::{self, EpisodeSpec};
use crate::episodes::{Evaluation, TaskRow};
use crate::llm::{ChatRequest, Client, Message};
use crate::sandbox::image::ImageSpec;
use crate::sandbox::offline;
use crate::splits::Split;
use crate::stats::wilson_95;
use crate::store::{RunDir, Store};
use crate::trace::Outcome;

#[derive(Args)]
#[command(
    after_help = "Examples:\n  self-harness model serve --detach\n  self-harness eval --harness harnesses/minimal --tasks tasks/ --trials 2 --parallel 2"
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
    /// Episodes per task.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    trials: u32,
    /// Episodes run at once.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Base seed; trial k of every task uses seed + k, so runs of two harnesses are paired.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    backend: super::BackendArgs,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// JSON Lines on stdout instead of the table: an `episode` event as each episode ends
    /// (with its `progress`: done, planned, left_s), then `finished` with the `evaluation`.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: EvalArgs) -> CliResult {
    let started = Instant::now();
    // Everything that can be wrong with the input is checked before anything is written.
    let harness = super::load_harness(&args.harness)?;
    let suite = super::load_suite(&args.tasks)?;
    let only = match args.split {
        Some(split) => {
            let store = Store::at(&super::current_dir()?);
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
    preflight_model(&client).await?;
    let store = Store::at(&super::current_dir()?);
    let config = super::project_config(args.agent.config.as_deref())?;
    let harbor = args.backend.harbor(&config.backend, &store, args.parallel as usize)?;
    if let Some(why) = harbor.as_ref().and_then(|_| crate::harbor::cannot_run(&suite.tasks)) {
        return Err(CliError::new(exit::BAD_INPUT, why));
    }
    if harbor.is_none() {
        build_images(&suite).await?;
    }
    let run = store
        .new_run(harness.version())
        .map_err(|e| CliError::new(exit::ENVIRONMENT, format!("cannot create the run folder: {e}")))?;
    let episodes: Vec<(usize, u32)> =
        (0..suite.tasks.len()).flat_map(|t| (0..args.trials).map(move |k| (t, k))).collect();
    let reporter = ui::Reporter::new(ui::progress(0, "eval"), episodes.len() as u64, args.json);
    let seed_of = |trial: u32| args.seed + u64::from(trial);
    let report = |task: &str, trial: u32, outcome: &Outcome| reporter.episode(task, seed_of(trial), outcome);
    let results: Vec<(usize, std::io::Result<agent::EpisodeResult>)> = match &harbor {
        Some(harbor) => {
            let submissions: Vec<crate::harbor::Submission> = episodes
                .iter()
                .map(|&(t, trial)| crate::harbor::Submission {
                    task: &suite.tasks[t],
                    seed: args.seed + u64::from(trial),
                    trial,
                    dir: run.episode_dir(&suite.tasks[t].name, trial),
                })
                .collect();
            reporter.bar().set_message(format!("Harbor ({}), {} at a time", harbor.environment, harbor.parallel));
            let batch = crate::harbor::Batch {
                harness: &harness,
                model: &model,
                endpoint: &client.config().base_url,
                time_limit: args.agent.time_limit(),
            };
            let on_finished = |f: &crate::harbor::Finished| {
                let submission = &submissions[f.index];
                report(&submission.task.name, submission.trial, &f.outcome)
            };
            let finished = harbor.run(&batch, &submissions, &on_finished).await;
            let finished = finished.map_err(|e| CliError::new(exit::ENVIRONMENT, format!("Harbor: {e}")))?;
            finished
                .into_iter()
                .map(|f| (episodes[f.index].0, Ok(agent::EpisodeResult { trace: f.trace, outcome: f.outcome })))
                .collect()
        }
        None => {
            let engine = engine().await?;
            let (seed, time_limit) = (args.seed, args.agent.time_limit());
            futures_util::stream::iter(episodes)
                .map(|(t, trial)| {
                    let (task, bar, harness, client, model, run, report) =
                        (&suite.tasks[t], reporter.bar(), &harness, &client, &model, &run, &report);
                    async move {
                        let spec = EpisodeSpec {
                            task,
                            harness,
                            client,
                            model: model.clone(),
                            seed: seed + u64::from(trial),
                            trial,
                            dir: run.episode_dir(&task.name, trial),
                            time_limit,
                        };
                        let phase = |phase: &str| bar.set_message(format!("{} #{trial}: {phase}", task.name));
                        let result = agent::run_episode(engine, &spec, &phase).await;
                        if let Ok(r) = &result {
                            report(&task.name, trial, &r.outcome);
                        }
                        (t, result)
                    }
                })
                .buffer_unordered(args.parallel as usize)
                .collect()
                .await
        }
    };
    let mut rows: Vec<TaskRow> = suite
        .tasks
        .iter()
        .map(|t| TaskRow { task: t.name.clone(), passed: 0, counted: 0, errors: 0, tokens: 0, seconds: 0.0 })
        .collect();
    let mut cost = 0.0;
    for (t, result) in results {
        let outcome = result.map_err(|e| CliError::new(exit::ENVIRONMENT, format!("cannot write a trace: {e}")))?;
        let (row, o) = (&mut rows[t], &outcome.outcome);
        row.tokens += o.tokens_in + o.tokens_out;
        row.seconds += o.duration_ms as f64 / 1000.0;
        cost += o.cost_usd;
        if o.error_class.counts() {
            row.counted += 1;
            row.passed += u32::from(o.passed);
        } else {
            row.errors += 1;
        }
    }
    let passed: u64 = rows.iter().map(|r| u64::from(r.passed)).sum();
    let counted: u64 = rows.iter().map(|r| u64::from(r.counted)).sum();
    let summary = Evaluation {
        run: run.name.clone(),
        harness: harness.name().to_string(),
        harness_version: harness.version().to_string(),
        model,
        temperature: harness.policy().temperature,
        split: args.split.map(|s| format!("{s:?}").to_lowercase()),
        seed: args.seed,
        trials: args.trials,
        pass_rate: if counted == 0 { 0.0 } else { passed as f64 / counted as f64 },
        ci95: wilson_95(passed, counted),
        passed,
        counted,
        infrastructure_errors: rows.iter().map(|r| u64::from(r.errors)).sum(),
        tokens: rows.iter().map(|r| r.tokens).sum(),
        cost_usd: cost,
        wall_seconds: started.elapsed().as_secs_f64(),
        tasks: rows,
    };
    let json = serde_json::to_string_pretty(&summary).unwrap_or_default();
    crate::util::write_atomic(&run.path.join(RunDir::SUMMARY), json.as_bytes())
        .map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
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
        println!(
            "pass rate {:.1}% ({}/{}), 95% CI {:.1}–{:.1}%; {} tokens, ${:.4}; {:.0} s wall; traces in {}",
            summary.pass_rate * 100.0,
            passed,
            counted,
            summary.ci95.0 * 100.0,
            summary.ci95.1 * 100.0,
            summary.tokens,
            summary.cost_usd,
            summary.wall_seconds,
            run.path.display()
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

/// Builds (or finds built) every task's image, so a task that cannot be built here is one
/// clear message before any episode starts.
async fn build_images(suite: &crate::task::Suite) -> Result<(), CliError> {
    let engine = engine().await?;
    let spinner = ui::spinner("building images");
    for task in &suite.tasks {
        spinner.set_message(task.name.clone());
        let spec = ImageSpec::for_task(task);
        engine.ensure_image(&spec, &mut |_| {}).await.map_err(|e| {
            let hint = if offline::unavailable(&e.to_string()).is_some() {
                "\n  It cannot be built from this machine: leave it out (`--task` names the tasks to run)."
            } else {
                ""
            };
            CliError::new(exit::FAILED, format!("task {}: {}{hint}", task.name, offline::explain(&e.to_string())))
        })?;
    }
    spinner.finish_and_clear();
    Ok(())
}

/// One tiny request, so that a model endpoint that is down is one clear message before
/// any container starts.
async fn preflight_model(client: &Client) -> Result<(), CliError> {
    let request = ChatRequest::new(vec![Message::user("Reply with OK.")]).max_tokens(1);
    client.chat(&request).await.map(|_| ()).map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))
}
