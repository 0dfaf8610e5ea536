//! `self-harness validate`: does a candidate harness beat its parent? Both run the same
//! validate-split tasks with the same seeds; the decision goes to
//! `.self-harness/validations.jsonl` and the exit code (0 accepted, 1 rejected).

use std::path::PathBuf;

use clap::Args;

use super::{engine, exit, ui, CliError, CliResult};
use crate::evolve::episodes::{Episode, Runner};
use crate::evolve::ledger::Split;
use crate::evolve::validation::{validate_candidate, Baseline, Progress};
use crate::store::Store;
use crate::validate::Policy;

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
    /// Print the decision as JSON.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ValidateArgs) -> CliResult {
    let store = Store::at(&super::current_dir()?);
    let (candidate, parent, working) = match (&args.proposal, &args.candidate, &args.parent) {
        (Some(id), _, _) => {
            let proposals = store.proposals().map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
            let p = proposals.iter().find(|p| &p.id == id).ok_or_else(|| {
                let known: Vec<&str> = proposals.iter().map(|p| p.id.as_str()).collect();
                CliError::new(
                    exit::BAD_INPUT,
                    format!("no proposal {id:?} in the store; standing: {}", known.join(", ")),
                )
            })?;
            let parent = store.proposal_parent(p).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
            (super::load_harness(&p.dir)?, parent, p.parent_dir.clone())
        }
        (None, Some(candidate), Some(parent)) => {
            (super::load_harness(candidate)?, super::load_harness(parent)?, parent.clone())
        }
        _ => return Err(CliError::new(exit::BAD_INPUT, "name a --proposal, or a --candidate and its --parent")),
    };
    if parent.version() == candidate.version() {
        return Err(CliError::new(
            exit::BAD_INPUT,
            "the candidate is the same harness as its parent: nothing to validate",
        ));
    }
    let suite = super::load_suite(&args.run.tasks)?;
    let (client, model) = args.agent.client()?;
    let engine = engine().await?;
    let splits = super::splits_for(&store, &suite, args.run.seed)?;
    let options = args.judge.options();

    let jobs_of = |split| args.run.jobs(&suite, &splits, split);
    let held_out = jobs_of(Split::Validate);
    // The paper's two-way rule also weighs the held-in (mine) tasks.
    let held_in = if options.policy == Policy::Paper { jobs_of(Split::Mine) } else { Vec::new() };
    let total = 2 * (held_out.len() + held_in.len()) as u64;
    let bar = ui::progress(total, "validate");
    let on_episode = |e: &Episode| {
        bar.inc(1);
        if !ui::interactive() {
            ui::info(&format!("  {} s{} {}", e.task, e.seed, if e.outcome.passed { "pass" } else { "fail" }));
        }
    };
    let runner = Runner {
        engine,
        client: &client,
        model,
        store: store.clone(),
        parallel: args.run.parallel as usize,
        time_limit: args.agent.time_limit(),
        on_episode: &on_episode,
    };
    let environment = |e: std::io::Error| CliError::new(exit::ENVIRONMENT, e.to_string());
    bar.set_message(format!("parent {}", parent.version()));
    let mut baseline: Vec<Baseline> = Vec::new();
    for (jobs, is_held_in) in [(&held_out, false), (&held_in, true)] {
        let episodes = runner.run_all(&parent, jobs).await.map_err(environment)?;
        baseline.extend(episodes.into_iter().map(|episode| Baseline { episode, held_in: is_held_in }));
    }
    bar.set_message(format!("candidate {}", candidate.version()));
    let on_progress = |p: &Progress| {
        bar.set_message(format!(
            "candidate {}: {}/{} pairs · parent {} · candidate {} passes",
            candidate.version(),
            p.done,
            p.total,
            p.parent_passed,
            p.candidate_passed
        ))
    };
    let validation = validate_candidate(&runner, &suite.tasks, &candidate, &baseline, options, &on_progress)
        .await
        .map_err(environment)?;
    bar.finish_and_clear();
    let record = validation.record(args.proposal.as_deref(), &working, &parent, &candidate, options.policy);
    store.append_validation(&record).map_err(environment)?;

    if args.json {
        println!("{}", serde_json::to_string_pretty(&record).unwrap_or_default());
    } else {
        let mut table = ui::table(&["harness", "version", "passed", "of"]);
        for (name, version, score) in [
            ("parent", &record.parent_version, &record.verdict.parent),
            ("candidate", &record.candidate_version, &record.verdict.candidate),
        ] {
            table.add_row(vec![name.to_string(), version.clone(), score.passed.to_string(), score.counted.to_string()]);
        }
        println!("{table}");
        let decision = if record.verdict.accepted { "accepted" } else { "rejected" };
        println!(
            "{} ({}): {}",
            ui::status_cell(decision, record.verdict.accepted, !record.verdict.accepted),
            record.policy,
            record.verdict.reason
        );
        if !record.verdict.improved.is_empty() || !record.verdict.regressed.is_empty() {
            println!(
                "better on: {} · worse on: {}",
                record.verdict.improved.join(", "),
                record.verdict.regressed.join(", ")
            );
        }
        if record.stopped_early {
            println!("stopped early: acceptance was out of reach");
        }
    }
    Ok(if record.verdict.accepted { exit::OK } else { exit::FAILED })
}
