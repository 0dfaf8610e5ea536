//! Accounting of what model calls cost: tokens, requests, retries and dollars. One
//! [`Usage`] is shared (it is a cheap clone of one counter) by every client of an episode,
//! a stage or the whole loop, so budgets and the report read one number.

use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::types::ChatResponse;

/// Totals at one moment (plain data: print it, store it, add it up).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Chat calls made (successful or not); retries are counted apart.
    pub requests: u64,
    /// Chat calls that ended in an error.
    pub failed_requests: u64,
    /// Extra HTTP attempts after the first one of a call.
    pub retries: u64,
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
    /// Successful calls whose token counts are estimates (the server reported none).
    pub estimated_requests: u64,
    /// US dollars, summed over calls with a known price.
    pub cost_usd: f64,
    /// Successful calls whose model has no known price (not in `cost_usd`).
    pub unpriced_requests: u64,
}

impl UsageTotals {
    pub fn total_tokens(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    /// Adds `other` into `self`.
    pub fn add(&mut self, other: &UsageTotals) {
        self.requests += other.requests;
        self.failed_requests += other.failed_requests;
        self.retries += other.retries;
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
        self.estimated_requests += other.estimated_requests;
        self.cost_usd += other.cost_usd;
        self.unpriced_requests += other.unpriced_requests;
    }
}

/// A thread-safe accumulator. Clones share the same totals.
#[derive(Debug, Clone, Default)]
pub struct Usage(Arc<Mutex<UsageTotals>>);

impl Usage {
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts a successful call.
    pub fn record(&self, response: &ChatResponse) {
        self.update(|t| {
            t.requests += 1;
            t.retries += u64::from(response.retries());
            t.prompt_tokens += response.usage.prompt_tokens;
            t.completion_tokens += response.usage.completion_tokens;
            t.estimated_requests += u64::from(response.usage.estimated);
            match response.cost_usd {
                Some(cost) => t.cost_usd += cost,
                None => t.unpriced_requests += 1,
            }
        });
    }

    /// Counts a failed call that made `retries` retries.
    pub fn record_failure(&self, retries: u32) {
        self.update(|t| {
            t.requests += 1;
            t.failed_requests += 1;
            t.retries += u64::from(retries);
        });
    }

    /// Adds totals counted elsewhere (e.g. a resumed run's).
    pub fn add(&self, totals: &UsageTotals) {
        self.update(|t| t.add(totals));
    }

    pub fn totals(&self) -> UsageTotals {
        *self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn update(&self, f: impl FnOnce(&mut UsageTotals)) {
        f(&mut self.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::llm::types::{FinishReason, TokenUsage};
    use std::time::Duration;

    fn response(prompt: u64, completion: u64, cost: Option<f64>, attempts: u32) -> ChatResponse {
        ChatResponse {
            content: String::new(),
            reasoning: None,
            tool_calls: Vec::new(),
            finish_reason: FinishReason::Stop,
            usage: TokenUsage { prompt_tokens: prompt, completion_tokens: completion, estimated: false },
            cost_usd: cost,
            latency: Duration::ZERO,
            attempts,
            model: "m".into(),
            id: None,
            timings: None,
        }
    }

    #[test]
    fn shared_across_threads() {
        let usage = Usage::new();
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let usage = usage.clone();
                std::thread::spawn(move || {
                    for _ in 0..100 {
                        usage.record(&response(10, 2, Some(0.5), 2));
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().unwrap();
        }
        usage.record(&response(1, 1, None, 1));
        usage.record_failure(3);
        let totals = usage.totals();
        assert_eq!(totals.requests, 402);
        assert_eq!(totals.failed_requests, 1);
        assert_eq!(totals.retries, 403);
        assert_eq!(totals.prompt_tokens, 4001);
        assert_eq!(totals.total_tokens(), 4001 + 801);
        assert_eq!(totals.unpriced_requests, 1);
        assert!((totals.cost_usd - 200.0).abs() < 1e-9);
    }
}
