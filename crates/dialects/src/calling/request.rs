//! Requests from a calling client, checked the way the original server
//! checked them (`server.js` `msg_integrity`), then turned into commands.

use std::borrow::Cow;

use serde_json::value::RawValue;
use switchboard_core::{
    Command, EndReason, InviteRef, NameError, NamespaceId, Payload, RelayTarget, RoomId, RoomRef, Signal, SignalKind,
    UserId,
};

use super::fields::{self, Fields};

/// A value's type as JavaScript's `typeof` names it, which is what the
/// original checked: arrays and `null` are `object`, an absent field is
/// `undefined`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum JsType {
    String,
    Number,
    Boolean,
    Object,
    Undefined,
}

impl JsType {
    pub(crate) fn of(value: Option<&RawValue>) -> JsType {
        match value.map(|raw| raw.get().as_bytes()[0]) {
            None => JsType::Undefined,
            Some(b'"') => JsType::String,
            Some(b't' | b'f') => JsType::Boolean,
            Some(b'{' | b'[' | b'n') => JsType::Object,
            Some(_) => JsType::Number,
        }
    }
}

use JsType::{Boolean, Number, Object, String as Str, Undefined};

/// A JSON value of any of the types a room status value may have.
const ANY_VALUE: &[JsType] = &[Str, Number, Boolean, Undefined, Object];

/// The fields of each request (beside `type` and `tid`) and the types each
/// may have: the original's `server.command(...)` declarations, plus the
/// seed's `room_peer_update`.
fn fields_of(request: &str) -> Option<&'static [(&'static str, &'static [JsType])]> {
    Some(match request {
        "ping" => &[],
        "status" => &[("status", &[Object])],
        "remote_ping" | "remote_timeout" => &[("time", &[Number])],
        "ns_subscribe" | "ns_unsubscribe" | "ns_user_register" | "ns_user_unregister" => &[("namespace", &[Str])],
        "ns_room_register" | "ns_room_unregister" => &[("namespace", &[Str]), ("room", &[Str])],
        "room_join" => &[("room", &[Str, Undefined]), ("status", &[Object, Undefined])],
        "room_leave" => &[("room", &[Str])],
        "room_peer_status" => &[("room", &[Str]), ("status", &[Object])],
        "room_peer_update" => &[("room", &[Str]), ("pending", &[Boolean, Undefined]), ("status", &[Object, Undefined])],
        "room_status" => &[
            ("room", &[Str]),
            ("key", &[Str]),
            ("value", ANY_VALUE),
            ("check", &[Boolean, Undefined]),
            ("previous", ANY_VALUE),
        ],
        "room_peer_to" => &[("room", &[Str]), ("user", &[Str]), ("event", &[Str]), ("data", &[Object])],
        "invite_send" => &[("room", &[Str]), ("user", &[Str]), ("data", &[Object])],
        "invite_cancel" | "invite_deny" => &[("handle", &[Number])],
        "invite_accept" => &[("handle", &[Number]), ("status", &[Object])],
        _ => return None,
    })
}

/// A request that passed the checks.
#[derive(Debug)]
pub(crate) struct Checked<'a> {
    pub(crate) kind: &'a str,
    fields: Fields<'a>,
}

/// A request refused before it reached the core. `tid` is the raw text of
/// the request's `tid`, when it has one, for the answer.
#[derive(Debug)]
pub(crate) struct Refusal<'a> {
    pub(crate) tid: Option<&'a str>,
    pub(crate) error: Cow<'static, str>,
}

/// The parts of a request frame.
pub(crate) struct Frame<'a> {
    pub(crate) tid: Option<&'a str>,
    fields: Fields<'a>,
}

/// Parses a frame into its fields.
///
/// # Errors
/// Malformed JSON, or JSON that is not an object: the message for a
/// `{type: "error", error}` frame.
pub(crate) fn parse(text: &str) -> Result<Frame<'_>, String> {
    let fields: Fields<'_> = serde_json::from_str(text).map_err(|error| {
        if error.is_data() { "a message must be a JSON object".to_owned() } else { format!("malformed JSON: {error}") }
    })?;
    let tid = answer_tid(&fields);
    Ok(Frame { tid, fields })
}

