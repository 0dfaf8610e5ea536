//! Small statistics the tables and decisions need: Wilson intervals for pass rates, the
//! exact paired sign-flip test for decisions.

/// The `q` quantile of `sorted` (ascending) by nearest rank; 0 when it is empty.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n => sorted[((n - 1) as f64 * q.clamp(0.0, 1.0)).round() as usize],
    }
}

/// The Wilson score interval for `successes` out of `trials` at 95% confidence: unlike
/// the normal approximation it stays inside [0, 1] and behaves at 0/n and n/n.
pub fn wilson_95(successes: u64, trials: u64) -> (f64, f64) {
    if trials == 0 {
        return (0.0, 1.0);
    }
    let z = 1.959_963_984_540_054_f64;
    let n = trials as f64;
    let p = successes as f64 / n;
    let denominator = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denominator;
    let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / denominator;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// The one-sided exact paired sign-flip (permutation) test: the probability, under the
/// hypothesis that each difference is as likely negative as positive, that the sum of the
/// differences is at least the observed one. Zeros (ties) are left out; with every
/// difference ±1 this is the exact sign test. No non-zero difference at all gives 1.
///
/// Exact for any number of differences: the distribution of the sum of randomly signed
/// magnitudes is counted by dynamic programming over subset sums, not sampled.
pub fn sign_flip_p(differences: &[i64]) -> f64 {
    let magnitudes: Vec<usize> = differences.iter().filter(|d| **d != 0).map(|d| d.unsigned_abs() as usize).collect();
    if magnitudes.is_empty() {
        return 1.0;
    }
    // Σ sᵢ·|dᵢ| ≥ Σ dᵢ  ⇔  the magnitudes signed + sum to at least those of the positive dᵢ.
    let needed: usize = differences.iter().filter(|d| **d > 0).map(|d| *d as usize).sum();
    let total: usize = magnitudes.iter().sum();
    // chance[k]: the probability that the magnitudes signed + sum to k.
    let mut chance = vec![0.0_f64; total + 1];
    chance[0] = 1.0;
    let mut reach = 0;
    for m in magnitudes {
        for k in (0..=reach).rev() {
            let half = chance[k] / 2.0;
            chance[k] = half;
            chance[k + m] += half;
        }
        reach += m;
    }
    chance[needed..].iter().sum::<f64>().min(1.0)
}

/// A 95% percentile bootstrap interval of the mean of `values`: the values resampled with
/// replacement `resamples` times (seeded, so the same values always give the same
/// interval). Resampling whole values — a task's change, not its episodes — keeps the
/// episodes of one task together, as the task-level test does.
pub fn bootstrap_mean_95(values: &[f64], resamples: usize, seed: u64) -> (f64, f64) {
    if values.is_empty() {
        return (0.0, 0.0);
    }
    let mut rng = fastrand::Rng::with_seed(seed);
    let n = values.len();
    let mut means: Vec<f64> =
        (0..resamples.max(1)).map(|_| (0..n).map(|_| values[rng.usize(0..n)]).sum::<f64>() / n as f64).collect();
    means.sort_by(f64::total_cmp);
    let at = |q: f64| means[((means.len() - 1) as f64 * q).round() as usize];
    (at(0.025), at(0.975))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_known_values() {
        let (lo, hi) = wilson_95(5, 10);
        assert!((lo - 0.2366).abs() < 1e-3 && (hi - 0.7634).abs() < 1e-3, "{lo} {hi}");
        let (lo, hi) = wilson_95(0, 10);
        assert_eq!(lo, 0.0);
        assert!((hi - 0.2775).abs() < 1e-3, "{hi}");
        assert_eq!(wilson_95(0, 0), (0.0, 1.0));
    }

    #[test]
    fn sign_flips_of_unit_differences_are_the_sign_test() {
        let signs = |wins: usize, losses: usize, ties: usize| -> Vec<i64> {
            [vec![1; wins], vec![-1; losses], vec![0; ties]].concat()
        };
        assert!((sign_flip_p(&signs(4, 0, 3)) - 0.0625).abs() < 1e-12);
        assert!((sign_flip_p(&signs(8, 0, 0)) - 1.0 / 256.0).abs() < 1e-12);
        assert!((sign_flip_p(&signs(5, 1, 0)) - 7.0 / 64.0).abs() < 1e-12);
        assert_eq!(sign_flip_p(&signs(0, 0, 2)), 1.0);
        assert!((sign_flip_p(&signs(0, 3, 0)) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn sign_flips_weigh_magnitudes_exactly() {
        // Differences 2, 1, -1: of the 8 sign patterns, sums ≥ 2 are (+,+,+)=4, (+,+,-)=2,
        // (+,-,+)=2: 3/8.
        assert!((sign_flip_p(&[2, 1, -1]) - 3.0 / 8.0).abs() < 1e-12);
        // Against enumeration, for magnitudes up to 3 on 10 tasks.
        let mut rng = fastrand::Rng::with_seed(5);
        for _ in 0..50 {
            let d: Vec<i64> = (0..10).map(|_| rng.i64(-3..=3)).collect();
            let observed: i64 = d.iter().sum();
            let nonzero: Vec<i64> = d.iter().copied().filter(|x| *x != 0).collect();
            let patterns = 1u32 << nonzero.len();
            let hits = (0..patterns)
                .filter(|bits| {
                    let sum: i64 = nonzero
                        .iter()
                        .enumerate()
                        .map(|(i, x)| if bits >> i & 1 == 1 { x.abs() } else { -x.abs() })
                        .sum();
                    sum >= observed
                })
                .count();
            let exact = if nonzero.is_empty() { 1.0 } else { hits as f64 / f64::from(patterns) };
            assert!((sign_flip_p(&d) - exact).abs() < 1e-12, "{d:?}");
        }
    }

    #[test]
    fn the_bootstrap_interval_brackets_the_mean_and_is_reproducible() {
        let changes = [0.0, 0.5, 1.0, 0.0, 0.5, 0.0, 1.0, 0.0];
        let (lo, hi) = bootstrap_mean_95(&changes, 10_000, 0);
        assert!(lo < 0.375 && 0.375 < hi && lo >= 0.0 && hi <= 1.0, "{lo} {hi}");
        assert_eq!((lo, hi), bootstrap_mean_95(&changes, 10_000, 0));
        assert_eq!(bootstrap_mean_95(&[0.25; 5], 100, 1), (0.25, 0.25), "no spread, no width");
        assert_eq!(bootstrap_mean_95(&[], 100, 1), (0.0, 0.0));
    }
}
