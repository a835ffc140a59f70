//! The ecall bridge target (Step 13's bridge, fuzzed as Step 12 asks of
//! every decoder): the fuzzer's bytes choose a sequence of what reaches a
//! Wire device's codec — its own device's actions (a real ECall state
//! machine, whose messages go through the codec), the core's events about
//! calls with users of other apps (rings, accepts, declines, ends, relayed
//! SDPs and candidates, refusals of the codec's own commands), and the
//! clock moving. Whatever the codec sends the device goes back into the
//! device, so both ECall state machines run against each other.
//!
//! Besides not panicking: every frame the codec sends is JSON, and once
//! the codec has handled its deadline, the next one is later (a deadline
//! that stayed due would spin the connection's loop).

use std::time::{Duration, Instant};

use arbitrary::{Result, Unstructured};
use serde_json::json;
use switchboard_core::{
    CallStyle, CommandError, EndReason, Event, InviteId, Payload, RoomId, RoomView, Signal, SignalKind, UserId,
};
use switchboard_dialects::codec::{Codec, Effect, TextFrame};
use switchboard_dialects::ecall::Ecall;
use switchboard_ecall::{Action, Device, DeviceConfig, Output};

/// The other apps' users the Wire device calls and is called by.
const PEERS: [&str; 2] = ["bob", "cat"];
const SDPS: [&str; 3] = [
    "v=0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n",
    "v=0\r\ns=-\r\nt=0 0\r\nm=audio 9 RTP 0\r\na=mid:a\r\nm=video 9 RTP 96\r\na=mid:v\r\n",
    "",
];
const CANDIDATES: [&str; 4] = [
    r#"{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0","sdpMLineIndex":0}"#,
    r#"{"candidate":"candidate:2 1 udp 1 ::1 5001 typ host","sdpMid":"v"}"#,
    r#"{"candidate":"","sdpMid":"0"}"#,
    "null",
];
const REASONS: [EndReason; 4] = [EndReason::Rejected, EndReason::Busy, EndReason::Timeout, EndReason::Disconnected];

/// Feeds one Wire device's codec the sequence `data` chooses.
///
/// # Panics
/// When the codec panics, sends a frame that is not JSON, or leaves its
/// deadline due after handling it: a defect.
pub fn ecall_bridge(data: &[u8]) {
    let mut u = Unstructured::new(data);
    let mut now = Instant::now();
    let mut codec = Ecall::new("alice", "c1").expect("a valid device");
    let mut device = Device::new("alice", "c1", DeviceConfig::default());
    // Tags of the codec's requests, for the core's replies to pick from.
    let mut tags: Vec<u64> = Vec::new();
    let mut effects = Vec::new();
    while !u.is_empty() {
        if step(&mut u, &mut now, &mut codec, &mut device, &tags, &mut effects).is_err() {
            break;
        }
        // What the codec did: its requests are remembered, its frames go
        // to the device, whose answers come back through the codec.
        let mut rounds = 0;
        while !effects.is_empty() && rounds < 8 {
            rounds += 1;
            let mut frames = Vec::new();
            for effect in effects.drain(..) {
                match effect {
                    Effect::Command(request, _) if tags.len() < 32 => tags.push(request.tag),
                    Effect::Send(frame) => {
                        assert!(serde_json::from_str::<serde_json::Value>(&frame).is_ok(), "not JSON: {frame}");
                        frames.push(frame);
                    }
                    _ => {}
                }
            }
            for frame in frames {
                let value: serde_json::Value = serde_json::from_str(&frame).expect("checked");
                if let (Some(from), Some(client), Some(content)) =
                    (value["from"].as_str(), value["from_client"].as_str(), value["content"].as_str())
                {
                    let _ = device.handle_message(now, from, client, content);
                }
            }
            send_device_messages(&mut device, &mut codec, now, &mut effects);
        }
    }
}

