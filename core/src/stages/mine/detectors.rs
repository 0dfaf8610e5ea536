//! Deterministic detectors: recurring failure patterns recognised from a trace alone.
//!
//! Each detector is a pure function of one trace that returns findings (which turn, and
//! what it saw). They run on passing traces too, so a weakness can say how many passing
//! traces show the same pattern (a pattern as common in passes as in failures is no
//! explanation of the failures).

use crate::trace::{EpisodeErrorKind, Trace};

/// What a detector saw in one trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub detector: DetectorId,
    pub turn: Option<u32>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DetectorId {
    CommandTimeout,
    InteractiveProgram,
    RepeatedCommand,
    UnparseableAction,
    ContextOverflow,
    NoVerification,
    GaveUp,
    ToolMisuse,
    OutputFlood,
}

impl std::fmt::Display for DetectorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = serde_json::to_value(self).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default();
        f.write_str(&text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Criticality {
    High,
    Medium,
    Low,
}

/// A detector's description, for weaknesses and docs.
pub struct Detector {
    pub id: DetectorId,
    pub title: &'static str,
    pub description: &'static str,
    pub criticality: Criticality,
    /// The harness key the weakness concerns.
    pub surface: &'static str,
}

pub const DETECTORS: &[Detector] = &[
    Detector { id: DetectorId::CommandTimeout, title: "Commands run into their timeout", description: "A command did not finish within the per-command timeout and was stopped: the agent runs long or blocking commands in the foreground.", criticality: Criticality::High, surface: "policy.command_timeout_secs" },
    Detector { id: DetectorId::InteractiveProgram, title: "Opens interactive programs", description: "The agent starts a program that waits for a terminal or keyboard input (an editor, a pager, a REPL, git commit without a message), which cannot work through one-shot shell commands.", criticality: Criticality::High, surface: "prompts.system" },
    Detector { id: DetectorId::RepeatedCommand, title: "Repeats the same command", description: "The identical command was run three or more times in one episode: the agent loops instead of changing approach.", criticality: Criticality::Medium, surface: "prompts.system" },
    Detector { id: DetectorId::UnparseableAction, title: "Replies that are not valid actions", description: "The model's reply could not be parsed as an action.", criticality: Criticality::Medium, surface: "prompts.system" },
    Detector { id: DetectorId::ContextOverflow, title: "Runs out of context", description: "The conversation outgrew the context budget.", criticality: Criticality::High, surface: "policy.on_context_overflow" },
    Detector { id: DetectorId::NoVerification, title: "Declares done without checking", description: "The agent declared the task done without running any command that checks its work after its last change (often in the same reply as its first command).", criticality: Criticality::High, surface: "prompts.system" },
    Detector { id: DetectorId::GaveUp, title: "Gives up or runs out of turns", description: "The episode ended at the turn limit or the time limit, or the agent declared done without ever running a command.", criticality: Criticality::Medium, surface: "policy.max_turns" },
    Detector { id: DetectorId::ToolMisuse, title: "Misuses commands and tools", description: "Commands that are not found or not executable (exit 126/127), or harness tools called with wrong usage (exit 2).", criticality: Criticality::Medium, surface: "prompts.system" },
    Detector { id: DetectorId::OutputFlood, title: "Floods the context with output", description: "Commands printed far more than the model could be shown (truncated more than once, or over 64 KiB at once).", criticality: Criticality::Low, surface: "policy.output" },
];

pub fn detector(id: DetectorId) -> &'static Detector {
    DETECTORS.iter().find(|d| d.id == id).expect("every id has a detector")
}

