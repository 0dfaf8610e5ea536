//! InterCode-ALFA's tasks, for real: imported from the real package (`icalfa==0.3.6`,
//! installed by `scripts/setup-intercode.sh` into `.venv-intercode`, with its wheel), judged
//! by InterCode's rule in real containers — the reference run in a fresh container, the
//! change set, the contents and the answer compared — with the oracle and with nothing run,
//! and by an episode of a scripted model. Never skipped for want of the package: without
//! `.venv-intercode` the tests fail and name the script.

mod common;
mod support;

use std::path::{Path, PathBuf};

use self_harness::agent::{run_episode, EpisodeSpec};
use self_harness::check::{check_task, CheckOptions, CheckStatus, Solver};
use self_harness::harness::Harness;
use self_harness::llm::Client;
use self_harness::pypackage::Package;
use self_harness::sandbox::Engine;
use self_harness::splits::{split, Fractions, Split};
use self_harness::task::{intercode, RewardSource, Suite, Task};
use serde_json::json;
use support::{Reply, ScriptedModel};

fn venv() -> PathBuf {
    let venv = common::repo_root().join(".venv-intercode");
    assert!(
        venv.join("bin/python").is_file(),
        "icalfa is not installed at {}: run scripts/setup-intercode.sh",
        venv.display()
    );
    venv
}

fn installed() -> Package {
    let python = venv().join("bin/python");
    Package::installed(&python.to_string_lossy(), intercode::DIST, intercode::MODULE).expect("icalfa installed")
}

/// The whole suite, imported once per test binary.
fn suite_dir() -> &'static Path {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap().keep().join("intercode");
        intercode::import(&installed(), &dir).unwrap();
        dir
    })
}

fn task(name: &str) -> Task {
    Task::load(&suite_dir().join(name)).unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir)
        .into_iter()
        .map(Result::unwrap)
        .filter(|e| e.file_type().is_file())
        .map(|e| (e.path().strip_prefix(dir).unwrap().display().to_string(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_real_package_gives_300_tasks_byte_identically_from_its_install_and_its_wheel() {
    let package = installed();
    assert_eq!(package.version.as_deref(), Some(intercode::PINNED));
    let first = tempfile::tempdir().unwrap();
    let report = intercode::import(&package, first.path()).unwrap();
    assert_eq!(report.tasks.len(), 300);
    assert!(report.skipped.is_empty(), "{:?}", report.skipped);
    let counts: Vec<(&str, usize)> = report.per_file_system.iter().map(|(fs, n)| (fs.as_str(), *n)).collect();
    assert_eq!(counts, vec![("fs1", 153), ("fs2", 49), ("fs3", 57), ("fs4", 23), ("fs5", 18)]);

    let wheel = venv().join(format!("wheels/icalfa-{}-py3-none-any.whl", intercode::PINNED));
    let from_wheel = Package::open(&wheel, intercode::DIST, intercode::MODULE).unwrap();
    let second = tempfile::tempdir().unwrap();
    intercode::import(&from_wheel, second.path()).unwrap();
    assert!(files(first.path()) == files(second.path()), "the wheel and the install give other bytes");
    intercode::import(&package, second.path()).unwrap();
    assert!(files(first.path()) == files(second.path()), "a second import gives other bytes");

    let suite = Suite::load(first.path()).unwrap();
    assert_eq!((suite.tasks.len(), suite.errors.len()), (300, 0), "{:?}", suite.errors);
    let copy = suite.tasks.iter().find(|t| t.name == "intercode-fs1-003").unwrap();
    assert_eq!(copy.instruction.trim(), "create a copy of /testbed/hello.php named /testbed/hello-COPY.php");
    assert_eq!((copy.metadata.difficulty.as_deref(), copy.metadata.category.as_deref()), (Some("easy"), Some("fs1")));
    let RewardSource::Reference(references) = &copy.verifier.reward else { panic!("judged by its tests") };
    let names: Vec<&str> = references.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, vec!["gold", "gold2"]);
    assert_eq!(references[0].command, "cp /testbed/hello.php /testbed/hello-COPY.php");
    let toml = std::fs::read_to_string(first.path().join("intercode-fs3-010/task.toml")).unwrap();
    for recorded in
        ["package = \"icalfa\"", "version = \"0.3.6\"", "dataset = \"assets/datasets/nl2bash_fs_3.json\"", "index = 10"]
    {
        assert!(toml.contains(recorded), "task.toml does not record {recorded}:\n{toml}");
    }
}

#[test]
fn a_malformed_entry_is_named_and_skipped_and_a_missing_package_says_how_to_install_it() {
    let copy = tempfile::tempdir().unwrap();
    let package_dir = copy.path().join("icalfa");
    let origin = PathBuf::from(installed().origin);
    for entry in walkdir::WalkDir::new(&origin).into_iter().map(Result::unwrap).filter(|e| e.file_type().is_file()) {
        let to = package_dir.join(entry.path().strip_prefix(&origin).unwrap());
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(entry.path(), to).unwrap();
    }
    let dataset = package_dir.join("assets/datasets/nl2bash_fs_2.json");
    let mut entries: Vec<serde_json::Value> = serde_json::from_slice(&std::fs::read(&dataset).unwrap()).unwrap();
    entries[3]["gold"] = json!(42);
    std::fs::write(&dataset, serde_json::to_vec(&entries).unwrap()).unwrap();

    let out = tempfile::tempdir().unwrap();
    let package = Package::open(copy.path(), intercode::DIST, intercode::MODULE).unwrap();
    let report = intercode::import(&package, out.path()).unwrap();
    assert_eq!(report.tasks.len(), 299);
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].contains("nl2bash_fs_2.json[3]") && report.skipped[0].contains("`gold`"), "{report:?}");
    assert!(!out.path().join("intercode-fs2-003").exists() && out.path().join("intercode-fs2-004").exists());

    let output = common::run(
        common::bin().args(["tasks", "import", "intercode", "--out"]).arg(out.path()).args(["--python", "/no/python"]),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("pip install icalfa==0.3.6"));
}

