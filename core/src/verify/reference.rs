//! InterCode's rule: a task is solved when the file system and the answer are what a
//! reference command leaves and prints.
//!
//! InterCode (Yang et al., NeurIPS 2023) judges a natural-language shell task by running
//! its reference command in a second container of the same image and comparing that
//! container with the agent's on three things: the change set (`git status` at `/`, whose
//! initial commit the image made), the contents of the files both changed, and the answer
//! (the output of the agent's last command against the reference's). Its reward gives
//! each a third; a pass is all three. Here the same three are compared, each strictly:
//!
//! * **change set**: `git status --porcelain -uall` lists every untracked file (InterCode's
//!   `--short` folds a new folder into one entry, so what is inside it is never compared),
//!   and the empty folders outside the ignored paths are compared too (git cannot see
//!   them, so under InterCode `mkdir` changes nothing and any agent passes it);
//! * **contents**: every file both changed, modified ones included (InterCode hashes only
//!   added and untracked ones, and hashes folders with `md5deep`, which its images lack);
//! * **answer**: the agent's last command is the reference itself, or its output equals
//!   the reference's byte for byte (InterCode checks the first command of the trajectory);
//! * the task passes against its first reference (`gold`) **or** its alternative (`gold2`,
//!   in InterCode-ALFA's data but unused by its reward).
//!
//! InterCode's graded reward (its `tfidf` mode: 0.01 + a third each, the answer's third by
//! TF-IDF cosine similarity when not equal) is computed against the first reference over
//! these change sets and recorded beside the verdict as [`Judgement::score`]. The files the
//! runner itself keeps in the container (under the sandbox's work folder) are left out.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{Submission, TestResult, TestStatus, Verdict, VerifierError};
use crate::sandbox::{Engine, ExecOptions, Sandbox, SandboxSpec, Shell, COMMAND_OUTPUT_LIMIT, WORK_DIR};
use crate::task::Reference;

/// How much of the reference's output the judgement keeps for a reader of the trace.
const EXPECTED_SHOWN: usize = 2000;

/// How the agent's container compared with a reference's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Judgement {
    /// The reference it is drawn against: the first that matched, else the first.
    pub reference: String,
    pub change_set: bool,
    pub contents: bool,
    pub answer: bool,
    /// What the reference changed and the agent did not (`path (code)`), and the reverse.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<String>,
    /// Files both changed whose contents differ.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differing: Vec<String>,
    /// The reference's output (its head, when long).
    pub expected_answer: String,
    /// How many entries the reference's change set has.
    #[serde(default)]
    pub expected_changes: usize,
    /// InterCode's graded reward against the first reference (1.0 exactly when all three
    /// match it).
    pub score: f64,
}

impl Judgement {
    pub fn passed(&self) -> bool {
        self.change_set && self.contents && self.answer
    }

    fn tests(&self) -> Vec<TestResult> {
        let result = |name: &str, ok: bool| TestResult {
            name: format!("{name} ({})", self.reference),
            status: if ok { TestStatus::Passed } else { TestStatus::Failed },
        };
        vec![result("change set", self.change_set), result("contents", self.contents), result("answer", self.answer)]
    }

    /// What a person reads in the verifier's log.
    fn summary(&self, submission: &Submission) -> String {
        let mark = |ok: bool| if ok { "same" } else { "DIFFERENT" };
        let mut text = format!(
            "against `{}` ({} change(s)): change set {}, contents {}, answer {} (InterCode's graded reward {:.2})\n",
            self.reference,
            self.expected_changes,
            mark(self.change_set),
            mark(self.contents),
            mark(self.answer),
            self.score
        );
        for (what, paths) in [("missing", &self.missing), ("extra", &self.extra), ("differing", &self.differing)] {
            if !paths.is_empty() {
                text.push_str(&format!("{what}: {}\n", paths.join(", ")));
            }
        }
        if !self.answer {
            let command = submission.last_command.as_deref().unwrap_or("(no command)");
            text.push_str(&format!(
                "expected answer:\n{}\nthe answer of `{command}`:\n{}\n",
                self.expected_answer,
                head(&submission.answer, EXPECTED_SHOWN)
            ));
        }
        text
    }
}

