//! Traces: the complete record of one episode, as JSON Lines.
//!
//! Line 1 is a [`Header`] (task, harness version, model, seed, attempt, start time); then one
//! [`Turn`] per model reply (the reply, the parsed action or the parse error, the command,
//! its exit code, the output *as shown to the model* and its full length, durations and
//! tokens); the last line is the [`Outcome`] (reward, per-test results, error class).
//! Mining, validation, the report and the language server all read traces; the format is
//! documented in `docs/trace-format.md`.
//!
//! Writing is incremental and crash-safe: every line is appended with one `write` into
//! `trace.jsonl.partial`; the outcome line completes the file, which is then
//! renamed to `trace.jsonl`. A crash leaves at most a torn last line in a `.partial` file,
//! which [`read`] tolerates and the store treats as an episode to re-run, never to count.
//!
//! [`atif`] writes traces as Harbor's trajectories and reads those back as traces.

pub mod atif;

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::llm::ServerTimings;
use crate::verify::TestResult;

/// Bumped when a change to the format would mislead an older reader.
pub const SCHEMA_VERSION: u32 = 1;
pub const FILE_NAME: &str = "trace.jsonl";
pub const PARTIAL_SUFFIX: &str = ".partial";

/// One line of a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Header(Header),
    Turn(Box<Turn>),
    Outcome(Outcome),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Header {
    pub schema: u32,
    pub task: String,
    pub harness: String,
    /// The harness version id (content hash).
    pub harness_version: String,
    pub model: String,
    pub seed: u64,
    /// Which try at this episode it is: 0, then 1 and 2 where the infrastructure failed the
    /// ones before (`trial` in traces written before the one name).
    #[serde(alias = "trial")]
    pub attempt: u32,
    /// RFC 3339, UTC.
    pub started_at: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// 0-based.
    pub index: u32,
    /// The model's raw reply text (or a rendering of its tool calls).
    pub reply: String,
    /// The parsed action, when the reply could be parsed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parse_error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandRecord>,
    /// Output of the on-start hook, which the model saw after the instruction (first turn only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_start: Option<CommandRecord>,
    /// Output of the before-completion hook, when it ran this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hook: Option<CommandRecord>,
    /// Output of the after-command hook, when it ran this turn.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_command: Option<CommandRecord>,
    /// Replies not kept because they repeated a command that had failed
    /// (`resample_repeated_failures`) or ran nothing without saying done
    /// (`resample_idle_replies`); `reply` is the one run.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resampled: Vec<String>,
    /// The agent declared the task done this turn.
    #[serde(default)]
    pub done: bool,
    /// Something the harness told the model this turn besides command output (a parse
    /// error message, a truncation or overflow notice).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<String>,
    pub tokens_in: u64,
    pub tokens_out: u64,
    /// Time waiting for the model, in milliseconds (fractional).
    pub model_ms: f64,
    /// What the server said it spent on this turn's replies (llama.cpp's timings: prompt
    /// tokens evaluated and taken from its cache, tokens generated, drafts accepted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<ServerTimings>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub text: String,
    /// `None` when stopped at its timeout.
    pub exit_code: Option<i64>,
    pub timed_out: bool,
    /// What the model was shown (after the harness's truncation).
    pub output_shown: String,
    /// How many bytes the command really printed.
    pub output_bytes: u64,
    /// Milliseconds (fractional), including the round trip to the container.
    pub duration_ms: f64,
}

/// Why an episode ended without a clean verdict on the agent's work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EpisodeErrorKind {
    /// The episode ran to a verdict (pass or fail).
    None,
    /// The agent used up its time.
    AgentTimeout,
    /// The agent used up its turns.
    TurnLimit,
    /// The conversation outgrew the context budget and the policy said stop.
    ContextOverflow,
    /// The model's replies could not be parsed, retries exhausted.
    ParseFailure,
    /// The model refused a request the harness built (an HTTP 4xx) or did not answer it in
    /// time: the harness's failure, counted (the tests still judge the work done).
    ModelError,
    /// Docker, the verifier, the host or the model endpoint (unreachable, a 5xx or 429
    /// after retries, the account) failed: re-run, never counted as the agent's failure.
    InfrastructureError,
}

