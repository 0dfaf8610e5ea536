//! The remedy catalog: for each weakness a deterministic detector (or the model's reading)
//! names, the concrete edits a harness engineer would try first — a policy key set, a rule
//! added to the system prompt. They are candidates like any other (source `catalog`): they
//! are checked, validated on tasks they were not mined from, and kept only if they hold up.
//! A remedy already in the harness is not proposed again.

use super::{Budget, FileEdit, RawEdit};
use crate::harness::{locate_surface, ActionFormat, Harness, NoBlock, Policy, SeveralBlocks, MANIFEST_FILE};
use crate::stages::mine::{same_mechanism, Weakness, KNOWN_MECHANISMS};

/// The edit budget of the catalog's remedies: written and reviewed here, a hook script is
/// longer than the proposer's budget allows an edit it writes unseen.
pub const CATALOG_BUDGET: Budget = Budget { max_changed_lines: 120 };

/// The most remedies the catalog has for one weakness (a loop's plan counts them).
pub const MOST_REMEDIES: usize = 6;

/// The catalog's edits for `weakness`, against `harness` as it is. Long because it is the
/// catalog: one arm per kind of weakness, each remedy's text and source beside the
/// weakness it answers.
pub fn remedies(harness: &Harness, weakness: &Weakness) -> Vec<RawEdit> {
    let manifest = std::fs::read_to_string(harness.dir().join(MANIFEST_FILE)).unwrap_or_default();
    let system_file = harness.manifest().prompts.system.clone();
    let system = std::fs::read_to_string(harness.dir().join(&system_file)).unwrap_or_default();
    let policy = harness.policy();
    let rule = |text: &str, why: &str| -> Option<RawEdit> {
        let present = system.split_whitespace().collect::<Vec<_>>().join(" ").contains(text);
        (!present).then(|| edit(&system_file, "", text, why))
    };
    let set = |key: &str, value: String, why: &str| set_policy(&manifest, key, &value, why);
    let found: Vec<Option<RawEdit>> = match kind(weakness) {
        "no-verification" | "declared-done-too-early" => vec![
            survey(harness),
            show_changes(harness, &manifest),
            explain(harness, &manifest),
            set("refuse_done_after_failure", "true".into(), "done is not accepted while the latest command failed"),
            set("completion", "\"confirm\"".into(), "the agent sees what its last command did before its done counts"),
            rule(
                "Before you say you are done, run one more command that shows the result of your work (cat the \
                 file you wrote, list the folder, run the program or its tests) and compare it with what the task \
                 asks.",
                "the agent declares done without looking at what it produced",
            ),
        ],
        "interactive-program" => vec![rule(
            "Never start an interactive program (vim, nano, less, more, man, top, a bare python or bash, git \
             commit without -m): there is no terminal. Write files with printf or a heredoc, read them with \
             cat, and pass -m, --no-edit or --no-pager.",
            "interactive programs hang without a terminal",
        )],
        "repeated-command" | "command-errors" => vec![
            survey(harness),
            explain(harness, &manifest),
            set("warn_repeated_failures", "true".into(), "the agent is told when it repeats a command that failed"),
            set(
                "resample_repeated_failures",
                "3".into(),
                "a repeated failing command is not run again: the model is asked anew, hotter",
            ),
            rule(
                "When a command fails, read its error before you run anything else, and never run the same failing \
             command again unchanged: fix the cause or try another way.",
                "the agent repeats failing commands instead of changing approach",
            ),
        ],
        "command-timeout" => vec![
            set(
                "command_timeout_secs",
                (policy.command_timeout_secs * 2).min(600).to_string(),
                "commands that need longer than the timeout are cut off",
            )
            .filter(|_| policy.command_timeout_secs < 600),
            rule(
                "Run commands that take long or never end (servers, watchers, big builds) in the background with \
                 nohup and a log file (nohup cmd > /tmp/cmd.log 2>&1 &), then check on them.",
                "long-running commands block the agent until the timeout",
            ),
        ],
        "output-flood" => vec![rule(
            "Keep command output short: pipe long output through head, tail, grep or wc -l instead of printing \
             whole files or logs.",
            "long outputs fill the conversation",
        )],
        "unparseable-action" | "malformed-replies" => vec![
            set(
                "parse_retries",
                (policy.parse_retries + 3).min(20).to_string(),
                "one more chance after an unparseable reply",
            )
            .filter(|_| policy.parse_retries < 20),
            match policy.action_format {
                ActionFormat::Json => rule(
                    "Reply with exactly one JSON object and nothing else: no text before or after it.",
                    "replies that are not one JSON action end the episode",
                ),
                ActionFormat::Markdown => rule(
                    &format!(
                        "Every reply that runs a command puts it in exactly one ```{} block: one block, one \
                         command, never two blocks.",
                        policy.markdown.info_string
                    ),
                    "replies without their one command block are refused",
                ),
                ActionFormat::ToolCalls | ActionFormat::Keystrokes => None,
            },
            prose_is_done(policy, &manifest),
            (policy.action_format == ActionFormat::Markdown
                && policy.markdown.several_blocks == SeveralBlocks::FormatError)
                .then(|| {
                    set(
                        "markdown.several_blocks",
                        "\"first\"".into(),
                        "a reply with several command blocks runs its first instead of being refused",
                    )
                })
                .flatten(),
        ],
        "context-overflow" => vec![set(
            "on_context_overflow",
            "\"truncate_outputs\"".into(),
            "a long episode shortens old outputs instead of ending",
        )],
        "gave-up" => vec![
            survey(harness),
            set("refuse_done_after_failure", "true".into(), "done is not accepted while the latest command failed"),
            set(
                "resample_idle_replies",
                "3".into(),
                "a reply that runs nothing and is not done is not kept: the model is asked anew, hotter",
            ),
            rule(
                "Do not stop before the task is done. When you are stuck, look again: list the files, read the \
             error, and try a different command.",
                "the agent stops without finishing",
            ),
            rule(
                "Keep every reply short: at most two sentences of reasoning, then the command. Long replies use up \
             the time the task has.",
                "episodes end at the time limit while the model is still writing a long reply",
            ),
            prose_is_done(policy, &manifest),
        ],
        // The verifier takes the last command's output as the answer (InterCode's): a check
        // after the answer replaces it, so the remedies end with the answer instead.
        "answer-not-alone" => vec![
            rule(
                "What your last command prints is taken as your answer. When the task asks for a value (a count, \
             a name, a size, lines of a file), finish with one command that prints exactly that and nothing \
             else: no label, no file name or total beside a number. Do not run anything after it.",
                "the answer was printed with more around it, or before another command ran last",
            ),
            set(
                "completion",
                "\"confirm\"".into(),
                "the agent sees what its last command printed before its done counts",
            ),
        ],
        "ran-out-of-turns" => vec![set(
            "max_turns",
            (policy.max_turns + 10).min(1000).to_string(),
            "the agent runs out of turns while still making progress",
        )],
        "wrong-output-format" => vec![
            survey(harness),
            show_changes(harness, &manifest),
            explain(harness, &manifest),
            rule(
                "Write outputs exactly in the format the task asks (only the number, only the lines asked for, the \
             exact file names), and check the file with cat before you finish.",
                "the output is right but not in the format asked for",
            ),
        ],
        _ => Vec::new(),
    };
    found.into_iter().flatten().collect()
}

