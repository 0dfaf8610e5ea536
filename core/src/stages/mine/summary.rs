//! The detectors' findings aggregated over many traces into weaknesses with their support
//! (k of n failed traces, and how many passing traces show it too), evidence (trace and
//! turn) and the harness surface they concern.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::detectors::{detect_all, detector, Criticality, DetectorId};
use crate::trace::Trace;

/// Most evidence items kept per weakness.
const MAX_EVIDENCE: usize = 10;

/// How many traces show a weakness.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Support {
    pub failed_with: u32,
    pub failed_total: u32,
    pub passed_with: u32,
    pub passed_total: u32,
}

/// Where a weakness shows.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Evidence {
    pub trace: PathBuf,
    pub turn: Option<u32>,
    pub detail: String,
}

impl std::fmt::Display for Evidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.turn {
            Some(turn) => write!(f, "{} turn {turn}: {}", self.trace.display(), self.detail),
            None => write!(f, "{}: {}", self.trace.display(), self.detail),
        }
    }
}

/// A detector that fired on at least one failed trace.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DetectorWeakness {
    pub id: DetectorId,
    pub title: &'static str,
    pub description: &'static str,
    pub criticality: Criticality,
    pub surface: &'static str,
    pub support: Support,
    pub evidence: Vec<Evidence>,
    /// Tasks whose failed traces show it.
    pub tasks: Vec<String>,
}

/// Runs every detector over the finished, counted traces and aggregates per detector,
/// best supported first.
pub fn summarize(traces: &[(PathBuf, Trace)]) -> Vec<DetectorWeakness> {
    let mut summary = Summary::default();
    for (path, trace) in traces {
        summary.add(path, trace);
    }
    summary.finish()
}

/// The aggregation, one trace at a time, so that large stores need not be held in memory.
#[derive(Debug, Default)]
pub struct Summary {
    failed_total: u32,
    passed_total: u32,
    by: BTreeMap<DetectorId, DetectorWeakness>,
}

impl Summary {
    pub fn add(&mut self, path: &std::path::Path, trace: &Trace) {
        let Some(outcome) = trace.outcome.as_ref().filter(|o| o.error_class.counts()) else { return };
        if outcome.passed {
            self.passed_total += 1;
        } else {
            self.failed_total += 1;
        }
        let findings = detect_all(trace);
        let mut fired: Vec<DetectorId> = findings.iter().map(|f| f.detector).collect();
        fired.sort();
        fired.dedup();
        for id in fired {
            let d = detector(id);
            let entry = self.by.entry(id).or_insert_with(|| DetectorWeakness {
                id,
                title: d.title,
                description: d.description,
                criticality: d.criticality,
                surface: d.surface,
                support: Support::default(),
                evidence: Vec::new(),
                tasks: Vec::new(),
            });
            if outcome.passed {
                entry.support.passed_with += 1;
                continue;
            }
            entry.support.failed_with += 1;
            if !entry.tasks.contains(&trace.header.task) {
                entry.tasks.push(trace.header.task.clone());
            }
            for finding in findings.iter().filter(|f| f.detector == id) {
                if entry.evidence.len() < MAX_EVIDENCE {
                    entry.evidence.push(Evidence {
                        trace: path.to_path_buf(),
                        turn: finding.turn,
                        detail: finding.detail.clone(),
                    });
                }
            }
        }
    }

    pub fn finish(self) -> Vec<DetectorWeakness> {
        let (failed_total, passed_total) = (self.failed_total, self.passed_total);
        let mut out: Vec<DetectorWeakness> = self
            .by
            .into_values()
            .filter(|w| w.support.failed_with > 0)
            .map(|mut w| {
                w.support.failed_total = failed_total;
                w.support.passed_total = passed_total;
                w
            })
            .collect();
        out.sort_by(|a, b| b.support.failed_with.cmp(&a.support.failed_with).then(a.id.cmp(&b.id)));
        out
    }
}
