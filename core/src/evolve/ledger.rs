//! The ledger: `.self-harness/ledger.jsonl`, one line per event of the self-improvement loop,
//! append-only. It is the loop's memory (a restarted loop resumes from it) and the report's
//! only input besides the traces it points to.
//!
//! Lines are appended with one `write` and synced, so a crash leaves at most a torn last
//! line, which [`read`] skips (and reports) and the next append moves aside to
//! `ledger.jsonl.torn` first, so that nothing is glued onto it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::episodes::{Score, Spend};
use crate::splits::Split;
use crate::stages::validate::{policy_text, AcceptanceRule, Decision};

/// A loop stage that calls the model outside episodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Mine,
    Propose,
}

/// One line of the ledger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Entry {
    /// The loop began (or resumed) from this harness with these settings.
    Start {
        at: String,
        harness_dir: PathBuf,
        harness_version: String,
        model: String,
        /// Task names per split.
        splits: BTreeMap<Split, Vec<String>>,
        seed: u64,
        repeats: u32,
        #[serde(with = "policy_text")]
        policy: AcceptanceRule,
        /// The cap on each episode's agent time, in seconds.
        #[serde(default)]
        episode_timeout_secs: Option<u64>,
    },
    /// A harness version evaluated on one split.
    Evaluation {
        at: String,
        iteration: u32,
        harness_version: String,
        split: Split,
        /// The run folder under `.self-harness/runs/` holding the traces.
        run: String,
        score: Score,
        /// What the episodes no earlier entry lists cost (each episode is counted once).
        spend: Spend,
        /// The episodes' traces, relative to the store.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        episodes: Vec<String>,
    },
    /// Weaknesses mined in an iteration (details in `weaknesses.json`).
    Weaknesses {
        at: String,
        iteration: u32,
        /// The harness version whose mine-split traces they come from (empty in ledgers
        /// written before it was recorded).
        #[serde(default)]
        harness_version: String,
        ids: Vec<String>,
        titles: Vec<String>,
        /// The detectors that mined them ([`mine::detectors_in_use`]; empty in ledgers
        /// written before it was recorded): with other detectors, the same traces are
        /// mined again.
        ///
        /// [`mine::detectors_in_use`]: crate::stages::mine::detectors_in_use
        #[serde(default)]
        detectors: String,
    },
    /// What the model cost outside episodes: reading failed traces (`mine`) or proposing
    /// edits (`propose`). A `propose` entry with a `weakness` closes that weakness's round:
    /// written with the round's proposals and discards in one append, so a resumed loop
    /// asks again only for the rounds without one.
    Spent {
        at: String,
        iteration: u32,
        stage: Stage,
        spend: Spend,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        weakness: Option<String>,
    },
    /// A candidate edit (details and diff in `proposals/<iteration>/<id>.json`).
    Proposal {
        at: String,
        iteration: u32,
        id: String,
        weakness: String,
        /// `model`, or an ablation: `generic`, `random`.
        source: String,
        /// The files it changes, comma-separated.
        file: String,
        changed_lines: u32,
        rationale: String,
        expected_fixes: Vec<String>,
        might_break: Vec<String>,
    },
    /// A proposal dropped before validation (does not re-load, over the edit budget,
    /// near-duplicate, model declined), with why.
    Discarded { at: String, iteration: u32, id: String, reason: String },
    /// A proposal run on the mine split with its parent's tasks and seeds there, before
    /// validation: the loop validates only the candidates that gained the most (its
    /// `finalists`), chosen on episodes the validate split's decision does not see, so that
    /// decision judges a family of a few instead of every proposal. On a large split the
    /// candidates are halved in rounds (`evolve::screen`), and one that dropped out ran on
    /// the first `tasks` tasks of the split only.
    Screening {
        at: String,
        iteration: u32,
        proposal: String,
        candidate_version: String,
        /// The tasks of the mine split it ran on, when not all of them.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        tasks: Option<u32>,
        parent: Score,
        candidate: Score,
        /// How many of the proposal's predicted flips (tasks of the mine split) came true, of
        /// how many it predicted there.
        predicted_hits: u32,
        predicted_total: u32,
        /// What the episodes no earlier entry lists cost (each episode is counted once).
        spend: Spend,
        /// The candidate's episodes, relative to the store.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        episodes: Vec<String>,
    },
    /// The verdict of validating a candidate (one proposal, or several combined) against
    /// its parent on the validate split.
    Decision {
        at: String,
        iteration: u32,
        /// The proposal ids this candidate contains.
        proposals: Vec<String>,
        parent_version: String,
        candidate_version: String,
        /// The acceptance rule, kept as `paired-tasks(alpha=0.05)` or `paper(…)`.
        #[serde(with = "policy_text")]
        policy: AcceptanceRule,
        /// The verdict and its numbers, as the validate stage decided them (its record's,
        /// kept flat in the line as it always was).
        #[serde(flatten)]
        decision: Decision,
        /// How many of the proposals' predicted flips came true, of how many predicted.
        predicted_hits: u32,
        predicted_total: u32,
        /// Stopped early because it could no longer be accepted.
        stopped_early: bool,
        /// What the episodes no earlier entry lists cost (each episode is counted once).
        spend: Spend,
        /// The parent's and the candidate's episodes compared, relative to the store.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        episodes: Vec<String>,
    },
    /// Accepted edits became the next harness version.
    Applied {
        at: String,
        iteration: u32,
        proposals: Vec<String>,
        harness_version: String,
        /// The git commit, when the harness folder is in a repository.
        commit: Option<String>,
    },
    /// An iteration finished.
    IterationEnd { at: String, iteration: u32, harness_version: String },
    /// The loop finished (iterations or budget exhausted, or stopped to wait for a person).
    Finish { at: String, harness_version: String, reason: String },
}