/// The remedy kind of `weakness`: a detector's id, or for a weakness the model named in its
/// own words (`model-…`), the known mechanism that name says.
fn kind(weakness: &Weakness) -> &str {
    let id = weakness.id.as_str();
    let Some(own) = id.strip_prefix("model-") else { return id };
    let said = KNOWN_MECHANISMS.iter().find(|(_, name)| same_mechanism(name, &weakness.title));
    said.map_or(own, |(kind, _)| kind)
}

/// The hook that shows, once, the files an episode changed before its done counts
/// (`completion = "declare_after_check"`): the agent compares what it wrote with the task.
const SHOW_CHANGES: &str = include_str!("remedies/show-changes.sh");
const SHOW_CHANGES_FILE: &str = "hooks/show-changes.sh";

/// The hook run after each command that names the way out of the dead ends small models
/// walk into (a missing tool, sudo, no network, no repository, a missing path, a file name
/// written beside a value, `sed` without `-i`) as a command to run next; and the completion
/// check that holds done back, once, while that way out is untried.
const EXPLAIN: &str = include_str!("remedies/explain.sh");
const EXPLAIN_FILE: &str = "hooks/explain.sh";
const PENDING: &str = include_str!("remedies/pending.sh");
const PENDING_FILE: &str = "hooks/pending.sh";

