//! Episodes per hour, and the model's share of them. Every figure of the evidence is bought
//! with local-model time, so a server configuration is measured two ways (`bench model`):
//!
//! * **Replay.** A recorded episode is played again through the real agent loop
//!   ([`agent::run_driven`]): the same prompts, reply format, context policy and prompt
//!   caching as a live episode, with the recorded command outputs standing in for the
//!   container. What is left is the server's own work, read from what it says it spent
//!   (llama.cpp's `timings`): prompt and generation tokens per second, turn latency, drafts
//!   accepted. At temperature 0 the replies are also what proves a configuration changes
//!   no token.
//! * **Episodes.** Real episodes of a fixed sample of tasks through the stages' [`Runner`]
//!   (containers, verification and all) give episodes per hour: what the evidence pays.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::agent::{self, Brief};
use crate::episodes::Runner;
use crate::harness::{Harness, Uname};
use crate::llm::{Client, ServerTimings};
use crate::sandbox::{ExecOutput, SandboxError, Terminal};
use crate::task::Task;
use crate::trace::{self, Trace};

/// A finished episode's commands' outputs, in order, and the instruction it was given.
#[derive(Debug, Clone)]
pub struct Recording {
    pub task: String,
    pub instruction: String,
    outputs: Vec<ExecOutput>,
}

impl Recording {
    /// The recording of `trace` (its turns' commands); `instruction` is its task's.
    pub fn of(trace: &Trace, instruction: &str) -> Result<Recording, String> {
        let outputs: Vec<ExecOutput> = trace
            .turns
            .iter()
            .filter_map(|turn| turn.command.as_ref())
            .map(|command| ExecOutput {
                exit_code: command.exit_code,
                output: command.output_shown.clone(),
                output_bytes: command.output_bytes,
                timed_out: command.timed_out,
                duration: Duration::from_secs_f64(command.duration_ms / 1000.0),
            })
            .collect();
        if outputs.is_empty() {
            return Err(format!("the trace of {} ran no command: nothing to replay", trace.header.task));
        }
        Ok(Recording { task: trace.header.task.clone(), instruction: instruction.to_string(), outputs })
    }

    /// Model calls a replay makes at most: one per recorded command.
    pub fn commands(&self) -> usize {
        self.outputs.len()
    }
}

/// The recording as a terminal: whatever the agent runs, the next recorded output comes
/// back; once the last one has, `finished` fires and the replay stops before another turn.
struct Replay<'a> {
    recording: &'a Recording,
    next: AtomicUsize,
    finished: tokio::sync::Notify,
}

impl Terminal for Replay<'_> {
    async fn exec(&self, script: &str, _options: &crate::sandbox::ExecOptions) -> Result<ExecOutput, SandboxError> {
        let output = |text: &str| ExecOutput {
            exit_code: Some(0),
            output: text.to_string(),
            output_bytes: text.len() as u64,
            timed_out: false,
            duration: Duration::ZERO,
        };
        // The agent's look at where it is, before the first turn.
        if script.contains(Uname::COMMAND) {
            return Ok(output("/app\nLinux\n6.1.0\n#1 SMP\nx86_64\n"));
        }
        let index = self.next.fetch_add(1, Ordering::SeqCst);
        if index + 1 >= self.recording.outputs.len() {
            self.finished.notify_one();
        }
        Ok(self.recording.outputs.get(index).cloned().unwrap_or_else(|| output("")))
    }

    async fn write_file(&self, _path: &str, _bytes: &[u8], _mode: u32) -> Result<(), SandboxError> {
        Ok(())
    }
}

/// One turn of a replay, as the client and the server measured it.
#[derive(Debug, Clone, Serialize)]
pub struct TurnFigures {
    /// From the request to the whole reply, on the client's clock.
    pub latency_ms: f64,
    /// What the server said it spent (absent when it does not say).
    pub served: Option<ServerTimings>,
}

/// What a replay produced: a figure and the reply per turn.
#[derive(Debug, Clone)]
pub struct Replayed {
    pub turns: Vec<TurnFigures>,
    pub replies: Vec<String>,
}

/// Replays `recording` with `harness` against `client`, writing the trace into `dir`.
pub async fn replay(
    recording: &Recording,
    harness: &Harness,
    client: &Client,
    model: &str,
    dir: &Path,
) -> std::io::Result<Replayed> {
    let terminal = Replay { recording, next: AtomicUsize::new(0), finished: tokio::sync::Notify::new() };
    let brief = Brief {
        task: &recording.task,
        instruction: &recording.instruction,
        harness,
        client,
        model,
        seed: 0,
        attempt: 0,
        dir,
        agent_time: Duration::from_secs(3600),
    };
    let result = agent::run_driven(&terminal, &brief, terminal.finished.notified()).await?;
    let trace = trace::read(&result.trace).map_err(std::io::Error::other)?;
    Ok(Replayed {
        turns: trace.turns.iter().map(|t| TurnFigures { latency_ms: t.model_ms, served: t.served }).collect(),
        replies: trace.turns.into_iter().map(|t| t.reply).collect(),
    })
}

