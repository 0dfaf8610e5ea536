//! Self-Harness: a model improves its own agent harness on Terminal-Bench tasks.
//!
//! Data flows one way: [`task`] → [`sandbox`] → [`verify`] → [`check`]; [`harness`] defines the
//! agent that acts in between, [`config`] and [`llm`] connect it to a model endpoint. See `ARCHITECTURE.md` at the repository
//! root for the map.

pub mod agent;
pub mod check;
pub mod cli;
pub mod config;
pub mod evolve;
pub mod harness;
pub mod llm;
pub mod lsp;
pub mod mine;
pub mod model;
pub mod oracle;
pub mod propose;
pub mod report;
pub mod sandbox;
pub mod stats;
pub mod store;
pub mod task;
pub mod trace;
pub mod util;
pub mod validate;
pub mod verify;
