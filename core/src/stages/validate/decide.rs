//! The decision rule: does a candidate harness beat its parent on tasks it was not mined
//! from?
//!
//! Parent and candidate run the same validate tasks with the same seeds, so each (task,
//! seed) is a *pair*; but the unit of a decision is the *task*, since repeats of one task
//! are not independent (at temperature 0 they are identical). Per task, the candidate's
//! passes minus the parent's over the repeats is one difference. The default policy,
//! [`AcceptanceRule::PairedTasks`], is the exact one-sided sign-flip (permutation) test over those
//! differences, ties dropped — with every difference ±1 it is the sign test over tasks —
//! at level α divided by the number of candidates judged against the same parent sample
//! (Bonferroni: an iteration of the loop accepts a candidate that is no better than its
//! parent with probability at most α), plus a guard against tasks the parent always passed
//! collapsing. `paper` is the published study's two-way rule, for reproduction: the
//! candidate also runs the *held-in* tasks it was mined from, and is accepted when neither
//! split (held-in, held-out) gets worse and one gets better.
//!
//! The parent's outcomes are known before the candidate runs, so the best case of what is
//! still to come is exact — every remaining episode of the candidate passes — and
//! [`Decider::can_still_accept`] lets the caller stop as soon as even that cannot accept:
//! early stopping never changes a decision, it only saves the episodes of a rejection.

use serde::{Deserialize, Serialize};

use crate::episodes::{Score, TaskScore};
use crate::splits::Split;
use crate::stats::sign_flip_p;

/// The acceptance rule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum AcceptanceRule {
    /// The exact one-sided sign-flip test over per-task differences at level α / family,
    /// and no task the parent always passed collapsing.
    PairedTasks { alpha: f64 },
    /// The published study's two-way rule (for reproduction): on the held-in (mine) and
    /// held-out (validate) splits together, no split's pass count falls and one rises.
    Paper,
}

impl AcceptanceRule {
    /// The test's level when not told otherwise.
    pub const DEFAULT_ALPHA: f64 = 0.05;

    /// The splits a validation under this rule runs, the deciding one first: the validate
    /// split, and for the paper's two-way rule the held-in (mine) split too.
    pub fn splits(&self) -> &'static [Split] {
        match self {
            AcceptanceRule::Paper => &[Split::Validate, Split::Mine],
            AcceptanceRule::PairedTasks { .. } => &[Split::Validate],
        }
    }
}

impl Default for AcceptanceRule {
    fn default() -> Self {
        AcceptanceRule::PairedTasks { alpha: AcceptanceRule::DEFAULT_ALPHA }
    }
}

impl std::fmt::Display for AcceptanceRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AcceptanceRule::PairedTasks { alpha } => write!(f, "paired-tasks(alpha={alpha})"),
            AcceptanceRule::Paper => write!(f, "paper(two-way: no split worse, one better)"),
        }
    }
}

/// Reads the text [`AcceptanceRule`]'s `Display` writes (how the ledger and `validations.jsonl`
/// keep it), and `sign-test(alpha=…)`, the paired rule's old name.
impl std::str::FromStr for AcceptanceRule {
    type Err = String;

    fn from_str(text: &str) -> Result<AcceptanceRule, String> {
        if text.starts_with("paper") {
            return Ok(AcceptanceRule::Paper);
        }
        let alpha = ["paired-tasks(alpha=", "sign-test(alpha="]
            .iter()
            .find_map(|prefix| text.strip_prefix(prefix)?.strip_suffix(')'))
            .and_then(|alpha| alpha.parse::<f64>().ok())
            .filter(|alpha| *alpha > 0.0 && *alpha < 1.0);
        alpha.map(|alpha| AcceptanceRule::PairedTasks { alpha }).ok_or_else(|| {
            format!("{text:?} is not an acceptance rule (paired-tasks(alpha=…) with 0 < alpha < 1, or paper)")
        })
    }
}

/// An [`AcceptanceRule`] kept as its text (`#[serde(with = "…::policy_text")]`), as the stores have
/// always written it, and read back into the rule.
pub mod policy_text {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::AcceptanceRule;

