//! The language server as an editor feels it: the release `self-harness lsp` process,
//! driven over stdio by a client in this process, many iterations each —
//!
//! * opening the workspace → the first diagnostics that show its weakness, a fresh server
//!   each time, the side bar asking for its state as the VS Code extension does once the
//!   server runs; beside it what that must beat, the reading it used to wait for: the
//!   whole store view and the pass rate over every trace, called in this process,
//! * a keystroke in a 2,000-line `harness.toml` → its `publishDiagnostics`,
//! * listing the code actions of a weakness diagnostic, and resolving a proposal's edit,
//! * the side bar's state, and the time until it shows the pass rate (counted in the
//!   background over every episode of the current harness version),
//! * resident memory of the server with 10,000 traces in the store, once it has read them.
//!
//! Prints p50/p99 beside the targets (200 ms, 30 ms, 10 ms, 50 ms; 100 MB).
//!
//!     cargo bench --bench lsp [-- ITERATIONS]

#[path = "../tests/support/mod.rs"]
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::lsp_client::LspClient;
use support::prepared_store;

use self_harness::lsp::settings::Settings;
use self_harness::lsp::store_view::{self, StoreView};
use self_harness::store::Store;
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

fn ms_since(started: Instant) -> f64 {
    started.elapsed().as_secs_f64() * 1000.0
}

/// A fresh server in `project` until it publishes the weakness on the opened manifest.
async fn open_to_weakness(bin: &Path, project: &Path, manifest: &Path, text: &str) -> f64 {
    let started = Instant::now();
    let mut client = LspClient::spawn(bin, project, &[]).await;
    client.initialize(project, json!({"harness": "harness"})).await;
    // The extension's side bar asks as soon as the server runs, before the file is opened.
    client.send_request("selfHarness/state", Value::Null).await;
    let uri = client.open(manifest, text).await;
    client.diagnostics(&uri, |d| d.iter().any(|d| d["code"] == "interactive-program")).await;
    let elapsed = ms_since(started);
    // Killed, not shut down: what it still reads must not slow the next one.
    let _ = client.child.as_mut().unwrap().kill().await;
    elapsed
}

fn main() {
    let iterations: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(300);
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(run(iterations));
}

async fn run(iterations: usize) {
    // Built by `cargo bench` with the benchmark, in its (release) profile.
    let bin = Path::new(env!("CARGO_BIN_EXE_self-harness"));
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
    // In the run folder the server counts for the side bar: its default model, no time cap.
    let model = Settings::default().model_config(&project).map(|c| c.model).unwrap_or_default();
    let run = self_harness::episodes::run_name(&version, &model, None);
    let runs = project.join(".self-harness/runs").join(&run);
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

    // The reading the first diagnostics used to wait for, in this process.
    let opens = iterations.min(50);
    let store = Store::at(&project);
    let allowed = [project.clone(), harness.clone()];
    let (mut load, mut count, mut old_path) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..opens {
        let started = Instant::now();
        let (view, errors) = StoreView::load(&store, &allowed);
        load.push(ms_since(started));
        let counting = Instant::now();
        let rate = store_view::pass_rate(&store, &run);
        count.push(ms_since(counting));
        old_path.push(ms_since(started));
        assert!(errors.is_empty() && view.weaknesses.len() == 1 && rate.is_some(), "{errors:?}");
    }
    let mut open = Vec::with_capacity(opens);
    for _ in 0..opens {
        open.push(open_to_weakness(bin, &project, &manifest, &text).await);
    }

    let mut client = LspClient::spawn(bin, &project, &[]).await;
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
        change.push(ms_since(started));
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
        list.push(ms_since(started));
        apply = actions[1].clone();
    }
    for _ in 0..iterations {
        let started = Instant::now();
        let resolved = client.request("codeAction/resolve", apply.clone()).await.unwrap();
        resolve.push(ms_since(started));
        assert!(resolved["edit"].is_object());
    }

    // The side bar's state, answered at once, and its pass rate, which reads every trace of
    // this version, counted in the background: the server says when to ask again.
    client.forget("selfHarness/stateChanged");
    let started = Instant::now();
    let mut state = client.request("selfHarness/state", Value::Null).await.unwrap();
    let state_ms = ms_since(started);
    while !state["harness"]["passRate"].is_number() {
        client.wait_for("selfHarness/stateChanged", Duration::from_secs(60), |_| true).await;
        state = client.request("selfHarness/state", Value::Null).await.unwrap();
    }
    let counted_ms = ms_since(started);
    // Memory: after the traces were read.
    let rss = rss_mb(pid);
    client.shutdown().await;

    println!(
        "self-harness lsp (release), stdio, {iterations} iterations ({opens} opens, a fresh server each); \
         2,000-line harness.toml; 10,000 traces in the store\n"
    );
    println!("| operation                                   |  p50 ms |  p99 ms | target p99 |");
    println!("|---------------------------------------------|---------|---------|------------|");
    for (name, samples, target) in [
        ("open workspace → first weakness diagnostics", &mut open, "200 ms"),
        ("old path, in-process: load + pass_rate", &mut old_path, "to beat"),
        ("  of which StoreView::load", &mut load, ""),
        ("  of which pass_rate (10,000 traces)", &mut count, ""),
        ("didChange → publishDiagnostics", &mut change, "30 ms"),
        ("codeAction (list)", &mut list, "10 ms"),
        ("codeAction/resolve", &mut resolve, "50 ms"),
    ] {
        samples.sort_by(f64::total_cmp);
        println!(
            "| {name:<43} | {:>7.2} | {:>7.2} | {target:>10} |",
            percentile(samples, 0.5),
            percentile(samples, 0.99)
        );
    }
    println!(
        "\nselfHarness/state: answered in {state_ms:.0} ms, its pass rate over 10,000 traces shown after \
         {counted_ms:.0} ms; server resident memory: {rss:.1} MB (target < 100 MB)"
    );
}
