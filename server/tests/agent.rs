//! The agent against a scripted OpenAI-compatible model and real containers: each harness
//! policy (parse retries, command timeout, truncation, completion hook, turn limit, context
//! budget) and each model failure ends up in the trace with the right error class.

mod common;
mod support;

use std::path::{Path, PathBuf};

use self_harness::agent::{run_episode, EpisodeResult, EpisodeSpec};
use self_harness::config::ModelConfig;
use self_harness::harness::Harness;
use self_harness::llm::Client;
use self_harness::sandbox::Engine;
use self_harness::stages::propose;
use self_harness::task::Task;
use self_harness::trace::{self, EpisodeErrorKind};
use serde_json::json;
use support::{Reply, ScriptedModel};

/// The minimal harness, copied and edited: `edits` are (old text, new text) in harness.toml.
fn harness_with(dir: &Path, edits: &[(&str, &str)], extra_files: &[(&str, &str)]) -> Harness {
    let source = common::repo_root().join("harnesses/minimal");
    for entry in std::fs::read_dir(&source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    let manifest = dir.join("harness.toml");
    let mut text = std::fs::read_to_string(&manifest).unwrap();
    for (old, new) in edits {
        assert!(text.contains(old), "harness.toml has no {old:?}");
        text = text.replace(old, new);
    }
    std::fs::write(&manifest, text).unwrap();
    for (name, content) in extra_files {
        std::fs::write(dir.join(name), content).unwrap();
    }
    Harness::load(dir).unwrap_or_else(|d| panic!("{d:?}"))
}

fn action(command: Option<&str>, done: bool) -> Reply {
    Reply::json(&json!({"thought": "next step", "command": command, "done": done}))
}

struct Run {
    result: EpisodeResult,
    trace: trace::Trace,
    model: ScriptedModel,
}

async fn episode(harness: &Harness, replies: Vec<Reply>) -> Run {
    episode_with_retries(harness, replies, 0).await
}

async fn episode_with_retries(harness: &Harness, replies: Vec<Reply>, max_retries: u32) -> Run {
    let model = ScriptedModel::start(replies).await;
    let client = Client::new(ModelConfig { max_retries, ..model.config() }).unwrap();
    let engine = Engine::connect().await.expect("Docker engine reachable (set SELF_HARNESS_SKIP_DOCKER=1 to skip)");
    let task = Task::load(&common::fixture("oracle/right-solution")).unwrap();
    let dir = tempfile::tempdir().unwrap().keep();
    let spec = EpisodeSpec {
        task: &task,
        harness,
        client: &client,
        model: "scripted".into(),
        seed: 1,
        attempt: 0,
        dir: dir.join("episode"),
        time_limit: None,
    };
    let result = run_episode(&engine, &spec, &|_| {}).await.unwrap();
    assert_eq!(result.trace, dir.join("episode/trace.jsonl"));
    let trace = trace::read(&result.trace).unwrap();
    assert_eq!(trace.outcome.as_ref(), Some(&result.outcome), "the trace ends with the outcome");
    Run { result, trace, model }
}

fn last_user_message(model: &ScriptedModel, request: usize) -> String {
    let messages = model.requests()[request].messages();
    messages.last().unwrap()["content"].as_str().unwrap().to_string()
}

fn tempdir() -> PathBuf {
    tempfile::tempdir().unwrap().keep()
}

/// `harnesses/minimal` with the catalog's remedy for the weakness `id` whose files name `hook`.
fn catalog_remedy(id: &str, hook: &str) -> Harness {
    let minimal = Harness::load(common::repo_root().join("harnesses/minimal")).unwrap();
    let weakness = serde_json::from_value(json!({
        "id": id, "title": "t", "description": "d", "criticality": "high", "support": "s",
        "surface": "prompts.system", "evidence": [], "tasks": []
    }))
    .unwrap();
    let remedy = propose::remedies(&minimal, &weakness).into_iter().find(|e| e.files().contains(hook)).unwrap();
    propose::prepare(&minimal, &remedy, &tempdir().join("h"), propose::CATALOG_BUDGET).unwrap().0
}

#[tokio::test]
async fn json_actions_solve_a_task_and_leave_a_complete_trace() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[], &[]);
    let run = episode(
        &harness,
        vec![action(Some("echo hello > /app/greeting.txt"), false), action(Some("cat /app/greeting.txt"), true)],
    )
    .await;
    let outcome = &run.result.outcome;
    assert_eq!((outcome.passed, outcome.error_class, outcome.turns), (true, EpisodeErrorKind::None, 2));
    assert_eq!(run.trace.header.harness_version, harness.version());
    assert_eq!(run.trace.turns.len(), 2);
    let second = run.trace.turns[1].command.as_ref().unwrap();
    assert_eq!((second.output_shown.as_str(), second.exit_code), ("hello\n", Some(0)));
    assert!(run.trace.turns[1].done);

    let first = run.model.requests()[0].json();
    assert_eq!(first["response_format"]["type"], "json_schema");
    assert_eq!(first["messages"][0]["role"], "system");
    assert!(first["messages"][1]["content"].as_str().unwrap().contains("/app/greeting.txt"));
    assert_eq!(last_user_message(&run.model, 1), "exit code: 0\n");
}

