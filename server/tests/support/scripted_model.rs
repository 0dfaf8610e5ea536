//! A scripted OpenAI-compatible server: it answers each request with the next reply of a
//! queue and records every request, so tests can pin down what the client sends and script
//! whole agent episodes without a model.
//!
//! ```ignore
//! let model = ScriptedModel::start(vec![Reply::json(&json!({"command": "ls"})), Reply::text("done")]).await;
//! let client = Client::new(model.config())?;
//! // … run the agent …
//! assert_eq!(model.requests().len(), 2);
//! ```
//!
//! When the queue is empty it answers HTTP 500 with a message saying so (which a client
//! retries: script enough replies, or set `max_retries = 0`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use serde_json::{json, Value};

use self_harness::config::ModelConfig;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    /// Path and query, e.g. `/v1/chat/completions`.
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// When it arrived.
    pub at: std::time::SystemTime,
}

impl RecordedRequest {
    /// The body as JSON (panics when it is not: the client always sends JSON).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("request body is not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        let name = name.to_ascii_lowercase();
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The messages of a chat request.
    pub fn messages(&self) -> Vec<Value> {
        self.json()["messages"].as_array().cloned().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
enum ReplyBody {
    Full {
        content_type: String,
        body: String,
    },
    /// Server-sent events, written in small pieces with a pause between them.
    Events {
        events: Vec<String>,
        piece: usize,
        pause: Duration,
    },
}

/// A canned answer.
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: ReplyBody,
    delay: Duration,
}

impl Reply {
    /// A chat completion whose message has `content`, with usage (10 prompt tokens, one
    /// completion token per word) and `finish_reason: "stop"`.
    pub fn text(content: impl Into<String>) -> Self {
        let content = content.into();
        let words = content.split_whitespace().count().max(1);
        Self::completion(json!({
            "id": "chatcmpl-scripted",
            "object": "chat.completion",
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": words, "total_tokens": 10 + words},
        }))
    }

    /// A completion whose content is `value` as JSON text (a structured-output reply).
    pub fn json(value: &Value) -> Self {
        Self::text(value.to_string())
    }

    /// A completion that makes native tool calls: `(name, arguments)` pairs.
    pub fn tool_calls(calls: &[(&str, Value)]) -> Self {
        let calls: Vec<Value> = calls
            .iter()
            .enumerate()
            .map(|(i, (name, arguments))| {
                json!({"id": format!("call_{i}"), "type": "function",
                       "function": {"name": name, "arguments": arguments.to_string()}})
            })
            .collect();
        Self::completion(json!({
            "id": "chatcmpl-scripted",
            "model": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": null, "tool_calls": calls},
                         "finish_reason": "tool_calls"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15},
        }))
    }

    /// HTTP 200 with this JSON body.
    pub fn completion(body: Value) -> Self {
        Self::raw(200, "application/json", body.to_string())
    }

