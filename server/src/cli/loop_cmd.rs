//! `self-harness loop`: the self-improvement loop, unattended with --auto-apply.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{exit, ui, CliError, CliResult};
use crate::episodes::Episode;
use crate::evolve::Plan;
use crate::evolve::{self, LoopOptions};
use crate::harness::Harness;
use crate::splits::Split;
use crate::splits::{self, Fractions, Splits};
use crate::stages::propose::{Budget, ProposeOptions, Proposer};
use crate::store::Store;

#[derive(Args)]
#[command(after_help = "\
The loop evaluates the harness on the mine, validate and test splits (baseline), then per
iteration mines weaknesses from the mine split's failed traces, asks the model for edits,
screens each candidate on the mine split (on a large one in rounds that halve the candidates,
--screen-round), validates the best (--finalists) against its parent on the validate split (same tasks, same seeds) and, with --auto-apply, installs what is accepted (a git commit when the harness is in a
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
    /// Who proposes edits: the model, the remedy catalog of known edits for the detectors' weaknesses, both
    /// (`model+catalog`), or an ablation for comparison.
    #[arg(long, value_enum, default_value_t = Proposer::Model)]
    proposer: Proposer,
    /// Candidates asked for per weakness.
    #[arg(long, default_value_t = ProposeOptions::default().candidates)]
    candidates: usize,
    /// Weaknesses addressed per iteration: the best supported first, but while nothing is
    /// accepted each iteration moves on to those not yet addressed against the same harness.
    #[arg(long, default_value_t = LoopOptions::DEFAULT_WEAKNESSES)]
    weaknesses: usize,
    /// Candidates validated per iteration. Every proposal first runs on the mine split (its
    /// parent's tasks and seeds there); only the N that gained the most passes are validated,
    /// so the validate split's test corrects for N candidates (and their combination) instead
    /// of every proposal. 0 validates every proposal, unscreened.
    #[arg(long, default_value_t = LoopOptions::DEFAULT_FINALISTS)]
    finalists: usize,
    /// On a large mine split, screening halves the candidates in rounds: all of them on a
    /// first part of the split, the better half on a part twice as large, and so on to the
    /// whole split, where the finalists must gain. No round runs on fewer than N tasks, so a
    /// split of under 2N tasks screens every candidate on all of it.
    #[arg(long, value_name = "N", default_value_t = evolve::screen::MIN_ROUND)]
    screen_round: usize,
    /// Most lines an edit of the proposer may change (the catalog's reviewed remedies have a budget of their own).
    #[arg(long, default_value_t = Budget::default().max_changed_lines)]
    max_changed_lines: u32,
    /// Stop when the model has used this many tokens.
    #[arg(long)]
    budget_tokens: Option<u64>,
    /// Stop when the model has cost this many US dollars (the model must have a price).
    #[arg(long)]
    budget_usd: Option<f64>,
    /// Print what the loop would spend at most (episodes, model calls, tokens, dollars) and
    /// whether its validate split can accept anything, then stop without running.
    #[arg(long)]
    dry_run: bool,
    /// With --dry-run: the plan as JSON. Otherwise JSON Lines on stdout as the loop runs,
    /// one event per line: `plan`, `say` (a step), `episode` (with `progress`: done, planned,
    /// left_s) and `finished`.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    agent: super::AgentArgs,
}

pub async fn run(args: LoopArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let harness_dir = args.harness.canonicalize().map_err(|e| CliError::new(exit::BAD_INPUT, e.to_string()))?;
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
        finalists: args.finalists,
        screen_round: args.screen_round,
        budget_tokens: args.budget_tokens,
        budget_usd: args.budget_usd,
    };
    if args.dry_run {
        return dry_run(&args, &options, &harness);
    }
    let setup = super::stage_setup(Store::at(&super::current_dir()?), &args.run, &args.agent).await?;
    let price = setup.client.config().price();
    let plan = evolve::plan(&options, &harness, &setup.splits, args.run.repeats, price);
    if args.json {
        ui::event(
            json!({"event": "plan", "harness": harness.name(), "version": harness.version(), "model": setup.model, "plan": plan}),
        );
    } else {
        say_plan(&plan, &harness, &setup.model);
    }
    let reporter = ui::Reporter::new(ui::spinner("loop"), plan.episodes, args.json);
    let say = |line: &str| reporter.say(line);
    let on_episode = |e: &Episode| reporter.episode(&e.task, e.seed, &e.outcome);
    let ctx = setup.context(&on_episode, &say);
    let end = evolve::run(&options, &ctx).await.map_err(|e| {
        let code = match e {
            evolve::LoopError::Resume { .. } | evolve::LoopError::Price(_) => exit::BAD_INPUT,
            evolve::LoopError::Busy { .. } => exit::ENVIRONMENT,
            _ => exit::FAILED,
        };
        CliError::new(code, e.to_string())
    })?;
    if !reporter.finished(json!({"reason": end.reason.to_string(), "harness_version": end.harness_version})) {
        println!(
            "loop finished: {} (harness version {}); `self-harness report` shows the results",
            end.reason, end.harness_version
        );
    }
    Ok(exit::OK)
}

/// `--dry-run`: the plan, from the options and the files alone (no engine, no model call,
/// nothing written: a split not made yet is worked out in memory).
fn dry_run(args: &LoopArgs, options: &LoopOptions, harness: &Harness) -> CliResult {
    let suite = super::load_suite(&args.run.tasks)?;
    let (client, model) = args.agent.client()?;
    let store = Store::at(&super::current_dir()?);
    let splits = match Splits::load(&store.splits_path()).map_err(|e| CliError::new(exit::BAD_INPUT, e))? {
        Some(kept) if kept.covers(&suite.tasks) => kept,
        _ => splits::split(&suite.tasks, Fractions::default(), args.run.seed),
    };
    let plan = evolve::plan(options, harness, &splits, args.run.repeats, client.config().price());
    if args.json {
        println!("{}", serde_json::to_string_pretty(&plan).unwrap_or_default());
    } else {
        say_plan(&plan, harness, &model);
    }
    Ok(exit::OK)
}

/// The plan for the person at the terminal: what it spends at most, and whether the
/// validate split can accept anything.
fn say_plan(plan: &Plan, harness: &Harness, model: &str) {
    let cost = match plan.usd {
        Some(usd) if usd > 0.0 => format!(", ≤ ${usd:.2}"),
        Some(_) => ", free (a model on this machine)".to_string(),
        None => ", cost unknown (no price for the model)".to_string(),
    };
    ui::info(&format!(
        "harness {} ({}), model {model}; splits mine {} / validate {} / test {} × {} repeat(s); at most {} episodes, \
         {} model calls, {} tokens{cost}",
        harness.name(),
        harness.version(),
        plan.tasks[&Split::Mine],
        plan.tasks[&Split::Validate],
        plan.tasks[&Split::Test],
        plan.repeats,
        plan.episodes,
        plan.model_calls,
        plan.tokens,
    ));
    if let (Some(p), Some(alpha)) = (plan.smallest_p, plan.alpha) {
        let reach = format!(
            "with {} validate task(s) and {} candidate(s) per iteration, the smallest p a candidate can reach is \
             {p:.4} (α = {alpha})",
            plan.tasks[&Split::Validate],
            plan.family
        );
        if plan.unreachable() {
            ui::warn(&format!(
                "{reach}: no candidate can be accepted, whatever it does. Use a suite with more tasks, fewer \
                 candidates (--finalists) or a larger --alpha"
            ));
        } else {
            ui::info(&reach);
        }
    }
}
