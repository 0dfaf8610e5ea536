//! `self-harness export --atif RUN`: a run's traces as Harbor trajectories (ATIF), for
//! Harbor's viewers, training pipelines and anything else that reads that format.

use std::path::{Component, Path, PathBuf};

use clap::Args;

use super::{exit, ui, CliError, CliResult};
use crate::episodes::Evaluation;
use crate::store::{RunDir, Store};
use crate::trace::atif;

#[derive(Args)]
#[command(after_help = "\
RUN is a run folder (`.self-harness/runs/<run>`: an `eval` run or the loop's episodes of one \
harness version) or just its name. Every finished episode becomes one trajectory.json in OUT, \
in the same folders as its trace (an `eval` run's: <task>/<repeat>, wherever the store keeps \
the episode); unfinished episodes (trace.jsonl.partial) are left out. The \
trajectories follow Harbor's Agent Trajectory Interchange Format as Harbor 0.25.0 ships it \
(docs/harbor.md has the mapping). Traces do not record the prompts: give --harness and --tasks \
to put the system prompt and the instruction in as the first two steps.

Exit codes: 0 every trace written; 2 no such run, or a trace that is torn or malformed \
(named; the others are still written).

Examples:
  self-harness export --atif 20261202T194217Z-97501c56fbef
  self-harness export --atif .self-harness/runs/loop-97501c56fbef-530ef93c --out atif/ \\
      --harness harnesses/minimal --tasks tasks/ --json")]
pub struct ExportArgs {
    /// Write Harbor's Agent Trajectory Interchange Format (the one format so far).
    #[arg(long, required = true)]
    atif: bool,
    /// The run folder, or the name of a run in this project's store.
    #[arg(value_name = "RUN")]
    run: PathBuf,
    /// Where the trajectories go (default: atif/<run> in the current folder).
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// The harness the run used: its prompts become the first steps (only for episodes of
    /// this very version).
    #[arg(long, value_name = "DIR", requires = "tasks")]
    harness: Option<PathBuf>,
    /// The tasks the run ran (their instructions fill the prompts).
    #[arg(long, value_name = "DIR", requires = "harness")]
    tasks: Option<PathBuf>,
    /// The agent's working directory the prompts name (Terminal-Bench tasks work in /app).
    #[arg(long, default_value = "/app", value_name = "PATH")]
    workdir: String,
    /// Print what was written as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ExportArgs) -> CliResult {
    let here = super::current_dir()?;
    let run = if args.run.is_dir() { args.run.clone() } else { Store::at(&here).runs_dir().join(&args.run) };
    if !run.is_dir() {
        let also = if run == args.run { String::new() } else { format!(" (nor {})", run.display()) };
        return Err(CliError::new(
            exit::BAD_INPUT,
            format!("no run folder {}{also}; `ls .self-harness/runs` lists this project's runs", args.run.display()),
        ));
    }
    let name = run.canonicalize().ok().and_then(|p| p.file_name().map(|n| n.to_os_string())).unwrap_or_default();
    let out = args.out.clone().unwrap_or_else(|| PathBuf::from("atif").join(&name));
    let harness = args.harness.as_deref().map(super::load_harness).transpose()?;
    let suite = args.tasks.as_deref().map(super::load_suite).transpose()?;
    let source = match (&harness, &suite) {
        (Some(harness), Some(suite)) => {
            Some(atif::PromptSource { harness, tasks: &suite.tasks, workdir: args.workdir.as_str() })
        }
        _ => None,
    };
    let exported = match listed_episodes(&run)? {
        Some(episodes) => atif::export_episodes(&name.to_string_lossy(), &episodes, &out, source.as_ref()),
        None => atif::export_run(&run, &out, source.as_ref()),
    };
    let exported = exported.map_err(|e| CliError::new(exit::BAD_INPUT, format!("exporting {}: {e}", run.display())))?;
    if exported.written.is_empty() && exported.errors.is_empty() {
        return Err(CliError::new(
            exit::BAD_INPUT,
            format!("{}: no finished episodes (trace.jsonl) in it", run.display()),
        ));
    }

    if args.json {
        println!("{}", serde_json::to_string_pretty(&exported).unwrap_or_default());
    } else {
        for note in &exported.notes {
            ui::warn(note);
        }
        for error in &exported.errors {
            ui::error(error);
        }
        let skipped = if exported.unfinished.is_empty() {
            String::new()
        } else {
            format!(" ({} unfinished left out)", exported.unfinished.len())
        };
        println!(
            "{} trajectory(ies) ({}) written to {}{skipped}",
            exported.written.len(),
            atif::ATIF_VERSION,
            out.display()
        );
    }
    if exported.errors.is_empty() {
        Ok(exit::OK)
    } else if args.json {
        Err(CliError::new(exit::BAD_INPUT, format!("{} trace(s) could not be exported", exported.errors.len())))
    } else {
        Err(CliError::new(
            exit::BAD_INPUT,
            format!("{} trace(s) could not be exported (named above)", exported.errors.len()),
        ))
    }
}

/// The episodes an `eval` run lists in its `run.json` — `<task>/<repeat>` and its trace in the
/// store — or `None` for a folder whose traces lie inside it (the loop's, an older `eval`'s).
/// The file may be a stranger's: a task that is not one plain name, or a trace that leads
/// outside the store, is refused with the file named.
fn listed_episodes(run: &Path) -> Result<Option<Vec<(PathBuf, PathBuf)>>, CliError> {
    let summary = run.join(RunDir::SUMMARY);
    if !summary.is_file() {
        return Ok(None);
    }
    let bad = |why: String| CliError::new(exit::BAD_INPUT, format!("{}: {why}", summary.display()));
    let text = std::fs::read_to_string(&summary).map_err(|e| CliError::io(summary.display(), e))?;
    let evaluation: Evaluation = serde_json::from_str(&text).map_err(|e| bad(e.to_string()))?;
    let store = run.parent().and_then(Path::parent).unwrap_or(run);
    let inside = store.canonicalize().map_err(|e| CliError::io(store.display(), e))?;
    let plain = |p: &Path| p.components().all(|c| matches!(c, Component::Normal(_)));
    let mut episodes = Vec::new();
    for row in &evaluation.tasks {
        if !plain(Path::new(&row.task)) || Path::new(&row.task).components().count() != 1 {
            return Err(bad(format!("the task {:?} is not a plain name", row.task)));
        }
        for (repeat, trace) in row.traces.iter().enumerate() {
            let path = store.join(trace);
            let within = path.canonicalize().is_ok_and(|p| p.starts_with(&inside));
            if !plain(trace) || (path.exists() && !within) {
                return Err(bad(format!("the trace {} is not inside the store {}", trace.display(), store.display())));
            }
            episodes.push((Path::new(&row.task).join(repeat.to_string()), path));
        }
    }
    Ok((!episodes.is_empty()).then_some(episodes))
}