/// The hook run before the first turn that shows the files (the first lines of the text
/// ones, names quoted when they need it), the repositories and the missing tools.
const SURVEY: &str = include_str!("remedies/survey.sh");
const SURVEY_FILE: &str = "hooks/survey.sh";

/// The `survey` hook with the manifest lines that run it; `None` when the harness has an
/// on-start hook already.
fn survey(harness: &Harness) -> Option<RawEdit> {
    if harness.on_start().is_some() {
        return None;
    }
    let [table, script] = add_hook("on_start", SURVEY_FILE, SURVEY);
    let mut edit = edit(
        MANIFEST_FILE,
        &table.search,
        &table.replace,
        "before its first command the agent sees the files, their first lines, the repositories and the missing tools, instead of guessing",
    );
    edit.more = vec![script];
    Some(edit)
}

/// The `show-changes` hook with the manifest lines that run it; `None` when the harness has
/// a completion hook already.
fn show_changes(harness: &Harness, manifest: &str) -> Option<RawEdit> {
    if harness.before_completion().is_some() {
        return None;
    }
    let why = "the agent sees the files it changed, beside the task, before its done counts";
    let mut edit = set_policy(manifest, "completion", "\"declare_after_check\"", why)?;
    edit.more = add_hook("before_completion", SHOW_CHANGES_FILE, SHOW_CHANGES).into();
    Some(edit)
}

/// The `explain` hook after each command with its completion check; `None` when the harness
/// has a hook at either point already.
fn explain(harness: &Harness, manifest: &str) -> Option<RawEdit> {
    if harness.hooks().next().is_some() {
        return None;
    }
    let why = "after a failed or misdirected command the agent is told the concrete way out, and done waits until it tried it";
    let mut edit = set_policy(manifest, "completion", "\"declare_after_check\"", why)?;
    edit.more =
        [add_hook("after_command", EXPLAIN_FILE, EXPLAIN), add_hook("before_completion", PENDING_FILE, PENDING)]
            .concat();
    Some(edit)
}

/// The edits that add the hook `point` running the new script `file`: its manifest table,
/// then the script.
fn add_hook(point: &str, file: &str, script: &str) -> [FileEdit; 2] {
    [
        FileEdit {
            file: MANIFEST_FILE.into(),
            search: String::new(),
            replace: format!("\n[hooks.{point}]\nfile = \"{file}\""),
        },
        FileEdit { file: file.into(), search: String::new(), replace: script.into() },
    ]
}

fn edit(file: &str, search: &str, replace: &str, why: &str) -> RawEdit {
    RawEdit {
        file: file.to_string(),
        search: search.to_string(),
        replace: replace.to_string(),
        more: Vec::new(),
        rationale: format!("catalog remedy: {why}"),
        expected_fixes: Vec::new(),
        might_break: Vec::new(),
    }
}

