//! The verifier: runs a task's own tests in the sandbox and reads the verdict.
//!
//! Terminal-Bench 2.0 tests write `/logs/verifier/reward.txt` (or `reward.json`) and often
//! a CTRF report with per-test results; Terminal-Bench 1 tests are read from pytest's
//! `-rA` summary; a task with `judge = "intercode"` is compared with its reference commands
//! ([`reference`]). A verifier that times out or ends without a verdict is a
//! [`VerifierError`], never a failed task.

pub mod reference;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::sandbox::{Engine, ExecOptions, Sandbox, SandboxError, SandboxSpec};
use crate::task::{RewardSource, VerifierSpec, VERIFIER_LOGS_DIR};

/// The task's verdict on what is in the sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct Verdict {
    /// 1.0 is a pass; some tasks give partial credit.
    pub reward: f64,
    /// Per-test results, when the tests report them.
    pub tests: Vec<TestResult>,
    /// What the tests printed (head and tail when long).
    pub output: String,
    #[serde(with = "crate::util::serde_secs")]
    pub duration: Duration,
    /// How the agent compared with the reference commands (`judge = "intercode"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judgement: Option<reference::Judgement>,
}

/// What the agent leaves the verifier beside its container: its last command and that
/// command's whole output, which InterCode's rule takes as its answer.
#[derive(Debug, Clone, Default)]
pub struct Submission {
    pub last_command: Option<String>,
    /// The output of `last_command` (empty when the agent ran none).
    pub answer: String,
}