#[test]
fn the_splits_share_out_every_file_system_and_difficulty() {
    let suite = Suite::load(suite_dir()).unwrap();
    let splits = split(&suite.tasks, Fractions::default(), 0);
    let mut strata: std::collections::BTreeMap<(String, String), Vec<&Task>> = Default::default();
    for task in &suite.tasks {
        let key = (task.metadata.difficulty.clone().unwrap(), task.metadata.category.clone().unwrap());
        strata.entry(key).or_default().push(task);
    }
    for set in [Split::Mine, Split::Validate, Split::Test] {
        let names = splits.tasks(set);
        assert!(names.len().abs_diff(100) <= 1, "{set:?} has {} tasks", names.len());
        for ((difficulty, fs), tasks) in &strata {
            let here = tasks.iter().filter(|t| names.contains(&t.name)).count();
            assert!(here.abs_diff(tasks.len() / 3) <= 1, "{set:?}: {here} of {} {difficulty} {fs} tasks", tasks.len());
        }
    }
}

async fn check(engine: &Engine, name: &str, solver: Solver) -> self_harness::check::TaskCheck {
    let logs = tempfile::tempdir().unwrap().keep();
    check_task(engine, &task(name), &CheckOptions { solver: Some(solver), logs }, &|_| {}).await
}