#[tokio::test]
async fn unparseable_replies_are_answered_then_end_the_episode() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[], &[]);
    let run = episode(
        &harness,
        vec![Reply::text("I will write the file now."), action(Some("echo hello > /app/greeting.txt"), true)],
    )
    .await;
    assert!(run.result.outcome.passed);
    assert!(run.trace.turns[0].parse_error.is_some());
    assert!(last_user_message(&run.model, 1).contains("not a valid action"));

    // parse_retries = 2: the third unparseable reply in a row ends it.
    let run = episode(&harness, vec![Reply::text("a"), Reply::text("b"), Reply::text("c")]).await;
    assert_eq!(run.result.outcome.error_class, EpisodeErrorKind::ParseFailure);
    assert_eq!(
        (run.trace.turns.len(), run.result.outcome.reward),
        (3, Some(0.0)),
        "the tests still judge the container"
    );
}

#[tokio::test]
async fn the_observation_and_format_error_templates_say_what_the_model_sees() {
    if !common::docker_available() {
        return;
    }
    let observation = "rc={{ exit_code }} timed_out={{ timed_out }}{% if truncated %} ({{ omitted_bytes }} bytes cut){% endif %}:\n{{ output }}";
    let harness = harness_with(
        &tempdir(),
        &[
            ("observation = \"observation.md\"", "observation = \"obs.md\""),
            ("format_error = \"format_error.md\"", "format_error = \"bad.md\""),
            ("head_bytes = 4096", "head_bytes = 10"),
            ("tail_bytes = 4096", "tail_bytes = 0"),
        ],
        &[("obs.md", observation), ("bad.md", "Unusable ({{ error }}) in {{ task_name }}.")],
    );
    let run = episode(
        &harness,
        vec![
            Reply::text("hm"),
            action(Some("seq 100 | tr -d '\\n'"), false),
            action(Some("echo hello > /app/greeting.txt"), true),
        ],
    )
    .await;
    assert!(run.result.outcome.passed);
    let error = last_user_message(&run.model, 1);
    assert!(error.starts_with("Unusable (expected value at line 1 column 1) in right-solution."), "{error}");
    assert_eq!(run.trace.turns[0].parse_error.as_deref(), Some(error.as_str()), "the trace keeps what the model saw");
    let seen = last_user_message(&run.model, 2);
    assert!(seen.starts_with("rc=0 timed_out=False (182 bytes cut):\n1234567891\n[... 182 bytes"), "{seen}");
}

#[tokio::test]
async fn a_markdown_reply_runs_its_fenced_command_and_a_reply_without_one_is_told_so() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(
        &tempdir(),
        &[
            (
                "action_format = \"json\"",
                "action_format = \"markdown\"\nmarkdown = { no_block = \"done\", several_blocks = \"join\" }",
            ),
            ("format_error = \"format_error.md\"\n", ""),
        ],
        &[],
    );
    let run = episode(
        &harness,
        vec![
            Reply::text(
                "First the folder.\n\n```bash\ncd /app\n```\n\nthen\n\n```bash\necho hello > greeting.txt\n```",
            ),
            Reply::text("It is written."),
        ],
    )
    .await;
    assert!(run.result.outcome.passed, "{:?}", run.result.outcome);
    let turn = &run.trace.turns[0];
    assert_eq!(turn.command.as_ref().unwrap().text, "cd /app\necho hello > greeting.txt", "joined");
    assert!(run.trace.turns[1].done, "no block: done");
    assert!(run.model.requests()[0].json().get("response_format").is_none(), "nothing constrains the reply");
}

