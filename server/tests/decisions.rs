//! The decision rule, simulated: worlds in which each task's pass probability under the
//! parent and under the candidate is set, episodes drawn from them, and the validate
//! stage's own `Decider` deciding with early stopping, batch by batch, as `validate` runs
//! it. No containers: these check the statistics, the real-container tests the plumbing.
//!
//! * With no lift, a candidate is accepted at most α of the time, and an iteration of
//!   seven candidates accepts one at most α of the time.
//! * The power and early-stopping tables of `docs/statistics.md` are what this file
//!   computes (`UPDATE_DOCS=1 cargo test --test decisions` rewrites them).

use self_harness::stages::validate::{AcceptanceRule, Decider, Planned};
use self_harness::stats::wilson_95;

const ALPHA: f64 = 0.05;

/// Per task, the probability that the parent passes an episode, and the candidate.
struct World {
    parent: Vec<f64>,
    candidate: Vec<f64>,
}

impl World {
    /// `tasks` tasks whose parent pass rates spread evenly over 10–90%; the candidate is
    /// `lift` better (capped at 100%) on every other task and the same on the rest.
    fn new(tasks: usize, lift: f64) -> World {
        let parent: Vec<f64> = (0..tasks).map(|t| 0.1 + 0.8 * (t as f64 + 0.5) / tasks as f64).collect();
        let candidate =
            parent.iter().enumerate().map(|(t, p)| if t % 2 == 0 { (p + lift).min(1.0) } else { *p }).collect();
        World { parent, candidate }
    }
}

/// One simulated validation: the parent's episodes, the candidate's drawn for every pair.
struct Draw {
    plan: Vec<Planned>,
    candidate: Vec<bool>,
}

fn draw(world: &World, repeats: usize, rng: &mut fastrand::Rng) -> Draw {
    let mut plan = Vec::new();
    let mut candidate = Vec::new();
    for (t, (p, q)) in world.parent.iter().zip(&world.candidate).enumerate() {
        for _ in 0..repeats {
            plan.push(Planned { task: format!("task-{t:03}"), held_in: false, parent_passed: rng.f64() < *p });
            candidate.push(rng.f64() < *q);
        }
    }
    Draw { plan, candidate }
}

/// The decision over every pair.
fn full(draw: &Draw, family: usize) -> bool {
    let mut full = Decider::new(AcceptanceRule::PairedTasks { alpha: ALPHA }, family, draw.plan.clone());
    for (i, passed) in draw.candidate.iter().enumerate() {
        full.record(i, Some(*passed));
    }
    full.decide().accepted
}

/// The decision with early stopping (batches of `batch`) and the candidate episodes it
/// ran, and the decision over every pair.
fn decide(draw: &Draw, family: usize, batch: usize) -> (bool, usize, bool) {
    let policy = AcceptanceRule::PairedTasks { alpha: ALPHA };
    let mut early = Decider::new(policy, family, draw.plan.clone());
    let mut ran = 0;
    loop {
        let next = early.next_batch(batch);
        if next.is_empty() {
            break;
        }
        for i in next {
            early.record(i, Some(draw.candidate[i]));
            ran += 1;
        }
    }
    (early.decide().accepted, ran, full(draw, family))
}

fn rate(hits: usize, of: usize) -> String {
    let (lo, hi) = wilson_95(hits as u64, of as u64);
    format!("{:.3} (95% CI {lo:.3}–{hi:.3}, {hits}/{of})", hits as f64 / of as f64)
}

#[test]
fn with_no_lift_a_candidate_is_accepted_at_most_alpha_of_the_time() {
    let mut rng = fastrand::Rng::with_seed(12);
    for (tasks, repeats) in [(8, 1), (8, 2), (16, 1), (16, 2), (32, 2)] {
        let world = World::new(tasks, 0.0);
        let decisions = 2000;
        let accepted = (0..decisions).filter(|_| decide(&draw(&world, repeats, &mut rng), 1, 1).0).count();
        println!("no lift, {tasks} tasks × {repeats} repeats: accepted {}", rate(accepted, decisions));
        assert!(accepted as f64 / decisions as f64 <= ALPHA, "{tasks} × {repeats}: {}", rate(accepted, decisions));
    }
}

#[test]
fn with_no_lift_an_iteration_of_seven_candidates_accepts_one_at_most_alpha_of_the_time() {
    let mut rng = fastrand::Rng::with_seed(13);
    let (tasks, repeats, family) = (16, 2, 7);
    let world = World::new(tasks, 0.0);
    let iterations = 1000;
    let mut any = 0;
    for _ in 0..iterations {
        // One parent sample; seven candidates, each with its own episodes.
        let parent = draw(&world, repeats, &mut rng).plan;
        let accepted = (0..family).any(|_| {
            let candidate = draw(&world, repeats, &mut rng).candidate;
            decide(&Draw { plan: parent.clone(), candidate }, family, 1).0
        });
        any += usize::from(accepted);
    }
    println!("no lift, {family} candidates per iteration: an acceptance in {}", rate(any, iterations));
    assert!(any as f64 / iterations as f64 <= ALPHA, "{}", rate(any, iterations));
}

#[test]
fn early_stopping_decides_as_the_full_validation_does() {
    let mut rng = fastrand::Rng::with_seed(14);
    for lift in [0.0, 0.2, 0.4] {
        let world = World::new(12, lift);
        for _ in 0..300 {
            let draw = draw(&world, 2, &mut rng);
            let (early, ran, full) = decide(&draw, 1, 1);
            assert_eq!(early, full, "lift {lift}");
            assert!(ran <= draw.plan.len());
        }
    }
}

