//! The agent: a harness and a model acting on a task in a sandbox, one episode at a time.
//!
//! Everything the agent does is decided by the harness (prompts, action format, limits,
//! truncation, hooks, completion rule, context policy); the model only chooses actions.
//! An episode: build or reuse the task image, start a sandbox, install the harness's tools
//! and hooks, then turn by turn ask the model, parse its action, run its command in a
//! persistent shell (or type its keystrokes into a terminal pane), show it the (truncated)
//! output; when it is done, over time, out of turns or context, run the task's own tests.
//! Every turn goes to the trace as it happens; the outcome line closes it. Infrastructure
//! failures are classified, never counted.

mod context;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::harness::{
    first_message, Action, ActionError, ActionFormat, Completion, FormatError, Harness, Hook, Keystrokes, Observation,
    Policy, PromptContext, ShellMode, Uname,
};
use crate::llm::{ChatRequest, Client, LlmError, Message, ModelErrorKind, ResponseFormat, ToolSpec};
use crate::sandbox::image::ImageSpec;
use crate::sandbox::offline;
use crate::sandbox::{
    typed_output, Engine, ExecOptions, ExecOutput, Pane, Sandbox, SandboxError, SandboxSpec, Shell, Terminal,
    COMMAND_OUTPUT_LIMIT,
};
use crate::task::{Task, VerifierSpec};
use crate::trace::{self, CommandRecord, EpisodeErrorKind, Header, Outcome, TraceWriter, Turn};
use crate::verify;

/// A cap on one reply, so a model that never stops cannot stall a turn (a JSON action is
/// far shorter: its fields have length limits).
const MAX_REPLY_TOKENS: u32 = 1024;

/// Appended to a command's output under `warn_repeated_failures` when it failed as before.
const REPEATED_FAILURE: &str = "\n\nYou ran exactly this command before and it failed the same way. Running it \
    again will not help: read the error above, then change the command or try another way.";

/// The model's answer when its reply repeats a command that failed, under
/// `resample_repeated_failures` (the exchange is not kept in the conversation).
const RESAMPLE: &str = "You ran exactly this command before in this task and it failed. It is not run again. \
    Reply with a different command that fixes the cause of the error or tries another way.";

/// The model's answer when its reply runs no command and is not done, under
/// `resample_idle_replies` (the exchange is not kept in the conversation).
const RESAMPLE_IDLE: &str = "Your reply ran no command and did not say done. Reply with the next shell command \
    that moves the task forward, or say done if the task is finished.";

/// Appended to the observation under `refuse_done_after_failure` when the agent says done
/// while its latest command failed.
const REFUSED_DONE: &str = "Your latest command failed, so the task is not done yet. Read its error, fix the \
    cause, and say done only after a command shows that the result is what the task asks.";

/// Appended to a command's output under `completion = "confirm"` when the agent said done
/// in the same reply.
const CONFIRM_DONE: &str = "\n\nYou said the task is done in the same reply as this command, before seeing its \
    output. Check the output above against the task. If the task is complete, say done again; \
    otherwise run the next command.";

/// Appended to the observation under `completion = "twice"` when the agent first says done.
const CONFIRM_TWICE: &str = "You said the task is done. Check what you see above against the task: if it is \
    complete, say done again; otherwise run the next command.";

/// The same for `action_format = "keystrokes"`, in its words.
const CONFIRM_TWICE_KEYSTROKES: &str = "You set \"task_complete\": true. Check the terminal above against the task: \
    if it is complete, set \"task_complete\": true again; otherwise send the next commands.";

/// Which episode to run.
pub struct EpisodeSpec<'a> {
    pub task: &'a Task,
    pub harness: &'a Harness,
    pub client: &'a Client,
    /// The model name recorded in the trace.
    pub model: String,
    pub seed: u64,
    pub attempt: u32,
    /// The folder the trace is written to.
    pub dir: PathBuf,
    /// A cap on the agent's time below the task's own timeout (for quick runs).
    pub time_limit: Option<Duration>,
}

impl EpisodeSpec<'_> {
    /// The time the agent has: the task's timeout, or the cap when it is shorter.
    pub fn agent_time(&self) -> Duration {
        self.time_limit.map_or(self.task.agent_timeout, |cap| cap.min(self.task.agent_timeout))
    }
}

/// What an episode produced.
#[derive(Debug, Clone)]
pub struct EpisodeResult {
    pub trace: PathBuf,
    pub outcome: Outcome,
}

