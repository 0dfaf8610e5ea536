//! Workspace trust, with a real HTTP listener on this machine where a stranger's repository
//! points its `self-harness.toml`: the canary key never arrives while that file is
//! untrusted — over loopback, by the command line and by the language server, whichever
//! variable the file names; after `self-harness trust` it does; after an edit to the file it
//! no longer does. An editor in restricted mode starts no job at all.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde_json::{json, Value};
use support::lsp_client::LspClient;
use support::vim_project::{vim_model, workspace};
use support::{prepared_store, ScriptedModel};

/// The secret in the variable the repository's file names, and the user's usual key.
const CANARY: &str = "canary-0f9e8d7c6b5a";
const USUAL: &str = "sk-usual-1a2b3c4d5e";

struct Project {
    _root: tempfile::TempDir,
    harness: PathBuf,
    cwd: PathBuf,
    config_home: tempfile::TempDir,
    config: PathBuf,
}

/// A cloned repository: a harness, a mined weakness to propose for, and a self-harness.toml
/// that sends the model's requests to `model` and names the canary's variable.
fn project(model: &ScriptedModel) -> Project {
    let (root, _tasks, harness, cwd) = workspace();
    prepared_store::for_editor(&cwd, &harness);
    let config = cwd.join("self-harness.toml");
    let text = format!(
        "[model]\nbase_url = \"{}\"\nmodel = \"vim-lover\"\napi_key_env = \"CANARY_TOKEN\"\n",
        model.base_url()
    );
    std::fs::write(&config, text).unwrap();
    Project { _root: root, harness, cwd, config_home: tempfile::tempdir().unwrap(), config }
}

fn environment(project: &Project) -> Vec<(&'static str, String)> {
    vec![
        ("XDG_CONFIG_HOME", project.config_home.path().display().to_string()),
        ("CANARY_TOKEN", CANARY.to_string()),
        ("OPENAI_API_KEY", USUAL.to_string()),
    ]
}

fn cli(project: &Project, args: &[&str]) -> Command {
    let mut command = common::bin();
    command.current_dir(&project.cwd).args(args);
    for variable in ["OPENAI_BASE_URL", "OPENAI_MODEL", "SELF_HARNESS_MODEL", "SELF_HARNESS_TRUSTED_ENDPOINTS"] {
        command.env_remove(variable);
    }
    command.envs(environment(project));
    command
}

async fn output(mut command: Command) -> Output {
    tokio::task::spawn_blocking(move || command.output().unwrap()).await.unwrap()
}

async fn propose_by_cli(project: &Project) -> Output {
    let harness = project.harness.display().to_string();
    output(cli(project, &["propose", "--harness", &harness, "--weakness", "interactive-program", "--candidates", "1"]))
        .await
}

/// The `Authorization` headers of the requests the model received after the first `from`.
fn authorizations(model: &ScriptedModel, from: usize) -> Vec<Option<String>> {
    let requests = model.requests();
    assert!(requests.len() > from, "the model was asked");
    requests[from..].iter().map(|r| r.header("authorization").map(str::to_string)).collect()
}

fn no_secret_left(model: &ScriptedModel, from: usize) {
    for request in &model.requests()[from..] {
        let seen = format!("{:?} {}", request.headers, request.body);
        assert!(!seen.contains(CANARY) && !seen.contains(USUAL), "a key left: {seen}");
    }
}

async fn lsp(project: &Project, options: Value) -> LspClient {
    let bin = Path::new(env!("CARGO_BIN_EXE_self-harness"));
    let env = environment(project);
    let pairs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut client = LspClient::spawn(bin, &project.cwd, &pairs).await;
    client.initialize(&project.cwd, options).await;
    client
}

