//! mini-swe-agent's configurations in and out, for real: the installed package's own
//! configurations (`mini-swe-agent==2.4.6`, from `scripts/setup-mini-swe-agent.sh` into
//! `.venv-mini`) imported as harness folders that load and render, the translation
//! undone by an export, and an exported harness run by mini-swe-agent's own CLI against a
//! scripted OpenAI-compatible server and a local Docker container, doing what the harness
//! says. Never skipped for want of the package: without `.venv-mini` the tests fail and
//! name the script.

mod common;
mod support;

use std::path::PathBuf;

use self_harness::harness::{ActionFormat, Completion, Harness, PromptContext, ShellMode, Uname};
use serde_json::Value;
use support::{Reply, ScriptedModel};

fn venv() -> PathBuf {
    let venv = common::repo_root().join(".venv-mini");
    assert!(
        venv.join("bin/mini").is_file(),
        "mini-swe-agent is not installed at {}: run scripts/setup-mini-swe-agent.sh",
        venv.display()
    );
    venv
}

/// Both packaged configurations, imported into a fresh folder.
fn imported() -> (tempfile::TempDir, Value) {
    let out = tempfile::tempdir().unwrap();
    let python = venv().join("bin/python");
    let output = common::run(
        common::bin()
            .args(["harness", "import", "mini-swe-agent", "--json", "--out"])
            .arg(out.path())
            .arg("--python")
            .arg(python),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (out, serde_json::from_slice(&output.stdout).unwrap())
}

fn context() -> PromptContext {
    PromptContext {
        instruction: "Count the files in /app.".into(),
        task_name: "count".into(),
        workdir: "/app".into(),
        uname: Uname::parse("Linux\n6.1.0\n#1 SMP\nx86_64\n"),
        ..Default::default()
    }
}

#[test]
fn the_packages_own_configurations_import_as_harnesses_that_load_and_render() {
    let (out, report) = imported();
    let text_based = Harness::load(out.path().join("mini-swe-agent-textbased")).unwrap_or_else(|d| panic!("{d:#?}"));
    let policy = text_based.policy();
    assert_eq!(policy.action_format, ActionFormat::Markdown);
    assert_eq!(policy.markdown.info_string, "mswea_bash_command");
    assert_eq!(
        (policy.completion, policy.completion_signal.as_str()),
        (Completion::Command, "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT")
    );
    assert_eq!((policy.shell, policy.max_turns, policy.command_timeout_secs), (ShellMode::Fresh, 1000, 30));
    assert_eq!(policy.env.get("PAGER").map(String::as_str), Some("cat"));

    let instruction = text_based.render_instruction(&context()).unwrap();
    assert!(instruction.starts_with("Please solve this issue: Count the files in /app."), "{instruction}");
    assert!(instruction.contains("Linux 6.1.0 #1 SMP x86_64"), "the platform line: {instruction}");
    let system = text_based.render_system(&context()).unwrap();
    assert!(system.contains("```mswea_bash_command"), "{system}");
    let seen = self_harness::harness::Observation {
        command: "ls".into(),
        exit_code: Some(0),
        output: "a\nb\n".into(),
        truncated: false,
        omitted_bytes: 0,
        timed_out: false,
        timeout_secs: 30,
        exception_info: String::new(),
    };
    let observation = text_based.render_observation(&context(), &seen).unwrap();
    assert_eq!(observation, "<returncode>0</returncode>\n<output>\na\nb\n</output>");
    let problem = self_harness::harness::FormatError {
        error: "has 2 ```mswea_bash_command code blocks where one is expected".into(),
        actions: vec!["ls".into(), "pwd".into()],
        finish_reason: "stop".into(),
        has_tool_calls: false,
    };
    let said = text_based.render_format_error(&context(), &problem).unwrap();
    assert!(said.contains("found 2 actions"), "{said}");

    let tool_calls = Harness::load(out.path().join("mini-swe-agent")).unwrap_or_else(|d| panic!("{d:#?}"));
    assert_eq!(
        (tool_calls.policy().action_format, tool_calls.policy().command_tool.as_str()),
        (ActionFormat::ToolCalls, "bash")
    );
    let spec = tool_calls.tool_spec();
    assert_eq!(spec.as_array().unwrap().len(), 1, "no done tool: it finishes by a command: {spec}");

    // What did not map is said, in the report and in the folder.
    let notes = report["harnesses"][0]["notes"].as_array().unwrap();
    let said = |what: &str| notes.iter().any(|n| n.as_str().unwrap().contains(what));
    assert!(said("agent.cost_limit") && said("agent.mode") && said("bash -lc") && said("step_limit"), "{notes:?}");
    let imported = std::fs::read_to_string(out.path().join("mini-swe-agent-textbased/IMPORTED.md")).unwrap();
    assert!(imported.contains("agent.cost_limit") && imported.contains("mini-swe-agent 2.4.6"), "{imported}");
}

#[test]
fn an_export_undoes_the_import() {
    let (out, _) = imported();
    for name in ["mini-swe-agent-textbased", "mini-swe-agent"] {
        let first = out.path().join(name);
        let exported = common::run(common::bin().args(["harness", "export", "mini-swe-agent"]).arg(&first));
        assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
        let yaml = out.path().join(format!("{name}.yaml"));
        std::fs::write(&yaml, &exported.stdout).unwrap();
        let second = out.path().join(format!("{name}-again"));
        let again = common::run(
            common::bin()
                .args(["harness", "import", "mini-swe-agent"])
                .arg(&yaml)
                .arg("--out")
                .arg(&second)
                .args(["--name", name]),
        );
        assert!(again.status.success(), "{}", String::from_utf8_lossy(&again.stderr));
        for file in ["system.md", "instruction.md", "observation.md", "format_error.md"] {
            let a = std::fs::read_to_string(first.join(file)).unwrap();
            let b = std::fs::read_to_string(second.join(file)).unwrap();
            assert_eq!(a, b, "{name}/{file} changed on the way out and back");
        }
        let (a, b) = (Harness::load(&first).unwrap(), Harness::load(&second).unwrap());
        assert_eq!(a.policy(), b.policy(), "{name}: the policy changed on the way out and back");
    }
}

#[test]
fn a_configuration_that_is_not_one_is_refused_with_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.yaml");
    for (text, line, what) in [
        ("model:\n  observation_template: x\n", "config.yaml:1:", "no `agent` section"),
        ("agent:\n  system_template: hi\n  instance_template: |\n    {% if task %}\n", "config.yaml:3:", "does not compile"),
        ("agent:\n  system_template: hi\n  instance_template: '{{task}}'\nmodel:\n  model_class: litellm_textbased\n  action_regex: '```(['\n", "config.yaml:6:", "action_regex"),
    ] {
        std::fs::write(&config, text).unwrap();
        let output = common::run(common::bin().args(["harness", "import", "mini-swe-agent"]).arg(&config).arg("--out").arg(dir.path().join("h")));
        assert_eq!(output.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(line) && stderr.contains(what), "{stderr}");
        assert!(!dir.path().join("h").exists(), "nothing half written");
    }
}