/// Runs one episode to its outcome. Fails only when the trace itself cannot be written.
pub async fn run_episode(
    engine: &Engine,
    spec: &EpisodeSpec<'_>,
    phase: &(dyn Fn(&str) + Sync),
) -> std::io::Result<EpisodeResult> {
    let brief = Brief {
        task: &spec.task.name,
        instruction: &spec.task.instruction,
        harness: spec.harness,
        client: spec.client,
        model: &spec.model,
        seed: spec.seed,
        attempt: spec.attempt,
        dir: &spec.dir,
        agent_time: spec.agent_time(),
    };
    let started = Instant::now();
    let mut episode = Acting::new(&brief, brief.start_trace()?);

    phase("building");
    let image_spec = ImageSpec::for_task(spec.task);
    let end = match engine.ensure_image(&image_spec, &mut |_| {}).await {
        Err(e) => {
            End::error(EpisodeErrorKind::InfrastructureError, format!("image: {}", offline::explain(&e.to_string())))
        }
        Ok(image) => {
            phase("starting");
            let sandbox_spec = SandboxSpec::for_task(spec.task, &image.tag);
            match engine.start_sandbox(&sandbox_spec).await {
                Err(e) => End::error(EpisodeErrorKind::InfrastructureError, format!("sandbox: {e}")),
                Ok(sandbox) => {
                    episode.limits = sandbox.capped().map(str::to_string);
                    let fresh = (engine, &sandbox_spec);
                    let end = episode.act_and_verify(&sandbox, &spec.task.verifier, fresh, phase).await?;
                    phase("removing");
                    sandbox.remove().await;
                    end
                }
            }
        }
    };
    episode.finish(end, started)
}

/// Runs the agent of an episode whose commands another program performs (Harbor, through
/// a [`crate::sandbox::remote::Remote`]) and which also starts, verifies and removes the
/// environment: the agent only acts on `terminal` until it is done or stops, or until `stop`
/// resolves (the driver's own timeout: the episode ends as `agent_timeout`, its turn in
/// flight unrecorded); the outcome has no reward (the driver's verifier gives it). Fails
/// only when the trace itself cannot be written.
pub async fn run_driven<T: Terminal>(
    terminal: &T,
    brief: &Brief<'_>,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<EpisodeResult> {
    let started = Instant::now();
    let mut episode = Acting::new(brief, brief.start_trace()?);
    let stop = tokio::select! {
        stop = episode.act(terminal, &|_| {}) => stop?,
        () = stop => Stop { class: EpisodeErrorKind::AgentTimeout, detail: Some("stopped by the driver".into()) },
    };
    episode.finish(End::unjudged(stop), started)
}

/// What the agent of one episode is given, wherever its commands run.
pub struct Brief<'a> {
    /// The task's name, as recorded in the trace.
    pub task: &'a str,
    pub instruction: &'a str,
    pub harness: &'a Harness,
    pub client: &'a Client,
    /// The model name recorded in the trace.
    pub model: &'a str,
    pub seed: u64,
    pub attempt: u32,
    /// The folder the trace is written to.
    pub dir: &'a Path,
    /// The agent's time; the episode ends as `agent_timeout` after it.
    pub agent_time: Duration,
}

impl Brief<'_> {
    /// Creates the trace and writes its header.
    fn start_trace(&self) -> std::io::Result<TraceWriter> {
        let header = Header {
            schema: trace::SCHEMA_VERSION,
            task: self.task.to_string(),
            harness: self.harness.name().to_string(),
            harness_version: self.harness.version().to_string(),
            model: self.model.to_string(),
            seed: self.seed,
            attempt: self.attempt,
            started_at: crate::util::now_rfc3339(),
        };
        TraceWriter::create(self.dir, &header)
    }
}

/// How an episode ended, before the outcome line is assembled.
struct End {
    class: EpisodeErrorKind,
    detail: Option<String>,
    reward: Option<f64>,
    tests: Vec<verify::TestResult>,
    judgement: Option<verify::reference::Judgement>,
    verify_ms: Option<u64>,
}

impl End {
    fn error(class: EpisodeErrorKind, detail: String) -> End {
        End { class, detail: Some(detail), reward: None, tests: Vec::new(), judgement: None, verify_ms: None }
    }

    /// The agent stopped and nothing judged it (or it never acted).
    fn unjudged(stop: Stop) -> End {
        End {
            class: stop.class,
            detail: stop.detail,
            reward: None,
            tests: Vec::new(),
            judgement: None,
            verify_ms: None,
        }
    }
}

/// Why the agent stopped acting (the tests run afterwards in every case but a broken
/// sandbox or model).
struct Stop {
    class: EpisodeErrorKind,
    detail: Option<String>,
}

impl Stop {
    /// The sandbox failed underneath the episode.
    fn infrastructure(error: SandboxError) -> Stop {
        Stop { class: EpisodeErrorKind::InfrastructureError, detail: Some(error.to_string()) }
    }
}

/// An episode while it is acted out: what it has written and spent so far (the finished
/// record is `episodes::Episode`).
struct Acting<'s> {
    brief: &'s Brief<'s>,
    writer: TraceWriter,
    /// The latest command run and its whole output, for a verifier that compares answers.
    submission: verify::Submission,
    tokens_in: u64,
    tokens_out: u64,
    cost: f64,
    turns: u32,
    /// The task's limits its container could not have (see `SandboxSpec::fitted`).
    limits: Option<String>,
}

