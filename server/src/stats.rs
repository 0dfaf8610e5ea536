//! Small statistics the tables and decisions need: Wilson intervals for pass rates, the
//! exact sign test for paired decisions.

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

/// One-sided exact sign test: the probability of at least `wins` successes in
/// `wins + losses` fair coin flips. Ties are left out, as the sign test does. No
/// differing pairs at all gives 1.
pub fn sign_test_p(wins: usize, losses: usize) -> f64 {
    let n = wins + losses;
    if n == 0 {
        return 1.0;
    }
    // Sum of C(n, k) for k >= wins, over 2^n, in floating point via logs for large n.
    let ln_choose = |n: usize, k: usize| -> f64 { ln_factorial(n) - ln_factorial(k) - ln_factorial(n - k) };
    let total: f64 = (wins..=n).map(|k| (ln_choose(n, k) - n as f64 * std::f64::consts::LN_2).exp()).sum();
    total.min(1.0)
}

fn ln_factorial(n: usize) -> f64 {
    (2..=n).map(|k| (k as f64).ln()).sum()
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
    fn sign_test_values() {
        assert!((sign_test_p(4, 0) - 0.0625).abs() < 1e-12);
        assert!((sign_test_p(8, 0) - 1.0 / 256.0).abs() < 1e-12);
        assert!((sign_test_p(5, 1) - 7.0 / 64.0).abs() < 1e-12);
        assert_eq!(sign_test_p(0, 0), 1.0);
        assert!((sign_test_p(0, 3) - 1.0).abs() < 1e-12);
    }
}
