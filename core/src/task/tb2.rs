//! Terminal-Bench 2.0 task folders (the Harbor layout).
//!
//! ```text
//! task.toml  instruction.md  environment/Dockerfile  tests/test.sh  solution/solve.sh
//! ```
//! Keys this loader does not know are ignored, as Harbor ignores them; a key of the wrong
//! type is an error with its line and column.
//!
//! One key is ours: `[verifier] judge = "intercode"` judges the task by InterCode's rule
//! instead of a test script: `tests/gold.sh` (and `tests/gold2.sh`, an alternative) hold
//! reference commands, `solution/solve.sh` is typed into the agent's shell by the oracle
//! (see `verify::reference`).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use super::{
    parse_memory, seconds, Environment, Metadata, Reference, RewardSource, Solution, Task, TaskError, TaskFormat,
    Upload, VerifierSpec, SOLUTION_DIR, TESTS_DIR,
};

const DEFAULT_AGENT_TIMEOUT: f64 = 600.0;
const DEFAULT_VERIFIER_TIMEOUT: f64 = 600.0;
const DEFAULT_BUILD_TIMEOUT: f64 = 600.0;

#[derive(Deserialize, Default)]
#[serde(default)]
struct TaskToml {
    metadata: MetadataToml,
    verifier: VerifierToml,
    agent: AgentToml,
    environment: EnvironmentToml,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct MetadataToml {
    difficulty: Option<String>,
    category: Option<String>,
    tags: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct VerifierToml {
    timeout_sec: Option<f64>,
    env: BTreeMap<String, String>,
    /// `"tests"` (the default: `tests/test.sh` writes the reward) or `"intercode"`.
    judge: Option<toml::Spanned<String>>,
}

/// The reference commands of `judge = "intercode"`, in the order they are tried.
const REFERENCES: [&str; 2] = ["gold", "gold2"];

#[derive(Deserialize, Default)]
#[serde(default)]
struct AgentToml {
    timeout_sec: Option<f64>,
}

#[derive(Deserialize)]
#[serde(default)]
struct EnvironmentToml {
    build_timeout_sec: Option<f64>,
    cpus: Option<f64>,
    memory: Option<String>,
    memory_mb: Option<f64>,
    storage: Option<String>,
    storage_mb: Option<f64>,
    allow_internet: bool,
}

impl Default for EnvironmentToml {
    fn default() -> Self {
        EnvironmentToml {
            build_timeout_sec: None,
            cpus: None,
            memory: None,
            memory_mb: None,
            storage: None,
            storage_mb: None,
            // Harbor's default: the verifier of most TB2 tasks fetches pytest through uv.
            allow_internet: true,
        }
    }
}

pub(super) fn load(dir: &Path) -> Result<Task, TaskError> {
    let toml_path = dir.join("task.toml");
    let text =
        std::fs::read_to_string(&toml_path).map_err(|e| TaskError::new(&toml_path, format!("cannot read: {e}")))?;
    let config: TaskToml = toml::from_str(&text).map_err(|e| {
        let message = e.message().to_string();
        match e.span() {
            Some(span) => TaskError::at(&toml_path, &text, span.start, message),
            None => TaskError::new(&toml_path, message),
        }
    })?;

    let instruction = read_required(&dir.join("instruction.md"), "the instruction for the agent")?;

    let context = dir.join("environment");
    let dockerfile = context.join("Dockerfile");
    if !dockerfile.is_file() {
        let compose = context.join("docker-compose.yaml");
        let why = if compose.is_file() || context.join("docker-compose.yml").is_file() {
            "this task uses a docker-compose environment; only single-container tasks with environment/Dockerfile are supported"
        } else {
            "missing: every Terminal-Bench 2.0 task needs environment/Dockerfile"
        };
        return Err(TaskError::new(&dockerfile, why));
    }

    let tests_dir = dir.join("tests");
    let reward = reward(&config, &text, &toml_path, &tests_dir)?;
    let judged_by_reference = matches!(reward, RewardSource::Reference(_));

    let env = &config.environment;
    let size = |text: &Option<String>, mb: Option<f64>, key: &str| -> Result<Option<i64>, TaskError> {
        Ok(match (text, mb) {
            (_, Some(mb)) if mb > 0.0 => Some((mb * 1024.0 * 1024.0) as i64),
            (Some(text), _) => Some(parse_memory(text).ok_or_else(|| {
                TaskError::new(&toml_path, format!("environment.{key}: cannot read {text:?} as a size such as \"2G\""))
            })?),
            _ => None,
        })
    };
    let memory_bytes = size(&env.memory, env.memory_mb, "memory")?;
    let storage_bytes = size(&env.storage, env.storage_mb, "storage")?;
    let timeout = |value: Option<f64>, default: f64, key: &str| -> Result<Duration, TaskError> {
        seconds(value.unwrap_or(default))
            .ok_or_else(|| TaskError::new(&toml_path, format!("{key} must be a positive number of seconds")))
    };

    let solution = solution(&dir.join("solution"), judged_by_reference)?;

    Ok(Task {
        content_hash: Default::default(),
        name: super::suite::task_name(dir),
        dir: dir.to_path_buf(),
        format: TaskFormat::Tb2,
        instruction,
        metadata: Metadata {
            difficulty: config.metadata.difficulty,
            category: config.metadata.category,
            tags: config.metadata.tags,
        },
        environment: Environment {
            context,
            dockerfile: "Dockerfile".into(),
            build_timeout: timeout(env.build_timeout_sec, DEFAULT_BUILD_TIMEOUT, "environment.build_timeout_sec")?,
            cpus: env.cpus.filter(|c| *c > 0.0),
            memory_bytes,
            storage_bytes,
            allow_internet: env.allow_internet,
        },
        agent_timeout: timeout(config.agent.timeout_sec, DEFAULT_AGENT_TIMEOUT, "agent.timeout_sec")?,
        verifier: VerifierSpec {
            uploads: match reward {
                RewardSource::Reference(_) => Vec::new(),
                _ => vec![Upload { from: tests_dir, to: TESTS_DIR.into() }],
            },
            command: match reward {
                RewardSource::Reference(_) => String::new(),
                _ => format!("bash {TESTS_DIR}/test.sh"),
            },
            timeout: timeout(config.verifier.timeout_sec, DEFAULT_VERIFIER_TIMEOUT, "verifier.timeout_sec")?,
            env: config.verifier.env.into_iter().collect(),
            reward,
        },
        solution,
    })
}

/// How the task is judged: its reference commands (`judge = "intercode"`), or the reward
/// file `tests/test.sh` writes.
fn reward(config: &TaskToml, text: &str, toml_path: &Path, tests_dir: &Path) -> Result<RewardSource, TaskError> {
    let judged_by_reference = match &config.verifier.judge {
        None => false,
        Some(judge) => match judge.get_ref().as_str() {
            "tests" => false,
            "intercode" => true,
            other => {
                let why =
                    format!("verifier.judge: {other:?} is not a judge; use \"tests\" (tests/test.sh) or \"intercode\"");
                return Err(TaskError::at(toml_path, text, judge.span().start, why));
            }
        },
    };
    if judged_by_reference {
        let mut references = Vec::new();
        for name in REFERENCES {
            let path = tests_dir.join(format!("{name}.sh"));
            if name != REFERENCES[0] && !path.exists() {
                continue;
            }
            let command = read_required(&path, "a reference command (judge = \"intercode\")")?;
            references.push(Reference { name: name.into(), command: command.trim_end().to_string() });
        }
        Ok(RewardSource::Reference(references))
    } else if tests_dir.join("test.sh").is_file() {
        Ok(RewardSource::RewardFile)
    } else {
        Err(TaskError::new(&tests_dir.join("test.sh"), "missing: the verifier entry point tests/test.sh is required"))
    }
}

/// The task's oracle, `solution/solve.sh`, if it has one: typed into the agent's shell as
/// commands when the task is judged by reference (as InterCode's gold is), else uploaded
/// and run as a script.
fn solution(solution_dir: &Path, judged_by_reference: bool) -> Result<Option<Solution>, TaskError> {
    Ok(if !solution_dir.join("solve.sh").is_file() {
        None
    } else if judged_by_reference {
        let command = read_required(&solution_dir.join("solve.sh"), "the solution's commands")?;
        Some(Solution { uploads: Vec::new(), command: command.trim_end().to_string(), typed: true })
    } else {
        Some(Solution {
            uploads: vec![Upload { from: solution_dir.to_path_buf(), to: SOLUTION_DIR.into() }],
            command: format!("bash {SOLUTION_DIR}/solve.sh"),
            typed: false,
        })
    })
}

/// Reads a file the task cannot do without, with an error that says what it is for.
pub(super) fn read_required(path: &Path, what: &str) -> Result<String, TaskError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Err(TaskError::new(path, format!("empty: it should hold {what}"))),
        Ok(text) => Ok(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Err(TaskError::new(path, format!("missing: it should hold {what}")))
        }
        Err(e) => Err(TaskError::new(path, format!("cannot read: {e}"))),
    }
}
