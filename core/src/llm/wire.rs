//! The OpenAI chat-completions wire format: building the request body, reading a reply, and
//! assembling a streamed (server-sent events) reply from its deltas. Kept apart from the
//! HTTP client so the format can be tested without a network, and read leniently: servers
//! that call themselves OpenAI-compatible differ in what they leave out.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::types::{ChatRequest, FinishReason, Message, ResponseFormat, Role, ServerTimings, TokenUsage, ToolCall};

/// The JSON body of a request.
pub(crate) fn request_body(request: &ChatRequest, model: &str) -> Value {
    let mut body = Map::new();
    body.insert("model".into(), json!(model));
    body.insert("messages".into(), Value::Array(request.messages.iter().map(message).collect()));
    if let Some(t) = request.temperature {
        // f32 → f64 through the decimal text, so 0.2 is sent as 0.2, not 0.20000000298.
        let t: f64 = t.to_string().parse().unwrap_or(f64::from(t));
        body.insert("temperature".into(), json!(t));
    }
    if let Some(n) = request.max_tokens {
        body.insert("max_tokens".into(), json!(n));
    }
    if let Some(seed) = request.seed {
        body.insert("seed".into(), json!(seed));
    }
    if !request.stop.is_empty() {
        body.insert("stop".into(), json!(request.stop));
    }
    match &request.response_format {
        None => {}
        Some(ResponseFormat::Text) => {
            body.insert("response_format".into(), json!({"type": "text"}));
        }
        Some(ResponseFormat::JsonObject) => {
            body.insert("response_format".into(), json!({"type": "json_object"}));
        }
        Some(ResponseFormat::JsonSchema { name, schema, strict }) => {
            body.insert(
                "response_format".into(),
                json!({"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": strict}}),
            );
        }
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "function": {
                    "name": t.name, "description": t.description, "parameters": t.parameters}})
            })
            .collect();
        body.insert("tools".into(), Value::Array(tools));
    }
    if request.stream {
        body.insert("stream".into(), json!(true));
        body.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Value::Object(body)
}

fn message(m: &Message) -> Value {
    let role = match m.role {
        Role::System => "system",
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::Tool => "tool",
    };
    let mut out = Map::new();
    out.insert("role".into(), json!(role));
    if m.content.is_empty() && !m.tool_calls.is_empty() {
        out.insert("content".into(), Value::Null);
    } else {
        out.insert("content".into(), json!(m.content));
    }
    if !m.tool_calls.is_empty() {
        let calls: Vec<Value> = m
            .tool_calls
            .iter()
            .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}))
            .collect();
        out.insert("tool_calls".into(), Value::Array(calls));
    }
    if let Some(id) = &m.tool_call_id {
        out.insert("tool_call_id".into(), json!(id));
    }
    Value::Object(out)
}

/// A reply as read off the wire, before accounting.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// The answer, without the reasoning a reasoning model put before it.
    pub content: String,
    /// That reasoning: a `reasoning_content` field, or a `<think>…</think>` block.
    pub reasoning: Option<String>,
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: Option<TokenUsage>,
    pub model: Option<String>,
    pub id: Option<String>,
    pub timings: Option<ServerTimings>,
}

#[derive(Debug, Deserialize)]
struct WireResponse {
    id: Option<String>,
    model: Option<String>,
    choices: Vec<WireChoice>,
    usage: Option<WireUsage>,
    #[serde(default)]
    timings: Option<Value>,
}

/// llama.cpp's `timings`, when a body has them in a shape it can read.
fn timings_of(value: Option<&Value>) -> Option<ServerTimings> {
    value.filter(|v| v.is_object()).and_then(|v| serde_json::from_value(v.clone()).ok())
}

