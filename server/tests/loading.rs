//! Task folders load into tasks; broken ones become errors that name the file, the line
//! and the problem, while the rest of the suite still loads.

use std::path::{Path, PathBuf};

use self_harness::task::{RewardSource, Suite, Task, TaskFormat};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/oracle").join(name)
}

/// Copies the good fixture task into `dir/name` and applies `edit` to it.
fn task_variant(dir: &Path, name: &str, edit: impl FnOnce(&Path)) -> PathBuf {
    let target = dir.join(name);
    for entry in walkdir::WalkDir::new(fixture("right-solution")) {
        let entry = entry.unwrap();
        let relative = entry.path().strip_prefix(fixture("right-solution")).unwrap();
        let to = target.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(entry.path(), &to).unwrap();
        }
    }
    edit(&target);
    target
}

#[test]
fn tb2_task_loads_with_its_limits_and_timeouts() {
    let task = Task::load(&fixture("right-solution")).unwrap();
    assert_eq!(task.name, "right-solution");
    assert_eq!(task.format, TaskFormat::Tb2);
    assert!(task.instruction.contains("/app/greeting.txt"));
    assert_eq!(task.agent_timeout.as_secs(), 60);
    assert_eq!(task.verifier.timeout.as_secs(), 60);
    assert_eq!(task.environment.cpus, Some(1.0));
    assert_eq!(task.environment.memory_bytes, Some(512 * 1024 * 1024));
    assert!(!task.environment.allow_internet);
    assert_eq!(task.verifier.command, "bash /tests/test.sh");
    assert_eq!(task.verifier.reward, RewardSource::RewardFile);
    assert_eq!(task.solution.unwrap().command, "bash /solution/solve.sh");
    assert_eq!(task.metadata.difficulty.as_deref(), Some("easy"));
}

#[test]
fn tb1_task_loads_from_task_yaml() {
    let task = Task::load(&fixture("tb1-format")).unwrap();
    assert_eq!(task.format, TaskFormat::Tb1);
    assert!(task.instruction.starts_with("Write the word"));
    assert_eq!(task.environment.context, fixture("tb1-format"));
    assert_eq!(task.verifier.reward, RewardSource::PytestOutput);
    assert_eq!(task.verifier.command, "bash /tests/run-tests.sh");
    assert!(task.verifier.env.contains(&("TEST_DIR".into(), "/tests".into())));
    assert_eq!(task.solution.unwrap().command, "bash /solution/solution.sh");
}

#[test]
fn the_starter_suite_loads_completely() {
    let suite = Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tasks")).unwrap();
    assert!(suite.errors.is_empty(), "{:?}", suite.errors);
    assert_eq!(suite.tasks.len(), 36, "tasks/README.md lists them all");
    let count = |level: &str| suite.tasks.iter().filter(|t| t.metadata.difficulty.as_deref() == Some(level)).count();
    assert_eq!((count("easy"), count("medium"), count("hard")), (27, 6, 3), "the easy tier and the twelve before it");
    assert!(suite.tasks.iter().all(|t| t.solution.is_some()), "every starter task has an oracle");
}

#[test]
fn broken_tasks_are_reported_by_file_and_line_and_the_rest_loads() {
    let dir = tempfile::tempdir().unwrap();
    task_variant(dir.path(), "a-good-task", |_| {});
    task_variant(dir.path(), "bad-toml", |t| {
        std::fs::write(t.join("task.toml"), "version = \"1.0\"\n\n[agent]\ntimeout_sec = = 3\n").unwrap();
    });
    task_variant(dir.path(), "wrong-type", |t| {
        std::fs::write(t.join("task.toml"), "[verifier]\ntimeout_sec = \"soon\"\n").unwrap();
    });
    task_variant(dir.path(), "negative-timeout", |t| {
        std::fs::write(t.join("task.toml"), "[agent]\ntimeout_sec = -5\n").unwrap();
    });
    task_variant(dir.path(), "no-tests", |t| std::fs::remove_file(t.join("tests/test.sh")).unwrap());
    task_variant(dir.path(), "no-instruction", |t| std::fs::remove_file(t.join("instruction.md")).unwrap());
    task_variant(dir.path(), "empty-instruction", |t| std::fs::write(t.join("instruction.md"), "  \n").unwrap());
    task_variant(dir.path(), "compose", |t| {
        std::fs::remove_file(t.join("environment/Dockerfile")).unwrap();
        std::fs::write(t.join("environment/docker-compose.yaml"), "services: {}\n").unwrap();
    });
    task_variant(dir.path(), "bad-memory", |t| {
        std::fs::write(t.join("task.toml"), "[environment]\nmemory = \"lots\"\n").unwrap();
    });
    let tb1 = dir.path().join("bad-yaml");
    std::fs::create_dir_all(&tb1).unwrap();
    std::fs::write(tb1.join("task.yaml"), "instruction: [unclosed\n").unwrap();
    std::fs::create_dir_all(dir.path().join("shared-scripts")).unwrap(); // not a task: skipped

    let suite = Suite::load(dir.path()).unwrap();
    let names: Vec<_> = suite.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, vec!["a-good-task"]);

    let error = |task: &str| {
        let found = suite.errors.iter().find(|e| e.path.starts_with(dir.path().join(task)));
        found.unwrap_or_else(|| panic!("no error for {task}: {:?}", suite.errors)).to_string()
    };
    let bad_toml = suite.errors.iter().find(|e| e.path.ends_with("bad-toml/task.toml")).unwrap();
    assert_eq!((bad_toml.line, bad_toml.column.is_some()), (Some(4), true), "{bad_toml}");
    assert!(error("bad-toml").contains("task.toml:4:"), "{}", error("bad-toml"));
    assert!(
        error("wrong-type").contains("task.toml:2:") && error("wrong-type").contains("invalid type"),
        "{}",
        error("wrong-type")
    );
    assert!(
        error("negative-timeout").contains("agent.timeout_sec must be a positive"),
        "{}",
        error("negative-timeout")
    );
    assert!(error("no-tests").contains("tests/test.sh: missing"), "{}", error("no-tests"));
    assert!(error("no-instruction").contains("instruction.md: missing"), "{}", error("no-instruction"));
    assert!(error("empty-instruction").contains("instruction.md: empty"), "{}", error("empty-instruction"));
    assert!(error("compose").contains("docker-compose"), "{}", error("compose"));
    assert!(error("bad-memory").contains("environment.memory"), "{}", error("bad-memory"));
    assert!(error("bad-yaml").contains("task.yaml:"), "{}", error("bad-yaml"));
    assert_eq!(suite.errors.len(), 9, "{:?}", suite.errors);
}

#[test]
fn a_folder_without_tasks_is_an_error_not_an_empty_suite() {
    let dir = tempfile::tempdir().unwrap();
    let error = Suite::load(dir.path()).unwrap_err();
    assert!(error.to_string().contains("no tasks here"), "{error}");
    assert!(Suite::load(&dir.path().join("missing")).is_err());
}

#[test]
fn select_names_unknown_tasks() {
    let suite = Suite::load(&fixture("")).unwrap();
    let error = suite.select(&["nope".into()]).unwrap_err();
    assert!(error.contains("right-solution"), "{error}");
}
