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
    AnswerNotAlone,
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
    Detector { id: DetectorId::AnswerNotAlone, title: "The answer is not what the last command prints", description: "The verifier took the output of the agent's last command as its answer and it differed from the expected one, which was there all the same: inside a longer output (a label, a file name or a total beside it), or printed by an earlier command before another ran last.", criticality: Criticality::High, surface: "prompts.system" },
];

/// The ids of the detectors this build runs, in order: what a ledger records beside the
/// weaknesses they found, so that a loop mines its traces again once a detector is added.
pub fn detectors_in_use() -> String {
    DETECTORS.iter().map(|d| d.id.to_string()).collect::<Vec<_>>().join(" ")
}

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
    if let Some((turn, detail)) = answer_not_alone(trace) {
        add(DetectorId::AnswerNotAlone, Some(turn), detail);
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

/// The turn and what was seen where a verifier that judges the last command's output
/// (InterCode's) missed an answer the agent had printed: with more around it, or before another command ran last. A
/// wrong command is not this: the expected answer must be in what the agent printed.
fn answer_not_alone(trace: &Trace) -> Option<(u32, String)> {
    let judgement = trace.outcome.as_ref()?.judgement.as_ref()?;
    let expected = judgement.expected_answer.trim();
    if judgement.answer || expected.is_empty() {
        return None;
    }
    let ran: Vec<(u32, &crate::trace::CommandRecord)> =
        trace.turns.iter().filter_map(|t| t.command.as_ref().map(|c| (t.index, c))).collect();
    let (last_turn, last) = ran.last()?;
    let shown = last.output_shown.trim();
    let detail = if contains_whole(shown, expected) {
        format!("`{}` printed {:?}; the answer expected was {:?}", short(&last.text), short(shown), short(expected))
    } else {
        let (turn, earlier) = ran[..ran.len() - 1].iter().rev().find(|(_, c)| c.output_shown.trim() == expected)?;
        format!(
            "turn {turn}'s `{}` printed the expected answer {:?}, then `{}` ran last",
            short(&earlier.text),
            short(expected),
            short(&last.text)
        )
    };
    Some((*last_turn, detail))
}

/// Whether `needle` is in `haystack` with no letter or digit right beside it: the answer
/// `3` is in `2 a.php\n3 total`, not in `13`.
fn contains_whole(haystack: &str, needle: &str) -> bool {
    let alone = |c: Option<char>| !c.is_some_and(char::is_alphanumeric);
    haystack
        .match_indices(needle)
        .any(|(at, _)| alone(haystack[..at].chars().next_back()) && alone(haystack[at + needle.len()..].chars().next()))
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

    /// A finished trace of `commands` (text, output) judged by a verifier that expected
    /// `expected` and found the answer `answer_matched`.
    fn judged(commands: &[(&str, &str)], expected: &str, answer_matched: bool) -> Trace {
        let turns = commands
            .iter()
            .enumerate()
            .map(|(i, (text, output))| crate::trace::Turn {
                index: i as u32,
                command: Some(crate::trace::CommandRecord {
                    text: text.to_string(),
                    exit_code: Some(0),
                    output_shown: output.to_string(),
                    output_bytes: output.len() as u64,
                    ..Default::default()
                }),
                done: i + 1 == commands.len(),
                ..Default::default()
            })
            .collect();
        let header = serde_json::json!({"schema": 1, "task": "t", "harness": "minimal", "harness_version": "v",
            "model": "m", "seed": 0, "attempt": 0, "started_at": "t"});
        let outcome = serde_json::json!({"reward": 0.0, "passed": false, "tests": [], "error_class": "none",
            "judgement": {"reference": "gold", "change_set": true, "contents": true, "answer": answer_matched,
                "expected_answer": expected, "expected_changes": 0, "score": 0.67},
            "turns": commands.len(), "tokens_in": 0, "tokens_out": 0, "cost_usd": 0.0, "duration_ms": 0,
            "finished_at": "t"});
        Trace {
            header: serde_json::from_value(header).unwrap(),
            turns,
            outcome: Some(serde_json::from_value(outcome).unwrap()),
            torn_tail: false,
        }
    }

    fn answer_findings(trace: &Trace) -> Vec<String> {
        detect_all(trace).into_iter().filter(|f| f.detector == DetectorId::AnswerNotAlone).map(|f| f.detail).collect()
    }

    #[test]
    fn an_answer_printed_with_more_around_it_or_not_last_is_found() {
        let with_total =
            judged(&[("find . -name '*.php' -exec wc -l {} +", "1 ./a.php\n 2 ./b.php\n 3 total\n")], "3", false);
        let found = answer_findings(&with_total);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("wc -l") && found[0].contains("\"3\""), "{found:?}");
        let then_another = judged(&[("whoami", "root\n"), ("echo done", "done\n")], "root", false);
        let found = answer_findings(&then_another);
        assert!(
            found.len() == 1 && found[0].starts_with("turn 0's `whoami`") && found[0].contains("`echo done` ran last")
        );
        // Not this weakness: a wrong answer, a number inside another, a matched answer, no verifier.
        assert!(answer_findings(&judged(&[("ls", "a.txt\n")], "b.txt", false)).is_empty());
        assert!(answer_findings(&judged(&[("wc -l x", "13 x\n")], "3", false)).is_empty());
        assert!(answer_findings(&judged(&[("wc -l < x", "3\n")], "3", true)).is_empty());
        let mut unjudged = with_total;
        unjudged.outcome.as_mut().unwrap().judgement = None;
        assert!(answer_findings(&unjudged).is_empty());
    }
}
