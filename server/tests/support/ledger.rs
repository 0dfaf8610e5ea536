//! What every finished loop's ledger must hold, whatever happened to the loop on the way
//! (the evolve tests' runs and the chaos suite's kills and faults check the same thing).

use std::collections::HashSet;
use std::path::Path;

use self_harness::evolve::ledger::{self, Entry, Stage};

/// The ledger of the project in `cwd`.
pub fn entries(cwd: &Path) -> Vec<Entry> {
    ledger::read(&cwd.join(".self-harness/ledger.jsonl")).unwrap().entries
}

/// A finished loop's ledger is consistent: one start and one finish (last); each harness
/// version evaluated once per split; each candidate decided once; each proposal round
/// recorded once (and every proposal and discard inside one); each episode listed (counted)
/// by one entry only; and each iteration ended once.
pub fn assert_consistent(entries: &[Entry]) {
    assert_eq!(entries.iter().filter(|e| matches!(e, Entry::Start { .. })).count(), 1);
    assert!(matches!(entries.last(), Some(Entry::Finish { .. })), "{:?}", entries.last());
    assert_eq!(entries.iter().filter(|e| matches!(e, Entry::Finish { .. })).count(), 1);
    let (mut evaluated, mut decided, mut rounds, mut ends, mut listed) =
        (HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new(), HashSet::new());
    for e in entries {
        match e {
            Entry::Evaluation { harness_version, split, episodes, .. } => {
                assert!(evaluated.insert((harness_version.clone(), *split)), "evaluated twice: {harness_version}");
                for episode in episodes {
                    assert!(listed.insert(episode.clone()), "episode counted twice: {episode}");
                }
            }
            Entry::Decision { parent_version, candidate_version, episodes, .. } => {
                assert!(decided.insert((parent_version.clone(), candidate_version.clone())), "decided twice");
                for episode in episodes {
                    // A decision lists the parent's episodes an evaluation may have listed;
                    // what it *counts* (spend) is only what no entry listed before.
                    listed.insert(episode.clone());
                }
            }
            Entry::Spent { stage: Stage::Propose, iteration, weakness, .. } => {
                assert!(rounds.insert((*iteration, weakness.clone())), "round recorded twice: {weakness:?}");
            }
            Entry::IterationEnd { iteration, .. } => assert!(ends.insert(*iteration), "iteration ended twice"),
            _ => {}
        }
    }
}