/// Runs the editor's propose job to its end: how it ended, and its message.
async fn propose_by_lsp(client: &mut LspClient) -> (String, String) {
    let arguments = json!([{"weakness": "interactive-program"}]);
    let reply =
        client.request("workspace/executeCommand", json!({"command": "selfHarness.propose", "arguments": arguments}));
    let id = reply.await.unwrap()["job"].as_str().unwrap().to_string();
    let message = client
        .wait_for("selfHarness/jobs", Duration::from_secs(120), |p| {
            p["jobs"].as_array().unwrap().iter().any(|j| j["id"] == id && j["state"] != "running")
        })
        .await;
    let job = message["params"]["jobs"].as_array().unwrap().iter().find(|j| j["id"] == id).unwrap().clone();
    (job["state"].as_str().unwrap().to_string(), job["message"].as_str().unwrap().to_string())
}

#[tokio::test]
async fn a_repositorys_config_gets_no_key_until_trusted_and_none_after_an_edit() {
    let model = ScriptedModel::responding(vim_model).await;
    let project = project(&model);

    // Untrusted, on this machine's loopback: asked, but with no key, and told why once.
    let untrusted = propose_by_cli(&project).await;
    let stderr = String::from_utf8_lossy(&untrusted.stderr);
    assert!(authorizations(&model, 0).iter().all(Option::is_none), "{stderr}");
    no_secret_left(&model, 0);
    let file = project.config.display().to_string();
    assert!(
        stderr.contains(&format!("{file} is not trusted, so its api_key_env = \"CANARY_TOKEN\" is ignored")),
        "{stderr}"
    );
    assert!(stderr.contains(&format!("run `self-harness trust {file}`")), "{stderr}");

    // Trusted: its variable is read and its endpoint gets the key.
    let trusted = output(cli(&project, &["trust"])).await;
    assert!(trusted.status.success(), "{}", String::from_utf8_lossy(&trusted.stderr));
    let listed = output(cli(&project, &["trust", "--list", "--json"])).await;
    let listed: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed[0]["state"], "trusted", "{listed}");
    let asked = model.requests().len();
    let run = propose_by_cli(&project).await;
    let bearer = Some(format!("Bearer {CANARY}"));
    assert!(authorizations(&model, asked).iter().all(|a| *a == bearer), "{run:?}");

    // Edited after trusting (a `git pull`): untrusted again, by the CLI and the editor.
    let mut text = std::fs::read_to_string(&project.config).unwrap();
    text.push_str("# pulled\n");
    std::fs::write(&project.config, &text).unwrap();
    let asked = model.requests().len();
    propose_by_cli(&project).await;
    assert!(authorizations(&model, asked).iter().all(Option::is_none));
    no_secret_left(&model, asked);
    let listed = output(cli(&project, &["trust", "--list"])).await;
    assert!(String::from_utf8_lossy(&listed.stdout).contains("changed since (untrusted)"));

    let harness = json!({"harness": project.harness});
    let mut editor = lsp(&project, harness.clone()).await;
    let asked = model.requests().len();
    let (state, message) = propose_by_lsp(&mut editor).await;
    assert_eq!(state, "done", "{message}");
    assert!(authorizations(&model, asked).iter().all(Option::is_none));
    no_secret_left(&model, asked);
    editor.shutdown().await;

    // Trusted again, the editor's jobs send it too.
    assert!(output(cli(&project, &["trust"])).await.status.success());
    let mut editor = lsp(&project, harness.clone()).await;
    let asked = model.requests().len();
    let (state, message) = propose_by_lsp(&mut editor).await;
    assert_eq!(state, "done", "{message}");
    assert!(authorizations(&model, asked).iter().all(|a| *a == bearer));
    editor.shutdown().await;

    // An editor in restricted mode (VS Code's Workspace Trust refused) starts no job.
    let mut restricted = lsp(&project, json!({"harness": project.harness, "workspaceTrusted": false})).await;
    let asked = model.requests().len();
    let (state, message) = propose_by_lsp(&mut restricted).await;
    assert_eq!(state, "failed");
    assert!(message.contains("not trusted"), "{message}");
    assert_eq!(model.requests().len(), asked, "no request at all");
    restricted.shutdown().await;

    // Revoked: untrusted once more.
    assert!(output(cli(&project, &["trust", "--revoke"])).await.status.success());
    let asked = model.requests().len();
    propose_by_cli(&project).await;
    assert!(authorizations(&model, asked).iter().all(Option::is_none));
    no_secret_left(&model, asked);
}
