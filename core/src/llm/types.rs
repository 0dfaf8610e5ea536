//! The vocabulary of a chat with a model, independent of any one server's wire format:
//! messages, a request, a reply, tool calls and token counts. Traces store these types, so
//! they serialise to plain, stable JSON.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    System,
    User,
    Assistant,
    /// The result of a tool call, answering the assistant message that made it.
    Tool,
}

/// One message of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub role: Role,
    pub content: String,
    /// Calls the assistant made in this message (native tool calling).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// For [`Role::Tool`]: the id of the call this message answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
}

impl Message {
    pub fn new(role: Role, content: impl Into<String>) -> Self {
        Message { role, content: content.into(), tool_calls: Vec::new(), tool_call_id: None }
    }

    pub fn system(content: impl Into<String>) -> Self {
        Self::new(Role::System, content)
    }

    pub fn user(content: impl Into<String>) -> Self {
        Self::new(Role::User, content)
    }

    pub fn assistant(content: impl Into<String>) -> Self {
        Self::new(Role::Assistant, content)
    }

    /// An assistant message that made tool calls (its content is often empty).
    pub fn assistant_tool_calls(content: impl Into<String>, tool_calls: Vec<ToolCall>) -> Self {
        Message { tool_calls, ..Self::new(Role::Assistant, content) }
    }

    /// The result of the tool call `call_id`.
    pub fn tool(call_id: impl Into<String>, content: impl Into<String>) -> Self {
        Message { tool_call_id: Some(call_id.into()), ..Self::new(Role::Tool, content) }
    }
}

/// How the reply must be shaped.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ResponseFormat {
    /// Free text (the server's default).
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON that follows `schema`; sent as OpenAI's `json_schema` response format, which
    /// llama.cpp enforces with a grammar.
    JsonSchema { name: String, schema: Value, strict: bool },
}

impl ResponseFormat {
    /// A strict JSON-schema format.
    pub fn json_schema(name: impl Into<String>, schema: Value) -> Self {
        ResponseFormat::JsonSchema { name: name.into(), schema, strict: true }
    }
}

/// A tool the model may call (native tool calling): a function with JSON-schema parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolSpec {
    pub name: String,
    pub description: String,
    pub parameters: Value,
}

/// A call the model made. `arguments` is the text the model produced, which is meant to be
/// JSON but may not be: parsing it is the caller's decision ([`ToolCall::arguments_json`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    pub id: String,
    pub name: String,
    pub arguments: String,
}

impl ToolCall {
    pub fn arguments_json(&self) -> serde_json::Result<Value> {
        serde_json::from_str(&self.arguments)
    }
}

/// One request. Unset options are left to the server.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ChatRequest {
    pub messages: Vec<Message>,
    /// Overrides the configured model name for this request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_format: Option<ResponseFormat>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tools: Vec<ToolSpec>,
    /// Ask for server-sent events and assemble them; the result is the same [`ChatResponse`].
    #[serde(default)]
    pub stream: bool,
}

impl ChatRequest {
    pub fn new(messages: Vec<Message>) -> Self {
        ChatRequest { messages, ..Default::default() }
    }

    pub fn temperature(mut self, temperature: f32) -> Self {
        self.temperature = Some(temperature);
        self
    }

    pub fn max_tokens(mut self, max_tokens: u32) -> Self {
        self.max_tokens = Some(max_tokens);
        self
    }

    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    pub fn model(mut self, model: impl Into<String>) -> Self {
        self.model = Some(model.into());
        self
    }

    pub fn stop(mut self, stop: Vec<String>) -> Self {
        self.stop = stop;
        self
    }

    pub fn response_format(mut self, format: ResponseFormat) -> Self {
        self.response_format = Some(format);
        self
    }

    /// Shorthand for a strict JSON-schema response format.
    pub fn json_schema(self, name: impl Into<String>, schema: Value) -> Self {
        self.response_format(ResponseFormat::json_schema(name, schema))
    }

