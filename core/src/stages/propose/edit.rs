//! Edits as data: applying a raw edit to a copy of the harness and checking what comes out
//! ([`prepare`]: re-loaded, within the edit budget, with its unified diff from `similar`),
//! telling near-duplicates apart, the ablations' edits of the same size, several accepted
//! edits combined, a recorded proposal's candidate made again from its edit, and installing
//! an accepted candidate over the harness folder.

use std::path::Path;

use similar::TextDiff;

use super::{Budget, FileEdit, Proposal, Proposer, RawEdit};
use crate::harness::Harness;

/// Applies `edit` to a copy of `harness` in `dir` and checks it: every file it names is
/// inside the harness folder, the copy loads, a file it creates is one the manifest uses,
/// its scripts pass their syntax check, and the change stays within the budget. Returns
/// the candidate, the unified diff of every file it changes and the changed lines; the
/// error says why the edit cannot be a candidate.
pub fn prepare(
    harness: &Harness,
    edit: &RawEdit,
    dir: &Path,
    budget: Budget,
) -> Result<(Harness, String, u32), String> {
    // Small models sometimes echo the schema ("replace") instead of writing an edit; a
    // deletion (text found, empty replacement) is the one short edit that means something.
    let deletion = !edit.search.is_empty() && edit.replace.is_empty();
    if !deletion && edit.replace.split_whitespace().count() < 3 {
        return Err(format!("the replacement {:?} is too short to say anything", edit.replace));
    }
    // Each file's text after the change, in order (a file named twice gets both edits).
    let mut files: Vec<Changed> = Vec::new();
    for part in edit.parts() {
        let relative = part.relative_path()?;
        let at = match files.iter().position(|f| f.file == part.file) {
            Some(at) => at,
            None => {
                let original = match std::fs::read_to_string(harness.dir().join(relative)) {
                    Ok(text) => Some(text),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound && part.search.is_empty() => None,
                    Err(e) => return Err(format!("{}: {e}", part.file)),
                };
                let text = original.clone().unwrap_or_default();
                files.push(Changed { file: part.file.clone(), original, text });
                files.len() - 1
            }
        };
        files[at].text = apply_edit(&files[at].text, &part)?;
    }
    let mut changed = 0;
    let mut unified = String::new();
    for Changed { file, original, text } in &files {
        let before = original.as_deref().unwrap_or_default();
        if text == before && original.is_some() {
            return Err(format!("the edit changes nothing in {file}"));
        }
        let diff = TextDiff::from_lines(before, text);
        // Changed lines = lines added plus lines removed.
        changed += diff.iter_all_changes().filter(|c| c.tag() != similar::ChangeTag::Equal).count() as u32;
        let old_name = if original.is_some() { format!("a/{file}") } else { "/dev/null".to_string() };
        unified.push_str(&diff.unified_diff().context_radius(3).header(&old_name, &format!("b/{file}")).to_string());
    }
    if changed > budget.max_changed_lines {
        return Err(format!("changes {changed} lines, over the budget of {}", budget.max_changed_lines));
    }

    let scratch = crate::util::scratch_beside(dir).map_err(|e| format!("cannot make {}: {e}", dir.display()))?;
    crate::util::copy_dir(harness.dir(), scratch.path()).map_err(|e| format!("cannot copy the harness: {e}"))?;
    for Changed { file, text, .. } in &files {
        let path = scratch.path().join(file);
        let written = path.parent().map_or(Ok(()), std::fs::create_dir_all);
        written.and_then(|_| crate::util::write_atomic(&path, text.as_bytes())).map_err(|e| format!("{file}: {e}"))?;
    }
    // The candidate replaces an earlier one of the same id (a proposal made again) whole.
    let placed = match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => std::fs::rename(scratch.path(), dir),
    };
    placed.map_err(|e| format!("cannot place the candidate in {}: {e}", dir.display()))?;
    let candidate = Harness::load(dir).map_err(|diagnostics| {
        let mut problems: Vec<String> = Vec::new();
        for d in diagnostics.iter().filter(|d| d.is_error()) {
            let file = d.path.strip_prefix(dir).unwrap_or(&d.path).display();
            let problem = format!("{file}:{}:{}: {}", d.range.start.line, d.range.start.column, d.message);
            if !problems.contains(&problem) {
                problems.push(problem);
            }
        }
        problems.truncate(3);
        format!("the edited harness does not load: {}", problems.join("; "))
    })?;
    let used = candidate.files();
    if let Some(unused) = files.iter().find(|f| f.original.is_none() && !used.contains(&f.file)) {
        return Err(format!(
            "it creates {}, which harness.toml does not use (as a note, a tool or a hook)",
            unused.file
        ));
    }
    let edited: Vec<&str> = files.iter().map(|f| f.file.as_str()).collect();
    if let Some(problem) = candidate.script_problems(&edited).into_iter().next() {
        return Err(format!("a script does not pass its syntax check: {problem}"));
    }
    Ok((candidate, unified, changed))
}

