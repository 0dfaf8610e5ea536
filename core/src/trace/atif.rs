//! ATIF, Harbor's Agent Trajectory Interchange Format: our traces written as trajectories,
//! and trajectories — ours or any Harbor agent's — read back as traces.
//!
//! Harbor, the runner Terminal-Bench 2.0 is measured with, keeps every agent's episode as
//! one `trajectory.json` (its RFC 0001; the pydantic models of `harbor.models.trajectories`
//! are the reference the tests check against). Writing ours in that format lets Harbor's
//! viewers and training pipelines read our episodes; reading it lets mining find the
//! weaknesses of episodes other agents (Terminus-2, …) ran under Harbor, with the same
//! detectors, without running them again. What ATIF has no field for (seed, outcome, error
//! class, tests, exit codes, timings) goes into its `extra` objects, so a trajectory we wrote
//! reads back into the trace it came from. The mapping, field by field: `docs/harbor.md`.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{json, Map, Value};

use super::{CommandRecord, EpisodeErrorKind, Header, Outcome, Trace, Turn};

/// The ATIF version written: the newest that Harbor 0.25.0's models know (their default).
pub const ATIF_VERSION: &str = "ATIF-v1.8";
/// A trajectory's file name, in our exports as in Harbor's trial folders (`agent/`).
pub const FILE_NAME: &str = "trajectory.json";
/// The agent name our trajectories carry.
pub const AGENT_NAME: &str = "self-harness";
/// The tool call that stands for a turn's shell command (as in `action_format = "tool_calls"`).
pub const SHELL_TOOL: &str = "shell";
/// The tool call that stands for declaring the task done.
pub const DONE_TOOL: &str = "done";

/// Tool names other agents use for a shell command (Terminus-2: `bash_command`).
const SHELL_TOOLS: &[&str] = &[
    "shell",
    "bash",
    "bash_command",
    "execute_bash",
    "run_command",
    "run_shell_command",
    "terminal",
    "execute_command",
];
/// Argument names that hold the command text (Terminus-2: `keystrokes`).
const COMMAND_ARGUMENTS: &[&str] = &["command", "cmd", "keystrokes", "script"];
/// Tool names other agents use to declare the task done.
const DONE_TOOLS: &[&str] = &["done", "mark_task_complete", "task_complete", "submit", "finish", "complete_task"];

/// What a trajectory shows that its trace does not hold.
#[derive(Debug, Clone, Default)]
pub struct Export {
    /// Names the episode, e.g. `<run>/<task>/<repeat>`.
    pub session_id: String,
    /// Where the trace was read from, for the notes.
    pub source: String,
    /// The system prompt and the first user message, when the harness and the task are
    /// known (traces do not record them).
    pub prompts: Option<(String, String)>,
}

/// What exporting a run wrote.
#[derive(Debug, Default, serde::Serialize)]
pub struct Exported {
    /// One per finished episode.
    pub written: Vec<Written>,
    /// Episodes that never finished (`trace.jsonl.partial`): not exported, not errors.
    pub unfinished: Vec<PathBuf>,
    /// What was noticed on the way (prompts left out, and why).
    pub notes: Vec<String>,
    /// Traces that could not be exported, each naming its file.
    pub errors: Vec<String>,
}

#[derive(Debug, serde::Serialize)]
pub struct Written {
    pub trace: PathBuf,
    pub trajectory: PathBuf,
    pub task: String,
    pub steps: usize,
}

/// The harness and tasks an export renders the prompts from (traces do not record them).
pub struct PromptSource<'a> {
    pub harness: &'a crate::harness::Harness,
    pub tasks: &'a [crate::task::Task],
    /// The working directory of the agent's shell (`/app` in Terminal-Bench tasks).
    pub workdir: &'a str,
}

/// Writes every finished trace under `run` (the loop's `<task>/s<seed>/trace.jsonl`, or an
/// older `eval` run's `<task>/<repeat>/`) as `out/<same folders>/trajectory.json`. A trace
/// that cannot be read or is not finished is an error naming it; the others are still written.
pub fn export_run(run: &Path, out: &Path, prompts: Option<&PromptSource>) -> std::io::Result<Exported> {
    let name = run.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut episodes = Vec::new();
    let mut unfinished = Vec::new();
    for entry in walkdir::WalkDir::new(run).follow_links(false).sort_by_file_name() {
        let entry = entry.map_err(std::io::Error::other)?;
        let (path, file_name) = (entry.path(), entry.file_name().to_string_lossy());
        if file_name == format!("{}{}", super::FILE_NAME, super::PARTIAL_SUFFIX) {
            unfinished.push(path.to_path_buf());
        } else if file_name == super::FILE_NAME && entry.file_type().is_file() {
            let episode = path.parent().unwrap_or(run).strip_prefix(run).unwrap_or(Path::new("")).to_path_buf();
            episodes.push((episode, path.to_path_buf()));
        }
    }
    let mut exported = export_episodes(&name, &episodes, out, prompts)?;
    exported.unfinished = unfinished;
    Ok(exported)
}

