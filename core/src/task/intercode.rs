//! InterCode-ALFA's shell tasks, written as task folders.
//!
//! InterCode (Yang et al., NeurIPS 2023, MIT) made NL2Bash an interactive benchmark;
//! InterCode-ALFA (PyPI `icalfa`, MIT) is its corrected fork: 300 natural-language tasks
//! over five file systems, each with two reference commands and a difficulty. [`import`]
//! reads the tasks, Dockerfiles and set-up scripts from the package — installed, a wheel or
//! an unpacked folder (see [`crate::pypackage`]) — and writes one task folder per task in
//! the Terminal-Bench 2.0 layout with `judge = "intercode"` (see `verify::reference`). The
//! same package gives byte-identical folders, each recording the package's version and the
//! task's place in it; a malformed entry is named and skipped, and a folder is written
//! whole or not at all. The package is data from elsewhere: it is read where the user
//! installed it, and the suite is generated where it is needed, never committed.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pypackage::{Package, PackageError};

/// The distribution and its import name.
pub const DIST: &str = "icalfa";
pub const MODULE: &str = "icalfa";
/// The version the suite is made from and measured with.
pub const PINNED: &str = "0.3.6";
/// How a user gets the package.
pub const INSTALL_HINT: &str = "pip install icalfa==0.3.6";

/// The five file systems' datasets and Dockerfiles, inside the package.
const FILE_SYSTEMS: [u32; 5] = [1, 2, 3, 4, 5];
const DIFFICULTY: [&str; 3] = ["easy", "medium", "hard"];
/// The agent's time on one task: these are one- to few-command tasks.
const AGENT_TIMEOUT_SECS: u32 = 300;
/// The reference's time, and the listing of both containers' changes.
const VERIFIER_TIMEOUT_SECS: u32 = 60;

/// What an import wrote.
#[derive(Debug, Serialize)]
pub struct ImportReport {
    /// The package it read (`icalfa 0.3.6 (/…/site-packages/icalfa)`).
    pub package: String,
    pub version: Option<String>,
    pub out: PathBuf,
    /// The task folders written, in order.
    pub tasks: Vec<String>,
    /// Tasks written per file system (`fs1` …).
    pub per_file_system: Vec<(String, usize)>,
    /// Entries that were not written, each `file[index]: why`.
    pub skipped: Vec<String>,
}

/// Why nothing could be imported.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Package(#[from] PackageError),
    #[error("{file}: {why}")]
    Malformed { file: String, why: String },
    #[error("{}: {why}", path.display())]
    Write { path: PathBuf, why: String },
}

/// One entry of a dataset, as InterCode-ALFA writes it.
struct Entry {
    query: String,
    gold: String,
    gold2: Option<String>,
    difficulty: &'static str,
}

/// Writes every task of `package` under `out` (created if needed), replacing folders of
/// the same names. Files of `out` that are not task folders of this import are left alone.
pub fn import(package: &Package, out: &Path) -> Result<ImportReport, ImportError> {
    std::fs::create_dir_all(out).map_err(|e| ImportError::Write { path: out.to_path_buf(), why: e.to_string() })?;
    let mut report = ImportReport {
        package: package.describe(),
        version: package.version.clone(),
        out: out.to_path_buf(),
        tasks: Vec::new(),
        per_file_system: Vec::new(),
        skipped: Vec::new(),
    };
    for fs in FILE_SYSTEMS {
        let dataset = format!("assets/datasets/nl2bash_fs_{fs}.json");
        let environment = environment_files(package, fs)?;
        let text = package.read_text(&dataset)?;
        let entries: Vec<serde_json::Value> = serde_json::from_str(&text).map_err(|e| ImportError::Malformed {
            file: format!("{}/{dataset}", package.origin),
            why: e.to_string(),
        })?;
        let mut written = 0;
        for (index, value) in entries.iter().enumerate() {
            let entry = match parse_entry(value) {
                Ok(entry) => entry,
                Err(why) => {
                    report.skipped.push(format!("{}/{dataset}[{index}]: {why}", package.origin));
                    continue;
                }
            };
            let name = format!("intercode-fs{fs}-{index:03}");
            let files = task_files(package, fs, index, &dataset, &entry, &environment);
            write_task(&out.join(&name), &files)?;
            report.tasks.push(name);
            written += 1;
        }
        report.per_file_system.push((format!("fs{fs}"), written));
    }
    Ok(report)
}

