//! One trial folder of a Harbor job, read as untrusted input: what Harbor recorded about
//! how it ended, at fixed paths only.
//!
//! ```text
//! <trial>/result.json            task_name, agent_result (tokens, cost), finished_at,
//!                                verifier_result.rewards.reward, exception_info
//! <trial>/verifier/reward.txt    the reward (or reward.json), when result.json lacks it
//! <trial>/agent/                 the agent's log folder (ours: trace.jsonl, trajectory.json)
//! ```
//!
//! Both readers of Harbor jobs use it: mining other agents' runs and the Harbor backend
//! reading our own episodes back. A path that leads outside the job (a link) is refused,
//! files over 256 MiB are refused, malformed JSON is an error naming file, line and column.

use std::path::Path;

use serde_json::Value;

use crate::trace::atif;
use crate::trace::{EpisodeErrorKind, Outcome};

/// Files larger than this are refused rather than read (a trajectory is a few MB at most).
const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// What Harbor recorded about one trial.
#[derive(Debug, Clone)]
pub struct TrialResult {
    /// The task's name (`task_name`, else the folder's `<task>__<suffix>`).
    pub task: String,
    /// The reward and the error class Harbor's exception maps to; tokens and cost as the
    /// agent reported them (turns and duration unknown: 0).
    pub outcome: Outcome,
    /// Whether `result.json` was there (Harbor writes it when the trial ends).
    pub finished: bool,
}

/// Reads what Harbor recorded about the trial folder `dir` of the job `job`.
pub fn read_trial(job: &Path, dir: &Path) -> Result<TrialResult, Vec<String>> {
    let result_path = dir.join("result.json");
    let result = read_json(job, &result_path).map_err(|e| vec![e])?;
    let finished = result.is_some();
    let result = result.unwrap_or(Value::Null);

    let exception = result.get("exception_info").filter(|e| !e.is_null());
    let exception_type = exception.and_then(|e| e.get("exception_type")).and_then(Value::as_str);
    let reward = match result.pointer("/verifier_result/rewards/reward").and_then(Value::as_f64) {
        Some(reward) => Some(reward),
        None => reward_from_files(job, dir).map_err(|e| vec![e])?,
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
        judgement: None,
        error_class,
        error_detail,
        turns: 0,
        tokens_in: count("n_input_tokens"),
        tokens_out: count("n_output_tokens"),
        cost_usd: result.pointer("/agent_result/cost_usd").and_then(Value::as_f64).unwrap_or(0.0),
        duration_ms: 0,
        verify_ms: None,
        limits: None,
        finished_at: result.get("finished_at").and_then(Value::as_str).unwrap_or_default().to_string(),
    };
    let name = dir.file_name().unwrap_or_default().to_string_lossy();
    // Harbor names a trial `<task>__<suffix>`.
    let task = result
        .get("task_name")
        .and_then(Value::as_str)
        .map(str::to_string)
        .unwrap_or_else(|| name.split("__").next().unwrap_or(&name).to_string());
    Ok(TrialResult { task, outcome, finished })
}

/// The JSON in `path` when it exists; errors name the file (and line and column).
pub fn read_json(job: &Path, path: &Path) -> Result<Option<Value>, String> {
    let Some(text) = read_inside(job, path)? else { return Ok(None) };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| format!("{}:{}:{}: not valid JSON: {e}", path.display(), e.line(), e.column()))
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
    if let Some(value) = read_json(job, &json)? {
        let reward = value.get("reward").and_then(Value::as_f64).or_else(|| value.as_f64());
        return reward.map(Some).ok_or_else(|| format!("{}: no \"reward\" number in it", json.display()));
    }
    Ok(None)
}

/// The text of `path` when it exists; an error naming it when it leads outside `job` (a
/// link, or a link on the way), is too large, or cannot be read.
pub fn read_inside(job: &Path, path: &Path) -> Result<Option<String>, String> {
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