/// Writes each (episode folder, trace) of the run `name` as `out/<episode folder>/trajectory.json`.
pub fn export_episodes(
    name: &str,
    episodes: &[(PathBuf, PathBuf)],
    out: &Path,
    prompts: Option<&PromptSource>,
) -> std::io::Result<Exported> {
    let mut exported = Exported::default();
    let mut mismatched = std::collections::BTreeSet::new();
    for (episode, path) in episodes {
        let trace = match super::read(path) {
            Ok(trace) => trace,
            Err(e) => {
                exported.errors.push(e.to_string());
                continue;
            }
        };
        let rendered = prompts.and_then(|p| {
            if p.harness.version() != trace.header.harness_version {
                mismatched.insert(trace.header.harness_version.clone());
                return None;
            }
            let task = p.tasks.iter().find(|t| t.name == trace.header.task)?;
            match self::prompts(p.harness, task, p.workdir) {
                Ok(both) => Some(both),
                Err(e) => {
                    exported.notes.push(format!("{}: prompts left out: {e}", path.display()));
                    None
                }
            }
        });
        let export = Export {
            session_id: Path::new(name).join(episode).to_string_lossy().into_owned(),
            source: path.display().to_string(),
            prompts: rendered,
        };
        let doc = match to_atif(&trace, &export) {
            Ok(doc) => doc,
            Err(e) => {
                exported.errors.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let target = out.join(episode).join(FILE_NAME);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| crate::util::naming(dir, e))?;
        }
        let text = serde_json::to_string_pretty(&doc)?;
        crate::util::write_atomic(&target, text.as_bytes()).map_err(|e| crate::util::naming(&target, e))?;
        let steps = doc["steps"].as_array().map_or(0, Vec::len);
        exported.written.push(Written { trace: path.clone(), trajectory: target, task: trace.header.task, steps });
    }
    if let Some(p) = prompts {
        for version in mismatched {
            exported.notes.push(format!(
                "episodes of harness version {version} have no prompts: {} is version {}",
                p.harness.dir().display(),
                p.harness.version()
            ));
        }
    }
    Ok(exported)
}

/// The system prompt and the first user message `harness` gives `task` when the agent's
/// shell starts in `workdir`.
pub fn prompts(
    harness: &crate::harness::Harness,
    task: &crate::task::Task,
    workdir: &str,
) -> Result<(String, String), String> {
    let context = crate::harness::PromptContext {
        instruction: task.instruction.clone(),
        task_name: task.name.clone(),
        workdir: workdir.to_string(),
        ..Default::default()
    };
    let system = harness.render_system(&context).map_err(|e| format!("{}: {}", e.path.display(), e.message))?;
    let user = harness.render_instruction(&context).map_err(|e| format!("{}: {}", e.path.display(), e.message))?;
    Ok((system, user))
}