    /// Any status, content type and body.
    pub fn raw(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: ReplyBody::Full { content_type: content_type.to_string(), body: body.into() },
            delay: Duration::ZERO,
        }
    }

    /// An OpenAI-style error: `{"error": {"message": …, "type": …, "code": …}}`.
    pub fn error(status: u16, message: &str) -> Self {
        Self::raw(
            status,
            "application/json",
            json!({"error": {"message": message, "type": "scripted_error", "code": status}}).to_string(),
        )
    }

    /// HTTP 429, with a `Retry-After` header when given.
    pub fn rate_limited(retry_after: Option<&str>) -> Self {
        let reply = Self::error(429, "Rate limit reached, slow down");
        match retry_after {
            Some(value) => reply.header("retry-after", value),
            None => reply,
        }
    }

    /// llama.cpp's answer when the prompt does not fit the context (verbatim from its server,
    /// xllamacpp 2026.10, with `n_ctx = 4096`).
    pub fn llama_cpp_context_overflow() -> Self {
        Self::raw(
            400,
            "application/json",
            json!({"error": {"code": 400, "type": "exceed_context_size_error",
                             "message": "request (6030 tokens) exceeds the available context size (4096 tokens), try increasing it",
                             "n_prompt_tokens": 6030, "n_ctx": 4096}})
            .to_string(),
        )
    }

    /// OpenAI's answer when the prompt does not fit the context.
    pub fn openai_context_overflow() -> Self {
        Self::raw(
            400,
            "application/json",
            json!({"error": {"message": "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
                             "type": "invalid_request_error", "param": "messages", "code": "context_length_exceeded"}})
            .to_string(),
        )
    }

    /// A streamed reply: one `data:` event per piece of content, a final event with
    /// `finish_reason`, a usage event when `usage` is `(prompt, completion)`, then `[DONE]`.
    /// The bytes are written a few at a time, so events arrive split across reads.
    pub fn stream_text(pieces: &[&str], usage: Option<(u64, u64)>) -> Self {
        let mut events: Vec<String> = pieces
            .iter()
            .map(|p| {
                json!({"id": "chatcmpl-scripted", "model": "scripted",
                       "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": null}]})
                .to_string()
            })
            .collect();
        events.push(json!({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}).to_string());
        if let Some((prompt, completion)) = usage {
            events.push(
                json!({"choices": [], "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                                                 "total_tokens": prompt + completion}})
                .to_string(),
            );
        }
        events.push("[DONE]".to_string());
        Self::events(events)
    }

    /// Raw server-sent events (the `data:` payloads, `[DONE]` included if wanted).
    pub fn events(events: Vec<String>) -> Self {
        Reply {
            status: 200,
            headers: Vec::new(),
            body: ReplyBody::Events { events, piece: 7, pause: Duration::from_millis(1) },
            delay: Duration::ZERO,
        }
    }

    /// The same reply without its `usage` object (as some servers answer).
    pub fn without_usage(mut self) -> Self {
        if let ReplyBody::Full { body, .. } = &mut self.body {
            if let Ok(mut value) = serde_json::from_str::<Value>(body) {
                if let Some(object) = value.as_object_mut() {
                    object.remove("usage");
                }
                *body = value.to_string();
            }
        }
        self
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Waits this long before answering (to provoke timeouts).
    pub fn delayed(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Computes a reply from the request body, for models whose behaviour depends on the prompt.
pub type Responder = Box<dyn Fn(&Value) -> Reply + Send + Sync>;

#[derive(Default)]
struct Shared {
    replies: Mutex<VecDeque<Reply>>,
    requests: Mutex<Vec<RecordedRequest>>,
    /// Answers when the script is empty.
    responder: Option<Responder>,
}

/// The running server. It stops when dropped.
pub struct ScriptedModel {
    base_url: String,
    shared: Arc<Shared>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedModel {
    /// Starts a server on 127.0.0.1 (an ephemeral port) that answers with `replies` in order.
    pub async fn start(replies: Vec<Reply>) -> Self {
        Self::serve(Shared { replies: Mutex::new(replies.into()), requests: Mutex::default(), responder: None }).await
    }

    /// Starts a server that computes every reply from the request (a model with a known,
    /// prompt-dependent behaviour).
    pub async fn responding(responder: impl Fn(&Value) -> Reply + Send + Sync + 'static) -> Self {
        Self::serve(Shared {
            replies: Mutex::default(),
            requests: Mutex::default(),
            responder: Some(Box::new(responder)),
        })
        .await
    }

    /// Like [`ScriptedModel::responding`], listening on `ip` (e.g. this machine's address on
    /// its network, to stand for another machine's endpoint).
    pub async fn responding_at(
        ip: std::net::IpAddr,
        responder: impl Fn(&Value) -> Reply + Send + Sync + 'static,
    ) -> Self {
        let shared =
            Shared { replies: Mutex::default(), requests: Mutex::default(), responder: Some(Box::new(responder)) };
        Self::serve_at(shared, std::net::SocketAddr::new(ip, 0)).await
    }

    async fn serve(shared: Shared) -> Self {
        Self::serve_at(shared, std::net::SocketAddr::from(([127, 0, 0, 1], 0))).await
    }

    async fn serve_at(shared: Shared, at: std::net::SocketAddr) -> Self {
        let shared = Arc::new(shared);
        let listener = tokio::net::TcpListener::bind(at).await.expect("bind the scripted model server");
        let address = listener.local_addr().expect("scripted model server address");
        let app = axum::Router::new().fallback(handle).with_state(shared.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("scripted model server");
        });
        ScriptedModel { base_url: format!("http://{address}/v1"), shared, task }
    }

    /// The API root to configure a client with (`http://127.0.0.1:PORT/v1`).
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// A model config pointing at this server: no key, a 10 s timeout, no retries.
    pub fn config(&self) -> ModelConfig {
        ModelConfig {
            base_url: self.base_url.clone(),
            model: "scripted-model".to_string(),
            timeout: Duration::from_secs(10),
            max_retries: 0,
            ..ModelConfig::default()
        }
    }

    /// The requests received so far, in order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().unwrap().clone()
    }

    /// Replies not yet used.
    pub fn remaining(&self) -> usize {
        self.shared.replies.lock().unwrap().len()
    }

    /// Appends replies to the script.
    pub fn push(&self, reply: Reply) {
        self.shared.replies.lock().unwrap().push_back(reply);
    }
}

impl Drop for ScriptedModel {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request = RecordedRequest {
        method: method.to_string(),
        path: uri.path_and_query().map_or_else(|| uri.path().to_string(), |p| p.to_string()),
        headers: headers
            .iter()
            .map(|(k, v)| (k.as_str().to_ascii_lowercase(), String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: std::time::SystemTime::now(),
    };
    let count = {
        let mut requests = shared.requests.lock().unwrap();
        requests.push(request);
        requests.len()
    };
    let scripted = shared.replies.lock().unwrap().pop_front();
    let reply = scripted.unwrap_or_else(|| match &shared.responder {
        Some(respond) => respond(&serde_json::from_slice(&body).unwrap_or(Value::Null)),
        None => Reply::error(500, &format!("scripted model: no reply left in the script for request {count}")),
    });
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut builder = Response::builder().status(StatusCode::from_u16(reply.status).expect("valid status"));
    for (name, value) in &reply.headers {
        builder = builder.header(name, value);
    }
    match reply.body {
        ReplyBody::Full { content_type, body } => {
            builder.header("content-type", content_type).body(Body::from(body)).expect("response")
        }
        ReplyBody::Events { events, piece, pause } => {
            let text: String = events.iter().map(|e| format!("data: {e}\n\n")).collect();
            let pieces: Vec<Bytes> = text.as_bytes().chunks(piece).map(Bytes::copy_from_slice).collect::<Vec<_>>();
            let stream = futures_util::stream::unfold(pieces.into_iter(), move |mut rest| async move {
                let next = rest.next()?;
                tokio::time::sleep(pause).await;
                Some((Ok::<_, Infallible>(next), rest))
            });
            builder
                .header("content-type", "text/event-stream")
                .header("cache-control", "no-cache")
                .body(Body::from_stream(stream))
                .expect("response")
        }
    }
}