#[tokio::test]
async fn completion_by_a_command_ends_the_episode_and_a_fresh_shell_keeps_nothing_but_its_env() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(
        &tempdir(),
        &[("completion = \"declare\"", "completion = \"command\"\nshell = \"fresh\"\nenv = { GREETING = \"hello\" }")],
        &[],
    );
    let run = episode(
        &harness,
        vec![
            action(Some("cd /tmp && export LOST=1"), false),
            action(Some("pwd; echo \"${LOST:-gone}\"; echo \"$GREETING\" > /app/greeting.txt"), false),
            action(Some("echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"), false),
            action(Some("echo never run"), false),
        ],
    )
    .await;
    assert!(run.result.outcome.passed, "{:?}", run.result.outcome);
    assert_eq!(run.trace.turns[1].command.as_ref().unwrap().output_shown, "/app\ngone\n", "a fresh shell each time");
    assert_eq!(run.trace.turns.len(), 3, "the signal ended it: {:#?}", run.trace.turns);
    assert_eq!(run.trace.turns[2].notice.as_deref(), Some("completion signal"));
}

#[tokio::test]
async fn a_command_that_outlives_its_timeout_is_stopped_and_the_model_told() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[("command_timeout_secs = 120", "command_timeout_secs = 2")], &[]);
    let run =
        episode(&harness, vec![action(Some("sleep 100"), false), action(Some("echo hello > /app/greeting.txt"), true)])
            .await;
    let command = run.trace.turns[0].command.as_ref().unwrap();
    assert!(command.timed_out && command.exit_code.is_none());
    assert!(command.duration_ms < 30_000.0, "{}", command.duration_ms);
    assert!(last_user_message(&run.model, 1).contains("did not finish within 2 s"));
    assert!(run.result.outcome.passed, "the session survives a timed-out command");
}

#[tokio::test]
async fn long_output_is_truncated_as_the_harness_says() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(
        &tempdir(),
        &[("head_bytes = 4096", "head_bytes = 100"), ("tail_bytes = 4096", "tail_bytes = 100")],
        &[],
    );
    let run = episode(
        &harness,
        vec![action(Some("seq 1 100000"), false), action(Some("echo hello > /app/greeting.txt"), true)],
    )
    .await;
    let command = run.trace.turns[0].command.as_ref().unwrap();
    assert_eq!(command.output_bytes, 588_895);
    assert!(command.output_shown.len() < 300, "{}", command.output_shown.len());
    assert!(command.output_shown.starts_with("1\n2\n3\n") && command.output_shown.ends_with("99999\n100000\n"));
    assert!(command.output_shown.contains("bytes of output omitted"));
    assert!(last_user_message(&run.model, 1).contains("bytes of output omitted"));
}

#[tokio::test]
async fn a_failing_completion_hook_sends_the_model_back_to_work() {
    if !common::docker_available() {
        return;
    }
    let hook = "#!/bin/bash\ntest -s /app/greeting.txt || { echo 'greeting.txt is missing'; exit 1; }\n";
    let harness = harness_with(
        &tempdir(),
        &[
            ("completion = \"declare\"", "completion = \"declare_after_check\""),
            ("[prompts]", "[hooks.before_completion]\nfile = \"check.sh\"\ntimeout_secs = 30\n\n[prompts]"),
        ],
        &[("check.sh", hook)],
    );

    let run = episode(&harness, vec![action(None, true), action(Some("echo hello > /app/greeting.txt"), true)]).await;
    let hook = run.trace.turns[0].hook.as_ref().expect("the hook ran on the first done");
    assert_eq!(hook.exit_code, Some(1));
    assert!(last_user_message(&run.model, 1).contains("greeting.txt is missing"));
    assert_eq!((run.result.outcome.passed, run.result.outcome.turns), (true, 2));
    assert!(run.trace.turns[1].hook.is_none(), "a passing check is not recorded as a failure");
}

