//! A Harbor job folder read as traces, so mining can find the weaknesses of episodes any
//! agent ran under Harbor (Terminus-2, a Harbor run of ours, …) without running them again.
//!
//! Harbor writes one folder per job and in it one folder per trial:
//!
//! ```text
//! JOB_DIR/<trial>/result.json            task_name, agent_info, agent_result (tokens, cost),
//!                                        verifier_result.rewards.reward, exception_info
//! JOB_DIR/<trial>/agent/trajectory.json  the agent's ATIF trajectory (agents that write one)
//! JOB_DIR/<trial>/verifier/reward.txt    the reward (or reward.json), when result.json lacks it
//! ```
//!
//! Each trajectory becomes a trace (`trace::atif::from_atif`) whose outcome is what Harbor
//! recorded: the reward, and the error class its exception maps to. A job folder is
//! untrusted input: only those fixed paths are read, a path that leads outside the folder
//! (a link) is refused, malformed JSON is an error naming the file, and every problem is
//! reported rather than the first.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::trace::atif;
use crate::trace::{EpisodeErrorKind, Outcome, Trace};

/// Files larger than this are refused rather than read (a trajectory is a few MB at most).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

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
    let result_path = dir.join("result.json");
    let trajectory_path = dir.join("agent").join(atif::FILE_NAME);
    let mut problems = Vec::new();
    let mut json = |path: &Path| match read_inside(job, path) {
        Ok(Some(text)) => match serde_json::from_str::<Value>(&text) {
            Ok(value) => Some(value),
            Err(e) => {
                problems.push(format!("{}:{}:{}: not valid JSON: {e}", path.display(), e.line(), e.column()));
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let result = json(&result_path);
    let trajectory = json(&trajectory_path);
    let reward_file = reward_from_files(job, dir);
    if !problems.is_empty() {
        return Err(problems);
    }
    let Some(trajectory) = trajectory else { return Ok(None) };
    let result = result.unwrap_or(Value::Null);

    let exception = result.get("exception_info").filter(|e| !e.is_null());
    let exception_type = exception.and_then(|e| e.get("exception_type")).and_then(Value::as_str);
    let reward = match result.pointer("/verifier_result/rewards/reward").and_then(Value::as_f64) {
        Some(reward) => Some(reward),
        None => reward_file.map_err(|e| vec![e])?,
    };
    let mut error_class = atif::error_class_of_exception(exception_type);
    let mut error_detail = exception.map(|e| {
        let message = e.get("exception_message").and_then(Value::as_str).unwrap_or_default();
        format!("{}: {}", exception_type.unwrap_or("exception"), message.lines().next().unwrap_or_default())
    });
    if reward.is_none() {
        // No verdict on the agent's work, as with our own episodes: re-run, never counted.
        error_class = EpisodeErrorKind::InfrastructureError;
        error_detail.get_or_insert_with(|| "Harbor recorded no reward for this trial".into());
    }
    let count = |key: &str| result.pointer(&format!("/agent_result/{key}")).and_then(Value::as_u64).unwrap_or(0);
    let outcome = Outcome {
        reward,
        passed: reward.is_some_and(|r| r >= 1.0),
        tests: Vec::new(),
        error_class,
        error_detail,
        turns: 0,
        tokens_in: count("n_input_tokens"),
        tokens_out: count("n_output_tokens"),
        cost_usd: result.pointer("/agent_result/cost_usd").and_then(Value::as_f64).unwrap_or(0.0),
        duration_ms: 0,
        finished_at: result.get("finished_at").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    // Harbor names a trial `<task>__<suffix>`.
    let task = result
        .get("task_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| name.split("__").next().unwrap_or(&name).to_string());
    let trace = atif::from_atif(&trajectory, &task, outcome)
        .map_err(|e| vec![format!("{}: not an ATIF trajectory we can read: {e}", trajectory_path.display())])?;
    Ok(Some((trajectory_path, trace)))
}

/// The reward in `verifier/reward.txt` (a number) or `verifier/reward.json` (`{"reward": x}`),
/// `None` when neither exists.
fn reward_from_files(job: &Path, dir: &Path) -> Result<Option<f64>, String> {
    let txt = dir.join("verifier").join("reward.txt");
    if let Some(text) = read_inside(job, &txt)? {
        return text.trim().parse::<f64>().map(Some).map_err(|_| {
            format!("{}: not a number: {:?}", txt.display(), text.trim().chars().take(40).collect::<String>())
        });
    }
    let json = dir.join("verifier").join("reward.json");
    if let Some(text) = read_inside(job, &json)? {
        let value: Value = serde_json::from_str(&text)
            .map_err(|e| format!("{}:{}:{}: not valid JSON: {e}", json.display(), e.line(), e.column()))?;
        let reward = value.get("reward").and_then(Value::as_f64).or_else(|| value.as_f64());
        return reward.map(Some).ok_or_else(|| format!("{}: no \"reward\" number in it", json.display()));
    }
    Ok(None)
}

/// The text of `path` when it exists; an error naming it when it leads outside `job` (a
/// link, or a link on the way), is too large, or cannot be read.
fn read_inside(job: &Path, path: &Path) -> Result<Option<String>, String> {
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("{}: {e}", path.display())),
        Ok(_) => {}
    }
    if !crate::util::lies_inside(path, job) {
        return Err(format!("{}: leads outside {} (a link); not read", path.display(), job.display()));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() {
        return Err(format!("{}: not a file", path.display()));
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!("{}: {} bytes, more than a trial file should hold; not read", path.display(), meta.len()));
    }
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    String::from_utf8(bytes).map(Some).map_err(|_| format!("{}: not UTF-8 text", path.display()))
}