/// Every finding in one trace.
pub fn detect_all(trace: &Trace) -> Vec<Finding> {
    let mut findings = Vec::new();
    let mut add = |detector, turn, detail: String| findings.push(Finding { detector, turn, detail });
    let mut seen: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut truncated = 0;
    let mut ran_any = false;
    let mut last_change: Option<u32> = None;
    let mut last_check: Option<u32> = None;

    for turn in &trace.turns {
        if let Some(error) = &turn.parse_error {
            add(DetectorId::UnparseableAction, Some(turn.index), error.chars().take(120).collect());
        }
        if let Some(command) = &turn.command {
            ran_any = true;
            let text = command.text.split_whitespace().collect::<Vec<_>>().join(" ");
            if command.timed_out {
                add(
                    DetectorId::CommandTimeout,
                    Some(turn.index),
                    format!("`{}` was stopped at its timeout", short(&text)),
                );
            }
            if let Some(program) = interactive_program(&command.text) {
                add(DetectorId::InteractiveProgram, Some(turn.index), format!("`{}` starts {program}", short(&text)));
            }
            let count = seen.entry(text.clone()).or_default();
            *count += 1;
            if *count == 3 {
                add(DetectorId::RepeatedCommand, Some(turn.index), format!("`{}` run 3 times", short(&text)));
            }
            if matches!(command.exit_code, Some(126 | 127)) {
                add(
                    DetectorId::ToolMisuse,
                    Some(turn.index),
                    format!("`{}` exited {}", short(&text), command.exit_code.unwrap_or_default()),
                );
            } else if command.exit_code == Some(2) && text.contains("/opt/harness/tools") {
                add(DetectorId::ToolMisuse, Some(turn.index), format!("harness tool misused: `{}`", short(&text)));
            }
            let shown = command.output_shown.len() as u64;
            if command.output_bytes > shown.max(1) * 2 {
                truncated += 1;
                if truncated == 2 || command.output_bytes > 64 * 1024 {
                    add(
                        DetectorId::OutputFlood,
                        Some(turn.index),
                        format!("{} bytes printed, {shown} shown", command.output_bytes),
                    );
                }
            }
            if is_check(&command.text) {
                last_check = Some(turn.index);
            } else {
                last_change = Some(turn.index);
            }
        }
        if turn.done {
            if !ran_any {
                add(DetectorId::GaveUp, Some(turn.index), "declared done without running any command".into());
            } else if last_check.is_none_or(|check| last_change.is_some_and(|change| change >= check)) {
                add(DetectorId::NoVerification, Some(turn.index), "declared done without checking the result".into());
            }
        }
    }
    if let Some(outcome) = &trace.outcome {
        let last = trace.turns.last().map(|t| t.index);
        match outcome.error_class {
            EpisodeErrorKind::ContextOverflow => {
                add(DetectorId::ContextOverflow, last, "the context budget ran out".into())
            }
            EpisodeErrorKind::TurnLimit | EpisodeErrorKind::AgentTimeout => {
                add(DetectorId::GaveUp, last, format!("ended by {:?}", outcome.error_class))
            }
            _ => {}
        }
    }
    findings
}

fn short(text: &str) -> String {
    let cut: String = text.chars().take(80).collect();
    if cut.len() < text.len() {
        format!("{cut}…")
    } else {
        cut
    }
}

/// The interactive program a command starts, if any: each simple command of the line is
/// looked at (after `|`, `&&`, `||`, `;`), past `sudo`, `env` and `VAR=value` prefixes.
pub fn interactive_program(line: &str) -> Option<String> {
    let segments: Vec<(&str, bool)> = split_commands(line);
    for (segment, piped_in) in segments {
        let words: Vec<&str> = segment.split_whitespace().collect();
        let mut i = 0;
        while i < words.len()
            && (words[i] == "sudo"
                || words[i] == "env"
                || words[i] == "exec"
                || (words[i].contains('=') && !words[i].starts_with('-')))
        {
            i += 1;
        }
        let Some(program) = words.get(i).map(|p| p.rsplit('/').next().unwrap_or(p)) else { continue };
        let args = &words[i + 1..];
        let redirected_in = segment.contains('<');
        let has = |flags: &[&str]| args.iter().any(|a| flags.iter().any(|f| a == f || a.starts_with(&format!("{f}="))));
        let interactive = match program {
            "vim" | "vi" | "nvim" | "view" => {
                !has(&["-es", "-Es", "-e", "-s", "+wq", "-c", "+q", "-E"])
                    && !args.iter().any(|a| a.starts_with("+") || *a == "-c")
            }
            "nano" | "emacs" | "pico" | "joe" | "mcedit" => !has(&["--batch", "-batch"]),
            "less" | "more" | "most" | "man" => true,
            "top" | "htop" | "watch" | "btop" | "iftop" => !has(&["-b", "-n"]),
            "python" | "python3" | "node" | "irb" | "ipython" | "ghci" | "lua" | "R" => {
                !piped_in
                    && !redirected_in
                    && args.iter().all(|a| {
                        a.starts_with('-')
                            && !matches!(*a, "-c" | "-m" | "-e" | "-p" | "--version" | "-V" | "-h" | "--help")
                    })
            }
            "bash" | "sh" | "zsh" | "dash" => !piped_in && !redirected_in && args.is_empty(),
            "mysql" | "psql" | "sqlite3" | "redis-cli" | "mongo" | "ftp" | "telnet" => {
                !piped_in
                    && !redirected_in
                    && !has(&["-e", "-c", "--command", "--execute"])
                    && args.iter().filter(|a| !a.starts_with('-')).count() <= 1
            }
            "ssh" => args.iter().filter(|a| !a.starts_with('-')).count() <= 1,
            "git" => {
                let sub = args.iter().find(|a| !a.starts_with('-')).copied().unwrap_or_default();
                (sub == "commit" && !has(&["-m", "-F", "--message", "--file", "--no-edit", "-C", "--fixup", "--amend"]))
                    || (sub == "commit" && has(&["--amend"]) && !has(&["-m", "--no-edit", "-F"]))
                    || (sub == "rebase" && has(&["-i", "--interactive"]))
                    || (sub == "add" && has(&["-p", "-i", "--patch", "--interactive"]))
            }
            _ => false,
        };
        if interactive {
            return Some(program.to_string());
        }
    }
    None
}