/// `trace` as an ATIF trajectory. A trace without its outcome line (an episode that did
/// not finish, or a torn file) is refused: a trajectory is a finished episode.
pub fn to_atif(trace: &Trace, export: &Export) -> Result<Value, String> {
    let outcome = match (&trace.outcome, trace.torn_tail) {
        (_, true) => return Err("its last line is cut off (a torn trace): the episode did not finish".into()),
        (None, false) => return Err("it has no outcome line: the episode did not finish".into()),
        (Some(outcome), false) => outcome,
    };
    let header = &trace.header;
    let start = humantime::parse_rfc3339_weak(&header.started_at).ok();
    let at = |ms: f64| {
        start.map(|t| {
            let at: SystemTime = t + Duration::from_secs_f64((ms / 1000.0).max(0.0));
            humantime::format_rfc3339_millis(at).to_string()
        })
    };

    let mut steps: Vec<Value> = Vec::new();
    if let Some((system, user)) = &export.prompts {
        steps.push(step(1, at(0.0), "system", system));
        let on_start = trace.turns.first().and_then(|t| t.on_start.as_ref()).map(|r| r.output_shown.as_str());
        steps.push(step(2, at(0.0), "user", &crate::harness::first_message(user, on_start)));
    }
    let mut elapsed = 0.0;
    for turn in &trace.turns {
        elapsed += turn.model_ms;
        let id = steps.len() + 1;
        if turn.reply.is_empty() && turn.action.is_none() && turn.command.is_none() {
            // Nothing was asked of the model this turn (the context ran out first): what the
            // harness said is a system event.
            let mut event = step(id, at(elapsed), "system", turn.notice.as_deref().unwrap_or_default());
            event["extra"] = json!({ "turn": turn.index });
            steps.push(event);
            continue;
        }
        steps.push(agent_step(id, at(elapsed), turn));
        for record in [&turn.on_start, &turn.command, &turn.after_command, &turn.hook].into_iter().flatten() {
            elapsed += record.duration_ms;
        }
    }

    if steps.is_empty() {
        // ATIF wants at least one step: say how the episode ended before any turn.
        let detail = outcome.error_detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default();
        let class = serde_json::to_value(outcome.error_class).unwrap_or_default();
        let message = format!(
            "The episode ended before the model was asked anything ({}{detail}).",
            class.as_str().unwrap_or_default()
        );
        steps.push(step(1, at(0.0), "system", &message));
    }
    let total_steps = steps.len();
    let notes = notes(export);
    Ok(json!({
        "schema_version": ATIF_VERSION,
        "session_id": export.session_id,
        "agent": {
            "name": AGENT_NAME,
            "version": format!("{}@{}", header.harness, header.harness_version),
            "model_name": header.model,
            "extra": {
                "harness": header.harness,
                "harness_version": header.harness_version,
                "self_harness": env!("CARGO_PKG_VERSION"),
            },
        },
        "steps": steps,
        "notes": notes,
        "final_metrics": {
            "total_prompt_tokens": outcome.tokens_in,
            "total_completion_tokens": outcome.tokens_out,
            "total_cost_usd": outcome.cost_usd,
            "total_steps": total_steps,
            "extra": { "turns": outcome.turns, "duration_ms": outcome.duration_ms },
        },
        "extra": {
            "task": header.task,
            "seed": header.seed,
            "attempt": header.attempt,
            "trace_schema": header.schema,
            "started_at": header.started_at,
            "outcome": {
                "reward": outcome.reward,
                "passed": outcome.passed,
                "error_class": outcome.error_class,
                "error_detail": outcome.error_detail,
                "tests": outcome.tests,
                "finished_at": outcome.finished_at,
            },
        },
    }))
}

/// The trajectory's notes: where it came from, and how to read it.
fn notes(export: &Export) -> String {
    let mut notes = format!(
        "Written by self-harness {} from the trace {}. Step timestamps are the episode's start plus the \
         recorded model and command times. The `{SHELL_TOOL}` tool call is the turn's shell command (one \
         persistent shell per episode); `{DONE_TOOL}` is the agent declaring the task done.",
        env!("CARGO_PKG_VERSION"),
        export.source
    );
    if export.prompts.is_none() {
        notes.push_str(
            " Traces do not record the prompts: the system prompt and the instruction are left out \
             (`self-harness export --harness DIR --tasks DIR` adds them).",
        );
    }
    notes
}

fn step(id: usize, timestamp: Option<String>, source: &str, message: &str) -> Value {
    let mut step = Map::new();
    step.insert("step_id".into(), json!(id));
    if let Some(timestamp) = timestamp {
        step.insert("timestamp".into(), json!(timestamp));
    }
    step.insert("source".into(), json!(source));
    step.insert("message".into(), json!(message));
    Value::Object(step)
}

/// One turn: the reply as the message, the action's thought as the reasoning, the command
/// and `done` as tool calls, what the model was shown as the observation.
fn agent_step(id: usize, timestamp: Option<String>, turn: &Turn) -> Value {
    let mut step = step(id, timestamp, "agent", &turn.reply);
    let thought = turn.action.as_ref().and_then(|a| a.get("thought")).and_then(Value::as_str);
    if let Some(thought) = thought.filter(|t| !t.trim().is_empty()) {
        step["reasoning_content"] = json!(thought);
    }
    let mut calls = Vec::new();
    let mut results = Vec::new();
    let mut extra = Map::new();
    extra.insert("turn".into(), json!(turn.index));
    if let Some(command) = &turn.command {
        let call = format!("call_{}", turn.index);
        calls.push(
            json!({ "tool_call_id": call, "function_name": SHELL_TOOL, "arguments": { "command": command.text } }),
        );
        results.push(json!({ "source_call_id": call, "content": as_shown(command, turn.notice.as_deref()) }));
        extra.insert("exit_code".into(), json!(command.exit_code));
        extra.insert("timed_out".into(), json!(command.timed_out));
        extra.insert("output_bytes".into(), json!(command.output_bytes));
        extra.insert("command_ms".into(), json!(command.duration_ms));
    }
    if turn.done {
        calls.push(
            json!({ "tool_call_id": format!("call_{}_done", turn.index), "function_name": DONE_TOOL, "arguments": {} }),
        );
    }
    for (key, record) in [("after_command", &turn.after_command), ("hook", &turn.hook)] {
        if let Some(record) = record {
            results.push(json!({ "content": record.output_shown }));
            extra.insert(key.into(), json!(record));
        }
    }
    if let Some(record) = &turn.on_start {
        // Shown in the first user message; the full record stays with the step.
        extra.insert("on_start".into(), json!(record));
    }
    if !calls.is_empty() {
        step["tool_calls"] = Value::Array(calls);
    }
    if !results.is_empty() {
        step["observation"] = json!({ "results": results });
    }
    step["metrics"] = json!({
        "prompt_tokens": turn.tokens_in,
        "completion_tokens": turn.tokens_out,
        "extra": { "model_ms": turn.model_ms },
    });
    extra.insert("done".into(), json!(turn.done));
    if let Some(error) = &turn.parse_error {
        extra.insert("parse_error".into(), json!(error));
    }
    if let Some(notice) = &turn.notice {
        extra.insert("notice".into(), json!(notice));
    }
    if !turn.resampled.is_empty() {
        extra.insert("resampled".into(), json!(turn.resampled));
    }
    step["extra"] = Value::Object(extra);
    step
}