/// The Dockerfile of file system `fs` and the files its `COPY` lines take from beside it.
fn environment_files(package: &Package, fs: u32) -> Result<Vec<(String, Vec<u8>)>, ImportError> {
    let dockerfile = package.read(&format!("assets/docker/nl2bash{fs}.Dockerfile"))?;
    let mut files = vec![("Dockerfile".to_string(), dockerfile.clone())];
    for source in copy_sources(&String::from_utf8_lossy(&dockerfile)) {
        let bytes = package.read(&format!("assets/docker/{source}"))?;
        files.push((source, bytes));
    }
    Ok(files)
}

/// The local sources of a Dockerfile's `COPY` and `ADD` lines (`./setup.sh` → `setup.sh`);
/// a source that is not a plain name beside the Dockerfile is not taken.
fn copy_sources(dockerfile: &str) -> Vec<String> {
    let mut sources = Vec::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        if !words.next().is_some_and(|w| w.eq_ignore_ascii_case("COPY") || w.eq_ignore_ascii_case("ADD")) {
            continue;
        }
        let words: Vec<&str> = words.filter(|w| !w.starts_with("--")).collect();
        for source in words.iter().take(words.len().saturating_sub(1)) {
            let name = source.strip_prefix("./").unwrap_or(source);
            let plain = !name.is_empty() && !name.contains('/') && name != ".." && !name.contains(['*', '?', '$']);
            if plain && !sources.iter().any(|s| s == name) {
                sources.push(name.to_string());
            }
        }
    }
    sources
}

fn parse_entry(value: &serde_json::Value) -> Result<Entry, String> {
    let text = |key: &str| -> Result<Option<String>, String> {
        match value.get(key) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(s)) if s.trim().is_empty() => Ok(None),
            Some(serde_json::Value::String(s)) => Ok(Some(s.trim().to_string())),
            // InterCode runs a list of commands joined by `;`.
            Some(serde_json::Value::Array(items)) => {
                let commands: Option<Vec<&str>> = items.iter().map(|i| i.as_str()).collect();
                let commands = commands.ok_or_else(|| format!("`{key}` is a list with something other than text"))?;
                Ok(Some(commands.join(";")).filter(|c| !c.trim().is_empty()))
            }
            Some(other) => Err(format!("`{key}` is {other}, not text")),
        }
    };
    if !value.is_object() {
        return Err(format!("not an object: {value}"));
    }
    let query = text("query")?.ok_or("no `query`")?;
    let gold = text("gold")?.ok_or("no `gold` command")?;
    let gold2 = text("gold2")?.filter(|g| *g != gold);
    let level = value.get("difficulty").and_then(|d| d.as_u64()).ok_or("no `difficulty` of 0, 1 or 2")?;
    let difficulty = DIFFICULTY.get(level as usize).ok_or_else(|| format!("difficulty {level} is not 0, 1 or 2"))?;
    Ok(Entry { query, gold, gold2, difficulty })
}

