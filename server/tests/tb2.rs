//! The real Terminal-Bench 2.0 tasks, unmodified, offline: the oracle must pass at least 8
//! of the 10 in `../shared/tb2`. The folder comes from `TB2_DIR` (never copied into the
//! repository); without it this test says so and does nothing.

mod common;

use common::{bin, json, managed_containers, run_with_pid};

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
    let report = json(&output);
    let results = report["results"].as_array().unwrap();
    for r in results {
        eprintln!(
            "{:<28} {:<15} reward {:<4} {}",
            r["task"].as_str().unwrap(),
            r["status"].as_str().unwrap(),
            r["reward"],
            r["detail"].as_str().unwrap_or("")
        );
    }
    let passed = results.iter().filter(|r| r["status"] == "pass").count();
    assert!(results.len() >= 10, "expected the 10 shared tasks, got {}", results.len());
    assert!(passed >= 8, "only {passed}/{} real TB2 tasks passed their oracle", results.len());
    assert!(managed_containers(Some(pid)).is_empty(), "containers left behind");
}
