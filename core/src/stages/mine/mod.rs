//! The mine stage: what goes wrong, as [`Weakness`]es of a harness, from its traces on the
//! mine split. Two readers are merged: the deterministic `detectors` (pure functions of one
//! trace, aggregated by `summary` with exact support and evidence) and the model's
//! `reading` of condensed failed traces (judgement in its own words, clustered by mechanism). Each weakness
//! is located on its `harness.toml` line and carries the tasks that must keep passing.
//!
//! [`mine`] is the stage's one entry (run or reuse the mine split, then read it); the
//! latest result is the store's `weaknesses.json` ([`saved`]), which the editor shows and
//! `propose` reads. [`from_harbor`] mines the trials of a Harbor job instead (`harbor`:
//! any agent's ATIF trajectories read as traces), with the same detectors and reading.

mod detectors;
mod harbor;
mod reading;
mod summary;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use detectors::{
    detect_all, detector, detectors_in_use, interactive_program, Criticality, Detector, DetectorId, Finding, DETECTORS,
};
pub use harbor::{read_job, HarborJob};
pub use reading::{condense, read_failures, same_mechanism, KNOWN_MECHANISMS};
pub use summary::{summarize, DetectorWeakness, Evidence, Summary, Support};

use super::Context;
use crate::episodes::{Episode, Spend};
use crate::harness::{locate_surface, Harness, MANIFEST_FILE};
use crate::llm::Client;
use crate::splits::Split;
use crate::store::Store;
use crate::task::Task;
use crate::trace::Trace;

/// A mined weakness: what goes wrong, how often, where it shows and where in the harness
/// it is addressed. Written to `weaknesses.json`, the ledger, and read by the editor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Weakness {
    pub id: String,
    pub title: String,
    pub description: String,
    /// `high`, `medium` or `low`.
    pub criticality: String,
    /// "k of n failed traces", for people.
    pub support: String,
    /// The numbers behind `support`.
    #[serde(default)]
    pub counts: Support,
    /// The harness key or file it concerns, e.g. `prompts.system`.
    pub surface: String,
    /// Where `surface` is written in the harness, when it is.
    #[serde(default)]
    pub location: Option<Location>,
    /// The turns that show it.
    pub evidence: Vec<Evidence>,
    /// Tasks whose failed traces show it.
    pub tasks: Vec<String>,
    /// Tasks that passed in every counted episode: an edit must not break them.
    #[serde(default)]
    pub keep_passing: Vec<String>,
    /// The harness folder it was mined from (absolute).
    #[serde(default)]
    pub harness: Option<PathBuf>,
}

/// A line of a harness file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    /// Relative to the harness folder.
    pub file: String,
    /// 1-based.
    pub line: u32,
}

/// What one mining found, and from which episodes.
#[derive(Debug, Clone)]
pub struct Mining {
    /// The mine split's episodes of the harness.
    pub episodes: Vec<Episode>,
    /// Best supported first.
    pub weaknesses: Vec<Weakness>,
    /// What the model's reading cost (the episodes' cost is in their outcomes).
    pub spend: Spend,
}

/// Runs (or reuses) `harness` on the mine split and mines its traces; the weaknesses
/// become the store's latest.
pub async fn mine(ctx: &Context<'_>, harness: &Harness) -> std::io::Result<Mining> {
    let episodes = ctx.run_split(harness, Split::Mine).await?;
    let (weaknesses, spend) = weaknesses(ctx, harness, &episodes).await?;
    Ok(Mining { episodes, weaknesses, spend })
}

/// The weaknesses that `episodes` of `harness` show, saved as the store's latest, and what
/// the model's reading cost.
pub async fn weaknesses(
    ctx: &Context<'_>,
    harness: &Harness,
    episodes: &[Episode],
) -> std::io::Result<(Vec<Weakness>, Spend)> {
    let traces: Vec<(PathBuf, Trace)> =
        episodes.iter().filter_map(|e| crate::trace::read(&e.trace).ok().map(|t| (e.trace.clone(), t))).collect();
    let failed = episodes.iter().filter(|e| e.counts() && !e.outcome.passed).count();
    (ctx.say)(&format!("reading {failed} failed trace(s)"));
    let before = ctx.proposer_model.usage().totals();
    let found = read(ctx.proposer_model, harness, &traces, ctx.tasks, ctx.seed).await;
    let spend = super::spend_since(ctx.proposer_model, &before);
    save(ctx.store(), &found)?;
    Ok((found, spend))
}

/// The latest mining's weaknesses (none before the first).
pub fn saved(store: &Store) -> Result<Vec<Weakness>, String> {
    crate::store::read_json_list(&store.weaknesses_path())
}

