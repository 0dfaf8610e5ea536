//! What a loop will spend at most, and whether it can accept anything at all, worked out
//! before it runs: `loop --dry-run` prints it, and every run says it first.
//!
//! Every number is an upper bound from the options alone (the harness's turn limit and
//! context budget, the split sizes, the candidates asked for): a loop that stops early, or
//! whose episodes end before their last turn, spends less.

use std::collections::BTreeMap;

use serde::Serialize;

use super::LoopOptions;
use crate::config::Price;
use crate::harness::Harness;
use crate::splits::{Split, Splits};
use crate::stages::validate::{smallest_reachable_p, AcceptanceRule};

/// The loop's bounds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Plan {
    /// Tasks per split.
    pub tasks: BTreeMap<Split, usize>,
    pub repeats: u32,
    pub iterations: u32,
    /// Candidates judged together per iteration: the finalists (or, unscreened, all those
    /// asked for), and their combination.
    pub family: usize,
    /// Episodes: the baseline on the mine and test splits; per iteration the new harness on the mine
    /// split, the candidates on it (screening's rounds, or the paper rule), a fresh parent sample of
    /// the validate split and the family on it; the final test evaluation.
    pub episodes: u64,
    /// Model calls: each episode's turn limit, and the reading of failed traces and the
    /// proposals of every iteration.
    pub model_calls: u64,
    /// Tokens, with every call's conversation at the harness's context budget.
    pub tokens: u64,
    /// Those tokens at the model's input price; `None` when its price is unknown.
    pub usd: Option<f64>,
    /// The smallest p-value a candidate can reach against a parent that fails every
    /// validate task, adjusted for the family, and the level it must reach (paired rule).
    pub smallest_p: Option<f64>,
    pub alpha: Option<f64>,
}

impl Plan {
    /// True when no candidate can be accepted, whatever it does.
    pub fn unreachable(&self) -> bool {
        matches!((self.smallest_p, self.alpha), (Some(p), Some(alpha)) if p > alpha)
    }
}

/// The bounds of `options` with `harness`, `splits` and `repeats`, priced at `price`.
pub fn plan(options: &LoopOptions, harness: &Harness, splits: &Splits, repeats: u32, price: Option<Price>) -> Plan {
    let tasks: BTreeMap<Split, usize> =
        [Split::Mine, Split::Validate, Split::Test].into_iter().map(|s| (s, splits.tasks(s).len())).collect();
    let episodes_of = |split: Split| tasks[&split] as u64 * u64::from(repeats);
    let candidates = options.weaknesses * options.propose.proposer.most_per_weakness(options.propose.candidates);
    let judged = if options.finalists == 0 { candidates } else { candidates.min(options.finalists) };
    let family = judged + usize::from(judged > 1);
    let on_mine = if options.finalists > 0 {
        super::screen::episodes(tasks[&Split::Mine], candidates, options.finalists, options.screen_round, repeats)
    } else if options.validate.policy == AcceptanceRule::Paper {
        candidates as u64 * episodes_of(Split::Mine)
    } else {
        0
    };
    let per_iteration = episodes_of(Split::Mine)
        + on_mine
        + episodes_of(Split::Validate)
        + family as u64 * episodes_of(Split::Validate);
    let baseline = episodes_of(Split::Mine) + episodes_of(Split::Test);
    let episodes = baseline + u64::from(options.iterations) * per_iteration + episodes_of(Split::Test);
    let policy = harness.policy();
    // Per iteration: one reading per failed mine-split trace, two asks per weakness.
    let stage_calls = u64::from(options.iterations) * (episodes_of(Split::Mine) + 2 * options.weaknesses as u64);
    let model_calls = episodes * u64::from(policy.max_turns) + stage_calls;
    let tokens = model_calls * u64::from(policy.context_budget_tokens);
    let usd = price.map(|p| p.cost(tokens, 0));
    let (smallest_p, alpha) = match options.validate.policy {
        AcceptanceRule::PairedTasks { alpha } => {
            (Some(smallest_reachable_p(&vec![0; tasks[&Split::Validate]], repeats, family)), Some(alpha))
        }
        AcceptanceRule::Paper => (None, None),
    };
    Plan {
        tasks,
        repeats,
        iterations: options.iterations,
        family,
        episodes,
        model_calls,
        tokens,
        usd,
        smallest_p,
        alpha,
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::stages::propose::{ProposeOptions, Proposer};
    use crate::stages::validate::ValidateOptions;

    #[test]
    fn the_plan_counts_the_catalogs_remedies_and_screenings_rounds() {
        let harness = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let names = |prefix: &str, n: usize| (0..n).map(|i| format!("{prefix}-{i}")).collect::<Vec<_>>();
        let sets = [(Split::Mine, names("m", 85)), (Split::Validate, names("v", 84)), (Split::Test, names("t", 84))];
        let splits = Splits { seed: 0, rule: "test".into(), sets: sets.into_iter().collect() };
        let options = LoopOptions {
            harness_dir: harness.dir().to_path_buf(),
            iterations: 1,
            auto_apply: true,
            weaknesses: 1,
            propose: ProposeOptions { candidates: 2, proposer: Proposer::ModelAndCatalog, ..Default::default() },
            validate: ValidateOptions::default(),
            finalists: 1,
            screen_round: crate::evolve::screen::MIN_ROUND,
            budget_tokens: None,
            budget_usd: None,
        };
        // The baseline on the mine and test splits; the model's 2 and the catalog's 6 screened in
        // rounds of 22, 43 and 85 tasks (8, 4, then 2 candidates); the parent's fresh sample
        // of the validate split and the finalist there; the final test.
        let planned = plan(&options, &harness, &splits, 1, None);
        let screening = 8 * 22 + 4 * 21 + 2 * 42;
        assert_eq!(planned.episodes, 85 + 84 + 85 + screening + 84 + 84 + 84);
        let model_only =
            LoopOptions { propose: ProposeOptions { proposer: Proposer::Model, ..options.propose }, ..options };
        assert_eq!(plan(&model_only, &harness, &splits, 1, None).episodes, 85 + 84 + 85 + 2 * 85 + 84 + 84 + 84);
    }
}
