//! `/metrics` after a scripted set of calls over real sockets: the calls
//! counted by dialect pair and outcome, relays and errors by dialect, drops
//! by cause, and samples in every histogram. Read with a real Prometheus
//! text parser. (cloudkibo's calls are counted in tests/node/metrics.test.mjs,
//! with the real socket.io client.)

mod support;

use std::time::Duration;

use serde_json::json;
use support::prometheus::{parse, sum};
use support::*;

const CANDIDATE: &str = "candidate:1 1 udp 2122260223 192.0.2.1 54400 typ host";

fn calls(text: &str, caller: &str, callee: &str, outcome: &str) -> f64 {
    let labels = [("caller", caller), ("callee", callee), ("outcome", outcome)];
    sum(&parse(text), "switchboard_calls_total", &labels)
}

/// The `_count` of a histogram (over all its label sets).
fn samples(text: &str, histogram: &str) -> u64 {
    let scrape = parse(text);
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == histogram)
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count as u64).max().unwrap_or_default()
            }
            other => panic!("{histogram} is not a histogram: {other:?}"),
        })
        .sum()
}

#[tokio::test]
async fn calls_of_every_outcome_are_counted_by_dialect_pair() {
    let server = TestServer::start().await;
    let mut alice = server.online("alice").await;
    let mut bob = server.online("bob").await;
    let mut carol = server.online("carol").await;

    // Answered after 2 s on the server's clock, with ICE, then hung up.
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_REQUESTED");
    server.clock.advance(Duration::from_secs(2));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await["type"], "CALL_ACCEPTED");
    let candidate = json!({"candidate": CANDIDATE, "sdpMid": "0"});
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":candidate}})).await;
    assert_eq!(bob.recv().await["type"], "ICE_CANDIDATE_RECEIVED");

    // Busy: carol calls bob, who is in the call.
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(carol.recv().await["payload"]["reason"], "busy");
    server.clock.advance(Duration::from_secs(20));
    alice.send(json!({"type":"HANG_UP","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_ENDED");

    // Rejected.
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"alice"}})).await;
    assert_eq!(alice.recv().await["type"], "CALL_REQUESTED");
    alice.send(json!({"type":"REJECT_CALL","payload":{"from":"carol"}})).await;
    assert_eq!(carol.recv().await["type"], "CALL_REJECTED");

    // Timeout: nobody answers for the ring timeout.
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_REQUESTED");
    server.clock.advance(Duration::from_secs(30));
    assert_eq!(carol.recv().await["payload"]["reason"], "timeout");
    assert_eq!(bob.recv().await["type"], "CALL_CANCELLED");

    // calling: alice (chatroulette) rings a calling user, who declines,
    // then another who accepts.
    let (mut dave, dave_id) = server.calling().await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":dave_id}})).await;
    assert_eq!(dave.recv().await["type"], "invite_incoming");
    ask(&mut dave, json!({"type":"invite_deny","handle":0}), 1).await;
    assert_eq!(alice.recv().await["type"], "CALL_REJECTED");
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":dave_id}})).await;
    assert_eq!(dave.recv().await["type"], "invite_incoming");
    ask(&mut dave, json!({"type":"invite_accept","handle":1,"status":{}}), 2).await;
    assert_eq!(alice.recv().await["type"], "CALL_ACCEPTED");

    // Enough inputs that the latency metric, which samples one in 64, has
    // some: pings, each answered.
    for tid in 3..200 {
        ask(&mut dave, json!({"type":"ping"}), tid).await;
    }

    let text = http_get(server.addr, "/metrics").await;
    let chat = "chatroulette";
    assert_eq!(calls(&text, chat, chat, "answered"), 1.0, "{text}");
    assert_eq!(calls(&text, chat, chat, "busy"), 1.0, "{text}");
    assert_eq!(calls(&text, chat, chat, "rejected"), 1.0, "{text}");
    assert_eq!(calls(&text, chat, chat, "timeout"), 1.0, "{text}");
    assert_eq!(calls(&text, chat, "calling", "rejected"), 1.0, "{text}");
    assert_eq!(calls(&text, chat, "calling", "answered"), 1.0, "{text}");
    assert_eq!(sum(&parse(&text), "switchboard_calls_total", &[]), 6.0, "nothing else counted: {text}");

    // Each histogram has its samples: two answers set up, six ringing ends
    // (busy never rang, but is timed at zero), one call ended with one ICE
    // candidate, and one input in 64 timed in the driver's inbox.
    assert_eq!(samples(&text, "switchboard_call_setup_seconds"), 2, "{text}");
    assert_eq!(samples(&text, "switchboard_ring_duration_seconds"), 6, "{text}");
    assert_eq!(samples(&text, "switchboard_call_duration_seconds"), 1, "{text}");
    assert_eq!(samples(&text, "switchboard_first_ice_candidate_seconds"), 1, "{text}");
    assert!(samples(&text, "switchboard_driver_input_latency_seconds") >= 2, "{text}");

    // Gauges: one answered call in progress (alice and dave), nothing ringing.
    let scrape = parse(&text);
    assert_eq!(sum(&scrape, "switchboard_calls_in_progress", &[]), 1.0, "{text}");
    assert_eq!(sum(&scrape, "switchboard_ringing_calls", &[]), 0.0, "{text}");
    assert_eq!(sum(&scrape, "switchboard_sessions", &[("dialect", chat), ("transport", "websocket")]), 3.0);
    assert_eq!(sum(&scrape, "switchboard_sessions", &[("dialect", "calling")]), 1.0);
    // One relay, the candidate, of its payload's bytes; the busy refusal
    // went to a chatroulette client.
    assert_eq!(sum(&scrape, "switchboard_relayed_messages_total", &[("dialect", chat)]), 1.0, "{text}");
    let bytes = sum(&scrape, "switchboard_relayed_bytes_total", &[("dialect", chat)]);
    assert_eq!(bytes, candidate.to_string().len() as f64, "{text}");
    assert_eq!(sum(&scrape, "switchboard_errors_sent_total", &[("dialect", chat), ("kind", "busy")]), 1.0, "{text}");
    dashboard_queries_only_exported_metrics(&scrape);
    server.stop().await;
}

