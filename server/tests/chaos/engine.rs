//! The Docker engine restarted while the loop validates: the episodes it broke are re-run
//! (infrastructure errors, set aside) and none of them is counted.

use std::process::Command;
use std::time::{Duration, Instant};

use self_harness::evolve::ledger::{Entry, Stage};
use self_harness::trace::EpisodeErrorKind;

use super::support::vim_project::{vim_model, workspace};
use super::support::ScriptedModel;
use super::{assert_consistent, assert_no_container_left, assert_no_decision_counts_an_error, common, entries};
use super::{loop_command, serial, traces};

fn engine_answers() -> bool {
    Command::new("docker").arg("version").output().is_ok_and(|o| o.status.success())
}

/// Stops dockerd (as `systemctl restart docker` or a crash would) and starts it again the
/// way `scripts/setup-docker.sh` does; how long the engine was away.
fn restart_engine() -> Duration {
    let started = Instant::now();
    let stopped = Command::new("pkill").args(["-TERM", "-x", "dockerd"]).status().unwrap();
    assert!(stopped.success(), "no dockerd to restart (this test restarts the engine; it needs root)");
    while Command::new("pgrep").args(["-x", "dockerd"]).status().unwrap().success() {
        assert!(started.elapsed() < Duration::from_secs(60), "dockerd did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
    let setup = common::repo_root().join("scripts/setup-docker.sh");
    let output = Command::new("bash").arg(setup).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(engine_answers());
    started.elapsed()
}

#[tokio::test]
async fn the_engine_restarted_mid_validation_costs_no_counted_episode() {
    let _serial = serial().await;
    if !common::docker_available() {
        return;
    }
    let model = ScriptedModel::responding(vim_model).await;
    let (root, tasks, harness, cwd) = workspace();
    let log = root.path().join("loop.log");
    let mut command = loop_command(&cwd, model.base_url(), &tasks, &harness);
    command.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
    let mut child = command.spawn().unwrap();

    // Validation begins once the proposal rounds are recorded; restart a moment into it.
    let deadline = Instant::now() + Duration::from_secs(600);
    while !entries(&cwd).iter().any(|e| matches!(e, Entry::Spent { stage: Stage::Propose, .. })) {
        assert!(Instant::now() < deadline, "the loop never proposed:\n{}", std::fs::read_to_string(&log).unwrap());
        assert!(child.try_wait().unwrap().is_none(), "{}", std::fs::read_to_string(&log).unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let away = tokio::task::spawn_blocking(restart_engine).await.unwrap();
    eprintln!("engine restarted mid-validation, away for {:.1} s", away.as_secs_f64());

    let status = tokio::task::spawn_blocking(move || child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{}", std::fs::read_to_string(&log).unwrap());
    let entries = entries(&cwd);
    assert_consistent(&entries);
    assert!(entries.iter().any(|e| matches!(e, Entry::Decision { .. })), "it validated");
    let compared = assert_no_decision_counts_an_error(&cwd, &entries);
    let traces = traces(&cwd);
    let set_aside = traces.iter().filter(|(p, _)| p.to_string_lossy().contains("trace.error-")).count();
    let broken = traces.iter().filter(|(_, c)| *c == EpisodeErrorKind::InfrastructureError).count();
    eprintln!(
        "episodes the restart broke: {broken} (re-run: {set_aside}); compared by decisions: {compared}; counted: 0"
    );
    assert!(set_aside > 0, "the restart broke no episode: it came too late or too early");
    assert_no_container_left().await;
}