impl<'s> Acting<'s> {
    fn new(brief: &'s Brief<'s>, writer: TraceWriter) -> Self {
        Acting {
            brief,
            writer,
            submission: Default::default(),
            tokens_in: 0,
            tokens_out: 0,
            cost: 0.0,
            turns: 0,
            limits: None,
        }
    }

    /// Writes the outcome line and publishes the trace.
    fn finish(self, end: End, started: Instant) -> std::io::Result<EpisodeResult> {
        let outcome = Outcome {
            reward: end.reward,
            passed: end.reward.is_some_and(|r| r >= 1.0),
            tests: end.tests,
            judgement: end.judgement,
            error_class: end.class,
            error_detail: end.detail,
            turns: self.turns,
            tokens_in: self.tokens_in,
            tokens_out: self.tokens_out,
            cost_usd: self.cost,
            duration_ms: started.elapsed().as_millis() as u64,
            verify_ms: end.verify_ms,
            limits: self.limits,
            finished_at: crate::util::now_rfc3339(),
        };
        let trace = self.writer.finish(&outcome)?;
        Ok(EpisodeResult { trace, outcome })
    }

    /// Acts, then judges: `fresh` is where the verifier may start a fresh container of the
    /// task's image.
    async fn act_and_verify(
        &mut self,
        sandbox: &Sandbox,
        verifier: &VerifierSpec,
        fresh: (&Engine, &SandboxSpec),
        phase: &(dyn Fn(&str) + Sync),
    ) -> std::io::Result<End> {
        phase("agent");
        let stop = self.act(sandbox, phase).await?;
        if stop.class == EpisodeErrorKind::InfrastructureError {
            return Ok(End::unjudged(stop));
        }
        phase("verifying");
        let started = Instant::now();
        Ok(match verify::verify(sandbox, verifier, fresh.0, fresh.1, &self.submission).await {
            Ok(verdict) => End {
                class: stop.class,
                detail: stop.detail,
                reward: Some(verdict.reward),
                tests: verdict.tests,
                judgement: verdict.judgement,
                verify_ms: Some(started.elapsed().as_millis() as u64),
            },
            Err(e) => End::error(
                EpisodeErrorKind::InfrastructureError,
                format!("verifier: {}", offline::explain(&format!("{e}\n{}", e.output()))),
            ),
        })
    }

    /// The turn loop: ask, run, observe, until the agent is done or a limit ends it.
    async fn act<T: Terminal>(&mut self, terminal: &T, phase: &(dyn Fn(&str) + Sync)) -> std::io::Result<Stop> {
        let harness = self.brief.harness;
        let policy = harness.policy();
        let deadline = Instant::now() + self.brief.agent_time;
        let mut stage = match set_up(terminal, self.brief).await {
            Ok(stage) => stage,
            Err(stop) => return Ok(stop),
        };
        let mut parse_failures = 0;
        let mut asked_to_confirm = false;
        // (command, exit code) of every command that failed, for `warn_repeated_failures`
        // and `resample_repeated_failures`.
        let mut failures = Failures::default();
        // Whether the latest command failed, for `refuse_done_after_failure`.
        let mut last_failed = false;

        for index in 0..policy.max_turns {
            self.turns = index + 1;
            phase(&format!("agent turn {}", index + 1));
            let Some(remaining) = deadline.checked_duration_since(Instant::now()) else {
                return Ok(Stop {
                    class: EpisodeErrorKind::AgentTimeout,
                    detail: Some(format!("agent timeout of {:?}", self.brief.agent_time)),
                });
            };
            let mut turn = Turn { index, on_start: stage.on_start.take(), ..Turn::default() };
            if let Err(overflow) = context::fit(&mut stage.messages, policy) {
                turn.notice = Some(overflow.clone());
                self.writer.turn(&turn)?;
                return Ok(Stop { class: EpisodeErrorKind::ContextOverflow, detail: Some(overflow) });
            }

            let (reply, action) = match self.ask(&stage.messages, index, 0, remaining, &mut turn).await? {
                Ok(asked) => asked,
                Err(stop) => return Ok(stop),
            };
            turn.reply = reply.clone();
            let action = match action {
                Ok(action) => {
                    parse_failures = 0;
                    action
                }
                Err(problem) => {
                    parse_failures += 1;
                    let message = match harness.render_format_error(&stage.context, &problem) {
                        Ok(message) => message,
                        Err(e) => return Ok(harness_error(e)),
                    };
                    turn.parse_error = Some(message.clone());
                    self.writer.turn(&turn)?;
                    if parse_failures > policy.parse_retries {
                        return Ok(Stop {
                            class: EpisodeErrorKind::ParseFailure,
                            detail: Some(format!("{parse_failures} unparseable replies in a row: {message}")),
                        });
                    }
                    stage.messages.push(Message::assistant(reply));
                    stage.messages.push(Message::user(message));
                    continue;
                }
            };
            let action = match self.resample(&stage.messages, action, &failures, deadline, &mut turn).await? {
                Ok(action) => action,
                Err(stop) => return Ok(stop),
            };
            let reply = turn.reply.clone();
            turn.action = serde_json::to_value(ActionRecord::from(&action)).ok();
            turn.done = action.done;

            let mut observation = String::new();
            // A pane is looked at after every reply, even one that types nothing (a wait).
            let typed = stage.pane.is_some().then(|| action.command.clone().unwrap_or_default());
            if let Some(command) = typed.or_else(|| action.command.clone().filter(|c| !c.trim().is_empty())) {
                let ran = self.run_command(terminal, &mut stage, &action, &command, deadline, &mut failures, &mut turn);
                match ran.await? {
                    Ran::Observed { text, failed } => (observation, last_failed) = (text, failed),
                    Ran::Stopped(stop) => return Ok(stop),
                }
            } else if !action.done {
                observation = "No command was run.".into();
            }
            let done =
                self.completion(terminal, &action, last_failed, &mut asked_to_confirm, &mut observation, &mut turn);
            if let Some(stop) = done.await? {
                return Ok(stop);
            }
            self.writer.turn(&turn)?;
            stage.messages.push(Message::assistant(reply));
            stage.messages.push(Message::user(observation));
        }
        Ok(Stop { class: EpisodeErrorKind::TurnLimit, detail: Some(format!("used all {} turns", policy.max_turns)) })
    }