impl EpisodeErrorKind {
    /// Only infrastructure errors are re-run and left out; every other end is the harness's.
    pub fn counts(self) -> bool {
        self != EpisodeErrorKind::InfrastructureError
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outcome {
    /// `None` when no verdict could be had (infrastructure error).
    pub reward: Option<f64>,
    pub passed: bool,
    #[serde(default)]
    pub tests: Vec<TestResult>,
    /// How the agent compared with the task's reference commands (`judge = "intercode"`),
    /// with InterCode's graded reward.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judgement: Option<crate::verify::reference::Judgement>,
    pub error_class: EpisodeErrorKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_detail: Option<String>,
    pub turns: u32,
    pub tokens_in: u64,
    pub tokens_out: u64,
    pub cost_usd: f64,
    pub duration_ms: u64,
    /// How long the verifier took, of `duration_ms` (a reference-judged task's includes its
    /// fresh containers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify_ms: Option<u64>,
    /// The task's CPU or memory limits the engine could not give, and what it ran with
    /// ("asked 4 CPUs, ran with 2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<String>,
    pub finished_at: String,
}

/// Appends the lines of one episode; see the module docs for the crash guarantees.
pub struct TraceWriter {
    partial: PathBuf,
    file: File,
}

impl TraceWriter {
    /// Starts `dir/trace.jsonl.partial` (replacing a stale one from a crashed attempt) and
    /// writes the header.
    pub fn create(dir: &Path, header: &Header) -> std::io::Result<TraceWriter> {
        let partial = dir.join(format!("{FILE_NAME}{PARTIAL_SUFFIX}"));
        std::fs::create_dir_all(dir).map_err(|e| crate::util::naming(dir, e))?;
        let opened = OpenOptions::new().create(true).write(true).truncate(true).open(&partial);
        let file = opened.map_err(|e| crate::util::naming(&partial, e))?;
        let mut writer = TraceWriter { partial, file };
        writer.append(&Line::Header(header.clone()))?;
        Ok(writer)
    }

    pub fn turn(&mut self, turn: &Turn) -> std::io::Result<()> {
        self.append(&Line::Turn(Box::new(turn.clone())))
    }

    /// Writes the outcome and publishes the trace as `trace.jsonl`. Returns its path.
    pub fn finish(mut self, outcome: &Outcome) -> std::io::Result<PathBuf> {
        self.append(&Line::Outcome(outcome.clone()))?;
        let done = self.partial.with_file_name(FILE_NAME);
        crate::util::crash_point(&format_args!("before publishing {}", done.display()));
        let published = self.file.sync_all().and_then(|()| std::fs::rename(&self.partial, &done));
        published.map_err(|e| crate::util::naming(&self.partial, e))?;
        if let Some(dir) = done.parent() {
            File::open(dir).and_then(|d| d.sync_all()).map_err(|e| crate::util::naming(dir, e))?;
        }
        Ok(done)
    }

    fn append(&mut self, line: &Line) -> std::io::Result<()> {
        let mut bytes = serde_json::to_vec(line)?;
        bytes.push(b'\n');
        // One write per line: a crash of this process can tear only the last line. (The
        // file is synced once, when it is published; syncing every turn would cost the agent
        // milliseconds a turn to guard only against the machine itself failing.)
        self.file.write_all(&bytes).map_err(|e| crate::util::naming(&self.partial, e))
    }
}

/// A trace as read back.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub header: Header,
    pub turns: Vec<Turn>,
    /// `None` for an episode that never finished.
    pub outcome: Option<Outcome>,
    /// The last line was cut off (the writer crashed mid-line); it was skipped.
    pub torn_tail: bool,
}

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{path}:{line}: {message}")]
    Invalid { path: PathBuf, line: usize, message: String },
}