    pub fn tools(mut self, tools: Vec<ToolSpec>) -> Self {
        self.tools = tools;
        self
    }

    pub fn stream(mut self, stream: bool) -> Self {
        self.stream = stream;
        self
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FinishReason {
    /// A natural end or a stop sequence.
    Stop,
    /// `max_tokens` (or the context) ran out: the reply is cut off.
    Length,
    ToolCalls,
    ContentFilter,
    /// Anything else the server said.
    Other(String),
    /// The server did not say.
    Unknown,
}

impl FinishReason {
    /// As the OpenAI API spells it (`""` when the server did not say).
    pub fn as_str(&self) -> &str {
        match self {
            FinishReason::Stop => "stop",
            FinishReason::Length => "length",
            FinishReason::ToolCalls => "tool_calls",
            FinishReason::ContentFilter => "content_filter",
            FinishReason::Other(other) => other,
            FinishReason::Unknown => "",
        }
    }

    pub(crate) fn parse(reason: Option<&str>) -> Self {
        match reason {
            None => FinishReason::Unknown,
            Some("stop") | Some("eos") => FinishReason::Stop,
            Some("length") => FinishReason::Length,
            Some("tool_calls") | Some("function_call") => FinishReason::ToolCalls,
            Some("content_filter") => FinishReason::ContentFilter,
            Some(other) => FinishReason::Other(other.to_string()),
        }
    }
}

/// Tokens of one request.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// True when the server did not report usage and these are estimates (about four
    /// characters per token).
    #[serde(default)]
    pub estimated: bool,
}

impl TokenUsage {
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }
}

/// What a llama.cpp server says it spent on a reply (its `timings` extension): the prompt
/// tokens it evaluated (those not in its prompt cache), the tokens it generated, and with
/// speculative decoding the drafted tokens and how many were accepted. Sums over requests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ServerTimings {
    #[serde(default)]
    pub prompt_n: u64,
    #[serde(default)]
    pub prompt_ms: f64,
    /// Prompt tokens taken from the cache instead of evaluated.
    #[serde(default)]
    pub cache_n: u64,
    #[serde(default, rename = "predicted_n")]
    pub generated_n: u64,
    #[serde(default, rename = "predicted_ms")]
    pub generated_ms: f64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub draft_n: u64,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub draft_n_accepted: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ServerTimings {
    pub fn add(&mut self, other: &ServerTimings) {
        self.prompt_n += other.prompt_n;
        self.prompt_ms += other.prompt_ms;
        self.cache_n += other.cache_n;
        self.generated_n += other.generated_n;
        self.generated_ms += other.generated_ms;
        self.draft_n += other.draft_n;
        self.draft_n_accepted += other.draft_n_accepted;
    }
}

/// A reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChatResponse {
    /// The text of the reply (empty when the model only made tool calls), without the
    /// reasoning a reasoning model put before it.
    pub content: String,
    /// That reasoning, when the model gave any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reasoning: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    pub finish_reason: FinishReason,
    pub usage: TokenUsage,
    /// In US dollars, from the price table; `None` when the model's price is unknown.
    pub cost_usd: Option<f64>,
    /// From the first attempt to the end of the reply, retries and waits included.
    #[serde(with = "duration_ms")]
    pub latency: Duration,
    /// HTTP attempts made (1 when nothing was retried).
    pub attempts: u32,
    /// The model name the server reported, else the one requested.
    pub model: String,
    /// The server's id for the completion, when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// What the server spent on it, when it says (llama.cpp does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timings: Option<ServerTimings>,
}

impl ChatResponse {
    /// Retries this reply needed.
    pub fn retries(&self) -> u32 {
        self.attempts.saturating_sub(1)
    }
}

/// Estimates tokens of a text when the server does not report them.
pub(crate) fn estimate_tokens(chars: usize) -> u64 {
    chars.div_ceil(4) as u64
}

mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}
