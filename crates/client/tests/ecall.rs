//! ecall end to end: Rust clients running the ECall state machine against a
//! real server over real WebSockets. The server's clock is manual, and the
//! clients' time is passed in, so nothing waits in real time.

use std::time::{Duration, Instant};

use switchboard_client::{ClientError, EcallClient};
use switchboard_ecall::{Action, CallState, DeviceConfig, EndReason, Output};
use switchboard_server::{Application, Clock, Config, ManualClock};
use tokio::sync::oneshot;

/// Bounds a wait that should end at once (never a way to let time pass).
const PATIENCE: Duration = Duration::from_secs(20);

struct Server {
    base: String,
    clock: ManualClock,
    stop: Option<oneshot::Sender<()>>,
}

impl Server {
    async fn start() -> Self {
        let clock = ManualClock::new();
        let app = Application::build(Config::default(), Clock::Manual(clock.clone())).await.unwrap();
        let base = format!("ws://{}", app.local_addr());
        let (stop, stopped) = oneshot::channel();
        tokio::spawn(app.run_until_stopped(async move {
            let _ = stopped.await;
        }));
        Self { base, clock, stop: Some(stop) }
    }

    async fn device(&self, user: &str, client: &str) -> EcallClient {
        EcallClient::connect(&self.base, user, client, DeviceConfig::default()).await.unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The next output of `client`, within PATIENCE.
async fn next(client: &mut EcallClient, now: Instant) -> Output {
    tokio::time::timeout(PATIENCE, client.next_event(now)).await.expect("an event in time").expect("no error")
}

/// Waits until the call with `peer` reaches `state`, skipping other outputs.
async fn until_state(client: &mut EcallClient, now: Instant, peer: &str, state: CallState) {
    loop {
        if let Output::State { peer: p, state: s } = next(client, now).await
            && p == peer
            && s == state
        {
            return;
        }
    }
}

/// Waits until the peer's `videosend` property is `expected` (earlier
/// props, such as the SETUP's or a PROPSYNC acknowledgement's, pass by).
async fn until_video(client: &mut EcallClient, now: Instant, expected: &str) {
    loop {
        if let Output::RemoteProps { props, .. } = next(client, now).await
            && props.get("videosend").map(String::as_str) == Some(expected)
        {
            return;
        }
    }
}

/// alice (device a1) calls bob (device b1), who answers; both connecting.
async fn answered_call(server: &Server, now: Instant) -> (EcallClient, EcallClient) {
    let mut alice = server.device("alice", "a1").await;
    let mut bob = server.device("bob", "b1").await;
    alice.act(now, call("bob")).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Incoming).await;
    bob.act(now, accept("alice")).await.unwrap();
    until_state(&mut alice, now, "bob", CallState::Connecting).await;
    (alice, bob)
}

fn call(peer: &str) -> Action {
    Action::Call { peer: peer.into(), sdp_offer: "v=0\r\no=alice\r\n".into(), video: true }
}

fn accept(peer: &str) -> Action {
    Action::Accept { peer: peer.into(), sdp_answer: "v=0\r\no=bob\r\n".into() }
}

#[tokio::test]
async fn bob_rings_on_both_devices_and_the_other_stops_when_one_answers() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut alice = server.device("alice", "a1").await;
    let mut bob_phone = server.device("bob", "phone").await;
    let mut bob_laptop = server.device("bob", "laptop").await;

    alice.act(now, call("bob")).await.unwrap();
    until_state(&mut bob_phone, now, "alice", CallState::Incoming).await;
    until_state(&mut bob_laptop, now, "alice", CallState::Incoming).await;

    bob_phone.act(now, accept("alice")).await.unwrap();
    until_state(&mut alice, now, "bob", CallState::Connecting).await;
    until_state(&mut bob_laptop, now, "alice", CallState::Ended(EndReason::AnsweredElsewhere)).await;
    assert_eq!(bob_phone.device().state("alice"), Some(CallState::Connecting));

    for (client, peer) in [(&mut alice, "bob"), (&mut bob_phone, "alice")] {
        client.act(now, Action::IceConnected { peer: peer.into() }).await.unwrap();
        assert_eq!(client.device().state(peer), Some(CallState::Ongoing));
    }
}

#[tokio::test]
async fn video_is_switched_both_ways_with_propsync() {
    let server = Server::start().await;
    let now = Instant::now();
    let (mut alice, mut bob) = answered_call(&server, now).await;

    alice.act(now, Action::SetVideo { peer: "bob".into(), on: false }).await.unwrap();
    until_video(&mut bob, now, "false").await;
    bob.act(now, Action::SetVideo { peer: "alice".into(), on: false }).await.unwrap();
    until_video(&mut alice, now, "false").await;
    alice.act(now, Action::SetVideo { peer: "bob".into(), on: true }).await.unwrap();
    until_video(&mut bob, now, "true").await;
}