/// The command's output as the agent put it before the model: its exit code first, or,
/// when it was stopped, the notice that said so.
fn as_shown(command: &CommandRecord, notice: Option<&str>) -> String {
    match (command.exit_code, notice) {
        (Some(code), _) => format!("exit code: {code}\n{}", command.output_shown),
        (None, Some(notice)) if command.timed_out => format!("{notice}\noutput so far:\n{}", command.output_shown),
        (None, _) => command.output_shown.clone(),
    }
}

/// A trajectory read back as a trace, for mining: `task` and `outcome` come from where the
/// trajectory was found (a Harbor trial's `result.json` and verifier output). Each agent
/// step is a turn numbered by its `step_id` (so evidence points at the step), one turn per
/// shell command when a step ran several; system and user steps are context, not turns.
/// Anything not shaped as ATIF is an error that names where (`steps[3].tool_calls`).
pub fn from_atif(doc: &Value, task: &str, mut outcome: Outcome) -> Result<Trace, String> {
    let root = doc.as_object().ok_or("not a JSON object")?;
    let version = root.get("schema_version").and_then(Value::as_str).unwrap_or_default();
    if !version.starts_with("ATIF-") {
        return Err("not an ATIF trajectory (no \"schema_version\": \"ATIF-v…\")".into());
    }
    let agent = root.get("agent").and_then(Value::as_object).ok_or("\"agent\" is missing or not an object")?;
    let text = |object: Option<&Map<String, Value>>, key: &str| {
        object.and_then(|o| o.get(key)).and_then(Value::as_str).map(str::to_string)
    };
    let agent_extra = agent.get("extra").and_then(Value::as_object);
    let extra = root.get("extra").and_then(Value::as_object);
    let steps = root.get("steps").and_then(Value::as_array).ok_or("\"steps\" is missing or not a list")?;
    let first_time = steps.iter().find_map(|s| s.get("timestamp").and_then(Value::as_str));
    let header = Header {
        schema: super::SCHEMA_VERSION,
        task: task.to_string(),
        harness: text(agent_extra, "harness").or_else(|| text(Some(agent), "name")).unwrap_or_default(),
        harness_version: text(agent_extra, "harness_version")
            .or_else(|| text(Some(agent), "version"))
            .unwrap_or_default(),
        model: text(Some(agent), "model_name").unwrap_or_default(),
        seed: extra.and_then(|e| e.get("seed")).and_then(Value::as_u64).unwrap_or(0),
        attempt: extra
            .and_then(|e| e.get("attempt").or_else(|| e.get("trial")))
            .and_then(Value::as_u64)
            .map_or(0, |t| t as u32),
        started_at: text(extra, "started_at").or(first_time.map(str::to_string)).unwrap_or_default(),
    };

    let mut turns = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let place = |what: &str| format!("steps[{i}]{what}");
        let step = step.as_object().ok_or_else(|| format!("{}: not an object", place("")))?;
        match step.get("source").and_then(Value::as_str) {
            Some("agent") => turns.extend(turns_of(step, i).map_err(|e| format!("{}{e}", place("")))?),
            Some("system" | "user") => {}
            _ => return Err(format!("{}: \"source\" is not \"system\", \"user\" or \"agent\"", place(""))),
        }
    }

    if outcome.tokens_in == 0 && outcome.tokens_out == 0 {
        let totals = root.get("final_metrics").and_then(Value::as_object);
        let total = |key: &str| totals.and_then(|t| t.get(key)).and_then(Value::as_u64);
        outcome.tokens_in = total("total_prompt_tokens").unwrap_or_else(|| turns.iter().map(|t| t.tokens_in).sum());
        outcome.tokens_out =
            total("total_completion_tokens").unwrap_or_else(|| turns.iter().map(|t| t.tokens_out).sum());
    }
    if outcome.turns == 0 {
        outcome.turns = turns.len() as u32;
    }
    Ok(Trace { header, turns, outcome: Some(outcome), torn_tail: false })
}