/// The request's `tid` as its answer echoes it: the raw text, so that the
/// client's own number comes back unchanged; none for an absent or null
/// `tid` (the request is carried out unanswered); and `null` for a number
/// too large for a double, which the original's `JSON.parse` read as
/// `Infinity` and its `JSON.stringify` wrote back as `null` (echoed raw, it
/// would be a number no JSON reader with doubles accepts).
fn answer_tid<'a>(fields: &Fields<'a>) -> Option<&'a str> {
    let raw = fields.get("tid")?;
    let too_large = |text: &str| JsType::of(Some(raw)) == Number && !text.parse::<f64>().is_ok_and(f64::is_finite);
    match raw.get() {
        "null" => None,
        text if too_large(text) => Some("null"),
        text => Some(text),
    }
}

impl<'a> Frame<'a> {
    /// Checks the request as the original did: a type, a known command,
    /// each declared field of its declared type, a numeric `tid`, and no
    /// other field.
    pub(crate) fn check(self) -> Result<Checked<'a>, Refusal<'a>> {
        let refuse = |error: &'static str| Refusal { tid: self.tid, error: Cow::Borrowed(error) };
        let Some(kind_raw) = self.fields.get("type") else { return Err(refuse("Missing type in message")) };
        // Only a name without escapes can be one of the known commands.
        let kind = match fields::text(kind_raw) {
            Some(Cow::Borrowed(kind)) => kind,
            _ => return Err(refuse("Unknown command")),
        };
        let Some(declared) = fields_of(kind) else { return Err(refuse("Unknown command")) };
        let common: [(&str, &[JsType]); 2] = [("type", &[Str]), ("tid", &[Number, Undefined])];
        for (name, types) in declared.iter().chain(common.iter()) {
            // A null tid counts as none: the request is carried out unanswered.
            let value = self.fields.get(name).filter(|raw| *name != "tid" || raw.get() != "null");
            if !types.contains(&JsType::of(value)) {
                let present = value.is_some_and(|raw| raw.get() != "null");
                return Err(refuse(if present { "Type mismatch in message" } else { "Missing element in message" }));
            }
        }
        let known = |name: &str| name == "type" || name == "tid" || declared.iter().any(|(field, _)| *field == name);
        if self.fields.names().any(|name| !known(name)) {
            return Err(refuse("Unexpected field in message"));
        }
        Ok(Checked { kind, fields: self.fields })
    }
}

/// What a checked request asks for.
#[derive(Debug)]
pub(crate) enum Action {
    /// A core command.
    Command(Command),
    /// `invite_accept`, `invite_deny` or `invite_cancel` naming a handle,
    /// which the connection resolves.
    Handle {
        handle: Option<u64>,
        outgoing: bool,
        make: fn(InviteRef, Option<Payload>) -> Command,
        status: Option<Payload>,
    },
    /// `remote_ping {time}`: send `{type: "ping"}` after this many
    /// milliseconds without traffic.
    RemotePing(f64),
    /// `remote_timeout {time}`: close after this many milliseconds without a
    /// message from the client.
    RemoteTimeout(f64),
}