#[derive(Debug, Deserialize)]
struct WireChoice {
    message: WireMessage,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct WireMessage {
    content: Option<String>,
    #[serde(default)]
    reasoning_content: Option<String>,
    #[serde(default)]
    tool_calls: Option<Vec<WireToolCall>>,
}

#[derive(Debug, Deserialize)]
struct WireToolCall {
    id: Option<String>,
    function: WireFunction,
}

#[derive(Debug, Deserialize)]
struct WireFunction {
    name: String,
    #[serde(default)]
    arguments: Value,
}

#[derive(Debug, Deserialize)]
struct WireUsage {
    prompt_tokens: Option<u64>,
    completion_tokens: Option<u64>,
}

impl WireUsage {
    fn into_usage(self) -> Option<TokenUsage> {
        match (self.prompt_tokens, self.completion_tokens) {
            (None, None) => None,
            (p, c) => {
                Some(TokenUsage { prompt_tokens: p.unwrap_or(0), completion_tokens: c.unwrap_or(0), estimated: false })
            }
        }
    }
}

/// Arguments are a JSON string per the spec; some servers send the object itself.
fn arguments_text(arguments: Value) -> String {
    match arguments {
        Value::String(s) => s,
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// The `error` object of a body, when it has one (some servers send it with status 200).
pub(crate) fn error_message(body: &Value) -> Option<String> {
    let error = body.get("error")?;
    Some(match error.get("message").and_then(Value::as_str) {
        Some(message) => message.to_string(),
        None => error.to_string(),
    })
}

/// The `error` message of a body that is JSON, when it has one.
pub(crate) fn error_message_of(body: &str) -> Option<String> {
    error_message(&serde_json::from_str(body).ok()?)
}

/// Reads a non-streamed reply. The error is the reason it is not a chat completion.
pub(crate) fn parse_response(body: &str) -> Result<Reply, String> {
    let value: Value = serde_json::from_str(body).map_err(|e| format!("not JSON ({e})"))?;
    if let Some(message) = error_message(&value) {
        return Err(format!("the server reported an error: {message}"));
    }
    let response: WireResponse =
        serde_json::from_value(value).map_err(|e| format!("not shaped like a chat completion ({e})"))?;
    let choice = response.choices.into_iter().next().ok_or("it has no choices")?;
    let tool_calls = choice
        .message
        .tool_calls
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, c)| ToolCall {
            id: c.id.unwrap_or_else(|| format!("call_{i}")),
            name: c.function.name,
            arguments: arguments_text(c.function.arguments),
        })
        .collect();
    let (content, reasoning) =
        split_reasoning(choice.message.content.unwrap_or_default(), choice.message.reasoning_content);
    Ok(Reply {
        content,
        reasoning,
        tool_calls,
        finish_reason: FinishReason::parse(choice.finish_reason.as_deref()),
        usage: response.usage.and_then(WireUsage::into_usage),
        model: response.model,
        id: response.id,
        timings: timings_of(response.timings.as_ref()),
    })
}

/// The answer and the reasoning of a reply: reasoning models (Qwen3, DeepSeek-R1 and their
/// servers) send their thinking in a `reasoning_content` field, or inline as a
/// `<think>…</think>` block before the answer (sometimes without the opening tag, which the
/// chat template wrote). The answer is what follows.
pub(crate) fn split_reasoning(content: String, reasoning: Option<String>) -> (String, Option<String>) {
    let Some(end) = content.find("</think>") else { return (content, reasoning) };
    let thought = content[..end].trim_start().trim_start_matches("<think>").trim().to_string();
    let answer = content[end + "</think>".len()..].trim_start().to_string();
    let reasoning = match reasoning {
        Some(r) if !r.is_empty() => format!("{r}\n{thought}"),
        _ => thought,
    };
    (answer, Some(reasoning).filter(|r| !r.trim().is_empty()))
}

/// Assembles a streamed reply: feed it the body's bytes as they come, then finish it.
#[derive(Debug, Default)]
pub(crate) struct StreamAssembler {
    pending: Vec<u8>,
    content: String,
    reasoning: String,
    /// Tool calls by their `index` in the deltas.
    tool_calls: BTreeMap<u64, ToolCall>,
    finish_reason: Option<String>,
    usage: Option<TokenUsage>,
    model: Option<String>,
    id: Option<String>,
    timings: Option<ServerTimings>,
    done: bool,
    /// The raw start of the stream, for error messages.
    pub head: String,
}

/// A problem in a stream: either not a valid stream, or an error event from the server.
#[derive(Debug)]
pub(crate) enum StreamProblem {
    Invalid(String),
    ServerError(String),
}

impl StreamAssembler {
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), StreamProblem> {
        if self.head.len() < 512 {
            self.head.push_str(&String::from_utf8_lossy(&bytes[..bytes.len().min(512 - self.head.len())]));
        }
        self.pending.extend_from_slice(bytes);
        while let Some(newline) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=newline).collect();
            let line = String::from_utf8_lossy(&line);
            self.line(line.trim_end_matches(['\n', '\r']))?;
        }
        Ok(())
    }

    fn line(&mut self, line: &str) -> Result<(), StreamProblem> {
        let Some(data) = line.strip_prefix("data:") else {
            // Blank lines end events; `event:`, `id:`, `retry:` and `:` comments carry
            // nothing a chat completion needs.
            return Ok(());
        };
        let data = data.trim();
        if data == "[DONE]" {
            self.done = true;
            return Ok(());
        }
        if data.is_empty() {
            return Ok(());
        }
        let chunk: Value = serde_json::from_str(data)
            .map_err(|e| StreamProblem::Invalid(format!("an event is not JSON ({e}): {}", excerpt(data, 200))))?;
        if let Some(message) = error_message(&chunk) {
            return Err(StreamProblem::ServerError(message));
        }
        if let Some(id) = chunk.get("id").and_then(Value::as_str) {
            self.id.get_or_insert_with(|| id.to_string());
        }
        if let Some(model) = chunk.get("model").and_then(Value::as_str) {
            self.model.get_or_insert_with(|| model.to_string());
        }
        if let Some(timings) = timings_of(chunk.get("timings")) {
            self.timings = Some(timings);
        }
        if let Some(usage) = chunk.get("usage").filter(|u| !u.is_null()) {
            if let Ok(usage) = serde_json::from_value::<WireUsage>(usage.clone()) {
                if let Some(usage) = usage.into_usage() {
                    self.usage = Some(usage);
                }
            }
        }
        let Some(choice) = chunk.get("choices").and_then(Value::as_array).and_then(|c| c.first()) else {
            return Ok(());
        };
        if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
            self.finish_reason = Some(reason.to_string());
        }
        let Some(delta) = choice.get("delta") else { return Ok(()) };
        if let Some(text) = delta.get("content").and_then(Value::as_str) {
            self.content.push_str(text);
        }
        if let Some(text) = delta.get("reasoning_content").and_then(Value::as_str) {
            self.reasoning.push_str(text);
        }
        for (position, call) in delta.get("tool_calls").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let index = call.get("index").and_then(Value::as_u64).unwrap_or(position as u64);
            let entry = self.tool_calls.entry(index).or_insert_with(|| ToolCall {
                id: format!("call_{index}"),
                name: String::new(),
                arguments: String::new(),
            });
            if let Some(id) = call.get("id").and_then(Value::as_str) {
                entry.id = id.to_string();
            }
            if let Some(function) = call.get("function") {
                if let Some(name) = function.get("name").and_then(Value::as_str) {
                    entry.name.push_str(name);
                }
                match function.get("arguments") {
                    Some(Value::String(s)) => entry.arguments.push_str(s),
                    Some(Value::Null) | None => {}
                    Some(other) => entry.arguments.push_str(&other.to_string()),
                }
            }
        }
        Ok(())
    }

    /// The assembled reply, once the body has ended.
    pub fn finish(mut self) -> Result<Reply, StreamProblem> {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            let rest = String::from_utf8_lossy(&rest).to_string();
            self.line(rest.trim_end_matches(['\n', '\r']))?;
        }
        if !self.done && self.finish_reason.is_none() {
            return Err(StreamProblem::Invalid(
                "the stream ended before the reply was complete (no finish_reason and no [DONE])".to_string(),
            ));
        }
        let reasoning = Some(self.reasoning).filter(|r| !r.is_empty());
        let (content, reasoning) = split_reasoning(self.content, reasoning);
        Ok(Reply {
            content,
            reasoning,
            tool_calls: self.tool_calls.into_values().collect(),
            finish_reason: FinishReason::parse(self.finish_reason.as_deref()),
            usage: self.usage,
            model: self.model,
            id: self.id,
            timings: self.timings,
        })
    }
}

