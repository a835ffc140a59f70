//! The ecall codec's bridge, sans-IO: a Wire device calling a user of
//! another app (Step 13). The codec is driven as a transport drives it:
//! the time of each turn, the client's frames, the core's events.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use switchboard_core::{
    Command, CommandError, EndReason, Event, InviteId, InviteRef, Payload, RelayTarget, RoomId, Signal, SignalKind,
    UserId,
};
use switchboard_dialects::codec::{Codec, Effect, TextFrame};
use switchboard_dialects::ecall::{BRIDGE_CLIENT, Ecall, GATHERING, RING_TIMEOUT, SDP_WAIT};
use switchboard_ecall::{Action, CallState, Device, DeviceConfig, ECallMessage, MessageType, Output};

const OFFER: &str = "v=0\r\ns=offer\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
const ANSWER: &str = "v=0\r\ns=answer\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";

fn bob() -> UserId {
    UserId::parse("bob").unwrap()
}

/// Alice's Wire device (its state machine, as her client runs it) and her
/// connection's codec.
struct Wire {
    device: Device,
    codec: Ecall,
    now: Instant,
}

impl Wire {
    fn new() -> Self {
        Self {
            device: Device::new("alice", "c1", DeviceConfig::default()),
            codec: Ecall::new("alice", "c1").unwrap(),
            now: Instant::now(),
        }
    }

    /// The device acts; what it sends goes through the codec.
    fn act(&mut self, action: Action) -> Vec<Effect<String>> {
        self.device.handle_action(self.now, action).unwrap();
        let mut effects = Vec::new();
        while let Some(output) = self.device.poll_output() {
            if let Output::Send { to, to_client, content } = output {
                let mut frame = json!({"type": "calling", "to": to, "content": content});
                if let Some(client) = to_client {
                    frame["to_client"] = json!(client);
                }
                self.codec.at(self.now);
                self.codec.on_client(TextFrame::Text(&frame.to_string()), &mut effects);
            }
        }
        effects
    }

    fn core(&mut self, event: Event) -> Vec<Effect<String>> {
        let mut effects = Vec::new();
        self.codec.at(self.now);
        self.codec.on_core(&event, &mut effects);
        effects
    }

    /// The frames among `effects` reach the device; its outputs but for
    /// sends come back.
    fn receive(&mut self, effects: &[Effect<String>]) -> Vec<Output> {
        for effect in effects {
            let Effect::Send(frame) = effect else { continue };
            let frame: Value = serde_json::from_str(frame).unwrap();
            if frame["type"] == "calling" {
                assert_eq!((frame["from"].as_str(), frame["from_client"].as_str()), (Some("bob"), Some(BRIDGE_CLIENT)));
                self.device.handle_message(self.now, "bob", BRIDGE_CLIENT, frame["content"].as_str().unwrap()).unwrap();
            }
        }
        std::iter::from_fn(|| self.device.poll_output()).filter(|o| !matches!(o, Output::Send { .. })).collect()
    }

    /// Alice calls bob, a user of another app; the core refuses the ECall
    /// message as not carried, and the bridge places the call.
    fn call_bob(&mut self) {
        let effects = self.act(Action::Call { peer: "bob".into(), sdp_offer: OFFER.into(), video: true });
        let [Effect::Command(request, Command::Relay { .. })] = &effects[..] else { panic!("{effects:?}") };
        let refused = CommandError::NotCarried { to: bob(), what: "Wire calling messages".into() };
        let effects = self.core(Event::Reply { tag: request.tag, result: Err(refused) });
        assert!(
            matches!(&effects[..], [Effect::Command(_, Command::Call { to, .. })] if *to == bob()),
            "a call, and no error frame: {effects:?}"
        );
    }

    fn accepted(&mut self) -> Vec<Effect<String>> {
        let room = RoomId::parse("call-1").unwrap();
        self.core(Event::CallAccepted { invite: InviteId(1), room, by: bob(), note: None, by_style: None })
    }

