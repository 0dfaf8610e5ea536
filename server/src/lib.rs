//! Self-Harness: a model improves its own agent harness on Terminal-Bench tasks.
//!
//! Data flows one way: [`task`] → [`sandbox`] → [`verify`] → [`check`]. See
//! `ARCHITECTURE.md` at the repository root for the map.

pub mod check;
pub mod cli;
pub mod model;
pub mod oracle;
pub mod sandbox;
pub mod task;
pub mod util;
pub mod verify;
