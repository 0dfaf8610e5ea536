//! The decision rule: does a candidate harness beat its parent on tasks it was not mined
//! from?
//!
//! Parent and candidate run the same validate tasks with the same seeds, so each (task,
//! repeat) is a *pair*. A [`Policy`] turns the pairs into a decision with its numbers:
//! the default is a one-sided exact sign test over the pairs that differ, plus a guard that
//! no task falls from always passing to never passing; `paper` is the published study's
//! two-way rule, for reproduction: the candidate also runs the *held-in* tasks it was mined
//! from, and is accepted when neither split (held-in, held-out) gets worse and one gets
//! better. [`Decider::can_still_accept`]
//! lets the caller stop a candidate as soon as the remaining pairs could not save it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::episodes::{Score, TaskScore};
use crate::stats::sign_test_p;

/// The acceptance rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Policy {
    /// One-sided exact sign test over differing pairs at level `alpha`, and no task from
    /// always passing to never passing.
    PairedSignTest { alpha: f64 },
    /// The published study's two-way rule (for reproduction): on the held-in (mine) and
    /// held-out (validate) splits together, no split's pass count falls and one rises.
    Paper,
}

impl Policy {
    /// The sign test's level when not told otherwise.
    pub const DEFAULT_ALPHA: f64 = 0.1;
}

impl Default for Policy {
    fn default() -> Self {
        Policy::PairedSignTest { alpha: Policy::DEFAULT_ALPHA }
    }
}

impl std::fmt::Display for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Policy::PairedSignTest { alpha } => write!(f, "paired-sign-test(alpha={alpha})"),
            Policy::Paper => write!(f, "paper(two-way: no split worse, one better)"),
        }
    }
}

/// One paired outcome: the same task and seed under parent and candidate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    pub task: String,
    /// From the split the weakness was mined on (the paper policy's held-in side).
    pub held_in: bool,
    pub parent_passed: bool,
    pub candidate_passed: bool,
}

/// The decision and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub accepted: bool,
    pub reason: String,
    pub p_value: Option<f64>,
    pub parent: Score,
    pub candidate: Score,
    pub improved: Vec<String>,
    pub regressed: Vec<String>,
}

/// Accumulates pairs and decides.
#[derive(Debug, Clone)]
pub struct Decider {
    policy: Policy,
    /// How many pairs there will be in all.
    planned: usize,
    pairs: Vec<Pair>,
}

impl Decider {
    pub fn new(policy: Policy, planned: usize) -> Self {
        Decider { policy, planned, pairs: Vec::new() }
    }

    pub fn add(&mut self, pair: Pair) {
        self.pairs.push(pair);
    }

    /// False once no outcome of the remaining pairs could lead to acceptance.
    pub fn can_still_accept(&self) -> bool {
        let remaining = self.planned.saturating_sub(self.pairs.len());
        let (wins, losses) = self.wins_losses();
        match self.policy {
            // Best case: every remaining pair is a win.
            Policy::PairedSignTest { alpha } => sign_test_p(wins + remaining, losses) <= alpha,
            // Any remaining pair could still lift a split: stop only when the tally is final.
            Policy::Paper => remaining > 0 || self.decide().accepted,
        }
    }

    fn wins_losses(&self) -> (usize, usize) {
        let wins = self.pairs.iter().filter(|p| p.candidate_passed && !p.parent_passed).count();
        let losses = self.pairs.iter().filter(|p| p.parent_passed && !p.candidate_passed).count();
        (wins, losses)
    }

    fn scores(&self) -> (Score, Score) {
        let mut parent = Score::default();
        let mut candidate = Score::default();
        for pair in &self.pairs {
            for (score, passed) in [(&mut parent, pair.parent_passed), (&mut candidate, pair.candidate_passed)] {
                let task = score.per_task.entry(pair.task.clone()).or_default();
                task.counted += 1;
                task.passed += u32::from(passed);
                score.counted += 1;
                score.passed += u32::from(passed);
            }
        }
        (parent, candidate)
    }

    /// Passes of (parent, candidate) on the held-in or the held-out side.
    fn split_passes(&self, held_in: bool) -> (usize, usize) {
        let side = self.pairs.iter().filter(|p| p.held_in == held_in);
        side.fold((0, 0), |(p, c), pair| (p + usize::from(pair.parent_passed), c + usize::from(pair.candidate_passed)))
    }