/// Judges the agent's container by each reference in turn, each run in a fresh container
/// from `spec` on `engine`, until one matches.
pub(super) async fn judge(
    sandbox: &Sandbox,
    references: &[Reference],
    engine: &Engine,
    spec: &SandboxSpec,
    timeout: Duration,
    submission: &Submission,
) -> Result<Verdict, VerifierError> {
    let started = Instant::now();
    let agent = snapshot(sandbox).await?;
    let mut log = String::new();
    let mut kept: Option<Judgement> = None;
    let mut score = None;
    for reference in references {
        let (expected, theirs) = run_in_fresh(engine, spec, reference, timeout).await?;
        let mut judgement = compare(&agent, &theirs, reference, &expected, submission);
        judgement.score =
            *score.get_or_insert_with(|| graded_reward(&judgement, &agent, &theirs, &submission.answer, &expected));
        log.push_str(&judgement.summary(submission));
        let passed = judgement.passed();
        if passed || kept.is_none() {
            kept = Some(judgement);
        }
        if passed {
            break;
        }
    }
    let Some(mut judgement) = kept else {
        return Err(VerifierError::NoVerdict("the task has no reference command".into(), String::new()));
    };
    // The graded reward is InterCode's, against the first reference, whichever matched.
    judgement.score = score.unwrap_or_default();
    Ok(Verdict {
        reward: if judgement.passed() { 1.0 } else { 0.0 },
        tests: judgement.tests(),
        output: log,
        duration: started.elapsed(),
        judgement: Some(judgement),
    })
}

/// Runs `reference` in a fresh container and takes its snapshot; the container is removed
/// on every path.
async fn run_in_fresh(
    engine: &Engine,
    spec: &SandboxSpec,
    reference: &Reference,
    timeout: Duration,
) -> Result<(String, Snapshot), VerifierError> {
    let fresh = engine.start_sandbox(spec).await?;
    let result = async {
        let expected = run_reference(&fresh, reference, timeout).await?;
        Ok((expected, snapshot(&fresh).await?))
    }
    .await;
    fresh.remove().await;
    result
}

/// A container's file system as the rule compares it.
#[derive(Debug, Default, PartialEq)]
struct Snapshot {
    /// Path → `git status` code (`M`, `D`, `??`, `A`, …) against the image's commit.
    changes: BTreeMap<String, String>,
    /// Empty folders outside the ignored paths (git cannot list them).
    empty_dirs: BTreeSet<String>,
    /// Path → content (git's blob hash, or a link's target) of each changed path that
    /// is a file or a link.
    contents: BTreeMap<String, String>,
}

impl Snapshot {
    /// Every entry as `path (code)`, empty folders as `path/ (empty folder)`.
    fn entries(&self) -> BTreeSet<String> {
        let changes = self.changes.iter().map(|(path, code)| format!("{path} ({code})"));
        changes.chain(self.empty_dirs.iter().map(|dir| format!("{dir}/ (empty folder)"))).collect()
    }

    /// Reads the records of [`SNAPSHOT`]: `C<TAB>code<TAB>path`, `H<TAB>hash<TAB>path`
    /// and `E<TAB>path`, each ended by a NUL byte.
    fn parse(output: &str) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for record in output.split('\0').filter(|r| !r.is_empty()) {
            let mut fields = record.splitn(3, '\t');
            match (fields.next(), fields.next(), fields.next()) {
                (Some("C"), Some(code), Some(path)) => {
                    snapshot.changes.insert(path.to_string(), code.trim().to_string());
                }
                (Some("H"), Some(hash), Some(path)) => {
                    snapshot.contents.insert(path.to_string(), hash.to_string());
                }
                (Some("E"), Some(path), None) => {
                    snapshot.empty_dirs.insert(path.to_string());
                }
                _ => {}
            }
        }
        snapshot
    }
}