/// The turns of one agent step (`step`, at `steps[i]`).
fn turns_of(step: &Map<String, Value>, i: usize) -> Result<Vec<Turn>, String> {
    let index = step.get("step_id").and_then(Value::as_u64).map_or(i as u32 + 1, |id| id as u32);
    let extra = step.get("extra").and_then(Value::as_object);
    let reply = content_text(step.get("message")).map_err(|e| format!(".message: {e}"))?;
    let thought = step.get("reasoning_content").and_then(Value::as_str).unwrap_or_default();
    let calls: &[Value] = match step.get("tool_calls") {
        None | Some(Value::Null) => &[],
        Some(Value::Array(calls)) => calls,
        Some(_) => return Err(".tool_calls: not a list".into()),
    };
    let results: &[Value] = match step.get("observation").and_then(|o| o.get("results")) {
        None | Some(Value::Null) => &[],
        Some(Value::Array(results)) => results,
        Some(_) => return Err(".observation.results: not a list".into()),
    };
    let metrics = step.get("metrics").and_then(Value::as_object);
    let count = |key: &str| metrics.and_then(|m| m.get(key)).and_then(Value::as_u64).unwrap_or(0);
    let model_ms = metrics
        .and_then(|m| m.get("extra"))
        .and_then(|e| e.get("model_ms"))
        .and_then(Value::as_f64)
        .unwrap_or_default();
    let flag = |key: &str| extra.and_then(|e| e.get(key)).and_then(Value::as_bool);
    let said = |key: &str| extra.and_then(|e| e.get(key)).and_then(Value::as_str).map(str::to_string);
    let record = |key: &str| -> Option<CommandRecord> {
        extra.and_then(|e| e.get(key)).and_then(|r| serde_json::from_value(r.clone()).ok())
    };

    let (commands, done_by_tool) = commands_of(calls)?;
    let done = flag("done").unwrap_or(false) || done_by_tool;

    let mut turns = Vec::new();
    let several = commands.len() > 1;
    for (n, (text, id, c)) in commands.iter().enumerate() {
        let mine = |r: &&Value| r.get("source_call_id").and_then(Value::as_str).is_some_and(|s| Some(s) == *id);
        let output = match results.iter().find(mine) {
            Some(result) => content_text(result.get("content")),
            // No ids to match by: a step with one command saw every result.
            None if !several => results
                .iter()
                .map(|r| content_text(r.get("content")))
                .collect::<Result<Vec<_>, _>>()
                .map(|all| all.join("\n")),
            None => Ok(String::new()),
        }
        .map_err(|e| format!(".observation (for tool_calls[{c}]): {e}"))?;
        let command = command_record(text, output, extra);
        turns.push(Turn {
            index,
            reply: if n == 0 { reply.clone() } else { String::new() },
            action: Some(json!({ "thought": thought, "command": text, "done": done && n + 1 == commands.len() })),
            command: Some(command),
            done: done && n + 1 == commands.len(),
            tokens_in: if n == 0 { count("prompt_tokens") } else { 0 },
            tokens_out: if n == 0 { count("completion_tokens") } else { 0 },
            model_ms: if n == 0 { model_ms } else { 0.0 },
            ..Turn::default()
        });
    }
    if turns.is_empty() {
        turns.push(Turn {
            index,
            reply,
            action: (!thought.is_empty() || done).then(|| json!({ "thought": thought, "command": null, "done": done })),
            done,
            tokens_in: count("prompt_tokens"),
            tokens_out: count("completion_tokens"),
            model_ms,
            ..Turn::default()
        });
    }
    let first = &mut turns[0];
    first.on_start = record("on_start");
    first.parse_error = said("parse_error");
    first.notice = said("notice");
    first.resampled =
        extra.and_then(|e| e.get("resampled")).and_then(|r| serde_json::from_value(r.clone()).ok()).unwrap_or_default();
    let last = turns.last_mut().expect("at least one turn");
    last.after_command = record("after_command");
    last.hook = record("hook");
    Ok(turns)
}

/// A command a step's tool call ran: its text, the call's id and its index among the calls.
type Call<'s> = (String, Option<&'s str>, usize);