    pub fn serialize<S: Serializer>(policy: &AcceptanceRule, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(policy)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<AcceptanceRule, D::Error> {
        String::deserialize(deserializer)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One pair as planned: the parent's episode of a (task, seed), which the candidate repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub task: String,
    /// From the split the weakness was mined on (the paper policy's held-in side).
    pub held_in: bool,
    pub parent_passed: bool,
}

/// The candidate's side of a planned pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Not run yet.
    Pending,
    Ran {
        passed: bool,
    },
    /// Its episode does not count (the infrastructure failed): the pair is left out.
    Dropped,
}

/// The decision and its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub accepted: bool,
    pub reason: String,
    /// The test's p-value, unadjusted.
    pub p_value: Option<f64>,
    /// The p-value adjusted for the `family` of candidates judged against the same parent
    /// sample (Bonferroni); acceptance compares this with α.
    #[serde(default)]
    pub p_adjusted: Option<f64>,
    #[serde(default = "one")]
    pub family: u32,
    pub parent: Score,
    pub candidate: Score,
    /// Tasks whose pass count went up, and those whose went down.
    pub improved: Vec<String>,
    pub regressed: Vec<String>,
}

fn one() -> u32 {
    1
}

impl Decision {
    /// The rejection of a candidate that no outcome could get accepted on `tasks` tasks:
    /// even a parent failing every episode and a candidate passing every one would give
    /// `best` (adjusted for `family`) > `alpha`. Nothing needs to run to know it.
    pub fn out_of_reach(tasks: usize, family: usize, best: f64, alpha: f64) -> Decision {
        Decision {
            accepted: false,
            reason: format!(
                "no candidate can be accepted on {tasks} validate task(s): even if the parent failed and the \
                 candidate passed every episode, p would be {best:.4} (×{family} candidate(s)) > {alpha}"
            ),
            p_value: None,
            p_adjusted: Some(best),
            family: family as u32,
            parent: Score::default(),
            candidate: Score::default(),
            improved: Vec::new(),
            regressed: Vec::new(),
        }
    }
}

/// Collects the candidate's outcomes for a plan of pairs and decides.
#[derive(Debug, Clone)]
pub struct Decider {
    policy: AcceptanceRule,
    /// Candidates judged against the same parent sample (at least 1).
    family: usize,
    plan: Vec<Planned>,
    sides: Vec<Side>,
    /// The tasks of the plan, in order, and each pair's index among them.
    tasks: Vec<String>,
    task_of: Vec<usize>,
}

/// One task's pairs so far.
#[derive(Debug, Clone, Copy, Default)]
struct TaskTally {
    compared: u32,
    parent: u32,
    candidate: u32,
}

/// The pairs so far, per task and per side of the paper rule.
struct Tally {
    per_task: Vec<TaskTally>,
    /// (parent passes, candidate passes) on the held-in and held-out pairs.
    held_in: (u32, u32),
    held_out: (u32, u32),
}

impl Decider {
    pub fn new(policy: AcceptanceRule, family: usize, plan: Vec<Planned>) -> Self {
        let mut tasks: Vec<String> = plan.iter().map(|p| p.task.clone()).collect();
        tasks.sort();
        tasks.dedup();
        let task_of = plan.iter().map(|p| tasks.binary_search(&p.task).unwrap_or_default()).collect();
        let sides = vec![Side::Pending; plan.len()];
        Decider { policy, family: family.max(1), plan, sides, tasks, task_of }
    }

    /// The candidate's outcome of pair `index`: `Some(passed)`, or `None` when its episode
    /// does not count.
    pub fn record(&mut self, index: usize, candidate_passed: Option<bool>) {
        if let Some(side) = self.sides.get_mut(index) {
            *side = candidate_passed.map_or(Side::Dropped, |passed| Side::Ran { passed });
        }
    }

    /// The next pairs to run, at most `size`: none once the decision is settled (every pair
    /// is in, or acceptance is out of reach).
    pub fn next_batch(&self, size: usize) -> Vec<usize> {
        if !self.can_still_accept() {
            return Vec::new();
        }
        (0..self.sides.len()).filter(|&i| self.sides[i] == Side::Pending).take(size.max(1)).collect()
    }

