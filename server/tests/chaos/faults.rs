//! The model endpoint failing a fifth of the time, every way an endpoint fails: the loop
//! completes, each fault is in the trace as what it is, and no candidate is judged on one.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self_harness::trace::{self, EpisodeErrorKind};

use super::support::vim_project::{vim_model, workspace};
use super::support::{Reply, ScriptedModel};
use super::{assert_consistent, assert_no_container_left, assert_no_decision_counts_an_error, common, entries};
use super::{loop_command, serial, tally, traces};

const KINDS: [&str; 6] = ["429", "500", "timeout", "hung", "truncated JSON", "garbage bytes"];

#[tokio::test]
async fn a_loop_whose_endpoint_fails_a_fifth_of_its_calls_completes_and_counts_no_fault() {
    let _serial = serial().await;
    if !common::docker_available() {
        return;
    }
    let seed = super::seed("faults", 20);
    let rng = Mutex::new(fastrand::Rng::with_seed(seed));
    let injected: Arc<Mutex<Vec<&'static str>>> = Arc::default();
    let served = Arc::new(Mutex::new(0usize));
    let delayed: Mutex<HashSet<String>> = Mutex::default();
    let (log, calls) = (injected.clone(), served.clone());
    let model = ScriptedModel::responding(move |request| {
        *calls.lock().unwrap() += 1;
        let mut rng = rng.lock().unwrap();
        if rng.f64() >= 0.2 {
            return vim_model(request);
        }
        // Which calls fail is seeded; the kinds take turns, so that each one is seen.
        let mut kind = KINDS[log.lock().unwrap().len() % KINDS.len()];
        // A call that times out twice in a row is the model's (too slow for its conversation,
        // counted): a transient fault hangs the same request once at most.
        if matches!(kind, "timeout" | "hung") && !delayed.lock().unwrap().insert(request.to_string()) {
            kind = "500";
        }
        log.lock().unwrap().push(kind);
        match kind {
            "429" => Reply::rate_limited(Some("0")),
            "500" => Reply::error(500, "chaos: the server fell over"),
            "timeout" => vim_model(request).delayed(Duration::from_secs(3)),
            "hung" => vim_model(request).delayed(Duration::from_secs(60)),
            "truncated JSON" => {
                Reply::raw(200, "application/json", r#"{"id":"c","choices":[{"index":0,"message":{"role":"assis"#)
            }
            _ => Reply::raw(200, "application/json", "\u{0}\u{1b}[31m\u{7f}garbage"),
        }
    })
    .await;
    let (_root, tasks, harness, cwd) = workspace();
    // A short request timeout, so that a hung call costs seconds, not minutes.
    std::fs::write(cwd.join("self-harness.toml"), "[model]\ntimeout_secs = 2\n").unwrap();

    let output = super::run(loop_command(&cwd, model.base_url(), &tasks, &harness)).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    let injected = injected.lock().unwrap().clone();
    let served = *served.lock().unwrap();
    eprintln!(
        "faults injected (seed {seed}): {} of {served} calls ({:.0}%): {:?}",
        injected.len(),
        100.0 * injected.len() as f64 / served as f64,
        tally(injected.iter().copied())
    );
    assert!(injected.len() >= 10, "too few faults to mean anything: {}", injected.len());

    let entries = entries(&cwd);
    assert_consistent(&entries);
    let compared = assert_no_decision_counts_an_error(&cwd, &entries);
    // The episodes the faults ended are infrastructure errors, saying which fault.
    let errors: Vec<String> = traces(&cwd)
        .into_iter()
        .filter(|(_, class)| *class == EpisodeErrorKind::InfrastructureError)
        .map(|(path, _)| trace::read(&path).unwrap().outcome.unwrap().error_detail.unwrap_or_default())
        .collect();
    for detail in &errors {
        let named = ["HTTP 500", "429", "rate", "invalid", "not JSON", "expected", "EOF", "timed out", "timeout"]
            .iter()
            .any(|fault| detail.contains(fault));
        assert!(named, "an infrastructure error that does not say which fault: {detail}");
    }
    eprintln!(
        "episodes ended by a fault: {} (re-run, not counted); episodes the decisions compared: {compared}; \
         counted on a fault: 0",
        errors.len()
    );
    assert_no_container_left().await;
}
