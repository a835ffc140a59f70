//! Readiness and drain: the real binary on SIGTERM (`/readyz` goes 503, new
//! connections and calls are refused, a call in progress goes on until it
//! hangs up, and the process exits 0 at once, long before its
//! `--drain-timeout`), a second SIGTERM that cuts the drain short, and, in
//! process with a manual clock, a `--drain-timeout` that ends a call which
//! will not end and a calling invite refused in that dialect's form.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use support::binary::{BINARY, start};
use support::*;
use switchboard_server::{Application, Clock, Config, ManualClock};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The status line's code of a plain GET.
async fn status_of(addr: &str, path: &str) -> u16 {
    let response = http_get(addr.parse().unwrap(), path).await;
    response.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("{response}"))
}

/// Asks `/readyz` until it answers 503, one real request per step, and
/// checks it answered 200 until then. A bound on the number of requests
/// keeps a server that never drains from hanging the test.
async fn until_not_ready(addr: &str) {
    for _ in 0..10_000 {
        match status_of(addr, "/readyz").await {
            503 => return,
            200 => tokio::task::yield_now().await,
            other => panic!("/readyz answered {other}"),
        }
    }
    panic!("/readyz never went 503");
}

async fn online(addr: &str, name: &str) -> Client {
    let mut client = Client::connect(&format!("ws://{addr}/ws/chatroulette")).await;
    client.send(json!({"type":"CONNECT","payload":{"as":name}})).await;
    assert_eq!(client.recv().await["type"], "CONNECTED");
    client
}

/// alice calls bob and bob answers.
async fn call(alice: &mut Client, bob: &mut Client) {
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await, json!({"type":"CALL_ACCEPTED","payload":{"by":"bob"}}));
}

fn candidate(n: u32) -> Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5{n:04} typ host"), "sdpMid": "0", "sdpMLineIndex": 0})
}

/// One ICE candidate each way.
async fn relays_both_ways(alice: &mut Client, bob: &mut Client, n: u32) {
    alice.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":candidate(n)}})).await;
    let relayed = json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"alice","candidate":candidate(n)}});
    assert_eq!(bob.recv().await, relayed);
    bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"alice","candidate":candidate(n + 1)}})).await;
    let relayed = json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"bob","candidate":candidate(n + 1)}});
    assert_eq!(alice.recv().await, relayed);
}

async fn closed_with(client: &mut Client, code: CloseCode) -> String {
    let close = client.recv_close().await.expect("a close frame");
    assert_eq!(close.code, code, "{close:?}");
    close.reason.to_string()
}

#[test]
fn help_explains_the_drain_timeout() {
    let output = Command::new(BINARY).args(["serve", "--help"]).output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    for needle in ["--drain-timeout", "SWITCHBOARD_DRAIN_TIMEOUT", "[default: 5m]", "second signal"] {
        assert!(help.contains(needle), "--help does not mention {needle}:\n{help}");
    }
}

