//! A folder of tasks, loaded together: every task that loads, in name order, and every
//! folder that does not, with its error, so one broken task never hides the others.

use std::path::Path;

use super::{Task, TaskError};

/// The tasks of one folder, in name order, and the folders that failed to load.
#[derive(Debug, Default)]
pub struct Suite {
    pub tasks: Vec<Task>,
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
        Ok(suite)
    }

    /// Keeps only the tasks whose names are listed (all when `names` is empty).
    pub fn select(mut self, names: &[String]) -> Result<Suite, String> {
        if names.is_empty() {
            return Ok(self);
        }
        let unknown: Vec<_> = names.iter().filter(|n| !self.tasks.iter().any(|t| &t.name == *n)).collect();
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
