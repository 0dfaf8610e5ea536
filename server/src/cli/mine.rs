//! `self-harness mine`: the weaknesses of a harness, from its failed traces on the mine split.

use std::path::PathBuf;

use clap::Args;

use super::{exit, ui, CliError, CliResult, SplitRunArgs};
use crate::episodes::Episode;
use crate::stages::mine;
use crate::store::Store;

#[derive(Args)]
#[command(after_help = "Episodes are shared with `loop` (same harness version, task and seed run once), so mining \
                        after a loop, or a loop after mining, reuses them.\n\nWith --from-harbor JOB_DIR no episode \
                        runs: the trials of a Harbor job (any agent's; each trial folder's agent/trajectory.json, \
                        its reward and result.json) are read as traces and mined by the same detectors (and, with \
                        --model-reading, the model). With --harness the weaknesses are located in that harness and \
                        become the store's latest for `propose`; without, they are only shown. A malformed file or \
                        a link out of JOB_DIR is an error naming it (exit 2).\n\nExamples:\n  self-harness mine \
                        --harness harnesses/minimal --tasks tasks/\n  self-harness mine --from-harbor \
                        jobs/2026-12-03__07-00-00 --json")]
pub struct MineArgs {
    /// The harness folder (with --from-harbor: optional, where the weaknesses are located).
    #[arg(long, required_unless_present = "from_harbor")]
    harness: Option<PathBuf>,
    /// Mine the trials of this Harbor job folder (`jobs/<job>`) instead of running episodes.
    #[arg(long, value_name = "JOB_DIR")]
    from_harbor: Option<PathBuf>,
    /// With --from-harbor: the model reads the failed trajectories too, as `mine` does
    /// (needs the model endpoint; without it only the detectors read them).
    #[arg(long, requires = "from_harbor")]
    model_reading: bool,
    /// A folder of tasks (split into mine / validate / test, seeded and stratified, on first use).
    #[arg(long, required_unless_present = "from_harbor", conflicts_with = "from_harbor")]
    tasks: Option<PathBuf>,
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
    backend: super::BackendArgs,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// JSON Lines on stdout instead of the table: `say` and `episode` events as the mine split
    /// runs (each with its `progress`), then `finished` with the `weaknesses`.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: MineArgs) -> CliResult {
    if let Some(job) = &args.from_harbor {
        return from_harbor(job, &args).await;
    }
    let (Some(harness), Some(tasks)) = (&args.harness, &args.tasks) else {
        return Err(CliError::new(exit::BAD_INPUT, "mine needs --harness and --tasks (or --from-harbor JOB_DIR)"));
    };
    let harness = super::load_harness(harness)?;
    if let Some(note) = crate::stages::repeats_note(&harness, args.repeats) {
        ui::warn(&note);
    }
    let run = SplitRunArgs {
        tasks: tasks.clone(),
        repeats: args.repeats,
        parallel: args.parallel,
        seed: args.seed,
        backend: args.backend.clone(),
    };
    let setup = super::stage_setup(Store::at(&super::current_dir()?), &run, &args.agent).await?;
    let reporter = ui::Reporter::new(ui::progress(0, "mine"), 0, args.json);
    let on_episode = |e: &Episode| reporter.episode(&e.task, e.seed, &e.outcome);
    let say = |line: &str| reporter.say(line);
    let ctx = setup.context(&on_episode, &say);
    reporter.set_planned(ctx.keys(crate::splits::Split::Mine).len() as u64);
    let mine::Mining { episodes, weaknesses, .. } =
        mine::mine(&ctx, &harness).await.map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
    let path = setup.store.weaknesses_path();
    if !reporter.finished(serde_json::json!({"weaknesses": weaknesses, "written_to": path})) {
        println!("{}", table(&weaknesses));
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

fn table(weaknesses: &[mine::Weakness]) -> comfy_table::Table {
    let mut table = ui::table(&["weakness", "title", "criticality", "support", "surface", "tasks"]);
    for w in weaknesses {
        table.add_row(vec![
            w.id.clone(),
            w.title.clone(),
            w.criticality.clone(),
            w.support.clone(),
            w.surface.clone(),
            w.tasks.join(", "),
        ]);
    }
    table
}

/// `mine --from-harbor JOB_DIR`: a Harbor job's trials mined without running anything.
async fn from_harbor(job: &std::path::Path, args: &MineArgs) -> CliResult {
    let harness = args.harness.as_deref().map(super::load_harness).transpose()?;
    let reader = if args.model_reading { Some(args.agent.clients()?.2) } else { None };
    let mining = mine::from_harbor(job, harness.as_ref(), reader.as_ref(), args.seed).await.map_err(|problems| {
        CliError::new(
            exit::BAD_INPUT,
            format!("the Harbor job {} cannot be mined:\n  {}", job.display(), problems.join("\n  ")),
        )
    })?;
    let store = Store::at(&super::current_dir()?);
    let saved = match &harness {
        Some(_) => {
            mine::save(&store, &mining.weaknesses).map_err(|e| CliError::new(exit::ENVIRONMENT, e.to_string()))?;
            Some(store.weaknesses_path())
        }
        None => None,
    };
    if args.json {
        let trials: Vec<_> = mining.job.trials.iter().map(|(path, _)| path).collect();
        ui::event(serde_json::json!({
            "event": "finished",
            "job": job,
            "trials": trials,
            "skipped": mining.job.skipped,
            "weaknesses": mining.weaknesses,
            "written_to": saved,
        }));
        return Ok(exit::OK);
    }
    for skipped in &mining.job.skipped {
        ui::warn(&format!("skipped {skipped}"));
    }
    println!("{}", table(&mining.weaknesses));
    let outcomes = mining.job.trials.iter().filter_map(|(_, t)| t.outcome.as_ref());
    let counted: Vec<_> = outcomes.filter(|o| o.error_class.counts()).collect();
    let passed = counted.iter().filter(|o| o.passed).count();
    let whereto = match saved {
        Some(path) => format!("; written to {}", path.display()),
        None => "; not saved (give --harness to locate them and save them for `propose`)".to_string(),
    };
    println!(
        "{} weakness(es) from {} trial(s) of {} ({} counted, {passed} passed){whereto}",
        mining.weaknesses.len(),
        mining.job.trials.len(),
        job.display(),
        counted.len()
    );
    Ok(exit::OK)
}
