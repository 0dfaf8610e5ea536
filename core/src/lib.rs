//! Self-Harness's engine: everything beneath the front ends, from the harness format and
//! the sandbox to the stages, the loop and the operations the front ends call.
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
//! * the operations every front end calls alike: [`app`].
//!
//! The front ends (the command line and the language server) are the crate `self-harness`
//! above this one, so that nothing here can reach up into them: the compiler holds that
//! line, `tests/layers.rs` the ones within.

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