#[tokio::test]
async fn the_reference_passes_and_nothing_run_fails_where_the_reference_changes_or_prints_something() {
    if !common::docker_available() {
        return;
    }
    let engine = Engine::connect().await.expect("Docker engine reachable");
    // ls prints, cp adds a file, mkdir adds an empty folder (which git cannot see: under
    // InterCode's own rule an agent that does nothing passes it).
    for (name, part) in
        [("intercode-fs1-000", "answer"), ("intercode-fs1-003", "change set"), ("intercode-fs1-005", "change set")]
    {
        let passed = check(&engine, name, Solver::Oracle).await;
        assert_eq!(passed.status, CheckStatus::Pass, "{name}: {}", passed.detail);
        let judgement = passed.judgement.as_ref().unwrap();
        assert_eq!(judgement.score, 1.0, "{name}: InterCode's graded reward of a pass");

        let nothing = check(&engine, name, Solver::Nop).await;
        assert_eq!(nothing.status, CheckStatus::NopFails, "{name}: {}", nothing.detail);
        let failed: Vec<&str> = nothing
            .tests
            .iter()
            .filter(|t| t.status != self_harness::verify::TestStatus::Passed)
            .map(|t| t.name.as_str())
            .collect();
        assert!(failed.iter().any(|t| t.starts_with(part)), "{name}: {failed:?}");
        assert!(nothing.judgement.as_ref().unwrap().score < 1.0);
    }
    assert!(common::managed_containers(Some(std::process::id())).is_empty(), "the reference containers are removed");
}

fn harness() -> Harness {
    Harness::load(common::repo_root().join("harnesses/minimal")).unwrap()
}

fn action(command: &str, done: bool) -> Reply {
    Reply::json(&json!({"thought": "next", "command": command, "done": done}))
}

/// An episode of the minimal harness on `name` in which the model sends `replies`.
async fn episode(name: &str, replies: Vec<Reply>) -> self_harness::trace::Outcome {
    episode_of(&harness(), name, replies).await
}

/// An episode of `harness` on `name` in which the model sends `replies`.
async fn episode_of(harness: &Harness, name: &str, replies: Vec<Reply>) -> self_harness::trace::Outcome {
    let model = ScriptedModel::start(replies).await;
    let client = Client::new(model.config()).unwrap();
    let engine = Engine::connect().await.expect("Docker engine reachable");
    let task = task(name);
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
    run_episode(&engine, &spec, &|_| {}).await.unwrap().outcome
}

#[tokio::test]
async fn an_episode_is_judged_by_its_changes_their_contents_and_its_last_commands_output() {
    if !common::docker_available() {
        return;
    }
    // The answer is the output of the last command run: `ls -1` prints what `ls` prints.
    let outcome = episode("intercode-fs1-000", vec![action("cd /testbed", false), action("cd / && ls -1", true)]).await;
    assert!(outcome.passed, "{outcome:?}");
    let judgement = outcome.judgement.expect("a judgement in the trace");
    assert!(judgement.passed() && judgement.score == 1.0, "{judgement:?}");

    // A command after the one that answered is the answer now.
    let outcome = episode("intercode-fs1-000", vec![action("ls", false), action("echo done", true)]).await;
    let judgement = outcome.judgement.unwrap();
    assert!(!outcome.passed && !judgement.answer && judgement.change_set, "{judgement:?}");
    assert!(judgement.score > 0.6 && judgement.score < 1.0, "two thirds and a dissimilar answer: {}", judgement.score);

    // The copy under another name: the change set differs, and says how.
    let outcome = episode("intercode-fs1-003", vec![action("cp /testbed/hello.php /testbed/copy.php", true)]).await;
    let judgement = outcome.judgement.unwrap();
    assert!(!judgement.change_set, "{judgement:?}");
    assert_eq!(judgement.missing, vec!["testbed/hello-COPY.php (??)"]);
    assert_eq!(judgement.extra, vec!["testbed/copy.php (??)"]);

    // The right file with the wrong content: only the contents differ.
    let outcome = episode("intercode-fs1-004", vec![action("echo text > /testbed/test.txt", true)]).await;
    let judgement = outcome.judgement.unwrap();
    assert!(judgement.change_set && !judgement.contents && judgement.answer, "{judgement:?}");
    assert_eq!(judgement.differing, vec!["testbed/test.txt"]);

    // The alternative reference (`> /testbed/test.txt`) counts as well as the first.
    let outcome = episode("intercode-fs1-004", vec![action("> /testbed/test.txt", true)]).await;
    assert!(outcome.passed, "{outcome:?}");
}

