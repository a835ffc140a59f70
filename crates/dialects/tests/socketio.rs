//! Golden fixtures of the socket.io codec: binding a socket to a dialect,
//! and what cloudkibo and tringtring events become, both ways.

use serde_json::{Value, json};
use switchboard_core::*;
use switchboard_dialects::codec::{Codec, Effect};
use switchboard_dialects::socketio::{Dialect, SocketEvent, SocketIoSession, SocketOut};

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn room(name: &str) -> RoomId {
    RoomId::parse(name).unwrap()
}

/// Feeds one client event; returns what the transport must do.
fn event(socket: &mut SocketIoSession, name: &str, data: Value) -> Vec<Effect<SocketOut>> {
    let mut out = Vec::new();
    let data = serde_json::value::to_raw_value(&data).unwrap();
    socket.on_client(SocketEvent { name, data: Ok(&data), ack: 7 }, &mut out);
    out
}

/// Feeds one core event.
fn core(socket: &mut SocketIoSession, event: Event) -> Vec<Effect<SocketOut>> {
    let mut out = Vec::new();
    socket.on_core(&event, &mut out);
    out
}

/// Answers the command in `out` with `result`, as the core would.
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
    core(socket, Event::Reply { tag, result })
}

fn emits(out: &[Effect<SocketOut>]) -> Vec<(&'static str, Vec<Value>)> {
    out.iter()
        .filter_map(|o| match o {
            Effect::Send(SocketOut::Emit(name, args)) => Some((*name, args.clone())),
            // A relayed signal's argument is written as JSON text.
            Effect::Send(SocketOut::EmitRaw(name, arg)) => {
                Some((*name, vec![serde_json::from_str(arg.get()).unwrap()]))
            }
            _ => None,
        })
        .collect()
}

/// The data of the relay command in `out`, as JSON.
fn relayed_payload(out: &[Effect<SocketOut>]) -> Value {
    out.iter()
        .find_map(|o| match o {
            Effect::Command(_, Command::Relay { signal, .. }) => serde_json::from_str(signal.payload.as_str()).ok(),
            _ => None,
        })
        .expect("a relay")
}

fn commands(out: &[Effect<SocketOut>]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Effect::Command(_, command) => Some(format!("{command:?}")),
            _ => None,
        })
        .collect()
}

/// A cloudkibo socket registered as `phone`.
fn phone(phone: &str) -> SocketIoSession {
    let mut socket = SocketIoSession::new("sid-1", 2);
    let out =
        event(&mut socket, "join global chatroom", json!({"room":"globalchatroom","user":{"phone":phone,"_id":"x"}}));
    assert_eq!(commands(&out), vec![format!("Register {{ user: Some(UserId({phone:?})), shared: true }}")]);
    let out = reply(&mut socket, &out, Ok(Reply::Registered { user: user(phone), drawn: false }));
    assert_eq!(emits(&out), vec![("youareonline", vec![json!([])])]);
    assert_eq!(socket.dialect(), Some(Dialect::Cloudkibo));
    socket
}

#[test]
fn a_socket_is_bound_by_its_first_registering_event() {
    let mut socket = phone("+1");
    let out = event(&mut socket, "join", json!({"room_id":1,"peer_name":"x"}));
    assert_eq!(
        emits(&out),
        vec![("error", vec![json!({"message":"\"join\" is a tringtring event, and this socket speaks cloudkibo"})])]
    );
    let out = event(&mut socket, "dance", json!({}));
    assert_eq!(emits(&out), vec![("error", vec![json!({"message":"unknown event \"dance\""})])]);

    let mut fresh = SocketIoSession::new("sid-2", 2);
    let out = event(&mut fresh, "callthisperson", json!({"callerphone":"+1","calleephone":"+2"}));
    assert_eq!(
        emits(&out),
        vec![("error", vec![json!({"message":"\"callthisperson\" before \"join global chatroom\""})])]
    );
    assert_eq!(fresh.dialect(), None, "a refused event binds nothing");
}