/// Replays added up.
#[derive(Debug, Clone, Serialize)]
pub struct ServerFigures {
    pub turns: usize,
    /// Prompt tokens evaluated (not served from the cache) per second.
    pub prompt_tokens_per_s: Option<f64>,
    /// Share of prompt tokens the server took from its cache.
    pub prompt_cached: Option<f64>,
    pub generated_tokens_per_s: Option<f64>,
    pub turn_p50_ms: f64,
    pub turn_p99_ms: f64,
    /// Drafted tokens accepted, of those drafted (speculation only).
    pub drafts_accepted: Option<f64>,
}

impl ServerFigures {
    pub fn of(turns: &[TurnFigures]) -> ServerFigures {
        let mut served = ServerTimings::default();
        let mut said = false;
        for timings in turns.iter().filter_map(|t| t.served.as_ref()) {
            served.add(timings);
            said = true;
        }
        let rate = |n: u64, ms: f64| (said && ms > 0.0).then(|| n as f64 / (ms / 1000.0));
        let mut latencies: Vec<f64> = turns.iter().map(|t| t.latency_ms).collect();
        latencies.sort_by(f64::total_cmp);
        ServerFigures {
            turns: turns.len(),
            prompt_tokens_per_s: rate(served.prompt_n, served.prompt_ms),
            prompt_cached: (said && served.prompt_n + served.cache_n > 0)
                .then(|| served.cache_n as f64 / (served.prompt_n + served.cache_n) as f64),
            generated_tokens_per_s: rate(served.generated_n, served.generated_ms),
            turn_p50_ms: crate::stats::quantile(&latencies, 0.5),
            turn_p99_ms: crate::stats::quantile(&latencies, 0.99),
            drafts_accepted: (served.draft_n > 0).then(|| served.draft_n_accepted as f64 / served.draft_n as f64),
        }
    }
}

/// Real episodes of a sample of tasks, timed end to end.
#[derive(Debug, Clone, Serialize)]
pub struct EpisodeFigures {
    pub episodes: usize,
    pub passed: usize,
    /// Episodes that ended in an infrastructure error (not counted as passed or failed).
    pub errors: usize,
    pub wall_s: f64,
    pub episodes_per_hour: f64,
    /// The model's share of the episodes' time (summed over episodes).
    pub model_share: f64,
}

/// Runs every task of `tasks` once (seed 0) with `harness` through `runner` (its store
/// should be fresh, or episodes are reused rather than timed).
pub async fn episodes_per_hour(
    runner: &Runner<'_>,
    harness: &Harness,
    tasks: &[Task],
) -> std::io::Result<EpisodeFigures> {
    let jobs: Vec<(&Task, u64)> = tasks.iter().map(|task| (task, 0)).collect();
    let started = Instant::now();
    let done = runner.run_all(harness, &jobs).await?;
    let wall = started.elapsed().as_secs_f64();
    let (mut model_ms, mut episode_ms) = (0.0, 0.0);
    for trace in done.iter().filter_map(|e| trace::read(&e.trace).ok()) {
        model_ms += trace.turns.iter().map(|t| t.model_ms).sum::<f64>();
        episode_ms += trace.outcome.as_ref().map_or(0.0, |o| o.duration_ms as f64);
    }
    Ok(EpisodeFigures {
        episodes: done.len(),
        passed: done.iter().filter(|e| e.counts() && e.outcome.passed).count(),
        errors: done.iter().filter(|e| !e.counts()).count(),
        wall_s: wall,
        episodes_per_hour: if wall > 0.0 { done.len() as f64 * 3600.0 / wall } else { 0.0 },
        model_share: if episode_ms > 0.0 { model_ms / episode_ms } else { 0.0 },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn turn(latency_ms: f64, served: Option<ServerTimings>) -> TurnFigures {
        TurnFigures { latency_ms, served }
    }

    #[test]
    fn figures_add_up_what_the_server_said() {
        let a = ServerTimings {
            prompt_n: 100,
            prompt_ms: 2000.0,
            cache_n: 300,
            generated_n: 40,
            generated_ms: 4000.0,
            draft_n: 10,
            draft_n_accepted: 5,
        };
        let b = ServerTimings { prompt_n: 50, prompt_ms: 1000.0, generated_n: 20, generated_ms: 1000.0, ..a };
        let figures = ServerFigures::of(&[turn(6000.0, Some(a)), turn(2000.0, Some(b))]);
        assert_eq!(figures.turns, 2);
        assert_eq!(figures.prompt_tokens_per_s, Some(50.0));
        assert_eq!(figures.generated_tokens_per_s, Some(12.0));
        assert_eq!(figures.prompt_cached, Some(600.0 / 750.0));
        assert_eq!(figures.drafts_accepted, Some(0.5));
        assert_eq!(figures.turn_p50_ms, 6000.0); // nearest rank: the upper of two
    }

    #[test]
    fn a_server_that_says_nothing_gives_latencies_only() {
        let figures = ServerFigures::of(&[turn(10.0, None), turn(30.0, None)]);
        assert_eq!(figures.prompt_tokens_per_s, None);
        assert_eq!(figures.generated_tokens_per_s, None);
        assert_eq!(figures.drafts_accepted, None);
        assert_eq!(figures.turn_p99_ms, 30.0);
    }
}