impl Checked<'_> {
    /// The raw text of the request's `tid`, unless it has none (or null).
    pub(crate) fn tid(&self) -> Option<&str> {
        answer_tid(&self.fields)
    }

    fn raw(&self, name: &str) -> Option<&RawValue> {
        self.fields.get(name).filter(|raw| raw.get() != "null")
    }

    /// A string field's text, borrowed from the frame when it can be;
    /// empty when absent (the checks let that through only where optional).
    fn text(&self, name: &str) -> Cow<'_, str> {
        self.raw(name).and_then(fields::text).unwrap_or_default()
    }

    fn number(&self, name: &str) -> f64 {
        self.raw(name).and_then(|raw| serde_json::from_str(raw.get()).ok()).unwrap_or(f64::NAN)
    }

    fn payload(&self, name: &str) -> Option<Payload> {
        self.fields.get(name).map(|raw| Payload::new(raw.get()))
    }

    fn room(&self) -> Result<RoomId, String> {
        RoomId::parse(&self.text("room")).map_err(|error| bad_name("room", error))
    }

    fn user(&self) -> Result<UserId, String> {
        UserId::parse(&self.text("user")).map_err(|error| bad_name("user", error))
    }

    fn namespace(&self) -> Result<NamespaceId, String> {
        NamespaceId::parse(&self.text("namespace")).map_err(|error| bad_name("namespace", error))
    }

    /// Turns the request into what the connection does with it.
    ///
    /// # Errors
    /// A name switchboard cannot hold (empty, over 256 bytes, or with a
    /// control character): the message for the answer.
    pub(crate) fn action(&self) -> Result<Action, String> {
        let command = match self.kind {
            "ping" => Command::Ping,
            "status" => Command::SetStatus { status: self.payload("status").expect("checked") },
            "remote_ping" => return Ok(Action::RemotePing(self.number("time"))),
            "remote_timeout" => return Ok(Action::RemoteTimeout(self.number("time"))),
            "ns_subscribe" => Command::Subscribe { namespace: self.namespace()? },
            "ns_unsubscribe" => Command::Unsubscribe { namespace: self.namespace()? },
            "ns_user_register" => Command::RegisterUser { namespace: self.namespace()? },
            "ns_user_unregister" => Command::UnregisterUser { namespace: self.namespace()? },
            "ns_room_register" => Command::RegisterRoom { namespace: self.namespace()?, room: self.room()? },
            "ns_room_unregister" => Command::UnregisterRoom { namespace: self.namespace()?, room: self.room()? },
            "room_join" => {
                let room = if self.raw("room").is_some() { Some(self.room()?) } else { None };
                Command::Join {
                    room,
                    create: Some(usize::MAX),
                    status: self.raw("status").map(|r| Payload::new(r.get())),
                }
            }
            "room_leave" => Command::Leave { room: RoomRef::Id(self.room()?) },
            "room_peer_status" | "room_peer_update" => {
                Command::SetPeerStatus { room: self.room()?, status: self.raw("status").map(|r| Payload::new(r.get())) }
            }
            "room_status" => {
                let check = self.fields.get("check").is_some_and(|raw| raw.get() == "true");
                Command::SetRoomStatus {
                    room: self.room()?,
                    key: self.text("key").as_ref().into(),
                    value: self.fields.get("value").map(canonical),
                    check: check.then(|| self.raw("previous").map(canonical)),
                }
            }
            "room_peer_to" => Command::Relay {
                to: RelayTarget::RoomMember { room: self.room()?, user: self.user()? },
                signal: signal(&self.text("event"), self.fields.get("data").expect("checked")),
            },
            "invite_send" => {
                Command::Invite { room: self.room()?, to: self.user()?, data: self.payload("data").expect("checked") }
            }
            "invite_accept" | "invite_deny" | "invite_cancel" => {
                let handle = Some(self.number("handle")).filter(|h| h.fract() == 0.0 && *h >= 0.0).map(|h| h as u64);
                let make: fn(InviteRef, Option<Payload>) -> Command = match self.kind {
                    "invite_accept" => |invite, status| Command::Accept { invite, status, note: None },
                    "invite_deny" => |invite, _| Command::Reject { invite, reason: EndReason::Rejected, note: None },
                    _ => |invite, _| Command::Cancel { invite, note: None },
                };
                return Ok(Action::Handle {
                    handle,
                    outgoing: self.kind == "invite_cancel",
                    make,
                    status: self.payload("status"),
                });
            }
            other => unreachable!("{other} is checked against fields_of"),
        };
        Ok(Action::Command(command))
    }
}

fn bad_name(field: &str, error: NameError) -> String {
    format!("Invalid {field}: {error}")
}

/// A JSON value in one canonical text (object keys sorted, numbers and
/// strings normalised), so that equal values compare equal as text in the
/// core's compare-and-set.
pub(crate) fn canonical(raw: &RawValue) -> Payload {
    match serde_json::from_str::<serde_json::Value>(raw.get()) {
        Ok(value) => Payload::new(value.to_string()),
        Err(_) => Payload::new(raw.get()),
    }
}

