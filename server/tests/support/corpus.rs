//! A labelled trace corpus: synthetic traces with known, planted failure patterns (and
//! near-misses that must not fire), for measuring the detectors' precision and recall and
//! for the detector benchmark.

use std::collections::BTreeSet;

use self_harness::stages::mine::DetectorId;
use self_harness::trace::{CommandRecord, EpisodeErrorKind, Header, Outcome, Trace, Turn, SCHEMA_VERSION};

/// A trace and the patterns planted in it.
pub struct Labelled {
    pub trace: Trace,
    pub planted: BTreeSet<DetectorId>,
}

const INTERACTIVE: &[&str] = &[
    "vim notes.txt",
    "less /var/log/syslog",
    "python3",
    "git commit",
    "top",
    "nano config.ini",
    "cat app.log | less",
    "mysql",
    "git rebase -i HEAD~3",
];
const NEAR_INTERACTIVE: &[&str] = &[
    "vim -es -c ':wq' notes.txt",
    "python3 run.py",
    "echo 'print(1)' | python3",
    "git commit -m 'fix'",
    "top -b -n 1",
    "ls | grep vim",
    "sqlite3 db.sqlite 'select 1'",
];

/// A reference verifier's judgement that expected the answer `expected` and found it
/// (`matched`) or not in the last command's output; the file system as expected.
fn judgement(expected: &str, matched: bool) -> self_harness::verify::reference::Judgement {
    serde_json::from_value(serde_json::json!({"reference": "gold", "change_set": true, "contents": true,
        "answer": matched, "expected_answer": expected, "expected_changes": 1, "score": 0.67}))
    .unwrap()
}

fn command(index: u32, text: &str, exit: Option<i64>, output: &str, bytes: u64) -> Turn {
    Turn {
        index,
        reply: format!("{{\"thought\": \"t\", \"command\": {text:?}, \"done\": false}}"),
        command: Some(CommandRecord {
            text: text.into(),
            exit_code: exit,
            timed_out: exit.is_none(),
            output_shown: output.into(),
            output_bytes: bytes,
            duration_ms: 12.5,
        }),
        tokens_in: 300,
        tokens_out: 40,
        model_ms: 800.0,
        ..Turn::default()
    }
}

/// Plants `id` with probability `p`.
fn plant(rng: &mut fastrand::Rng, planted: &mut BTreeSet<DetectorId>, id: DetectorId, p: f64) -> bool {
    let yes = rng.f64() < p;
    if yes {
        planted.insert(id);
    }
    yes
}

/// One trace with each pattern planted with probability `p`, near-misses sprinkled in,
/// and `filler` extra clean turns.
pub fn generate(rng: &mut fastrand::Rng, task: usize, p: f64, filler: usize) -> Labelled {
    let mut planted = BTreeSet::new();
    let mut turns: Vec<Turn> = Vec::new();
    let push = |turns: &mut Vec<Turn>, mut t: Turn| {
        t.index = turns.len() as u32;
        turns.push(t);
    };
    push(&mut turns, command(0, "ls -la /app", Some(0), "total 8\ndata.txt\n", 18));
    for i in 0..filler {
        push(&mut turns, command(0, &format!("grep -n item{i} /app/data.txt"), Some(0), "3:item\n", 7));
    }
    if plant(rng, &mut planted, DetectorId::InteractiveProgram, p) {
        let text = INTERACTIVE[rng.usize(..INTERACTIVE.len())];
        push(&mut turns, command(0, text, Some(1), "Vim: Warning: Output is not to a terminal\n", 42));
    }
    if rng.bool() {
        let text = NEAR_INTERACTIVE[rng.usize(..NEAR_INTERACTIVE.len())];
        push(&mut turns, command(0, text, Some(0), "ok\n", 3));
    }
    if plant(rng, &mut planted, DetectorId::CommandTimeout, p) {
        push(&mut turns, command(0, "sleep 1000", None, "", 0));
    }
    let repeats = if plant(rng, &mut planted, DetectorId::RepeatedCommand, p) { 3 } else { rng.usize(0..=2) };
    for _ in 0..repeats {
        push(&mut turns, command(0, "cat /app/data.txt", Some(0), "a\nb\n", 4));
    }
    if plant(rng, &mut planted, DetectorId::UnparseableAction, p) {
        push(
            &mut turns,
            Turn {
                reply: "I will now run ls".into(),
                parse_error: Some("Your reply is not a valid action".into()),
                ..Turn::default()
            },
        );
    }
    if plant(rng, &mut planted, DetectorId::ToolMisuse, p) {
        push(&mut turns, command(0, "pyhton3 solve.py", Some(127), "bash: pyhton3: command not found\n", 33));
    }
    let floods = if plant(rng, &mut planted, DetectorId::OutputFlood, p) { 2 } else { rng.usize(0..=1) };
    for _ in 0..floods {
        push(&mut turns, command(0, "seq 1 5000", Some(0), "1\n2\n[... omitted ...]\n5000\n", 23_893));
    }
    push(&mut turns, command(0, "echo result > /app/out.txt", Some(0), "", 0));

    // How it ends.
    let overflow = plant(rng, &mut planted, DetectorId::ContextOverflow, p);
    let gave_up = !overflow && plant(rng, &mut planted, DetectorId::GaveUp, p);
    let unverified = !overflow && !gave_up && plant(rng, &mut planted, DetectorId::NoVerification, p);
    // A verifier that judges the last command's output (InterCode's): the answer printed with
    // a line number beside it; as near-misses, a wrong answer and a matched one.
    let numbered = !overflow && !gave_up && !unverified && plant(rng, &mut planted, DetectorId::AnswerNotAlone, p);
    let judgement = if numbered {
        Some(judgement("final", false))
    } else {
        [None, Some(judgement("other", false)), Some(judgement("final", true))][rng.usize(0..3)].clone()
    };
    let error_class = if overflow {
        EpisodeErrorKind::ContextOverflow
    } else if gave_up {
        EpisodeErrorKind::TurnLimit
    } else {
        let mut last = if unverified {
            command(0, "echo final > /app/out.txt", Some(0), "", 0)
        } else {
            push(&mut turns, command(0, "echo final > /app/out.txt", Some(0), "", 0));
            if numbered {
                command(0, "cat -n /app/out.txt", Some(0), "     1\tfinal\n", 13)
            } else {
                command(0, "cat /app/out.txt", Some(0), "final\n", 6)
            }
        };
        last.done = true;
        push(&mut turns, last);
        EpisodeErrorKind::None
    };
    let passed = planted.is_empty() && rng.bool();
    let trace = Trace {
        header: Header {
            schema: SCHEMA_VERSION,
            task: format!("task-{task}"),
            harness: "minimal".into(),
            harness_version: "v0".into(),
            model: "synthetic".into(),
            seed: 0,
            attempt: 0,
            started_at: "2026-11-23T00:00:00Z".into(),
        },
        outcome: Some(Outcome {
            reward: Some(if passed { 1.0 } else { 0.0 }),
            passed,
            tests: Vec::new(),
            judgement,
            error_class,
            error_detail: None,
            turns: turns.len() as u32,
            tokens_in: 300 * turns.len() as u64,
            tokens_out: 40 * turns.len() as u64,
            cost_usd: 0.0,
            duration_ms: 1000,
            verify_ms: None,
            limits: None,
            finished_at: "2026-11-23T00:01:00Z".into(),
        }),
        turns,
        torn_tail: false,
    };
    Labelled { trace, planted }
}