/// Under `action_format = "markdown"`, a reply without a command block ends the episode
/// instead of being refused (`[policy.markdown] no_block = "done"`): a small model says it
/// has finished in prose, and refused, it answers the format error back until the clock
/// ends the episode. `None` for other formats, or where it is so already.
fn prose_is_done(policy: &Policy, manifest: &str) -> Option<RawEdit> {
    (policy.action_format == ActionFormat::Markdown && policy.markdown.no_block == NoBlock::FormatError)
        .then(|| {
            set_policy(
                manifest,
                "markdown.no_block",
                "\"done\"",
                "a reply without a command block says the agent has finished, instead of a format error it loops on",
            )
        })
        .flatten()
}

/// The edit of `harness.toml` that sets `[policy] key = value` (a dotted key such as
/// `markdown.no_block` is set in its table, `[policy.markdown]`): the key's own line when
/// it is written, else a line after its table's header, else a new table. `None` when the
/// key already has that value, or its table is written inline.
fn set_policy(manifest: &str, key: &str, value: &str, why: &str) -> Option<RawEdit> {
    let (table, leaf) = match key.rsplit_once('.') {
        Some((inner, leaf)) => (format!("policy.{inner}"), leaf),
        None => ("policy".to_string(), key),
    };
    let line_at = |n: u32| manifest.lines().nth(n as usize);
    if table != "policy" && locate_surface(manifest, &table).and_then(line_at).is_some_and(|l| !is_header(l)) {
        return None; // an inline table (`markdown = { … }`) is not edited line by line
    }
    let wanted = format!("{leaf} = {value}");
    match locate_surface(manifest, &format!("{table}.{leaf}")).and_then(line_at) {
        Some(header) if is_header(header) => Some(edit(MANIFEST_FILE, header, &format!("{header}\n{wanted}"), why)),
        Some(line) => {
            // The key as written (`no_block`, or `markdown.no_block` under `[policy]`).
            let (written, old) = line.split_once('=').unwrap_or((line, ""));
            (old.trim() != value).then(|| edit(MANIFEST_FILE, line, &format!("{} = {value}", written.trim()), why))
        }
        None => Some(edit(MANIFEST_FILE, "", &format!("\n[{table}]\n{wanted}"), why)),
    }
}