/// Reads a trace, tolerating a torn last line; any other malformed line is an error that
/// names the file and line.
pub fn read(path: &Path) -> Result<Trace, ReadError> {
    let io = |source| ReadError::Io { path: path.to_path_buf(), source };
    let invalid = |line: usize, message: String| ReadError::Invalid { path: path.to_path_buf(), line, message };
    let reader = BufReader::new(File::open(path).map_err(io)?);
    let lines: Vec<String> = reader.lines().collect::<Result<_, _>>().map_err(io)?;
    let mut header = None;
    let mut turns = Vec::new();
    let mut outcome = None;
    let mut torn_tail = false;
    for (i, text) in lines.iter().enumerate() {
        if text.trim().is_empty() {
            continue;
        }
        let parsed: Line = match serde_json::from_str(text) {
            Ok(line) => line,
            Err(_) if i + 1 == lines.len() => {
                torn_tail = true;
                break;
            }
            Err(e) => return Err(invalid(i + 1, e.to_string())),
        };
        match parsed {
            Line::Header(h) if i == 0 => header = Some(h),
            Line::Header(_) => return Err(invalid(i + 1, "a second header".into())),
            Line::Turn(turn) => turns.push(*turn),
            Line::Outcome(o) => outcome = Some(o),
        }
    }
    let header = header.ok_or_else(|| invalid(1, "no header line".into()))?;
    if header.schema > SCHEMA_VERSION {
        return Err(invalid(
            1,
            format!("trace schema {} is newer than this program's {SCHEMA_VERSION}", header.schema),
        ));
    }
    Ok(Trace { header, turns, outcome, torn_tail })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            schema: SCHEMA_VERSION,
            task: "count-lines".into(),
            harness: "minimal".into(),
            harness_version: "abc123".into(),
            model: "qwen".into(),
            seed: 7,
            attempt: 0,
            started_at: "2026-11-23T00:00:00Z".into(),
        }
    }

    fn outcome() -> Outcome {
        Outcome {
            reward: Some(1.0),
            passed: true,
            tests: vec![],
            judgement: None,
            error_class: EpisodeErrorKind::None,
            error_detail: None,
            turns: 1,
            tokens_in: 10,
            tokens_out: 5,
            cost_usd: 0.0,
            duration_ms: 100,
            verify_ms: None,
            limits: None,
            finished_at: "2026-11-23T00:00:01Z".into(),
        }
    }

    #[test]
    fn a_finished_trace_round_trips_and_is_published() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TraceWriter::create(dir.path(), &header()).unwrap();
        let turn = Turn {
            index: 0,
            reply: "{\"command\": \"wc -l data.txt\"}".into(),
            action: Some(serde_json::json!({"command": "wc -l data.txt"})),
            command: Some(CommandRecord {
                text: "wc -l data.txt".into(),
                exit_code: Some(0),
                output_shown: "3 data.txt\n".into(),
                output_bytes: 11,
                ..Default::default()
            }),
            tokens_in: 10,
            tokens_out: 5,
            ..Default::default()
        };
        writer.turn(&turn).unwrap();
        assert!(dir.path().join("trace.jsonl.partial").exists());
        let path = writer.finish(&outcome()).unwrap();
        assert!(!dir.path().join("trace.jsonl.partial").exists());
        let trace = read(&path).unwrap();
        assert_eq!(trace, Trace { header: header(), turns: vec![turn], outcome: Some(outcome()), torn_tail: false });
    }

    #[test]
    fn a_torn_last_line_is_tolerated_but_a_torn_middle_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let mut writer = TraceWriter::create(dir.path(), &header()).unwrap();
        writer.turn(&Turn::default()).unwrap();
        drop(writer);
        let partial = dir.path().join("trace.jsonl.partial");
        let mut text = std::fs::read_to_string(&partial).unwrap();
        text.push_str("{\"type\":\"turn\",\"index\":1,\"rep");
        std::fs::write(&partial, &text).unwrap();
        let trace = read(&partial).unwrap();
        assert!(trace.torn_tail && trace.outcome.is_none());
        assert_eq!(trace.turns.len(), 1);

        text.push_str("\n{\"type\":\"turn\"}\n");
        std::fs::write(&partial, &text).unwrap();
        let error = read(&partial).unwrap_err().to_string();
        assert!(error.contains("trace.jsonl.partial:3:"), "{error}");
    }

    #[test]
    fn only_infrastructure_errors_do_not_count() {
        assert!(!EpisodeErrorKind::InfrastructureError.counts());
        assert!(EpisodeErrorKind::ModelError.counts(), "a refused or timed-out request is the harness's");
        assert!(EpisodeErrorKind::ContextOverflow.counts());
        let json = serde_json::to_string(&EpisodeErrorKind::AgentTimeout).unwrap();
        assert_eq!(json, "\"agent_timeout\"");
    }
}
