//! A Harbor job folder read as traces, so mining can find the weaknesses of episodes any
//! agent ran under Harbor (Terminus-2, a Harbor run of ours, …) without running them again.
//!
//! Harbor writes one folder per job and in it one folder per trial; what Harbor recorded
//! about a trial is read by [`crate::harbor::trial`], and the agent's ATIF trajectory is
//! `JOB_DIR/<trial>/agent/trajectory.json` (agents that write one).
//!
//! Each trajectory becomes a trace (`trace::atif::from_atif`) whose outcome is what Harbor
//! recorded: the reward, and the error class its exception maps to. A job folder is
//! untrusted input: only those fixed paths are read, a path that leads outside the folder
//! (a link) is refused, malformed JSON is an error naming the file, and every problem is
//! reported rather than the first.

use std::path::{Path, PathBuf};

use crate::harbor::trial::{read_json, read_trial};
use crate::trace::atif;
use crate::trace::Trace;

/// The trials of a job that could be mined.
#[derive(Debug, Default)]
pub struct HarborJob {
    /// Each trial's trajectory path and its trace.
    pub trials: Vec<(PathBuf, Trace)>,
    /// Trials left out and why (no trajectory: the agent writes none).
    pub skipped: Vec<String>,
}

/// Reads every trial of the Harbor job folder `job`. Any problem with any trial (malformed
/// JSON, a link out of the folder, a reward that is not a number) fails the whole read,
/// every problem named with its file.
pub fn read_job(job: &Path) -> Result<HarborJob, Vec<String>> {
    let meta = std::fs::metadata(job).map_err(|e| vec![format!("{}: {e}", job.display())])?;
    if !meta.is_dir() {
        return Err(vec![format!("{}: not a folder (a Harbor job folder holds one folder per trial)", job.display())]);
    }
    let entries = std::fs::read_dir(job).map_err(|e| vec![format!("{}: {e}", job.display())])?;
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    dirs.sort();
    let mut found = HarborJob::default();
    let mut problems = Vec::new();
    for dir in dirs {
        let Ok(meta) = std::fs::symlink_metadata(&dir) else { continue };
        if meta.file_type().is_symlink() {
            if !crate::util::lies_inside(&dir, job) {
                problems.push(format!("{}: a link that leads outside {}; not followed", dir.display(), job.display()));
            }
            // A link to a folder inside the job is the same trial twice.
            continue;
        }
        if !meta.is_dir() {
            continue;
        }
        match trial(job, &dir) {
            Ok(Some(read)) => found.trials.push(read),
            Ok(None) => found.skipped.push(format!(
                "{}: no agent/{} (its agent writes no ATIF trajectory)",
                dir.display(),
                atif::FILE_NAME
            )),
            Err(mut errors) => problems.append(&mut errors),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    if found.trials.is_empty() && found.skipped.is_empty() {
        return Err(vec![format!("{}: no trial folders in it; is it a Harbor job folder?", job.display())]);
    }
    Ok(found)
}

/// One trial folder: its trajectory as a trace, `None` when it has no trajectory (or is
/// not a trial folder at all).
fn trial(job: &Path, dir: &Path) -> Result<Option<(PathBuf, Trace)>, Vec<String>> {
    let trajectory_path = dir.join("agent").join(atif::FILE_NAME);
    let (result, trajectory) = (read_trial(job, dir), read_json(job, &trajectory_path));
    let (result, trajectory) = match (result, trajectory) {
        (Ok(result), Ok(trajectory)) => (result, trajectory),
        (result, trajectory) => {
            let mut problems = result.err().unwrap_or_default();
            problems.extend(trajectory.err());
            return Err(problems);
        }
    };
    let Some(trajectory) = trajectory else { return Ok(None) };
    let trace = atif::from_atif(&trajectory, &result.task, result.outcome)
        .map_err(|e| vec![format!("{}: not an ATIF trajectory we can read: {e}", trajectory_path.display())])?;
    Ok(Some((trajectory_path, trace)))
}