impl Verdict {
    pub fn passed(&self) -> bool {
        self.reward >= 1.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TestResult {
    pub name: String,
    pub status: TestStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Passed,
    Failed,
    Error,
    Skipped,
}

/// The verifier itself broke: no verdict about the task can be drawn.
#[derive(Debug, thiserror::Error)]
pub enum VerifierError {
    #[error("the tests did not finish within {0:?}")]
    TimedOut(Duration, String),
    #[error("the tests ended without a verdict: {0}")]
    NoVerdict(String, String),
    #[error(transparent)]
    Sandbox(#[from] SandboxError),
}

impl VerifierError {
    /// What the tests printed before things went wrong.
    pub fn output(&self) -> &str {
        match self {
            VerifierError::TimedOut(_, output) | VerifierError::NoVerdict(_, output) => output,
            VerifierError::Sandbox(_) => "",
        }
    }
}

/// Judges what the agent left in `sandbox`: uploads the tests, runs them and reads the
/// verdict, or (`judge = "intercode"`) runs each reference command in a fresh container
/// from `fresh` on `engine` and compares.
pub async fn verify(
    sandbox: &Sandbox,
    spec: &VerifierSpec,
    engine: &Engine,
    fresh: &SandboxSpec,
    submission: &Submission,
) -> Result<Verdict, VerifierError> {
    match &spec.reward {
        RewardSource::Reference(references) => {
            reference::judge(sandbox, references, engine, fresh, spec.timeout, submission).await
        }
        RewardSource::RewardFile | RewardSource::PytestOutput => run_tests(sandbox, spec).await,
    }
}

/// Uploads the tests, runs them and reads the verdict from the reward file or pytest.
async fn run_tests(sandbox: &Sandbox, spec: &VerifierSpec) -> Result<Verdict, VerifierError> {
    for upload in &spec.uploads {
        sandbox.upload(&upload.from, &upload.to).await?;
    }
    let prepare = format!("mkdir -p {VERIFIER_LOGS_DIR} /logs/agent && rm -f {VERIFIER_LOGS_DIR}/reward.txt {VERIFIER_LOGS_DIR}/reward.json");
    sandbox.exec(&prepare, &ExecOptions::with_timeout(Duration::from_secs(30))).await?;

    let options = ExecOptions { timeout: Some(spec.timeout), env: spec.env.clone(), ..ExecOptions::default() };
    let run = sandbox.exec(&spec.command, &options).await?;
    if run.timed_out {
        return Err(VerifierError::TimedOut(spec.timeout, run.output));
    }

    let (reward, mut tests) = if spec.reward == RewardSource::RewardFile {
        let text = sandbox.read_file(&format!("{VERIFIER_LOGS_DIR}/reward.txt")).await?;
        let json = sandbox.read_file(&format!("{VERIFIER_LOGS_DIR}/reward.json")).await?;
        let reward = match (text, json) {
            (Some(text), _) => parse_reward_txt(&String::from_utf8_lossy(&text)),
            (None, Some(json)) => parse_reward_json(&String::from_utf8_lossy(&json)),
            (None, None) => Err(format!(
                "{VERIFIER_LOGS_DIR}/reward.txt was not written (the test script exited with code {})",
                run.exit_code.unwrap_or(-1)
            )),
        };
        (reward.map_err(|why| VerifierError::NoVerdict(why, run.output.clone()))?, Vec::new())
    } else {
        let tests = parse_pytest_summary(&run.output);
        if tests.is_empty() {
            let why =
                format!("no pytest results in the output (exit code {:?}); was pytest run with -rA?", run.exit_code);
            return Err(VerifierError::NoVerdict(why, run.output));
        }
        let all_passed = tests.iter().all(|t| matches!(t.status, TestStatus::Passed | TestStatus::Skipped));
        (if all_passed { 1.0 } else { 0.0 }, tests)
    };

    if let Some(ctrf) = sandbox.read_file(&format!("{VERIFIER_LOGS_DIR}/ctrf.json")).await? {
        tests = parse_ctrf(&String::from_utf8_lossy(&ctrf)).unwrap_or_default();
    }
    if tests.is_empty() {
        tests = parse_pytest_summary(&run.output);
    }
    Ok(Verdict { reward, tests, output: run.output, duration: run.duration, judgement: None })
}

fn parse_reward_txt(text: &str) -> Result<f64, String> {
    let trimmed = text.trim();
    trimmed
        .parse::<f64>()
        .ok()
        .filter(|r| r.is_finite())
        .ok_or_else(|| format!("reward.txt holds {trimmed:?}, not a number"))
}

fn parse_reward_json(text: &str) -> Result<f64, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("reward.json is not JSON: {e}"))?;
    let number = match &value {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::Object(map) => map.get("reward").and_then(|v| v.as_f64()).or_else(|| {
            let numbers: Vec<f64> = map.values().filter_map(|v| v.as_f64()).collect();
            (numbers.len() == 1).then(|| numbers[0])
        }),
        _ => None,
    };
    number.ok_or_else(|| format!("reward.json has no \"reward\" number: {text}"))
}

/// Per-test results from a CTRF report (`pytest --ctrf`).
fn parse_ctrf(text: &str) -> Option<Vec<TestResult>> {
    #[derive(Deserialize)]
    struct Report {
        results: Results,
    }
    #[derive(Deserialize)]
    struct Results {
        tests: Vec<Test>,
    }
    #[derive(Deserialize)]
    struct Test {
        name: String,
        status: String,
    }
    let report: Report = serde_json::from_str(text).ok()?;
    Some(
        report
            .results
            .tests
            .into_iter()
            .map(|t| {
                let status = match t.status.as_str() {
                    "passed" => TestStatus::Passed,
                    "failed" => TestStatus::Failed,
                    "skipped" | "pending" => TestStatus::Skipped,
                    _ => TestStatus::Error,
                };
                TestResult { name: t.name, status }
            })
            .collect(),
    )
}

/// Per-test results from pytest's `-rA` short summary lines (`PASSED path::test`).
pub fn parse_pytest_summary(output: &str) -> Vec<TestResult> {
    let mut results: Vec<TestResult> = Vec::new();
    for line in output.lines() {
        let mut words = line.split_whitespace();
        let status = match words.next() {
            Some("PASSED") | Some("XFAIL") => TestStatus::Passed,
            Some("FAILED") | Some("XPASS") => TestStatus::Failed,
            Some("ERROR") => TestStatus::Error,
            Some("SKIPPED") => TestStatus::Skipped,
            _ => continue,
        };
        let Some(name) = words.next() else { continue };
        if status != TestStatus::Skipped && !name.contains("::") {
            continue;
        }
        if !results.iter().any(|r| r.name == name) {
            results.push(TestResult { name: name.to_string(), status });
        }
    }
    results
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reward_files() {
        assert_eq!(parse_reward_txt("1\n"), Ok(1.0));
        assert_eq!(parse_reward_txt(" 0.5 "), Ok(0.5));
        assert!(parse_reward_txt("").is_err());
        assert!(parse_reward_txt("yes").is_err());
        assert_eq!(parse_reward_json(r#"{"reward": 0.25}"#), Ok(0.25));
        assert_eq!(parse_reward_json(r#"{"accuracy": 1}"#), Ok(1.0));
        assert!(parse_reward_json(r#"{"a": 1, "b": 0}"#).is_err());
        assert!(parse_reward_json("[").is_err());
    }

    #[test]
    fn pytest_summary_lines() {
        let output = "\
tests/test_outputs.py::test_a PASSED
=========================== short test summary info ============================
PASSED ../tests/test_outputs.py::test_a
FAILED ../tests/test_outputs.py::test_b - AssertionError: expected 3
ERROR ../tests/test_outputs.py::test_c - FileNotFoundError
SKIPPED [1] ../tests/test_outputs.py:12: no network
========================= 1 failed, 1 passed in 0.12s ==========================";
        let results = parse_pytest_summary(output);
        let statuses: Vec<_> = results.iter().map(|r| (r.name.as_str(), r.status)).collect();
        assert_eq!(
            statuses,
            vec![
                ("../tests/test_outputs.py::test_a", TestStatus::Passed),
                ("../tests/test_outputs.py::test_b", TestStatus::Failed),
                ("../tests/test_outputs.py::test_c", TestStatus::Error),
                ("[1]", TestStatus::Skipped),
            ]
        );
    }

    #[test]
    fn ctrf_reports() {
        let report = r#"{"results": {"tool": {"name": "pytest"}, "tests": [
            {"name": "test_a", "status": "passed", "duration": 1},
            {"name": "test_b", "status": "failed"}]}}"#;
        let results = parse_ctrf(report).unwrap();
        assert_eq!(results[1], TestResult { name: "test_b".into(), status: TestStatus::Failed });
        assert!(parse_ctrf("{}").is_none());
    }
}