#[tokio::test]
async fn a_hooks_own_files_are_not_the_agents_changes() {
    if !common::docker_available() {
        return;
    }
    // The catalog's completion hook marks that it spoke once: in HOOK_STATE, which the judge
    // leaves out; a marker in /tmp was a file the agent "made", and failed every task.
    let minimal = harness();
    let weakness = serde_json::from_value(json!({
        "id": "no-verification", "title": "t", "description": "d", "criticality": "high", "support": "s",
        "surface": "prompts.system", "evidence": [], "tasks": []
    }))
    .unwrap();
    let remedies = self_harness::stages::propose::remedies(&minimal, &weakness);
    let remedy = remedies.iter().find(|e| e.files().contains("show-changes")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let with_hook = self_harness::stages::propose::prepare(
        &minimal,
        remedy,
        &dir.path().join("h"),
        self_harness::stages::propose::CATALOG_BUDGET,
    )
    .unwrap()
    .0;
    let replies = vec![action("cd / && ls -1", true), action("cd / && ls -1", true)];
    let outcome = episode_of(&with_hook, "intercode-fs1-000", replies).await;
    assert_eq!(outcome.turns, 2, "done held back once by the hook: {outcome:?}");
    assert!(outcome.passed, "{:?}", outcome.judgement);
}

#[test]
fn references_that_cannot_judge_here_are_counted_apart_and_left_out_of_every_run() {
    if !common::docker_available() {
        return;
    }
    let suite = tempfile::tempdir().unwrap();
    for name in ["intercode-fs1-002", "intercode-fs1-009", "intercode-fs1-003", "intercode-fs5-000"] {
        let to = suite.path().join(name);
        for (relative, bytes) in files(&suite_dir().join(name)) {
            std::fs::create_dir_all(to.join(&relative).parent().unwrap()).unwrap();
            std::fs::write(to.join(relative), bytes).unwrap();
        }
    }
    let output = common::run(common::bin().args(["tasks", "check"]).arg(suite.path()).args([
        "--oracle",
        "--parallel",
        "4",
        "--write-exclusions",
        "--json",
    ]));
    assert_eq!(output.status.code(), Some(0), "only tasks counted apart: {}", String::from_utf8_lossy(&output.stdout));
    let report = common::finished(&output);
    let status = |name: &str| {
        let results = report["results"].as_array().unwrap();
        let result = results.iter().find(|r| r["task"] == name).unwrap();
        (result["status"].as_str().unwrap().to_string(), result["detail"].as_str().unwrap().to_string())
    };
    // lsof is not in the image; date gives another answer a minute later; alpine has no
    // stand-in here.
    assert_eq!(status("intercode-fs1-002").0, "broken-reference");
    assert!(status("intercode-fs1-002").1.contains("`lsof`"), "{:?}", status("intercode-fs1-002"));
    assert_eq!(status("intercode-fs1-009").0, "unstable-reference", "{:?}", status("intercode-fs1-009"));
    assert_eq!(status("intercode-fs1-003").0, "pass");
    assert_eq!(status("intercode-fs5-000").0, "needs-internet");

    let loaded = Suite::load(suite.path()).unwrap();
    let names: Vec<&str> = loaded.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["intercode-fs1-003"]);
    let note = loaded.excluded_note(suite.path()).unwrap();
    assert!(note.starts_with("3 task(s) left out by") && note.contains("1 unstable-reference"), "{note}");

    let listed = common::run(common::bin().args(["tasks", "list"]).arg(suite.path()).arg("--json"));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["excluded"].as_array().unwrap().len(), 3, "{listed}");
    let refused =
        common::run(common::bin().args(["tasks", "check"]).arg(suite.path()).args(["--task", "intercode-fs1-002"]));
    assert_eq!(refused.status.code(), Some(0), "tasks check still checks an excluded task");
}

#[test]
fn harbor_refuses_tasks_judged_by_reference_commands() {
    let why = self_harness::harbor::cannot_run(&[task("intercode-fs1-000")]).unwrap();
    assert!(why.contains("judge = \"intercode\""), "{why}");
    assert!(self_harness::harbor::cannot_run(&Suite::load(&common::repo_root().join("tasks")).unwrap().tasks).is_none());
}
