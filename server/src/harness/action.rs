//! The agent's action each turn, in the two forms a harness can ask for: a JSON object
//! constrained by a JSON Schema (`action_format = "json"`, sent as `response_format`; the
//! form that works with small local models) or native tool calls (`"tool_calls"`). The
//! schema, the tool spec and the parser live together so they cannot drift apart.

use serde::Deserialize;
use serde_json::{json, Value};

/// One action: what the model thinks, the shell command to run (if any), and whether it
/// declares the task finished.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Action {
    pub thought: String,
    pub command: Option<String>,
    pub done: bool,
}

/// A reply that is not a valid action; the message is meant to be sent back to the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ActionError(pub String);

impl Action {
    /// Parses a model reply for `action_format = "json"`. Tolerates a Markdown code fence
    /// around the object; anything else that is not one action object is an error whose
    /// message tells the model what to send instead.
    pub fn parse_json(reply: &str) -> Result<Action, ActionError> {
        let trimmed = reply.trim();
        let body = trimmed
            .strip_prefix("```json")
            .or_else(|| trimmed.strip_prefix("```"))
            .and_then(|rest| rest.trim_end().strip_suffix("```"))
            .unwrap_or(trimmed)
            .trim();
        let mut action = serde_json::from_str::<Action>(body).map_err(|e| {
            ActionError(format!(
                "Your reply is not a valid action ({e}). Reply with exactly one JSON object: \
                 {{\"thought\": string, \"command\": string or null, \"done\": true or false}}."
            ))
        })?;
        // Small models write JSON's null as a string; no shell has a `null` command.
        if action.command.as_deref().is_some_and(|c| c.trim() == "null") {
            action.command = None;
        }
        Ok(action)
    }
}

/// The JSON Schema of [`Action`].
pub(crate) fn action_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "thought": {
                "type": "string",
                // Without a bound, small models ramble here until max_tokens and the reply
                // is cut off mid-JSON; llama.cpp turns maxLength into its grammar.
                "maxLength": 300,
                "description": "Brief reasoning: what you learned from the last output and what you do next."
            },
            "command": {
                "type": ["string", "null"],
                "maxLength": 1000,
                "description": "One shell command to run next in the container, or null to run none."
            },
            "done": {
                "type": "boolean",
                "description": "true when the task is complete; the command, if any, runs first."
            }
        },
        "required": ["thought", "command", "done"],
        "additionalProperties": false
    })
}

/// The `response_format` field of an OpenAI-compatible chat request for JSON actions.
pub(crate) fn response_format() -> Value {
    json!({
        "type": "json_schema",
        "json_schema": { "name": "action", "strict": true, "schema": action_schema() }
    })
}

/// The `tools` field of an OpenAI-compatible chat request for `action_format = "tool_calls"`.
pub(crate) fn tool_spec() -> Value {
    json!([
        {
            "type": "function",
            "function": {
                "name": "shell",
                "description": "Run one shell command in the task's Linux container and see its output.",
                "parameters": {
                    "type": "object",
                    "properties": { "command": { "type": "string", "description": "The shell command to run." } },
                    "required": ["command"],
                    "additionalProperties": false
                }
            }
        },
        {
            "type": "function",
            "function": {
                "name": "done",
                "description": "Declare the task complete.",
                "parameters": { "type": "object", "properties": {}, "additionalProperties": false }
            }
        }
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_fenced_replies() {
        let expected = Action { thought: "t".into(), command: Some("ls".into()), done: false };
        assert_eq!(Action::parse_json(r#"{"thought":"t","command":"ls","done":false}"#), Ok(expected.clone()));
        assert_eq!(
            Action::parse_json("```json\n{\"thought\":\"t\",\"command\":\"ls\",\"done\":false}\n```"),
            Ok(expected)
        );
        let done = Action::parse_json(r#"{"thought":"ok","command":null,"done":true}"#).unwrap();
        assert!(done.done && done.command.is_none());
        let quoted = Action::parse_json(r#"{"thought":"ok","command":" null","done":true}"#).unwrap();
        assert_eq!(quoted.command, None, "the string \"null\" is no command");
        let error = Action::parse_json("I will run ls").unwrap_err();
        assert!(error.0.contains("Reply with exactly one JSON object"), "{error}");
    }

    #[test]
    fn schema_lists_thought_first() {
        let schema = action_schema();
        let keys: Vec<_> = schema["properties"].as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, ["thought", "command", "done"]);
    }
}
