//! Latency histograms and the JSON a scenario prints.

use hdrhistogram::Histogram;
use serde_json::{Value, json};

/// A histogram of microseconds, from 1 µs to 60 s with 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid bounds")
}

/// p50, p99, p999 and max, in microseconds.
pub fn percentiles(histogram: &Histogram<u64>) -> Value {
    json!({
        "p50": histogram.value_at_quantile(0.50),
        "p99": histogram.value_at_quantile(0.99),
        "p999": histogram.value_at_quantile(0.999),
        "max": histogram.max(),
        "count": histogram.len(),
    })
}
