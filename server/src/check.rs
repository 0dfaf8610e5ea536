//! `tasks check`: does a task build, and does its oracle solution pass its own tests?
//!
//! One task at a time: build (or reuse) the image, start a sandbox, run the oracle, run the
//! verifier, remove the sandbox, and write what happened under the logs folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Serialize;

use crate::sandbox::image::ImageSpec;
use crate::sandbox::offline::Unavailable;
use crate::sandbox::{Engine, SandboxError, SandboxSpec};
use crate::task::Task;
use crate::verify::{self, TestResult, VerifierError};

#[derive(Debug, Clone)]
pub struct CheckOptions {
    /// Also run the oracle solution and the verifier (otherwise: load and build only).
    pub oracle: bool,
    /// Where each task's logs go: `<logs>/<task>/`.
    pub logs: PathBuf,
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
}

impl CheckStatus {
    pub fn is_ok(self) -> bool {
        matches!(self, CheckStatus::Pass | CheckStatus::Built)
    }

    /// Neither ok nor a failure: the task cannot be checked from here.
    pub fn is_unavailable(self) -> bool {
        matches!(self, CheckStatus::NeedsInternet | CheckStatus::StalePin)
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
    /// The `package=version` the mirror no longer serves (`stale-pin`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<String>,
    /// One line on what went wrong, if anything.
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
            result.status = match e {
                SandboxError::Build { .. }
                | SandboxError::BuildTimeout { .. }
                | SandboxError::MissingBaseImage { .. }
                | SandboxError::NoStandIn { .. } => CheckStatus::BuildError,
                _ => CheckStatus::InfraError,
            };
            result.detail = e.to_string();
            if result.status == CheckStatus::BuildError {
                mark_unavailable(&mut result, &build_log);
            }
            return finish(result);
        }
    };
    result.image_cached = image.cached;

    if !options.oracle {
        result.status = CheckStatus::Built;
        return finish(result);
    }
    if task.solution.is_none() {
        result.status = CheckStatus::NoSolution;
        result.detail = "no solution/solve.sh (or solution.sh) to run".into();
        return finish(result);
    }

    let run_started = Instant::now();
    let mut transcript = String::new();
    let outcome = run_oracle_episode(engine, task, &image.tag, &logs, &mut transcript, phase).await;
    result.run_secs = run_started.elapsed().as_secs_f64();
    match outcome {
        Ok((verdict, oracle_timed_out)) => {
            result.reward = Some(verdict.reward);
            result.tests = verdict.tests.clone();
            result.status = if oracle_timed_out {
                result.detail = format!("the solution was stopped after its timeout of {:?}", task.agent_timeout);
                CheckStatus::Timeout
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
    if matches!(result.status, CheckStatus::Fail | CheckStatus::Timeout | CheckStatus::VerifierError) {
        mark_unavailable(&mut result, &transcript);
    }
    finish(result)
}

/// Turns a failure into `needs-internet` or `stale-pin` when `log` shows that something
/// out of reach was needed, keeping the failure's own detail after the reason.
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
    };
}

/// Why an oracle run gave no verdict: the sandbox or the verifier broke.
enum OracleRunError {
    Sandbox(SandboxError),
    Verifier(VerifierError),
}

/// Starts the sandbox, runs the oracle then the verifier, and always removes the sandbox.
async fn run_oracle_episode(
    engine: &Engine,
    task: &Task,
    image: &str,
    logs: &Path,
    transcript: &mut String,
    phase: &(dyn Fn(&str) + Sync),
) -> Result<(verify::Verdict, bool), OracleRunError> {
    let spec = SandboxSpec::for_task(task, image);
    phase("starting");
    let sandbox = engine.start_sandbox(&spec).await.map_err(OracleRunError::Sandbox)?;
    let outcome = async {
        phase("oracle");
        let solved = crate::oracle::solve(&sandbox, task).await.map_err(OracleRunError::Sandbox)?;
        let timed_out = solved.as_ref().is_some_and(|o| o.timed_out);
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
        let verdict = verify::verify(&sandbox, &task.verifier).await;
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

fn finish(result: TaskCheck) -> TaskCheck {
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