    fn relayed(&mut self, kind: SignalKind, payload: Value) -> Vec<Effect<String>> {
        let signal = Signal { kind, payload: Payload::new(payload.to_string()) };
        let room = Some(RoomId::parse("call-1").unwrap());
        self.core(Event::Relayed { room, from: bob(), from_peer: "bob-peer".into(), from_status: None, signal })
    }
}

fn candidate(n: u32) -> Value {
    json!({"candidate": format!("candidate:{n} 1 udp 2122260223 127.0.0.1 5000{n} typ host"), "sdpMid": "0", "sdpMLineIndex": 0})
}

fn error_frames(effects: &[Effect<String>]) -> Vec<String> {
    effects
        .iter()
        .filter_map(|effect| match effect {
            Effect::Send(frame) => serde_json::from_str::<Value>(frame).ok(),
            _ => None,
        })
        .filter(|frame| frame["type"] == "error")
        .map(|frame| frame["error"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_offer_waits_for_the_accept_and_the_answer_for_the_gathering_deadline() {
    let mut alice = Wire::new();
    alice.call_bob();
    let effects = alice.accepted();
    let [Effect::Command(_, Command::Relay { to: RelayTarget::CallPeer(to), signal })] = &effects[..] else {
        panic!("{effects:?}")
    };
    assert_eq!((to, &signal.kind), (&bob(), &SignalKind::Offer));
    assert_eq!(serde_json::from_str::<Value>(signal.payload.as_str()).unwrap(), json!({"type": "offer", "sdp": OFFER}));

    assert!(alice.relayed(SignalKind::Answer, json!({"type": "answer", "sdp": ANSWER})).is_empty());
    assert!(alice.relayed(SignalKind::IceCandidate, candidate(1)).is_empty());
    assert_eq!(alice.codec.deadline(), Some(alice.now + GATHERING), "the answer waits for candidates");

    // Just before the deadline nothing is due; at it, the answer goes with
    // the one candidate that came.
    alice.now += GATHERING - Duration::from_millis(1);
    assert!(alice.codec.deadline().is_some_and(|at| at > alice.now));
    alice.now += Duration::from_millis(1);
    let mut effects = Vec::new();
    let now = alice.now;
    alice.codec.on_deadline(now, &mut effects);
    let outputs = alice.receive(&effects);
    let answer = format!("{ANSWER}a=candidate:1 1 udp 2122260223 127.0.0.1 50001 typ host\r\n");
    assert!(outputs.contains(&Output::RemoteSdp { peer: "bob".into(), sdp: answer, answer: true }), "{outputs:?}");
    assert_eq!(alice.device.state("bob"), Some(CallState::Connecting));
    assert_eq!(alice.codec.deadline(), None);
    // A candidate after the answer went has nowhere to go in ECall.
    assert!(alice.relayed(SignalKind::IceCandidate, candidate(2)).is_empty());
}

#[test]
fn the_wire_devices_cancel_withdraws_the_ringing_call() {
    let mut alice = Wire::new();
    alice.call_bob();
    let effects = alice.act(Action::Hangup { peer: "bob".into() });
    assert!(Wire::ended_with(&effects, EndReason::Cancelled), "{effects:?}");
    // The bridge confirms the CANCEL, as a Wire peer does.
    let confirm = effects.iter().find_map(|effect| match effect {
        Effect::Send(frame) => serde_json::from_str::<Value>(frame).ok(),
        _ => None,
    });
    let content = ECallMessage::parse(confirm.expect("a confirmation")["content"].as_str().unwrap()).unwrap();
    assert_eq!((content.kind, content.resp), (MessageType::Cancel, true));
}

#[test]
fn a_call_the_core_refuses_is_rejected_with_the_reason() {
    let mut alice = Wire::new();
    let effects = alice.act(Action::Call { peer: "bob".into(), sdp_offer: OFFER.into(), video: false });
    let [Effect::Command(relay, _)] = &effects[..] else { panic!("{effects:?}") };
    let refused = CommandError::NotCarried { to: bob(), what: "Wire calling messages".into() };
    let effects = alice.core(Event::Reply { tag: relay.tag, result: Err(refused) });
    let [Effect::Command(call, Command::Call { .. })] = &effects[..] else { panic!("{effects:?}") };
    let effects = alice.core(Event::Reply { tag: call.tag, result: Err(CommandError::Busy(bob())) });
    assert_eq!(error_frames(&effects), ["bob is busy"]);
    alice.receive(&effects);
    assert_eq!(alice.device.state("bob"), Some(CallState::Ended(switchboard_ecall::EndReason::Rejected)));
}

/// Alice calls bob and the call is answered: bob's answer reaches her
/// device at end-of-candidates.
fn answered_call() -> Wire {
    let mut alice = Wire::new();
    alice.call_bob();
    alice.accepted();
    alice.relayed(SignalKind::Answer, json!({"type": "answer", "sdp": ANSWER}));
    // End-of-candidates: the answer goes at once, marked so.
    let effects = alice.relayed(SignalKind::IceCandidate, json!({"candidate": "", "sdpMid": "0", "sdpMLineIndex": 0}));
    let outputs = alice.receive(&effects);
    let answer = format!("{ANSWER}a=end-of-candidates\r\n");
    assert!(outputs.contains(&Output::RemoteSdp { peer: "bob".into(), sdp: answer, answer: true }), "{outputs:?}");
    alice
}

/// The SDP relayed to bob among `effects`, if any.
fn relayed_to_bob(effects: &[Effect<String>]) -> Option<&Signal> {
    effects.iter().find_map(|effect| match effect {
        Effect::Command(_, Command::Relay { to: RelayTarget::CallPeer(to), signal }) if *to == bob() => Some(signal),
        _ => None,
    })
}

#[test]
fn the_wire_devices_update_renegotiates_with_the_other_app_and_a_hang_up_ends_the_call() {
    let mut alice = answered_call();
    let renegotiated = OFFER.replace("s=offer", "s=update");
    let effects = alice.act(Action::Update { peer: "bob".into(), sdp_offer: renegotiated.clone() });
    let offer = relayed_to_bob(&effects).expect("the UPDATE's offer goes to bob");
    assert_eq!(offer.kind, SignalKind::Offer);
    assert_eq!(
        serde_json::from_str::<Value>(offer.payload.as_str()).unwrap(),
        json!({"type": "offer", "sdp": renegotiated})
    );
    assert!(error_frames(&effects).is_empty(), "{effects:?}");
    // Bob's answer, and a candidate, come back as UPDATE resp: true.
    alice.relayed(SignalKind::Answer, json!({"type": "answer", "sdp": ANSWER}));
    alice.relayed(SignalKind::IceCandidate, candidate(3));
    let effects = alice.relayed(SignalKind::IceCandidate, Value::Null);
    let outputs = alice.receive(&effects);
    let answer = format!("{ANSWER}a=candidate:3 1 udp 2122260223 127.0.0.1 50003 typ host\r\na=end-of-candidates\r\n");
    assert!(outputs.contains(&Output::RemoteSdp { peer: "bob".into(), sdp: answer, answer: true }), "{outputs:?}");

    let effects = alice.act(Action::Hangup { peer: "bob".into() });
    assert!(Wire::ended_with(&effects, EndReason::Hangup), "{effects:?}");
    // The other side's end, after: the call is over on both; nothing more.
    let room = RoomId::parse("call-1").unwrap();
    let effects = alice.core(Event::CallEnded {
        room,
        by: bob(),
        caller: UserId::parse("alice").unwrap(),
        reason: EndReason::Hangup,
    });
    assert!(alice.receive(&effects).is_empty(), "{effects:?}");
}

#[test]
fn the_other_apps_renegotiation_reaches_the_wire_device_as_update() {
    let mut alice = answered_call();
    let renegotiated = OFFER.replace("s=offer", "s=restart");
    assert!(alice.relayed(SignalKind::Offer, json!({"type": "offer", "sdp": renegotiated})).is_empty());
    let effects = alice.relayed(SignalKind::IceCandidate, json!({"candidate": ""}));
    let outputs = alice.receive(&effects);
    let offer = format!("{renegotiated}a=end-of-candidates\r\n");
    assert!(outputs.contains(&Output::RemoteSdp { peer: "bob".into(), sdp: offer, answer: false }), "{outputs:?}");
    let effects = alice.act(Action::UpdateAnswer { peer: "bob".into(), sdp_answer: ANSWER.into() });
    let answer = relayed_to_bob(&effects).expect("the UPDATE's answer goes to bob");
    assert_eq!(answer.kind, SignalKind::Answer);
    assert_eq!(
        serde_json::from_str::<Value>(answer.payload.as_str()).unwrap(),
        json!({"type": "answer", "sdp": ANSWER})
    );
}

#[test]
fn the_other_side_hanging_up_reaches_the_wire_device_as_hangup() {
    let mut alice = Wire::new();
    alice.call_bob();
    alice.accepted();
    alice.relayed(SignalKind::Answer, json!({"type": "answer", "sdp": ANSWER}));
    alice.relayed(SignalKind::IceCandidate, Value::Null);
    let room = RoomId::parse("call-1").unwrap();
    let alice_id = UserId::parse("alice").unwrap();
    let effects = alice.core(Event::CallEnded { room, by: bob(), caller: alice_id, reason: EndReason::Disconnected });
    let outputs = alice.receive(&effects);
    let ended =
        Output::State { peer: "bob".into(), state: CallState::Ended(switchboard_ecall::EndReason::RemoteHangup) };
    assert!(outputs.contains(&ended), "{outputs:?}");
}

// Bob, a user of another app, calls alice's Wire device.
impl Wire {
    /// The core rings alice for bob's call: the bridge accepts it for her
    /// device at once, and her device hears nothing yet. The accept's tag.
    fn rung_by_bob(&mut self) -> u64 {
        let room = switchboard_core::RoomView {
            id: RoomId::parse("call-1").unwrap(),
            peers: Vec::new(),
            member: None,
            status: Vec::new(),
        };
        let ringing = Event::Ringing {
            invite: InviteId(7),
            room,
            from: bob(),
            data: Payload::null(),
            from_style: Some(switchboard_core::CallStyle::Signals),
        };
        let effects = self.core(ringing);
        let [Effect::Command(request, Command::Accept { invite: InviteRef::Id(InviteId(7)), .. })] = &effects[..]
        else {
            panic!("an accept and no frame: {effects:?}")
        };
        request.tag
    }

    /// Bob's offer and candidates come, with end-of-candidates: alice's
    /// device rings on a SETUP holding them.
    fn rings_with_bobs_offer(&mut self) {
        assert!(self.relayed(SignalKind::Offer, json!({"type": "offer", "sdp": OFFER})).is_empty());
        assert!(self.relayed(SignalKind::IceCandidate, candidate(1)).is_empty());
        let effects = self.relayed(SignalKind::IceCandidate, json!({"candidate": ""}));
        let outputs = self.receive(&effects);
        let offer =
            format!("{OFFER}a=candidate:1 1 udp 2122260223 127.0.0.1 50001 typ host\r\na=end-of-candidates\r\n");
        assert!(outputs.contains(&Output::RemoteSdp { peer: "bob".into(), sdp: offer, answer: false }), "{outputs:?}");
        assert_eq!(self.device.state("bob"), Some(CallState::Incoming));
    }

    fn ended_with(effects: &[Effect<String>], reason: EndReason) -> bool {
        effects.iter().any(|effect| {
            matches!(effect, Effect::Command(_, Command::EndCallWith { peer, reason: r, .. }) if *peer == bob() && *r == reason)
        })
    }
}

#[test]
fn another_apps_call_rings_the_wire_device_once_its_offer_is_in_and_gets_the_answer() {
    let mut alice = Wire::new();
    alice.rung_by_bob();
    alice.rings_with_bobs_offer();
    let effects = alice.act(Action::Accept { peer: "bob".into(), sdp_answer: ANSWER.into() });
    let relayed = effects.iter().find_map(|effect| match effect {
        Effect::Command(_, Command::Relay { to: RelayTarget::CallPeer(to), signal }) if *to == bob() => Some(signal),
        _ => None,
    });
    let signal = relayed.expect("the answer goes to bob");
    assert_eq!(signal.kind, SignalKind::Answer);
    assert_eq!(
        serde_json::from_str::<Value>(signal.payload.as_str()).unwrap(),
        json!({"type": "answer", "sdp": ANSWER})
    );
    assert!(error_frames(&effects).is_empty());

    let effects = alice.act(Action::Hangup { peer: "bob".into() });
    assert!(Wire::ended_with(&effects, EndReason::Hangup), "{effects:?}");
}

#[test]
fn the_wire_devices_reject_ends_the_call_with_reason_rejected() {
    let mut alice = Wire::new();
    alice.rung_by_bob();
    alice.rings_with_bobs_offer();
    let effects = alice.act(Action::Reject { peer: "bob".into() });
    assert!(Wire::ended_with(&effects, EndReason::Rejected), "{effects:?}");
}

#[test]
fn an_offer_without_end_of_candidates_rings_at_the_gathering_deadline_and_rings_out() {
    let mut alice = Wire::new();
    alice.rung_by_bob();
    assert!(alice.relayed(SignalKind::Offer, json!({"type": "offer", "sdp": OFFER})).is_empty());
    assert_eq!(alice.codec.deadline(), Some(alice.now + GATHERING));
    alice.now += GATHERING;
    let (now, mut effects) = (alice.now, Vec::new());
    alice.codec.on_deadline(now, &mut effects);
    let outputs = alice.receive(&effects);
    assert!(outputs.contains(&Output::RemoteSdp { peer: "bob".into(), sdp: OFFER.into(), answer: false }));

    // Nobody answers: the bridge's device rings out, as a Wire caller's does.
    assert_eq!(alice.codec.deadline(), Some(alice.now + RING_TIMEOUT));
    alice.now += RING_TIMEOUT;
    let (now, mut effects) = (alice.now, Vec::new());
    alice.codec.on_deadline(now, &mut effects);
    assert!(Wire::ended_with(&effects, EndReason::Timeout), "{effects:?}");
    alice.receive(&effects);
    assert_eq!(alice.device.state("bob"), Some(CallState::Ended(switchboard_ecall::EndReason::Cancelled)));
    assert_eq!(alice.codec.deadline(), None);
}

#[test]
fn the_wire_device_rings_for_the_servers_ring_timeout() {
    let mut alice = Wire::new();
    alice.codec = Ecall::new("alice", "c1").unwrap().with_ring_timeout(Duration::from_secs(45));
    alice.rung_by_bob();
    alice.rings_with_bobs_offer();
    assert_eq!(alice.codec.deadline(), Some(alice.now + Duration::from_secs(45)));
}

#[test]
fn the_caller_hanging_up_while_the_wire_device_rings_cancels_it() {
    let mut alice = Wire::new();
    alice.rung_by_bob();
    alice.rings_with_bobs_offer();
    let room = RoomId::parse("call-1").unwrap();
    let effects = alice.core(Event::CallEnded { room, by: bob(), caller: bob(), reason: EndReason::Hangup });
    alice.receive(&effects);
    assert_eq!(alice.device.state("bob"), Some(CallState::Ended(switchboard_ecall::EndReason::Cancelled)));
}

#[test]
fn a_call_another_device_took_leaves_this_one_silent() {
    let mut alice = Wire::new();
    let accept = alice.rung_by_bob();
    let stopped =
        Event::RingingStopped { invite: InviteId(7), from: bob(), reason: EndReason::AnsweredElsewhere, note: None };
    assert!(alice.core(stopped).is_empty());
    // Its accept comes back refused: no error frame either.
    let effects = alice.core(Event::Reply { tag: accept, result: Err(CommandError::NoSuchInvite) });
    assert!(error_frames(&effects).is_empty(), "{effects:?}");
    assert_eq!(alice.codec.deadline(), None);
}

#[test]
fn a_cancel_before_the_setups_refusal_withdraws_the_call_quietly() {
    let mut alice = Wire::new();
    let effects = alice.act(Action::Call { peer: "bob".into(), sdp_offer: OFFER.into(), video: false });
    let [Effect::Command(setup, _)] = &effects[..] else { panic!("{effects:?}") };
    assert!(setup.reply_on_success, "a SETUP offer's relay is tracked");
    // Alice gives up before the core's refusal of the SETUP is back.
    let effects = alice.act(Action::Hangup { peer: "bob".into() });
    let [Effect::Command(cancel, Command::Relay { .. })] = &effects[..] else { panic!("{effects:?}") };
    let refused = || CommandError::NotCarried { to: bob(), what: "Wire calling messages".into() };
    assert!(alice.core(Event::Reply { tag: setup.tag, result: Err(refused()) }).is_empty(), "no call is placed");
    assert!(alice.core(Event::Reply { tag: cancel.tag, result: Err(refused()) }).is_empty(), "no error frame");
    assert_eq!(alice.codec.deadline(), None);
}

#[test]
fn two_offers_in_flight_each_find_their_own_call() {
    let mut alice = Wire::new();
    let carol = UserId::parse("carol").unwrap();
    let effects = alice.act(Action::Call { peer: "bob".into(), sdp_offer: OFFER.into(), video: false });
    let [Effect::Command(to_bob, _)] = &effects[..] else { panic!("{effects:?}") };
    let effects = alice.act(Action::Call { peer: "carol".into(), sdp_offer: OFFER.into(), video: false });
    let [Effect::Command(to_carol, _)] = &effects[..] else { panic!("{effects:?}") };
    for (tag, user) in [(to_bob.tag, bob()), (to_carol.tag, carol.clone())] {
        let refused = CommandError::NotCarried { to: user.clone(), what: "Wire calling messages".into() };
        let effects = alice.core(Event::Reply { tag, result: Err(refused) });
        assert!(matches!(&effects[..], [Effect::Command(_, Command::Call { to, .. })] if *to == user), "{effects:?}");
    }
}

#[test]
fn an_accept_crossing_the_wire_devices_cancel_sends_no_offer() {
    let mut alice = Wire::new();
    alice.call_bob();
    let effects = alice.act(Action::Hangup { peer: "bob".into() });
    assert!(Wire::ended_with(&effects, EndReason::Cancelled), "{effects:?}");
    // Bob's accept was on its way: the core ends the call on alice's end,
    // and the bridge relays nothing.
    assert!(alice.accepted().is_empty());
}

#[test]
fn a_silent_caller_that_never_offers_is_ended_after_the_sdp_wait() {
    let mut alice = Wire::new();
    alice.rung_by_bob();
    assert_eq!(alice.codec.deadline(), Some(alice.now + SDP_WAIT));
    alice.now += SDP_WAIT;
    let (now, mut effects) = (alice.now, Vec::new());
    alice.codec.on_deadline(now, &mut effects);
    assert!(Wire::ended_with(&effects, EndReason::Timeout), "{effects:?}");
    assert!(alice.receive(&effects).is_empty(), "the Wire device never rang: {effects:?}");
}

#[test]
fn trickled_candidates_are_bounded() {
    let mut alice = Wire::new();
    alice.call_bob();
    alice.accepted();
    for n in 0..1000 {
        alice.relayed(SignalKind::IceCandidate, candidate(n % 10));
    }
    alice.relayed(SignalKind::Answer, json!({"type": "answer", "sdp": ANSWER}));
    let effects = alice.relayed(SignalKind::IceCandidate, json!({"candidate": ""}));
    let outputs = alice.receive(&effects);
    let Some(Output::RemoteSdp { sdp, .. }) = outputs.iter().find(|o| matches!(o, Output::RemoteSdp { .. })) else {
        panic!("{outputs:?}")
    };
    assert_eq!(sdp.matches("a=candidate:").count(), 32, "at most 32 candidates are folded in");
}

#[test]
fn a_wire_offer_crossing_the_other_partys_call_is_declined() {
    let mut alice = Wire::new();
    alice.rung_by_bob();
    let effects = alice.act(Action::Call { peer: "bob".into(), sdp_offer: OFFER.into(), video: false });
    assert_eq!(error_frames(&effects), ["you are in a call with bob already"]);
    alice.receive(&effects);
    assert_eq!(alice.device.state("bob"), Some(CallState::Ended(switchboard_ecall::EndReason::Rejected)));
    // Bob's call goes on: his offer still rings alice's device.
    alice.rings_with_bobs_offer();
}
