//! `self-harness tasks check` end to end, with real containers: the oracle passes good
//! tasks, a wrong solution gets reward 0, a hanging one is stopped at its timeout, a broken
//! verifier is an error (not a failed task), a host out of reach is `needs-internet` (not a
//! failure), an Ubuntu pin Debian lacks is replaced in the open, and nothing is left
//! behind, even on Ctrl-C or SIGKILL.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{bin, fixture, managed_containers, run, run_with_pid};

fn result<'a>(report: &'a serde_json::Value, task: &str) -> &'a serde_json::Value {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["task"] == task)
        .unwrap_or_else(|| panic!("no result for {task}"))
}

#[test]
fn oracle_outcomes_are_told_apart() {
    if !common::docker_available() {
        return;
    }
    let logs = tempfile::tempdir().unwrap();
    let (output, pid) = run_with_pid(
        bin()
            .args(["tasks", "check", "--oracle", "--json", "--parallel", "2", "--logs"])
            .arg(logs.path())
            .arg(fixture("oracle")),
    );
    let report = common::finished(&output);
    assert_eq!(output.status.code(), Some(1), "some fixtures must fail");
    // One event per task as its check ended, the last one at the plan's end.
    let checked: Vec<_> = common::events(&output).into_iter().filter(|e| e["event"] == "task").collect();
    let results = report["results"].as_array().unwrap().len() as u64;
    assert_eq!(checked.len() as u64, results, "{checked:?}");
    assert_eq!(checked.last().unwrap()["progress"]["done"].as_u64(), Some(results));

    let right = result(&report, "right-solution");
    assert_eq!((right["status"].as_str(), right["reward"].as_f64()), (Some("pass"), Some(1.0)));
    let tests: Vec<_> = right["tests"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(tests, vec!["passed", "passed"], "per-test results from pytest -rA");

    let wrong = result(&report, "wrong-solution");
    assert_eq!((wrong["status"].as_str(), wrong["reward"].as_f64()), (Some("fail"), Some(0.0)));
    assert!(wrong["detail"].as_str().unwrap().contains("test_greeting_says_hello"), "{wrong}");

    let hanging = result(&report, "hanging-solution");
    assert_eq!(hanging["status"], "timeout", "{hanging}");
    // Its agent timeout is 5 s; the solution sleeps 1000 s.
    assert!(hanging["run_secs"].as_f64().unwrap() < 120.0, "{hanging}");

    let crashed = result(&report, "verifier-crash");
    assert_eq!(crashed["status"], "verifier-error", "{crashed}");
    assert!(crashed["detail"].as_str().unwrap().contains("reward.txt was not written"), "{crashed}");

    // More CPUs and memory than the engine has: run with what it has, and said.
    let big = result(&report, "more-than-the-host");
    assert_eq!(big["status"], "pass", "{big}");
    let detail = big["detail"].as_str().unwrap();
    assert!(detail.starts_with("asked 512 CPUs, ran with ") && detail.contains("of memory, ran with"), "{detail}");
    let storage = tokio::runtime::Runtime::new().unwrap().block_on(common::storage_quota());
    let said = detail.contains("asked 20480 MiB of storage, not enforced here (");
    assert_eq!(said, storage != self_harness::sandbox::StorageQuota::Enforced, "{storage:?}: {detail}");

    let tb1 = result(&report, "tb1-format");
    assert_eq!((tb1["status"].as_str(), tb1["reward"].as_f64()), (Some("pass"), Some(1.0)), "{tb1}");

    let build = result(&report, "build-fails");
    assert_eq!(build["status"], "build-error", "{build}");
    let detail = build["detail"].as_str().unwrap();
    assert!(detail.contains("returned a non-zero code: 3") && detail.contains("compiling the impossible"), "{detail}");

    // Only a registry has it: counted apart, as a host this machine cannot reach.
    let unknown = result(&report, "unknown-base");
    assert_eq!(
        (unknown["status"].as_str(), unknown["host"].as_str()),
        (Some("needs-internet"), Some("alpine:3.20")),
        "{unknown}"
    );
    assert!(
        unknown["detail"].as_str().unwrap().contains("alpine:3.20")
            && unknown["detail"].as_str().unwrap().contains("STAND_INS"),
        "{unknown}"
    );

    // Needs this machine cannot meet are told apart from failures, naming the host, and the
    // uv installer's host (which the images answer for) is not one of them.
    let clone = result(&report, "needs-internet-build");
    assert_eq!(
        (clone["status"].as_str(), clone["host"].as_str()),
        (Some("needs-internet"), Some("github.com")),
        "{clone}"
    );
    assert!(clone["detail"].as_str().unwrap().contains("build-error"), "the build's own error is kept: {clone}");
    let download = result(&report, "needs-internet-tests");
    assert_eq!(
        (download["status"].as_str(), download["host"].as_str()),
        (Some("needs-internet"), Some("huggingface.co")),
        "{download}"
    );
    // An Ubuntu pin Debian does not carry: Debian's version instead, and said; a package
    // only Ubuntu has: counted apart, naming the pin.
    let pinned = result(&report, "ubuntu-pin");
    assert_eq!(pinned["status"], "pass", "{pinned}");
    let replaced = "jq=1.7.1-3build1 is not a version Debian carries; installing Debian's jq ";
    assert!(pinned["stand_in"][0].as_str().is_some_and(|n| n.starts_with(replaced)), "{pinned}");
    assert!(pinned["detail"].as_str().unwrap().contains(&format!("stand-in: {replaced}")), "{pinned}");
    let ubuntu_only = result(&report, "ubuntu-only-package");
    assert_eq!(
        (ubuntu_only["status"].as_str(), ubuntu_only["pin"].as_str()),
        (Some("ubuntu-pin"), Some("ubuntu-pro-client=32.3.1~24.04")),
        "{ubuntu_only}"
    );
    assert!(ubuntu_only["detail"].as_str().unwrap().contains("Unable to locate package"), "{ubuntu_only}");

    let summary = &report["summary"];
    assert_eq!(summary["ubuntu_pin"], 1, "{summary}");
    assert_eq!(summary["needs_internet"], 3, "{summary}");
    assert_eq!(summary["hosts"], serde_json::json!(["alpine:3.20", "github.com", "huggingface.co"]), "{summary}");
    assert_eq!(summary["failed"], 4, "wrong, hanging, verifier-crash, build-fails: {summary}");

    // Built again, from the cache: the image still says what its stand-in changed.
    let again = run(bin()
        .args(["tasks", "check", "--json", "--task", "ubuntu-pin", "--logs"])
        .arg(logs.path().join("again"))
        .arg(fixture("oracle")));
    let again = common::finished(&again);
    let cached = result(&again, "ubuntu-pin");
    assert_eq!((cached["status"].as_str(), cached["image_cached"].as_bool()), (Some("built"), Some(true)), "{cached}");
    assert_eq!(cached["stand_in"], pinned["stand_in"], "{cached}");

    // Logs for a task author to read.
    let verifier_log = std::fs::read_to_string(logs.path().join("wrong-solution/verifier.log")).unwrap();
    assert!(verifier_log.contains("reward: 0"), "{verifier_log}");
    assert!(logs.path().join("right-solution/result.json").is_file());
    assert!(managed_containers(Some(pid)).is_empty(), "containers left behind");
}

#[test]
fn the_starter_suite_passes_its_oracles() {
    if !common::docker_available() {
        return;
    }
    let logs = tempfile::tempdir().unwrap();
    let output = run(bin()
        .args(["tasks", "check", "--oracle", "--parallel", "2", "--json", "--logs"])
        .arg(logs.path())
        .arg(common::repo_root().join("tasks")));
    let report = common::finished(&output);
    let failed: Vec<_> = report["results"].as_array().unwrap().iter().filter(|r| r["status"] != "pass").collect();
    assert!(failed.is_empty(), "starter tasks whose oracle did not pass: {failed:#?}");
    assert_eq!(output.status.code(), Some(0));
    assert!(report["results"].as_array().unwrap().len() >= 12);
}

/// A task whose solution runs for ten minutes, for the interrupt tests.
fn slow_task() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let task = dir.path().join("slow");
    for (from, to) in [
        ("task.toml", "task.toml"),
        ("instruction.md", "instruction.md"),
        ("environment/Dockerfile", "environment/Dockerfile"),
        ("tests/test.sh", "tests/test.sh"),
        ("tests/test_outputs.py", "tests/test_outputs.py"),
    ] {
        let to = task.join(to);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(fixture("oracle/right-solution").join(from), to).unwrap();
    }
    std::fs::create_dir_all(task.join("solution")).unwrap();
    std::fs::write(task.join("solution/solve.sh"), "#!/bin/bash\nsleep 600\n").unwrap();
    std::fs::write(task.join("task.toml"), "[agent]\ntimeout_sec = 900.0\n[environment]\nallow_internet = false\n")
        .unwrap();
    dir
}

