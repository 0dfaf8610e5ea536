//! The fault-injection suite (issue #14): the loop, with real containers and a scripted
//! model whose weakness is known (it opens `vim`; see `support::vim_project`), attacked the
//! ways an unattended run is: killed with SIGKILL at seeded points of every stage, its model
//! endpoint failing a fifth of the time, the Docker engine restarted under it, its disk full,
//! and a repository written to steal from it. Each test prints its figures (seed, kills
//! survived, faults injected, inputs refused, episodes lost), which the closing note of the
//! issue quotes. The tests take turns (`serial`): an engine restart or a full disk would
//! disturb any other test running beside them.

#[path = "../common/mod.rs"]
mod common;
#[path = "../support/mod.rs"]
mod support;

mod disk;
mod engine;
mod faults;
mod hostile;
mod kills;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use self_harness::evolve::ledger::Entry;
use self_harness::stages::validate::Decision;
use self_harness::trace::{self, EpisodeErrorKind};

/// One chaos test at a time (each test has its runtime; this lock is runtime-agnostic).
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}

/// The seed of the test's random choices: `SELF_HARNESS_CHAOS_SEED`, else `default`; printed.
pub fn seed(test: &str, default: u64) -> u64 {
    let seed = std::env::var("SELF_HARNESS_CHAOS_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(default);
    eprintln!("{test}: seed {seed} (SELF_HARNESS_CHAOS_SEED={seed} repeats it)");
    seed
}

/// `self-harness loop` on the vim workspace: one iteration, two repeats, auto-apply.
pub fn loop_command(cwd: &Path, base_url: &str, tasks: &Path, harness: &Path) -> Command {
    let mut command = common::bin();
    command
        .current_dir(cwd)
        .env("OPENAI_BASE_URL", base_url)
        .env("OPENAI_MODEL", "vim-lover")
        .args(["loop", "--auto-apply", "--repeats", "2", "--seed", "3", "--iterations", "1", "--parallel", "2"])
        .arg("--harness")
        .arg(harness)
        .arg("--tasks")
        .arg(tasks);
    command
}

/// Runs `command` to its end off the async runtime.
pub async fn run(mut command: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || common::run(&mut command)).await.unwrap()
}

pub use support::ledger::{assert_consistent, entries};

/// Every trace in the store: (path, its outcome's class), error traces set aside included.
/// Also checks each episode folder holds one published trace at most, and no unfinished
/// `.partial` where a finished trace is.
pub fn traces(cwd: &Path) -> Vec<(PathBuf, EpisodeErrorKind)> {
    let mut found = Vec::new();
    for entry in walkdir::WalkDir::new(cwd.join(".self-harness/runs")).into_iter().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name == trace::FILE_NAME || (name.starts_with("trace.error-") && name.ends_with(".jsonl")) {
            let read = trace::read(entry.path()).unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
            let outcome = read.outcome.unwrap_or_else(|| panic!("{} has no outcome", entry.path().display()));
            found.push((entry.into_path(), outcome.error_class));
        }
    }
    found
}

/// The counted episodes of every decision are episodes that count: no candidate was judged
/// on an infrastructure error. Returns how many episodes the decisions compared.
pub fn assert_no_decision_counts_an_error(cwd: &Path, entries: &[Entry]) -> usize {
    let store = cwd.join(".self-harness");
    let mut compared = 0;
    for e in entries {
        if let Entry::Decision { episodes, decision: Decision { parent, candidate, .. }, .. } = e {
            let counting = episodes
                .iter()
                .filter(|t| trace::read(&store.join(t)).unwrap().outcome.unwrap().error_class.counts())
                .count();
            assert_eq!((parent.counted + candidate.counted) as usize, counting, "only episodes that count are counted");
            compared += episodes.len();
        }
    }
    compared
}

/// Waits (up to 60 s) until no container Self-Harness made is left, of any owner.
pub async fn assert_no_container_left() {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = common::managed_containers(None);
        if left.is_empty() {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "containers left behind: {left:?}");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

/// Counts of the kinds of something, for the printed figures.
pub fn tally<'a>(kinds: impl IntoIterator<Item = &'a str>) -> BTreeMap<&'a str, usize> {
    let mut counts = BTreeMap::new();
    for kind in kinds {
        *counts.entry(kind).or_insert(0) += 1;
    }
    counts
}