    /// The decision on the pairs so far (call when all are in, or after stopping early).
    pub fn decide(&self) -> Decision {
        let (parent, candidate) = self.scores();
        let (improved, regressed) = flips(&parent.per_task, &candidate.per_task);
        let (wins, losses) = self.wins_losses();
        let (accepted, reason, p_value) = match self.policy {
            Policy::PairedSignTest { alpha } => {
                let p = sign_test_p(wins, losses);
                let collapsed: Vec<&String> = parent
                    .per_task
                    .iter()
                    .filter(|(task, s)| {
                        s.passed == s.counted
                            && s.counted > 0
                            && candidate.per_task.get(*task).is_some_and(|c| c.passed == 0)
                    })
                    .map(|(task, _)| task)
                    .collect();
                if !collapsed.is_empty() {
                    (false, format!("{collapsed:?} went from always passing to never passing"), Some(p))
                } else if p <= alpha {
                    (true, format!("{wins} pairs better, {losses} worse: p = {p:.4} ≤ {alpha}"), Some(p))
                } else {
                    (false, format!("{wins} pairs better, {losses} worse: p = {p:.4} > {alpha}"), Some(p))
                }
            }
            Policy::Paper => {
                let (in_parent, in_candidate) = self.split_passes(true);
                let (out_parent, out_candidate) = self.split_passes(false);
                let tally = format!(
                    "held-in {in_parent} → {in_candidate} passes, held-out {out_parent} → {out_candidate} passes"
                );
                if in_candidate < in_parent || out_candidate < out_parent {
                    (false, format!("a split got worse: {tally}"), None)
                } else if in_candidate == in_parent && out_candidate == out_parent {
                    (false, format!("no split got better: {tally}"), None)
                } else {
                    (true, format!("no split worse, one better: {tally}"), None)
                }
            }
        };
        Decision { accepted, reason, p_value, parent, candidate, improved, regressed }
    }
}

/// Tasks whose pass count went up, and those whose went down.
fn flips(parent: &BTreeMap<String, TaskScore>, candidate: &BTreeMap<String, TaskScore>) -> (Vec<String>, Vec<String>) {
    let mut improved = Vec::new();
    let mut regressed = Vec::new();
    for (task, p) in parent {
        let c = candidate.get(task).copied().unwrap_or_default();
        if c.passed > p.passed {
            improved.push(task.clone());
        } else if c.passed < p.passed {
            regressed.push(task.clone());
        }
    }
    (improved, regressed)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(task: &str, parent: bool, candidate: bool) -> Pair {
        Pair { task: task.into(), held_in: false, parent_passed: parent, candidate_passed: candidate }
    }

    #[test]
    fn sign_test_policy_accepts_clear_wins_and_guards_collapses() {
        let mut d = Decider::new(Policy::default(), 4);
        for t in ["a", "b", "c", "d"] {
            d.add(pair(t, false, true));
        }
        let v = d.decide();
        assert!(v.accepted, "{}", v.reason);
        assert_eq!(v.p_value, Some(0.0625));
        assert_eq!(v.improved.len(), 4);

        let mut d = Decider::new(Policy::PairedSignTest { alpha: 0.5 }, 4);
        d.add(pair("a", true, false));
        for t in ["b", "c", "d"] {
            d.add(pair(t, false, true));
        }
        let v = d.decide();
        assert!(!v.accepted && v.reason.contains("always passing to never passing"), "{}", v.reason);
    }

    #[test]
    fn early_stopping_when_acceptance_is_out_of_reach() {
        let mut d = Decider::new(Policy::default(), 4);
        assert!(d.can_still_accept());
        d.add(pair("a", true, false));
        assert!(!d.can_still_accept(), "one loss of four: even three wins give p = 0.3125");
    }

    #[test]
    fn paper_policy_weighs_splits_not_tasks() {
        let held_in = |task: &str, parent, candidate| Pair { held_in: true, ..pair(task, parent, candidate) };
        let mut d = Decider::new(Policy::Paper, 3);
        d.add(pair("a", false, true));
        d.add(pair("b", true, false));
        d.add(held_in("m", true, true));
        assert!(!d.decide().accepted, "held-out even, held-in even: {}", d.decide().reason);
        assert!(!d.can_still_accept(), "no pairs left");

        let mut d = Decider::new(Policy::Paper, 3);
        d.add(pair("a", false, true));
        d.add(pair("b", true, false));
        d.add(held_in("m", false, true));
        let v = d.decide();
        assert!(v.accepted, "held-out even, held-in better: {}", v.reason);
        assert_eq!(v.regressed, ["b"], "per-task flips are still reported");

        let mut d = Decider::new(Policy::Paper, 2);
        d.add(pair("a", false, true));
        d.add(held_in("m", true, false));
        assert!(!d.decide().accepted && !d.can_still_accept(), "held-in worse");
    }
}