/// One file an edit changes: its text before (`None` for a file it creates) and after.
struct Changed {
    file: String,
    original: Option<String>,
    text: String,
}

/// The text after one file's part of an edit.
pub fn apply_edit(original: &str, edit: &FileEdit) -> Result<String, String> {
    if edit.search.is_empty() {
        let mut text = original.to_string();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&edit.replace);
        if !text.ends_with('\n') {
            text.push('\n');
        }
        return Ok(text);
    }
    match original.matches(&edit.search).count() {
        // Small models rarely quote a file exactly: whitespace differences are forgiven. A
        // search text that is not there at all is no edit of this file: appending the
        // replacement instead would validate something nobody proposed.
        0 => match find_loosely(original, &edit.search) {
            Some(range) => Ok(format!("{}{}{}", &original[..range.start], edit.replace, &original[range.end..])),
            None => Err(format!(
                "the search text {:?} is not in {}; an edit must quote the text it replaces (or have an empty \
                 search to append)",
                edit.search.chars().take(80).collect::<String>(),
                edit.file
            )),
        },
        1 => Ok(original.replacen(&edit.search, &edit.replace, 1)),
        n => Err(format!("the search text occurs {n} times; it must be unique")),
    }
}

/// Where `search` occurs in `text` when runs of whitespace are treated as equal, if once.
fn find_loosely(text: &str, search: &str) -> Option<std::ops::Range<usize>> {
    let words: Vec<&str> = search.split_whitespace().collect();
    if words.is_empty() {
        return None;
    }
    let mut found = None;
    let mut from = 0;
    while let Some(offset) = text[from..].find(words[0]) {
        let start = from + offset;
        let mut end = start + words[0].len();
        let all = words[1..].iter().all(|word| {
            let rest = &text[end..];
            let trimmed = rest.trim_start();
            if rest.len() > trimmed.len() && trimmed.starts_with(word) {
                end += rest.len() - trimmed.len() + word.len();
                true
            } else {
                false
            }
        });
        if all {
            if found.is_some() {
                return None;
            }
            found = Some(start..end);
        }
        from = start + words[0].len();
    }
    found
}

/// True when two edits say nearly the same thing to the same files.
pub fn near_duplicate(a: &RawEdit, b: &RawEdit) -> bool {
    let norm = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
    let (a, b) = (a.parts(), b.parts());
    a.len() == b.len()
        && a.iter().zip(&b).all(|(a, b)| {
            a.file == b.file
                && norm(&a.search) == norm(&b.search)
                && strsim::normalized_levenshtein(&norm(&a.replace), &norm(&b.replace)) > 0.9
        })
}

