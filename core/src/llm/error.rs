//! Every way a model call can fail, each with a message that says what to do, and its
//! [`ModelErrorKind`]: an infrastructure error (the endpoint, the network, the account) is
//! never counted as the agent's failure; a context overflow, a refused request (a 4xx) and
//! a model that did not answer in time are the harness's doing, and count.

use serde::{Deserialize, Serialize};

/// What kind of failure an [`LlmError`] is: the infrastructure's, the context's or the
/// request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelErrorKind {
    /// The endpoint, the network, the configuration or the account: not the agent's doing.
    Infrastructure,
    /// The conversation no longer fits the model's context window.
    ContextOverflow,
    /// The server refused this request for another reason (an HTTP 4xx).
    Model,
    /// The model did not finish answering within the request timeout, twice in a row (a
    /// call that hangs once is retried): what it answers is the conversation the harness
    /// built.
    Timeout,
}

/// A failed model call.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LlmError {
    #[error("invalid model configuration: {0}")]
    Config(String),

    #[error(
        "cannot reach the model endpoint {url} ({reason}){}. Is the model server running? Start a local one with \
         `self-harness model serve`, or point `base_url` in self-harness.toml (or OPENAI_BASE_URL) at a running \
         OpenAI-compatible server",
        retry_note(*.retries)
    )]
    Unreachable { url: String, reason: String, retries: u32 },

    #[error(
        "the model endpoint {url} did not finish answering within {}s{}. A slow local model may need a larger \
         `timeout_secs` in [model] of self-harness.toml, or a smaller `max_tokens`",
        .timeout.as_secs_f64(),
        retry_note(*.retries)
    )]
    Timeout { url: String, timeout: std::time::Duration, retries: u32 },

    #[error("the model endpoint {url} answered HTTP {status}{}: {excerpt}. {}", retry_note(*.retries), http_hint(*.status))]
    Http { url: String, status: u16, excerpt: String, retries: u32 },

    #[error(
        "the model endpoint {url} refused the request (HTTP {status}: {excerpt}). {}",
        match withheld {
            Some(why) => format!("No key was sent: {why}"),
            None => format!(
                "Set the key in the environment variable {key_env} (named by `api_key_env` in [model] of self-harness.toml)"
            ),
        }
    )]
    Auth { url: String, status: u16, excerpt: String, key_env: String, withheld: Option<String> },

    #[error(
        "the model endpoint {url} is still rate limiting (HTTP 429) after {retries} retries: {excerpt}. Wait, lower \
         the parallelism, or raise `max_retries` in [model] of self-harness.toml"
    )]
    RateLimited { url: String, retries: u32, excerpt: String },

    #[error(
        "the model endpoint {url} sent a reply that is not a valid chat completion: {reason} (body: {excerpt}). Is \
         base_url an OpenAI-compatible API root (usually ending in /v1)?"
    )]
    InvalidResponse { url: String, reason: String, excerpt: String },

    #[error(
        "the conversation does not fit the model's context window ({excerpt}). Shorten the history or the tool \
         output the harness keeps, or serve the model with a larger context"
    )]
    ContextOverflow { url: String, excerpt: String },
}

fn http_hint(status: u16) -> &'static str {
    if status >= 500 {
        "The server failed: check its log, or try again later"
    } else {
        "The server rejected the request: check that it serves the configured model and supports the options \
         used (response_format, tools, seed)"
    }
}

fn retry_note(retries: u32) -> String {
    match retries {
        0 => String::new(),
        1 => " after 1 retry".to_string(),
        n => format!(" after {n} retries"),
    }
}

impl LlmError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ModelErrorKind {
        match self {
            LlmError::ContextOverflow { .. } => ModelErrorKind::ContextOverflow,
            LlmError::Http { status, .. } if (400..500).contains(status) => ModelErrorKind::Model,
            LlmError::Timeout { .. } => ModelErrorKind::Timeout,
            _ => ModelErrorKind::Infrastructure,
        }
    }

    /// True when the failure is the endpoint's, the network's, the configuration's or the
    /// account's: an episode that ends this way is not counted as the agent's failure.
    pub fn is_infrastructure(&self) -> bool {
        self.kind() == ModelErrorKind::Infrastructure
    }

    pub fn is_context_overflow(&self) -> bool {
        matches!(self, LlmError::ContextOverflow { .. })
    }

    /// The HTTP status, when the server answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            LlmError::Http { status, .. } | LlmError::Auth { status, .. } => Some(*status),
            LlmError::RateLimited { .. } => Some(429),
            _ => None,
        }
    }
}

/// Recognises a context overflow in an error body: llama.cpp's "exceeds the available
/// context size" (type `exceed_context_size_error`), OpenAI's `context_length_exceeded`,
/// vLLM's "maximum context length", and similar wordings.
pub(crate) fn looks_like_context_overflow(body: &str) -> bool {
    let lower = body.to_ascii_lowercase();
    [
        "exceeds the available context size",
        "exceed_context_size",
        "context_length_exceeded",
        "maximum context length",
        "exceeds the context window",
        "too many tokens in the prompt",
        "prompt is too long",
        "input is too long",
    ]
    .iter()
    .any(|needle| lower.contains(needle))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classification() {
        let overflow = LlmError::ContextOverflow { url: "u".into(), excerpt: "x".into() };
        assert!(overflow.is_context_overflow() && !overflow.is_infrastructure());
        let bad_request = LlmError::Http { url: "u".into(), status: 400, excerpt: "x".into(), retries: 0 };
        assert_eq!(bad_request.kind(), ModelErrorKind::Model);
        let server = LlmError::Http { url: "u".into(), status: 503, excerpt: "x".into(), retries: 2 };
        assert!(server.is_infrastructure());
        assert!(server.to_string().contains("after 2 retries"), "{server}");
        let unreachable = LlmError::Unreachable { url: "u".into(), reason: "r".into(), retries: 0 };
        assert!(unreachable.is_infrastructure());
    }

    #[test]
    fn overflow_wordings() {
        assert!(looks_like_context_overflow(
            r#"{"error":{"code":400,"message":"the request exceeds the available context size, try increasing it","type":"exceed_context_size_error"}}"#
        ));
        assert!(looks_like_context_overflow(
            r#"{"error":{"message":"This model's maximum context length is 128000 tokens.","code":"context_length_exceeded"}}"#
        ));
        assert!(!looks_like_context_overflow(r#"{"error":{"message":"invalid schema"}}"#));
    }
}
