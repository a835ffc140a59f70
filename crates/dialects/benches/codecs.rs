//! Throughput of each dialect's decode and encode, in bytes of frame per
//! second, on the frames a call is made of: SDP descriptions of about 2 KB
//! and trickle ICE candidates of about 250 bytes.
//!
//! `cargo bench -p switchboard-dialects`. Every frame is checked once, before
//! it is timed, to decode or encode to what the benchmark claims.

use std::hint::black_box;
use std::time::Duration;

use criterion::{
    BatchSize, BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime,
};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_core::*;
use switchboard_dialects::Incoming;
use switchboard_dialects::calling::Calling;
use switchboard_dialects::chatroulette::{self, Chatroulette, Form};
use switchboard_dialects::codec::{Codec, Effect};
use switchboard_dialects::ecall::Ecall;
use switchboard_dialects::socketio::{SocketEvent, SocketIoSession, SocketOut};

/// An SDP offer or answer of about 2 KB, as a browser makes it.
fn sdp() -> String {
    include_str!("../../core/benches/sample.sdp").lines().map(|line| format!("{line}\r\n")).collect()
}

/// An `RTCSessionDescriptionInit`.
fn description(kind: &str) -> Value {
    json!({ "type": kind, "sdp": sdp() })
}

/// An `RTCIceCandidateInit` of about 250 bytes.
fn candidate() -> Value {
    json!({
        "candidate": "candidate:842163049 1 udp 1677729535 203.0.113.45 61544 typ srflx raddr 192.168.1.23 \
                      rport 61544 generation 0 ufrag Xw3c network-id 1 network-cost 10",
        "sdpMid": "0",
        "sdpMLineIndex": 0,
        "usernameFragment": "Xw3c",
    })
}

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("a good name")
}

fn room(name: &str) -> RoomId {
    RoomId::parse(name).expect("a good name")
}

/// A signal from `from` (session 5, peer id `from_peer`) in `room`.
fn relayed(room: Option<RoomId>, from: &str, from_peer: &str, kind: SignalKind, payload: &str) -> Event {
    Event::Relayed {
        room,
        from: user(from),
        from_peer: from_peer.into(),
        from_status: None,
        signal: Signal { kind, payload: Payload::new(payload) },
    }
}

/// Times `routine` as one frame of `bytes` bytes.
fn bench<O>(group: &mut BenchmarkGroup<'_, WallTime>, name: &str, bytes: usize, mut routine: impl FnMut() -> O) {
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function(name, |b| b.iter(&mut routine));
}

