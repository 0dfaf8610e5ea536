//! The stages of the self-improvement loop, in the order data flows through them: [`mine`]
//! (traces → weaknesses), [`propose`] (a weakness → checked candidate edits) and
//! [`validate`] (a candidate against its parent → a decision). Each stage is one folder that
//! owns its types, its logic and its file in the store, behind one public API that every
//! front end calls alike: the loop (`evolve`), the command line (`cli`) and the language
//! server (`lsp`). So an option a stage has, every front end has. A later stage may use an
//! earlier one's types; an earlier one knows nothing of the later ones.
//!
//! [`Context`] is what the stages that run episodes share: the runner (engine, model,
//! store, parallelism), the tasks and their split, and how many seeds each task gets.

pub mod mine;
pub mod propose;
pub mod validate;

use crate::episodes::{Episode, Runner, Spend};
use crate::harness::Harness;
use crate::llm::{Client, UsageTotals};
use crate::splits::{Split, Splits};
use crate::store::Store;
use crate::task::Task;

/// Episodes per task and harness version when not told otherwise.
pub const DEFAULT_REPEATS: u32 = 2;

/// Where and how the stages run episodes.
pub struct Context<'a> {
    /// Runs episodes with the acting model.
    pub runner: Runner<'a>,
    /// The model that reads failed traces and proposes edits (the acting model, unless
    /// another is configured); it shares the acting client's accounting.
    pub proposer_model: &'a Client,
    pub tasks: &'a [Task],
    pub splits: &'a Splits,
    /// Episodes per task and harness version, with seeds `seed`, `seed + 1`, …: a parent
    /// and its candidate run the same seeds, so their episodes pair up.
    pub repeats: u32,
    pub seed: u64,
    /// A line for the person watching ("reading 3 failed traces", …).
    pub say: &'a (dyn Fn(&str) + Sync),
}

impl Context<'_> {
    /// The acting model's client.
    pub fn client(&self) -> &Client {
        self.runner.client
    }

    pub fn store(&self) -> &Store {
        &self.runner.store
    }

    /// The (task, seed) episodes of one split: every task of it, `repeats` seeds each
    /// (`seed`, `seed + 1`, …).
    pub fn keys(&self, split: Split) -> Vec<(&Task, u64)> {
        self.sample(split, 0)
    }

    /// The same tasks with a fresh set of seeds: sample `k` uses `seed + 1000·k`, … (sample
    /// 0 is [`Context::keys`]).
    pub fn sample(&self, split: Split, k: u32) -> Vec<(&Task, u64)> {
        let (first, repeats) = (self.seed + 1000 * u64::from(k), self.repeats);
        self.splits
            .tasks(split)
            .iter()
            .filter_map(|name| self.tasks.iter().find(|t| &t.name == name))
            .flat_map(|task| (0..repeats).map(move |r| (task, first + u64::from(r))))
            .collect()
    }

    /// Runs (or reuses) `harness` on every episode of `split`.
    pub async fn run_split(&self, harness: &Harness, split: Split) -> std::io::Result<Vec<Episode>> {
        self.run_sample(harness, split, 0).await
    }

    /// Runs (or reuses) `harness` on every episode of sample `k` of `split`.
    pub async fn run_sample(&self, harness: &Harness, split: Split, k: u32) -> std::io::Result<Vec<Episode>> {
        self.runner.run_all(harness, &self.sample(split, k)).await
    }
}

/// Why repeats of a task would tell nothing, if they would: `repeats` > 1 of a harness that
/// samples greedily (temperature 0), whose episodes a deterministic model plays out alike.
pub fn repeats_note(harness: &Harness, repeats: u32) -> Option<String> {
    (repeats > 1 && harness.policy().temperature == 0.0).then(|| {
        format!(
            "the harness samples at temperature 0: with a deterministic model (a local one) the {repeats} \
             repeats of a task play out alike and add no information (decisions count tasks, not repeats); \
             use --repeats 1, or set policy.temperature to sample"
        )
    })
}

/// What the model calls made through `client` since `before` cost.
pub fn spend_since(client: &Client, before: &UsageTotals) -> Spend {
    let now = client.usage().totals();
    Spend {
        tokens: now.total_tokens().saturating_sub(before.total_tokens()),
        cost_usd: (now.cost_usd - before.cost_usd).max(0.0),
        container_seconds: 0.0,
    }
}