    /// Pairs planned but never run (stopped early).
    pub fn pending(&self) -> usize {
        self.sides.iter().filter(|s| **s == Side::Pending).count()
    }

    /// The adjusted p-value of the best case: every remaining episode of the candidate
    /// passing (for the paired test; `None` for the paper rule).
    pub fn best_case_p(&self) -> Option<f64> {
        self.judge(&self.tally(true)).2
    }

    /// False once no outcome of the remaining pairs could lead to acceptance.
    pub fn can_still_accept(&self) -> bool {
        match self.policy {
            // The best case: every remaining episode of the candidate passes.
            AcceptanceRule::PairedTasks { .. } => self.judge(&self.tally(true)).0,
            // Any remaining pair could still lift a split: stop only when the tally is final.
            AcceptanceRule::Paper => self.pending() > 0 || self.judge(&self.tally(false)).0,
        }
    }

    /// The decision on the pairs so far (call when all are in, or after stopping early).
    pub fn decide(&self) -> Decision {
        let tally = self.tally(false);
        let (accepted, reason, p_adjusted, p_value) = self.judge(&tally);
        let mut parent = Score::default();
        let mut candidate = Score::default();
        let (mut improved, mut regressed) = (Vec::new(), Vec::new());
        for (task, t) in self.tasks.iter().zip(&tally.per_task).filter(|(_, t)| t.compared > 0) {
            for (score, passed) in [(&mut parent, t.parent), (&mut candidate, t.candidate)] {
                score.per_task.insert(task.clone(), TaskScore { passed, counted: t.compared });
                score.passed += passed;
                score.counted += t.compared;
            }
            match t.candidate.cmp(&t.parent) {
                std::cmp::Ordering::Greater => improved.push(task.clone()),
                std::cmp::Ordering::Less => regressed.push(task.clone()),
                std::cmp::Ordering::Equal => {}
            }
        }
        let family = self.family as u32;
        Decision { accepted, reason, p_value, p_adjusted, family, parent, candidate, improved, regressed }
    }

    /// The pairs so far, with the pending ones as passed by the candidate when `best_case`
    /// and left out otherwise.
    fn tally(&self, best_case: bool) -> Tally {
        let mut tally =
            Tally { per_task: vec![TaskTally::default(); self.tasks.len()], held_in: (0, 0), held_out: (0, 0) };
        for ((planned, side), &task) in self.plan.iter().zip(&self.sides).zip(&self.task_of) {
            let passed = match side {
                Side::Ran { passed } => *passed,
                Side::Pending if best_case => true,
                _ => continue,
            };
            let t = &mut tally.per_task[task];
            t.compared += 1;
            t.parent += u32::from(planned.parent_passed);
            t.candidate += u32::from(passed);
            let side = if planned.held_in { &mut tally.held_in } else { &mut tally.held_out };
            side.0 += u32::from(planned.parent_passed);
            side.1 += u32::from(passed);
        }
        tally
    }

