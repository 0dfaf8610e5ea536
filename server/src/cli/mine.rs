//! `self-harness mine`: the weaknesses of a harness, from its failed traces on the mine split.

use std::path::PathBuf;

use clap::Args;

use super::{exit, ui, CliError, CliResult, StageSetup};
use crate::episodes::Episode;
use crate::stages::mine;
use crate::store::Store;

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
    if let Some(note) = crate::stages::repeats_note(&harness, args.run.repeats) {
        ui::warn(&note);
    }
    let setup = StageSetup::new(Store::at(&super::current_dir()?), &args.run, &args.agent).await?;
    let bar = ui::progress(0, "mine");
    let on_episode = |_: &Episode| bar.inc(1);
    let say = |line: &str| bar.set_message(line.to_string());
    let ctx = setup.context(&args.run, &args.agent, &on_episode, &say);
    bar.set_length(ctx.jobs(crate::splits::Split::Mine).len() as u64);
    let mine::Mining { episodes, weaknesses, .. } =
        mine::mine(&ctx, &harness).await.map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
    bar.finish_and_clear();

    let json = serde_json::to_string_pretty(&weaknesses).unwrap_or_default();
    let path = setup.store.weaknesses_path();
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
