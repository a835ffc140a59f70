//! Golden fixtures of the ecall codec: frames to relays to frames.

use serde_json::{Value, json};
use switchboard_core::*;
use switchboard_dialects::Incoming;
use switchboard_dialects::ecall::{DeviceError, DeviceQuery, Ecall};

const SETUP: &str =
    r#"{"version":"3.0","resp":false,"sessid":"a1B2","type":"SETUP","props":{"videosend":"true"},"sdp":"v=0"}"#;

fn error_of(incoming: Incoming) -> String {
    match incoming {
        Incoming::Answer(frame) => {
            let value: Value = serde_json::from_str(&frame).unwrap();
            assert_eq!(value["type"], "error", "{frame}");
            value["error"].as_str().unwrap().to_owned()
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_device_is_a_user_and_a_client() {
    let mut alice = Ecall::new("alice", "c1").unwrap();
    assert_eq!(&*alice.peer_id(), "alice/c1");
    assert!(matches!(alice.open().1, Command::Register { user: Some(u), shared: true } if u.as_str() == "alice"));
    assert_eq!(Ecall::new("alice", "a/b").unwrap_err(), DeviceError::Client);
    assert_eq!(Ecall::new("alice", "").unwrap_err(), DeviceError::Client);
    assert!(matches!(Ecall::new("", "c1").unwrap_err(), DeviceError::User(_)));
    // A '/' in the user would make `a/b` with client `c1` and `a` with
    // client `b/c1` one peer id.
    assert_eq!(Ecall::new("a/b", "c1").unwrap_err(), DeviceError::UserSlash);
}

#[test]
fn a_device_query_is_percent_decoded_strictly() {
    let device = |user: &str, client: &str| Ok(DeviceQuery { user: user.into(), client: client.into() });
    assert_eq!(DeviceQuery::parse("user=alice&client=c1"), device("alice", "c1"));
    assert_eq!(DeviceQuery::parse("client=c1&x=1&user=al%C3%AFce"), device("alïce", "c1"));
    assert_eq!(DeviceQuery::parse("user=ann+lee&client=c%201"), device("ann lee", "c 1"));
    assert_eq!(DeviceQuery::parse("user=a%2Fb&client=c1"), device("a/b", "c1"), "decoded, then refused by Ecall::new");
    // Invalid UTF-8 is refused, not replaced: %FF and %FE stay two users.
    assert_eq!(DeviceQuery::parse("user=%FF&client=c1"), Err(DeviceError::Encoding("user")));
    assert_eq!(DeviceQuery::parse("user=a&client=%FE"), Err(DeviceError::Encoding("client")));
    assert_eq!(DeviceQuery::parse("user=a"), Err(DeviceError::Missing));
    assert_eq!(DeviceQuery::parse(""), Err(DeviceError::Missing));
    assert_eq!(DeviceQuery::parse("user=a&user=b&client=c"), Err(DeviceError::Missing), "which user?");
}

#[test]
fn a_calling_frame_becomes_a_relay_on_the_message_channel() {
    let mut alice = Ecall::new("alice", "c1").unwrap();
    let frame = json!({"type":"calling","to":"bob","content":SETUP}).to_string();
    let Incoming::Command(_, Command::Relay { to, signal }) = alice.decode(&frame) else { panic!() };
    assert_eq!(to, RelayTarget::User { user: UserId::parse("bob").unwrap(), peer: None });
    assert_eq!(serde_json::from_str::<String>(signal.payload.as_str()).unwrap(), SETUP, "content kept as sent");

    let frame = json!({"type":"calling","to":"bob","to_client":"b2","content":SETUP}).to_string();
    let Incoming::Command(_, Command::Relay { to, .. }) = alice.decode(&frame) else { panic!() };
    assert_eq!(to, RelayTarget::User { user: UserId::parse("bob").unwrap(), peer: Some("bob/b2".into()) });
}

#[test]
fn bad_frames_and_bad_content_are_refused() {
    let mut alice = Ecall::new("alice", "c1").unwrap();
    assert!(error_of(alice.decode("nope")).starts_with("a frame is"));
    assert_eq!(error_of(alice.decode(r#"{"type":"chat","to":"bob","content":"x"}"#)), "unknown type \"chat\"");
    for (content, expected) in [
        (r#"{"version":"2.0","resp":false,"sessid":"a","type":"SETUP","sdp":"v=0"}"#, "version"),
        (r#"{"version":"3.0","resp":false,"sessid":"a","type":"DANCE"}"#, "DANCE"),
        (r#"{"version":"3.0","resp":"no","sessid":"a","type":"HANGUP"}"#, "resp"),
        (r#"{"version":"3.0","resp":false,"type":"HANGUP"}"#, "sessid"),
        (r#"{"version":"3.0","resp":false,"sessid":"a","type":"PROPSYNC","props":{"videosend":true}}"#, "videosend"),
        (r#"{"version":"3.0","resp":false,"sessid":"a","type":"SETUP"}"#, "sdp"),
    ] {
        let frame = json!({"type":"calling","to":"bob","content":content}).to_string();
        let error = error_of(alice.decode(&frame));
        assert!(error.starts_with("bad content") && error.contains(expected), "{content}: {error}");
    }
}

#[test]
fn relays_become_calling_frames_with_the_senders_client() {
    let bob = Ecall::new("bob", "b1").unwrap();
    let event = Event::Relayed {
        room: None,
        from: UserId::parse("alice").unwrap(),
        from_peer: "alice/c1".into(),
        from_status: None,
        signal: Signal {
            kind: SignalKind::Custom("calling".into()),
            payload: Payload::new(serde_json::to_string(SETUP).unwrap()),
        },
    };
    let frame: Value = serde_json::from_str(&bob.encode(&event).unwrap()).unwrap();
    assert_eq!(frame, json!({"type":"calling","from":"alice","from_client":"c1","content":SETUP}));
    let refused = Event::Reply { tag: 1, result: Err(CommandError::MailboxFull(UserId::parse("carol").unwrap())) };
    let frame: Value = serde_json::from_str(&bob.encode(&refused).unwrap()).unwrap();
    assert_eq!(frame, json!({"type":"error","error":"carol is offline and has too many messages waiting"}));
}

#[test]
fn refusals_are_worded_in_ecalls_own_words() {
    let device = Ecall::new("alice", "c1").unwrap();
    let cases = [
        (CommandError::UnknownPeer("bob/c2".into()), "no connected client bob/c2"),
        (CommandError::UnknownUser(UserId::parse("bob").unwrap()), "no user bob is online"),
        (CommandError::NotRegistered, "register first"),
    ];
    for (error, message) in cases {
        let frame: Value =
            serde_json::from_str(&device.encode(&Event::Reply { tag: 1, result: Err(error) }).unwrap()).unwrap();
        assert_eq!(frame, json!({"type":"error","error":message}));
    }
}