    /// Under `resample_repeated_failures` and `resample_idle_replies`, a reply that would be
    /// wasted (a command that already failed, or nothing run and not done) is not kept: the
    /// model is asked anew, told why, at a higher temperature; the conversation keeps only
    /// the reply that is run, the others go to `turn.resampled`.
    async fn resample(
        &mut self,
        messages: &[Message],
        mut action: Action,
        failures: &Failures,
        deadline: Instant,
        turn: &mut Turn,
    ) -> std::io::Result<Result<Action, Stop>> {
        let policy = self.brief.harness.policy();
        let mut resample = 0;
        while let Some((why, allowed)) = wasted(&action, failures, policy) {
            resample += 1;
            if resample > allowed {
                break;
            }
            let mut asking = messages.to_vec();
            asking.push(Message::assistant(turn.reply.clone()));
            asking.push(Message::user(why.to_string()));
            let remaining = deadline.saturating_duration_since(Instant::now());
            let (again, parsed) = match self.ask(&asking, turn.index, resample, remaining, turn).await? {
                Ok(asked) => asked,
                Err(stop) => return Ok(Err(stop)),
            };
            let Ok(parsed) = parsed else { break };
            turn.resampled.push(std::mem::replace(&mut turn.reply, again));
            action = parsed;
        }
        Ok(Ok(action))
    }

    /// Runs `command` (or types the action's keystrokes into the pane) and makes what the
    /// model sees of it: the observation, with the notices the policy adds and the
    /// after-command hook's output; the run is recorded in `turn`, the answer a verifier
    /// compares kept. Under `completion = "command"`, the completion signal ends the episode.
    #[allow(clippy::too_many_arguments)]
    async fn run_command<T: Terminal>(
        &mut self,
        terminal: &T,
        stage: &mut Stage<'_, T>,
        action: &Action,
        command: &str,
        deadline: Instant,
        failures: &mut Failures,
        turn: &mut Turn,
    ) -> std::io::Result<Ran> {
        let harness = self.brief.harness;
        let policy = harness.policy();
        let limit = Duration::from_secs(policy.command_timeout_secs.into());
        let timeout = limit.min(deadline.saturating_duration_since(Instant::now()).max(Duration::from_secs(1)));
        let run = match stage.pane.as_mut() {
            Some(pane) => type_into(pane, &action.keys, timeout).await,
            None => stage.shell.run(command, timeout, COMMAND_OUTPUT_LIMIT).await,
        };
        let out = match run {
            Ok(out) => out,
            Err(e) => {
                self.writer.turn(turn)?;
                return Ok(Ran::Stopped(Stop::infrastructure(e)));
            }
        };
        let (shown, omitted) = policy.output.cut(&out.output);
        // What the runner's own cap left out, too (the middle of a flood).
        let omitted = omitted as u64 + out.output_bytes.saturating_sub(out.output.len() as u64);
        let seen = Observation {
            command: command.to_string(),
            exit_code: out.exit_code,
            truncated: omitted > 0,
            omitted_bytes: omitted,
            output: shown.clone(),
            timed_out: out.timed_out,
            timeout_secs: timeout.as_secs(),
            exception_info: if out.timed_out {
                format!(
                    "The command did not finish within {} s and was stopped (with everything it started). Avoid \
                     interactive programs and long-running commands in the foreground.",
                    timeout.as_secs()
                )
            } else {
                String::new()
            },
        };
        if seen.timed_out {
            turn.notice = Some(seen.exception_info.clone());
        }
        let mut observation = match harness.render_observation(&stage.context, &seen) {
            Ok(text) => text,
            Err(e) => {
                self.writer.turn(turn)?;
                return Ok(Ran::Stopped(harness_error(e)));
            }
        };
        // Under `completion = "command"`, a successful command whose first output line is
        // the signal ends the episode.
        let signalled = policy.completion == Completion::Command
            && out.success()
            && out.output.trim_start().lines().next().is_some_and(|l| l.trim() == policy.completion_signal);
        self.keep_answer(stage.pane.is_some(), action, command, &out.output, signalled);
        if signalled {
            turn.command = Some(record(command, &out, policy.output.truncate(&out.output)));
            turn.done = true;
            turn.notice = Some("completion signal".into());
            self.writer.turn(turn)?;
            return Ok(Ran::Stopped(Stop { class: EpisodeErrorKind::None, detail: None }));
        }
        // A pane's keystrokes have no exit code: they never count as failed.
        let failed = out.timed_out || out.exit_code.is_some_and(|code| code != 0);
        if failed && !failures.insert((command.trim().to_string(), out.exit_code)) && policy.warn_repeated_failures {
            turn.notice = Some("repeated a failing command".into());
            observation.push_str(REPEATED_FAILURE);
        }
        turn.command = Some(record(command, &out, shown));
        if let Some(hook) = harness.after_command() {
            let exit_code = out.exit_code.map(|c| c.to_string()).unwrap_or_default();
            let env = vec![("COMMAND".into(), command.to_string()), ("EXIT_CODE".into(), exit_code)];
            let said = match run_hook(terminal, hook, env).await {
                Ok(said) => said,
                Err(e) => {
                    self.writer.turn(turn)?;
                    return Ok(Ran::Stopped(Stop::infrastructure(e)));
                }
            };
            let shown = policy.output.truncate(&said.output);
            if !shown.trim().is_empty() {
                observation.push_str(&format!("\n\n{}", shown.trim_end()));
            }
            turn.after_command = Some(record("after_command", &said, shown));
        }
        Ok(Ran::Observed { text: observation, failed })
    }

