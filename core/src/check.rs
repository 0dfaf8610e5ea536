//! `tasks check`: does a task build, does its oracle solution pass its own tests, and can
//! its tests fail?
//!
//! One task at a time: build (or reuse) the image, start a sandbox, run the oracle (or,
//! like Harbor's `nop` agent, nothing at all), run the verifier, remove the sandbox, and
//! write what happened under the logs folder. A task judged by reference commands is also
//! checked for a reference that cannot judge here: one that gives another result on each
//! run, one that calls a program the image lacks, one that needs the network, and one
//! that changes and prints nothing (any agent would pass it).

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::sandbox::image::ImageSpec;
use crate::sandbox::offline::Unavailable;
use crate::sandbox::{Engine, SandboxError, SandboxSpec};
use crate::task::{RewardSource, Task};
use crate::verify::reference::Judgement;
use crate::verify::{self, Submission, TestResult, VerifierError};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// What runs before the verifier (`None`: load and build only).
    pub solver: Option<Solver>,
    /// Where each task's logs go: `<logs>/<task>/`.
    pub logs: PathBuf,
}

/// What `tasks check` runs in the task's container before its verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Solver {
    /// The task's own solution: it should pass.
    Oracle,
    /// Nothing (Harbor's `nop` agent): the tests should fail, or they judge nothing.
    Nop,
}

/// The outcome of checking one task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    /// The oracle solved it: reward 1.
    Pass,
    /// The image builds (no oracle run asked for).
    Built,
    /// The oracle ran and the tests gave a reward below 1.
    Fail,
    /// The oracle did not finish within the agent timeout; it was stopped.
    Timeout,
    /// The task has no solution to run.
    NoSolution,
    /// The image did not build.
    BuildError,
    /// The tests crashed, timed out or gave no verdict.
    VerifierError,
    /// Docker failed underneath (not the task's fault).
    InfraError,
    /// The build, the oracle or the tests needed a host this machine cannot reach (`host`).
    NeedsInternet,
    /// The task pins a package version its mirror no longer serves (`pin`): it fails
    /// against the real image too.
    StalePin,
    /// The task pins an Ubuntu package version (`pin`) that Debian's stand-in for Ubuntu
    /// replaced with its own, or lacks, and it failed: on Ubuntu it may not.
    UbuntuPin,
    /// Its reference command gives another result on each run (the clock, processes,
    /// randomness): it cannot judge an agent.
    UnstableReference,
    /// Its reference command calls a program the image lacks: whatever it was meant to do,
    /// it prints an error here.
    BrokenReference,
    /// Its reference command changes nothing and prints nothing: any agent whose last
    /// command prints nothing passes.
    JudgesNothing,
    /// With nothing run (`--nop`), the tests fail: as they should.
    NopFails,
    /// With nothing run (`--nop`), the tests pass: they judge nothing.
    NopPasses,
}

impl CheckStatus {
    pub fn is_ok(self) -> bool {
        matches!(self, CheckStatus::Pass | CheckStatus::Built | CheckStatus::NopFails)
    }

    /// Neither ok nor a failure: the task cannot be checked, or cannot judge, from here.
    pub fn is_unavailable(self) -> bool {
        matches!(
            self,
            CheckStatus::NeedsInternet
                | CheckStatus::StalePin
                | CheckStatus::UbuntuPin
                | CheckStatus::UnstableReference
                | CheckStatus::BrokenReference
                | CheckStatus::JudgesNothing
        )
    }