    /// Accepted or not, why, and the adjusted and raw p-values (the paired test's).
    fn judge(&self, tally: &Tally) -> (bool, String, Option<f64>, Option<f64>) {
        match self.policy {
            AcceptanceRule::PairedTasks { alpha } => {
                let compared = tally.per_task.iter().filter(|t| t.compared > 0);
                let differences: Vec<i64> = compared.map(|t| i64::from(t.candidate) - i64::from(t.parent)).collect();
                let p = sign_flip_p(&differences);
                let adjusted = (p * self.family as f64).min(1.0);
                let count = |f: fn(&i64) -> bool| differences.iter().filter(|d| f(d)).count();
                let (better, worse, tied) = (count(|d| *d > 0), count(|d| *d < 0), count(|d| *d == 0));
                let tasks = if better == 1 { "task" } else { "tasks" };
                let tally_text = format!("{better} {tasks} better, {worse} worse, {tied} tied");
                let level = match self.family {
                    1 => format!("p = {p:.4}"),
                    n => format!("p = {p:.4}, ×{n} candidates = {adjusted:.4}"),
                };
                let (accepted, reason) = if let Some(why) = self.collapsed(tally, alpha) {
                    (false, why)
                } else if adjusted <= alpha {
                    (true, format!("{tally_text}: {level} ≤ {alpha}"))
                } else {
                    (false, format!("{tally_text}: {level} > {alpha}"))
                };
                (accepted, reason, Some(adjusted), Some(p))
            }
            AcceptanceRule::Paper => {
                let ((in_parent, in_candidate), (out_parent, out_candidate)) = (tally.held_in, tally.held_out);
                let sides = format!(
                    "held-in {in_parent} → {in_candidate} passes, held-out {out_parent} → {out_candidate} passes"
                );
                let (accepted, reason) = if in_candidate < in_parent || out_candidate < out_parent {
                    (false, format!("a split got worse: {sides}"))
                } else if in_candidate == in_parent && out_candidate == out_parent {
                    (false, format!("no split got better: {sides}"))
                } else {
                    (true, format!("no split worse, one better: {sides}"))
                };
                (accepted, reason, None, None)
            }
        }
    }

    /// Why the candidate is rejected whatever the test says, if it is: it collapses more of
    /// the tasks the parent always passed than chance explains. A task *collapses* when the
    /// parent passed all of its n pairs and the candidate none. Were the candidate no
    /// different from the parent, a task with n passes in all (of its 2n episodes) would
    /// have them all on the parent's side with chance 1/C(2n, n) — ½ at one repeat, ⅙ at
    /// two, 1/20 at three — independently of the other tasks; the guard rejects when that
    /// many collapses or more have a chance of at most α. At one repeat a collapse is a
    /// lost task, so the guard says "significantly worse"; with more repeats it catches a
    /// task the parent relied on falling to nothing, which a net gain elsewhere could hide.
    fn collapsed(&self, tally: &Tally, alpha: f64) -> Option<String> {
        let mut chances = Vec::new();
        let mut collapsed = Vec::new();
        for (task, t) in self.tasks.iter().zip(&tally.per_task) {
            if t.compared == 0 || t.parent + t.candidate != t.compared {
                continue;
            }
            chances.push(1.0 / binomial(2 * t.compared, t.compared));
            if t.parent == t.compared {
                collapsed.push(task);
            }
        }
        if collapsed.is_empty() {
            return None;
        }
        let p = at_least(&chances, collapsed.len());
        (p <= alpha).then(|| {
            format!(
                "{collapsed:?} went from always passing to never passing, more than chance explains (p = {p:.4} ≤ {alpha})"
            )
        })
    }
}

/// C(n, k) as a float.
fn binomial(n: u32, k: u32) -> f64 {
    (0..k).fold(1.0, |c, i| c * f64::from(n - i) / f64::from(i + 1))
}

/// The chance that at least `k` of independent events with chances `chances` happen.
fn at_least(chances: &[f64], k: usize) -> f64 {
    // exactly[j]: the chance that exactly j of the events so far happened.
    let mut exactly = vec![0.0; chances.len() + 1];
    exactly[0] = 1.0;
    for (n, c) in chances.iter().enumerate() {
        for j in (0..=n + 1).rev() {
            exactly[j] = exactly[j] * (1.0 - c) + if j > 0 { exactly[j - 1] * c } else { 0.0 };
        }
    }
    exactly[k.min(exactly.len())..].iter().sum::<f64>().min(1.0)
}

