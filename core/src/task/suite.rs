//! A folder of tasks, loaded together: every task that loads, in name order, and every
//! folder that does not, with its error, so one broken task never hides the others. The
//! tasks its `excluded.toml` names are kept apart, with why (see [`super::exclusions`]).

use std::path::Path;

use super::exclusions::{Exclusion, Exclusions};
use super::{Task, TaskError};

/// The tasks of one folder, in name order, and the folders that failed to load.
#[derive(Debug, Default)]
pub struct Suite {
    /// The tasks to run.
    pub tasks: Vec<Task>,
    /// The tasks the suite's `excluded.toml` leaves out, with why.
    pub excluded: Vec<(Task, Exclusion)>,
    pub errors: Vec<TaskError>,
}

impl Suite {
    /// Loads `dir` as a suite: every subfolder with a `task.toml` or `task.yaml`. A `dir`
    /// that is itself a task loads as a suite of one. Subfolders without either file are
    /// skipped (a suite may hold a README or shared scripts).
    pub fn load(dir: &Path) -> Result<Suite, TaskError> {
        if !dir.is_dir() {
            return Err(TaskError::new(dir, "not a folder of tasks"));
        }
        let mut suite = Suite::default();
        if Task::is_task_dir(dir) {
            match Task::load(dir) {
                Ok(task) => suite.tasks.push(task),
                Err(e) => suite.errors.push(e),
            }
            return Ok(suite);
        }
        let entries = std::fs::read_dir(dir).map_err(|e| TaskError::new(dir, format!("cannot list: {e}")))?;
        let mut dirs: Vec<_> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
        dirs.sort();
        for task_dir in dirs.iter().filter(|d| Task::is_task_dir(d)) {
            match Task::load(task_dir) {
                Ok(task) => suite.tasks.push(task),
                Err(e) => suite.errors.push(e),
            }
        }
        if suite.tasks.is_empty() && suite.errors.is_empty() {
            return Err(TaskError::new(dir, "no tasks here: no subfolder has a task.toml or task.yaml"));
        }
        match Exclusions::load(dir) {
            Ok(exclusions) => {
                let (excluded, kept) =
                    std::mem::take(&mut suite.tasks).into_iter().partition(|t| exclusions.tasks.contains_key(&t.name));
                suite.tasks = kept;
                suite.excluded = excluded
                    .into_iter()
                    .filter_map(|task: Task| Some((exclusions.tasks.get(&task.name)?.clone(), task)))
                    .map(|(why, task)| (task, why))
                    .collect();
            }
            Err(e) => suite.errors.push(e),
        }
        Ok(suite)
    }

    /// Every task that loads, the excluded ones too, in name order: what `tasks check`
    /// checks, so that a check can bring an excluded task back.
    pub fn with_excluded(mut self) -> Suite {
        self.tasks.extend(self.excluded.drain(..).map(|(task, _)| task));
        self.tasks.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    /// One line on what `excluded.toml` leaves out (`None` when nothing), for the commands
    /// that run the suite to say once.
    pub fn excluded_note(&self, dir: &Path) -> Option<String> {
        if self.excluded.is_empty() {
            return None;
        }
        let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
        for (_, why) in &self.excluded {
            *counts.entry(why.status.as_str()).or_default() += 1;
        }
        let counts: Vec<String> = counts.iter().map(|(status, n)| format!("{n} {status}")).collect();
        Some(format!(
            "{} task(s) left out by {} ({}); `self-harness tasks list {}` says why",
            self.excluded.len(),
            Exclusions::path(dir).display(),
            counts.join(", "),
            dir.display()
        ))
    }

    /// Keeps only the tasks whose names are listed (all when `names` is empty).
    pub fn select(mut self, names: &[String]) -> Result<Suite, String> {
        if names.is_empty() {
            return Ok(self);
        }
        let unknown: Vec<_> = names.iter().filter(|n| !self.tasks.iter().any(|t| &t.name == *n)).collect();
        if let Some((task, why)) = self.excluded.iter().find(|(t, _)| unknown.contains(&&t.name)) {
            return Err(format!(
                "{} is left out by the suite's {} ({}: {})",
                task.name,
                super::exclusions::FILE_NAME,
                why.status,
                why.reason
            ));
        }
        if !unknown.is_empty() {
            let known: Vec<_> = self.tasks.iter().map(|t| t.name.as_str()).collect();
            return Err(format!("no task named {unknown:?}; the suite has: {}", known.join(", ")));
        }
        self.tasks.retain(|t| names.contains(&t.name));
        Ok(self)
    }
}

/// A task's name is its folder's name.
pub(super) fn task_name(dir: &Path) -> String {
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    dir.file_name().map_or_else(|| dir.display().to_string(), |n| n.to_string_lossy().into_owned())
}