/// Simple commands of a line, each with whether its stdin comes from a pipe.
fn split_commands(line: &str) -> Vec<(&str, bool)> {
    let mut out = Vec::new();
    let bytes = line.as_bytes();
    let (mut start, mut i, mut piped) = (0, 0, false);
    let (mut single, mut double) = (false, false);
    while i < bytes.len() {
        let c = bytes[i];
        match c {
            b'\'' if !double => single = !single,
            b'"' if !single => double = !double,
            b'|' | b';' | b'&' | b'\n' if !single && !double => {
                out.push((&line[start..i], piped));
                let two = i + 1 < bytes.len() && bytes[i + 1] == c;
                piped = c == b'|' && !two;
                i += if two { 2 } else { 1 };
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out.push((&line[start..], piped));
    out.into_iter().filter(|(s, _)| !s.trim().is_empty()).collect()
}

/// Whether a command looks at results rather than changing things.
fn is_check(line: &str) -> bool {
    const CHECKS: &[&str] = &[
        "cat",
        "ls",
        "grep",
        "diff",
        "cmp",
        "test",
        "[",
        "[[",
        "wc",
        "head",
        "tail",
        "pytest",
        "stat",
        "file",
        "md5sum",
        "sha256sum",
        "curl",
        "find",
        "tree",
        "git",
        "echo",
        "printf",
        "python3",
        "python",
        "make",
        "./",
    ];
    let first_writes = line.contains('>')
        || line.contains("sed -i")
        || line.contains("tee ")
        || line.contains("mv ")
        || line.contains("cp ")
        || line.contains("rm ");
    if first_writes {
        return false;
    }
    let word = line.split_whitespace().next().unwrap_or_default();
    CHECKS.iter().any(|c| word == *c || (c.ends_with('/') && word.starts_with(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_programs_and_near_misses() {
        for yes in [
            "vim /app/x.txt",
            "sudo vi file",
            "EDITOR=x nano a",
            "less log.txt",
            "cat x | less",
            "python3",
            "git commit",
            "git rebase -i HEAD~2",
            "top",
            "mysql",
            "cd /app && vim a.txt",
            "ssh host",
        ] {
            assert!(interactive_program(yes).is_some(), "{yes}");
        }
        for no in [
            "vim -es -c ':wq' a",
            "python3 script.py",
            "echo 'x' | python3",
            "python3 -c 'print(1)'",
            "git commit -m 'x'",
            "top -b -n 1",
            "ls | grep vim",
            "echo 'vim' > notes",
            "sqlite3 db.sqlite 'select 1'",
            "psql -c 'select 1'",
            "bash script.sh",
            "git commit --no-edit",
            "ssh host ls",
            "sh < x",
        ] {
            assert!(interactive_program(no).is_none(), "{no}");
        }
    }
}
