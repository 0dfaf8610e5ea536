//! Self-Harness: a model improves its own agent harness on Terminal-Bench tasks.
//!
//! The modules are layered, and imports only run downward (`ARCHITECTURE.md` lists the
//! layers; `tests/layers.rs` fails on an upward import):
//!
//! * foundations: [`util`], [`stats`], [`trust`] (the config files the user trusts),
//!   [`config`]; above them [`pypackage`], other projects' Python packages read where they
//!   are installed;
//! * the world an episode runs in: [`task`] → [`sandbox`] → [`verify`] → [`oracle`] →
//!   [`check`]; [`harness`] defines the agent, [`llm`] and [`model`] connect it to a model;
//! * one episode: [`trace`], [`agent`], or many as Harbor trials: [`harbor`];
//! * many episodes, kept: [`store`], [`splits`], [`episodes`];
//! * the stages mine → propose → validate: [`stages`];
//! * the loop that sequences them and keeps the ledger: [`evolve`]; what it did: [`report`];
//! * the operations every front end calls alike: [`app`];
//! * the front ends, side by side: [`lsp`], [`cli`].

pub mod config;
pub mod pypackage;
pub mod stats;
pub mod trust;
pub mod util;

pub mod check;
pub mod harness;
pub mod llm;
pub mod model;
pub mod oracle;
pub mod sandbox;
pub mod task;
pub mod verify;

pub mod agent;
pub mod harbor;
pub mod trace;

pub mod episodes;
pub mod splits;
pub mod store;

pub mod stages;
pub mod throughput;

pub mod evolve;
pub mod report;

pub mod app;

pub mod cli;
pub mod lsp;
