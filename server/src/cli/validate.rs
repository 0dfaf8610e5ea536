//! `self-harness validate`: does a candidate harness beat its parent? Both run the same
//! validate-split tasks with the same seeds; the decision goes to
//! `.self-harness/validations.jsonl` and the exit code (0 accepted, 1 rejected).

use std::path::PathBuf;

use clap::Args;

use super::{exit, ui, CliError, CliResult};
use crate::app::validate::{self, Side, Target};
use crate::episodes::Episode;
use crate::stages::validate::Progress;
use crate::store::Store;

#[derive(Args)]
#[command(after_help = "The parent's episodes are shared with `loop` and `mine` (same harness version, task and \
                        seed run once), so validating after a loop reuses them. A candidate stops early once the \
                        policy can no longer accept it.\n\nExit codes: 0 accepted, 1 rejected (and those of every \
                        command).\n\nExamples:\n  self-harness validate --proposal no-verification-1 --tasks \
                        tasks/\n  self-harness validate --candidate my-harness --parent harnesses/minimal --tasks \
                        tasks/ --repeats 3")]
pub struct ValidateArgs {
    /// A proposal of `self-harness propose`: its candidate folder against the harness it edits.
    #[arg(long, conflicts_with_all = ["candidate", "parent"], required_unless_present = "candidate")]
    proposal: Option<String>,
    /// A candidate harness folder (with --parent).
    #[arg(long, requires = "parent")]
    candidate: Option<PathBuf>,
    /// The harness the candidate is compared against.
    #[arg(long)]
    parent: Option<PathBuf>,
    #[command(flatten)]
    run: super::SplitRunArgs,
    #[command(flatten)]
    judge: super::PolicyArgs,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// JSON Lines on stdout instead of the table: `say`, `episode` (with its `progress`) and
    /// `pairs` (the decision's running count) events as it runs, then `finished` with the
    /// `validation` record.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ValidateArgs) -> CliResult {
    let store = Store::at(&super::current_dir()?);
    let target = match (&args.proposal, &args.candidate, &args.parent) {
        (Some(id), _, _) => Target::Proposal(id.clone()),
        (None, Some(candidate), Some(parent)) => {
            Target::Folders { candidate: candidate.clone(), parent: parent.clone() }
        }
        _ => return Err(CliError::new(exit::BAD_INPUT, "name a --proposal, or a --candidate and its --parent")),
    };
    let candidate = validate::candidate(&store, target)?;
    if let Some(note) = crate::stages::repeats_note(&candidate.harness, args.run.repeats) {
        ui::warn(&note);
    }
    let setup = super::stage_setup(store, &args.run, &args.agent).await?;
    let options = args.judge.options();
    let reporter = ui::Reporter::new(ui::progress(0, "validate"), 0, args.json);
    // Parent and candidate on the rule's splits.
    reporter.set_planned(2 * setup.episodes(options.policy.splits()) as u64);
    let on_episode = |_: Side, e: &Episode| reporter.episode(&e.task, e.seed, &e.outcome);
    let say = |line: &str| reporter.say(line);
    let on_progress = |p: &Progress| {
        if args.json {
            ui::event(serde_json::json!({
                "event": "pairs", "done": p.done, "total": p.total,
                "parent_passed": p.parent_passed, "candidate_passed": p.candidate_passed,
            }));
            return;
        }
        reporter.bar().set_message(format!(
            "candidate {}: {}/{} pairs · parent {} · candidate {} passes",
            candidate.harness.version(),
            p.done,
            p.total,
            p.parent_passed,
            p.candidate_passed
        ))
    };
    let validation = validate::validate(&setup, &candidate, options, &on_episode, &say, &on_progress).await?;
    let record = validation.record;
    if !reporter.finished(serde_json::json!({ "validation": record })) {
        let mut table = ui::table(&["harness", "version", "passed", "of"]);
        for (name, version, score) in [
            ("parent", &record.parent_version, &record.decision.parent),
            ("candidate", &record.candidate_version, &record.decision.candidate),
        ] {
            table.add_row(vec![name.to_string(), version.clone(), score.passed.to_string(), score.counted.to_string()]);
        }
        println!("{table}");
        let decision = if record.decision.accepted { "accepted" } else { "rejected" };
        println!(
            "{} ({}): {}",
            ui::status_cell(decision, record.decision.accepted, !record.decision.accepted),
            record.policy,
            record.decision.reason
        );
        if !record.decision.improved.is_empty() || !record.decision.regressed.is_empty() {
            println!(
                "better on: {} · worse on: {}",
                record.decision.improved.join(", "),
                record.decision.regressed.join(", ")
            );
        }
        if record.stopped_early {
            println!("stopped early: acceptance was out of reach");
        }
    }
    Ok(if record.decision.accepted { exit::OK } else { exit::FAILED })
}