#[tokio::test]
async fn the_catalog_hook_shows_once_what_the_episode_changed() {
    if !common::docker_available() {
        return;
    }
    // The remedy as the catalog proposes it: a created hook with the manifest lines that run it.
    let harness = catalog_remedy("no-verification", "show-changes");

    let run = episode(
        &harness,
        vec![
            action(Some("echo 'hello greeting.txt' > /app/greeting.txt"), true),
            action(Some("echo hello > /app/greeting.txt"), true),
        ],
    )
    .await;
    let shown = last_user_message(&run.model, 1);
    let listed: Vec<&str> = shown.lines().filter(|l| l.starts_with("--- ")).collect();
    assert_eq!(listed, ["--- /app/greeting.txt"], "only what the episode changed, not the image: {shown}");
    assert!(shown.contains("--- /app/greeting.txt\nhello greeting.txt\n"), "{shown}");
    assert_eq!(run.trace.turns[0].notice.as_deref(), Some("completion check failed"));
    assert_eq!((run.result.outcome.passed, run.result.outcome.turns), (true, 2), "shown once, then done counts");
}

#[tokio::test]
async fn the_catalog_explain_hook_hands_over_the_way_out_and_holds_done_back_once() {
    if !common::docker_available() {
        return;
    }
    let harness = catalog_remedy("command-errors", "explain");

    let run = episode(
        &harness,
        vec![
            action(Some("frobnicate /app"), false),
            action(Some("wc -c /etc/hostname > /app/greeting.txt"), true),
            action(Some("echo hello > /app/greeting.txt"), true),
        ],
    )
    .await;
    let missing = last_user_message(&run.model, 1);
    assert!(
        missing.contains("Note: frobnicate is not installed, and nothing can be installed (no network)"),
        "{missing}"
    );
    let named = last_user_message(&run.model, 2);
    let way_out = "To write the number alone: wc -c < /etc/hostname > /app/greeting.txt";
    assert!(named.contains(&format!("Note: wc printed the file name beside the number. {way_out}")), "{named}");
    assert!(named.contains("Not done yet. After your last command you were told:"), "done held back: {named}");
    assert_eq!(run.trace.turns[1].notice.as_deref(), Some("completion check failed"));
    assert_eq!((run.result.outcome.passed, run.result.outcome.turns), (true, 3), "a clean command, then done counts");
}

#[tokio::test]
async fn the_catalog_survey_hook_shows_the_container_before_the_first_turn() {
    if !common::docker_available() {
        return;
    }
    let harness = catalog_remedy("no-verification", "survey");
    let run = episode(&harness, vec![action(Some("echo hello > /app/greeting.txt"), true)]).await;
    let first = run.model.requests()[0].messages()[1]["content"].as_str().unwrap().to_string();
    let (instruction, said) =
        first.split_once("\n\nWhat is in /app now (looked up before your first turn):").expect(&first);
    assert!(instruction.contains("/app/greeting.txt"), "the instruction comes first: {first}");
    assert!(said.contains("Not installed: jq"), "{said}");
    let record = run.trace.turns[0].on_start.as_ref().expect("the hook's run is in the first turn's record");
    assert_eq!((record.text.as_str(), record.exit_code), ("on_start", Some(0)));
    assert!(first.ends_with(record.output_shown.trim_end()), "the model saw what the trace keeps");
    assert!(run.result.outcome.passed);
}

/// InterCode's tasks start in `/`: the survey must not read `/dev/zero` or `/proc/kmsg`
/// (it once ran `wc -l < /dev/zero` until the episode's time was up, starving the model).
#[tokio::test]
async fn the_catalog_survey_hook_is_quick_in_the_root_folder() {
    if !common::docker_available() {
        return;
    }
    let harness = catalog_remedy("no-verification", "survey");
    let script = std::fs::read(harness.dir().join("hooks/survey.sh")).unwrap();
    let engine = Engine::connect().await.unwrap();
    let spec = self_harness::sandbox::SandboxSpec {
        image: self_harness::sandbox::base::TRIXIE.tag.into(),
        name_hint: "survey-root".into(),
        cpus: None,
        memory_bytes: None,
        storage_bytes: None,
        pids_limit: 256,
        allow_internet: false,
        lifetime: std::time::Duration::from_secs(300),
    };
    let sandbox = engine.start_sandbox(&spec).await.unwrap();
    sandbox.write_file("/tmp/survey.sh", &script, 0o755).await.unwrap();
    let options = self_harness::sandbox::ExecOptions::with_timeout(std::time::Duration::from_secs(30));
    // As in an InterCode task: a repository at the root (its judge's change set).
    let out = sandbox.exec("git init -q / && cd / && WORKDIR=/ bash /tmp/survey.sh", &options).await.unwrap();
    sandbox.remove().await;
    assert!(!out.timed_out && out.exit_code == Some(0), "{out:?}");
    assert!(out.output.contains("What is in / now") && out.output.contains("  /etc/\n"), "{}", out.output);
    assert!(out.output.contains("Git repository: / (run git there: cd '/' && git status)"), "{}", out.output);
    for kernel in ["/dev/", "/proc/", "/sys/"] {
        assert!(!out.output.contains(kernel), "{kernel} is not surveyed: {}", out.output);
    }
}