    /// Keeps the answer a verifier compares: the command's output; a pane's, what its last
    /// typed line printed; after the completion signal, what follows the signal, if anything
    /// (else the answer stays the previous command's).
    fn keep_answer(&mut self, pane: bool, action: &Action, command: &str, output: &str, signalled: bool) {
        let kept = |last: &str, answer: String| verify::Submission { last_command: Some(last.to_string()), answer };
        if pane {
            let last = action.keys.iter().rev().map(|k| k.keys.trim_end_matches('\n')).find(|k| !k.is_empty());
            if let Some(last) = last {
                self.submission = kept(last, typed_output(output, last));
            }
        } else if !signalled {
            self.submission = kept(command, output.to_string());
        } else if let Some((_, rest)) = output.trim_start().split_once('\n').filter(|(_, rest)| !rest.trim().is_empty())
        {
            self.submission = kept(command, rest.into());
        }
    }

    /// What the reply's done (or its absence) comes to under the harness's completion rule:
    /// `None` to go on, with a request to confirm, a refusal or a failed completion check
    /// added to `observation`; or the end of the episode. Under `confirm`, done with a
    /// command counts once the agent has seen one output since it first said done (its next
    /// reply says done again); under `twice`, any done counts only when the next reply says
    /// it again.
    async fn completion<T: Terminal>(
        &mut self,
        terminal: &T,
        action: &Action,
        last_failed: bool,
        asked_to_confirm: &mut bool,
        observation: &mut String,
        turn: &mut Turn,
    ) -> std::io::Result<Option<Stop>> {
        let harness = self.brief.harness;
        let policy = harness.policy();
        let unconfirmed = match policy.completion {
            Completion::Confirm => turn.command.is_some(),
            Completion::Twice => true,
            _ => false,
        } && !*asked_to_confirm;
        *asked_to_confirm = action.done && unconfirmed;
        if *asked_to_confirm && policy.completion == Completion::Confirm {
            // CONFIRM_DONE follows the command's output, its own blank line first.
            turn.notice = Some("done with a command: asked to confirm".into());
            observation.push_str(CONFIRM_DONE);
        } else if *asked_to_confirm {
            let text = match policy.action_format {
                ActionFormat::Keystrokes => CONFIRM_TWICE_KEYSTROKES,
                _ => CONFIRM_TWICE,
            };
            tell(turn, observation, "done: asked to confirm", text);
        } else if action.done && last_failed && policy.refuse_done_after_failure {
            tell(turn, observation, "done after a failed command: refused", REFUSED_DONE);
        } else if action.done {
            let check = match (policy.completion, harness.before_completion()) {
                (Completion::DeclareAfterCheck, Some(hook)) => match run_hook(terminal, hook, Vec::new()).await {
                    Ok(out) => Some(out),
                    Err(e) => {
                        self.writer.turn(turn)?;
                        return Ok(Some(Stop::infrastructure(e)));
                    }
                },
                _ => None,
            };
            match check {
                Some(out) if !out.success() => {
                    let shown = policy.output.truncate(&out.output);
                    turn.hook = Some(record("before_completion", &out, shown.clone()));
                    let text = format!("The completion check failed, so the task is not done yet:\n{shown}");
                    tell(turn, observation, "completion check failed", &text);
                }
                _ => {
                    self.writer.turn(turn)?;
                    return Ok(Some(Stop { class: EpisodeErrorKind::None, detail: None }));
                }
            }
        }
        Ok(None)
    }

