//! The application layer: the operations a person asks for — evaluate a harness, validate
//! a candidate, read a store's report; mine, propose and the loop are their stage's one
//! entry, called with [`Setup::context`] — in one place that every front end calls alike. The command line renders what an operation returns and the language server
//! maps it to LSP, so an option, a check or a fix made here reaches both, and neither does
//! domain work of its own.
//!
//! An operation takes what the front end resolved (the shared episode [`Runner`], the
//! harness, the tasks) and returns plain data, reporting each finished episode as it goes;
//! its failures are an [`Error`] whose [`ErrorKind`] the command line turns into its exit
//! code and the editor into a message.
//!
//! [`Runner`]: crate::episodes::Runner

pub mod eval;
pub mod report;
mod setup;
pub mod validate;

pub use setup::{backend, harbor, load_suite, Choices, HarborFlags, Setup};

/// Why an operation could not do what it was asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: ErrorKind,
    pub message: String,
}

/// Whose doing a failure is: what the user gave, or what it ran on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The harness, tasks or options given are wrong: nothing was run.
    BadInput,
    /// Docker, the model endpoint or the disk failed.
    Environment,
    /// A task cannot be run here (its image does not build).
    Failed,
}

impl Error {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error { kind, message: message.into() }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
