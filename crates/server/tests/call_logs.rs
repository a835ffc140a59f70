//! Each call's log lines carry its `call_id`, in JSON and text output, and
//! one `call ended` line closes it, naming users only when asked to.

mod support;

use serde_json::{Value, json};
use support::Client;
use support::binary::{Logs, start, stop};

/// Registers `name` on the chatroulette endpoint of the binary at `addr`.
async fn online(addr: &str, name: &str) -> Client {
    let mut client = Client::connect(&format!("ws://{addr}/ws/chatroulette")).await;
    client.send(json!({"type":"CONNECT","payload":{"as":name}})).await;
    assert_eq!(client.recv().await["type"], "CONNECTED");
    client
}

/// alice calls bob, who rejects the call.
async fn rejected_call(addr: &str) {
    let mut alice = online(addr, "alice").await;
    let mut bob = online(addr, "bob").await;
    alice.send(json!({"type":"REQUEST_CALL","payload":{"to":"bob"}})).await;
    assert_eq!(bob.recv().await["type"], "CALL_REQUESTED");
    bob.send(json!({"type":"REJECT_CALL","payload":{"from":"alice"}})).await;
    assert_eq!(alice.recv().await["type"], "CALL_REJECTED");
}

/// Waits for the log line whose message is `message`.
fn line_with(logs: &Logs, message: &str) -> Value {
    loop {
        let line = logs.recv_timeout(support::PATIENCE).unwrap_or_else(|_| panic!("no {message:?} line"));
        let entry: Value = serde_json::from_str(&line).unwrap();
        if entry["fields"]["message"] == message {
            return entry;
        }
    }
}

#[tokio::test]
async fn a_call_ends_in_one_line_with_its_call_id_and_no_names() {
    let (running, addr, _, logs) = start(&["--log-filter", "info,switchboard_server=debug"]);
    rejected_call(&addr).await;
    let ringing = line_with(&logs, "call ringing");
    let ended = line_with(&logs, "call ended");
    let call_id = ringing["span"]["call_id"].as_str().expect("a call_id on the ringing line").to_owned();
    assert!(call_id.starts_with('c') && call_id.len() == 33, "{call_id}");
    assert_eq!(ended["span"]["call_id"], call_id.as_str(), "{ended}");
    let fields = &ended["fields"];
    assert_eq!(fields["outcome"], "rejected", "{ended}");
    assert_eq!(
        (fields["caller_dialect"].as_str(), fields["callee_dialect"].as_str()),
        (Some("chatroulette"), Some("chatroulette"))
    );
    assert!(fields["caller_session"].as_str().is_some_and(|s| s.starts_with('s')), "{ended}");
    assert!(fields["rang_ms"].is_u64(), "{ended}");
    assert!(fields.get("caller_user").is_none() && !ended.to_string().contains("alice"), "names stay out: {ended}");
    stop(running, logs).await;
}

#[tokio::test]
async fn log_user_names_names_the_parties() {
    let (running, addr, _, logs) = start(&["--log-user-names"]);
    rejected_call(&addr).await;
    let ended = line_with(&logs, "call ended");
    assert_eq!(
        (ended["fields"]["caller_user"].as_str(), ended["fields"]["callee_user"].as_str()),
        (Some("alice"), Some("bob"))
    );
    stop(running, logs).await;
}