    /// Asks the model for turn `turn`'s action (`resample` > 0: asked again after a wasted
    /// reply, at a higher temperature and another seed), counting its
    /// tokens into `record`. The reply's text and its action, or what the parser said; a
    /// `Stop` when the model could not answer.
    async fn ask(
        &mut self,
        messages: &[Message],
        turn: u32,
        resample: u32,
        remaining: Duration,
        record: &mut Turn,
    ) -> std::io::Result<Result<(String, Result<Action, FormatError>), Stop>> {
        let request = self.request(messages, turn, resample);
        let started = Instant::now();
        let response = match tokio::time::timeout(remaining, self.brief.client.chat(&request)).await {
            Err(_) => {
                return Ok(Err(Stop {
                    class: EpisodeErrorKind::AgentTimeout,
                    detail: Some("agent timeout while the model was answering".into()),
                }))
            }
            Ok(Err(e)) => {
                record.notice = Some(e.to_string());
                self.writer.turn(record)?;
                return Ok(Err(Stop { class: episode_error_kind(&e), detail: Some(e.to_string()) }));
            }
            Ok(Ok(response)) => response,
        };
        record.model_ms += millis(started.elapsed());
        record.tokens_in += response.usage.prompt_tokens;
        record.tokens_out += response.usage.completion_tokens;
        if let Some(timings) = &response.timings {
            record.served.get_or_insert_with(Default::default).add(timings);
        }
        self.tokens_in += response.usage.prompt_tokens;
        self.tokens_out += response.usage.completion_tokens;
        self.cost += response.cost_usd.unwrap_or(0.0);
        let policy = self.brief.harness.policy();
        let (reply, parsed) = match policy.action_format {
            ActionFormat::Json => (response.content.clone(), Action::parse_json(&response.content)),
            ActionFormat::ToolCalls => (render_tool_calls(&response), action_from_tool_calls(&response, policy)),
            ActionFormat::Markdown => {
                (response.content.clone(), Action::parse_markdown(&response.content, &policy.markdown))
            }
            ActionFormat::Keystrokes => (response.content.clone(), Action::parse_keystrokes(&response.content)),
        };
        let parsed = parsed.map_err(|e| FormatError {
            error: e.problem,
            actions: e.actions,
            finish_reason: response.finish_reason.as_str().to_string(),
            has_tool_calls: !response.tool_calls.is_empty(),
        });
        Ok(Ok((reply, parsed)))
    }

    fn request(&self, messages: &[Message], turn: u32, resample: u32) -> ChatRequest {
        let harness = self.brief.harness;
        let policy = harness.policy();
        // A fresh sample after a wasted reply: hotter, another seed.
        let temperature = if resample == 0 { policy.temperature } else { policy.temperature.max(0.7) + 0.3 };
        let seed = self.brief.seed.wrapping_mul(1000).wrapping_add(turn.into()).wrapping_add(u64::from(resample) << 32);
        let request =
            ChatRequest::new(messages.to_vec()).temperature(temperature as f32).max_tokens(MAX_REPLY_TOKENS).seed(seed);
        match policy.action_format {
            ActionFormat::Json => {
                request.response_format(ResponseFormat::json_schema("action", harness.action_schema()))
            }
            ActionFormat::ToolCalls => request.tools(tool_specs(harness)),
            ActionFormat::Markdown | ActionFormat::Keystrokes => request,
        }
    }
}

/// The commands that failed in an episode, with their exit codes.
type Failures = std::collections::HashSet<(String, Option<i64>)>;

/// Where an episode's commands run and what its prompts say, set up before its first turn.
struct Stage<'t, T: Terminal> {
    shell: Shell<'t, T>,
    /// Under `action_format = "keystrokes"`, the pane the agent types into.
    pane: Option<Pane<'t, T>>,
    context: PromptContext,
    /// The conversation: the system prompt and the first message, to begin with.
    messages: Vec<Message>,
    /// The on-start hook's run, recorded with the first turn.
    on_start: Option<CommandRecord>,
}

