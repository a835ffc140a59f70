//! `/metrics` read with a real Prometheus text parser.

#![allow(dead_code)]

use prometheus_parse::{Sample, Scrape, Value};

/// Parses Prometheus text (an HTTP response's headers, if any, are skipped).
pub fn parse(text: &str) -> Scrape {
    let body = text.split_once("\r\n\r\n").map_or(text, |(_, body)| body);
    Scrape::parse(body.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text that parses")
}

/// The value of a gauge, counter or untyped sample.
pub fn value_of(sample: &Sample) -> f64 {
    match &sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("{} is not a plain value: {other:?}", sample.metric),
    }
}

/// The sum of `metric` over the samples whose labels include `labels`.
pub fn sum(scrape: &Scrape, metric: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(value_of)
        .sum()
}

/// Open sessions in every dialect, from `/metrics` text.
pub fn sessions(text: &str) -> u64 {
    sum(&parse(text), "switchboard_sessions", &[]) as u64
}