/// `room_peer_to`'s event and data as a core signal. rtc-lib sends SDP as
/// event `signaling` with an `RTCSessionDescriptionInit` (plus its own
/// `streams` and `channels`) and candidates as `ice_candidate`; those become
/// the core's offer, answer and ICE candidate, so a client of another
/// dialect can understand them. Anything else is a custom event.
fn signal(event: &str, data: &RawValue) -> Signal {
    #[derive(serde::Deserialize)]
    struct Description<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
    }
    let kind = match event {
        "signaling" => match serde_json::from_str::<Description<'_>>(data.get()).ok().and_then(|d| d.kind) {
            Some(kind) if kind == "offer" => SignalKind::Offer,
            Some(kind) if kind == "answer" => SignalKind::Answer,
            _ => SignalKind::Custom(event.into()),
        },
        "ice_candidate" => SignalKind::IceCandidate,
        other => SignalKind::Custom(other.into()),
    };
    Signal { kind, payload: Payload::new(data.get()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<String, String> {
        let frame = parse(text).map_err(|e| format!("parse: {e}"))?;
        frame.check().map(|c| c.kind.to_owned()).map_err(|r| r.error.into_owned())
    }

    #[test]
    fn a_tid_is_echoed_raw_unless_no_double_holds_it() {
        fn tid(text: &str) -> Option<&str> {
            parse(text).ok().and_then(|frame| frame.tid)
        }
        assert_eq!(tid(r#"{"tid":12}"#), Some("12"));
        assert_eq!(tid(r#"{"tid":1.50}"#), Some("1.50"));
        assert_eq!(tid(r#"{"tid":"x"}"#), Some("\"x\""));
        assert_eq!(tid(r#"{"tid":null}"#), None);
        assert_eq!(tid(r#"{"type":"ping"}"#), None);
        // Found by the calling fuzz target: echoed raw, the answer was not
        // JSON that serde_json (or any reader with doubles) accepts.
        assert_eq!(tid(r#"{ "tid":11E111116}"#), Some("null"));
        assert_eq!(tid(r#"{"tid":-1e309}"#), Some("null"));
    }

    #[test]
    fn requests_are_checked_like_the_original() {
        assert_eq!(check(r#"{"type":"ping","tid":1}"#), Ok("ping".into()));
        assert_eq!(check(r#"{"tid":1}"#), Err("Missing type in message".into()));
        assert_eq!(check(r#"{"type":"fly","tid":1}"#), Err("Unknown command".into()));
        assert_eq!(check(r#"{"type":7,"tid":1}"#), Err("Unknown command".into()));
        assert_eq!(check(r#"{"type":"room_leave","tid":1}"#), Err("Missing element in message".into()));
        assert_eq!(check(r#"{"type":"room_leave","tid":1,"room":null}"#), Err("Missing element in message".into()));
        assert_eq!(check(r#"{"type":"room_leave","tid":1,"room":5}"#), Err("Type mismatch in message".into()));
        assert_eq!(check(r#"{"type":"room_leave","tid":"1","room":"r"}"#), Err("Type mismatch in message".into()));
        assert_eq!(
            check(r#"{"type":"room_leave","tid":1,"room":"r","x":0}"#),
            Err("Unexpected field in message".into())
        );
        // typeof null and typeof [] are "object", as in JavaScript.
        assert_eq!(check(r#"{"type":"status","tid":1,"status":null}"#), Ok("status".into()));
        assert_eq!(check(r#"{"type":"status","tid":1,"status":[]}"#), Ok("status".into()));
        assert_eq!(check(r#"{"type":"room_join","tid":1}"#), Ok("room_join".into()));
        // A request without tid (or with a null one) is checked the same way.
        assert_eq!(check(r#"{"type":"room_join"}"#), Ok("room_join".into()));
        assert_eq!(check(r#"{"type":"room_join","tid":null}"#), Ok("room_join".into()));
        assert!(check("[1]").unwrap_err().contains("must be a JSON object"));
        assert!(check("{").unwrap_err().contains("malformed JSON"));
    }

    #[test]
    fn canonical_json_sorts_keys() {
        let raw = |text: &str| serde_json::from_str::<Box<RawValue>>(text).unwrap();
        assert_eq!(canonical(&raw(r#"{ "b": 1, "a": [true, null] }"#)).as_str(), r#"{"a":[true,null],"b":1}"#);
        assert_eq!(canonical(&raw(r#"{"a":1,"b":2}"#)), canonical(&raw(r#"{"b":2,"a":1}"#)));
    }

    #[test]
    fn rtc_lib_signaling_becomes_offers_answers_and_candidates() {
        let raw = |text: &str| serde_json::from_str::<Box<RawValue>>(text).unwrap();
        assert_eq!(signal("signaling", &raw(r#"{"type":"offer","sdp":"v=0"}"#)).kind, SignalKind::Offer);
        assert_eq!(signal("signaling", &raw(r#"{"sdp":"v=0","type":"answer","streams":{}}"#)).kind, SignalKind::Answer);
        assert_eq!(signal("ice_candidate", &raw(r#"{"candidate":"c"}"#)).kind, SignalKind::IceCandidate);
        assert_eq!(signal("chat", &raw(r#"{"text":"hi"}"#)).kind, SignalKind::Custom("chat".into()));
        assert_eq!(signal("signaling", &raw(r#"{"type":"rollback"}"#)).kind, SignalKind::Custom("signaling".into()));
    }
}