/// Every file of one task folder, by its path inside the folder.
fn task_files(
    package: &Package,
    fs: u32,
    index: usize,
    dataset: &str,
    entry: &Entry,
    environment: &[(String, Vec<u8>)],
) -> Vec<(String, Vec<u8>)> {
    let version = package.version.as_deref().unwrap_or("unknown");
    let toml = format!(
        "# InterCode-ALFA: task {index} of file system {fs}, from {DIST} {version} ({dataset}).\n\
         # Written by `self-harness tasks import intercode`; judged by InterCode's rule, which\n\
         # runs tests/gold.sh (or tests/gold2.sh) in a fresh container and compares.\n\
         version = \"1.0\"\n\n\
         [metadata]\n\
         difficulty = \"{difficulty}\"\n\
         category = \"fs{fs}\"\n\
         tags = [\"intercode\", \"nl2bash\", \"fs{fs}\"]\n\n\
         [source]\n\
         benchmark = \"InterCode-ALFA\"\n\
         package = \"{DIST}\"\n\
         version = \"{version}\"\n\
         dataset = \"{dataset}\"\n\
         index = {index}\n\n\
         [verifier]\n\
         judge = \"intercode\"\n\
         timeout_sec = {VERIFIER_TIMEOUT_SECS}\n\n\
         [agent]\n\
         timeout_sec = {AGENT_TIMEOUT_SECS}\n\n\
         [environment]\n\
         allow_internet = false\n",
        difficulty = entry.difficulty,
    );
    let line = |text: &str| format!("{text}\n").into_bytes();
    let mut files = vec![
        ("task.toml".to_string(), toml.into_bytes()),
        ("instruction.md".to_string(), line(&entry.query)),
        ("tests/gold.sh".to_string(), line(&entry.gold)),
        ("solution/solve.sh".to_string(), line(&entry.gold)),
    ];
    if let Some(gold2) = &entry.gold2 {
        files.push(("tests/gold2.sh".to_string(), line(gold2)));
    }
    files.extend(environment.iter().map(|(name, bytes)| (format!("environment/{name}"), bytes.clone())));
    files
}

/// Writes a task folder whole: into a scratch folder beside it, then renamed over it.
fn write_task(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<(), ImportError> {
    let failed = |path: &Path, e: std::io::Error| ImportError::Write { path: path.to_path_buf(), why: e.to_string() };
    let scratch = crate::util::scratch_beside(dir).map_err(|e| failed(dir, e))?;
    for (relative, bytes) in files {
        let path = scratch.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| failed(parent, e))?;
        }
        std::fs::write(&path, bytes).map_err(|e| failed(&path, e))?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| failed(dir, e))?;
    }
    let scratch = scratch.keep();
    std::fs::rename(&scratch, dir).map_err(|e| failed(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_read_strictly_and_lists_join_as_intercode_runs_them() {
        let entry =
            parse_entry(&serde_json::json!({"query": " list files ", "gold": "ls", "gold2": "ls", "difficulty": 0}))
                .unwrap();
        assert_eq!(
            (entry.query.as_str(), entry.gold.as_str(), entry.gold2, entry.difficulty),
            ("list files", "ls", None, "easy")
        );
        let entry = parse_entry(&serde_json::json!({"query": "q", "gold": ["cd /a", "ls"], "difficulty": 2})).unwrap();
        assert_eq!(entry.gold, "cd /a;ls");
        for (bad, why) in [
            (serde_json::json!({"gold": "ls", "difficulty": 0}), "no `query`"),
            (serde_json::json!({"query": "q", "gold": "", "difficulty": 0}), "no `gold`"),
            (serde_json::json!({"query": "q", "gold": 3, "difficulty": 0}), "not text"),
            (serde_json::json!({"query": "q", "gold": "ls", "difficulty": 7}), "difficulty 7"),
            (serde_json::json!("ls"), "not an object"),
        ] {
            let error = parse_entry(&bad).err().unwrap_or_default();
            assert!(error.contains(why), "{bad}: {error}");
        }
    }

    #[test]
    fn only_plain_sources_beside_the_dockerfile_are_copied() {
        let dockerfile =
            "FROM x\nCOPY ./setup.sh /\ncopy --chown=a docker.gitignore /\nCOPY ../etc/passwd /\nADD * /x\n";
        assert_eq!(copy_sources(dockerfile), vec!["setup.sh", "docker.gitignore"]);
    }
}