/// The commands a step's tool calls ran, and whether one of them said the task is done.
fn commands_of(calls: &[Value]) -> Result<(Vec<Call<'_>>, bool), String> {
    let mut done = false;
    let mut commands = Vec::new();
    for (c, call) in calls.iter().enumerate() {
        let call = call.as_object().ok_or_else(|| format!(".tool_calls[{c}]: not an object"))?;
        let name = call.get("function_name").and_then(Value::as_str).unwrap_or_default();
        if DONE_TOOLS.iter().any(|d| d.eq_ignore_ascii_case(name)) {
            done = true;
            continue;
        }
        let arguments = call.get("arguments").and_then(Value::as_object);
        let text =
            COMMAND_ARGUMENTS.iter().find_map(|a| arguments.and_then(|args| args.get(*a)).and_then(Value::as_str));
        let shell = SHELL_TOOLS.iter().any(|s| s.eq_ignore_ascii_case(name));
        let Some(text) = text.filter(|_| shell || arguments.is_some_and(|a| a.len() == 1)) else { continue };
        // Terminus-2 types keystrokes: the newline is the Enter key, an empty one a wait.
        let text = text.strip_suffix('\n').unwrap_or(text);
        if text.trim().is_empty() {
            continue;
        }
        let id = call.get("tool_call_id").and_then(Value::as_str);
        commands.push((text.to_string(), id, c));
    }
    Ok((commands, done))
}

/// What a step's command did: from the facts our own exports keep in `extra` (the output
/// after the agent's prefix), else read from the output (an exit code it reports, or
/// "command not found").
fn command_record(text: &str, output: String, extra: Option<&Map<String, Value>>) -> CommandRecord {
    match extra.filter(|e| e.contains_key("exit_code")) {
        // One of ours: the facts are in `extra`, the output after the agent's own prefix.
        Some(extra) => {
            let exit_code = extra.get("exit_code").and_then(Value::as_i64);
            let timed_out = extra.get("timed_out").and_then(Value::as_bool).unwrap_or(false);
            let shown = match exit_code {
                Some(_) => split_exit_code(&output).1.to_string(),
                None => output.split_once("\noutput so far:\n").map_or(output.clone(), |(_, s)| s.to_string()),
            };
            CommandRecord {
                text: text.to_string(),
                exit_code,
                timed_out,
                output_bytes: extra.get("output_bytes").and_then(Value::as_u64).unwrap_or(shown.len() as u64),
                output_shown: shown,
                duration_ms: extra.get("command_ms").and_then(Value::as_f64).unwrap_or_default(),
            }
        }
        None => {
            let (exit_code, shown) = split_exit_code(&output);
            let exit_code = exit_code.or_else(|| shown.contains(": command not found").then_some(127));
            CommandRecord {
                text: text.to_string(),
                exit_code,
                timed_out: false,
                output_shown: shown.to_string(),
                output_bytes: shown.len() as u64,
                duration_ms: 0.0,
            }
        }
    }
}

/// A message or observation content: a string, or ATIF's list of content parts (their text).
fn content_text(content: Option<&Value>) -> Result<String, String> {
    match content {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(text)) => Ok(text.clone()),
        Some(Value::Array(parts)) => {
            Ok(parts.iter().filter_map(|p| p.get("text").and_then(Value::as_str)).collect::<Vec<_>>().join("\n"))
        }
        Some(_) => Err("neither a string nor a list of content parts".into()),
    }
}

/// The exit code an observation starts with, and the output after it: our agent's
/// `exit code: N` line, or mini-swe-agent's `<returncode>N</returncode>`.
fn split_exit_code(content: &str) -> (Option<i64>, &str) {
    if let Some(rest) = content.strip_prefix("exit code: ") {
        let (code, tail) = rest.split_once('\n').unwrap_or((rest, ""));
        if let Ok(code) = code.trim().parse() {
            return (Some(code), tail);
        }
    }
    if let Some(rest) = content.trim_start().strip_prefix("<returncode>") {
        if let Some((code, tail)) = rest.split_once("</returncode>") {
            if let Ok(code) = code.trim().parse() {
                return (Some(code), tail.strip_prefix('\n').unwrap_or(tail));
            }
        }
    }
    (None, content)
}