#[tokio::test]
async fn the_after_command_hook_speaks_after_each_command() {
    if !common::docker_available() {
        return;
    }
    let hook = "#!/bin/bash\n[ \"$EXIT_CODE\" = 0 ] || echo \"hint: '$COMMAND' failed with $EXIT_CODE\"\n";
    let harness = harness_with(
        &tempdir(),
        &[("[prompts]", "[hooks.after_command]\nfile = \"hint.sh\"\n\n[prompts]")],
        &[("hint.sh", hook)],
    );
    let run = episode(
        &harness,
        vec![action(Some("ls /app/missing"), false), action(Some("echo hello > /app/greeting.txt"), true)],
    )
    .await;
    let after = last_user_message(&run.model, 1);
    assert!(
        after.starts_with("exit code: 2\n") && after.ends_with("\n\nhint: 'ls /app/missing' failed with 2"),
        "{after}"
    );
    let said = run.trace.turns[0].after_command.as_ref().expect("the hook's run is in the trace");
    assert_eq!(said.exit_code, Some(0));
    assert_eq!(run.trace.turns[1].after_command.as_ref().map(|c| c.output_shown.as_str()), Some(""), "silent");
    assert!(run.result.outcome.passed);
}

#[tokio::test]
async fn a_repeated_failing_command_is_pointed_out_when_the_policy_asks() {
    if !common::docker_available() {
        return;
    }
    let failing = "ls /app/missing";
    let replies = || {
        vec![
            action(Some(failing), false),
            action(Some(failing), false),
            action(Some("echo hello > /app/greeting.txt"), true),
        ]
    };
    let warned = harness_with(&tempdir(), &[("[policy]", "[policy]\nwarn_repeated_failures = true")], &[]);
    let run = episode(&warned, replies()).await;
    assert!(!last_user_message(&run.model, 1).contains("You ran exactly this command before"));
    let second = last_user_message(&run.model, 2);
    assert!(second.starts_with("exit code: 2\n") && second.contains("You ran exactly this command before"), "{second}");
    assert_eq!(run.trace.turns[1].notice.as_deref(), Some("repeated a failing command"));

    let silent = episode(&harness_with(&tempdir(), &[], &[]), replies()).await;
    assert!(!last_user_message(&silent.model, 2).contains("You ran exactly"), "off by default");
}

#[tokio::test]
async fn a_repeated_failing_command_is_not_run_again_but_asked_anew_when_the_policy_asks() {
    if !common::docker_available() {
        return;
    }
    let failing = "ls /app/missing";
    let replies = vec![
        action(Some(failing), false),
        action(Some(&format!("  {failing}")), false),
        action(Some(failing), false),
        action(Some("echo hello > /app/greeting.txt"), false),
        action(None, true),
    ];
    let harness = harness_with(&tempdir(), &[("[policy]", "[policy]\nresample_repeated_failures = 2")], &[]);
    let run = episode(&harness, replies).await;
    assert!(run.result.outcome.passed, "{:?}", run.result.outcome);
    assert_eq!(run.trace.turns.len(), 3, "the repeats were asked anew within the second turn");
    let second = &run.trace.turns[1];
    assert_eq!(second.resampled.len(), 2, "both repeats are kept in the trace: {second:?}");
    assert!(second.reply.contains("greeting.txt") && second.command.as_ref().unwrap().text.contains("greeting"));

    let requests = run.model.requests();
    assert_eq!(requests.len(), 5);
    let (first, retry) = (requests[1].json(), requests[2].json());
    assert_eq!(first["temperature"], json!(0.0), "the turn itself is asked at the harness's temperature");
    assert!(retry["temperature"].as_f64().unwrap() > 0.9, "asked anew hotter: {}", retry["temperature"]);
    assert_ne!(first["seed"], retry["seed"], "and with another seed");
    let told = last_user_message(&run.model, 2);
    assert!(told.contains("failed. It is not run again"), "{told}");
    assert_eq!(requests[3].messages().len(), requests[1].messages().len() + 2, "each ask starts from the same turn");
    let ran: Vec<_> = run.trace.turns.iter().filter_map(|t| t.command.as_ref()).map(|c| c.text.clone()).collect();
    assert_eq!(ran.iter().filter(|c| c.trim() == failing).count(), 1, "the failing command ran once: {ran:?}");
    let later = requests[4].messages();
    assert_eq!(later.len(), requests[1].messages().len() + 2, "the conversation keeps only the reply that ran");
    assert!(!later.iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("not run again"))));
}

