//! `self-harness act --stdio`: one episode's agent, with its commands performed by the
//! program that started it (Harbor's agent class in `integrations/harbor/`), over the
//! driver protocol of [`crate::sandbox::remote`].
//!
//! The same harness, prompts, policy and trace as a local episode; only the terminal is
//! the driver's, and the driver (not this process) starts, verifies and removes the
//! environment. The trace, and its ATIF trajectory beside it, go to `--trace-dir` (Harbor:
//! the trial's agent log folder).

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::{exit, CliError, CliResult};
use crate::agent::{self, Brief};
use crate::sandbox::remote::Remote;
use crate::trace::{self, atif};

#[derive(Args)]
#[command(after_help = "\
Started by a driver, not by hand: our Harbor agent (integrations/harbor/) runs it once per \
trial and performs each command it asks for through the trial environment's exec. The \
protocol (one JSON object per line: requests on stdout, answers on stdin) is in \
docs/harbor.md. Logs go to stderr.

Exit codes: 0 the episode ran to an outcome (passed or not: the driver's verifier decides); \
2 bad input (harness, instruction file); 3 the model or the trace folder is unusable.

Example (what the Harbor agent runs):
  self-harness act --stdio --harness harnesses/minimal --task count-lines \\
      --instruction-file jobs/j/count-lines__x/agent/instruction.md \\
      --trace-dir jobs/j/count-lines__x/agent --seed 3 --agent-timeout 600")]
pub struct ActArgs {
    /// Speak the driver protocol on stdin and stdout (the only transport).
    #[arg(long, required = true)]
    stdio: bool,
    /// The harness folder (with harness.toml).
    #[arg(long)]
    harness: PathBuf,
    /// The task's name, as the trace records it.
    #[arg(long)]
    task: String,
    /// The task's instruction (Markdown).
    #[arg(long, value_name = "FILE")]
    instruction_file: PathBuf,
    /// Where trace.jsonl and trajectory.json go.
    #[arg(long, value_name = "DIR")]
    trace_dir: PathBuf,
    /// The sampling seed (the local runner's key: repeat k of a batch uses seed + k).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Which try at this episode it is, recorded in the trace (0; 1 and 2 after the
    /// infrastructure failed the ones before).
    #[arg(long, default_value_t = 0, alias = "trial")]
    attempt: u32,
    /// The agent's time in seconds (the task's agent timeout); the episode ends as
    /// agent_timeout after it.
    #[arg(long, value_name = "SECS", default_value_t = 600)]
    agent_timeout: u64,
    #[command(flatten)]
    agent: super::AgentArgs,
}

pub async fn run(args: ActArgs) -> CliResult {
    let harness = super::load_harness(&args.harness)?;
    let instruction = std::fs::read_to_string(&args.instruction_file).map_err(|e| {
        CliError::new(exit::BAD_INPUT, format!("cannot read the instruction {}: {e}", args.instruction_file.display()))
    })?;
    let (client, model) = args.agent.client()?;
    let cap = args.agent.time_limit().unwrap_or(Duration::MAX);
    let brief = Brief {
        task: &args.task,
        instruction: &instruction,
        harness: &harness,
        client: &client,
        model: &model,
        seed: args.seed,
        attempt: args.attempt,
        dir: &args.trace_dir,
        agent_time: Duration::from_secs(args.agent_timeout).min(cap),
    };
    let remote = Remote::stdio();
    let unwritable = |e: std::io::Error| {
        CliError::new(exit::ENVIRONMENT, format!("cannot write the trace in {}: {e}", args.trace_dir.display()))
    };
    let result = agent::run_driven(&remote, &brief, stop_signal()).await.map_err(unwritable)?;

    let trajectory = trace::read(&result.trace)
        .map_err(|e| e.to_string())
        .and_then(|trace| {
            let export = atif::Export {
                session_id: format!("{}/s{}", args.task, args.seed),
                source: result.trace.display().to_string(),
                prompts: None,
            };
            atif::to_atif(&trace, &export)
        })
        .map_err(|e| CliError::new(exit::ENVIRONMENT, format!("{}: {e}", result.trace.display())))?;
    let path = args.trace_dir.join(atif::FILE_NAME);
    crate::util::write_atomic(&path, serde_json::to_string_pretty(&trajectory).unwrap_or_default().as_bytes())
        .map_err(unwritable)?;
    let finished = json!({"op": "finished", "outcome": result.outcome, "trace": result.trace, "trajectory": path});
    // The driver may already have gone; the trace is written either way.
    let _ = remote.notify(&finished).await;
    Ok(exit::OK)
}

/// Resolves when the driver asks the episode to stop (SIGTERM or SIGINT: Harbor's agent
/// timeout cancels the agent), so the trace still ends with an outcome.
async fn stop_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending().await,
    }
}