/// How a Harbor trial ended, from the exception Harbor recorded for it (`exception_info.
/// exception_type` of its `result.json`; `None` when it ran to a verdict). Harbor's own and
/// the verifier's failures are infrastructure errors: re-run, never counted.
pub fn error_class_of_exception(exception_type: Option<&str>) -> EpisodeErrorKind {
    match exception_type {
        None => EpisodeErrorKind::None,
        Some("AgentTimeoutError") => EpisodeErrorKind::AgentTimeout,
        Some("ContextLengthExceededError") => EpisodeErrorKind::ContextOverflow,
        // Verifier timeouts, missing or unparsable reward files, environments that would
        // not start, Docker, the network: none of it is the agent's doing.
        Some(_) => EpisodeErrorKind::InfrastructureError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{TestResult, TestStatus};

    fn trace() -> Trace {
        let command = |text: &str, exit_code, shown: &str| CommandRecord {
            text: text.into(),
            exit_code,
            timed_out: exit_code.is_none(),
            output_shown: shown.into(),
            output_bytes: shown.len() as u64,
            duration_ms: 12.5,
        };
        Trace {
            header: Header {
                schema: 1,
                task: "count-lines".into(),
                harness: "minimal".into(),
                harness_version: "abc123".into(),
                model: "qwen".into(),
                seed: 7,
                attempt: 1,
                started_at: "2026-11-23T00:00:00Z".into(),
            },
            turns: vec![
                Turn {
                    index: 0,
                    reply: "{\"thought\":\"look\",\"command\":\"wc -l data.txt\",\"done\":false}".into(),
                    action: Some(json!({"thought": "look", "command": "wc -l data.txt", "done": false})),
                    command: Some(command("wc -l data.txt", Some(0), "3 data.txt\n")),
                    on_start: Some(command("on_start", Some(0), "/app holds data.txt\n")),
                    tokens_in: 100,
                    tokens_out: 20,
                    model_ms: 250.0,
                    ..Turn::default()
                },
                Turn {
                    index: 1,
                    reply: "{\"thought\":\"wait\",\"command\":\"tail -f log\",\"done\":true}".into(),
                    action: Some(json!({"thought": "wait", "command": "tail -f log", "done": true})),
                    command: Some(command("tail -f log", None, "partial\n")),
                    notice: Some("The command did not finish within 5 s and was stopped.".into()),
                    done: true,
                    resampled: vec!["{}".into()],
                    tokens_in: 130,
                    tokens_out: 25,
                    model_ms: 300.0,
                    ..Turn::default()
                },
                Turn {
                    index: 2,
                    reply: "not json".into(),
                    parse_error: Some("expected value".into()),
                    ..Turn::default()
                },
            ],
            outcome: Some(Outcome {
                reward: Some(0.0),
                passed: false,
                tests: vec![TestResult { name: "test_count".into(), status: TestStatus::Failed }],
                judgement: None,
                error_class: EpisodeErrorKind::None,
                error_detail: None,
                turns: 3,
                tokens_in: 230,
                tokens_out: 45,
                cost_usd: 0.0,
                duration_ms: 900,
                verify_ms: None,
                limits: None,
                finished_at: "2026-11-23T00:00:01Z".into(),
            }),
            torn_tail: false,
        }
    }

    #[test]
    fn a_trace_becomes_steps_with_tool_calls_observations_and_metrics() {
        let export = Export { session_id: "run/count-lines/1".into(), source: "t".into(), prompts: None };
        let doc = to_atif(&trace(), &export).unwrap();
        assert_eq!(doc["schema_version"], ATIF_VERSION);
        assert_eq!(doc["agent"]["version"], "minimal@abc123");
        let steps = doc["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 3);
        assert_eq!(steps[0]["step_id"], 1);
        assert_eq!(steps[0]["timestamp"], "2026-11-23T00:00:00.250Z");
        assert_eq!(steps[0]["reasoning_content"], "look");
        assert_eq!(steps[0]["tool_calls"][0]["arguments"]["command"], "wc -l data.txt");
        assert_eq!(steps[0]["observation"]["results"][0]["content"], "exit code: 0\n3 data.txt\n");
        assert_eq!(steps[1]["tool_calls"][1]["function_name"], DONE_TOOL);
        assert!(steps[1]["observation"]["results"][0]["content"]
            .as_str()
            .unwrap()
            .ends_with("output so far:\npartial\n"));
        assert_eq!(steps[2]["extra"]["parse_error"], "expected value");
        assert_eq!(steps[0]["extra"]["on_start"]["output_shown"], "/app holds data.txt\n");
        assert_eq!(doc["final_metrics"]["total_prompt_tokens"], 230);
        // With the prompts, the on-start hook's output follows the instruction, as the model saw it.
        let prompts = Some(("You act.".to_string(), "Count the lines.\n".to_string()));
        let doc = to_atif(&trace(), &Export { prompts, ..export }).unwrap();
        assert_eq!(doc["steps"][1]["message"], "Count the lines.\n\n/app holds data.txt");
        assert_eq!(doc["extra"]["seed"], 7);
        assert_eq!(doc["extra"]["outcome"]["tests"][0]["status"], "failed");
    }

    #[test]
    fn an_unfinished_trace_is_refused() {
        let mut torn = trace();
        torn.outcome = None;
        assert!(to_atif(&torn, &Export::default()).unwrap_err().contains("no outcome line"));
        torn.torn_tail = true;
        assert!(to_atif(&torn, &Export::default()).unwrap_err().contains("torn"));

        // Finished before any turn: ATIF wants a step, so one says how it ended.
        let mut empty = trace();
        empty.turns.clear();
        let outcome = empty.outcome.as_mut().unwrap();
        (outcome.error_class, outcome.error_detail) = (EpisodeErrorKind::InfrastructureError, Some("docker".into()));
        let doc = to_atif(&empty, &Export::default()).unwrap();
        assert_eq!(doc["steps"][0]["source"], "system");
        assert!(doc["steps"][0]["message"].as_str().unwrap().contains("infrastructure_error: docker"));
    }

    #[test]
    fn our_trajectory_reads_back_into_the_trace_it_came_from() {
        let original = trace();
        let doc = to_atif(&original, &Export::default()).unwrap();
        let back = from_atif(&doc, "count-lines", original.outcome.clone().unwrap()).unwrap();
        assert_eq!(back.header.harness, "minimal");
        assert_eq!(back.header.harness_version, "abc123");
        assert_eq!(back.header.seed, 7);
        assert_eq!(back.turns.len(), 3);
        for (a, b) in original.turns.iter().zip(&back.turns) {
            assert_eq!((&a.command, &a.on_start), (&b.command, &b.on_start), "turn {}", a.index);
            assert_eq!(
                (a.done, &a.parse_error, &a.notice, &a.resampled),
                (b.done, &b.parse_error, &b.notice, &b.resampled)
            );
            assert_eq!((a.tokens_in, a.tokens_out, &a.reply), (b.tokens_in, b.tokens_out, &b.reply));
        }
        assert_eq!(back.turns[0].index, 1, "turns are numbered by step id");
    }

    #[test]
    fn a_terminus_trajectory_reads_as_turns() {
        let doc = json!({
            "schema_version": "ATIF-v1.5",
            "agent": {"name": "terminus-2", "version": "2.0.0", "model_name": "openai/gpt-4o"},
            "steps": [
                {"step_id": 1, "source": "user", "message": "Do it."},
                {"step_id": 2, "source": "agent", "message": "{...}",
                 "tool_calls": [
                    {"tool_call_id": "call_0_1", "function_name": "bash_command", "arguments": {"keystrokes": "vim notes.txt\n", "duration": 1.0}},
                    {"tool_call_id": "call_0_2", "function_name": "bash_command", "arguments": {"keystrokes": "", "duration": 5.0}}
                 ],
                 "observation": {"results": [{"source_call_id": "call_0_1", "content": "bash: vim: command not found"}]},
                 "metrics": {"prompt_tokens": 1402, "completion_tokens": 453}},
                {"step_id": 3, "source": "agent", "message": "done",
                 "tool_calls": [{"tool_call_id": "c", "function_name": "mark_task_complete", "arguments": {}}]}
            ],
            "final_metrics": {"total_prompt_tokens": 6391, "total_completion_tokens": 1204}
        });
        let outcome = Outcome {
            reward: Some(0.0),
            passed: false,
            tests: vec![],
            judgement: None,
            error_class: EpisodeErrorKind::None,
            error_detail: None,
            turns: 0,
            tokens_in: 0,
            tokens_out: 0,
            cost_usd: 0.0,
            duration_ms: 0,
            verify_ms: None,
            limits: None,
            finished_at: String::new(),
        };
        let trace = from_atif(&doc, "t", outcome).unwrap();
        assert_eq!(trace.header.harness, "terminus-2");
        assert_eq!(trace.turns.len(), 2);
        let command = trace.turns[0].command.as_ref().unwrap();
        assert_eq!((command.text.as_str(), command.exit_code), ("vim notes.txt", Some(127)));
        assert!(trace.turns[1].done && trace.turns[1].command.is_none());
        assert_eq!(trace.outcome.unwrap().tokens_in, 6391);
    }

    #[test]
    fn what_is_not_atif_is_named() {
        let outcome = trace().outcome.unwrap();
        assert!(from_atif(&json!([]), "t", outcome.clone()).unwrap_err().contains("not a JSON object"));
        assert!(from_atif(&json!({"steps": []}), "t", outcome.clone()).unwrap_err().contains("schema_version"));
        let bad = json!({"schema_version": "ATIF-v1.8", "agent": {}, "steps": [{"source": "agent", "tool_calls": 3}]});
        assert_eq!(from_atif(&bad, "t", outcome).unwrap_err(), "steps[0].tool_calls: not a list");
    }

    #[test]
    fn exit_codes_are_read_from_either_agents_prefix() {
        assert_eq!(split_exit_code("exit code: 2\nusage"), (Some(2), "usage"));
        assert_eq!(split_exit_code("<returncode>1</returncode>\n<output>x"), (Some(1), "<output>x"));
        assert_eq!(split_exit_code("plain"), (None, "plain"));
        assert_eq!(error_class_of_exception(Some("AgentTimeoutError")), EpisodeErrorKind::AgentTimeout);
        assert_eq!(error_class_of_exception(Some("VerifierTimeoutError")), EpisodeErrorKind::InfrastructureError);
    }
}
