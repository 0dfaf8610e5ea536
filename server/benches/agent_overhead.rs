//! The agent loop's own cost per turn: everything but the model and the command.
//!
//! One episode of many turns against an instant scripted model (loopback HTTP), each turn
//! running `true` in a real container. For every turn: wall time between turn starts,
//! minus the time waiting for the model, minus the command's round trip. That leaves
//! prompt bookkeeping, parsing, truncation, context fitting and the trace write.
//!
//!     cargo bench --bench agent_overhead [-- TURNS]
//!
//! Needs Docker and the base images, like the integration tests.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Mutex;
use std::time::Instant;

use self_harness::agent::{run_episode, EpisodeSpec};
use self_harness::harness::Harness;
use self_harness::llm::Client;
use self_harness::sandbox::Engine;
use self_harness::task::Task;
use serde_json::json;
use support::{Reply, ScriptedModel};

const TARGET_MS: f64 = 5.0;

fn main() {
    let turns: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    runtime.block_on(bench(turns));
}

async fn bench(turns: usize) {
    let dir = tempfile::tempdir().unwrap();
    let harness_dir = dir.path().join("harness");
    std::fs::create_dir_all(&harness_dir).unwrap();
    for entry in std::fs::read_dir(common::repo_root().join("harnesses/minimal")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), harness_dir.join(entry.file_name())).unwrap();
    }
    let manifest = harness_dir.join("harness.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("max_turns = 30", "max_turns = 1000")
        .replace("context_budget_tokens = 32768", "context_budget_tokens = 10000000");
    std::fs::write(&manifest, text).unwrap();
    let harness = Harness::load(&harness_dir).unwrap();

    let mut replies: Vec<Reply> =
        (0..turns - 1).map(|_| Reply::json(&json!({"thought": "t", "command": "true", "done": false}))).collect();
    replies.push(Reply::json(&json!({"thought": "t", "command": "echo hello > /app/greeting.txt", "done": true})));
    let model = ScriptedModel::start(replies).await;
    let client = Client::new(model.config()).unwrap();
    let engine = Engine::connect().await.expect("Docker engine");
    let task = Task::load(&common::fixture("oracle/right-solution")).unwrap();
    let spec = EpisodeSpec {
        task: &task,
        harness: &harness,
        client: &client,
        model: "scripted".into(),
        seed: 0,
        attempt: 0,
        dir: dir.path().join("episode"),
        time_limit: None,
    };

    // When each turn starts, and when acting ends.
    let marks: Mutex<Vec<(String, Instant)>> = Mutex::new(Vec::new());
    let phase = |p: &str| marks.lock().unwrap().push((p.to_string(), Instant::now()));
    let result = run_episode(&engine, &spec, &phase).await.unwrap();
    assert!(result.outcome.passed, "{:?}", result.outcome);
    let trace = self_harness::trace::read(&result.trace).unwrap();

    let marks = marks.into_inner().unwrap();
    let starts: Vec<Instant> = marks.iter().filter(|(p, _)| p.starts_with("agent turn")).map(|(_, t)| *t).collect();
    let end = marks.iter().find(|(p, _)| p == "verifying").map(|(_, t)| *t).unwrap();
    let mut overhead_ms: Vec<f64> = trace
        .turns
        .iter()
        .enumerate()
        .map(|(i, turn)| {
            let next = starts.get(i + 1).copied().unwrap_or(end);
            let wall = next.duration_since(starts[i]);
            let command = turn.command.as_ref().map_or(0.0, |c| c.duration_ms);
            wall.as_secs_f64() * 1e3 - turn.model_ms - command
        })
        .collect();
    overhead_ms.sort_by(f64::total_cmp);
    let at = |q: f64| overhead_ms[((overhead_ms.len() - 1) as f64 * q).round() as usize];
    let mean = overhead_ms.iter().sum::<f64>() / overhead_ms.len() as f64;
    let model_mean = trace.turns.iter().map(|t| t.model_ms).sum::<f64>() / trace.turns.len() as f64;
    let command_mean = trace.turns.iter().filter_map(|t| t.command.as_ref()).map(|c| c.duration_ms).sum::<f64>()
        / trace.turns.len() as f64;

    println!(
        "agent loop overhead per turn ({} turns, one episode, scripted model, `true` in a container)",
        trace.turns.len()
    );
    println!("| measure                          | p50 ms | mean ms | p99 ms | max ms |");
    println!("|----------------------------------|--------|---------|--------|--------|");
    println!(
        "| overhead (all but model, command) | {:>6.3} | {:>7.3} | {:>6.3} | {:>6.3} |",
        at(0.5),
        mean,
        at(0.99),
        overhead_ms[overhead_ms.len() - 1]
    );
    println!("| target                            | {TARGET_MS:>6.3} |         |        |        |");
    println!("(for scale: model round trip {model_mean:.3} ms, command round trip {command_mean:.3} ms, means)");
    println!("{}", if at(0.99) < TARGET_MS { "within target" } else { "OVER TARGET" });
}