/// Starts a check of the slow task and waits until its container is running.
fn start_slow_check(dir: &std::path::Path) -> std::process::Child {
    let logs = dir.join("logs");
    let child = bin()
        .args(["tasks", "check", "--oracle", "--logs"])
        .arg(&logs)
        .arg(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(300);
    while managed_containers(Some(child.id())).is_empty() {
        assert!(Instant::now() < deadline, "the check never started a container");
        std::thread::sleep(Duration::from_millis(200));
    }
    child
}

#[test]
fn ctrl_c_removes_the_running_container() {
    if !common::docker_available() {
        return;
    }
    let dir = slow_task();
    let mut child = start_slow_check(dir.path());
    let pid = child.id();
    std::process::Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
    assert!(managed_containers(Some(pid)).is_empty(), "containers left after Ctrl-C");
}

#[test]
fn a_sigkilled_run_is_cleaned_up_by_the_next_one() {
    if !common::docker_available() {
        return;
    }
    let dir = slow_task();
    let mut child = start_slow_check(dir.path());
    let pid = child.id();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(!managed_containers(Some(pid)).is_empty(), "SIGKILL cannot clean up by itself");

    let output = run(bin().args(["clean"]));
    assert!(output.status.success());
    assert!(managed_containers(Some(pid)).is_empty(), "`clean` left the killed run's container");
}
