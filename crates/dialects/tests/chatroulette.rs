//! Golden fixtures of the chatroulette codec: frames in both forms to
//! commands, and events to frames in both forms.

use serde_json::{Value, json};
use switchboard_core::*;
use switchboard_dialects::chatroulette::{Chatroulette, DecodeError, Form, decode, encode};

fn user(name: &str) -> UserId {
    UserId::parse(name).unwrap()
}

fn command(frame: &str) -> Command {
    decode(frame).unwrap_or_else(|e| panic!("{frame}: {e}")).command
}

fn frame(form: Form, event: &Event) -> Value {
    let text = encode(form, event, Some("rc")).expect("has a frame");
    serde_json::from_str(&text).unwrap()
}

#[test]
fn the_seed_and_the_original_forms_decode_to_the_same_commands() {
    let pairs = [
        (r#"{"type":"CONNECT","payload":{"as":"alice"}}"#, r#"{"type":"c","payload":"alice"}"#),
        (r#"{"type":"REQUEST_CALL","payload":{"to":"bob"}}"#, r#"{"type":"rc","payload":"bob"}"#),
        (r#"{"type":"ACCEPT_CALL","payload":{"from":"alice"}}"#, r#"{"type":"ac","payload":"alice"}"#),
        (r#"{"type":"REJECT_CALL","payload":{"from":"alice"}}"#, r#"{"type":"rjc","payload":"alice"}"#),
        (r#"{"type":"CANCEL_CALL","payload":{"to":"bob"}}"#, r#"{"type":"cc","payload":"bob"}"#),
        (r#"{"type":"HANG_UP","payload":{"to":"bob"}}"#, r#"{"type":"hu","payload":"bob"}"#),
        (
            r#"{"type":"SEND_CALLER_DESCRIPTOR","payload":{"to":"bob","sdp":{"type":"offer","sdp":"v=0"}}}"#,
            r#"{"type":"scd","payload":{"to":"bob","sdp":{"type":"offer","sdp":"v=0"}}}"#,
        ),
        (
            r#"{"type":"SEND_RECIPIENT_DESCRIPTOR","payload":{"to":"alice","sdp":{"type":"answer","sdp":"v=0"}}}"#,
            r#"{"type":"srd","payload":{"to":"alice","sdp":{"type":"answer","sdp":"v=0"}}}"#,
        ),
        (
            r#"{"type":"SEND_ICE_CANDIDATE","payload":{"to":"bob","candidate":{"candidate":"c","sdpMid":"0"}}}"#,
            r#"{"type":"sic","payload":{"to":"bob","candidate":{"candidate":"c","sdpMid":"0"}}}"#,
        ),
    ];
    for (seed, short) in pairs {
        let (a, b) = (decode(seed).unwrap(), decode(short).unwrap());
        assert_eq!((a.form, b.form), (Form::Seed, Form::Short));
        assert_eq!(format!("{:?}", a.command), format!("{:?}", b.command), "{seed} vs {short}");
    }
}

#[test]
fn commands_carry_the_names_and_the_raw_data() {
    assert!(
        matches!(command(r#"{"type":"c","payload":"alice"}"#), Command::Register { user: Some(u), shared: false } if u == user("alice"))
    );
    for no_name in [r#"{"type":"CONNECT"}"#, r#"{"type":"CONNECT","payload":{}}"#, r#"{"type":"c","payload":null}"#] {
        assert!(matches!(command(no_name), Command::Register { user: None, shared: false }), "{no_name}");
    }
    assert!(matches!(command(r#"{"type":"rc","payload":"bob"}"#), Command::Call { to, .. } if to == user("bob")));
    assert!(
        matches!(command(r#"{"type":"ac","payload":"alice"}"#), Command::Accept { invite: InviteRef::From(u), status: None, note: None } if u == user("alice"))
    );
    assert!(
        matches!(command(r#"{"type":"cc","payload":"bob"}"#), Command::Cancel { invite: InviteRef::To(u), note: None } if u == user("bob"))
    );
    assert!(
        matches!(command(r#"{"type":"hu","payload":"bob"}"#), Command::Leave { room: RoomRef::CallWith(u) } if u == user("bob"))
    );

    // The SDP and candidate objects are kept byte for byte, whitespace included.
    let Command::Relay { to, signal } =
        command(r#"{"type":"scd","payload":{"to":"bob","sdp": {"type":"offer", "sdp":"v=0\r\n"}}}"#)
    else {
        panic!()
    };
    assert_eq!(to, RelayTarget::CallPeer(user("bob")));
    assert_eq!(signal.kind, SignalKind::Offer);
    assert_eq!(signal.payload.as_str(), r#"{"type":"offer", "sdp":"v=0\r\n"}"#);
    let Command::Relay { signal, .. } = command(r#"{"type":"srd","payload":{"to":"a","sdp":{}}}"#) else { panic!() };
    assert_eq!(signal.kind, SignalKind::Answer);
    let Command::Relay { signal, .. } = command(r#"{"type":"sic","payload":{"to":"a","candidate":{"candidate":""}}}"#)
    else {
        panic!()
    };
    assert_eq!((signal.kind, signal.payload.as_str()), (SignalKind::IceCandidate, r#"{"candidate":""}"#));
    // Fields the dialect does not know are ignored, and escaped names are read.
    assert!(
        matches!(command(r#"{"type":"REQUEST_CALL","payload":{"to":"b\u00f6b"},"extra":1}"#), Command::Call { to, .. } if to == user("böb"))
    );
}

#[test]
fn bad_frames_are_refused_with_a_reason() {
    let cases: &[(&str, Option<&str>, &str)] = &[
        ("not json", None, "malformed JSON"),
        ("", None, "malformed JSON"),
        ("[1,2]", None, "a frame is a JSON object"),
        (r#"{"payload":"x"}"#, None, "a frame is a JSON object"),
        (r#"{"type":7}"#, None, "a frame is a JSON object"),
        (r#"{"type":"DANCE"}"#, Some("DANCE"), "unknown message type"),
        (r#"{"type":"cd"}"#, Some("cd"), "unknown message type"),
        (r#"{"type":"CALL_ACCEPTED","payload":"x"}"#, Some("CALL_ACCEPTED"), "unknown message type"),
        (r#"{"type":"rc"}"#, Some("rc"), "needs a payload"),
        (r#"{"type":"rc","payload":5}"#, Some("rc"), "needs a payload"),
        (r#"{"type":"REQUEST_CALL","payload":{"who":"bob"}}"#, Some("REQUEST_CALL"), "needs a payload"),
        (r#"{"type":"rc","payload":""}"#, Some("rc"), "bad user name"),
        (r#"{"type":"c","payload":["alice"]}"#, Some("c"), "needs a payload"),
        (r#"{"type":"scd","payload":{"to":"bob"}}"#, Some("scd"), "needs a payload"),
        (r#"{"type":"scd","payload":{"to":"bob","sdp":"v=0"}}"#, Some("scd"), "needs a payload"),
        (r#"{"type":"sic","payload":{"to":"bob","candidate":null}}"#, Some("sic"), "needs a payload"),
        (r#"{"type":"sic","payload":"bob"}"#, Some("sic"), "needs a payload"),
    ];
    for (frame, request, message) in cases {
        let error = decode(frame).expect_err(frame);
        assert_eq!(error.request(), *request, "{frame}");
        assert!(error.to_string().contains(message), "{frame}: {error}");
    }
    assert!(matches!(decode(r#"{"type":"c","payload":"a\u0000b"}"#), Err(DecodeError::BadName { .. })));
}

#[test]
fn events_encode_in_the_seed_form() {
    let bob = user("bob");
    let cases = [
        (
            Event::Reply { tag: 0, result: Ok(Reply::Registered { user: user("alice"), drawn: false }) },
            json!({"type":"CONNECTED","payload":{"as":"alice"}}),
        ),
        (
            Event::Reply { tag: 0, result: Err(CommandError::NameTaken(user("alice"))) },
            json!({"type":"USERNAME_TAKEN","payload":{"as":"alice"}}),
        ),
        (
            Event::Reply { tag: 0, result: Err(CommandError::UnknownUser(bob.clone())) },
            json!({"type":"UNKNOWN_RECIPIENT","payload":{"to":"bob"}}),
        ),
        (
            Event::Reply { tag: 0, result: Err(CommandError::Busy(bob.clone())) },
            json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"busy"}}),
        ),
        (
            Event::Ringing {
                invite: InviteId(1),
                room: RoomView { id: RoomId::parse("r").unwrap(), peers: vec![], member: None, status: vec![] },
                from: user("alice"),
                data: Payload::null(),
                from_style: Some(CallStyle::Signals),
            },
            json!({"type":"CALL_REQUESTED","payload":{"from":"alice"}}),
        ),
        (
            Event::CallAccepted {
                invite: InviteId(1),
                room: RoomId::parse("r").unwrap(),
                by: bob.clone(),
                note: None,
                by_style: Some(CallStyle::Signals),
            },
            json!({"type":"CALL_ACCEPTED","payload":{"by":"bob"}}),
        ),
        (
            Event::CallDeclined { invite: InviteId(1), by: bob.clone(), reason: EndReason::Rejected, note: None },
            json!({"type":"CALL_REJECTED","payload":{"by":"bob"}}),
        ),
        (
            Event::CallDeclined { invite: InviteId(1), by: bob.clone(), reason: EndReason::Timeout, note: None },
            json!({"type":"CALL_REJECTED","payload":{"by":"bob","reason":"timeout"}}),
        ),
        (
            Event::RingingStopped {
                invite: InviteId(1),
                from: user("alice"),
                reason: EndReason::Cancelled,
                note: None,
            },
            json!({"type":"CALL_CANCELLED","payload":{"by":"alice"}}),
        ),
        (
            Event::RingingStopped {
                invite: InviteId(1),
                from: user("alice"),
                reason: EndReason::Disconnected,
                note: None,
            },
            json!({"type":"CALL_CANCELLED","payload":{"by":"alice","reason":"disconnected"}}),
        ),
        (
            Event::CallEnded {
                room: RoomId::parse("r").unwrap(),
                by: bob.clone(),
                caller: bob.clone(),
                reason: EndReason::Hangup,
            },
            json!({"type":"CALL_ENDED","payload":{"by":"bob","reason":"hangup"}}),
        ),
        (
            Event::Relayed {
                room: Some(RoomId::parse("r").unwrap()),
                from: bob.clone(),
                from_peer: "2".into(),
                from_status: None,
                signal: Signal { kind: SignalKind::Answer, payload: Payload::new(r#"{"type":"answer","sdp":"v=0"}"#) },
            },
            json!({"type":"RECIPIENT_DESCRIPTOR_RECEIVED","payload":{"from":"bob","sdp":{"type":"answer","sdp":"v=0"}}}),
        ),
        (
            Event::Relayed {
                room: Some(RoomId::parse("r").unwrap()),
                from: bob.clone(),
                from_peer: "2".into(),
                from_status: None,
                signal: Signal { kind: SignalKind::IceCandidate, payload: Payload::new(r#"{"candidate":"c"}"#) },
            },
            json!({"type":"ICE_CANDIDATE_RECEIVED","payload":{"from":"bob","candidate":{"candidate":"c"}}}),
        ),
        (
            Event::Reply { tag: 0, result: Err(CommandError::NoCallWith(bob.clone())) },
            json!({"type":"ERROR","payload":{"message":"you have no call with bob","request":"rc"}}),
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(frame(Form::Seed, &event), expected, "{event:?}");
    }
}

#[test]
fn events_encode_in_the_original_short_form() {
    let bob = user("bob");
    let cases = [
        (
            Event::Reply { tag: 0, result: Ok(Reply::Registered { user: user("alice"), drawn: false }) },
            json!({"type":"cd"}),
        ),
        (
            Event::Reply { tag: 0, result: Ok(Reply::Registered { user: user("x-1"), drawn: true }) },
            json!({"type":"cd","payload":"x-1"}),
        ),
        (Event::Reply { tag: 0, result: Err(CommandError::NameTaken(user("alice"))) }, json!({"type":"ut"})),
        (Event::Reply { tag: 0, result: Err(CommandError::UnknownUser(bob.clone())) }, json!({"type":"ur"})),
        (
            Event::Reply { tag: 0, result: Err(CommandError::Busy(bob.clone())) },
            json!({"type":"crj","payload":"bob","reason":"busy"}),
        ),
        (
            Event::Ringing {
                invite: InviteId(1),
                room: RoomView { id: RoomId::parse("r").unwrap(), peers: vec![], member: None, status: vec![] },
                from: user("alice"),
                data: Payload::null(),
                from_style: Some(CallStyle::Signals),
            },
            json!({"type":"cr","payload":"alice"}),
        ),
        (
            Event::CallAccepted {
                invite: InviteId(1),
                room: RoomId::parse("r").unwrap(),
                by: bob.clone(),
                note: None,
                by_style: Some(CallStyle::Signals),
            },
            json!({"type":"ca","payload":"bob"}),
        ),
        (
            Event::CallDeclined { invite: InviteId(1), by: bob.clone(), reason: EndReason::Rejected, note: None },
            json!({"type":"crj","payload":"bob"}),
        ),
        (
            Event::RingingStopped { invite: InviteId(1), from: user("alice"), reason: EndReason::Timeout, note: None },
            json!({"type":"ccd","payload":"alice","reason":"timeout"}),
        ),
        (
            Event::CallEnded {
                room: RoomId::parse("r").unwrap(),
                by: bob.clone(),
                caller: bob.clone(),
                reason: EndReason::Disconnected,
            },
            json!({"type":"ce","payload":"bob","reason":"disconnected"}),
        ),
        (
            Event::Relayed {
                room: Some(RoomId::parse("r").unwrap()),
                from: bob.clone(),
                from_peer: "2".into(),
                from_status: None,
                signal: Signal { kind: SignalKind::Offer, payload: Payload::new(r#"{"type":"offer","sdp":"v=0"}"#) },
            },
            json!({"type":"cdr","payload":{"from":"bob","sdp":{"type":"offer","sdp":"v=0"}}}),
        ),
        (
            Event::Reply { tag: 0, result: Err(CommandError::NotRegistered) },
            json!({"type":"er","payload":{"message":"send CONNECT first","request":"rc"}}),
        ),
    ];
    for (event, expected) in cases {
        assert_eq!(frame(Form::Short, &event), expected, "{event:?}");
    }
}

#[test]
fn quiet_events_have_no_frame() {
    for form in [Form::Seed, Form::Short] {
        assert_eq!(encode(form, &Event::Reply { tag: 0, result: Ok(Reply::Done) }, None), None);
        let custom = Signal { kind: SignalKind::Custom("x".into()), payload: Payload::null() };
        assert_eq!(
            encode(
                form,
                &Event::Relayed {
                    room: Some(RoomId::parse("r").unwrap()),
                    from: user("a"),
                    from_peer: "1".into(),
                    from_status: None,
                    signal: custom
                },
                None
            ),
            None
        );
    }
}

#[test]
fn a_connection_answers_in_the_form_it_spoke_first() {
    let mut codec = Chatroulette::new();
    assert_eq!(codec.form(), Form::Seed);
    assert!(codec.decode("garbage").is_err());
    assert_eq!(codec.form(), Form::Seed, "a bad frame does not fix the form");

    let (request, _) = codec.decode(r#"{"type":"c","payload":"alice"}"#).unwrap();
    assert!(request.reply_on_success, "CONNECT is answered");
    assert_eq!(codec.form(), Form::Short);
    let (request, _) = codec.decode(r#"{"type":"REQUEST_CALL","payload":{"to":"bob"}}"#).unwrap();
    assert!(!request.reply_on_success);
    assert_eq!(codec.form(), Form::Short, "the first form sticks");

    // A failed reply names the request as the client spelled it.
    let reply = Event::Reply { tag: request.tag, result: Err(CommandError::NoCallWith(user("bob"))) };
    let value: Value = serde_json::from_str(&codec.encode(&reply).unwrap()).unwrap();
    assert_eq!(
        value,
        json!({"type":"er","payload":{"message":"you have no call with bob","request":"REQUEST_CALL"}}),
        "in the connection's form"
    );

    let error = codec.decode(r#"{"type":"nope"}"#).unwrap_err();
    let value: Value = serde_json::from_str(&codec.encode_error(&error)).unwrap();
    assert_eq!(value, json!({"type":"er","payload":{"message":"unknown message type \"nope\"","request":"nope"}}));
}

/// A short-form client whose very first frame fails (so the connection has no
/// form yet) is answered in the short form all the same: an `ERROR` frame is
/// what webrtc-one-to-one's client takes for a lost connection.
#[test]
fn a_failed_first_frame_is_answered_in_its_own_spelling() {
    let codec = Chatroulette::new();
    let mut short = codec.clone();
    let error = short.decode(r#"{"type":"c","payload":5}"#).unwrap_err();
    let value: Value = serde_json::from_str(&short.encode_error(&error)).unwrap();
    assert_eq!(value["type"], "er", "{value}");
    let mut seed = codec.clone();
    let error = seed.decode(r#"{"type":"CONNECT","payload":5}"#).unwrap_err();
    let value: Value = serde_json::from_str(&seed.encode_error(&error)).unwrap();
    assert_eq!(value["type"], "ERROR", "{value}");
    let error = seed.decode("not json").unwrap_err();
    let value: Value = serde_json::from_str(&seed.encode_error(&error)).unwrap();
    assert_eq!(value["type"], "ERROR", "no spelling to go by: the seed's");
}

#[test]
fn refusals_are_worded_in_chatroulettes_own_words() {
    let cases = [
        (CommandError::AlreadyRegistered(user("bob")), "this connection is already connected as bob"),
        (CommandError::SelfCall, "you cannot call yourself"),
        (CommandError::AlreadyInCall, "you are already ringing or in a call"),
    ];
    for (error, message) in cases {
        let event = Event::Reply { tag: 0, result: Err(error) };
        assert_eq!(frame(Form::Seed, &event), json!({"type":"ERROR","payload":{"message":message,"request":"rc"}}));
        assert_eq!(frame(Form::Short, &event), json!({"type":"er","payload":{"message":message,"request":"rc"}}));
    }
}
