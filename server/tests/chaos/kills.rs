//! The loop killed with SIGKILL at seeded points of every stage, then run again, until it
//! finishes: every rerun must resume, and the end must be as if nothing had happened.

use self_harness::evolve::ledger::{Entry, Stage};
use self_harness::splits::Split;

use super::support::vim_project::{vim_model, workspace, FIX};
use super::support::ScriptedModel;
use super::{assert_consistent, assert_no_container_left, common, entries, loop_command, serial, tally, traces};

/// Where the kills go, stage by stage in the order the loop reaches them: (stage, how many
/// kills, the crash points that count, the largest seeded N). Each kill stops the run at
/// the N-th such point; the next run resumes from there. The baseline and the final test
/// run ten episodes each (five tasks, two repeats): their kills publish eight at most, so
/// that each kill lands in the stage it was planned for.
const PLAN: [(&str, usize, &str, u64); 8] = [
    ("baseline", 4, "before publishing", 3),
    ("mining", 2, "weaknesses.json", 2),
    ("proposing", 2, "/proposals/1/1-", 1),
    ("proposing", 2, "ledger.jsonl", 2),
    ("validating", 3, "before publishing", 3),
    // Once: a validation killed after its line and resumed does not write it again.
    ("validating", 1, "validations.jsonl", 1),
    ("installing", 2, "install", 1),
    ("final test", 4, "before publishing", 3),
];

/// The stage a kill hit: told by the point where it can be (a store file), else by the
/// last line of the ledger then (an episode's trace: in the baseline on the mine split, a
/// validation, the starting harness on the test split just before the install, or the
/// final test).
fn stage(point: &str, entries: &[Entry]) -> &'static str {
    for (file, stage) in
        [("install", "installing"), ("validations.jsonl", "validating"), ("/proposals/1/1-", "proposing")]
    {
        if point.contains(file) {
            return stage;
        }
    }
    if point.contains("weaknesses.json") {
        return "mining";
    }
    // A kill just after a line of the ledger came in the stage that wrote it.
    if point.contains("ledger.jsonl") && matches!(entries.last(), Some(Entry::Spent { stage: Stage::Propose, .. })) {
        return "proposing";
    }
    // Proposing ends when every weakness addressed (two at most) has its round recorded.
    let addressed = entries.iter().find_map(|e| match e {
        Entry::Weaknesses { ids, .. } => Some(ids.len().min(2)),
        _ => None,
    });
    let rounds = entries.iter().filter(|e| matches!(e, Entry::Spent { stage: Stage::Propose, .. })).count();
    match entries.last() {
        Some(Entry::Spent { stage: Stage::Propose, .. }) if Some(rounds) < addressed => "proposing",
        None | Some(Entry::Start { .. }) => "baseline",
        Some(Entry::Evaluation { iteration: 0, split: Split::Mine, .. }) => "mining",
        Some(Entry::Evaluation { iteration: 0, .. }) => "installing",
        Some(Entry::Weaknesses { .. }) | Some(Entry::Spent { stage: Stage::Mine, .. }) => "proposing",
        // Screening on the mine split is the first step of validating.
        Some(
            Entry::Spent { .. }
            | Entry::Proposal { .. }
            | Entry::Discarded { .. }
            | Entry::Screening { .. }
            | Entry::Decision { .. },
        ) => "validating",
        Some(Entry::Applied { .. } | Entry::IterationEnd { .. } | Entry::Evaluation { .. }) => "final test",
        Some(Entry::Finish { .. }) => "finished",
    }
}

#[tokio::test]
async fn a_loop_killed_at_seeded_points_of_every_stage_finishes_consistent() {
    let _serial = serial().await;
    if !common::docker_available() {
        return;
    }
    let seed = super::seed("kills", 14);
    let mut rng = fastrand::Rng::with_seed(seed);
    let model = ScriptedModel::responding(vim_model).await;
    let (root, tasks, harness, cwd) = workspace();

    let mut kills: Vec<(String, String, &'static str)> = Vec::new();
    let mut runs = 0;
    for (planned, count, points, most) in PLAN {
        for _ in 0..count {
            let at = format!("{}:{points}", rng.u64(1..=most));
            let log = root.path().join(format!("run-{runs}.log"));
            let mut command = loop_command(&cwd, model.base_url(), &tasks, &harness);
            command.env("SELF_HARNESS_CRASH_AT", &at);
            command.stdout(std::process::Stdio::null()).stderr(std::fs::File::create(&log).unwrap());
            let status = tokio::task::spawn_blocking(move || command.status().unwrap()).await.unwrap();
            runs += 1;
            let text = std::fs::read_to_string(&log).unwrap();
            let point = text.lines().find_map(|l| Some(l.strip_prefix("crash point ")?.split_once(": ")?.1));
            let point = point.unwrap_or_else(|| {
                panic!("run {runs} (SELF_HARNESS_CRASH_AT={at}, planned while {planned}) was not killed:\n{text}")
            });
            assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(9), "{text}");
            let hit = stage(point, &entries(&cwd));
            assert_eq!(hit, planned, "the kill at {point} came while {hit}");
            kills.push((at, point.to_string(), hit));
        }
    }

    // The same command, left alone, finishes.
    let output = super::run(loop_command(&cwd, model.base_url(), &tasks, &harness)).await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));

    eprintln!("kills (seed {seed}): SELF_HARNESS_CRASH_AT → the point reached → the stage");
    for (n, (at, point, hit)) in kills.iter().enumerate() {
        eprintln!("  {:>2}. {at}: {point} → {hit}", n + 1);
    }
    let by_stage = tally(kills.iter().map(|k| k.2));
    eprintln!("kills survived: {} in {} runs; by stage: {by_stage:?}", kills.len(), runs + 1);
    assert!(kills.len() >= 20);

    let entries = entries(&cwd);
    assert_consistent(&entries);
    // One line of validations.jsonl per decision of the ledger, however often a kill came
    // between the line and the ledger's entry.
    let (records, _) = self_harness::util::read_json_lines::<self_harness::stages::validate::ValidationRecord>(
        &cwd.join(".self-harness/validations.jsonl"),
    )
    .unwrap();
    let decisions = entries.iter().filter(|e| matches!(e, Entry::Decision { .. })).count();
    assert_eq!(records.len(), decisions, "one line per decision");
    assert_eq!(entries.iter().filter(|e| matches!(e, Entry::Applied { .. })).count(), 1, "installed once");
    assert!(std::fs::read_to_string(harness.join("system.md")).unwrap().contains(FIX));
    // No episode lost or run twice: every key folder has its one trace, finished.
    let traces = traces(&cwd);
    let published = traces.iter().filter(|(p, _)| p.ends_with("trace.jsonl")).count();
    let partial = walkdir::WalkDir::new(cwd.join(".self-harness/runs"))
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
        .filter(|e| e.path().with_file_name("trace.jsonl").exists())
        .count();
    eprintln!("episodes: {published} published, {partial} unfinished copies of finished ones, 0 lost");
    assert!(published > 0);
    let git = std::process::Command::new("git").arg("-C").arg(&harness).args(["status", "--porcelain"]).output();
    assert_eq!(String::from_utf8_lossy(&git.unwrap().stdout), "", "the installed edit is committed");
    assert_no_container_left().await;
}