/// Every metric `deploy/grafana/switchboard.json` queries is one this
/// server exports (checked against a scrape after real calls, when every
/// labelled series exists), and it has the panels operators look for.
fn dashboard_queries_only_exported_metrics(scrape: &prometheus_parse::Scrape) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/grafana/switchboard.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut queries: Vec<String> = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            queries.push(target["expr"].as_str().expect("an expr").to_owned());
        }
    }
    for variable in dashboard["templating"]["list"].as_array().expect("variables") {
        if let Some(query) = variable["query"]["query"].as_str() {
            queries.push(query.to_owned());
        }
    }
    let exported: std::collections::HashSet<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    let mut queried = std::collections::HashSet::new();
    for query in &queries {
        for name in metric_names(query) {
            let base = name.strip_suffix("_bucket").unwrap_or(&name).to_owned();
            assert!(exported.contains(base.as_str()), "the dashboard queries {name}, which is not exported");
            queried.insert(base);
        }
    }
    for wanted in [
        "switchboard_sessions",
        "switchboard_calls_total",
        "switchboard_call_setup_seconds",
        "switchboard_relayed_messages_total",
        "switchboard_clients_dropped_total",
    ] {
        assert!(queried.contains(wanted), "the dashboard has no panel on {wanted}");
    }
    let per_node = queries.iter().filter(|q| q.contains("by (instance")).count();
    assert!(per_node >= 2, "per-node panels: {queries:?}");
}

/// The `switchboard_…` names in a PromQL expression.
fn metric_names(query: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = query;
    while let Some(at) = rest.find("switchboard_") {
        let tail = &rest[at..];
        let end = tail.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

#[tokio::test]
async fn dropped_clients_are_counted_by_cause() {
    let server = TestServer::start().await;
    // Idle: a chatroulette client that never registers is closed at the
    // register timeout.
    let mut silent = server.chatroulette().await;
    server.clock.advance(Duration::from_secs(11));
    assert!(silent.recv_close().await.is_some());
    // Too large: a frame over the limit.
    let mut big = server.online("big").await;
    big.send_text(&"x".repeat(100 * 1024)).await;
    assert!(big.recv_close().await.is_some());

    let text = http_get(server.addr, "/metrics").await;
    let scrape = parse(&text);
    let dropped = |cause: &str| sum(&scrape, "switchboard_clients_dropped_total", &[("cause", cause)]);
    assert_eq!(dropped("idle"), 1.0, "{text}");
    assert_eq!(dropped("frame_too_large"), 1.0, "{text}");
    assert_eq!(dropped("slow_reader"), 0.0, "every cause shows, at zero: {text}");
    server.stop().await;
}
