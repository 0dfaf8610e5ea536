//! Splitting the tasks into *mine*, *validate* and *test* sets.
//!
//! Stratified by difficulty and, within it, category, and seeded, so the same suite and
//! seed always give the same split, and every split gets its share of easy and hard tasks
//! and of each kind of task (InterCode's file systems, say). The test
//! set is read only by the report: mining, proposal and acceptance never see it.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::task::Task;

/// One of the three sets a suite is split into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum Split {
    /// Traces for weakness mining.
    Mine,
    /// Paired comparisons that decide acceptance.
    Validate,
    /// Held out; read only by the report.
    Test,
}

/// The fractions of the suite for mine, validate and test.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fractions {
    pub mine: f64,
    pub validate: f64,
    pub test: f64,
}

impl Default for Fractions {
    fn default() -> Self {
        Fractions { mine: 1.0 / 3.0, validate: 1.0 / 3.0, test: 1.0 / 3.0 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Splits {
    pub seed: u64,
    pub rule: String,
    pub sets: BTreeMap<Split, Vec<String>>,
}

impl Splits {
    pub fn tasks(&self, split: Split) -> &[String] {
        self.sets.get(&split).map_or(&[], Vec::as_slice)
    }

    /// Loads a split file, if there is one.
    pub fn load(path: &Path) -> Result<Option<Splits>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{}: {e}", path.display())),
        }
    }

    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let json = serde_json::to_string_pretty(self)?;
        crate::util::write_atomic(path, json.as_bytes())
    }

    /// True when the split covers exactly these task names.
    pub fn covers(&self, tasks: &[Task]) -> bool {
        let mut mine: Vec<&str> = self.sets.values().flatten().map(String::as_str).collect();
        let mut theirs: Vec<&str> = tasks.iter().map(|t| t.name.as_str()).collect();
        mine.sort_unstable();
        theirs.sort_unstable();
        mine == theirs
    }
}

/// The split kept at `path`, made (stratified, seeded) and saved the first time. A split
/// made for another set of tasks is an error: it must be moved away to split anew.
pub fn load_or_make(path: &Path, tasks: &[Task], seed: u64) -> Result<Splits, String> {
    match Splits::load(path)? {
        Some(existing) if existing.covers(tasks) => Ok(existing),
        Some(_) => Err(format!("{} was made for another set of tasks; move it away to split anew", path.display())),
        None => {
            let made = split(tasks, Fractions::default(), seed);
            if let Some(dir) = path.parent() {
                std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            }
            made.save(path).map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(made)
        }
    }
}

/// Splits `tasks` by the stratified, seeded rule: within each difficulty, the tasks are
/// dealt category by category (each category shuffled), each to the split furthest below
/// its share so far, so every split gets its share of each difficulty and, within it, of
/// each category (a file system, a kind of task), to within one task.
pub fn split(tasks: &[Task], fractions: Fractions, seed: u64) -> Splits {
    let mut strata: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for task in tasks {
        let difficulty = task.metadata.difficulty.clone().unwrap_or_default();
        let category = task.metadata.category.clone().unwrap_or_default();
        strata.entry(difficulty).or_default().entry(category).or_default().push(task.name.clone());
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let order = [(Split::Mine, fractions.mine), (Split::Validate, fractions.validate), (Split::Test, fractions.test)];
    let mut sets: BTreeMap<Split, Vec<String>> = order.iter().map(|(s, _)| (*s, Vec::new())).collect();
    let total: f64 = order.iter().map(|(_, f)| f).sum();
    // Tasks dealt so far over the whole suite, which breaks ties within a difficulty so
    // that the splits' sizes also stay within one task of their shares.
    let mut overall = [0usize; 3];
    let mut seen = 0usize;
    for (_, categories) in strata {
        let mut names = Vec::new();
        for (_, mut members) in categories {
            members.sort();
            rng.shuffle(&mut members);
            names.extend(members);
        }
        let mut dealt = [0usize; 3];
        let start = rng.usize(0..3);
        for (i, name) in names.into_iter().enumerate() {
            seen += 1;
            let share = |k: usize| order[k].1 / total;
            let here = |k: usize| share(k) * (i + 1) as f64 - dealt[k] as f64;
            let everywhere = |k: usize| share(k) * seen as f64 - overall[k] as f64;
            let pick = (0..3)
                .map(|k| (k + start) % 3)
                .max_by(|&a, &b| {
                    let (a_here, b_here) = (here(a), here(b));
                    let close = (a_here - b_here).abs() < 1e-9;
                    let by_here = if close { std::cmp::Ordering::Equal } else { a_here.total_cmp(&b_here) };
                    by_here.then(everywhere(a).total_cmp(&everywhere(b))).then(b.cmp(&a))
                })
                .unwrap_or(0);
            dealt[pick] += 1;
            overall[pick] += 1;
            if let Some(set) = sets.get_mut(&order[pick].0) {
                set.push(name);
            }
        }
    }
    for set in sets.values_mut() {
        set.sort();
    }
    Splits {
        seed,
        rule: format!(
            "stratified by difficulty and category, seeded; fractions mine {:.2} / validate {:.2} / test {:.2}",
            fractions.mine, fractions.validate, fractions.test
        ),
        sets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks() -> Vec<Task> {
        let suite = crate::task::Suite::load(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../tasks")).unwrap();
        suite.tasks
    }

    #[test]
    fn the_starter_suite_splits_evenly_by_difficulty_and_reproducibly() {
        let tasks = tasks();
        let a = split(&tasks, Fractions::default(), 7);
        assert_eq!(a, split(&tasks, Fractions::default(), 7));
        assert!(a.covers(&tasks));
        let level_of =
            |name: &String| tasks.iter().find(|t| &t.name == name).and_then(|t| t.metadata.difficulty.clone());
        for level in ["easy", "medium", "hard"] {
            let in_suite = tasks.iter().filter(|t| t.metadata.difficulty.as_deref() == Some(level)).count();
            for set in [Split::Mine, Split::Validate, Split::Test] {
                let names = a.tasks(set);
                let here = names.iter().filter(|n| level_of(n).as_deref() == Some(level)).count();
                // A third of each difficulty, to within one task.
                assert!(here.abs_diff(in_suite / 3) <= 1, "{set:?}: {here} {level} of {in_suite}: {names:?}");
            }
        }
        for set in [Split::Mine, Split::Validate, Split::Test] {
            assert!(a.tasks(set).len().abs_diff(tasks.len() / 3) <= 1, "{set:?}");
        }
        assert_ne!(a.sets, split(&tasks, Fractions::default(), 8).sets, "another seed, another split");
    }
}