#[tokio::test]
async fn a_reply_that_runs_nothing_and_is_not_done_is_asked_anew_when_the_policy_asks() {
    if !common::docker_available() {
        return;
    }
    let replies = || {
        vec![
            action(None, false),
            action(None, false),
            action(Some("echo hello > /app/greeting.txt"), false),
            action(None, true),
        ]
    };
    let idle = harness_with(&tempdir(), &[("[policy]", "[policy]\nresample_idle_replies = 2")], &[]);
    let run = episode(&idle, replies()).await;
    assert!(run.result.outcome.passed, "{:?}", run.result.outcome);
    assert_eq!(run.trace.turns.len(), 2, "both idle replies were asked anew within the first turn");
    assert_eq!(run.trace.turns[0].resampled.len(), 2, "{:?}", run.trace.turns[0]);
    let told = last_user_message(&run.model, 1);
    assert!(told.contains("Your reply ran no command and did not say done"), "{told}");
    let requests = run.model.requests();
    assert!(requests[1].json()["temperature"].as_f64().unwrap() > 0.9, "asked anew hotter");
    assert!(
        !requests[3].messages().iter().any(|m| m["content"].as_str().is_some_and(|c| c.contains("ran no command"))),
        "the conversation keeps only the reply that ran"
    );

    // Without the key an idle reply is a turn of its own, answered "No command was run."
    let plain = harness_with(&tempdir(), &[], &[]);
    let run = episode(&plain, replies()).await;
    assert_eq!(run.trace.turns.len(), 4);
    assert!(last_user_message(&run.model, 1).contains("No command was run."));
}

#[tokio::test]
async fn done_after_a_failed_command_is_refused_when_the_policy_asks() {
    if !common::docker_available() {
        return;
    }
    let replies = || {
        vec![
            action(Some("cat /app/greeting.txt"), true),
            action(None, true),
            action(Some("echo hello > /app/greeting.txt"), false),
            action(None, true),
        ]
    };
    let harness = harness_with(&tempdir(), &[("[policy]", "[policy]\nrefuse_done_after_failure = true")], &[]);
    let run = episode(&harness, replies()).await;
    assert_eq!((run.result.outcome.passed, run.result.outcome.turns), (true, 4), "{:?}", run.result.outcome);
    let refused = last_user_message(&run.model, 1);
    assert!(refused.starts_with("exit code: 1\n") && refused.contains("not done yet"), "{refused}");
    assert!(
        last_user_message(&run.model, 2).starts_with("Your latest command failed"),
        "still failed: no command since"
    );
    assert_eq!(run.trace.turns[0].notice.as_deref(), Some("done after a failed command: refused"));
    assert_eq!(run.trace.turns[3].notice, None, "done after a good command counts");

    let declared = episode(&harness_with(&tempdir(), &[], &[]), replies()).await;
    assert_eq!((declared.result.outcome.passed, declared.result.outcome.turns), (false, 1), "off by default");
}