/// Makes `weaknesses` the store's latest.
pub fn save(store: &Store, weaknesses: &[Weakness]) -> std::io::Result<()> {
    crate::store::write_json(&store.weaknesses_path(), &weaknesses)
}

/// Detector findings and the model's reading of `traces`, each located in the harness and
/// given the tasks that must keep passing; best supported first.
async fn read(
    client: &Client,
    harness: &Harness,
    traces: &[(PathBuf, Trace)],
    tasks: &[Task],
    seed: u64,
) -> Vec<Weakness> {
    let mut found: Vec<Weakness> = summarize(traces).into_iter().map(Weakness::from).collect();
    found.extend(reading::read_failures(client, traces, tasks, seed).await);
    place(found, Some(harness), traces)
}

/// What mining a Harbor job found.
#[derive(Debug)]
pub struct HarborMining {
    /// The trials read, and those left out.
    pub job: HarborJob,
    /// Best supported first.
    pub weaknesses: Vec<Weakness>,
}

/// The weaknesses of the trials of the Harbor job folder `job_dir`, whatever agent ran
/// them: the detectors on every trial, and the model's reading of the failed ones when
/// `reader` is given (as [`mine`] does; the instruction is whatever the trajectory shows).
/// Located in `harness` when one is given (the harness to improve from what other agents
/// got wrong); not saved, so that mining a foreign job never replaces the store's latest
/// unasked. Every problem with the folder comes back at once, each naming its file.
pub async fn from_harbor(
    job_dir: &Path,
    harness: Option<&Harness>,
    reader: Option<&Client>,
    seed: u64,
) -> Result<HarborMining, Vec<String>> {
    let job = read_job(job_dir)?;
    let mut found: Vec<Weakness> = summarize(&job.trials).into_iter().map(Weakness::from).collect();
    if let Some(client) = reader {
        found.extend(reading::read_failures(client, &job.trials, &[], seed).await);
    }
    let weaknesses = place(found, harness, &job.trials);
    Ok(HarborMining { job, weaknesses })
}

/// `found` located in `harness` (when known) and given the tasks that must keep passing;
/// best supported first.
fn place(mut found: Vec<Weakness>, harness: Option<&Harness>, traces: &[(PathBuf, Trace)]) -> Vec<Weakness> {
    let manifest_text =
        harness.and_then(|h| std::fs::read_to_string(h.dir().join(MANIFEST_FILE)).ok()).unwrap_or_default();
    let keep_passing = always_passing(traces);
    let harness_dir = harness.map(|h| h.dir().canonicalize().unwrap_or_else(|_| h.dir().to_path_buf()));
    for weakness in &mut found {
        weakness.harness = harness_dir.clone();
        weakness.location = locate_surface(&manifest_text, &weakness.surface)
            .filter(|_| harness.is_some())
            .map(|line| Location { file: MANIFEST_FILE.to_string(), line: line + 1 });
        weakness.keep_passing = keep_passing.clone();
    }
    // Best supported first; the loop addresses the first few.
    // On equal support, a detector's finding (exact evidence) before the model's reading.
    found.sort_by(|a, b| {
        b.counts
            .failed_with
            .cmp(&a.counts.failed_with)
            .then(a.id.starts_with("model-").cmp(&b.id.starts_with("model-")))
            .then(a.id.cmp(&b.id))
    });
    found
}

/// Tasks that passed in every counted trace (and have at least one).
fn always_passing(traces: &[(PathBuf, Trace)]) -> Vec<String> {
    let mut by_task: BTreeMap<&str, bool> = BTreeMap::new();
    for (_, trace) in traces {
        let Some(outcome) = trace.outcome.as_ref().filter(|o| o.error_class.counts()) else { continue };
        *by_task.entry(&trace.header.task).or_insert(true) &= outcome.passed;
    }
    by_task.into_iter().filter(|(_, always)| *always).map(|(task, _)| task.to_string()).collect()
}

impl From<DetectorWeakness> for Weakness {
    fn from(w: DetectorWeakness) -> Weakness {
        Weakness {
            id: w.id.to_string(),
            title: w.title.to_string(),
            description: w.description.to_string(),
            criticality: format!("{:?}", w.criticality).to_lowercase(),
            support: format!(
                "{} of {} failed traces (and {} of {} passing)",
                w.support.failed_with, w.support.failed_total, w.support.passed_with, w.support.passed_total
            ),
            counts: w.support,
            surface: w.surface.to_string(),
            location: None,
            evidence: w.evidence,
            tasks: w.tasks,
            keep_passing: Vec::new(),
            harness: None,
        }
    }
}
