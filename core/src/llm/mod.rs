//! The model client: one OpenAI-compatible `POST {base_url}/chat/completions` with everything
//! a long unattended run needs around it — per-request timeouts, retries with backoff on
//! rate limits, server errors and broken connections (never on other 4xx), structured output
//! (`response_format` with a JSON schema), native tool calls, streaming, token and cost
//! accounting, and errors that say what failed and what to do. It talks to a local
//! llama.cpp server as well as to hosted APIs; the API key is sent only as a bearer token and
//! never appears in logs, errors or `Debug` output.

mod error;
mod types;
mod usage;
mod wire;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

pub use error::{LlmError, ModelErrorKind};
pub use types::{
    ChatRequest, ChatResponse, FinishReason, Message, ResponseFormat, Role, ServerTimings, TokenUsage, ToolCall,
    ToolSpec,
};
pub use usage::{Usage, UsageTotals};

use crate::config::{ModelConfig, DEFAULT_BASE_URL};
use wire::{excerpt, StreamAssembler, StreamProblem};

/// How failed attempts are retried. The number of retries comes from the config; the delays
/// are exposed so tests (and impatient callers) can shorten them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first backoff; each retry doubles it, up to `max_delay`, with jitter (×0.5–1).
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// The longest `Retry-After` the client waits; longer requests are cut to this.
    pub max_retry_after: Duration,
}

impl RetryPolicy {
    pub fn new(max_retries: u32) -> Self {
        RetryPolicy {
            max_retries,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(120),
        }
    }

    /// The wait before retry number `retry` (0-based), honouring `Retry-After` when given.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(wait) = retry_after {
            return wait.min(self.max_retry_after);
        }
        let backoff = self.base_delay.saturating_mul(2u32.saturating_pow(retry)).min(self.max_delay);
        backoff.mul_f64(0.5 + fastrand::f64() * 0.5)
    }
}

/// A client for one model endpoint. Cheap to clone; clones share the connection pool and
/// the [`Usage`] accumulator.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    config: ModelConfig,
    endpoint: String,
    retry: RetryPolicy,
    usage: Usage,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.endpoint)
            .field("config", &self.config)
            .field("retry", &self.retry)
            .finish_non_exhaustive()
    }
}

/// One failed HTTP attempt, before the retry decision.
enum Failure {
    /// Could not connect, or the connection broke: retried.
    Connection(String),
    Timeout,
    /// The server answered with an error status: 429 and 5xx are retried.
    Status {
        status: u16,
        body: String,
        retry_after: Option<Duration>,
    },
    /// A success status with a body that is not a chat completion: not retried.
    Invalid {
        reason: String,
        excerpt: String,
    },
    /// The server said the conversation does not fit: not retried.
    Overflow(String),
}

impl Client {
    /// A client for the endpoint of `config`. Fails only on a configuration that cannot work
    /// (an invalid URL, a key that cannot be sent in a header); it does not connect.
    pub fn new(config: ModelConfig) -> Result<Self, LlmError> {
        let base = config.base_url.trim().trim_end_matches('/');
        match reqwest::Url::parse(base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => {}
            _ => {
                return Err(LlmError::Config(format!(
                    "base_url `{base}` is not an http(s) URL; expected something like `{DEFAULT_BASE_URL}`"
                )))
            }
        }
        let endpoint = format!("{base}/chat/completions");
        let mut headers = HeaderMap::new();
        if let Some(key) = &config.api_key {
            let mut value = HeaderValue::from_str(&format!("Bearer {}", key.expose())).map_err(|_| {
                LlmError::Config(format!(
                    "the API key in the environment variable {} contains characters that cannot be sent in an HTTP \
                     header",
                    config.api_key_env
                ))
            })?;
            value.set_sensitive(true);
            headers.insert(AUTHORIZATION, value);
        }
        let http = reqwest::Client::builder()
            .use_rustls_tls()
            .default_headers(headers)
            .user_agent(concat!("self-harness/", env!("CARGO_PKG_VERSION")))
            .timeout(config.timeout)
            .connect_timeout(config.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| LlmError::Config(format!("cannot set up the HTTP client: {}", error_chain(&e))))?;
        let retry = RetryPolicy::new(config.max_retries);
        Ok(Client { http, config, endpoint, retry, usage: Usage::new() })
    }

    /// Counts this client's calls into a shared accumulator.
    pub fn with_usage(mut self, usage: Usage) -> Self {
        self.usage = usage;
        self
    }