#[tokio::test]
async fn under_confirm_a_command_sent_with_done_is_shown_before_done_counts() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[("completion = \"declare\"", "completion = \"confirm\"")], &[]);
    let run = episode(
        &harness,
        vec![
            action(Some("touch /app/greeting.txt"), true),
            action(Some("echo hello > /app/greeting.txt"), true),
            action(Some("cat /app/greeting.txt"), true),
        ],
    )
    .await;
    assert_eq!((run.result.outcome.passed, run.result.outcome.turns), (true, 2), "done counts when said again");
    let asked = last_user_message(&run.model, 1);
    assert!(asked.starts_with("exit code: 0\n") && asked.contains("say done again"), "{asked}");
    assert_eq!(run.trace.turns[1].notice, None, "the second done is not questioned");
    assert_eq!(run.trace.turns[0].notice.as_deref(), Some("done with a command: asked to confirm"));
    assert!(run.trace.turns[0].done, "the trace keeps what the agent declared");
}

/// A reply in Terminus-2's format: keystroke batches with their waits, and task_complete.
fn keystrokes(batches: &[(&str, f64)], complete: bool) -> Reply {
    let commands: Vec<_> = batches.iter().map(|(keys, wait)| json!({"keystrokes": keys, "duration": wait})).collect();
    let object = json!({"analysis": "looking", "plan": "type", "commands": commands, "task_complete": complete});
    Reply::text(format!("Here is my reply.\n{object}"))
}

#[tokio::test]
async fn keystrokes_are_typed_into_a_terminal_that_can_be_interrupted_and_done_is_said_twice() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(
        &tempdir(),
        &[
            ("action_format = \"json\"", "action_format = \"keystrokes\""),
            ("completion = \"declare\"", "completion = \"twice\""),
            ("format_error = \"format_error.md\"\n", ""),
        ],
        &[("observation.md", "{{ output }}")],
    );
    let run = episode(
        &harness,
        vec![
            // A command that would outlast the episode, interrupted; the shell left and
            // started again; then the work, half a line at a time.
            keystrokes(&[("sleep 100\n", 0.5), ("C-c", 0.5), ("exit\n", 0.5), ("cd /app && echo hel", 0.0)], false),
            keystrokes(&[("lo > greeting.txt\n", 0.3), ("cat greeting.txt\n", 0.3)], true),
            keystrokes(&[], true),
            keystrokes(&[("echo never typed\n", 0.1)], true),
        ],
    )
    .await;
    assert!(run.result.outcome.passed, "{:?}", run.result.outcome);
    assert_eq!(run.trace.turns.len(), 3, "done said twice ends it: {:#?}", run.trace.turns);
    assert!(run.model.requests()[0].json().get("response_format").is_none(), "nothing constrains the reply");

    let first = &run.trace.turns[0];
    let typed = first.command.as_ref().unwrap();
    assert_eq!(typed.text, "sleep 100\nC-c\nexit\ncd /app && echo hel");
    assert_eq!(typed.exit_code, None, "keystrokes have no exit code");
    assert!(typed.duration_ms < 30_000.0, "C-c stopped the sleep: {}", typed.duration_ms);
    let keys = first.action.as_ref().unwrap()["keys"].as_array().unwrap().len();
    assert_eq!(keys, 4, "the trace keeps each batch");
    let seen = last_user_message(&run.model, 1);
    assert!(seen.starts_with("New Terminal Output:\n"), "{seen}");
    assert!(seen.contains("sleep 100") && seen.contains("^C"), "the interrupt is on the screen: {seen}");
    assert!(seen.contains("[the shell exited; a new one was started]"), "{seen}");
    assert!(seen.trim_end().ends_with("echo hel"), "half a line waits at the prompt: {seen}");

    let asked = last_user_message(&run.model, 2);
    assert!(asked.contains("\nhello\n"), "cat's output: {asked}");
    assert!(asked.contains("set \"task_complete\": true again"), "{asked}");
    assert_eq!(run.trace.turns[1].notice.as_deref(), Some("done: asked to confirm"));
    assert_eq!(run.trace.turns[2].notice, None, "the second done is not questioned");
}

#[tokio::test]
async fn under_twice_done_counts_only_when_said_again_in_the_next_reply() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[("completion = \"declare\"", "completion = \"twice\"")], &[]);
    let run = episode(
        &harness,
        vec![
            action(None, true),
            action(Some("echo hello > /app/greeting.txt"), false),
            action(None, true),
            action(None, true),
        ],
    )
    .await;
    assert_eq!((run.result.outcome.passed, run.result.outcome.turns), (true, 4), "asked twice, then it counts");
    assert!(last_user_message(&run.model, 1).contains("say done again"));
    assert_eq!(run.trace.turns[0].notice.as_deref(), Some("done: asked to confirm"));
    assert_eq!(run.trace.turns[2].notice.as_deref(), Some("done: asked to confirm"), "a command in between resets it");
}

