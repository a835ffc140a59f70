//! A Wire device's call with a user of another app, over real sockets: the
//! bridge's own timer (the ICE gathering deadline) runs on the server's
//! clock, which the test moves. The whole call script for every pair is in
//! `cross_dialect_pairs.rs`.

mod support;

use std::time::Instant;

use serde_json::json;
use support::signals::{candidate, sdp, sdp_text};
use support::*;
use switchboard_client::{ClientError, EcallClient};
use switchboard_dialects::ecall::GATHERING;
use switchboard_ecall::{Action, CallState, DeviceConfig, Output};

#[tokio::test]
async fn the_answer_goes_to_the_wire_device_at_the_gathering_deadline_with_the_candidates_that_came() {
    let server = TestServer::start().await;
    let mut bob = server.online("bob").await;
    let mut alice = EcallClient::connect(&format!("ws://{}", server.addr), "alice", "phone", DeviceConfig::default())
        .await
        .unwrap();
    let now = Instant::now();
    let call = Action::Call { peer: "bob".into(), sdp_offer: sdp_text("offer"), video: false };
    alice.act(now, call).await.unwrap();
    assert_eq!(bob.recv().await, json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}));
    bob.send(json!({"type":"ACCEPT_CALL","payload":{"from":"alice"}})).await;
    let offer = json!({"type":"CALLER_DESCRIPTOR_RECEIVED","payload":{"from":"alice","sdp":sdp("offer")}});
    assert_eq!(bob.recv().await, offer, "the offer held in the bridge, sent on accept");
    bob.send(json!({"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":"alice","sdp":sdp("answer")}})).await;
    bob.send(json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"alice","candidate":candidate(7)}})).await;

    // Barriers, so that the clock moves only once alice's connection has
    // taken the answer and the candidate: bob's commands are carried out
    // in order (an unknown callee's answer comes after them), and alice's
    // events reach her connection in order (the refusal of a message she
    // sends next comes after them).
    bob.send(json!({"type":"REQUEST_CALL","payload":{"to":"nobody"}})).await;
    assert_eq!(bob.recv().await["type"], "UNKNOWN_RECIPIENT");
    let probe = json!({"type":"calling","to":"bob","to_client":"tablet","content":propsync()});
    alice.send_raw(probe.to_string()).await.unwrap();
    let refused = tokio::time::timeout(PATIENCE, alice.receive(now)).await.expect("in time");
    assert!(matches!(refused, Err(ClientError::Refused(_))), "{refused:?}");

    server.clock.advance(GATHERING);
    let answer = format!("{}a={}\r\n", sdp_text("answer"), candidate(7)["candidate"].as_str().unwrap());
    loop {
        let output = tokio::time::timeout(PATIENCE, alice.next_event(now)).await.expect("the answer in time");
        match output.unwrap() {
            Output::RemoteSdp { sdp, answer: true, .. } => break assert_eq!(sdp, answer),
            Output::State { state, .. } => {
                assert!(matches!(state, CallState::Outgoing | CallState::Connecting), "{state}")
            }
            Output::RemoteProps { .. } => {}
            other => panic!("{other:?}"),
        }
    }
    server.stop().await;
}

/// A PROPSYNC, as a probe the server refuses.
fn propsync() -> String {
    json!({"version":"3.0","type":"PROPSYNC","sessid":"ab12","resp":false,"props":{"videosend":"false"}}).to_string()
}
