//! `self-harness mine`: the weaknesses of a harness, from its failed traces on the mine split.

use std::path::PathBuf;

use clap::Args;

use super::{engine, exit, ui, CliError, CliResult};
use crate::evolve::episodes::{Episode, Runner};
use crate::evolve::ledger::Split;
use crate::evolve::mining;
use crate::store::Store;
use crate::trace;

#[derive(Args)]
#[command(after_help = "Episodes are shared with `loop` (same harness version, task and seed run once), so mining \
                        after a loop, or a loop after mining, reuses them.\n\nExample:\n  self-harness mine --harness \
                        harnesses/minimal --tasks tasks/")]
pub struct MineArgs {
    /// The harness folder.
    #[arg(long)]
    harness: PathBuf,
    /// A folder of tasks (split as the loop splits it).
    #[arg(long)]
    tasks: PathBuf,
    /// Episodes per task.
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=20))]
    repeats: u32,
    /// Episodes run at once.
    #[arg(long, short = 'j', default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    parallel: u16,
    /// Seed of the split and of the episodes.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: MineArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let suite = super::load_suite(&args.tasks)?;
    let (client, model) = args.agent.client()?;
    let engine = engine().await?;
    let store = Store::at(&std::env::current_dir().map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?);
    let splits = super::splits_for(&store, &suite, args.seed)?;

    let jobs: Vec<_> = splits
        .tasks(Split::Mine)
        .iter()
        .filter_map(|name| suite.tasks.iter().find(|t| &t.name == name))
        .flat_map(|task| (0..args.repeats).map(move |r| (task, args.seed + u64::from(r))))
        .collect();
    let bar = ui::progress(jobs.len() as u64, "mine");
    let on_episode = |_: &Episode| bar.inc(1);
    let runner = Runner {
        engine,
        client: &client,
        model,
        store: store.clone(),
        parallel: args.parallel as usize,
        time_limit: args.agent.time_limit(),
        on_episode: &on_episode,
    };
    let episodes =
        runner.run_all(&harness, &jobs).await.map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
    bar.set_message("reading failed traces");
    let traces: Vec<_> =
        episodes.iter().filter_map(|e| trace::read(&e.trace).ok().map(|t| (e.trace.clone(), t))).collect();
    let weaknesses = mining::weaknesses(&client, &harness, &traces, &suite.tasks, args.seed).await;
    bar.finish_and_clear();

    let json = serde_json::to_string_pretty(&weaknesses).unwrap_or_default();
    let path = store.weaknesses_path();
    store.save_weaknesses(&weaknesses).map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
    if args.json {
        println!("{json}");
    } else {
        let mut table = ui::table(&["weakness", "title", "criticality", "support", "surface", "tasks"]);
        for w in &weaknesses {
            table.add_row(vec![
                w.id.clone(),
                w.title.clone(),
                w.criticality.clone(),
                w.support.clone(),
                w.surface.clone(),
                w.tasks.join(", "),
            ]);
        }
        println!("{table}");
        let passed = episodes.iter().filter(|e| e.outcome.passed).count();
        println!(
            "{} weakness(es) from {} episodes ({passed} passed); written to {}",
            weaknesses.len(),
            episodes.len(),
            path.display()
        );
    }
    Ok(exit::OK)
}