#[tokio::test]
async fn the_turn_limit_ends_the_episode_and_the_tests_still_run() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[("max_turns = 30", "max_turns = 2")], &[]);
    let run = episode(&harness, vec![action(Some("ls"), false), action(Some("ls"), false)]).await;
    assert_eq!(run.result.outcome.error_class, EpisodeErrorKind::TurnLimit);
    assert_eq!(run.result.outcome.reward, Some(0.0));
    assert_eq!(run.model.remaining(), 0);
}

#[tokio::test]
async fn context_overflow_follows_the_policy_or_the_model() {
    if !common::docker_available() {
        return;
    }
    // The harness's budget: after a long output the next request would not fit, so it is
    // not sent (on_context_overflow = "fail").
    let harness = harness_with(&tempdir(), &[("context_budget_tokens = 32768", "context_budget_tokens = 1024")], &[]);
    let run = episode(&harness, vec![action(Some("seq 1 3000"), false)]).await;
    assert_eq!(run.result.outcome.error_class, EpisodeErrorKind::ContextOverflow);
    assert_eq!(run.model.requests().len(), 1);
    assert!(run.result.outcome.error_detail.as_deref().unwrap().contains("context budget of 1024"));

    // drop_oldest_turns keeps going instead.
    let harness = harness_with(
        &tempdir(),
        &[
            ("context_budget_tokens = 32768", "context_budget_tokens = 3000"),
            ("on_context_overflow = \"fail\"", "on_context_overflow = \"drop_oldest_turns\""),
        ],
        &[],
    );
    let replies = vec![
        action(Some("seq 1 3000"), false),
        action(Some("seq 1 3000"), false),
        action(Some("echo hello > /app/greeting.txt"), true),
    ];
    let run = episode(&harness, replies).await;
    assert!(run.result.outcome.passed, "{:?}", run.result.outcome);
    assert_eq!(run.model.requests()[2].messages().len(), 4, "system, instruction, the latest exchange");

    // The model's own server says the context is exceeded.
    let harness = harness_with(&tempdir(), &[], &[]);
    let run = episode(&harness, vec![Reply::llama_cpp_context_overflow()]).await;
    assert_eq!(run.result.outcome.error_class, EpisodeErrorKind::ContextOverflow);
}

#[tokio::test]
async fn model_failures_are_classified_and_only_the_endpoints_are_not_counted() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[], &[]);
    // The endpoint failing (a 5xx after retries) is infrastructure: no verdict, not counted.
    let run = episode(&harness, vec![Reply::error(500, "boom")]).await;
    let outcome = &run.result.outcome;
    assert_eq!((outcome.error_class, outcome.reward), (EpisodeErrorKind::InfrastructureError, None));
    assert!(!outcome.error_class.counts());
    assert!(outcome.error_detail.as_deref().unwrap().contains("500"), "{:?}", outcome.error_detail);
    // A request the harness built and the server refused (a 4xx) is the harness's failure:
    // counted, and the tests still judge the sandbox.
    let run = episode(&harness, vec![Reply::error(400, "bad request")]).await;
    let outcome = &run.result.outcome;
    assert_eq!((outcome.error_class, outcome.reward, outcome.passed), (EpisodeErrorKind::ModelError, Some(0.0), false));
    assert!(outcome.error_class.counts());
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_retried_within_a_turn() {
    if !common::docker_available() {
        return;
    }
    let harness = harness_with(&tempdir(), &[], &[]);
    let replies = vec![
        Reply::rate_limited(Some("0")),
        Reply::error(500, "overloaded"),
        action(Some("echo hello > /app/greeting.txt"), true),
    ];
    let run = episode_with_retries(&harness, replies, 2).await;
    assert_eq!((run.result.outcome.passed, run.result.outcome.error_class), (true, EpisodeErrorKind::None));
    assert_eq!((run.trace.turns.len(), run.model.requests().len()), (1, 3), "one turn, three attempts");
}