#[tokio::test]
async fn a_hangup_is_acknowledged() {
    let server = Server::start().await;
    let now = Instant::now();
    let (mut alice, mut bob) = answered_call(&server, now).await;

    alice.act(now, Action::Hangup { peer: "bob".into() }).await.unwrap();
    assert!(matches!(alice.device().state("bob"), Some(CallState::Ended(EndReason::Hangup))));
    until_state(&mut bob, now, "alice", CallState::Ended(EndReason::RemoteHangup)).await;
    // bob's machine acknowledges: HANGUP with resp true, to alice's device.
    let ack: serde_json::Value =
        serde_json::from_str(&tokio::time::timeout(PATIENCE, alice.receive(now)).await.unwrap().unwrap()).unwrap();
    assert_eq!((ack["type"].as_str(), ack["resp"].as_bool()), (Some("HANGUP"), Some(true)), "{ack}");
    assert!(matches!(alice.device().state("bob"), Some(CallState::Ended(EndReason::Hangup))));
}

#[tokio::test]
async fn nobody_answering_for_30_seconds_sends_cancel() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut alice = server.device("alice", "a1").await;
    let mut bob = server.device("bob", "b1").await;
    alice.act(now, call("bob")).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Incoming).await;

    alice.tick(now + Duration::from_millis(29_999)).await.unwrap();
    assert_eq!(alice.device().state("bob"), Some(CallState::Outgoing));
    let later = now + Duration::from_secs(30);
    alice.tick(later).await.unwrap();
    assert_eq!(alice.device().state("bob"), Some(CallState::Ended(EndReason::Timeout)));
    until_state(&mut bob, later, "alice", CallState::Ended(EndReason::Cancelled)).await;
}

#[tokio::test]
async fn a_rejected_call_ends_on_both_and_a_cancelled_one_stops_ringing() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut alice = server.device("alice", "a1").await;
    let mut bob = server.device("bob", "b1").await;

    alice.act(now, call("bob")).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Incoming).await;
    bob.act(now, Action::Reject { peer: "alice".into() }).await.unwrap();
    until_state(&mut alice, now, "bob", CallState::Ended(EndReason::Rejected)).await;

    alice.act(now, call("bob")).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Incoming).await;
    alice.act(now, Action::Hangup { peer: "bob".into() }).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Ended(EndReason::Cancelled)).await;
}

#[tokio::test]
async fn glare_is_resolved_by_the_lower_user_id_answering() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut alice = server.device("alice", "a1").await;
    let mut bob = server.device("bob", "b1").await;
    alice.act(now, call("bob")).await.unwrap();
    bob.act(now, call("alice")).await.unwrap();
    // "alice" < "bob": alice turns to answering bob's call.
    until_state(&mut alice, now, "bob", CallState::Incoming).await;
    alice.act(now, accept("bob")).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Connecting).await;
}

#[tokio::test]
async fn a_device_connecting_5_seconds_after_the_setup_still_gets_it() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut alice = server.device("alice", "a1").await;
    alice.act(now, call("bob")).await.unwrap();
    // bob has no device yet: the server holds the SETUP, on its own clock.
    server.clock.advance(Duration::from_secs(5));
    let mut bob = server.device("bob", "b1").await;
    until_state(&mut bob, now + Duration::from_secs(5), "alice", CallState::Incoming).await;
}

#[tokio::test]
async fn the_server_refuses_malformed_content_and_keeps_the_connection() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut alice = server.device("alice", "a1").await;
    let mut bob = server.device("bob", "b1").await;
    let bad = serde_json::json!({"type":"calling","to":"bob","content":"{\"version\":\"2.0\",\"type\":\"SETUP\"}"});
    alice.send_raw(bad.to_string()).await.unwrap();
    match tokio::time::timeout(PATIENCE, alice.next_event(now)).await.unwrap() {
        Err(ClientError::Refused(message)) => assert!(message.starts_with("bad content"), "{message}"),
        other => panic!("{other:?}"),
    }
    // Still connected: a real call goes through.
    alice.act(now, call("bob")).await.unwrap();
    until_state(&mut bob, now, "alice", CallState::Incoming).await;
}

#[tokio::test]
async fn the_same_device_connecting_again_closes_the_older_connection() {
    let server = Server::start().await;
    let now = Instant::now();
    let mut older = server.device("bob", "b1").await;
    let _newer = server.device("bob", "b1").await;
    match tokio::time::timeout(PATIENCE, older.next_event(now)).await.unwrap() {
        Err(ClientError::Closed) => {}
        other => panic!("the older connection should be closed: {other:?}"),
    }
}
