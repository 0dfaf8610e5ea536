//! The model client against a scripted OpenAI-compatible server (request shape, retries,
//! errors, streaming, accounting, key redaction), the project config, and one check against
//! a real local model. What the client logs is checked
//! in `llm_logs.rs`, alone in its process so that no other test races its subscriber.

mod common;
mod support;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use self_harness::config::{ApiKey, ModelConfig, ProjectConfig};
use self_harness::llm::{
    ChatRequest, Client, FinishReason, LlmError, Message, ModelErrorKind, RetryPolicy, ToolSpec, Usage,
};
use support::{Reply, ScriptedModel};

/// Retries as configured, without the real backoff delays.
fn fast(client: Client, max_retries: u32) -> Client {
    client.with_retry_policy(RetryPolicy {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::new(max_retries)
    })
}

fn hello() -> ChatRequest {
    ChatRequest::new(vec![Message::system("You are terse."), Message::user("Say hi.")])
}

fn action_schema() -> Value {
    json!({"type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"],
           "additionalProperties": false})
}

#[tokio::test]
async fn request_shape_with_json_schema_and_tools() {
    let model = ScriptedModel::start(vec![Reply::json(&json!({"command": "ls"}))]).await;
    let client = Client::new(model.config()).unwrap();
    let request = ChatRequest::new(vec![
        Message::system("sys"),
        Message::user("do it"),
        Message::assistant("{\"command\":\"pwd\"}"),
        Message::user("output: /app"),
    ])
    .temperature(0.0)
    .max_tokens(256)
    .seed(42)
    .json_schema("action", action_schema())
    .tools(vec![ToolSpec {
        name: "shell".into(),
        description: "Run a shell command".into(),
        parameters: action_schema(),
    }]);
    let response = client.chat(&request).await.unwrap();

    assert_eq!(response.content, r#"{"command":"ls"}"#);
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!((response.usage.prompt_tokens, response.usage.completion_tokens), (10, 1));
    assert!(!response.usage.estimated);
    assert_eq!(response.attempts, 1);
    assert_eq!(response.cost_usd, Some(0.0), "a model served on this machine is free");

    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    let sent = &requests[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert!(sent.header("content-type").unwrap().starts_with("application/json"));
    assert_eq!(sent.header("authorization"), None, "no key configured, so no Authorization header");
    let body = sent.json();
    assert_eq!(body["model"], "scripted-model");
    assert_eq!(body["temperature"], json!(0.0));
    assert_eq!(body["max_tokens"], 256);
    assert_eq!(body["seed"], 42);
    assert_eq!(body.get("stream"), None);
    let roles: Vec<&str> = body["messages"].as_array().unwrap().iter().map(|m| m["role"].as_str().unwrap()).collect();
    assert_eq!(roles, ["system", "user", "assistant", "user"]);
    assert_eq!(
        body["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "action", "schema": action_schema(), "strict": true}})
    );
    assert_eq!(
        body["tools"],
        json!([{"type": "function", "function": {"name": "shell", "description": "Run a shell command",
                                                 "parameters": action_schema()}}])
    );
}

#[tokio::test]
async fn native_tool_calls_round_trip() {
    let model =
        ScriptedModel::start(vec![Reply::tool_calls(&[("shell", json!({"command": "ls"}))]), Reply::text("done")])
            .await;
    let client = Client::new(model.config()).unwrap();
    let tools = vec![ToolSpec { name: "shell".into(), description: "d".into(), parameters: action_schema() }];
    let mut messages = vec![Message::user("list files")];
    let first = client.chat(&ChatRequest::new(messages.clone()).tools(tools.clone())).await.unwrap();
    assert_eq!(first.finish_reason, FinishReason::ToolCalls);
    assert_eq!(first.tool_calls.len(), 1);
    assert_eq!(first.tool_calls[0].name, "shell");
    assert_eq!(first.tool_calls[0].arguments_json().unwrap(), json!({"command": "ls"}));
    messages.push(Message::assistant_tool_calls(first.content.clone(), first.tool_calls.clone()));
    messages.push(Message::tool(first.tool_calls[0].id.clone(), "a.txt"));
    let second = client.chat(&ChatRequest::new(messages).tools(tools)).await.unwrap();
    assert_eq!(second.content, "done");

    let sent = model.requests()[1].messages();
    assert_eq!(sent[1]["role"], "assistant");
    assert_eq!(sent[1]["content"], Value::Null);
    assert_eq!(sent[1]["tool_calls"][0]["id"], "call_0");
    assert_eq!(sent[1]["tool_calls"][0]["function"]["arguments"], r#"{"command":"ls"}"#);
    assert_eq!(sent[2], json!({"role": "tool", "content": "a.txt", "tool_call_id": "call_0"}));
}

#[tokio::test]
async fn rate_limit_is_retried_honouring_retry_after() {
    let model = ScriptedModel::start(vec![Reply::rate_limited(Some("1")), Reply::text("ok")]).await;
    let client = fast(Client::new(model.config()).unwrap(), 3);
    let started = Instant::now();
    let response = client.chat(&hello()).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After: 1 was not honoured: {:?}", started.elapsed());
    assert_eq!(response.content, "ok");
    assert_eq!(response.attempts, 2);
    assert_eq!(model.requests().len(), 2);
    let totals = client.usage().totals();
    assert_eq!((totals.requests, totals.retries, totals.failed_requests), (1, 1, 0));
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let model =
        ScriptedModel::start(vec![Reply::error(500, "boom"), Reply::error(503, "loading model"), Reply::text("ok")])
            .await;
    let client = fast(Client::new(model.config()).unwrap(), 4);
    let response = client.chat(&hello()).await.unwrap();
    assert_eq!(response.content, "ok");
    assert_eq!(response.attempts, 3);
    assert_eq!(model.remaining(), 0);
}

#[tokio::test]
async fn server_errors_give_up_after_max_retries() {
    let model = ScriptedModel::start(vec![Reply::error(502, "bad gateway"); 3]).await;
    let client = fast(Client::new(model.config()).unwrap(), 2);
    let error = client.chat(&hello()).await.unwrap_err();
    eprintln!("{error}");
    assert!(matches!(error, LlmError::Http { status: 502, retries: 2, .. }), "{error:?}");
    assert!(error.is_infrastructure());
    let message = error.to_string();
    assert!(message.contains("HTTP 502") && message.contains("after 2 retries") && message.contains("bad gateway"));
    assert_eq!(client.usage().totals().failed_requests, 1);
}

#[tokio::test]
async fn bad_request_is_not_retried() {
    let model =
        ScriptedModel::start(vec![Reply::error(400, "invalid json_schema: unknown type"), Reply::text("x")]).await;
    let client = fast(Client::new(model.config()).unwrap(), 4);
    let error = client.chat(&hello()).await.unwrap_err();
    eprintln!("{error}");
    assert!(matches!(error, LlmError::Http { status: 400, retries: 0, .. }), "{error:?}");
    assert_eq!(error.kind(), ModelErrorKind::Model);
    assert!(!error.is_infrastructure());
    assert!(error.to_string().contains("invalid json_schema: unknown type"), "{error}");
    assert_eq!(model.requests().len(), 1);
    assert_eq!(model.remaining(), 1);
}

#[tokio::test]
async fn rate_limited_after_retries_says_so() {
    let model = ScriptedModel::start(vec![Reply::rate_limited(None); 3]).await;
    let client = fast(Client::new(model.config()).unwrap(), 2);
    let error = client.chat(&hello()).await.unwrap_err();
    eprintln!("{error}");
    assert!(matches!(error, LlmError::RateLimited { retries: 2, .. }), "{error:?}");
    assert!(error.is_infrastructure());
    assert!(error.to_string().contains("after 2 retries"), "{error}");
    assert_eq!(model.requests().len(), 3);
}

#[tokio::test]
async fn garbage_body_is_a_clear_error() {
    let model =
        ScriptedModel::start(vec![Reply::raw(200, "text/html", "<html><body>Welcome to nginx</body></html>")]).await;
    let client = fast(Client::new(model.config()).unwrap(), 3);
    let error = client.chat(&hello()).await.unwrap_err();
    eprintln!("{error}");
    assert!(matches!(error, LlmError::InvalidResponse { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("not JSON") && message.contains("Welcome to nginx"), "{message}");
    assert!(message.contains(model.base_url()), "{message}");
    assert_eq!(model.requests().len(), 1, "a garbage body is not retried");

    let model = ScriptedModel::start(vec![Reply::completion(json!({"object": "list", "data": []}))]).await;
    let error = Client::new(model.config()).unwrap().chat(&hello()).await.unwrap_err();
    assert!(error.to_string().contains("not shaped like a chat completion"), "{error}");
}

#[tokio::test]
async fn connection_refused_is_unreachable_with_the_url() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let config = ModelConfig { base_url: format!("http://127.0.0.1:{port}/v1"), ..ModelConfig::default() };
    let client = fast(Client::new(config).unwrap(), 1);
    let error = client.chat(&hello()).await.unwrap_err();
    eprintln!("{error}");
    assert!(matches!(error, LlmError::Unreachable { retries: 1, .. }), "{error:?}");
    assert!(error.is_infrastructure());
    let message = error.to_string();
    assert!(message.contains(&format!("http://127.0.0.1:{port}/v1/chat/completions")), "{message}");
    assert!(message.contains("self-harness model serve"), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
}

#[tokio::test]
async fn a_call_that_hangs_once_is_asked_again() {
    let model =
        ScriptedModel::start(vec![Reply::text("late").delayed(Duration::from_secs(3)), Reply::text("on time")]).await;
    let config = ModelConfig { timeout: Duration::from_millis(300), max_retries: 3, ..model.config() };
    let client = fast(Client::new(config).unwrap(), 3);
    let reply = client.chat(&hello()).await.unwrap();
    assert_eq!(reply.content, "on time");
    assert_eq!(model.requests().len(), 2);
}

#[tokio::test]
async fn a_server_too_slow_twice_times_out() {
    let late = || Reply::text("late").delayed(Duration::from_secs(3));
    let model = ScriptedModel::start(vec![late(), late()]).await;
    let config = ModelConfig { timeout: Duration::from_millis(300), max_retries: 3, ..model.config() };
    let client = fast(Client::new(config).unwrap(), 3);
    let started = Instant::now();
    let error = client.chat(&hello()).await.unwrap_err();
    eprintln!("{error}");
    assert!(started.elapsed() < Duration::from_secs(2), "took {:?}", started.elapsed());
    assert!(matches!(error, LlmError::Timeout { .. }), "{error:?}");
    assert_eq!(error.kind(), ModelErrorKind::Timeout, "what the model answers is the harness's conversation");
    assert!(!error.is_infrastructure());
    assert!(error.to_string().contains("timeout_secs"), "{error}");
    assert_eq!(model.requests().len(), 2, "asked once more, not max_retries times");
}

#[tokio::test]
async fn context_overflow_is_its_own_class() {
    for reply in [
        Reply::llama_cpp_context_overflow(),
        Reply::openai_context_overflow(),
        // Older llama.cpp servers answered 500 with the same words: still not retried.
        Reply::error(500, "the request exceeds the available context size, try increasing it"),
    ] {
        let model = ScriptedModel::start(vec![reply, Reply::text("x")]).await;
        let client = fast(Client::new(model.config()).unwrap(), 3);
        let error = client.chat(&hello()).await.unwrap_err();
        eprintln!("{error}");
        assert!(error.is_context_overflow(), "{error:?}");
        assert_eq!(error.kind(), ModelErrorKind::ContextOverflow);
        assert!(!error.is_infrastructure());
        assert!(error.to_string().contains("context"), "{error}");
        assert_eq!(model.requests().len(), 1);
    }
}

#[tokio::test]
async fn streaming_assembles_deltas_and_usage() {
    let model = ScriptedModel::start(vec![
        Reply::stream_text(&["{\"comm", "and\": \"ls ", "-la\"}"], Some((42, 7))),
        Reply::stream_text(&["Hello", " there ✓"], None),
    ])
    .await;
    let client = Client::new(model.config()).unwrap();
    let response = client.chat(&hello().json_schema("action", action_schema()).stream(true)).await.unwrap();
    assert_eq!(response.content, r#"{"command": "ls -la"}"#);
    assert_eq!(response.finish_reason, FinishReason::Stop);
    assert_eq!((response.usage.prompt_tokens, response.usage.completion_tokens), (42, 7));
    assert!(!response.usage.estimated);
    let body = model.requests()[0].json();
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);

    let response = client.chat(&hello().stream(true)).await.unwrap();
    assert_eq!(response.content, "Hello there ✓");
    assert!(response.usage.estimated, "no usage event, so the counts are estimates");
    assert!(response.usage.prompt_tokens > 0 && response.usage.completion_tokens > 0);
}

#[tokio::test]
async fn missing_usage_is_estimated_and_costs_are_counted() {
    let model = ScriptedModel::start(vec![
        Reply::text("one two three four five six seven eight").without_usage(),
        Reply::text("ok"),
    ])
    .await;
    let usage = Usage::new();
    let config = ModelConfig { model: "gpt-4o-mini".into(), ..model.config() };
    let first = Client::new(config.clone()).unwrap().with_usage(usage.clone());
    let second = Client::new(config).unwrap().with_usage(usage.clone());

    let response = first.chat(&hello()).await.unwrap();
    assert!(response.usage.estimated);
    assert_eq!(response.usage.completion_tokens, 10, "39 characters ≈ 10 tokens");
    assert!(response.cost_usd.unwrap() > 0.0);
    let response = second.chat(&hello()).await.unwrap();
    assert!(!response.usage.estimated);
    let expected = (10.0 * 0.15 + 1.0 * 0.60) / 1e6;
    assert!((response.cost_usd.unwrap() - expected).abs() < 1e-12);

    let totals = usage.totals();
    assert_eq!(totals.requests, 2);
    assert_eq!(totals.estimated_requests, 1);
    assert_eq!(totals.completion_tokens, 11);
    assert_eq!(totals.unpriced_requests, 0);
    assert!(totals.cost_usd > expected);
}

#[tokio::test]
async fn api_key_is_sent_as_bearer_and_never_shown() {
    const KEY: &str = "sk-test-SECRET-0123456789";
    let model = ScriptedModel::start(vec![
        Reply::text("ok"),
        // A server that echoes the key back in its error body.
        Reply::error(500, &format!("internal error for key {KEY}")),
        Reply::error(400, &format!("bad request from {KEY}")),
        Reply::error(401, "Incorrect API key provided"),
    ])
    .await;
    let config = ModelConfig { api_key: Some(ApiKey::new(KEY)), api_key_env: "MY_KEY".into(), ..model.config() };
    let client = fast(Client::new(config.clone()).unwrap(), 1);

    client.chat(&hello()).await.unwrap();
    assert_eq!(model.requests()[0].header("authorization"), Some(format!("Bearer {KEY}").as_str()));

    let retried = client.chat(&hello()).await.unwrap_err();
    let auth = client.chat(&hello()).await.unwrap_err();
    assert!(matches!(auth, LlmError::Auth { status: 401, .. }), "{auth:?}");
    assert!(auth.to_string().contains("MY_KEY"), "{auth}");
    assert!(auth.is_infrastructure());

    eprintln!("{retried}\n{auth}");
    let shown = [
        format!("{retried}"),
        format!("{retried:?}"),
        format!("{auth}"),
        format!("{auth:?}"),
        format!("{config:?}"),
        format!("{client:?}"),
    ];
    assert!(shown[0].contains("<redacted>"), "the echoed key is redacted: {}", shown[0]);
    for text in &shown {
        assert!(!text.contains(KEY), "the key leaked: {text}");
        assert!(!text.contains("SECRET"), "part of the key leaked: {text}");
    }
}

fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn write_config(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("self-harness.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

#[test]
fn environment_overrides_the_config_file() {
    let (_dir, path) = write_config(
        "# project\n[model]\nbase_url = \"http://file:1/v1\"\nmodel = \"from-file\"\napi_key_env = \"MY_KEY\"\n",
    );
    let none = ProjectConfig::load_file_with_env(&path, &env(&[])).unwrap();
    assert_eq!(none.model.base_url, "http://file:1/v1");
    assert_eq!(none.model.model, "from-file");
    assert_eq!(none.model.api_key, None);

    let all = ProjectConfig::load_file_with_env(
        &path,
        &env(&[
            ("OPENAI_BASE_URL", "https://api.example.com/v1"),
            ("OPENAI_MODEL", "from-openai-env"),
            ("SELF_HARNESS_MODEL", "from-self-harness-env"),
            ("MY_KEY", "sk-from-env"),
            ("OPENAI_API_KEY", "sk-not-this-one"),
        ]),
    )
    .unwrap();
    assert_eq!(all.model.base_url, "https://api.example.com/v1");
    assert_eq!(all.model.model, "from-self-harness-env");
    assert_eq!(all.model.api_key.as_ref().map(ApiKey::expose), Some("sk-from-env"));
    assert!(!format!("{all:?}").contains("sk-from-env"));

    let openai = ProjectConfig::load_with_env(
        path.parent().unwrap(),
        &env(&[("OPENAI_MODEL", "gpt-4o-mini"), ("OPENAI_API_KEY", "sk-x")]),
    )
    .unwrap();
    assert_eq!(openai.model.model, "gpt-4o-mini");
    assert_eq!(openai.model.api_key, None, "the file names MY_KEY, so OPENAI_API_KEY is not used");

    let dir = tempfile::tempdir().unwrap();
    let defaults = ProjectConfig::load_with_env(dir.path(), &env(&[("OPENAI_API_KEY", "sk-default")])).unwrap();
    assert_eq!(defaults.path, None);
    assert_eq!(defaults.model.api_key.as_ref().map(ApiKey::expose), Some("sk-default"));
}

fn config_error(text: &str) -> (self_harness::config::ConfigError, std::path::PathBuf) {
    let (_dir, path) = write_config(text);
    (ProjectConfig::load_file_with_env(&path, &env(&[])).unwrap_err(), path)
}

#[test]
fn config_errors_name_file_line_and_column() {
    let (error, path) = config_error("[model]\nmodel = \"m\"\nbase_ur = \"http://x/v1\"\n");
    assert_eq!((error.line, error.column), (Some(3), Some(1)), "{error}");
    let message = error.to_string();
    assert!(message.starts_with(&format!("{}:3:1: ", path.display())), "{message}");
    assert!(message.contains("base_ur"), "{message}");

    let (error, _) = config_error("[model]\napi_key = \"sk-literal-key\"\n");
    assert_eq!((error.line, error.column), (Some(2), Some(11)), "{error}");
    let message = error.to_string();
    assert!(message.contains("must not be stored") && message.contains("api_key_env"), "{message}");
    assert!(!message.contains("sk-literal-key"), "{message}");

    let (error, _) = config_error("[model]\ntimeout_secs = \"soon\"\n");
    assert_eq!(error.line, Some(2), "{error}");

    let (error, _) = config_error("[model]\ntimeout_secs = 0\n");
    assert_eq!((error.line, error.column), (Some(2), Some(16)), "{error}");

    let (error, _) = config_error("[model\n");
    assert_eq!(error.line, Some(1), "{error}");

    let missing = ProjectConfig::load_file(Path::new("/nonexistent/self-harness.toml")).unwrap_err();
    assert!(missing.to_string().starts_with("/nonexistent/self-harness.toml: cannot read"), "{missing}");
}

/// Talks to a real local model: `SELF_HARNESS_MODEL_URL` when set, otherwise the shared
/// test server that `self-harness model serve` starts (skipped only with
/// SELF_HARNESS_SKIP_MODEL=1).
#[tokio::test]
async fn real_local_model_answers_with_schema_json() {
    let Some(config) = common::real_model(Duration::from_secs(300)).await else { return };
    let client = Client::new(config).unwrap();
    let schema = json!({"type": "object", "properties": {"answer": {"type": "integer"}}, "required": ["answer"],
                        "additionalProperties": false});
    let request = ChatRequest::new(vec![
        Message::system("You answer with a JSON object only."),
        Message::user("What is 2 + 3? Put the number in the field `answer`."),
    ])
    .temperature(0.0)
    .seed(1)
    .max_tokens(64)
    .json_schema("answer", schema);
    let response = client.chat(&request).await.unwrap_or_else(|e| panic!("the real model failed: {e}"));
    eprintln!("real model replied {:?} in {:?} ({:?})", response.content, response.latency, response.usage);
    let value: Value = serde_json::from_str(&response.content)
        .unwrap_or_else(|e| panic!("the reply is not JSON ({e}): {}", response.content));
    assert!(value["answer"].is_i64() || value["answer"].is_u64(), "no integer `answer`: {value}");
    assert!(response.usage.completion_tokens > 0);

    let streamed = client.chat(&request.stream(true)).await.unwrap_or_else(|e| panic!("streaming failed: {e}"));
    eprintln!("streamed {:?} ({:?})", streamed.content, streamed.usage);
    let value: Value = serde_json::from_str(&streamed.content)
        .unwrap_or_else(|e| panic!("the streamed reply is not JSON ({e}): {}", streamed.content));
    assert!(value.get("answer").is_some(), "{value}");
    assert_eq!(client.usage().totals().requests, 2);
}