/// An ablation edit of about `size` characters appended to the system prompt.
pub fn ablation_edit(kind: Proposer, harness: &Harness, size: usize, seed: u64) -> Option<RawEdit> {
    let file = harness.manifest().prompts.system.clone();
    let text = match kind {
        Proposer::Model | Proposer::Catalog | Proposer::ModelAndCatalog | Proposer::None => return None,
        Proposer::Generic => {
            let generic = "Work step by step, be careful and thorough, and make sure your answer is correct. ";
            generic.repeat(size / generic.len() + 1).chars().take(size.max(20)).collect::<String>()
        }
        Proposer::Random => {
            // Words of the harness's own prompt in a random order: a valid edit of the
            // same size that carries no intent.
            let source = std::fs::read_to_string(harness.dir().join(&file)).ok()?;
            let mut words: Vec<&str> =
                source.split_whitespace().filter(|w| !w.contains("{{") && !w.contains("}}")).collect();
            let mut rng = fastrand::Rng::with_seed(seed);
            rng.shuffle(&mut words);
            let mut out = String::new();
            for word in words.iter().cycle() {
                if out.len() >= size.max(20) {
                    break;
                }
                out.push_str(word);
                out.push(' ');
            }
            out
        }
    };
    Some(RawEdit {
        file,
        search: String::new(),
        replace: text.trim_end().to_string(),
        more: Vec::new(),
        rationale: format!("{kind:?} ablation of the same size as the model's edit"),
        expected_fixes: Vec::new(),
        might_break: Vec::new(),
    })
}

/// Makes a recorded proposal's candidate folder again where it is gone (a store kept
/// without its candidates, as the evidence keeps one whose harness came from another
/// project's package): the same edit of the same parent gives the same harness, which its
/// version confirms.
pub fn restore(proposal: &Proposal, parent: &Harness) -> Result<(), String> {
    if proposal.dir.join(crate::harness::MANIFEST_FILE).is_file() {
        return Ok(());
    }
    let gone = |why: String| {
        format!(
            "the candidate folder {} of proposal {} is gone and cannot be made again: {why}",
            proposal.dir.display(),
            proposal.id
        )
    };
    if proposal.parent_version != parent.version() {
        return Err(gone(format!("it edits version {}, the harness is {}", proposal.parent_version, parent.version())));
    }
    // Its budget was checked when it was proposed.
    let unbounded = Budget { max_changed_lines: u32::MAX };
    let (made, _, _) = prepare(parent, &proposal.edit, &proposal.dir, unbounded).map_err(gone)?;
    if made.version() != proposal.version {
        return Err(gone(format!("the edit now gives version {}, not {}", made.version(), proposal.version)));
    }
    Ok(())
}

/// All accepted edits applied together, if they apply cleanly and stay a valid harness.
pub fn combine(harness: &Harness, proposals: &[Proposal], dir: &Path, budget: Budget) -> Option<Harness> {
    let mut current = harness.clone();
    let total = Budget { max_changed_lines: budget.max_changed_lines.saturating_mul(proposals.len() as u32) };
    for (n, proposal) in proposals.iter().enumerate() {
        let step = dir.with_file_name(format!("{}-step{n}", dir.file_name()?.to_string_lossy()));
        let (next, _, _) = prepare(&current, &proposal.edit, &step, total).ok()?;
        current = next;
    }
    install(current.dir(), dir).ok()?;
    Harness::load(dir).ok()
}

