//! Where an agent's commands run, as the agent sees it: run a script, write a file.
//!
//! The agent needs nothing else from a sandbox, so it asks for a [`Terminal`], not for
//! Docker: a local [`super::Sandbox`] is one, and so is a [`super::remote::Remote`], whose
//! commands another program performs (Harbor's agent, through its environment's `exec`).
//! The persistent [`super::Shell`] sits on either, so `cd`, variables and background
//! jobs carry over between commands the same way on both.

use std::future::Future;

use super::{ExecOptions, ExecOutput, Sandbox, SandboxError};

/// Something that runs bash scripts and takes files.
pub trait Terminal: Sync {
    /// Runs a bash script and waits for it, or for `options.timeout`, after which the
    /// script and everything it started are stopped (`exit_code: None`, `timed_out`).
    fn exec(
        &self,
        script: &str,
        options: &ExecOptions,
    ) -> impl Future<Output = Result<ExecOutput, SandboxError>> + Send;

    /// Writes `bytes` to the file `path` (parents created) with the given mode.
    fn write_file(&self, path: &str, bytes: &[u8], mode: u32) -> impl Future<Output = Result<(), SandboxError>> + Send;
}

impl Terminal for Sandbox {
    fn exec(
        &self,
        script: &str,
        options: &ExecOptions,
    ) -> impl Future<Output = Result<ExecOutput, SandboxError>> + Send {
        Sandbox::exec(self, script, options)
    }

    fn write_file(&self, path: &str, bytes: &[u8], mode: u32) -> impl Future<Output = Result<(), SandboxError>> + Send {
        Sandbox::write_file(self, path, bytes, mode)
    }
}