/// Installs the harness in the sandbox, finds the working folder, opens the session (or a
/// fresh shell per command, or a pane), renders the prompts and runs the on-start hook,
/// whose output follows the instruction in the first message. A `Stop` when any of it fails.
async fn set_up<'t, T: Terminal>(terminal: &'t T, brief: &Brief<'_>) -> Result<Stage<'t, T>, Stop> {
    let harness = brief.harness;
    let policy = harness.policy();
    let shell = Shell::on(terminal, "agent");
    install_harness(terminal, harness)
        .await
        .map_err(|detail| Stop { class: EpisodeErrorKind::InfrastructureError, detail: Some(detail) })?;
    let out = shell.run(&format!("pwd; {}", Uname::COMMAND), Duration::from_secs(30), 4096).await;
    let out = out.map_err(Stop::infrastructure)?;
    let (workdir, uname) = match out.output.split_once('\n') {
        Some((pwd, uname)) => (pwd.trim().to_string(), Uname::parse(uname)),
        None => (out.output.trim().to_string(), Uname::default()),
    };
    let env: Vec<(String, String)> = policy.env.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut pane = match policy.action_format {
        ActionFormat::Keystrokes => {
            Some(Pane::open(terminal, "agent", env.clone(), tools_path(harness)).await.map_err(Stop::infrastructure)?)
        }
        _ => None,
    };
    let shell = match policy.shell {
        ShellMode::Persistent => shell.with_env(env),
        ShellMode::Fresh => Shell::fresh(terminal, &workdir).with_env(env),
    };
    let context = PromptContext {
        instruction: brief.instruction.to_string(),
        task_name: brief.task.to_string(),
        workdir,
        uname,
        terminal: pane.as_mut().map(Pane::look).unwrap_or_default(),
    };
    let system = harness.render_system(&context).map_err(harness_error)?;
    let instruction = harness.render_instruction(&context).map_err(harness_error)?;
    let mut on_start = None;
    if let Some(hook) = harness.on_start() {
        let env = vec![("WORKDIR".into(), context.workdir.clone())];
        let said = run_hook(terminal, hook, env).await.map_err(Stop::infrastructure)?;
        let shown = policy.output.truncate(&said.output);
        on_start = Some(record("on_start", &said, shown));
    }
    let instruction = first_message(&instruction, on_start.as_ref().map(|r| r.output_shown.as_str()));
    let messages = vec![Message::system(system), Message::user(instruction)];
    Ok(Stage { shell, pane, context, messages, on_start })
}

/// What running an action's command came to.
enum Ran {
    /// What the model sees next, and whether the command failed.
    Observed { text: String, failed: bool },
    /// The episode ends: the completion signal, or the sandbox or the harness failed.
    Stopped(Stop),
}

/// Adds what the harness tells the model (`text`, a paragraph of its own) to the
/// observation, and why to the turn's notice.
fn tell(turn: &mut Turn, observation: &mut String, notice: &str, text: &str) {
    turn.notice = Some(notice.into());
    if !observation.is_empty() {
        observation.push_str("\n\n");
    }
    observation.push_str(text);
}

/// Why `action` would be wasted, and how many fresh asks the policy allows for that: its
/// command already failed in this episode, or it runs nothing and is not done.
fn wasted(action: &Action, failures: &Failures, policy: &Policy) -> Option<(&'static str, u32)> {
    match action.command.as_deref().map(str::trim).filter(|c| !c.is_empty()) {
        Some(command) if failures.iter().any(|(failed, _)| failed == command) => {
            Some((RESAMPLE, policy.resample_repeated_failures))
        }
        None if !action.done => Some((RESAMPLE_IDLE, policy.resample_idle_replies)),
        _ => None,
    }
}

/// A template of the harness failed to render: the episode cannot go on (its templates
/// were checked when it loaded, so this is an attribute that does not exist, or the like).
fn harness_error(error: crate::harness::RenderError) -> Stop {
    Stop { class: EpisodeErrorKind::InfrastructureError, detail: Some(format!("harness: {error}")) }
}

/// The folder every hook finds in `HOOK_STATE`, for its own files (a marker, a note kept
/// from one call to the next): in the runner's work folder, so it lasts the episode and is
/// never part of what a verifier judges (a marker in `/tmp` is a change InterCode's judge
/// counts against the agent).
fn hook_state_dir() -> String {
    format!("{}/hook-state", crate::sandbox::WORK_DIR)
}

/// Runs one of the harness's hook scripts in the sandbox, with `env` and `HOOK_STATE` set.
async fn run_hook<T: Terminal>(
    terminal: &T,
    hook: &Hook,
    mut env: Vec<(String, String)>,
) -> Result<ExecOutput, SandboxError> {
    let state = hook_state_dir();
    let command = format!("mkdir -p {state} && bash {}", hook.container_path);
    env.push(("HOOK_STATE".into(), state));
    let options = ExecOptions { env, ..ExecOptions::with_timeout(hook.timeout) };
    terminal.exec(&command, &options).await
}

/// Types an action's keystrokes into the pane (within `within`) and looks: the look is the
/// output, and there is no exit code.
async fn type_into<T: Terminal>(
    pane: &mut Pane<'_, T>,
    keys: &[Keystrokes],
    within: Duration,
) -> Result<ExecOutput, SandboxError> {
    let started = Instant::now();
    pane.type_keys(keys, within).await?;
    let output = pane.look();
    Ok(ExecOutput {
        exit_code: None,
        output_bytes: output.len() as u64,
        output,
        timed_out: false,
        duration: started.elapsed(),
    })
}

/// What the trace keeps of a command (or hook) run: `shown` is the output as the model saw it.
fn record(text: &str, out: &ExecOutput, shown: String) -> CommandRecord {
    CommandRecord {
        text: text.to_string(),
        exit_code: out.exit_code,
        timed_out: out.timed_out,
        output_shown: shown,
        output_bytes: out.output_bytes,
        duration_ms: millis(out.duration),
    }
}