/// Copies the candidate's files over the harness folder (the accepted edit becomes the
/// next version), each file atomically.
pub fn install(candidate_dir: &Path, harness_dir: &Path) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(candidate_dir) {
        let entry = entry.map_err(std::io::Error::other)?;
        if !entry.file_type().is_file() {
            continue;
        }
        let relative = entry.path().strip_prefix(candidate_dir).map_err(std::io::Error::other)?;
        let target = harness_dir.join(relative);
        let new = std::fs::read(entry.path())?;
        if std::fs::read(&target).ok().as_deref() != Some(new.as_slice()) {
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent)?;
            }
            crate::util::write_atomic(&target, &new)?;
            crate::util::crash_point(&format_args!("installing: wrote {}", target.display()));
        }
    }
    Ok(())
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// An edit of system.md (also for the proposer's tests).
    pub(in crate::stages::propose) fn edit(search: &str, replace: &str) -> RawEdit {
        RawEdit {
            file: "system.md".into(),
            search: search.into(),
            replace: replace.into(),
            more: Vec::new(),
            rationale: String::new(),
            expected_fixes: vec![],
            might_break: vec![],
        }
    }

    #[test]
    fn edits_replace_once_or_append() {
        assert_eq!(apply_edit("a b a", &edit("b", "c").parts()[0]).unwrap(), "a c a");
        assert!(apply_edit("a b a", &edit("a", "c").parts()[0]).unwrap_err().contains("2 times"));
        let missing = apply_edit("a", &edit("z", "c").parts()[0]).unwrap_err();
        assert!(missing.contains("the search text \"z\" is not in system.md"), "never appended: {missing}");
        assert_eq!(
            apply_edit("one  two\nthree", &edit("one two three", "x").parts()[0]).unwrap(),
            "x",
            "whitespace forgiven"
        );
        assert_eq!(apply_edit("line", &edit("", "new").parts()[0]).unwrap(), "line\nnew\n");
    }

    #[test]
    fn candidates_are_checked_against_the_budget_and_reloaded() {
        let minimal = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (candidate, diff, changed) = prepare(
            &minimal,
            &edit("", "Never open vim: edit files with sed or printf."),
            &dir.path().join("c"),
            Budget::default(),
        )
        .unwrap();
        assert_ne!(candidate.version(), minimal.version());
        assert_eq!(changed, 1);
        assert!(diff.contains("+Never open vim"), "{diff}");

        let long = "x\n".repeat(20);
        let error = prepare(&minimal, &edit("", &long), &dir.path().join("d"), Budget::default()).unwrap_err();
        assert!(error.contains("over the budget"), "{error}");

        let placeholder =
            prepare(&minimal, &edit("search", "replace"), &dir.path().join("g"), Budget::default()).unwrap_err();
        assert!(placeholder.contains("too short"), "{placeholder}");

        let broken = RawEdit { file: "system.md".into(), ..edit("", "Mind this: {{ no_such_variable }}") };
        let error = prepare(&minimal, &broken, &dir.path().join("e"), Budget::default()).unwrap_err();
        assert!(error.contains("does not load: system.md:"), "the problem's place in the candidate: {error}");
        assert!(error.contains("no_such_variable"), "{error}");

        let escape = RawEdit { file: "../x".into(), ..edit("", "y") };
        assert!(prepare(&minimal, &escape, &dir.path().join("f"), Budget::default()).is_err());
    }

    /// A tool created with the manifest lines that list it, its script as given.
    fn tool(script: &str) -> RawEdit {
        let listed = "[[tools]]\nname = \"check\"\nfile = \"tools/check\"\ndescription = \"Shows the output files.\"";
        let created = FileEdit { file: "tools/check".into(), search: String::new(), replace: script.into() };
        RawEdit { file: "harness.toml".into(), more: vec![created], ..edit("", listed) }
    }

    #[test]
    fn an_edit_can_create_a_script_that_parses_and_is_used() {
        let minimal = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str| dir.path().join(name);
        let (candidate, diff, changed) =
            prepare(&minimal, &tool("#!/bin/bash\nhead -c 200 /app/*.txt\n"), &at("a"), Budget::default()).unwrap();
        assert_eq!(candidate.tools()[0].script, b"#!/bin/bash\nhead -c 200 /app/*.txt\n");
        assert!(diff.contains("--- /dev/null\n+++ b/tools/check\n"), "{diff}");
        assert_eq!(changed, 4 + 2, "four manifest lines, two script lines");
        assert!(!minimal.dir().join("tools/check").exists(), "the parent is untouched");

        let python = tool("#!/usr/bin/env python3\nprint(open('/app/out.txt').read()\n");
        let error = prepare(&minimal, &python, &at("b"), Budget::default()).unwrap_err();
        assert!(error.starts_with("a script does not pass its syntax check: tools/check: "), "{error}");
        let shell = tool("#!/bin/sh\nfor f in /app/*; do cat \"$f\"\n");
        let error = prepare(&minimal, &shell, &at("c"), Budget::default()).unwrap_err();
        assert!(error.contains("syntax error"), "{error}");
        let perl = tool("#!/usr/bin/perl\nprint 1;\n");
        let error = prepare(&minimal, &perl, &at("d"), Budget::default()).unwrap_err();
        assert!(error.contains("names neither a shell nor Python"), "{error}");

        let unused = RawEdit {
            more: vec![FileEdit { file: "notes/x.md".into(), search: String::new(), replace: "A note.".into() }],
            ..edit("", "Read the note before you start.")
        };
        let error = prepare(&minimal, &unused, &at("e"), Budget::default()).unwrap_err();
        assert!(error.contains("creates notes/x.md, which harness.toml does not use"), "{error}");
        let missing = RawEdit {
            more: vec![FileEdit { file: "notes/x.md".into(), search: "old".into(), replace: "new text here".into() }],
            ..edit("", "Read the note before you start.")
        };
        let error = prepare(&minimal, &missing, &at("f"), Budget::default()).unwrap_err();
        assert!(error.starts_with("notes/x.md: "), "a file that is not there is only created whole: {error}");
        let outside = RawEdit {
            more: vec![FileEdit { file: "/etc/x".into(), search: String::new(), replace: "y".into() }],
            ..edit("", "Read the note before you start.")
        };
        assert!(prepare(&minimal, &outside, &at("g"), Budget::default())
            .unwrap_err()
            .contains("not a file of the harness"));
    }

    #[test]
    fn near_duplicates_and_ablations() {
        assert!(near_duplicate(&edit("", "Never use vim."), &edit("", "never use  vim")));
        assert!(!near_duplicate(&edit("", "Never use vim."), &edit("", "Always check your work.")));
        let minimal = Harness::load(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let generic = ablation_edit(Proposer::Generic, &minimal, 60, 1).unwrap();
        assert!((55..=65).contains(&generic.replace.len()), "{}", generic.replace.len());
        let random = ablation_edit(Proposer::Random, &minimal, 60, 1).unwrap();
        assert!(random.replace.len() >= 55, "{random:?}");
        assert_ne!(random, ablation_edit(Proposer::Random, &minimal, 60, 2).unwrap());
    }

    /// A proposal as the loop records it: one line appended to `parent`'s system.md, its
    /// candidate made in `at` (which a test may delete, as a store kept without them).
    pub(crate) fn recorded(parent: &Harness, at: &Path) -> Proposal {
        let edit = edit("", "Print the answer alone, nothing after it.");
        let (made, diff, changed_lines) = prepare(parent, &edit, at, Budget::default()).unwrap();
        Proposal {
            id: "1-w-1".into(),
            iteration: 1,
            weakness: "w".into(),
            source: Proposer::Catalog,
            edit,
            diff,
            changed_lines,
            dir: at.to_path_buf(),
            version: made.version().into(),
            parent_dir: parent.dir().to_path_buf(),
            parent_version: parent.version().into(),
        }
    }

    #[test]
    fn a_candidate_folder_that_is_gone_is_made_again_from_its_edit() {
        let minimal = Harness::open(Path::new(env!("CARGO_MANIFEST_DIR")).join("../harnesses/minimal")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let at = dir.path().join("1-w-1");
        let proposal = recorded(&minimal, &at);
        let made = Harness::open(&at).unwrap();
        std::fs::remove_dir_all(&at).unwrap();
        restore(&proposal, &minimal).unwrap();
        assert_eq!(Harness::open(&at).unwrap().version(), made.version());
        restore(&proposal, &minimal).unwrap(); // there already: left as it is

        std::fs::remove_dir_all(&at).unwrap();
        let other = Proposal { parent_version: "0123456789ab".into(), ..proposal.clone() };
        let err = restore(&other, &minimal).unwrap_err().to_string();
        assert!(err.contains("1-w-1") && err.contains("0123456789ab"), "{err}");
        let changed = Proposal { version: "ffffffffffff".into(), ..proposal };
        let err = restore(&changed, &minimal).unwrap_err().to_string();
        assert!(err.contains("not ffffffffffff"), "{err}");
    }
}