fn chatroulette(c: &mut Criterion) {
    let mut group = c.benchmark_group("chatroulette");
    let (offer, ice) = (description("offer"), candidate());
    let frames = [
        ("SEND_CALLER_DESCRIPTOR", json!({"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"bob","sdp":offer}})),
        ("scd", json!({"type":"scd","payload":{"to":"bob","sdp":offer}})),
        ("SEND_ICE_CANDIDATE", json!({"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":ice}})),
        ("sic", json!({"type":"sic","payload":{"to":"bob","candidate":ice}})),
    ];
    for (name, frame) in frames {
        let text = frame.to_string();
        let mut codec = Chatroulette::new();
        assert!(matches!(codec.decode(&text), Ok((_, Command::Relay { .. }))), "{name}");
        bench(&mut group, &format!("decode/{name}"), text.len(), || codec.decode(black_box(&text)));
    }

    let events = [
        ("CALLER_DESCRIPTOR_RECEIVED", SignalKind::Offer, offer.to_string()),
        ("ICE_CANDIDATE_RECEIVED", SignalKind::IceCandidate, ice.to_string()),
    ];
    for (name, kind, payload) in events {
        let event = relayed(Some(room("call-1")), "alice", "1", kind, &payload);
        for form in [Form::Seed, Form::Short] {
            let frame = chatroulette::encode(form, &event, None).expect("has a frame");
            let ty = serde_json::from_str::<Value>(&frame).unwrap()["type"].as_str().unwrap().to_owned();
            assert_eq!(ty, chatroulette::MessageType::parse(name).unwrap().0.name(form));
            let name = format!("encode/{ty}");
            bench(&mut group, &name, frame.len(), || chatroulette::encode(form, black_box(&event), None));
        }
    }
    group.finish();
}

fn calling(c: &mut Criterion) {
    let mut group = c.benchmark_group("calling");
    let (offer, ice) = (description("offer"), candidate());
    let frames = [
        ("signaling", json!({"type":"room_peer_to","room":"r-1","user":"bob","event":"signaling","data":offer})),
        ("ice_candidate", json!({"type":"room_peer_to","room":"r-1","user":"bob","event":"ice_candidate","data":ice})),
    ];
    for (event, frame) in frames {
        let text = frame.to_string();
        let mut codec = Calling::new("switchboard bench");
        assert!(matches!(codec.decode(&text), Incoming::Command(_, Command::Relay { .. })), "{event}");
        bench(&mut group, &format!("decode/room_peer_to/{event}"), text.len(), || codec.decode(black_box(&text)));
    }

    // A request with a tid is remembered until its answer, so each decode
    // gets a fresh codec (made outside the timing).
    let join = json!({"type":"room_join","room":"r-1","status":{"name":"alice","mic":true,"camera":false},"tid":7});
    let text = join.to_string();
    assert!(matches!(Calling::new("s").decode(&text), Incoming::Command(_, Command::Join { .. })));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("decode/room_join", |b| {
        b.iter_batched_ref(
            || Calling::new("switchboard bench"),
            |codec| codec.decode(black_box(&text)),
            BatchSize::SmallInput,
        )
    });

    let events = [
        ("signaling", SignalKind::Offer, offer.to_string()),
        ("ice_candidate", SignalKind::IceCandidate, ice.to_string()),
    ];
    for (name, kind, payload) in events {
        let event = relayed(Some(room("r-1")), "alice", "1", kind, &payload);
        let mut codec = Calling::new("switchboard bench");
        let mut out: Vec<String> = Vec::new();
        codec.encode(&event, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(serde_json::from_str::<Value>(&out[0]).unwrap()["event"], name);
        bench(&mut group, &format!("encode/room_peer_from/{name}"), out[0].len(), || {
            out.clear();
            codec.encode(black_box(&event), &mut out);
        });
    }
    group.finish();
}

/// The first command in `out`.
fn command_of(out: &[Effect<SocketOut>]) -> Option<&Command> {
    out.iter().find_map(|o| match o {
        Effect::Command(_, command) => Some(command),
        _ => None,
    })
}

/// Answers the last command in `out` with `result`, as the core would.
fn reply(
    socket: &mut SocketIoSession,
    out: &[Effect<SocketOut>],
    result: Result<Reply, CommandError>,
) -> Vec<Effect<SocketOut>> {
    let tag = out
        .iter()
        .rev()
        .find_map(|o| match o {
            Effect::Command(request, _) => Some(request.tag),
            _ => None,
        })
        .expect("a command");
    let mut answer = Vec::new();
    socket.on_core(&Event::Reply { tag, result }, &mut answer);
    answer
}

/// A socket.io event's argument as the transport hands it: JSON text.
fn raw(data: Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(&data).unwrap()
}

/// A tringtring socket `sid-4` in room 504555 with `sid-5` (named bob).
fn tringtring() -> SocketIoSession {
    let mut socket = SocketIoSession::new("sid-4", 2);
    let mut out = Vec::new();
    socket.on_client(
        SocketEvent { name: "join", data: Ok(&raw(json!({"room_id":"504555","peer_name":"ann"}))), ack: 1 },
        &mut out,
    );
    reply(
        &mut socket,
        &out,
        Ok(Reply::Joined(RoomView { id: room("504555"), peers: vec![], member: None, status: vec![] })),
    );
    let bob = PeerInfo {
        user: user("u-b"),
        member: Some(2),
        peer_id: Some("sid-5".into()),
        pending: false,
        status: PeerStatus { user: None, peer: Some(Payload::new(r#"{"peer_name":"bob"}"#)) },
    };
    socket.on_core(&Event::PeerJoined { room: room("504555"), peer: bob, size: 2 }, &mut Vec::new());
    socket
}

/// Member 5 of media room `m`, the other party of the cloudkibo benchmarks.
fn media_peer() -> PeerInfo {
    PeerInfo {
        user: user("+2"),
        member: Some(5),
        peer_id: Some("sid-5".into()),
        pending: false,
        status: PeerStatus::default(),
    }
}

/// A cloudkibo socket of phone +1, member 1 of media room `m`.
fn cloudkibo() -> SocketIoSession {
    let mut socket = SocketIoSession::new("sid-1", 2);
    let mut out = Vec::new();
    socket.on_client(
        SocketEvent {
            name: "join global chatroom",
            data: Ok(&raw(json!({"room":"globalchatroom","user":{"phone":"+1","_id":"x"}}))),
            ack: 1,
        },
        &mut out,
    );
    reply(&mut socket, &out, Ok(Reply::Registered { user: user("+1"), drawn: false }));
    out.clear();
    socket.on_client(
        SocketEvent { name: "init", data: Ok(&raw(json!({"room":"m","username":"alice"}))), ack: 2 },
        &mut out,
    );
    reply(
        &mut socket,
        &out,
        Ok(Reply::Joined(RoomView { id: room("m"), peers: vec![media_peer()], member: Some(1), status: vec![] })),
    );
    socket
}

fn socketio(c: &mut Criterion) {
    let mut group = c.benchmark_group("socketio");
    let (offer, ice) = (description("offer"), candidate());
    let from = json!({"name":"ann","id":"sid-4"});
    let client_events = [
        ("tringtring", "offer", json!({"from":from,"to":"sid-5","type":"offer","sdp":offer})),
        ("tringtring", "ice-candidate", json!({"from":"sid-4","to":"sid-5","candidate":ice})),
        ("cloudkibo", "msg", json!({"to":5,"by":1,"type":"sdp-offer","sdp":offer})),
        ("cloudkibo", "msg", json!({"to":5,"by":1,"type":"ice","ice":ice})),
    ];
    for (dialect, event, data) in client_events {
        let mut socket = if dialect == "tringtring" { tringtring() } else { cloudkibo() };
        let mut out = Vec::new();
        let text = raw(data.clone());
        socket.on_client(SocketEvent { name: event, data: Ok(&text), ack: 9 }, &mut out);
        assert!(matches!(command_of(&out), Some(Command::Relay { .. })), "{dialect} {event}: {out:?}");
        let name = match data.get("type").and_then(Value::as_str) {
            Some(kind) if event == "msg" => format!("on_event/{dialect}/{event}/{kind}"),
            _ => format!("on_event/{dialect}/{event}"),
        };
        bench(&mut group, &name, data.to_string().len(), || {
            out.clear();
            socket.on_client(SocketEvent { name: event, data: Ok(black_box(&text)), ack: 9 }, &mut out)
        });
    }

    let msg = |data: Value| (SignalKind::Custom("msg".into()), data.to_string());
    let core_events = [
        ("tringtring", "offer", (SignalKind::Offer, offer.to_string())),
        ("tringtring", "ice-candidate", (SignalKind::IceCandidate, ice.to_string())),
        ("cloudkibo", "msg/sdp-offer", msg(json!({"to":1,"by":5,"type":"sdp-offer","sdp":offer}))),
        ("cloudkibo", "msg/ice", msg(json!({"to":1,"by":5,"type":"ice","ice":ice}))),
    ];
    for (dialect, name, (kind, payload)) in core_events {
        let (mut socket, room, peer) =
            if dialect == "tringtring" { (tringtring(), "504555", "sid-5") } else { (cloudkibo(), "m", "sid-5") };
        let event = relayed(Some(self::room(room)), "u-b", peer, kind, &payload);
        let mut out = Vec::new();
        socket.on_core(&event, &mut out);
        // tringtring's SDP and ICE go out as the sender's text (EmitRaw); CloudKibo's `msg` is rebuilt.
        let bytes = match out.as_slice() {
            [Effect::Send(SocketOut::EmitRaw(_, text))] => text.get().len(),
            [Effect::Send(SocketOut::Emit(_, args))] => args[0].to_string().len(),
            _ => panic!("{dialect} {name}: {out:?}"),
        };
        bench(&mut group, &format!("on_core_event/{dialect}/{name}"), bytes, || {
            out.clear();
            socket.on_core(black_box(&event), &mut out)
        });
    }
    group.finish();
}

fn ecall(c: &mut Criterion) {
    let mut group = c.benchmark_group("ecall");
    let content = json!({
        "version": "3.0",
        "resp": false,
        "sessid": "a1B2c3D4",
        "type": "SETUP",
        "props": {"videosend": "true", "screensend": "false", "audiocbr": "false"},
        "sdp": sdp(),
    })
    .to_string();
    let frame = json!({"type":"calling","to":"bob","content":content}).to_string();
    let mut alice = Ecall::new("alice", "c1").expect("a good device");
    assert!(matches!(alice.decode(&frame), Incoming::Command(_, Command::Relay { .. })), "{frame}");
    bench(&mut group, "decode/SETUP", frame.len(), || alice.decode(black_box(&frame)));

    let bob = Ecall::new("bob", "b1").expect("a good device");
    let payload = serde_json::to_string(&content).unwrap();
    let event = relayed(None, "alice", "alice/c1", SignalKind::Custom("calling".into()), &payload);
    let encoded = bob.encode(&event).expect("a calling frame");
    assert_eq!(serde_json::from_str::<Value>(&encoded).unwrap()["content"], content);
    bench(&mut group, "encode/SETUP", encoded.len(), || bob.encode(black_box(&event)));
    group.finish();
}

fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3)).sample_size(30)
}

criterion_group! {
    name = benches;
    config = config();
    targets = chatroulette, calling, socketio, ecall
}
criterion_main!(benches);
