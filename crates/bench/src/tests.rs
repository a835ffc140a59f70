//! The generator's dialects against a real switchboard (and the bare relay)
//! over real sockets: each builds a call, relays every kind of signal both
//! ways, and hangs up. If the server's protocol drifts from what the
//! generator sends, these fail here rather than as a hung benchmark.

use std::net::SocketAddr;

use switchboard_server::{Application, Clock, Config};
use tokio::net::TcpListener;

use crate::target::{Call, Signal, Target, call, is_relayed, next_text, send};

pub(crate) async fn switchboard() -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = Application::build(Config::default(), Clock::System).await.expect("server builds");
    let addr = app.local_addr();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.run_until_stopped(async move {
        let _ = stopped.await;
    }));
    (addr, stop)
}

/// The next frame that is a relayed signal, skipping answers and presence.
async fn relayed_frame(call: &mut Call, to_caller: bool) -> String {
    let target = call.target;
    let peer = if to_caller { &mut call.caller } else { &mut call.callee };
    loop {
        let text = next_text(&mut peer.socket).await.expect("a frame");
        if is_relayed(target, &text) {
            return text;
        }
    }
}

async fn full_call(target: Target, addr: SocketAddr) {
    let server = crate::target::Server { target, addr, peer_addr: None };
    // Names of their own per dialect: a name is held by sessions of one
    // dialect, and the last target's sockets may still be closing.
    let (caller, callee) = (format!("benchalice{target:?}"), format!("benchbob{target:?}"));
    let mut call = call(server, &caller, &callee).await.expect("a call");
    for (from_caller, signal) in
        [(true, Signal::Offer), (false, Signal::Answer), (true, Signal::IceCandidate), (false, Signal::IceCandidate)]
    {
        let frame = call.frame(from_caller, signal, 300);
        assert!(frame.len() >= 300, "{target:?} {signal:?}: padded to the size asked, got {}", frame.len());
        let from = if from_caller { &mut call.caller } else { &mut call.callee };
        send(&mut from.socket, frame).await.expect("sent");
        let got = relayed_frame(&mut call, !from_caller).await;
        assert!(got.contains("a=x") || got.contains("xxxx"), "{target:?} {signal:?}: the payload came through: {got}");
    }
    call.hang_up().await.expect("the callee hears the hang-up");
    call.close().await;
}

#[tokio::test]
async fn every_switchboard_dialect_relays_each_signal_and_hangs_up() {
    let (addr, _stop) = switchboard().await;
    for target in [Target::Chatroulette, Target::Calling, Target::Tringtring, Target::Cloudkibo, Target::Ecall] {
        full_call(target, addr).await;
    }
}

#[tokio::test]
async fn the_bare_relay_pairs_a_calls_connections() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bound");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(crate::baseline::serve(listener));
    full_call(Target::Baseline, addr).await;
}

#[test]
fn relayed_frames_are_told_from_answers_and_keepalives() {
    assert!(is_relayed(Target::Calling, r#"{"type":"room_peer_from","room":"r","user":"u"}"#));
    assert!(!is_relayed(Target::Calling, r#"{"type":"answer","tid":3,"data":{}}"#));
    assert!(is_relayed(Target::Chatroulette, r#"{"type":"ICE_CANDIDATE_RECEIVED","payload":{}}"#));
    assert!(!is_relayed(Target::Chatroulette, r#"{"type":"ERROR","payload":{}}"#));
    assert!(is_relayed(Target::Tringtring, r#"42["ice-candidate",{"from":"a"}]"#));
    assert!(!is_relayed(Target::Tringtring, "2"));
    assert!(!is_relayed(Target::Tringtring, r#"42["error",{"message":"m"}]"#));
}

/// matchbox_server is not run here (scripts/bench builds it); its frames
/// are checked against `matchbox_protocol`'s serde shapes instead:
/// `PeerRequest::Signal { receiver, data }`, externally tagged, and the
/// `PeerEvent`s a peer receives.
#[test]
fn matchbox_frames_have_matchbox_protocols_shape() {
    let receiver = "67e55044-10b1-426f-9247-bb680e5fe0c8";
    for (signal, kind) in [(Signal::Offer, "Offer"), (Signal::Answer, "Answer"), (Signal::IceCandidate, "IceCandidate")]
    {
        let frame: serde_json::Value =
            serde_json::from_str(&crate::matchbox::frame(receiver, signal, "a=x")).expect("JSON");
        assert_eq!(frame, serde_json::json!({ "Signal": { "receiver": receiver, "data": { kind: "a=x" } } }));
    }
    assert!(is_relayed(Target::Matchbox, r#"{"Signal":{"sender":"u","data":{"Offer":"v=0"}}}"#));
    assert!(!is_relayed(Target::Matchbox, r#"{"NewPeer":"u"}"#));
    assert!(!is_relayed(Target::Matchbox, r#"{"PeerLeft":"u"}"#));
}