#[test]
fn callthisperson_acks_first_and_reports_offline_and_busy_callees() {
    let mut socket = phone("+1");
    let out =
        event(&mut socket, "callthisperson", json!({"room":"globalchatroom","callerphone":"+1","calleephone":"+2"}));
    assert!(
        matches!(&out[0], Effect::Send(SocketOut::Ack(7, args)) if args == &vec![json!({"status":"ok","calleephone":"+2"})])
    );
    let offline = reply(&mut socket, &out, Err(CommandError::UnknownUser(user("+2"))));
    let expected = json!({
        "msg": {"callerphone":"+1","calleephone":"+2","status":"calleeoffline"},
        "callerphone":"+1","calleephone":"+2","status":"calleeoffline","type":"call"
    });
    assert_eq!(emits(&offline), vec![("message", vec![expected])]);

    let out = event(&mut socket, "callthisperson", json!({"callerphone":"+1","calleephone":"+2"}));
    let busy = reply(&mut socket, &out, Err(CommandError::Busy(user("+2"))));
    assert_eq!(
        emits(&busy),
        vec![("message", vec![json!({"callerphone":"+1","calleephone":"+2","type":"call","status":"calleeisbusy"})])]
    );

    // Someone else's phone as callerphone: acked, then refused, nothing sent to the core.
    let out = event(&mut socket, "callthisperson", json!({"callerphone":"+9","calleephone":"+2"}));
    assert!(matches!(out[0], Effect::Send(SocketOut::Ack(..))));
    assert!(commands(&out).is_empty());
    assert_eq!(emits(&out)[0].0, "error");
}

