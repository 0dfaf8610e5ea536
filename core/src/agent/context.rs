//! Keeping the conversation within the harness's context budget.
//!
//! Tokens are estimated (4 characters a token, the usual rule for English and code);
//! what happens when the budget is exceeded is the harness's `on_context_overflow`.

use crate::harness::{ContextOverflow, Policy};
use crate::llm::Message;

/// Leading messages never dropped: the system prompt and the task instruction.
const PINNED: usize = 2;
/// How much of an old observation `truncate_outputs` keeps.
const KEEP_OF_OLD_OUTPUT: usize = 512;

pub fn estimate_tokens(messages: &[Message]) -> u64 {
    messages.iter().map(|m| (m.content.len() as u64).div_ceil(4) + 4).sum()
}

/// Makes `messages` fit the budget as the policy says, or explains why it cannot.
pub fn fit(messages: &mut Vec<Message>, policy: &Policy) -> Result<(), String> {
    let budget = u64::from(policy.context_budget_tokens);
    let over = |messages: &[Message]| estimate_tokens(messages) > budget;
    if !over(messages) {
        return Ok(());
    }
    match policy.on_context_overflow {
        ContextOverflow::Fail => {}
        ContextOverflow::DropOldestTurns => {
            // Drop whole exchanges (assistant reply + observation), oldest first, keeping
            // the latest exchange so the model still sees where it is.
            while over(messages) && messages.len() > PINNED + 2 {
                messages.drain(PINNED..PINNED + 2);
            }
        }
        ContextOverflow::TruncateOutputs => {
            let last = messages.len().saturating_sub(1);
            for message in messages.iter_mut().take(last).skip(PINNED) {
                if message.content.len() > KEEP_OF_OLD_OUTPUT {
                    let mut cut = KEEP_OF_OLD_OUTPUT;
                    while !message.content.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    message.content =
                        format!("{}\n[... older output removed to fit the context ...]", &message.content[..cut]);
                }
            }
        }
    }
    if over(messages) {
        return Err(format!(
            "the conversation needs about {} tokens, over the harness's context budget of {budget} (on_context_overflow = {:?})",
            estimate_tokens(messages),
            policy.on_context_overflow
        ));
    }
    Ok(())
}
