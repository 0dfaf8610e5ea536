//! The real Terminal-Bench 2.0 tasks, unmodified, offline: every task's oracle must pass,
//! except a task that cannot be checked from here at all, which must say why
//! (`needs-internet` naming the host, or `stale-pin` naming the package version). The folder
//! comes from `TB2_DIR` (never copied into the repository; `../shared/tb2` holds 14 tasks);
//! without it this test says so and does nothing.

mod common;

use common::{bin, managed_containers, run_with_pid};

#[test]
fn real_tb2_tasks_pass_their_oracles() {
    if !common::docker_available() {
        return;
    }
    let Some(dir) = std::env::var_os("TB2_DIR").filter(|d| !d.is_empty()) else {
        eprintln!("SKIPPED: TB2_DIR is not set (point it at ../shared/tb2 to check real Terminal-Bench 2.0 tasks)");
        return;
    };
    let logs = tempfile::tempdir().unwrap();
    let (output, pid) = run_with_pid(
        bin().args(["tasks", "check", "--oracle", "--parallel", "2", "--json", "--logs"]).arg(logs.path()).arg(&dir),
    );
    let report = common::finished(&output);
    let results = report["results"].as_array().unwrap();
    eprintln!("{:<28} {:<15} {:<6} {:<28} detail", "task", "status", "reward", "needs");
    for r in results {
        let needs = r["host"].as_str().or(r["pin"].as_str()).unwrap_or("");
        let detail: String = r["detail"].as_str().unwrap_or("").chars().take(120).collect();
        eprintln!(
            "{:<28} {:<15} {:<6} {:<28} {}",
            r["task"].as_str().unwrap(),
            r["status"].as_str().unwrap(),
            r["reward"].to_string(),
            needs,
            detail.replace('\n', " ")
        );
    }
    assert!(!results.is_empty(), "no tasks found in {}", dir.to_string_lossy());
    let summary = &report["summary"];
    eprintln!("summary: {summary}");
    let failed: Vec<&str> = results
        .iter()
        .filter(|r| !matches!(r["status"].as_str(), Some("pass" | "needs-internet" | "stale-pin")))
        .map(|r| r["task"].as_str().unwrap())
        .collect();
    assert!(failed.is_empty(), "these real TB2 tasks did not pass their oracle: {failed:?}");
    for r in results.iter().filter(|r| r["status"] == "needs-internet") {
        assert!(r["host"].as_str().is_some_and(|h| !h.is_empty()), "needs-internet without a host: {r}");
    }
    let passed = results.iter().filter(|r| r["status"] == "pass").count();
    assert_eq!(summary["ok"].as_u64(), Some(passed as u64), "the summary counts what the table shows");
    assert!(managed_containers(Some(pid)).is_empty(), "containers left behind");
}
