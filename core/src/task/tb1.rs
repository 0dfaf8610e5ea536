//! The original Terminal-Bench task layout.
//!
//! ```text
//! task.yaml  Dockerfile  run-tests.sh  tests/  solution.sh
//! ```
//! The verdict comes from the pytest output of `run-tests.sh`: the task passes when every
//! test it reports passed.

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::tb2::read_required;
use super::{
    seconds, Environment, Metadata, RewardSource, Solution, Task, TaskError, TaskFormat, Upload, VerifierSpec,
    SOLUTION_DIR, TESTS_DIR,
};

/// Terminal-Bench 1's defaults for the two timeouts.
const DEFAULT_AGENT_TIMEOUT: f64 = 360.0;
const DEFAULT_TEST_TIMEOUT: f64 = 60.0;
const BUILD_TIMEOUT: Duration = Duration::from_secs(600);

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskYaml {
    instruction: Option<String>,
    /// Early TB1 tasks kept the instruction in a list of descriptions keyed "base".
    descriptions: Vec<Description>,
    difficulty: Option<String>,
    category: Option<String>,
    tags: Vec<String>,
    max_agent_timeout_sec: Option<f64>,
    max_test_timeout_sec: Option<f64>,
}

#[derive(Deserialize)]
struct Description {
    key: Option<String>,
    description: String,
}

pub(super) fn load(dir: &Path) -> Result<Task, TaskError> {
    let yaml_path = dir.join("task.yaml");
    let text =
        std::fs::read_to_string(&yaml_path).map_err(|e| TaskError::new(&yaml_path, format!("cannot read: {e}")))?;
    let config: TaskYaml = serde_yaml_ng::from_str(&text).map_err(|e| {
        let mut error = TaskError::new(&yaml_path, e.to_string());
        if let Some(location) = e.location() {
            error.line = Some(location.line());
            error.column = Some(location.column());
        }
        error
    })?;

    let instruction = config
        .instruction
        .or_else(|| {
            let base = config.descriptions.iter().find(|d| d.key.as_deref() == Some("base"));
            base.or(config.descriptions.first()).map(|d| d.description.clone())
        })
        .filter(|text| !text.trim().is_empty())
        .ok_or_else(|| TaskError::new(&yaml_path, "no instruction: set `instruction:` to what the agent is asked"))?;

    if !dir.join("Dockerfile").is_file() {
        return Err(TaskError::new(&dir.join("Dockerfile"), "missing: the task's container is built from it"));
    }
    let run_tests = dir.join("run-tests.sh");
    read_required(&run_tests, "the script that runs the tests")?;
    let tests_dir = dir.join("tests");
    if !tests_dir.is_dir() {
        return Err(TaskError::new(&tests_dir, "missing: the folder of tests run by run-tests.sh"));
    }

    let timeout = |value: Option<f64>, default: f64, key: &str| {
        seconds(value.unwrap_or(default))
            .ok_or_else(|| TaskError::new(&yaml_path, format!("{key} must be a positive number of seconds")))
    };
    let solution_script = dir.join("solution.sh");
    let solution = solution_script.is_file().then(|| Solution {
        uploads: vec![Upload { from: solution_script, to: format!("{SOLUTION_DIR}/solution.sh") }],
        command: format!("bash {SOLUTION_DIR}/solution.sh"),
        typed: false,
    });

    Ok(Task {
        content_hash: Default::default(),
        name: super::suite::task_name(dir),
        dir: dir.to_path_buf(),
        format: TaskFormat::Tb1,
        instruction,
        metadata: Metadata { difficulty: config.difficulty, category: config.category, tags: config.tags },
        environment: Environment {
            context: dir.to_path_buf(),
            dockerfile: "Dockerfile".into(),
            build_timeout: BUILD_TIMEOUT,
            cpus: None,
            memory_bytes: None,
            storage_bytes: None,
            allow_internet: true,
        },
        agent_timeout: timeout(config.max_agent_timeout_sec, DEFAULT_AGENT_TIMEOUT, "max_agent_timeout_sec")?,
        verifier: VerifierSpec {
            uploads: vec![
                Upload { from: tests_dir, to: TESTS_DIR.into() },
                Upload { from: run_tests, to: format!("{TESTS_DIR}/run-tests.sh") },
            ],
            command: format!("bash {TESTS_DIR}/run-tests.sh"),
            timeout: timeout(config.max_test_timeout_sec, DEFAULT_TEST_TIMEOUT, "max_test_timeout_sec")?,
            env: vec![("TEST_DIR".into(), TESTS_DIR.into())],
            reward: RewardSource::PytestOutput,
        },
        solution,
    })
}
