//! What the model client writes to the log: its requests, retries and failures, and never
//! the API key, even when a server echoes it. This is the only test in its process, so its
//! global `tracing` subscriber sees every event (a scoped one races other tests' threads).

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use self_harness::config::ApiKey;
use self_harness::config::ModelConfig;
use self_harness::llm::{ChatRequest, Client, Message, RetryPolicy};
use support::{Reply, ScriptedModel};

/// Collects everything the subscriber writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn logs_show_requests_and_retries_but_never_the_key() {
    const KEY: &str = "sk-test-SECRET-0123456789";
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

    let model = ScriptedModel::start(vec![
        Reply::stream_text(&["o", "k"], Some((3, 1))),
        Reply::error(500, &format!("internal error for key {KEY}")),
        Reply::error(400, &format!("bad request from {KEY}")),
    ])
    .await;
    let config = ModelConfig { api_key: Some(ApiKey::new(KEY)), ..model.config() };
    let client = Client::new(config)
        .unwrap()
        .with_retry_policy(RetryPolicy { base_delay: Duration::from_millis(5), ..RetryPolicy::new(1) });
    let request = ChatRequest::new(vec![Message::user("hi")]);
    client.chat(&request.clone().stream(true)).await.unwrap();
    client.chat(&request).await.unwrap_err();

    let log = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    eprintln!("{log}");
    assert!(log.contains("chat request") && log.contains("chat reply"), "requests are logged");
    assert!(log.contains("retrying") && log.contains("<redacted>"), "retries are logged, the echoed key redacted");
    assert!(log.contains("chat failed"), "failures are logged");
    assert!(!log.contains(KEY) && !log.contains("SECRET"), "the key leaked into the log");
}
