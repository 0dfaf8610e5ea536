//! `self-harness loop`: the self-improvement loop, unattended with --auto-apply.

use std::path::PathBuf;

use clap::Args;

use super::{exit, ui, CliError, CliResult, StageSetup};
use crate::episodes::Episode;
use crate::evolve::{self, LoopOptions};
use crate::splits::Split;
use crate::stages::propose::{Budget, ProposeOptions, Proposer};
use crate::store::Store;

#[derive(Args)]
#[command(after_help = "\
The loop evaluates the harness on the mine, validate and test splits (baseline), then per
iteration mines weaknesses from the mine split's failed traces, asks the model for edits,
validates each candidate against its parent on the validate split (same tasks, same seeds)
and, with --auto-apply, installs what is accepted (a git commit when the harness is in a
repository). Without --auto-apply it stops after the proposals. Ctrl-C or a crash, then the
same command: it resumes from .self-harness/ledger.jsonl without losing or double-counting
an episode. `self-harness report` shows the outcome.

Example:
  self-harness loop --harness harnesses/minimal --tasks tasks/ --auto-apply --iterations 2")]
pub struct LoopArgs {
    /// The harness folder to improve (edited in place with --auto-apply).
    #[arg(long)]
    harness: PathBuf,
    #[command(flatten)]
    run: super::SplitRunArgs,
    /// Install accepted edits and keep going; otherwise stop after proposing.
    #[arg(long)]
    auto_apply: bool,
    /// Iterations of mine → propose → validate.
    #[arg(long, default_value_t = LoopOptions::DEFAULT_ITERATIONS)]
    iterations: u32,
    #[command(flatten)]
    judge: super::PolicyArgs,
    /// Who proposes edits: the model, or an ablation for comparison.
    #[arg(long, value_enum, default_value_t = Proposer::Model)]
    proposer: Proposer,
    /// Candidates asked for per weakness.
    #[arg(long, default_value_t = ProposeOptions::default().candidates)]
    candidates: usize,
    /// Weaknesses addressed per iteration.
    #[arg(long, default_value_t = LoopOptions::DEFAULT_WEAKNESSES)]
    weaknesses: usize,
    /// Most lines an edit may change.
    #[arg(long, default_value_t = Budget::default().max_changed_lines)]
    max_changed_lines: u32,
    /// Stop when the model has used this many tokens.
    #[arg(long)]
    budget_tokens: Option<u64>,
    /// Stop when the model has cost this many US dollars.
    #[arg(long)]
    budget_usd: Option<f64>,
    #[command(flatten)]
    agent: super::AgentArgs,
}

pub async fn run(args: LoopArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let setup = StageSetup::new(Store::at(&super::current_dir()?), &args.run, &args.agent).await?;
    let (splits, model) = (&setup.splits, &setup.model);
    let harness_dir = args.harness.canonicalize().map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))?;

    // A budget estimate before spending anything.
    let per_version: u32 = splits.sets.values().map(|s| s.len() as u32).sum::<u32>() * args.run.repeats;
    let candidates = args.weaknesses * args.candidates;
    let validate = splits.tasks(Split::Validate).len() as u32 * args.run.repeats;
    let episodes = per_version
        + args.iterations * (candidates as u32 * validate + validate)
        + splits.tasks(Split::Test).len() as u32 * args.run.repeats;
    let turns = harness.policy().max_turns;
    ui::info(&format!(
        "harness {} ({}), model {model}; splits mine {} / validate {} / test {}; at most about {episodes} episodes \
         (≤ {turns} model calls each){}",
        harness.name(),
        harness.version(),
        splits.tasks(Split::Mine).len(),
        splits.tasks(Split::Validate).len(),
        splits.tasks(Split::Test).len(),
        match (args.budget_tokens, args.budget_usd) {
            (None, None) => String::new(),
            (t, d) => format!(
                "; budget {} tokens / ${}",
                t.map_or("∞".into(), |t| t.to_string()),
                d.map_or("∞".into(), |d| d.to_string())
            ),
        }
    ));

    let bar = ui::spinner("loop");
    let interactive = ui::interactive();
    let say = |line: &str| {
        if interactive {
            bar.println(line);
            bar.set_message(line.to_string());
        } else {
            ui::info(line);
        }
    };
    let on_episode = |e: &Episode| {
        let verdict = if e.outcome.passed { "pass" } else { "fail" };
        let line = format!(
            "    {:<28} s{:<3} {verdict} ({:?}, {} turns)",
            e.task, e.seed, e.outcome.error_class, e.outcome.turns
        );
        if interactive {
            bar.set_message(line.trim().to_string());
        } else {
            ui::info(&line);
        }
    };
    let options = LoopOptions {
        harness_dir,
        iterations: args.iterations,
        auto_apply: args.auto_apply,
        weaknesses: args.weaknesses,
        propose: ProposeOptions {
            candidates: args.candidates,
            proposer: args.proposer,
            budget: Budget { max_changed_lines: args.max_changed_lines },
            seed: args.run.seed,
            iteration: 0,
        },
        validate: args.judge.options(),
        budget_tokens: args.budget_tokens,
        budget_usd: args.budget_usd,
    };
    let ctx = setup.context(&args.run, &args.agent, &on_episode, &say);
    let end = evolve::run(&options, &ctx).await.map_err(|e| CliError::new(exit::FAILED, e.to_string()))?;
    bar.finish_and_clear();
    println!(
        "loop finished: {} (harness version {}); `self-harness report` shows the results",
        end.reason, end.harness_version
    );
    Ok(exit::OK)
}
