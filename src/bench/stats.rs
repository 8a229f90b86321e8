//! Latency samples to the numbers the table shows: requests per second,
//! and the median and 99th-percentile round trip.

use std::time::Duration;

/// What one echo measurement amounts to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub rps: f64,
    pub p50_us: f64,
    pub p99_us: f64,
}

/// The nearest-rank percentile `p` (0–100) of sorted samples: the
/// smallest sample at least `p`% of all samples are less than or equal
/// to. `None` for no samples.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let p = p.clamp(0.0, 100.0);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.saturating_sub(1).min(sorted.len() - 1)).copied()
}

/// Round trips of `latencies_ns` (any order) completed in `elapsed`;
/// `None` when there were none, so "nothing measured" never reads as 0 µs.
pub fn summarize(mut latencies_ns: Vec<u64>, elapsed: Duration) -> Option<Summary> {
    if latencies_ns.is_empty() || elapsed.is_zero() {
        return None;
    }
    latencies_ns.sort_unstable();
    let us = |p| percentile(&latencies_ns, p).map_or(0.0, |ns| ns as f64 / 1000.0);
    let requests = latencies_ns.len() as u64;
    Some(Summary { requests, rps: requests as f64 / elapsed.as_secs_f64(), p50_us: us(50.0), p99_us: us(99.0) })
}

/// `12,345`: big counts are read at a glance.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A latency in the unit that keeps it short: `85 µs`, `1.2 ms`, `3.40 s`.
pub fn latency(us: f64) -> String {
    if us < 1000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.1} ms", us / 1000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), Some(50));
        assert_eq!(percentile(&v, 99.0), Some(99));
        assert_eq!(percentile(&v, 100.0), Some(100));
        assert_eq!(percentile(&v, 0.0), Some(1));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[], 50.0), None);
        // Two samples: the median is the lower, p99 the upper.
        assert_eq!(percentile(&[10, 20], 50.0), Some(10));
        assert_eq!(percentile(&[10, 20], 99.0), Some(20));
    }

    #[test]
    fn one_slow_request_in_a_hundred_is_the_p99_not_the_median() {
        let mut v = vec![100_000u64; 99];
        v.push(50_000_000);
        let s = summarize(v, Duration::from_secs(2)).unwrap();
        assert_eq!(s.requests, 100);
        assert_eq!(s.rps, 50.0);
        assert_eq!(s.p50_us, 100.0);
        assert_eq!(s.p99_us, 100.0);
        let mut v = vec![100_000u64; 98];
        v.extend([50_000_000, 60_000_000]);
        let s = summarize(v, Duration::from_secs(1)).unwrap();
        assert_eq!(s.p50_us, 100.0);
        assert_eq!(s.p99_us, 50_000.0);
    }

    #[test]
    fn unsorted_input_is_sorted_first() {
        let s = summarize(vec![5_000, 1_000, 3_000], Duration::from_millis(500)).unwrap();
        assert_eq!(s.p50_us, 3.0);
        assert_eq!(s.p99_us, 5.0);
        assert_eq!(s.rps, 6.0);
    }

    #[test]
    fn nothing_measured_is_none_not_zero() {
        assert_eq!(summarize(Vec::new(), Duration::from_secs(1)), None);
        assert_eq!(summarize(vec![1], Duration::ZERO), None);
    }

    #[test]
    fn formats() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(latency(85.4), "85 µs");
        assert_eq!(latency(1234.0), "1.2 ms");
        assert_eq!(latency(3_400_000.0), "3.40 s");
    }
}
