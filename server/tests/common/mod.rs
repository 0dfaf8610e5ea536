//! Shared by the integration tests that need a real Docker engine.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Tests that need Docker skip only when this variable says the engine is absent; CI never
/// sets it. Without it, an unreachable engine fails the test with a clear message.
pub const SKIP_DOCKER: &str = "SELF_HARNESS_SKIP_DOCKER";

pub fn docker_available() -> bool {
    if std::env::var_os(SKIP_DOCKER).is_some_and(|v| !v.is_empty()) {
        eprintln!("SKIPPED: {SKIP_DOCKER} is set, so this Docker test does not run");
        return false;
    }
    true
}

/// Whether this machine's engine can cap a container's disk (what `storage` limits meet).
pub async fn storage_quota() -> self_harness::sandbox::StorageQuota {
    let engine = self_harness::sandbox::Engine::connect().await.expect("Docker engine reachable");
    engine.capacity().storage
}

pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_self-harness"));
    command.env("NO_COLOR", "1");
    command
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The python of the venv `scripts/setup-harbor.sh` makes. Never skipped: a missing Harbor
/// fails the test with the command that installs it.
pub fn harbor_python() -> PathBuf {
    let python = std::env::var_os("HARBOR_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join(".venv-harbor/bin/python"));
    let imports = Command::new(&python)
        .args(["-c", "import harbor.models.trajectories"])
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        imports,
        "Harbor is not installed at {}: run scripts/setup-harbor.sh (it installs harbor==0.25.0 into .venv-harbor/), \
         or set HARBOR_PYTHON to a python that has it",
        python.display()
    );
    python
}

/// Copies the prompt files of `harnesses/minimal` (every `.md` its manifest names) into
/// `dir`, for tests that write a manifest of their own beside them.
pub fn copy_minimal_prompts(dir: &Path) {
    let source = repo_root().join("harnesses/minimal");
    for entry in std::fs::read_dir(&source).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
        }
    }
}

/// Runs the binary and returns its output, printing stderr for the test log.
pub fn run(command: &mut Command) -> Output {
    run_with_pid(command).0
}

/// Like [`run`], also returning the process id (the owner of the containers it made).
pub fn run_with_pid(command: &mut Command) -> (Output, u32) {
    let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run self-harness");
    let pid = child.id();
    let output = child.wait_with_output().expect("wait for self-harness");
    eprintln!("--- stderr ---\n{}", String::from_utf8_lossy(&output.stderr));
    (output, pid)
}

/// Containers Self-Harness created that still exist (any owner, or one owner).
pub fn managed_containers(owner_pid: Option<u32>) -> Vec<String> {
    let output = Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            "label=dev.self-harness.managed=true",
            "--format",
            "{{.ID}} {{.Label \"dev.self-harness.owner\"}}",
        ])
        .output()
        .expect("docker CLI");
    assert!(output.status.success(), "docker ps failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter(|line| owner_pid.is_none_or(|pid| line.split('/').nth(1) == Some(&pid.to_string())))
        .map(|line| line.split_whitespace().next().unwrap_or_default().to_string())
        .collect()
}

/// Parses `--json` output.
pub fn json(output: &Output) -> serde_json::Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

/// The events of a long command's `--json` output (JSON Lines): every line one.
pub fn events(output: &Output) -> Vec<serde_json::Value> {
    let text = String::from_utf8_lossy(&output.stdout);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}")))
        .collect();
    assert!(events.iter().all(|e| e["event"].is_string()), "every line an event: {text}");
    events
}

/// The `finished` event of a long command's `--json` output: the last, and only once.
pub fn finished(output: &Output) -> serde_json::Value {
    let text = String::from_utf8_lossy(&output.stdout);
    let events = events(output);
    let last = events.last().unwrap_or_else(|| panic!("no events: {text}"));
    assert_eq!(last["event"], "finished", "finished last: {text}");
    assert_eq!(events.iter().filter(|e| e["event"] == "finished").count(), 1, "{text}");
    last.clone()
}

/// Tests that need the real local model skip only when this variable says it is absent;
/// CI never sets it.
pub const SKIP_MODEL: &str = "SELF_HARNESS_SKIP_MODEL";
/// The port the shared test model server listens on (`scripts/test.sh` starts it too).
pub const TEST_MODEL_PORT: u16 = 18080;

/// The API root of a real local model, starting `self-harness model serve` on
/// [`TEST_MODEL_PORT`] if none runs there (the first time this downloads the weights).
pub fn local_model_url() -> Option<String> {
    if std::env::var_os(SKIP_MODEL).is_some_and(|v| !v.is_empty()) {
        eprintln!("SKIPPED: {SKIP_MODEL} is set, so this real-model test does not run");
        return None;
    }
    let output = bin()
        .args(["model", "serve", "--detach", "--port", &TEST_MODEL_PORT.to_string()])
        .output()
        .expect("run self-harness model serve");
    assert!(
        output.status.success(),
        "could not start the local model (set {SKIP_MODEL}=1 to skip):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(format!("http://127.0.0.1:{TEST_MODEL_PORT}/v1"))
}

/// How to reach a real local model: `SELF_HARNESS_MODEL_URL` when set, else the shared
/// test server ([`local_model_url`]), with the `OPENAI_*` variables applied and a timeout
/// for slow CPUs. `None` only when [`SKIP_MODEL`] is set.
pub async fn real_model(timeout: std::time::Duration) -> Option<self_harness::config::ModelConfig> {
    let url = match std::env::var("SELF_HARNESS_MODEL_URL").ok().filter(|u| !u.is_empty()) {
        Some(url) => url,
        None => tokio::task::spawn_blocking(local_model_url).await.expect("the model server check")?,
    };
    let mut config = self_harness::config::ModelConfig { base_url: url, timeout, ..Default::default() };
    config.apply_env(&|name| std::env::var(name).ok()).expect("the OPENAI_* variables");
    Some(config)
}