#[tokio::test]
async fn sigterm_drains_a_call_in_progress_then_exits_without_waiting_for_the_timeout() {
    let (running, addr, _, logs) = start(&["--drain-timeout", "10m"]);
    let mut alice = online(&addr, "alice").await;
    let mut bob = online(&addr, "bob").await;
    let mut carol = online(&addr, "carol").await;
    let mut dave = online(&addr, "dave").await;
    call(&mut alice, &mut bob).await;
    assert_eq!(status_of(&addr, "/readyz").await, 200);

    running.signal("-TERM");
    until_not_ready(&addr).await;
    assert_eq!(status_of(&addr, "/healthz").await, 200, "liveness is not readiness");

    // A new connection: a WebSocket closed at once with 1013, a socket.io
    // handshake refused with 503.
    let mut late = Client::connect(&format!("ws://{addr}/ws/chatroulette")).await;
    let reason = closed_with(&mut late, CloseCode::Again).await;
    assert!(reason.contains("shutting down"), "{reason}");
    assert_eq!(status_of(&addr, "/socket.io/?EIO=4&transport=polling").await, 503);

    // A new call from an idle session: chatroulette's error frame, naming
    // the request it answers.
    carol.send(json!({"type":"REQUEST_CALL","payload":{"to":"dave"}})).await;
    let refusal = carol.recv().await;
    assert_eq!(refusal["type"], "ERROR", "{refusal}");
    let message = refusal["payload"]["message"].as_str().unwrap();
    assert!(message.contains("shutting down"), "{refusal}");

    // The call in progress still relays both ways, then hangs up.
    relays_both_ways(&mut alice, &mut bob, 1).await;
    relays_both_ways(&mut alice, &mut bob, 3).await;
    alice.send(json!({"type":"HANG_UP","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await, json!({"type":"CALL_ENDED","payload":{"by":"alice","reason":"hangup"}}));

    // No call is left: everyone gets 1001 and the process exits 0, within
    // PATIENCE (20 s) of a ten-minute drain timeout.
    for client in [&mut alice, &mut bob, &mut carol, &mut dave] {
        closed_with(client, CloseCode::Away).await;
    }
    let status = running.exit().await;
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = logs.try_iter().collect();
    assert!(rest.iter().any(|line| line.contains("drained: no call in progress")), "{rest:?}");
    assert!(!rest.iter().any(|line| line.contains("--drain-timeout")), "{rest:?}");
}

#[tokio::test]
async fn a_second_sigterm_cuts_the_drain_short() {
    let (running, addr, _, logs) = start(&["--drain-timeout", "10m"]);
    let mut alice = online(&addr, "alice").await;
    let mut bob = online(&addr, "bob").await;
    call(&mut alice, &mut bob).await;

    running.signal("-TERM");
    until_not_ready(&addr).await;
    relays_both_ways(&mut alice, &mut bob, 1).await;
    running.signal("-TERM");
    closed_with(&mut alice, CloseCode::Away).await;
    closed_with(&mut bob, CloseCode::Away).await;
    let status = running.exit().await;
    assert!(status.success(), "exit status {status}");
    let rest: Vec<String> = logs.try_iter().collect();
    assert!(rest.iter().any(|line| line.contains("a second signal")), "{rest:?}");
}

/// The server in process with a manual clock, run until drained; returns
/// its address, its clock, the sender of its signals and its task.
async fn in_process(
    drain_timeout: Duration,
) -> (std::net::SocketAddr, ManualClock, mpsc::Sender<()>, tokio::task::JoinHandle<anyhow::Result<()>>) {
    let clock = ManualClock::new();
    let config = Config { drain_timeout, ..Config::default() };
    let app = Application::build(config, Clock::Manual(clock.clone())).await.expect("builds");
    let addr = app.local_addr();
    let (signal, signals) = mpsc::channel(2);
    let signals = futures_util::stream::unfold(signals, |mut signals| async move {
        signals.recv().await?;
        Some(((), signals))
    });
    (addr, clock, signal, tokio::spawn(app.run_until_drained(signals)))
}

#[tokio::test]
async fn the_drain_timeout_ends_a_call_that_will_not_end() {
    // Shorter than the idle timeout (55 s), so that only the drain closes.
    let (addr, clock, signal, server) = in_process(Duration::from_secs(5)).await;
    let addr = addr.to_string();
    let mut alice = online(&addr, "alice").await;
    let mut bob = online(&addr, "bob").await;
    call(&mut alice, &mut bob).await;

    signal.send(()).await.unwrap();
    until_not_ready(&addr).await;
    // Short of the timeout, the call goes on.
    clock.advance(Duration::from_secs(4));
    relays_both_ways(&mut alice, &mut bob, 1).await;
    clock.advance(Duration::from_secs(1));
    closed_with(&mut alice, CloseCode::Away).await;
    closed_with(&mut bob, CloseCode::Away).await;
    tokio::time::timeout(PATIENCE, server).await.expect("the server stops").unwrap().expect("a clean stop");
}

#[tokio::test]
async fn a_draining_node_refuses_a_calling_invite_in_that_dialects_form() {
    let (addr, _clock, signal, server) = in_process(Duration::from_secs(300)).await;
    // A chatroulette call in progress holds the drain open: a calling room
    // is no call.
    let mut carol = Client::connect(&format!("ws://{addr}/ws/chatroulette")).await;
    carol.send(json!({"type":"CONNECT","payload":{"as":"alice"}})).await;
    assert_eq!(carol.recv().await["type"], "CONNECTED");
    let mut dave = online(&addr.to_string(), "bob").await;
    call(&mut carol, &mut dave).await;
    let url = format!("ws://{addr}/ws/calling");
    let mut bob = Client::connect(&url).await;
    assert_eq!(bob.recv().await["type"], "hello");
    let mut alice = Client::connect(&url).await;
    let hello = alice.recv().await;
    let alice_id = hello["id"].as_str().unwrap().to_owned();
    ask(&mut bob, json!({"type":"room_join","room":"den"}), 1).await;

    signal.send(()).await.unwrap();
    until_not_ready(&addr.to_string()).await;
    let answer = ask(&mut bob, json!({"type":"invite_send","room":"den","user":alice_id,"data":{}}), 2).await;
    assert_eq!(answer["error"], "Server is shutting down, reconnect and try again", "{answer}");
    // The call hangs up: the drain ends, and the calling clients, in a
    // room but in no call, are told 1001.
    carol.send(json!({"type":"HANG_UP","payload":{"to":"bob"}})).await;
    for client in [&mut bob, &mut alice, &mut carol, &mut dave] {
        closed_with(client, CloseCode::Away).await;
    }
    tokio::time::timeout(PATIENCE, server).await.expect("the server stops").unwrap().expect("a clean stop");
}
