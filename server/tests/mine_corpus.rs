//! Precision and recall of the deterministic detectors on a labelled corpus: synthetic
//! traces with planted failure patterns and near-misses. Printed as a table; each detector
//! must reach 0.9 on both.

mod support;

use std::collections::BTreeMap;

use self_harness::stages::mine::{detect_all, DetectorId, DETECTORS};
use support::corpus::generate;

#[test]
fn detectors_find_what_was_planted_and_little_else() {
    let mut rng = fastrand::Rng::with_seed(20261123);
    let corpus: Vec<_> = (0..600)
        .map(|i| {
            let filler = rng.usize(0..6);
            generate(&mut rng, i % 12, 0.25, filler)
        })
        .collect();
    // (true positives, false positives, false negatives) per detector, at trace level.
    let mut counts: BTreeMap<DetectorId, (u32, u32, u32)> = BTreeMap::new();
    for labelled in &corpus {
        let fired: std::collections::BTreeSet<DetectorId> =
            detect_all(&labelled.trace).into_iter().map(|f| f.detector).collect();
        for d in DETECTORS {
            let c = counts.entry(d.id).or_default();
            match (labelled.planted.contains(&d.id), fired.contains(&d.id)) {
                (true, true) => c.0 += 1,
                (false, true) => c.1 += 1,
                (true, false) => c.2 += 1,
                (false, false) => {}
            }
        }
    }
    println!("| detector            | planted | TP  | FP  | FN  | precision | recall |");
    println!("|---------------------|---------|-----|-----|-----|-----------|--------|");
    let mut failures = Vec::new();
    for (id, (tp, fp, fn_)) in &counts {
        let precision = f64::from(*tp) / f64::from((tp + fp).max(1));
        let recall = f64::from(*tp) / f64::from((tp + fn_).max(1));
        println!(
            "| {:<19} | {:>7} | {tp:>3} | {fp:>3} | {fn_:>3} | {precision:>9.3} | {recall:>6.3} |",
            id.to_string(),
            tp + fn_
        );
        if tp + fn_ == 0 {
            failures.push(format!("{id}: never planted"));
        } else if precision < 0.9 || recall < 0.9 {
            failures.push(format!("{id}: precision {precision:.3}, recall {recall:.3}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