    /// The word `--json` and the tables use.
    pub fn word(self) -> &'static str {
        match self {
            CheckStatus::Pass => "pass",
            CheckStatus::Built => "built",
            CheckStatus::Fail => "fail",
            CheckStatus::Timeout => "timeout",
            CheckStatus::NoSolution => "no-solution",
            CheckStatus::BuildError => "build-error",
            CheckStatus::VerifierError => "verifier-error",
            CheckStatus::InfraError => "infra-error",
            CheckStatus::NeedsInternet => "needs-internet",
            CheckStatus::StalePin => "stale-pin",
            CheckStatus::UbuntuPin => "ubuntu-pin",
            CheckStatus::UnstableReference => "unstable-reference",
            CheckStatus::BrokenReference => "broken-reference",
            CheckStatus::JudgesNothing => "judges-nothing",
            CheckStatus::NopFails => "nop-fails",
            CheckStatus::NopPasses => "nop-passes",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskCheck {
    pub task: String,
    pub status: CheckStatus,
    pub reward: Option<f64>,
    /// Seconds to build the image (near zero when cached).
    pub build_secs: f64,
    pub image_cached: bool,
    /// Seconds for the oracle and the verifier.
    pub run_secs: f64,
    pub tests: Vec<TestResult>,
    /// The host that could not be reached (`needs-internet`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The `package=version` the mirror no longer serves (`stale-pin`), or the Ubuntu
    /// stand-in could not stand in for (`ubuntu-pin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// What the Ubuntu stand-in changed to build the image, one line each ("jq=1.7.1-3build1
    /// is not a version Debian carries; installing Debian's jq 1.7.1-6 instead").
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub stand_in: Vec<String>,
    /// How the solution compared with the reference commands (`judge = "intercode"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judgement: Option<Judgement>,
    /// The task's CPU or memory limits the engine could not give ("asked 4 CPUs, ran with 2").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
    /// One line on what went wrong, if anything, the limits capped and the stand-in's notes.
    pub detail: String,
    pub logs: PathBuf,
}

/// Checks one task. Never fails: every problem becomes a status with a detail line.
pub async fn check_task(
    engine: &Engine,
    task: &Task,
    options: &CheckOptions,
    phase: &(dyn Fn(&str) + Sync),
) -> TaskCheck {
    let logs = options.logs.join(&task.name);
    let mut result = TaskCheck {
        task: task.name.clone(),
        status: CheckStatus::InfraError,
        reward: None,
        build_secs: 0.0,
        image_cached: false,
        run_secs: 0.0,
        tests: Vec::new(),
        host: None,
        pin: None,
        stand_in: Vec::new(),
        judgement: None,
        limits: None,
        detail: String::new(),
        logs: logs.clone(),
    };
    if let Err(e) = std::fs::create_dir_all(&logs) {
        result.detail = format!("cannot create {}: {e}", logs.display());
        return result;
    }

    phase("building");
    let spec = ImageSpec::for_task(task);
    let build_started = Instant::now();
    let mut build_log = String::new();
    let mut collect = |line: &str| {
        build_log.push_str(line);
        build_log.push('\n');
    };
    let image = engine.ensure_image(&spec, &mut collect).await;
    result.build_secs = build_started.elapsed().as_secs_f64();
    write_log(&logs, "build.log", &build_log);
    let image = match image {
        Ok(image) => image,
        Err(e) => {
            build_failed(&mut result, e, &build_log);
            return finish(result);
        }
    };
    result.image_cached = image.cached;
    result.stand_in = image.stand_in.clone();

    let Some(solver) = options.solver else {
        result.status = CheckStatus::Built;
        return finish(result);
    };
    if solver == Solver::Oracle && task.solution.is_none() {
        result.status = CheckStatus::NoSolution;
        result.detail = "no solution/solve.sh (or solution.sh) to run".into();
        return finish(result);
    }

    result.limits = SandboxSpec::for_task(task, &image.tag).fitted(&engine.capacity()).1;
    let run_started = Instant::now();
    let mut transcript = String::new();
    let outcome = run_oracle_episode(engine, task, solver, &image.tag, &logs, &mut transcript, phase).await;
    result.run_secs = run_started.elapsed().as_secs_f64();
    judged(&mut result, outcome, solver, task, &transcript);
    if matches!(result.status, CheckStatus::Fail | CheckStatus::Timeout | CheckStatus::VerifierError) {
        mark_unavailable(&mut result, &transcript);
    }
    finish(result)
}

/// What a failed build comes to: a build error (`needs-internet` when only a registry has
/// the image, `stale-pin` and the like when the log shows something out of reach), or the
/// environment's failure.
fn build_failed(result: &mut TaskCheck, e: SandboxError, build_log: &str) {
    result.status = match e {
        SandboxError::Build { .. }
        | SandboxError::BuildTimeout { .. }
        | SandboxError::MissingBaseImage { .. }
        | SandboxError::NoStandIn { .. } => CheckStatus::BuildError,
        _ => CheckStatus::InfraError,
    };
    result.detail = e.to_string();
    if let SandboxError::NoStandIn { image } = &e {
        // Only a registry serves it, and none can be reached from here.
        result.status = CheckStatus::NeedsInternet;
        result.host = Some(crate::sandbox::standins::normalize(image));
        result.detail = format!("needs the image {image} from a registry; {e}");
    } else if result.status == CheckStatus::BuildError {
        mark_unavailable(result, build_log);
    }
}

/// What the solver's episode came to: the verdict with nothing done (which should fail)
/// or with the oracle (which should pass, unless the reference cannot judge here), or the
/// verifier's or the sandbox's failure.
fn judged(
    result: &mut TaskCheck,
    outcome: Result<(verify::Verdict, bool), OracleRunError>,
    solver: Solver,
    task: &Task,
    transcript: &str,
) {
    match outcome {
        Ok((verdict, _)) if solver == Solver::Nop => {
            result.reward = Some(verdict.reward);
            result.tests = verdict.tests.clone();
            result.judgement = verdict.judgement.clone();
            result.status = if verdict.passed() {
                result.detail = "the tests pass with nothing done: they judge nothing".into();
                CheckStatus::NopPasses
            } else {
                CheckStatus::NopFails
            };
        }
        Ok((verdict, oracle_timed_out)) => {
            result.reward = Some(verdict.reward);
            result.tests = verdict.tests.clone();
            result.judgement = verdict.judgement.clone();
            result.status = if oracle_timed_out {
                result.detail = format!("the solution was stopped after its timeout of {:?}", task.agent_timeout);
                CheckStatus::Timeout
            } else if let Some((status, detail)) =
                verdict.judgement.as_ref().and_then(|j| reference_problem(j, transcript))
            {
                result.detail = detail;
                status
            } else if verdict.passed() {
                CheckStatus::Pass
            } else {
                let failed: Vec<_> = verdict
                    .tests
                    .iter()
                    .filter(|t| t.status != verify::TestStatus::Passed)
                    .map(|t| t.name.as_str())
                    .collect();
                result.detail = if failed.is_empty() {
                    format!("reward {}", verdict.reward)
                } else {
                    format!("not passed: {}", failed.join(", "))
                };
                CheckStatus::Fail
            };
        }
        Err(OracleRunError::Verifier(e)) => {
            result.status = match e {
                VerifierError::Sandbox(_) => CheckStatus::InfraError,
                _ => CheckStatus::VerifierError,
            };
            result.detail = e.to_string();
        }
        Err(OracleRunError::Sandbox(e)) => {
            result.status = CheckStatus::InfraError;
            result.detail = e.to_string();
        }
    }
}

/// Turns a failure into `needs-internet`, `stale-pin` or `ubuntu-pin` when `log` shows that
/// something out of reach was needed, keeping the failure's own detail after the reason.
fn mark_unavailable(result: &mut TaskCheck, log: &str) {
    let Some(unavailable) = crate::sandbox::offline::unavailable(log) else { return };
    result.detail = format!("{unavailable}; {} ({})", result.detail, result.status.word());
    result.status = match unavailable {
        Unavailable::Host(host) => {
            result.host = Some(host);
            CheckStatus::NeedsInternet
        }
        Unavailable::StalePin(pin) => {
            result.pin = Some(pin);
            CheckStatus::StalePin
        }
        Unavailable::UbuntuPin { pin, .. } => {
            result.pin = Some(pin);
            CheckStatus::UbuntuPin
        }
    };
}

/// Why an oracle run gave no verdict: the sandbox or the verifier broke.
enum OracleRunError {
    Sandbox(SandboxError),
    Verifier(VerifierError),
}

/// Why a task judged by reference commands cannot judge here, from the oracle's
/// judgement and what it printed; `None` when it can.
fn reference_problem(judgement: &Judgement, transcript: &str) -> Option<(CheckStatus, String)> {
    static NOT_FOUND: std::sync::LazyLock<regex::Regex> =
        std::sync::LazyLock::new(|| regex::Regex::new(r"([\w.+-]+): (?:command )?not found").expect("valid"));
    if let Some(missing) = NOT_FOUND.captures(&judgement.expected_answer) {
        let why = format!("its reference calls `{}`, which this image lacks: it prints an error here", &missing[1]);
        return Some((CheckStatus::BrokenReference, why));
    }
    if let Some(unavailable) =
        crate::sandbox::offline::unavailable(&format!("{transcript}\n{}", judgement.expected_answer))
    {
        return Some((CheckStatus::NeedsInternet, format!("its reference {unavailable}")));
    }
    if !judgement.passed() {
        let parts: Vec<&str> =
            [("change set", judgement.change_set), ("contents", judgement.contents), ("answer", judgement.answer)]
                .into_iter()
                .filter(|(_, same)| !same)
                .map(|(part, _)| part)
                .collect();
        let why = format!(
            "two runs of its reference differ in the {} (the clock, processes or randomness)",
            parts.join(", ")
        );
        return Some((CheckStatus::UnstableReference, why));
    }
    if judgement.expected_answer.is_empty() && judgement.expected_changes == 0 {
        let why =
            "its reference changes nothing and prints nothing: any agent whose last command prints nothing passes";
        return Some((CheckStatus::JudgesNothing, why.into()));
    }
    None
}

/// What an agent's container has been through before its last command, as far as its
/// output can tell: other commands ran before (so process ids have moved on). With
/// [`wait_for_next_minute`] after the solution, a reference whose output depends on the
/// processes or the clock gives another answer in the fresh container, as it would
/// minutes after an agent's episode.
async fn act_like_an_agent(sandbox: &crate::sandbox::Sandbox) -> Result<(), SandboxError> {
    let shell = sandbox.shell("agent");
    for command in ["pwd", "ls > /dev/null", "true"] {
        shell.run(command, std::time::Duration::from_secs(30), 4096).await?;
    }
    Ok(())
}

/// Sleeps until the wall clock's minute has turned (at most a minute).
async fn wait_for_next_minute() {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let into_minute = now.as_millis() % 60_000;
    let wait = 60_000 - into_minute as u64 + 500;
    tokio::time::sleep(std::time::Duration::from_millis(wait)).await;
}

/// Starts the sandbox, runs the solver then the verifier, and always removes the sandbox.
async fn run_oracle_episode(
    engine: &Engine,
    task: &Task,
    solver: Solver,
    image: &str,
    logs: &Path,
    transcript: &mut String,
    phase: &(dyn Fn(&str) + Sync),
) -> Result<(verify::Verdict, bool), OracleRunError> {
    let spec = SandboxSpec::for_task(task, image);
    phase("starting");
    let sandbox = engine.start_sandbox(&spec).await.map_err(OracleRunError::Sandbox)?;
    let outcome = async {
        let judged_by_reference = matches!(task.verifier.reward, RewardSource::Reference(_));
        let solved = match solver {
            Solver::Oracle => {
                if judged_by_reference {
                    phase("commands before the solution");
                    act_like_an_agent(&sandbox).await.map_err(OracleRunError::Sandbox)?;
                }
                phase("oracle");
                crate::oracle::solve(&sandbox, task).await.map_err(OracleRunError::Sandbox)?
            }
            Solver::Nop => None,
        };
        if judged_by_reference && solver == Solver::Oracle {
            phase("waiting for the clock's minute to turn");
            wait_for_next_minute().await;
        }
        let timed_out = solved.as_ref().is_some_and(|o| o.timed_out);
        // The solution's command is not given as the last command: it is the reference
        // itself, which would match by its text alone, and the check is whether two runs of
        // it a minute apart give the same result.
        let submission =
            Submission { last_command: None, answer: solved.as_ref().map(|o| o.output.clone()).unwrap_or_default() };
        if let Some(output) = &solved {
            transcript.push_str(&output.output);
            transcript.push('\n');
            write_log(
                logs,
                "oracle.log",
                &format!("exit code: {:?}, timed out: {}\n\n{}", output.exit_code, output.timed_out, output.output),
            );
        }
        phase("verifying");
        let verdict = verify::verify(&sandbox, &task.verifier, engine, &spec, &submission).await;
        let log = match &verdict {
            Ok(v) => format!("reward: {}\n\n{}", v.reward, v.output),
            Err(e) => format!("error: {e}\n\n{}", e.output()),
        };
        transcript.push_str(&log);
        write_log(logs, "verifier.log", &log);
        verdict.map(|v| (v, timed_out)).map_err(OracleRunError::Verifier)
    }
    .await;
    phase("removing");
    sandbox.remove().await;
    outcome
}

fn finish(mut result: TaskCheck) -> TaskCheck {
    let notes = result.stand_in.iter().map(|n| format!("stand-in: {n}"));
    let said: Vec<String> = result.limits.clone().into_iter().chain(notes).collect();
    if !said.is_empty() {
        let said = said.join("; ");
        result.detail = if result.detail.is_empty() { said } else { format!("{}; {said}", result.detail) };
    }
    if let Ok(json) = serde_json::to_string_pretty(&result) {
        write_log(&result.logs, "result.json", &json);
    }
    result
}

fn write_log(dir: &Path, name: &str, text: &str) {
    if let Err(e) = crate::util::write_atomic(&dir.join(name), text.as_bytes()) {
        tracing::warn!("cannot write {}: {e}", dir.join(name).display());
    }
}