    /// Replaces the retry policy (its `max_retries` included).
    pub fn with_retry_policy(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    pub fn usage(&self) -> &Usage {
        &self.usage
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// The URL requests go to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Sends one chat request, retrying as the policy says, and counts it in [`Client::usage`].
    pub async fn chat(&self, request: &ChatRequest) -> Result<ChatResponse, LlmError> {
        let started = Instant::now();
        let model = request.model.clone().unwrap_or_else(|| self.config.model.clone());
        let body = wire::request_body(request, &model);
        let mut retries = 0u32;
        loop {
            tracing::debug!(url = %self.endpoint, model = %model, attempt = retries + 1, stream = request.stream, "chat request");
            let failure = match self.attempt(&body, request.stream).await {
                Ok(reply) => {
                    let response = self.finish(request, reply, &model, started, retries);
                    tracing::debug!(
                        url = %self.endpoint,
                        prompt_tokens = response.usage.prompt_tokens,
                        completion_tokens = response.usage.completion_tokens,
                        latency_ms = response.latency.as_millis() as u64,
                        "chat reply"
                    );
                    self.usage.record(&response);
                    return Ok(response);
                }
                Err(failure) => failure,
            };
            let retry_after = match &failure {
                Failure::Connection(_) => Some(None),
                // A connection that hangs once is the endpoint's fault; twice in a row, the
                // model cannot answer this conversation in time (see `ModelErrorKind::Timeout`).
                Failure::Timeout if retries == 0 => Some(None),
                Failure::Status { status, retry_after, .. } if *status == 429 || *status >= 500 => Some(*retry_after),
                _ => None,
            };
            match retry_after {
                Some(retry_after) if retries < self.retry.max_retries => {
                    let wait = self.retry.delay(retries, retry_after);
                    tracing::warn!(
                        url = %self.endpoint,
                        retry = retries + 1,
                        of = self.retry.max_retries,
                        wait_ms = wait.as_millis() as u64,
                        reason = %self.describe(&failure),
                        "model request failed; retrying"
                    );
                    tokio::time::sleep(wait).await;
                    retries += 1;
                }
                _ => {
                    let error = self.error(failure, retries);
                    tracing::debug!(url = %self.endpoint, error = %error, "chat failed");
                    self.usage.record_failure(retries);
                    return Err(error);
                }
            }
        }
    }

    async fn attempt(&self, body: &serde_json::Value, stream: bool) -> Result<wire::Reply, Failure> {
        let response = self.http.post(&self.endpoint).json(body).send().await.map_err(|e| self.transport(&e))?;
        let status = response.status();
        if !status.is_success() {
            let retry_after = response.headers().get(RETRY_AFTER).and_then(parse_retry_after);
            let body = response.text().await.unwrap_or_default();
            if wire::error_message_of(&body).is_some_and(|m| error::looks_like_context_overflow(&m))
                || error::looks_like_context_overflow(&body)
            {
                return Err(Failure::Overflow(self.excerpt(&body)));
            }
            return Err(Failure::Status { status: status.as_u16(), body, retry_after });
        }
        let is_event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if stream && is_event_stream {
            let mut assembler = StreamAssembler::default();
            let mut bytes = response.bytes_stream();
            while let Some(chunk) = bytes.next().await {
                let chunk = chunk.map_err(|e| self.transport(&e))?;
                assembler.feed(&chunk).map_err(|p| self.stream_problem(p, ""))?;
            }
            let head = assembler.head.clone();
            return assembler.finish().map_err(|p| self.stream_problem(p, &head));
        }
        // Not streamed (or a server that ignored `stream: true`).
        let text = response.text().await.map_err(|e| self.transport(&e))?;
        wire::parse_response(&text).map_err(|reason| {
            if error::looks_like_context_overflow(&reason) {
                Failure::Overflow(self.excerpt(&reason))
            } else {
                Failure::Invalid { reason, excerpt: self.excerpt(&text) }
            }
        })
    }

    fn stream_problem(&self, problem: StreamProblem, head: &str) -> Failure {
        match problem {
            StreamProblem::ServerError(message) if error::looks_like_context_overflow(&message) => {
                Failure::Overflow(self.excerpt(&message))
            }
            StreamProblem::ServerError(message) => Failure::Invalid {
                reason: format!("the server reported an error in the stream: {}", self.excerpt(&message)),
                excerpt: self.excerpt(head),
            },
            StreamProblem::Invalid(reason) => Failure::Invalid { reason, excerpt: self.excerpt(head) },
        }
    }

    fn transport(&self, e: &reqwest::Error) -> Failure {
        if e.is_timeout() {
            Failure::Timeout
        } else {
            let cause = root_cause(e);
            let reason = if e.is_connect() {
                format!("cannot connect: {cause}")
            } else {
                format!("the connection failed during the exchange: {cause}")
            };
            Failure::Connection(self.redact(&reason))
        }
    }

    fn describe(&self, failure: &Failure) -> String {
        match failure {
            Failure::Connection(reason) => reason.clone(),
            Failure::Timeout => "timeout".to_string(),
            Failure::Status { status, body, .. } => format!("HTTP {status}: {}", self.excerpt(body)),
            Failure::Invalid { reason, .. } => reason.clone(),
            Failure::Overflow(excerpt) => excerpt.clone(),
        }
    }

    fn error(&self, failure: Failure, retries: u32) -> LlmError {
        let url = self.endpoint.clone();
        match failure {
            Failure::Connection(reason) => LlmError::Unreachable { url, reason, retries },
            Failure::Timeout => LlmError::Timeout { url, timeout: self.config.timeout, retries },
            Failure::Overflow(excerpt) => LlmError::ContextOverflow { url, excerpt },
            Failure::Invalid { reason, excerpt } => LlmError::InvalidResponse { url, reason, excerpt },
            Failure::Status { status, body, .. } => {
                let excerpt = self.excerpt(&body);
                match status {
                    401 | 403 => LlmError::Auth {
                        url,
                        status,
                        excerpt,
                        key_env: self.config.api_key_env.clone(),
                        withheld: self.config.key_withheld.clone(),
                    },
                    429 => LlmError::RateLimited { url, retries, excerpt },
                    _ => LlmError::Http { url, status, excerpt, retries },
                }
            }
        }
    }

    /// A short, single-line, key-free excerpt of a body (its error message when it has one).
    fn excerpt(&self, body: &str) -> String {
        let text = wire::error_message_of(body).unwrap_or_else(|| body.to_string());
        self.redact(&excerpt(&text, 300))
    }

    /// Removes the API key from text a server or a library produced, should it echo it.
    fn redact(&self, text: &str) -> String {
        match &self.config.api_key {
            Some(key) if !key.expose().is_empty() => text.replace(key.expose(), "<redacted>"),
            _ => text.to_string(),
        }
    }

    fn finish(
        &self,
        request: &ChatRequest,
        reply: wire::Reply,
        model: &str,
        started: Instant,
        retries: u32,
    ) -> ChatResponse {
        let usage = reply.usage.unwrap_or_else(|| estimate_usage(request, &reply));
        let cost_usd = self.config.price().map(|p| p.cost(usage.prompt_tokens, usage.completion_tokens));
        ChatResponse {
            content: reply.content,
            reasoning: reply.reasoning,
            tool_calls: reply.tool_calls,
            finish_reason: reply.finish_reason,
            usage,
            cost_usd,
            latency: started.elapsed(),
            attempts: retries + 1,
            model: reply.model.unwrap_or_else(|| model.to_string()),
            id: reply.id,
            timings: reply.timings,
        }
    }
}

/// Token counts for a server that reports none: about four characters a token.
fn estimate_usage(request: &ChatRequest, reply: &wire::Reply) -> TokenUsage {
    let mut prompt = 0usize;
    for message in &request.messages {
        // A few tokens of framing per message, as chat templates add.
        prompt += message.content.len() + 16;
        prompt += message.tool_calls.iter().map(|c| c.name.len() + c.arguments.len()).sum::<usize>();
    }
    prompt += request.tools.iter().map(|t| serde_json::to_string(t).map_or(0, |s| s.len())).sum::<usize>();
    if let Some(format) = &request.response_format {
        prompt += serde_json::to_string(format).map_or(0, |s| s.len());
    }
    let completion = reply.content.len()
        + reply.reasoning.as_ref().map_or(0, String::len)
        + reply.tool_calls.iter().map(|c| c.name.len() + c.arguments.len()).sum::<usize>();
    TokenUsage {
        prompt_tokens: types::estimate_tokens(prompt),
        completion_tokens: types::estimate_tokens(completion),
        estimated: true,
    }
}

/// `Retry-After` as seconds or an HTTP date.
fn parse_retry_after(value: &HeaderValue) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let when = httpdate::parse_http_date(text).ok()?;
    Some(when.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// The innermost cause of an error ("Connection refused (os error 111)").
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// An error and its causes on one line ("error sending request: … : Connection refused").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_jitter_and_honours_retry_after() {
        let policy = RetryPolicy::new(4);
        for retry in 0..4 {
            let full = Duration::from_millis(500) * 2u32.pow(retry);
            let wait = policy.delay(retry, None);
            assert!(wait >= full / 2 && wait <= full, "retry {retry}: {wait:?}");
        }
        let capped = policy.delay(10, None);
        assert!(capped >= Duration::from_secs(15) && capped <= Duration::from_secs(30), "{capped:?}");
        assert_eq!(policy.delay(0, Some(Duration::from_secs(3))), Duration::from_secs(3));
        assert_eq!(policy.delay(0, Some(Duration::from_secs(9999))), Duration::from_secs(120));
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after(&HeaderValue::from_static("2")), Some(Duration::from_secs(2)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("0.5")), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO));
        assert_eq!(parse_retry_after(&HeaderValue::from_static("soon")), None);
    }

    #[test]
    fn new_rejects_bad_urls_and_debug_hides_the_key() {
        let config = ModelConfig { base_url: "ftp://x".into(), ..ModelConfig::default() };
        assert!(matches!(Client::new(config), Err(LlmError::Config(_))));
        let config = ModelConfig {
            base_url: "http://127.0.0.1:1/v1/".into(),
            api_key: Some(crate::config::ApiKey::new("sk-very-secret")),
            ..ModelConfig::default()
        };
        let client = Client::new(config).unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:1/v1/chat/completions");
        let debug = format!("{client:?}");
        assert!(!debug.contains("sk-very-secret") && debug.contains("<redacted>"), "{debug}");
    }
}
