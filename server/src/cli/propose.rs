//! `self-harness propose`: candidate edits for the mined weaknesses, checked and kept as
//! the standing proposals (`.self-harness/proposals.json`, a candidate folder each).

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::{exit, ui, CliError, CliResult};
use crate::stages::mine;
use crate::stages::propose::{self, Budget, ProposeOptions, Proposer};
use crate::store::Store;

#[derive(Args)]
#[command(after_help = "Reads the weaknesses of the last `self-harness mine` (or loop iteration) from \
                        .self-harness/weaknesses.json. Each candidate is applied to a copy of the harness, must \
                        re-load as a valid harness and stay within the edit budget; near-duplicates are dropped. \
                        Validate one with `self-harness validate --proposal ID`.\n\nExample:\n  self-harness \
                        propose --harness harnesses/minimal --weakness no-verification --candidates 3")]
pub struct ProposeArgs {
    /// The harness folder the edits are for.
    #[arg(long)]
    harness: PathBuf,
    /// Only this weakness (repeatable; default: every mined weakness).
    #[arg(long = "weakness", value_name = "ID")]
    weaknesses: Vec<String>,
    /// Candidates asked for per weakness.
    #[arg(long, default_value_t = ProposeOptions::default().candidates as u32, value_parser = clap::value_parser!(u32).range(1..=10))]
    candidates: u32,
    /// Who proposes: the model, the remedy catalog of known edits for the detectors' weaknesses, both
    /// (`model+catalog`), or an ablation for comparison.
    #[arg(long, value_enum, default_value_t = Proposer::Model)]
    proposer: Proposer,
    /// Most lines an edit of the proposer may change (the catalog's reviewed remedies have a budget of their own).
    #[arg(long, default_value_t = Budget::default().max_changed_lines)]
    max_changed_lines: u32,
    /// Seed of the model's sampling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    agent: super::AgentArgs,
    /// Print JSON instead of tables and diffs.
    #[arg(long)]
    json: bool,
}

pub async fn run(args: ProposeArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let store = Store::at(&super::current_dir()?);
    let mined = mine::saved(&store).map_err(|e| CliError::new(exit::BAD_INPUT, e))?;
    if mined.is_empty() {
        return Err(CliError::new(
            exit::BAD_INPUT,
            format!("no weaknesses in {}: run `self-harness mine` first", store.weaknesses_path().display()),
        ));
    }
    if let Some(unknown) = args.weaknesses.iter().find(|id| !mined.iter().any(|w| &w.id == *id)) {
        let known: Vec<&str> = mined.iter().map(|w| w.id.as_str()).collect();
        return Err(CliError::new(exit::BAD_INPUT, format!("no weakness {unknown:?}; mined: {}", known.join(", "))));
    }
    let chosen: Vec<mine::Weakness> =
        mined.into_iter().filter(|w| args.weaknesses.is_empty() || args.weaknesses.contains(&w.id)).collect();
    let (_, _, client) = args.agent.clients()?;
    let options = ProposeOptions {
        candidates: args.candidates as usize,
        proposer: args.proposer,
        budget: Budget { max_changed_lines: args.max_changed_lines },
        seed: args.seed,
        iteration: 0,
    };
    let bar = ui::spinner("propose");
    bar.set_message(format!("asking for edits for {} weakness(es)", chosen.len()));
    let proposed = propose::propose(&client, &store, &harness, &chosen, &options, &|_| None)
        .await
        .map_err(|e| CliError::new(exit::ENVIRONMENT, e))?;
    bar.finish_and_clear();
    if let Some(error) = proposed.model_error {
        return Err(CliError::new(exit::ENVIRONMENT, error));
    }
    let propose::Proposed { proposals, discarded, .. } = proposed;

    if args.json {
        let discarded: Vec<_> = discarded.iter().map(|(id, reason)| json!({"id": id, "reason": reason})).collect();
        let out = json!({"proposals": proposals, "discarded": discarded});
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        let mut table = ui::table(&["proposal", "weakness", "file", "lines", "rationale"]);
        for p in &proposals {
            let lines = p.changed_lines.to_string();
            table.add_row(vec![&p.id, &p.weakness, &p.edit.files(), &lines, &p.edit.rationale]);
        }
        println!("{table}");
        for p in &proposals {
            println!("\n{}:\n{}", p.id, ui::diff(&p.diff));
        }
        for (id, reason) in &discarded {
            println!("discarded {id}: {reason}");
        }
        println!(
            "{} proposal(s) for {} weakness(es), kept in {}",
            proposals.len(),
            chosen.len(),
            store.proposals_path().display()
        );
    }
    Ok(if proposals.is_empty() { exit::FAILED } else { exit::OK })
}