#[test]
fn call_statuses_become_core_commands_and_core_events_become_statuses() {
    let mut callee = phone("+2");
    let ring = Event::Ringing {
        invite: InviteId(3),
        room: RoomView {
            id: room("call-x"),
            peers: vec![PeerInfo {
                user: user("+1"),
                member: Some(1),
                peer_id: Some("sid-9".into()),
                pending: false,
                status: PeerStatus::default(),
            }],
            member: None,
            status: vec![],
        },
        from: user("+1"),
        data: Payload::null(),
        from_style: Some(CallStyle::MediaRoom),
    };
    assert_eq!(
        emits(&core(&mut callee, ring)),
        vec![("areyoufreeforcall", vec![json!({"callerphone":"+1","calleephone":"+2","sendersocket":"sid-9"})])]
    );
    let message =
        |status: &str| json!({"to":"+1","msg":{"callerphone":"+1","calleephone":"+2","type":"call","status":status}});
    // The statuses that change the call carry the client's msg as their note.
    let out = event(&mut callee, "message", message("callaccepted"));
    let Some(Effect::Command(_, Command::Accept { invite: InviteRef::From(caller), status: None, note: Some(note) })) =
        out.first()
    else {
        panic!("{out:?}")
    };
    assert_eq!(caller, &user("+1"));
    assert_eq!(serde_json::from_str::<Value>(note.as_str()).unwrap(), message("callaccepted")["msg"]);
    let out = event(&mut callee, "message", message("calleeisbusy"));
    assert!(
        matches!(out.first(), Some(Effect::Command(_, Command::Reject { reason: EndReason::Busy, note: Some(_), .. }))),
        "{out:?}"
    );
    let available = commands(&event(&mut callee, "message", message("calleeisavailable")));
    assert!(
        available[0].starts_with("Relay { to: CallPeer(UserId(\"+1\")), signal: Signal { kind: Custom(\"message\")")
    );
    // A message naming a third phone is refused.
    let stranger = json!({"to":"+1","msg":{"callerphone":"+7","calleephone":"+2","status":"callaccepted"}});
    assert_eq!(emits(&event(&mut callee, "message", stranger))[0].0, "error");

    let stopped =
        Event::RingingStopped { invite: InviteId(3), from: user("+1"), reason: EndReason::Timeout, note: None };
    assert_eq!(
        emits(&core(&mut callee, stopped)),
        vec![("message", vec![json!({"callerphone":"+1","calleephone":"+2","type":"call","status":"missing"})])]
    );
    let mut caller = phone("+1");
    // The callee's own msg, when it sent one, arrives as it was sent.
    let note = Some(Payload::new(r#"{"status":"callaccepted","video":true}"#));
    let accepted = Event::CallAccepted {
        invite: InviteId(3),
        room: room("call-x"),
        by: user("+2"),
        note,
        by_style: Some(CallStyle::MediaRoom),
    };
    assert_eq!(
        emits(&core(&mut caller, accepted)),
        vec![("message", vec![json!({"status":"callaccepted","video":true})])]
    );
    for (reason, word) in [
        (EndReason::Timeout, "noanswer"),
        (EndReason::Rejected, "callrejected"),
        (EndReason::Busy, "calleeisbusy"),
        (EndReason::Disconnected, "calleeoffline"),
    ] {
        let declined = Event::CallDeclined { invite: InviteId(3), by: user("+2"), reason, note: None };
        let expected = json!({"callerphone":"+1","calleephone":"+2","type":"call","status":word});
        assert_eq!(emits(&core(&mut caller, declined)), vec![("message", vec![expected])], "{reason:?}");
    }
}

#[test]
fn init_joins_the_media_room_and_msg_goes_to_one_member() {
    let mut socket = phone("+1");
    let out = event(&mut socket, "init", json!({"room":"m","username":"alice"}));
    assert_eq!(
        commands(&out),
        vec![
            "Join { room: Some(RoomId(\"m\")), create: Some(18446744073709551615), status: Some(Payload(\"{\\\"username\\\":\\\"alice\\\"}\")) }"
        ]
    );
    let bob = PeerInfo {
        user: user("+2"),
        member: Some(5),
        peer_id: Some("sid-5".into()),
        pending: false,
        status: PeerStatus::default(),
    };
    let view = RoomView { id: room("m"), peers: vec![bob], member: Some(6), status: vec![] };
    let joined = reply(&mut socket, &out, Ok(Reply::Joined(view)));
    assert!(
        matches!(&joined[0], Effect::Send(SocketOut::Ack(7, args)) if args == &vec![json!("m"), json!(6), json!(false)])
    );

    // `to` is a member number, mapped to the member's peer id; `by` is the
    // sender's own number, whatever the client put there.
    let out = event(&mut socket, "msg", json!({"to":5,"by":99,"type":"offer","sdp":"v=0"}));
    let command = &commands(&out)[0];
    assert!(command.contains("Peer { room: RoomId(\"m\"), peer: \"sid-5\" }"), "{command}");
    assert!(command.contains("\\\"by\\\":6"), "by is set by the server: {command}");
    // A number nobody in the room holds reaches nobody.
    let out = event(&mut socket, "msg", json!({"to":7,"type":"offer","sdp":"v=0"}));
    assert_eq!(emits(&out), vec![("error", vec![json!({"message":"msg: no peer 7 in this room"})])]);

    // Newcomers are learnt from peer.connected's event, and forgotten when they go.
    let carol = PeerInfo {
        user: user("+3"),
        member: Some(8),
        peer_id: Some("sid-8".into()),
        pending: false,
        status: PeerStatus { user: None, peer: Some(Payload::new(r#"{"username":"carol"}"#)) },
    };
    let connected = emits(&core(&mut socket, Event::PeerJoined { room: room("m"), peer: carol, size: 3 }));
    assert_eq!(connected, vec![("peer.connected", vec![json!({"id":8,"username":"carol"})])]);
    assert!(commands(&event(&mut socket, "msg", json!({"to":8}))).len() == 1, "carol is reachable");
    let left = Event::PeerLeft {
        room: room("m"),
        user: user("+3"),
        member: Some(8),
        peer_id: Some("sid-8".into()),
        reason: EndReason::Hangup,
    };
    assert_eq!(emits(&core(&mut socket, left)), vec![("peer.disconnected", vec![json!({"id":8})])]);
    assert_eq!(emits(&event(&mut socket, "msg", json!({"to":8}))).len(), 1, "an error: carol is gone");
}

/// ann's tringtring socket `sid-4`, alone in room 504555.
fn ann_in_room_504555() -> SocketIoSession {
    let mut socket = SocketIoSession::new("sid-4", 2);
    let out = event(&mut socket, "join", json!({"room_id":"504555","peer_name":"ann"}));
    reply(
        &mut socket,
        &out,
        Ok(Reply::Joined(RoomView { id: room("504555"), peers: vec![], member: None, status: vec![] })),
    );
    socket
}

/// The fast path (Step 14): a relayed SDP or candidate is the client's JSON
/// text, byte for byte, on its way to the core and into the receiver's
/// event; nothing parses and re-serialises it (key order, spacing and
/// escapes survive, which a `serde_json::Value` would not keep).
#[test]
fn tringtring_relays_the_clients_json_text_verbatim_both_ways() {
    let mut socket = ann_in_room_504555();
    let description = r#"{ "sdp" : "v=0\r\na=x:\u00e9" , "type":"offer" }"#;
    let text = format!(r#"{{"to":"sid-5","from":{{"name":"ann","id":"sid-4"}},"type":"offer","sdp":{description}}}"#);
    let data = serde_json::value::RawValue::from_string(text).unwrap();
    let mut out = Vec::new();
    socket.on_client(SocketEvent { name: "offer", data: Ok(&data), ack: 8 }, &mut out);
    let payload = out.iter().find_map(|o| match o {
        Effect::Command(_, Command::Relay { signal, .. }) => Some(signal.payload.as_str().to_owned()),
        _ => None,
    });
    assert_eq!(payload.as_deref(), Some(description));

    let candidate =
        r#"{"candidate":"candidate:1 1 udp 2122260223 10.0.0.1 9 typ host","sdpMid":"0","sdpMLineIndex":0}"#;
    // What bob (`sid-5`, whose name needs escaping) relays, as ann's socket writes it.
    let mut written = |kind: SignalKind, payload: &str| {
        let signal = Signal { kind, payload: Payload::new(payload) };
        let from_status = Some(Payload::new(r#"{"peer_name":"bo\"b"}"#));
        let relayed = Event::Relayed {
            room: Some(room("504555")),
            from: user("u-b"),
            from_peer: "sid-5".into(),
            from_status,
            signal,
        };
        match core(&mut socket, relayed).pop() {
            Some(Effect::Send(SocketOut::EmitRaw(name, frame))) => (name, frame.get().to_owned()),
            other => panic!("a raw emit: {other:?}"),
        }
    };
    let (name, frame) = written(SignalKind::IceCandidate, candidate);
    assert_eq!(name, "ice-candidate");
    assert_eq!(frame, format!(r#"{{"from":"sid-5","to":"sid-4","candidate":{candidate}}}"#));
    let (name, frame) = written(SignalKind::Offer, description);
    assert_eq!(name, "offer");
    let expected =
        format!(r#"{{"from":{{"name":"bo\"b","id":"sid-5"}},"to":"sid-4","type":"offer","sdp":{description}}}"#);
    assert_eq!(frame, expected, "the sender's name is escaped, the description kept as it came");
}

/// A relayed signal the fast path cannot read gets the same errors as
/// before: no `to`, a `to` that is not text, an `sdp` object without its
/// text, a candidate that is neither an object nor null.
#[test]
fn tringtring_refuses_unreadable_relays_with_an_error_event() {
    let mut socket = ann_in_room_504555();
    let refusals = [
        ("offer", json!({"sdp":"v=0"}), "offer needs a peer id in \"to\""),
        ("offer", json!({"to":5,"sdp":"v=0"}), "offer needs a peer id in \"to\""),
        ("answer", json!({"to":"sid-5","sdp":{"type":"answer"}}), "answer needs {from, to, type, sdp}"),
        ("answer", json!({"to":"sid-5","sdp":{"sdp":1}}), "answer needs {from, to, type, sdp}"),
        ("offer", json!({"to":"sid-5","sdp":7}), "offer needs {from, to, type, sdp}"),
        ("ice-candidate", json!({"to":"sid-5","candidate":"c"}), "ice-candidate needs {from, to, candidate}"),
        ("ice-candidate", json!({"to":"sid-5"}), "ice-candidate needs {from, to, candidate}"),
        ("ice-candidate", json!([1]), "ice-candidate needs a peer id in \"to\""),
        // An array is not its fields by position.
        ("offer", json!(["sid-5", "v=0"]), "offer needs a peer id in \"to\""),
        ("ice-candidate", json!(["sid-5", null, {"candidate":"c"}]), "ice-candidate needs a peer id in \"to\""),
    ];
    for (name, data, message) in refusals {
        let out = event(&mut socket, name, data.clone());
        assert!(commands(&out).is_empty(), "{name} {data}: {out:?}");
        assert_eq!(emits(&out), vec![("error", vec![json!({"message": message})])], "{name} {data}");
        assert!(matches!(out.last(), Some(Effect::Send(SocketOut::ReleaseAck(7)))), "{out:?}");
    }
    let out = event(&mut socket, "ice-candidate", json!({"to":"sid-5","candidate":null}));
    assert_eq!(relayed_payload(&out), Value::Null, "an end-of-candidates null is relayed");
}

#[test]
fn tringtring_registers_on_its_first_event_and_names_peers_by_socket_id() {
    let mut socket = SocketIoSession::new("sid-4", 2);
    let out = event(&mut socket, "create-room", json!({"room_id": 504555}));
    assert_eq!(
        commands(&out),
        vec!["Register { user: None, shared: true }", "CreateRoom { room: RoomId(\"504555\"), capacity: 2 }"]
    );
    let created = reply(&mut socket, &out, Ok(Reply::Done));
    assert_eq!(emits(&created), vec![("redirect", vec![json!({"status":true,"url_extend":"r/504555"})])]);
    assert!(matches!(&created[1], Effect::Send(SocketOut::Ack(7, _))));
    let out = event(&mut socket, "create-room", json!({"room_id": 504555}));
    let taken = reply(&mut socket, &out, Err(CommandError::RoomInUse(room("504555"))));
    assert_eq!(emits(&taken)[0].1[0]["status"], json!(false));

    let out = event(&mut socket, "join", json!({"room_id":"504555","peer_name":"ann"}));
    let full = reply(&mut socket, &out, Err(CommandError::RoomFull(room("504555"))));
    assert_eq!(emits(&full), vec![("full-room", vec![])]);
    let out = event(&mut socket, "join", json!({"room_id":"504555","peer_name":"ann"}));
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
    let arrived = emits(&core(&mut socket, Event::PeerJoined { room: room("504555"), peer: bob, size: 2 }));
    let expected = json!({"peer_name":"bob","peer_id":"sid-5","room_size":2});
    assert_eq!(arrived, vec![("user-arrived", vec![expected.clone()]), ("user-joined", vec![expected])]);

    let out = event(
        &mut socket,
        "offer",
        json!({"from":{"name":"ann","id":"sid-4"},"to":"sid-5","type":"offer","sdp":"v=0"}),
    );
    assert!(commands(&out)[0].contains("Peer { room: RoomId(\"504555\"), peer: \"sid-5\" }"));
    assert_eq!(relayed_payload(&out), json!({"type":"offer","sdp":"v=0"}), "a bare SDP string is wrapped");
    // The original client's form: the description object, kept as it is.
    let sdp = json!({"type":"offer","sdp":"v=0\r\n"});
    let out =
        event(&mut socket, "offer", json!({"from":{"name":"ann","id":"sid-4"},"to":"sid-5","type":"offer","sdp":sdp}));
    assert_eq!(relayed_payload(&out), sdp);
    let answer = Event::Relayed {
        room: Some(room("504555")),
        from: user("u-b"),
        from_peer: "sid-5".into(),
        // The sender's name comes with the relay, from the status it joined with.
        from_status: Some(Payload::new(r#"{"peer_name":"bob"}"#)),
        signal: Signal { kind: SignalKind::Answer, payload: Payload::new(r#"{"type":"answer","sdp":"v=1"}"#) },
    };
    assert_eq!(
        emits(&core(&mut socket, answer)),
        vec![(
            "answer",
            vec![
                json!({"from":{"name":"bob","id":"sid-5"},"to":"sid-4","type":"answer","sdp":{"type":"answer","sdp":"v=1"}})
            ]
        )]
    );
    let left = Event::PeerLeft {
        room: room("504555"),
        user: user("u-b"),
        member: Some(2),
        peer_id: Some("sid-5".into()),
        reason: EndReason::Hangup,
    };
    assert_eq!(emits(&core(&mut socket, left)), vec![("user-left", vec![json!({"peer_id":"sid-5"})])]);
    assert_eq!(
        commands(&event(&mut socket, "cut-the-call", json!({"room_id":"504555"}))),
        vec!["Leave { room: Id(RoomId(\"504555\")) }"]
    );
}

/// Tring-Tring's own pages never emit `create-room` (the original server made
/// rooms in `POST /r/:room_id`), so a `join` makes a missing room itself.
#[test]
fn tringtring_join_makes_a_missing_room_with_the_configured_capacity() {
    let mut socket = SocketIoSession::new("sid-a", 3);
    let out = event(&mut socket, "join", json!({"room_id":"230610","peer_name":"ann"}));
    let join = out.iter().find_map(|o| match o {
        Effect::Command(_, Command::Join { room, create, .. }) => Some((room.clone(), *create)),
        _ => None,
    });
    assert_eq!(join, Some((Some(room("230610")), Some(3))));
}

#[test]
fn refusals_are_worded_in_the_socketio_dialects_own_words() {
    // A failed quiet command: the `error` event, in the dialects' words.
    let mut socket = phone("+1");
    let cases = [
        (CommandError::NotRegistered, "register first"),
        (CommandError::SelfCall, "you cannot call yourself"),
        (CommandError::NoCallWith(user("+2")), "you have no call with +2"),
    ];
    for (error, message) in cases {
        let out = core(&mut socket, Event::Reply { tag: 999, result: Err(error) });
        assert_eq!(emits(&out), vec![("error", vec![json!({ "message": message })])]);
    }
    // tringtring's failed create-room carries its words in the redirect.
    let mut socket = SocketIoSession::new("sid-9", 2);
    let out = event(&mut socket, "create-room", json!({"room_id": "r9"}));
    let refused = reply(&mut socket, &out, Err(CommandError::NoSuchRoom(room("r9"))));
    assert_eq!(emits(&refused)[0], ("redirect", vec![json!({"status":false,"error":"room r9 does not exist"})]));
    let out = event(&mut socket, "create-room", json!({"room_id": "r9"}));
    let taken = reply(&mut socket, &out, Err(CommandError::RoomInUse(room("r9"))));
    assert_eq!(emits(&taken)[0].1[0]["error"], json!("room r9 is in use; create another"));
}