/// Lists a container's change set, empty folders and changed files' contents (see
/// [`Snapshot::parse`]); needs bash, git and GNU find, as InterCode's images have.
const SNAPSHOT: &str = r#"cd / || exit 90
git rev-parse --is-inside-work-tree >/dev/null 2>&1 || { echo "no git repository at /"; exit 91; }
skip=RUNNER_PATHS
git -c core.quotepath=off status --porcelain=v1 -z -uall | while IFS= read -r -d '' entry; do
  code=${entry:0:2}; path=${entry:3}
  case "$code" in R*|C*) IFS= read -r -d '' _ ;; esac
  case "$path" in "$skip"|"$skip"/*) continue ;; esac
  printf 'C\t%s\t%s\0' "$code" "$path"
  if [ -L "$path" ]; then printf 'H\tlink:%s\t%s\0' "$(readlink -- "$path")" "$path"
  elif [ -f "$path" ]; then printf 'H\t%s\t%s\0' "$(git hash-object --no-filters -- "$path")" "$path"
  fi
done
set --
for e in * .[!.]* ..?*; do
  { [ -e "$e" ] || [ -L "$e" ]; } || continue
  [ "$e" = .git ] && continue
  git check-ignore -q -- "$e" 2>/dev/null && continue
  set -- "$@" "$e"
done
[ $# -eq 0 ] || find "$@" -xdev -type d -empty -not -path "$skip" -not -path "$skip/*" -printf 'E\t%p\0'
exit 0
"#;

/// Takes a container's [`Snapshot`].
async fn snapshot(sandbox: &Sandbox) -> Result<Snapshot, VerifierError> {
    // The runner's own files (its work folder, and in it the hooks' HOOK_STATE) are never
    // part of a change set.
    let script = SNAPSHOT.replace("RUNNER_PATHS", WORK_DIR.trim_start_matches('/'));
    let options = ExecOptions { timeout: Some(Duration::from_secs(120)), ..ExecOptions::default() };
    let out = sandbox.exec(&script, &options).await?;
    if out.timed_out {
        return Err(VerifierError::TimedOut(Duration::from_secs(120), "listing the changes".into()));
    }
    if out.exit_code != Some(0) {
        let why = format!(
            "judge = \"intercode\" compares the file system with the image's git commit of /, and listing the changes failed (exit code {:?})",
            out.exit_code
        );
        return Err(VerifierError::NoVerdict(why, out.output));
    }
    Ok(Snapshot::parse(&out.output))
}

/// Types the reference into a fresh shell session, as the agent types its commands, and
/// returns its output.
async fn run_reference(sandbox: &Sandbox, reference: &Reference, timeout: Duration) -> Result<String, VerifierError> {
    let out = Shell::on(sandbox, "agent").run(&reference.command, timeout, COMMAND_OUTPUT_LIMIT).await?;
    if out.timed_out {
        return Err(VerifierError::TimedOut(
            timeout,
            format!("the reference `{}` did not finish:\n{}", reference.name, out.output),
        ));
    }
    Ok(out.output)
}

/// The agent's snapshot and answer against a reference's.
fn compare(
    agent: &Snapshot,
    theirs: &Snapshot,
    reference: &Reference,
    expected: &str,
    submission: &Submission,
) -> Judgement {
    let (ours, others) = (agent.entries(), theirs.entries());
    let missing: Vec<String> = others.difference(&ours).cloned().collect();
    let extra: Vec<String> = ours.difference(&others).cloned().collect();
    let differing: Vec<String> = agent
        .changes
        .keys()
        .filter(|path| theirs.changes.contains_key(*path))
        .filter(|path| agent.contents.get(*path) != theirs.contents.get(*path))
        .cloned()
        .collect();
    Judgement {
        reference: reference.name.clone(),
        change_set: missing.is_empty() && extra.is_empty(),
        contents: differing.is_empty(),
        answer: same_command(submission, reference) || submission.answer == expected,
        missing,
        extra,
        differing,
        expected_answer: head(expected, EXPECTED_SHOWN),
        expected_changes: others.len(),
        score: 0.0,
    }
}

fn same_command(submission: &Submission, reference: &Reference) -> bool {
    submission.last_command.as_deref().is_some_and(|c| c.trim() == reference.command.trim())
}

/// InterCode's graded reward (`get_reward`, `tfidf` mode) for `judgement`: 0.01, plus
/// 0.33 × (1 − erf(entries missing + extra)) rounded to 0.01 (so 0.33, 0.05 or 0), plus
/// 0.33 × the share of files both changed whose contents match (0.33 when there are
/// none), plus 0.33 when the answers match, else 0.33 × their TF-IDF cosine similarity.
fn graded_reward(judgement: &Judgement, agent: &Snapshot, theirs: &Snapshot, answer: &str, expected: &str) -> f64 {
    let both_changed = agent.changes.keys().filter(|p| theirs.changes.contains_key(*p)).count();
    let change_set = match judgement.missing.len() + judgement.extra.len() {
        0 => 0.33,
        1 => 0.05,
        _ => 0.0,
    };
    let contents = if both_changed == 0 {
        0.33
    } else {
        round2(0.33 * (both_changed - judgement.differing.len()) as f64 / both_changed as f64)
    };
    let answer = if judgement.answer { 0.33 } else { round2(0.33 * tfidf_similarity(answer, expected)) };
    round2(0.01 + change_set + contents + answer)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The cosine similarity of two texts' TF-IDF vectors as scikit-learn's `TfidfVectorizer`
/// computes it by default (lower case, words of two or more word characters, smoothed
/// idf over the two texts, l2 norm). Two texts without a word are similar when equal.
pub fn tfidf_similarity(a: &str, b: &str) -> f64 {
    static WORD: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let word = WORD.get_or_init(|| regex::Regex::new(r"\b\w\w+\b").expect("a valid pattern"));
    let counts = |text: &str| {
        let mut counts: BTreeMap<String, f64> = BTreeMap::new();
        for m in word.find_iter(&text.to_lowercase()) {
            *counts.entry(m.as_str().to_string()).or_default() += 1.0;
        }
        counts
    };
    let (a_counts, b_counts) = (counts(a), counts(b));
    if a_counts.is_empty() && b_counts.is_empty() {
        return if a == b { 1.0 } else { 0.0 };
    }
    let idf = |term: &str| {
        let df = [&a_counts, &b_counts].iter().filter(|c| c.contains_key(term)).count() as f64;
        (3.0 / (1.0 + df)).ln() + 1.0
    };
    let weights = |counts: &BTreeMap<String, f64>| -> BTreeMap<String, f64> {
        let raw: BTreeMap<String, f64> = counts.iter().map(|(t, n)| (t.clone(), n * idf(t))).collect();
        let norm = raw.values().map(|w| w * w).sum::<f64>().sqrt();
        raw.into_iter().map(|(t, w)| (t, if norm > 0.0 { w / norm } else { 0.0 })).collect()
    };
    let (wa, wb) = (weights(&a_counts), weights(&b_counts));
    wa.iter().filter_map(|(t, w)| wb.get(t).map(|v| w * v)).sum()
}

/// The first `limit` bytes of `text` (at a character boundary), marked when cut.
fn head(text: &str, limit: usize) -> String {
    if text.len() <= limit {
        return text.to_string();
    }
    let mut end = limit;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}\n[… {} more bytes]", &text[..end], text.len() - end)
}
