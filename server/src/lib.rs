//! Self-Harness: a model improves its own agent harness on Terminal-Bench tasks.
//!
//! This crate is the front ends, side by side: the command line ([`cli`]) and the language
//! server ([`lsp`]). Everything they stand on is the crate `self-harness-core`, whose
//! modules are re-exported here under the same names, so that one path names each thing
//! (`self_harness::harness::Harness` in a test, `crate::harness::Harness` in [`cli`]).

pub use self_harness_core::{
    agent, app, check, config, episodes, evolve, harbor, harness, llm, model, oracle, pypackage, report, sandbox,
    splits, stages, stats, store, task, throughput, trace, trust, util, verify,
};

pub mod cli;
pub mod lsp;