/// The folder of the harness's tools, which goes first on PATH, when it has any.
fn tools_path(harness: &Harness) -> Option<&'static str> {
    (!harness.tools().is_empty()).then_some(crate::harness::TOOLS_DIR)
}

/// Copies the harness's tools and hooks into the container and puts the tools on PATH.
async fn install_harness<T: Terminal>(terminal: &T, harness: &Harness) -> Result<(), String> {
    for tool in harness.tools() {
        terminal.write_file(&tool.container_path(), &tool.script, 0o755).await.map_err(|e| e.to_string())?;
    }
    for hook in harness.hooks() {
        terminal.write_file(&hook.container_path, &hook.script, 0o755).await.map_err(|e| e.to_string())?;
    }
    if let Some(tools) = tools_path(harness) {
        let path = format!("export PATH={tools}:$PATH");
        Shell::on(terminal, "agent").run(&path, Duration::from_secs(30), 4096).await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The action as recorded in the trace.
#[derive(serde::Serialize)]
struct ActionRecord<'a> {
    thought: &'a str,
    command: Option<&'a str>,
    done: bool,
    /// The keystroke batches, under `action_format = "keystrokes"`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    keys: Vec<KeysRecord<'a>>,
}

#[derive(serde::Serialize)]
struct KeysRecord<'a> {
    keystrokes: &'a str,
    duration: f64,
}

impl<'a> From<&'a Action> for ActionRecord<'a> {
    fn from(action: &'a Action) -> Self {
        let keys =
            action.keys.iter().map(|k| KeysRecord { keystrokes: &k.keys, duration: k.wait.as_secs_f64() }).collect();
        ActionRecord { thought: &action.thought, command: action.command.as_deref(), done: action.done, keys }
    }
}

fn tool_specs(harness: &Harness) -> Vec<ToolSpec> {
    let spec = harness.tool_spec();
    spec.as_array()
        .into_iter()
        .flatten()
        .filter_map(|tool| {
            let function = tool.get("function")?;
            Some(ToolSpec {
                name: function.get("name")?.as_str()?.to_string(),
                description: function.get("description").and_then(|d| d.as_str()).unwrap_or_default().to_string(),
                parameters: function.get("parameters").cloned().unwrap_or_default(),
            })
        })
        .collect()
}

fn render_tool_calls(response: &crate::llm::ChatResponse) -> String {
    let calls: Vec<String> = response.tool_calls.iter().map(|c| format!("{}({})", c.name, c.arguments)).collect();
    if calls.is_empty() {
        response.content.clone()
    } else {
        calls.join("\n")
    }
}

/// The command tool's calls (`shell(command)`, or as `policy.command_tool` names it) and
/// `done()` as one action; several command calls run one after the other.
fn action_from_tool_calls(response: &crate::llm::ChatResponse, policy: &Policy) -> Result<Action, ActionError> {
    let tool = policy.command_tool.as_str();
    let with_done = policy.completion != Completion::Command;
    let tools = if with_done { format!("`{tool}` or `done`") } else { format!("`{tool}`") };
    let problem = |text: String| ActionError { problem: text, actions: Vec::new() };
    if response.tool_calls.is_empty() {
        let done = if with_done { ", or `done` when the task is complete" } else { "" };
        return Err(problem(format!("Call a tool: `{tool}` with a command to run{done}.")));
    }
    let mut action = Action { thought: response.content.clone(), command: None, done: false, keys: Vec::new() };
    let mut commands = Vec::new();
    for call in &response.tool_calls {
        match call.name.as_str() {
            name if name == tool => {
                let args = call
                    .arguments_json()
                    .map_err(|e| problem(format!("The arguments of `{tool}` are not JSON ({e}).")))?;
                let command = args.get("command").and_then(|c| c.as_str());
                let command = command.ok_or_else(|| problem(format!("`{tool}` needs a string argument `command`.")))?;
                commands.push(command.to_string());
            }
            "done" if with_done => action.done = true,
            other => return Err(problem(format!("There is no tool `{other}`; use {tools}."))),
        }
    }
    if !commands.is_empty() {
        action.command = Some(commands.join("\n"));
    }
    Ok(action)
}

/// How an episode that a failed model call ended is counted: the infrastructure's failures
/// are re-run and never counted; the rest are the harness's (its conversation overflowed,
/// was refused, or took too long to answer), and the task's tests still judge the work.
fn episode_error_kind(error: &LlmError) -> EpisodeErrorKind {
    match error.kind() {
        ModelErrorKind::Infrastructure => EpisodeErrorKind::InfrastructureError,
        ModelErrorKind::ContextOverflow => EpisodeErrorKind::ContextOverflow,
        ModelErrorKind::Model | ModelErrorKind::Timeout => EpisodeErrorKind::ModelError,
    }
}

/// Milliseconds with microsecond precision, as traces record them.
fn millis(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}