/// The first `max` characters of `text` on one line, for error messages.
pub(crate) fn excerpt(text: &str, max: usize) -> String {
    let flat: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.is_empty() {
        return "(empty)".to_string();
    }
    match flat.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &flat[..cut]),
        None => flat,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::ToolSpec;

    #[test]
    fn body_has_the_openai_shape() {
        let request = ChatRequest::new(vec![
            Message::system("s"),
            Message::user("u"),
            Message::assistant_tool_calls(
                "",
                vec![ToolCall { id: "c1".into(), name: "run".into(), arguments: "{\"cmd\":\"ls\"}".into() }],
            ),
            Message::tool("c1", "out"),
        ])
        .temperature(0.2)
        .max_tokens(64)
        .seed(7)
        .json_schema("action", json!({"type": "object"}))
        .tools(vec![ToolSpec { name: "run".into(), description: "d".into(), parameters: json!({}) }])
        .stream(true);
        let body = request_body(&request, "m");
        assert_eq!(body["model"], "m");
        assert_eq!(body["temperature"], json!(0.2));
        assert_eq!(body["max_tokens"], 64);
        assert_eq!(body["seed"], 7);
        assert_eq!(body["messages"][2]["content"], Value::Null);
        assert_eq!(body["messages"][2]["tool_calls"][0]["function"]["arguments"], "{\"cmd\":\"ls\"}");
        assert_eq!(body["messages"][3], json!({"role": "tool", "content": "out", "tool_call_id": "c1"}));
        assert_eq!(
            body["response_format"],
            json!({"type": "json_schema", "json_schema": {"name": "action", "schema": {"type": "object"}, "strict": true}})
        );
        assert_eq!(body["tools"][0]["type"], "function");
        assert_eq!(body["stream"], true);
        assert_eq!(body["stream_options"]["include_usage"], true);
    }

    #[test]
    fn lenient_reply_parsing() {
        let reply = parse_response(
            r#"{"choices":[{"message":{"role":"assistant","content":null,"tool_calls":[
                {"function":{"name":"run","arguments":{"cmd":"ls"}}}]},"finish_reason":"tool_calls"}]}"#,
        )
        .unwrap();
        assert_eq!(reply.content, "");
        assert_eq!(reply.tool_calls[0].id, "call_0");
        assert_eq!(reply.tool_calls[0].arguments, r#"{"cmd":"ls"}"#);
        assert_eq!(reply.finish_reason, FinishReason::ToolCalls);
        assert_eq!(reply.usage, None);
        assert!(parse_response(r#"{"choices":[]}"#).unwrap_err().contains("no choices"));
        assert!(parse_response("<html>").unwrap_err().contains("not JSON"));
        assert!(parse_response(r#"{"error":{"message":"boom"}}"#).unwrap_err().contains("boom"));
    }

    #[test]
    fn stream_with_split_lines_and_tool_calls() {
        let events = [
            r#"{"id":"x","model":"m","choices":[{"index":0,"delta":{"role":"assistant","content":"Hel"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"content":"lo ✓"}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"c","function":{"name":"run","arguments":"{\"a\""}}]}}]}"#,
            r#"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":":1}"}}]},"finish_reason":"tool_calls"}]}"#,
            r#"{"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3}}"#,
        ];
        let mut text = String::from(": comment\r\n");
        for e in events {
            text.push_str(&format!("data: {e}\r\n\r\n"));
        }
        text.push_str("data: [DONE]\n\n");
        let mut assembler = StreamAssembler::default();
        for piece in text.as_bytes().chunks(5) {
            assembler.feed(piece).unwrap();
        }
        let reply = assembler.finish().unwrap();
        assert_eq!(reply.content, "Hello ✓");
        assert_eq!(
            reply.tool_calls,
            vec![ToolCall { id: "c".into(), name: "run".into(), arguments: "{\"a\":1}".into() }]
        );
        assert_eq!(reply.usage, Some(TokenUsage { prompt_tokens: 5, completion_tokens: 3, estimated: false }));
        assert_eq!(reply.id.as_deref(), Some("x"));
    }

    #[test]
    fn llama_cpp_timings_are_read_from_replies_and_streams() {
        let timings = r#"{"cache_n":120,"prompt_n":22,"prompt_ms":700.5,"predicted_n":40,"predicted_ms":3300.0,"draft_n":16,"draft_n_accepted":9}"#;
        let body =
            format!(r#"{{"choices":[{{"message":{{"content":"hi"}},"finish_reason":"stop"}}],"timings":{timings}}}"#);
        let expected = ServerTimings {
            prompt_n: 22,
            prompt_ms: 700.5,
            cache_n: 120,
            generated_n: 40,
            generated_ms: 3300.0,
            draft_n: 16,
            draft_n_accepted: 9,
        };
        assert_eq!(parse_response(&body).unwrap().timings, Some(expected));
        let mut assembler = StreamAssembler::default();
        let last = format!(r#"data: {{"choices":[{{"delta":{{}},"finish_reason":"stop"}}],"timings":{timings}}}"#);
        assembler
            .feed(format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"hi\"}}}}]}}\n\n{last}\n\n").as_bytes())
            .unwrap();
        assert_eq!(assembler.finish().unwrap().timings, Some(expected));
        // Another server's shape, or none: no timings, and the reply still reads.
        let odd = r#"{"choices":[{"message":{"content":"hi"},"finish_reason":"stop"}],"timings":"fast"}"#;
        assert_eq!(parse_response(odd).unwrap().timings, None);
    }

    #[test]
    fn truncated_stream_is_invalid() {
        let mut assembler = StreamAssembler::default();
        assembler.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}]}\n\n").unwrap();
        assert!(matches!(assembler.finish(), Err(StreamProblem::Invalid(_))));
    }

    #[test]
    fn excerpts_are_short_and_flat() {
        assert_eq!(excerpt("a\n  b", 10), "a b");
        assert_eq!(excerpt("abcdef", 3), "abc…");
        assert_eq!(excerpt("  ", 3), "(empty)");
    }

    #[test]
    fn reasoning_is_set_apart_from_the_answer() {
        let body = r#"{"choices":[{"message":{"content":"<think>the user wants JSON</think>\n{\"a\":1}"},"finish_reason":"stop"}]}"#;
        let reply = parse_response(body).unwrap();
        assert_eq!((reply.content.as_str(), reply.reasoning.as_deref()), ("{\"a\":1}", Some("the user wants JSON")));
        let body = r#"{"choices":[{"message":{"content":"{}","reasoning_content":"hmm"},"finish_reason":"stop"}]}"#;
        let reply = parse_response(body).unwrap();
        assert_eq!((reply.content.as_str(), reply.reasoning.as_deref()), ("{}", Some("hmm")));
        // The opening tag written by the chat template, not the model.
        let (answer, thought) = split_reasoning("so: plan\n</think>\n\n{\"b\":2}".into(), None);
        assert_eq!((answer.as_str(), thought.as_deref()), ("{\"b\":2}", Some("so: plan")));
        assert_eq!(split_reasoning("plain".into(), None), ("plain".to_string(), None));
        let mut stream = StreamAssembler::default();
        stream.feed(b"data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"think \"}}]}\n\n").unwrap();
        stream.feed(b"data: {\"choices\":[{\"delta\":{\"content\":\"ok\"},\"finish_reason\":\"stop\"}]}\n\n").unwrap();
        let reply = stream.finish().unwrap();
        assert_eq!((reply.content.as_str(), reply.reasoning.as_deref()), ("ok", Some("think ")));
    }
}