/// One input the bytes choose.
fn step(
    u: &mut Unstructured<'_>,
    now: &mut Instant,
    codec: &mut Ecall,
    device: &mut Device,
    tags: &[u64],
    out: &mut Vec<Effect<String>>,
) -> Result<()> {
    let peer = *u.choose(&PEERS)?;
    let user = UserId::parse(peer).expect("a valid name");
    let room = RoomId::parse("call-1").expect("a valid room");
    match u.int_in_range(0..=9)? {
        // The Wire device's user acts.
        0 => {
            let sdp = (*u.choose(&SDPS)?).to_owned();
            let action = match u.int_in_range(0..=5)? {
                0 => Action::Call { peer: peer.into(), sdp_offer: sdp, video: u.arbitrary()? },
                1 => Action::Accept { peer: peer.into(), sdp_answer: sdp },
                2 => Action::Reject { peer: peer.into() },
                3 => Action::Hangup { peer: peer.into() },
                4 => Action::Update { peer: peer.into(), sdp_offer: sdp },
                _ => Action::UpdateAnswer { peer: peer.into(), sdp_answer: sdp },
            };
            if device.handle_action(*now, action).is_ok() {
                send_device_messages(device, codec, *now, out);
            }
        }
        // The core replies to one of the codec's requests.
        1 => {
            let Some(&tag) = (!tags.is_empty()).then(|| u.choose(tags)).transpose()? else { return Ok(()) };
            let result = match u.int_in_range(0..=4)? {
                0 => Ok(switchboard_core::Reply::Done),
                1 => Err(CommandError::NotCarried { to: user, what: "Wire calling messages".into() }),
                2 => Err(CommandError::Busy(user)),
                3 => Err(CommandError::NoSuchInvite),
                _ => Err(CommandError::NoCallWith(user)),
            };
            on_core(codec, *now, &Event::Reply { tag, result }, out);
        }
        2 => {
            let invite = InviteId(u.int_in_range(1..=3)?);
            let view = RoomView { id: room, peers: Vec::new(), member: None, status: Vec::new() };
            let event = Event::Ringing {
                invite,
                room: view,
                from: user,
                data: Payload::null(),
                from_style: Some(CallStyle::Signals),
            };
            on_core(codec, *now, &event, out);
        }
        3 => {
            let event = Event::RingingStopped {
                invite: InviteId(u.int_in_range(1..=3)?),
                from: user,
                reason: EndReason::AnsweredElsewhere,
                note: None,
            };
            on_core(codec, *now, &event, out);
        }
        4 => {
            let event = Event::CallAccepted { invite: InviteId(1), room, by: user, note: None, by_style: None };
            on_core(codec, *now, &event, out);
        }
        5 => {
            let reason = *u.choose(&REASONS)?;
            on_core(codec, *now, &Event::CallDeclined { invite: InviteId(1), by: user, reason, note: None }, out);
        }
        6 => {
            let caller = UserId::parse("alice").expect("a valid name");
            let event = Event::CallEnded { room, by: user, caller, reason: EndReason::Hangup };
            on_core(codec, *now, &event, out);
        }
        // The other party relays an SDP or a candidate in the call.
        7 | 8 => {
            let (kind, payload) = match u.int_in_range(0..=3)? {
                0 => (SignalKind::Offer, json!({"type": "offer", "sdp": u.choose(&SDPS)?}).to_string()),
                1 => (SignalKind::Answer, json!({"type": "answer", "sdp": u.choose(&SDPS)?}).to_string()),
                2 => (SignalKind::IceCandidate, (*u.choose(&CANDIDATES)?).to_owned()),
                _ => {
                    let len = u.int_in_range(0..=40)?;
                    (SignalKind::IceCandidate, String::from_utf8_lossy(u.bytes(len)?).into_owned())
                }
            };
            let signal = Signal { kind, payload: Payload::new(payload) };
            let event = Event::Relayed {
                room: Some(room),
                from: user,
                from_peer: format!("{peer}-1").into(),
                from_status: None,
                signal,
            };
            on_core(codec, *now, &event, out);
        }
        // The clock moves; what is due fires, in the codec and the device.
        _ => {
            *now += Duration::from_millis(u.int_in_range(0..=40_000)?);
            if codec.deadline().is_some_and(|at| at <= *now) {
                codec.at(*now);
                codec.on_deadline(*now, out);
                assert!(codec.deadline().is_none_or(|at| at > *now), "a deadline still due after it was handled");
            }
            device.handle_timeout(*now);
            send_device_messages(device, codec, *now, out);
        }
    }
    Ok(())
}

fn on_core(codec: &mut Ecall, now: Instant, event: &Event, out: &mut Vec<Effect<String>>) {
    codec.at(now);
    codec.on_core(event, out);
}

/// The device's messages, as frames of its connection, through the codec.
fn send_device_messages(device: &mut Device, codec: &mut Ecall, now: Instant, out: &mut Vec<Effect<String>>) {
    while let Some(output) = device.poll_output() {
        if let Output::Send { to, to_client, content } = output {
            let mut frame = json!({"type": "calling", "to": to, "content": content});
            if let Some(client) = to_client {
                frame["to_client"] = json!(client);
            }
            codec.at(now);
            codec.on_client(TextFrame::Text(&frame.to_string()), out);
        }
    }
}