/// The tables of docs/statistics.md.
fn tables() -> String {
    let mut rng = fastrand::Rng::with_seed(15);
    let decisions = 400;
    let lifts = [0.1, 0.2, 0.3];
    let mut out = String::from(
        "| validate tasks | +10 pp, 1 candidate | +20 pp, 1 | +30 pp, 1 | +10 pp, 7 candidates | +20 pp, 7 | +30 pp, 7 |\n\
         |---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for tasks in [4, 8, 16, 32, 64, 128] {
        out.push_str(&format!("| {tasks} |"));
        for family in [1, 7] {
            for lift in lifts {
                let world = World::new(tasks, lift);
                // Early stopping never changes a decision, so the full one is the power.
                let accepted = (0..decisions).filter(|_| full(&draw(&world, 2, &mut rng), family)).count();
                out.push_str(&format!(" {:.0}% |", 100.0 * accepted as f64 / decisions as f64));
            }
        }
        out.push('\n');
    }
    out.push_str(
        "\n| world | validate tasks | episodes run, batches of 1 | batches of 4 | same decision as the full validation |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for (name, lift) in [("no lift", 0.0), ("+20 pp", 0.2), ("+30 pp", 0.3)] {
        for tasks in [8, 16, 32] {
            let world = World::new(tasks, lift);
            let (mut ran, mut ran4, mut same, mut full) = (0, 0, 0, 0);
            for _ in 0..decisions {
                let draw = draw(&world, 2, &mut rng);
                let (early, spent, all) = decide(&draw, 1, 1);
                ran += spent;
                ran4 += decide(&draw, 1, 4).1;
                same += usize::from(early == all);
                full += draw.plan.len();
            }
            let share = |n: usize| 100.0 * n as f64 / full as f64;
            out.push_str(&format!(
                "| {name} | {tasks} | {:.0}% | {:.0}% | {:.0}% |\n",
                share(ran),
                share(ran4),
                100.0 * same as f64 / decisions as f64
            ));
        }
    }
    out
}

/// The InterCode validate split as measured (`docs/evidence/intercode/1.5b/validate-rates.json`,
/// written by `scripts/evidence.sh rates`): per task, minimal's passes over its repeats.
fn intercode_rates() -> Option<Vec<f64>> {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/evidence/intercode/1.5b/validate-rates.json");
    let doc: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    let tasks = doc["tasks"].as_object()?;
    tasks.values().map(|t| Some(t["passed"].as_f64()? / t["counted"].as_f64()?.max(1.0))).collect()
}

/// The power of the loop's rule on the InterCode validate split: the parent passes each
/// task as often as minimal did there, the candidate `lift` more often on every task (at
/// most always), one finalist, one repeat (the loop's) or three.
fn intercode_table() -> String {
    let Some(rates) = intercode_rates() else {
        return "(not measured yet: `bash scripts/evidence.sh rates` writes docs/evidence/intercode/1.5b/validate-rates.json)\n".into();
    };
    let mut rng = fastrand::Rng::with_seed(30);
    let decisions = 400;
    let mean = rates.iter().sum::<f64>() / rates.len() as f64;
    let mut out = format!(
        "{} validate tasks, minimal passing {:.1}% of their episodes (3 repeats each at temperature 0.7).\n\n\
         | lift on every task | accepted, 1 repeat | accepted, 3 repeats |\n|---:|---:|---:|\n",
        rates.len(),
        100.0 * mean
    );
    let mut smallest = [None, None];
    for lift in [0.0, 0.05, 0.10, 0.15, 0.20, 0.25, 0.30] {
        let world = World { parent: rates.clone(), candidate: rates.iter().map(|p| (p + lift).min(1.0)).collect() };
        out.push_str(&format!("| +{:.0} pp |", 100.0 * lift));
        for (k, repeats) in [1, 3].into_iter().enumerate() {
            let accepted = (0..decisions).filter(|_| full(&draw(&world, repeats, &mut rng), 1)).count();
            let power = accepted as f64 / decisions as f64;
            if power >= 0.8 && smallest[k].is_none() {
                smallest[k] = Some(lift);
            }
            out.push_str(&format!(" {:.0}% |", 100.0 * power));
        }
        out.push('\n');
    }
    let say = |s: Option<f64>| s.map_or("more than +30 pp".to_string(), |l| format!("+{:.0} pp", 100.0 * l));
    out.push_str(&format!(
        "\nThe smallest lift accepted with 80% power: {} with one repeat (the loop's), {} with three.\n",
        say(smallest[0]),
        say(smallest[1])
    ));
    out
}

/// Checks that the block of docs/statistics.md between `<!-- {marker}:begin -->` and its end
/// is `generated`; with `UPDATE_DOCS` set, writes it there instead.
fn statistics_block_is_current(marker: &str, generated: &str) {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/statistics.md");
    let doc = std::fs::read_to_string(&path).unwrap();
    let (begin, end) = (format!("<!-- {marker}:begin -->\n"), format!("<!-- {marker}:end -->"));
    let start = doc.find(&begin).expect("the begin marker") + begin.len();
    let stop = doc.find(&end).expect("the end marker");
    if std::env::var_os("UPDATE_DOCS").is_some() {
        std::fs::write(&path, format!("{}{generated}{}", &doc[..start], &doc[stop..])).unwrap();
        return;
    }
    assert_eq!(&doc[start..stop], generated, "docs/statistics.md is stale: UPDATE_DOCS=1 cargo test --test decisions");
}

#[test]
fn the_intercode_power_table_of_docs_statistics_md_is_current() {
    statistics_block_is_current("intercode", &intercode_table());
}

#[test]
fn the_tables_of_docs_statistics_md_are_current() {
    statistics_block_is_current("tables", &tables());
}
