//! Where a loop stands, read from its ledger alone: what a (re)started loop does next.
//!
//! The loop is a fold over its ledger. Every step appends what it did, and [`next`] reads
//! the entries (and the working harness's version) back into the step that comes after
//! them, so that a loop stopped anywhere — Ctrl-C, a crash, a person asked to review —
//! goes on from the same place, and where that place is can be tested without a container
//! or a model. Inside an iteration each step takes what the ledger holds of it (recorded
//! weaknesses, closed proposal rounds, screenings, decisions), so an iteration resumes from
//! its first step at no cost.

use super::ledger::Entry;
use crate::splits::Split;

/// What the loop does next.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The loop stopped between installing iteration `iteration`'s winner (made of
    /// `proposals`; the working harness is it) and recording that iteration's end: record
    /// them (the `Applied` entry only when `applied` says it is missing), then go on.
    Installed { iteration: u32, proposals: Vec<String>, applied: bool },
    /// The starting harness on the mine split, before the first iteration: what mining
    /// reads. The other splits wait until they are needed (the validate split's sample with
    /// the first validation, the test split before the first edit is installed or at the
    /// end), so that a loop reaches its first proposals after a third of the episodes.
    Baseline,
    /// Iteration `n`, from its first step.
    Iteration(u32),
    /// The final harness on the test split, and the loop's end.
    Final,
    /// Nothing: the loop ended, for this reason, after the iterations asked for.
    Finished(String),
}

/// The step after `entries`, for a loop of `iterations` iterations whose working harness is
/// version `version` now.
pub fn next(entries: &[Entry], version: &str, iterations: u32) -> Next {
    let done = entries
        .iter()
        .filter_map(|e| if let Entry::IterationEnd { iteration, .. } = e { Some(*iteration) } else { None })
        .max()
        .unwrap_or(0);
    let in_flight = done + 1;
    let installed = entries.iter().find_map(|e| match e {
        Entry::Decision { iteration, decision, candidate_version, proposals, .. }
            if decision.accepted && *iteration == in_flight && candidate_version == version =>
        {
            Some(proposals.clone())
        }
        _ => None,
    });
    if let Some(proposals) = installed {
        let applied = entries.iter().any(|e| matches!(e, Entry::Applied { iteration, .. } if *iteration == in_flight));
        return Next::Installed { iteration: in_flight, proposals, applied };
    }
    let evaluated = |split: Split| {
        entries.iter().any(|e| {
            matches!(e, Entry::Evaluation { harness_version, split: s, .. } if harness_version == version && *s == split)
        })
    };
    if done == 0 && !evaluated(Split::Mine) {
        return Next::Baseline;
    }
    if done < iterations {
        return Next::Iteration(in_flight);
    }
    match entries.last() {
        Some(Entry::Finish { reason, .. }) => Next::Finished(reason.clone()),
        _ => Next::Final,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::episodes::{Score, Spend};

    fn evaluation(version: &str, split: Split, iteration: u32) -> Entry {
        Entry::Evaluation {
            at: "t".into(),
            iteration,
            harness_version: version.into(),
            split,
            run: format!("loop-{version}"),
            score: Score::default(),
            spend: Spend::default(),
            episodes: vec![],
        }
    }

    fn baseline(version: &str) -> Vec<Entry> {
        vec![evaluation(version, Split::Mine, 0)]
    }

    fn end(iteration: u32, version: &str) -> Entry {
        Entry::IterationEnd { at: "t".into(), iteration, harness_version: version.into() }
    }

    fn finish(reason: &str) -> Entry {
        Entry::Finish { at: "t".into(), harness_version: "v1".into(), reason: reason.into() }
    }

    /// A decision as the ledger writes it.
    fn decision(iteration: u32, parent: &str, candidate: &str, accepted: bool) -> Entry {
        serde_json::from_value(serde_json::json!({
            "type": "decision", "at": "t", "iteration": iteration, "proposals": [format!("{iteration}-w-1")],
            "parent_version": parent, "candidate_version": candidate, "policy": "paired-tasks(alpha=0.05)",
            "accepted": accepted, "reason": "r", "p_value": 0.01, "p_adjusted": 0.01, "family": 1,
            "parent": {"per_task": {}, "passed": 1, "counted": 12},
            "candidate": {"per_task": {}, "passed": 7, "counted": 12},
            "improved": [], "regressed": [], "predicted_hits": 0, "predicted_total": 0,
            "stopped_early": false, "spend": {"tokens": 0, "cost_usd": 0.0, "container_seconds": 0.0},
            "episodes": []
        }))
        .unwrap()
    }

    #[test]
    fn a_loop_begins_with_its_baseline_and_resumes_a_half_done_one() {
        assert_eq!(next(&[], "v1", 2), Next::Baseline);
        let others = [Split::Validate, Split::Test].map(|s| evaluation("v1", s, 0));
        assert_eq!(next(&others, "v1", 2), Next::Baseline, "the mine split is what mining reads");
        assert_eq!(next(&baseline("v1"), "v1", 2), Next::Iteration(1), "the other splits wait until needed");
        let before = [baseline("v1"), others.to_vec()].concat();
        assert_eq!(next(&before, "v1", 2), Next::Iteration(1), "a ledger with the baseline on every split");
        assert_eq!(next(&baseline("v1"), "v1", 0), Next::Final, "no iterations asked for: baseline, then the end");
    }

    #[test]
    fn iterations_follow_each_other_to_the_final_evaluation_and_a_finished_loop_does_nothing() {
        let mut entries = baseline("v1");
        entries.push(end(1, "v1"));
        assert_eq!(next(&entries, "v1", 2), Next::Iteration(2));
        entries.push(end(2, "v1"));
        assert_eq!(next(&entries, "v1", 2), Next::Final);
        entries.extend([evaluation("v1", Split::Test, 2), finish("2 iteration(s) done")]);
        assert_eq!(next(&entries, "v1", 2), Next::Finished("2 iteration(s) done".into()));
        // Asked for more iterations, a finished loop goes on after its last one.
        assert_eq!(next(&entries, "v1", 3), Next::Iteration(3));
    }

    #[test]
    fn a_loop_that_stopped_for_a_person_resumes_the_same_iteration() {
        let mut entries = baseline("v1");
        entries.push(finish("waiting for a person: 2 proposal(s)"));
        assert_eq!(next(&entries, "v1", 2), Next::Iteration(1));
    }

    #[test]
    fn a_winner_installed_before_a_crash_is_recognised_by_its_version_and_recorded_once() {
        let mut entries = baseline("v1");
        entries.extend([decision(1, "v1", "v2", false), decision(1, "v1", "v3", true)]);
        // The working folder still holds the parent: the iteration goes on (its decisions are kept).
        assert_eq!(next(&entries, "v1", 2), Next::Iteration(1));
        let installed = |applied| Next::Installed { iteration: 1, proposals: vec!["1-w-1".into()], applied };
        assert_eq!(next(&entries, "v3", 2), installed(false));
        entries.push(Entry::Applied {
            at: "t".into(),
            iteration: 1,
            proposals: vec!["1-w-1".into()],
            harness_version: "v3".into(),
            commit: None,
        });
        assert_eq!(next(&entries, "v3", 2), installed(true));
        entries.push(end(1, "v3"));
        assert_eq!(next(&entries, "v3", 2), Next::Iteration(2), "the new version needs no baseline");
        // A rejected candidate's version is not taken for an install.
        let mut rejected = baseline("v1");
        rejected.extend([end(1, "v1"), decision(2, "v1", "v2", false)]);
        assert_eq!(next(&rejected, "v2", 3), Next::Iteration(2));
    }
}
