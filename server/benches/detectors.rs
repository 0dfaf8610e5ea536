//! Weakness detectors over a large store: 10,000 synthetic traces of 50 turns, written as
//! real trace files, then read and run through every detector one at a time (as `mine`
//! does). Prints time and peak memory against the targets (under 10 s, under 500 MB).
//!
//!     cargo bench --bench detectors [-- TRACES]

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::Instant;

use self_harness::stages::mine::Summary;
use self_harness::trace::{self, TraceWriter};

fn peak_rss_mb() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kb: f64 = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0.0);
    kb / 1024.0
}

fn main() {
    let count: usize = std::env::args().skip(1).find_map(|a| a.parse().ok()).unwrap_or(10_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut rng = fastrand::Rng::with_seed(7);
    let started = Instant::now();
    let mut paths = Vec::with_capacity(count);
    let mut turns = 0usize;
    for i in 0..count {
        let labelled = support::corpus::generate(&mut rng, i % 89, 0.25, 44);
        let episode = dir.path().join(format!("t{i}"));
        let mut writer = TraceWriter::create(&episode, &labelled.trace.header).expect("trace");
        for turn in &labelled.trace.turns {
            writer.turn(turn).expect("turn");
        }
        turns += labelled.trace.turns.len();
        paths.push(writer.finish(labelled.trace.outcome.as_ref().expect("outcome")).expect("finish"));
    }
    let generated = started.elapsed().as_secs_f64();
    let before = peak_rss_mb();

    let started = Instant::now();
    let mut read_secs = 0.0;
    let mut summary = Summary::default();
    for path in &paths {
        let t = Instant::now();
        let trace = trace::read(path).expect("read trace");
        read_secs += t.elapsed().as_secs_f64();
        summary.add(path, &trace);
    }
    let weaknesses = summary.finish();
    let total = started.elapsed().as_secs_f64();
    let peak = peak_rss_mb();

    println!("weakness detectors over {count} traces ({} turns each on average, {turns} turns; generated and written in {generated:.1} s)", turns / count.max(1));
    println!("| measure                | value    | target   |");
    println!("|------------------------|----------|----------|");
    println!("| read traces (s)        | {read_secs:>8.2} |          |");
    println!("| detect + aggregate (s) | {:>8.2} |          |", total - read_secs);
    println!("| total (s)              | {total:>8.2} | < 10     |");
    println!("| peak memory (MB)       | {peak:>8.1} | < 500    |");
    println!("(peak before reading: {before:.1} MB; {} weaknesses found)", weaknesses.len());
    println!("{}", if total < 10.0 && peak < 500.0 { "within targets" } else { "OVER TARGET" });
}
