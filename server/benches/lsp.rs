//! The language server as an editor feels it: the release `self-harness lsp` process,
//! driven over stdio by a client in this process, many iterations each —
//!
//! * a keystroke in a 2,000-line `harness.toml` → its `publishDiagnostics`,
//! * listing the code actions of a weakness diagnostic, and resolving a proposal's edit,
//! * resident memory of the server with 10,000 traces in the store (the side bar's state
//!   request reads every episode of the current harness version).
//!
//! Prints p50/p99 beside the targets (30 ms, 10 ms, 50 ms; 100 MB).
//!
//!     cargo bench --bench lsp [-- ITERATIONS]

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::lsp_client::LspClient;
use support::prepared_store;

use self_harness::trace::TraceWriter;

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_mb(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

/// The release binary, built if needed.
fn binary() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let status = std::process::Command::new("cargo")
        .args(["build", "--release", "--quiet", "--bin", "self-harness"])
        .current_dir(&root)
        .status()
        .expect("cargo");
    assert!(status.success(), "cargo build --release failed");
    root.join("target/release/self-harness")
}

/// A 2,000-line harness.toml: the minimal harness's keys with commented lines between.
fn big_manifest(minimal: &str) -> String {
    let mut text = String::new();
    for line in minimal.lines() {
        text.push_str(line);
        text.push('\n');
        if line.starts_with('[') || line.starts_with("name") {
            for n in 0..200 {
                text.push_str(&format!("# note {n}: what this table is for, said at length for the benchmark é😀\n"));
            }
        }
    }
    while text.lines().count() < 2000 {
        text.push_str("# padding\n");
    }
    text
}

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(iterations));
}

async fn run(iterations: usize) {
    let bin = binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let project = dir.path().canonicalize().unwrap();
    let harness = project.join("harness");
    let minimal = Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal");
    self_harness::util::copy_dir(&minimal, &harness).unwrap();
    let manifest = harness.join("harness.toml");
    let text = big_manifest(&std::fs::read_to_string(&manifest).unwrap());
    std::fs::write(&manifest, &text).unwrap();

    // 10,000 traces of the current version in the store, and the weakness and proposal.
    let version = self_harness::harness::Harness::load(&harness).unwrap().version().to_string();
    let runs = project.join(".self-harness/runs").join(format!("loop-{version}"));
    let mut rng = fastrand::Rng::with_seed(7);
    let mut first_trace = None;
    for i in 0..10_000 {
        let labelled = support::corpus::generate(&mut rng, i % 89, 0.25, 44);
        let mut writer = TraceWriter::create(&runs.join(format!("t{i}")), &labelled.trace.header).unwrap();
        for turn in &labelled.trace.turns {
            writer.turn(turn).unwrap();
        }
        let path = writer.finish(labelled.trace.outcome.as_ref().unwrap()).unwrap();
        first_trace.get_or_insert(path);
    }
    let trace = first_trace.unwrap();
    prepared_store::write(&project, "weaknesses.json", &vec![prepared_store::weakness(&harness, &trace)]);
    prepared_store::write(&project, "proposals.json", &vec![prepared_store::proposal(&project, &harness)]);

    let mut client = LspClient::spawn(&bin, &project, &[]).await;
    let pid = client.child.as_ref().unwrap().id().unwrap();
    client.initialize(&project, json!({"harness": "harness"})).await;
    let uri = client.open(&manifest, &text).await;
    let diagnostics = client.diagnostics(&uri, |d| !d.is_empty()).await;

    // A keystroke in a comment line → publishDiagnostics for that version.
    let comment_line = text.lines().position(|l| l.starts_with("# note 7:")).unwrap();
    let mut change = Vec::with_capacity(iterations);
    for n in 0..iterations {
        let version = n as i32 + 2;
        let range =
            json!({"start": {"line": comment_line, "character": 2}, "end": {"line": comment_line, "character": 3}});
        let letter = if n % 2 == 0 { "N" } else { "n" };
        let started = Instant::now();
        client
            .notify(
                "textDocument/didChange",
                json!({"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"range": range, "text": letter}]}),
            )
            .await;
        client.wait_for("textDocument/publishDiagnostics", Duration::from_secs(10), |p| p["version"] == version).await;
        change.push(started.elapsed().as_secs_f64() * 1000.0);
    }

    // Listing the actions of the weakness diagnostic, and resolving the proposal's edit.
    let weakness: Value = diagnostics.into_iter().find(|d| d["code"] == "interactive-program").unwrap();
    let params =
        json!({"textDocument": {"uri": uri}, "range": weakness["range"], "context": {"diagnostics": [weakness]}});
    let mut list = Vec::with_capacity(iterations);
    let mut resolve = Vec::with_capacity(iterations);
    let mut apply = Value::Null;
    for _ in 0..iterations {
        let started = Instant::now();
        let actions = client.request("textDocument/codeAction", params.clone()).await.unwrap();
        list.push(started.elapsed().as_secs_f64() * 1000.0);
        apply = actions[1].clone();
    }
    for _ in 0..iterations {
        let started = Instant::now();
        let resolved = client.request("codeAction/resolve", apply.clone()).await.unwrap();
        resolve.push(started.elapsed().as_secs_f64() * 1000.0);
        assert!(resolved["edit"].is_object());
    }

    // Memory: after the side bar's state (which reads every trace of this version).
    let started = Instant::now();
    let state = client.request("selfHarness/state", Value::Null).await.unwrap();
    let state_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert!(state["harness"]["passRate"].is_number(), "the traces were read");
    let rss = rss_mb(pid);
    client.shutdown().await;

    println!("self-harness lsp (release), stdio, {iterations} iterations; 2,000-line harness.toml; 10,000 traces in the store\n");
    println!("| operation                          | p50 ms | p99 ms | target p99 |");
    println!("|------------------------------------|--------|--------|------------|");
    for (name, samples, target) in [
        ("didChange → publishDiagnostics", &mut change, "30 ms"),
        ("codeAction (list)", &mut list, "10 ms"),
        ("codeAction/resolve", &mut resolve, "50 ms"),
    ] {
        samples.sort_by(f64::total_cmp);
        println!(
            "| {name:<34} | {:>6.2} | {:>6.2} | {target:>10} |",
            percentile(samples, 0.5),
            percentile(samples, 0.99)
        );
    }
    println!("\nselfHarness/state over 10,000 traces: {state_ms:.0} ms; server resident memory: {rss:.1} MB (target < 100 MB)");
}