fn is_header(line: &str) -> bool {
    line.trim_start().starts_with('[')
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::stages::propose::prepare;

    fn weakness(id: &str) -> Weakness {
        serde_json::from_value(serde_json::json!({
            "id": id, "title": "t", "description": "d", "criticality": "high", "support": "s",
            "surface": "prompts.system", "evidence": [], "tasks": []
        }))
        .unwrap()
    }

    #[test]
    fn every_remedy_loads_and_stays_within_the_budget() {
        let minimal = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let ids = [
            "no-verification",
            "interactive-program",
            "repeated-command",
            "command-timeout",
            "output-flood",
            "unparseable-action",
            "answer-not-alone",
            "context-overflow",
            "gave-up",
            "model-ran-out-of-turns",
            "model-wrong-output-format",
            "model-declared-done-too-early",
        ];
        let mut n = 0;
        for id in ids {
            let remedies = remedies(&minimal, &weakness(id));
            assert!(!remedies.is_empty(), "{id} has a remedy");
            assert!(remedies.len() <= MOST_REMEDIES, "{id}: {} remedies", remedies.len());
            for remedy in remedies {
                n += 1;
                let (candidate, diff, _) = prepare(&minimal, &remedy, &dir.path().join(n.to_string()), CATALOG_BUDGET)
                    .unwrap_or_else(|e| panic!("{id}: {e}: {remedy:?}"));
                assert_ne!(candidate.version(), minimal.version(), "{id}: {diff}");
            }
        }
        let done = remedies(&minimal, &weakness("no-verification"));
        let hook = done.iter().find(|e| e.files().contains(SHOW_CHANGES_FILE)).expect("a completion hook");
        assert_eq!(hook.files(), "harness.toml, harness.toml, hooks/show-changes.sh");
        let (with_hook, diff, _) = prepare(&minimal, hook, &dir.path().join("hook"), CATALOG_BUDGET).unwrap();
        assert_eq!(with_hook.before_completion().unwrap().file, SHOW_CHANGES_FILE);
        assert!(diff.contains("+++ b/hooks/show-changes.sh") && diff.contains("--- /dev/null"), "{diff}");
        assert!(!remedies(&with_hook, &weakness("no-verification"))
            .iter()
            .any(|e| e.files().contains(SHOW_CHANGES_FILE)));
        let survey = done.iter().find(|e| e.files().contains(SURVEY_FILE)).expect("an on-start hook");
        assert_eq!(survey.files(), "harness.toml, hooks/survey.sh");
        let (with_survey, _, _) = prepare(&minimal, survey, &dir.path().join("survey"), CATALOG_BUDGET).unwrap();
        assert_eq!(with_survey.on_start().unwrap().file, SURVEY_FILE);
        assert!(!remedies(&with_survey, &weakness("command-errors")).iter().any(|e| e.files().contains(SURVEY_FILE)));
        let errors = remedies(&minimal, &weakness("command-errors"));
        let hook = errors.iter().find(|e| e.files().contains(EXPLAIN_FILE)).expect("an after-command hook");
        assert_eq!(hook.files(), "harness.toml, harness.toml, hooks/explain.sh, harness.toml, hooks/pending.sh");
        let (with_hook, _, _) = prepare(&minimal, hook, &dir.path().join("explain"), CATALOG_BUDGET).unwrap();
        assert_eq!(with_hook.after_command().unwrap().file, EXPLAIN_FILE);
        assert_eq!(with_hook.before_completion().unwrap().file, PENDING_FILE);
        assert!(!remedies(&with_hook, &weakness("command-errors")).iter().any(|e| e.files().contains(EXPLAIN_FILE)));
        let repeats = remedies(&minimal, &weakness("repeated-command"));
        assert!(repeats.iter().any(|e| e.replace.contains("warn_repeated_failures = true")), "{repeats:?}");
        assert!(repeats.iter().any(|e| e.replace.contains("resample_repeated_failures = 3")), "{repeats:?}");
        assert!(done.iter().any(|e| e.replace.contains("refuse_done_after_failure = true")), "{done:?}");
        let stalls = remedies(&minimal, &weakness("gave-up"));
        assert!(stalls.iter().any(|e| e.replace.contains("resample_idle_replies = 3")), "{stalls:?}");
        let confirm = done.iter().find(|e| e.replace.contains("completion =") && e.more.is_empty()).unwrap();
        assert_eq!(
            (confirm.search.as_str(), confirm.replace.as_str()),
            ("completion = \"declare\"", "completion = \"confirm\"")
        );
        assert!(remedies(&minimal, &weakness("tool-misuse")).is_empty(), "no known remedy, none made up");
        let worded = Weakness { title: "Writes its output in another format than asked".into(), ..weakness("model-w") };
        assert_eq!(kind(&worded), "wrong-output-format", "a known mechanism in the model's words");
        assert_eq!(kind(&Weakness { title: "Forgets the header row".into(), ..worded }), "w", "an unknown one");
    }

    /// minimal as mini-swe-agent's text-based configuration reads replies: a fenced block,
    /// a reply without one refused, done by a command.
    fn markdown_harness(dir: &Path, inline: &str, table: &str) -> Harness {
        let minimal = Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal");
        for file in ["harness.toml", "system.md", "instruction.md", "observation.md", "format_error.md"] {
            std::fs::copy(minimal.join(file), dir.join(file)).unwrap();
        }
        let manifest = std::fs::read_to_string(dir.join("harness.toml")).unwrap().replace(
            "action_format = \"json\"\nparse_retries = 2\ncompletion = \"declare\"",
            &format!("action_format = \"markdown\"\nparse_retries = 2\ncompletion = \"command\"{inline}"),
        );
        std::fs::write(dir.join("harness.toml"), manifest + table).unwrap();
        Harness::load(dir).unwrap()
    }

    #[test]
    fn a_markdown_harness_gets_remedies_in_its_own_format() {
        let dir = tempfile::tempdir().unwrap();
        let tabled = dir.path().join("tabled");
        std::fs::create_dir(&tabled).unwrap();
        let harness = markdown_harness(&tabled, "", "\n[policy.markdown]\ninfo_string = \"mswea_bash_command\"\n");
        let replies = remedies(&harness, &weakness("unparseable-action"));
        let text: Vec<&str> = replies.iter().map(|e| e.replace.as_str()).collect();
        assert!(text.iter().any(|t| t.contains("exactly one ```mswea_bash_command block")), "{text:?}");
        assert!(!text.iter().any(|t| t.contains("JSON")), "no JSON advice for a markdown harness: {text:?}");
        assert!(text.contains(&"[policy.markdown]\nno_block = \"done\""), "{text:?}");
        assert!(text.contains(&"[policy.markdown]\nseveral_blocks = \"first\""), "{text:?}");
        assert!(remedies(&harness, &weakness("gave-up")).iter().any(|e| e.replace.contains("no_block = \"done\"")));
        let mut prose = None;
        for (n, remedy) in replies.iter().enumerate() {
            let (candidate, _, _) = prepare(&harness, remedy, &dir.path().join(n.to_string()), CATALOG_BUDGET)
                .unwrap_or_else(|e| panic!("loads: {e}: {remedy:?}"));
            if remedy.replace.contains("no_block") {
                prose = Some(candidate);
            }
        }
        let prose = prose.unwrap();
        assert_eq!(prose.policy().markdown.no_block, NoBlock::Done);
        assert!(
            !remedies(&prose, &weakness("gave-up")).iter().any(|e| e.replace.contains("no_block")),
            "in place already"
        );

        let inline = dir.path().join("inline");
        std::fs::create_dir(&inline).unwrap();
        let harness = markdown_harness(&inline, "\nmarkdown = { info_string = \"bash\" }", "");
        let replies = remedies(&harness, &weakness("unparseable-action"));
        assert!(!replies.iter().any(|e| e.replace.contains("no_block")), "an inline table is left alone: {replies:?}");
        assert!(remedies(&minimal(), &weakness("unparseable-action"))
            .iter()
            .any(|e| e.replace.contains("one JSON object")));
    }

    fn minimal() -> Harness {
        Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap()
    }

    #[test]
    fn a_remedy_in_place_is_not_proposed_again_and_a_missing_key_is_added() {
        assert_eq!(set_policy("[policy]\ncompletion = \"confirm\"\n", "completion", "\"confirm\"", "w"), None);
        let added = set_policy("name = \"x\"\n[policy]\nmax_turns = 3\n", "completion", "\"confirm\"", "w").unwrap();
        assert_eq!((added.search.as_str(), added.replace.as_str()), ("[policy]", "[policy]\ncompletion = \"confirm\""));
        let table = set_policy("name = \"x\"\n", "completion", "\"confirm\"", "w").unwrap();
        assert_eq!((table.search.as_str(), table.replace.as_str()), ("", "\n[policy]\ncompletion = \"confirm\""));
        let dotted =
            set_policy("[policy]\nmarkdown.no_block = \"format_error\"\n", "markdown.no_block", "\"done\"", "w");
        assert_eq!(dotted.unwrap().replace, "markdown.no_block = \"done\"", "the key as it is written");
        let nested = set_policy("[policy]\nmax_turns = 3\n", "markdown.no_block", "\"done\"", "w").unwrap();
        assert_eq!((nested.search.as_str(), nested.replace.as_str()), ("", "\n[policy.markdown]\nno_block = \"done\""));
    }
}