impl Entry {
    /// A screening's gain: the candidate's passes on the mine split (or the part it ran on)
    /// minus its parent's there.
    pub fn gain(&self) -> Option<i64> {
        match self {
            Entry::Screening { parent, candidate, .. } => Some(i64::from(candidate.passed) - i64::from(parent.passed)),
            _ => None,
        }
    }

    pub fn iteration(&self) -> Option<u32> {
        match self {
            Entry::Start { .. } | Entry::Finish { .. } => None,
            Entry::Evaluation { iteration, .. }
            | Entry::Weaknesses { iteration, .. }
            | Entry::Spent { iteration, .. }
            | Entry::Proposal { iteration, .. }
            | Entry::Discarded { iteration, .. }
            | Entry::Screening { iteration, .. }
            | Entry::Decision { iteration, .. }
            | Entry::Applied { iteration, .. }
            | Entry::IterationEnd { iteration, .. } => Some(*iteration),
        }
    }

    /// What differs between two `Start` entries in what makes the ledger's episodes and
    /// decisions comparable: "model a (now b)", one item each.
    pub fn start_differences(&self, now: &Entry) -> Vec<String> {
        let (
            Entry::Start { harness_dir, model, splits, seed, repeats, policy, episode_timeout_secs, .. },
            Entry::Start {
                harness_dir: dir_now,
                model: model_now,
                splits: splits_now,
                seed: seed_now,
                repeats: repeats_now,
                policy: policy_now,
                episode_timeout_secs: cap_now,
                ..
            },
        ) = (self, now)
        else {
            return Vec::new();
        };
        let mut differences = Vec::new();
        let mut differ = |what: &str, then: String, now: String| {
            if then != now {
                differences.push(format!("{what} {then} (now {now})"));
            }
        };
        differ("harness", harness_dir.display().to_string(), dir_now.display().to_string());
        differ("model", model.clone(), model_now.clone());
        differ("seed", seed.to_string(), seed_now.to_string());
        differ("repeats", repeats.to_string(), repeats_now.to_string());
        differ("acceptance rule", policy.to_string(), policy_now.to_string());
        let cap = |c: &Option<u64>| c.map_or("none".into(), |s| format!("{s} s"));
        differ("episode time cap", cap(episode_timeout_secs), cap(cap_now));
        if splits != splits_now {
            differences.push("the split of the tasks".into());
        }
        differences
    }

    /// What this entry records as spent (episodes, or model calls of a stage).
    pub fn spend(&self) -> Option<&Spend> {
        match self {
            Entry::Evaluation { spend, .. }
            | Entry::Screening { spend, .. }
            | Entry::Decision { spend, .. }
            | Entry::Spent { spend, .. } => Some(spend),
            _ => None,
        }
    }
}

/// The episodes the entries list: already counted, whatever entry comes next.
pub fn counted_episodes(entries: &[Entry]) -> std::collections::HashSet<&str> {
    entries
        .iter()
        .flat_map(|e| match e {
            Entry::Evaluation { episodes, .. }
            | Entry::Screening { episodes, .. }
            | Entry::Decision { episodes, .. } => episodes.as_slice(),
            _ => &[],
        })
        .map(String::as_str)
        .collect()
}

/// Everything a ledger records as spent.
pub fn total_spend(entries: &[Entry]) -> Spend {
    let mut total = Spend::default();
    for spend in entries.iter().filter_map(Entry::spend) {
        total.add(spend);
    }
    total
}

/// Appends entries in one write, synced: all of them are recorded, or (killed) none.
pub fn append(path: &Path, entries: &[Entry]) -> std::io::Result<()> {
    crate::util::append_json_lines(path, entries)
}

/// The entries of a ledger (none when it does not exist yet). A torn last line is skipped
/// and counted in `torn`; any other bad line is an error naming the line.
pub fn read(path: &Path) -> Result<Ledger, String> {
    let (entries, torn) = crate::util::read_json_lines(path)?;
    Ok(Ledger { entries, torn })
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub entries: Vec<Entry>,
    /// The last line was cut off by a crash and skipped.
    pub torn: bool,
}

#[cfg(test)]
mod tests {
    use std::fs::OpenOptions;
    use std::io::Write;

    use super::*;

    #[test]
    fn entries_round_trip_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.jsonl");
        assert_eq!(read(&path).unwrap(), Ledger::default());
        let entry = Entry::IterationEnd { at: "t".into(), iteration: 1, harness_version: "abc".into() };
        append(&path, std::slice::from_ref(&entry)).unwrap();
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(b"{\"type\":\"decis").unwrap();
        let ledger = read(&path).unwrap();
        assert_eq!(ledger.entries, vec![entry.clone()]);
        assert!(ledger.torn);

        // The next append moves the torn line aside first instead of gluing onto it.
        let next = Entry::IterationEnd { at: "u".into(), iteration: 2, harness_version: "def".into() };
        append(&path, std::slice::from_ref(&next)).unwrap();
        let ledger = read(&path).unwrap();
        assert_eq!((ledger.entries, ledger.torn), (vec![entry, next], false));
        let aside = std::fs::read_to_string(dir.path().join("ledger.jsonl.torn")).unwrap();
        assert_eq!(aside, "{\"type\":\"decis\n", "the torn line is kept, not lost");
        assert_eq!(crate::util::repair_torn_tail(&path).unwrap(), None, "a whole file is left alone");
    }
}
