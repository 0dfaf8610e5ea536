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
    #[command(flatten)]
    run: super::SplitRunArgs,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: MineArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let suite = super::load_suite(&args.run.tasks)?;
    let (client, model) = args.agent.client()?;
    let engine = engine().await?;
    let store = Store::at(&std::env::current_dir().map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?);
    let splits = super::splits_for(&store, &suite, args.run.seed)?;

    let jobs = args.run.jobs(&suite, &splits, Split::Mine);
    let bar = ui::progress(jobs.len() as u64, "mine");
    let on_episode = |_: &Episode| bar.inc(1);
    let runner = Runner {
        engine,
        client: &client,
        model,
        store: store.clone(),
        parallel: args.run.parallel as usize,
        time_limit: args.agent.time_limit(),
        on_episode: &on_episode,
    };
    let episodes =
        runner.run_all(&harness, &jobs).await.map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
    bar.set_message("reading failed traces");
    let traces: Vec<_> =
        episodes.iter().filter_map(|e| trace::read(&e.trace).ok().map(|t| (e.trace.clone(), t))).collect();
    let weaknesses = mining::weaknesses(&client, &harness, &traces, &suite.tasks, args.run.seed).await;
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
