//! The oracle agent: runs the task's own reference solution in the sandbox.
//!
//! It is how a task author proves a task can be solved and its tests can pass. A solution
//! marked `typed` (tasks judged by reference commands) is typed into the agent's shell
//! session, as an agent types its commands, so that its output is the answer an agent's
//! would be.

use crate::sandbox::{ExecOptions, ExecOutput, Sandbox, SandboxError, Shell, COMMAND_OUTPUT_LIMIT};
use crate::task::Task;

/// Uploads the solution and runs it with the task's agent timeout. `None` when the task
/// has no solution.
pub async fn solve(sandbox: &Sandbox, task: &Task) -> Result<Option<ExecOutput>, SandboxError> {
    let Some(solution) = &task.solution else { return Ok(None) };
    if solution.typed {
        let shell = Shell::on(sandbox, "agent");
        return shell.run(&solution.command, task.agent_timeout, COMMAND_OUTPUT_LIMIT).await.map(Some);
    }
    for upload in &solution.uploads {
        sandbox.upload(&upload.from, &upload.to).await?;
    }
    let options = ExecOptions::with_timeout(task.agent_timeout);
    sandbox.exec(&solution.command, &options).await.map(Some)
}