/// The smallest p-value, adjusted for `family` candidates, that any candidate could reach
/// against a parent whose passes per task (of `repeats` each) are `parent_passes`: every
/// task it did not always pass becomes always passed. Above α, no candidate can be
/// accepted, whatever it does.
pub fn smallest_reachable_p(parent_passes: &[u32], repeats: u32, family: usize) -> f64 {
    let gains: Vec<i64> = parent_passes.iter().map(|&p| i64::from(repeats.saturating_sub(p))).collect();
    (sign_flip_p(&gains) * family.max(1) as f64).min(1.0)
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_policy_reads_back_what_it_writes_and_refuses_other_text() {
        for policy in [AcceptanceRule::default(), AcceptanceRule::PairedTasks { alpha: 0.01 }, AcceptanceRule::Paper] {
            assert_eq!(policy.to_string().parse::<AcceptanceRule>(), Ok(policy));
        }
        assert_eq!("sign-test(alpha=0.1)".parse::<AcceptanceRule>(), Ok(AcceptanceRule::PairedTasks { alpha: 0.1 }));
        for bad in ["", "paired-tasks(alpha=2)", "paired-tasks(alpha=x)", "majority"] {
            let error = bad.parse::<AcceptanceRule>().unwrap_err();
            assert!(error.contains("not an acceptance rule"), "{error}");
        }
    }

    use super::*;

    /// A decider over `pairs` (task, parent passed, candidate passed), all recorded.
    fn decided(policy: AcceptanceRule, family: usize, pairs: &[(&str, bool, bool)]) -> Decider {
        let plan = pairs.iter().map(|(t, p, _)| Planned { task: t.to_string(), held_in: false, parent_passed: *p });
        let mut d = Decider::new(policy, family, plan.collect());
        for (i, (_, _, c)) in pairs.iter().enumerate() {
            d.record(i, Some(*c));
        }
        d
    }

    #[test]
    fn the_unit_is_the_task_not_the_repeat() {
        // Two tasks flip on both repeats: 4 pair wins, but 2 task wins: p = 1/4.
        let pairs = [("a", false, true), ("a", false, true), ("b", false, true), ("b", false, true)];
        let v = decided(AcceptanceRule::PairedTasks { alpha: 0.1 }, 1, &pairs).decide();
        assert!(!v.accepted, "{}", v.reason);
        assert_eq!(v.p_value, Some(0.25));
        assert_eq!(v.improved, ["a", "b"]);
        // Five tasks flip: p = 1/32 ≤ 0.05.
        let five: Vec<(&str, bool, bool)> = ["a", "b", "c", "d", "e"].iter().map(|t| (*t, false, true)).collect();
        let v = decided(AcceptanceRule::default(), 1, &five).decide();
        assert!(v.accepted, "{}", v.reason);
        assert!(v.reason.starts_with("5 tasks better, 0 worse, 0 tied: p = 0.0312 ≤ 0.05"), "{}", v.reason);
        // … unless it is one of seven candidates judged against the same parent sample.
        let v = decided(AcceptanceRule::default(), 7, &five).decide();
        assert!(!v.accepted && v.p_adjusted == Some(7.0 / 32.0), "{}", v.reason);
        assert!(v.reason.contains("×7 candidates = 0.2188 > 0.05"), "{}", v.reason);
    }

    #[test]
    fn the_collapse_guard_rejects_collapses_that_chance_does_not_explain() {
        let lenient = AcceptanceRule::PairedTasks { alpha: 0.5 };
        let wins = |n: usize| -> Vec<(String, bool, bool)> {
            (0..n).flat_map(|t| [(format!("w{t}"), false, true), (format!("w{t}"), false, true)]).collect()
        };
        fn with(pairs: &[(String, bool, bool)]) -> Vec<(&str, bool, bool)> {
            pairs.iter().map(|(t, p, c)| (t.as_str(), *p, *c)).collect()
        }
        // Seven tasks won at two repeats, one solid task lost at both: one collapse among
        // the eight tasks with two passes in all (chance ⅙ each): p = 1 − (⅚)⁸ = 0.77.
        let mut pairs = wins(7);
        pairs.extend([("solid".to_string(), true, false), ("solid".to_string(), true, false)]);
        let v = decided(lenient, 1, &with(&pairs)).decide();
        assert!(v.accepted, "{}", v.reason);
        // Three solid tasks collapse beside one win: p = P(≥3 of 4 at ⅙) = 0.016.
        let mut pairs = wins(1);
        for t in ["s1", "s2", "s3"] {
            pairs.extend([(t.to_string(), true, false), (t.to_string(), true, false)]);
        }
        let v = decided(AcceptanceRule::PairedTasks { alpha: 0.05 }, 1, &with(&pairs)).decide();
        assert!(!v.accepted && v.reason.contains("more than chance explains"), "{}", v.reason);
        // At one repeat a collapse is a loss: eight losses of eight is significantly worse.
        let losses: Vec<(String, bool, bool)> = (0..8).map(|t| (format!("l{t}"), true, false)).collect();
        let v = decided(lenient, 1, &with(&losses)).decide();
        assert!(v.reason.contains("more than chance explains (p = 0.0039"), "{}", v.reason);
        assert!((at_least(&[0.5; 8], 8) - 1.0 / 256.0).abs() < 1e-12);
        assert!((binomial(6, 3) - 20.0).abs() < 1e-12);
    }

    #[test]
    fn early_stopping_sees_the_exact_best_case_and_never_changes_the_decision() {
        let plan = |parents: &[bool]| -> Vec<Planned> {
            parents
                .iter()
                .enumerate()
                .map(|(i, p)| Planned { task: format!("t{i}"), held_in: false, parent_passed: *p })
                .collect()
        };
        // Five tasks the parent failed: one loss-free tie already rules out p ≤ 0.05 (best 1/16).
        let mut d = Decider::new(AcceptanceRule::default(), 1, plan(&[false; 5]));
        assert!(d.can_still_accept());
        d.record(0, Some(false));
        assert!(!d.can_still_accept(), "four flips at best: p = 1/16");
        // A task the parent passed cannot be won: its tie is already in the best case.
        let mut d = Decider::new(AcceptanceRule::default(), 1, plan(&[true, false, false, false, false, false]));
        d.record(0, Some(true));
        assert!(d.can_still_accept(), "five flips left: p = 1/32");
        // A dropped pair (infrastructure) is left out, not counted against the candidate.
        d.record(1, None);
        assert!(!d.can_still_accept(), "four flips left: p = 1/16");
    }

    #[test]
    fn too_small_a_split_is_known_before_anything_runs() {
        assert_eq!(smallest_reachable_p(&[0; 4], 2, 1), 1.0 / 16.0);
        assert_eq!(smallest_reachable_p(&[0; 5], 2, 1), 1.0 / 32.0);
        assert_eq!(smallest_reachable_p(&[0; 5], 2, 7), 7.0 / 32.0);
        // A task the parent always passes cannot improve.
        assert_eq!(smallest_reachable_p(&[2, 0, 0, 0, 0], 2, 1), 1.0 / 16.0);
        // Partly passed tasks gain less: differences 2, 2, 1 → p = 1/8.
        assert_eq!(smallest_reachable_p(&[0, 0, 1], 2, 1), 1.0 / 8.0);
    }

    #[test]
    fn paper_policy_weighs_splits_not_tasks() {
        let plan = |pairs: &[(&str, bool, bool)]| -> Decider {
            let plan = pairs.iter().map(|(t, held_in, p)| Planned {
                task: t.to_string(),
                held_in: *held_in,
                parent_passed: *p,
            });
            Decider::new(AcceptanceRule::Paper, 1, plan.collect())
        };
        let mut d = plan(&[("a", false, false), ("b", false, true), ("m", true, true)]);
        for (i, c) in [true, false, true].into_iter().enumerate() {
            d.record(i, Some(c));
        }
        assert!(!d.decide().accepted, "held-out even, held-in even: {}", d.decide().reason);
        assert!(!d.can_still_accept(), "no pairs left");

        let mut d = plan(&[("a", false, false), ("b", false, true), ("m", true, false)]);
        for (i, c) in [true, false, true].into_iter().enumerate() {
            d.record(i, Some(c));
        }
        let v = d.decide();
        assert!(v.accepted, "held-out even, held-in better: {}", v.reason);
        assert_eq!(v.regressed, ["b"], "per-task flips are still reported");

        let mut d = plan(&[("a", false, false), ("m", true, true)]);
        d.record(0, Some(true));
        d.record(1, Some(false));
        assert!(!d.decide().accepted && !d.can_still_accept(), "held-in worse");
    }
}