/// The last message of the `n`th request the scripted model got.
fn last_message(model: &ScriptedModel, n: usize) -> String {
    model.requests()[n].messages().last().unwrap()["content"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn mini_swe_agents_own_cli_runs_an_exported_harness() {
    if !common::docker_available() {
        return;
    }
    let (out, _) = imported();
    // The harness as the loop might leave it: its own system prompt and observation.
    let harness = out.path().join("mini-swe-agent-textbased");
    std::fs::write(harness.join("system.md"), "You are evolved: SYSTEM-MARK on {{ uname.system }}.").unwrap();
    std::fs::write(harness.join("observation.md"), "RC={{ exit_code }} OUT={{ output }}").unwrap();
    let exported = common::run(common::bin().args(["harness", "export", "mini-swe-agent"]).arg(&harness));
    assert!(exported.status.success(), "{}", String::from_utf8_lossy(&exported.stderr));
    let config = out.path().join("config.yaml");
    std::fs::write(&config, &exported.stdout).unwrap();

    let model = ScriptedModel::start(vec![
        Reply::text("THOUGHT: greet.\n\n```mswea_bash_command\necho hello-from-$((6*7))\n```"),
        Reply::text("THOUGHT: finished.\n\n```mswea_bash_command\necho COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT\n```"),
        Reply::text("THOUGHT: never asked.\n\n```mswea_bash_command\necho too far\n```"),
    ])
    .await;
    let trajectory = out.path().join("trajectory.json");
    // Asynchronously: the scripted model answers on this test's own runtime.
    let mini = tokio::process::Command::new(venv().join("bin/mini"))
        .args(["-m", "openai/scripted", "-c"])
        .arg(&config)
        .arg("-c")
        .arg(format!("model.model_kwargs.api_base={}", model.base_url()))
        .args(["-c", "environment.environment_class=docker", "-c", "environment.image=self-harness/base:trixie"])
        .args(["-y", "--exit-immediately", "-t", "Say hello.", "-o"])
        .arg(&trajectory)
        .env("MSWEA_CONFIGURED", "true")
        .env("LITELLM_LOCAL_MODEL_COST_MAP", "True")
        .env("MSWEA_COST_TRACKING", "ignore_errors")
        .env("OPENAI_API_KEY", "not-used")
        .current_dir(out.path())
        .output()
        .await
        .expect("run mini");
    let said = format!("{}\n{}", String::from_utf8_lossy(&mini.stdout), String::from_utf8_lossy(&mini.stderr));
    assert!(mini.status.success(), "{said}");

    let requests = model.requests();
    assert_eq!(requests.len(), 2, "mini-swe-agent stopped at the completion command: {said}");
    let system = requests[0].messages()[0]["content"].as_str().unwrap_or_default().to_string();
    assert_eq!(
        system, "You are evolved: SYSTEM-MARK on Linux.",
        "the harness's system prompt, as mini-swe-agent renders it"
    );
    assert!(last_message(&model, 0).starts_with("Please solve this issue: Say hello."));
    assert_eq!(
        last_message(&model, 1),
        "RC=0 OUT=hello-from-42\n",
        "the harness's observation, of the command run in the container"
    );
    let trajectory: Value = serde_json::from_str(&std::fs::read_to_string(&trajectory).unwrap()).unwrap();
    assert_eq!(trajectory["info"]["exit_status"], "Submitted", "{trajectory}");
}

/// Terminus-2's prompt, imported from the installed `harbor` package into a fresh folder.
fn terminus_imported() -> (tempfile::TempDir, Value) {
    let out = tempfile::tempdir().unwrap();
    let output = common::run(
        common::bin()
            .args(["harness", "import", "terminus-2", "--json", "--out"])
            .arg(out.path())
            .arg("--python")
            .arg(common::harbor_python()),
    );
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    (out, serde_json::from_slice(&output.stdout).unwrap())
}

#[tokio::test]
async fn terminus_2_imports_as_a_keystrokes_harness_that_solves_a_task_in_a_container() {
    let (out, report) = terminus_imported();
    let dir = out.path().join("terminus-2");
    let harness = Harness::load(&dir).unwrap_or_else(|d| panic!("{d:#?}"));
    let policy = harness.policy();
    assert_eq!((policy.action_format, policy.completion), (ActionFormat::Keystrokes, Completion::Twice));
    let context = PromptContext { terminal: "Current Terminal Screen:\nroot@box:/app#".into(), ..context() };
    let first = harness.render_instruction(&context).unwrap();
    assert!(first.contains("\"keystrokes\": \"ls -la\\n\""), "the package's own prompt, braces undone: {first}");
    assert!(first.contains("Task Description:\nCount the files in /app."), "{first}");
    assert!(first.contains("Current terminal state:\nCurrent Terminal Screen:\nroot@box:/app#"), "{first}");
    assert_eq!(harness.render_system(&context).unwrap(), "", "Terminus-2 has no system prompt");
    let notes = report["harnesses"][0]["notes"].as_array().unwrap();
    assert!(notes.iter().any(|n| n.as_str().unwrap().contains("not tmux")), "{notes:?}");
    let imported = std::fs::read_to_string(dir.join("IMPORTED.md")).unwrap();
    assert!(imported.contains("harbor 0.25.0 agents/terminus_2/templates/terminus-json-plain.txt"), "{imported}");

    if !common::docker_available() {
        return;
    }
    let reply = |commands: Value, complete: bool| {
        let object = serde_json::json!({"analysis": "a", "plan": "p", "commands": commands, "task_complete": complete});
        Reply::text(format!("{object}\n"))
    };
    let model = ScriptedModel::start(vec![
        reply(serde_json::json!([{"keystrokes": "echo hello > /app/greeting.txt\n", "duration": 0.2}]), true),
        reply(serde_json::json!([]), true),
    ])
    .await;
    let client = self_harness::llm::Client::new(model.config()).unwrap();
    let engine = self_harness::sandbox::Engine::connect().await.expect("Docker engine reachable");
    let task = self_harness::task::Task::load(&common::fixture("oracle/right-solution")).unwrap();
    let spec = self_harness::agent::EpisodeSpec {
        task: &task,
        harness: &harness,
        client: &client,
        model: "scripted".into(),
        seed: 0,
        attempt: 0,
        dir: out.path().join("episode"),
        time_limit: None,
    };
    let result = self_harness::agent::run_episode(&engine, &spec, &|_| {}).await.unwrap();
    assert!(result.outcome.passed, "{:?}", result.outcome);
    let messages = model.requests()[0].messages();
    assert_eq!(messages[0]["content"], "", "an empty system message");
    let first = messages[1]["content"].as_str().unwrap();
    assert!(first.contains("Current terminal state:\nCurrent Terminal Screen:\n"), "the pane's first screen: {first}");
    assert!(first.trim_end().ends_with('#'), "a root prompt: {first}");
    let confirm = last_message(&model, 1);
    assert!(confirm.starts_with("New Terminal Output:\n"), "{confirm}");
    assert!(confirm.contains("task_complete\": true again"), "{confirm}");
}

#[test]
fn a_terminus_prompt_that_is_no_format_string_is_refused_with_the_file_and_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let prompt = dir.path().join("prompt.txt");
    std::fs::write(&prompt, "Reply in JSON.\nTask: {instruction}\nScreen: {terminal_state!r}\n").unwrap();
    let output = common::run(
        common::bin().args(["harness", "import", "terminus-2"]).arg(&prompt).arg("--out").arg(dir.path().join("h")),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("prompt.txt:3:") && stderr.contains("not a plain variable"), "{stderr}");
    assert!(!dir.path().join("h").exists(), "nothing half written");
}
