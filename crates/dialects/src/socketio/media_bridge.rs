//! cloudkibo's media room, played by the server when the other party of a
//! call speaks another dialect (Step 13).
//!
//! A CloudKibo client negotiates media in a second room: after
//! `callaccepted` the caller sends the callee `message {type: room_name}`,
//! both `init` that room, the member already there gets `peer.connected
//! {id, username}` and sends the offer, and SDP and ICE travel as `msg {to,
//! by, type: "offer" | "answer" | "ice", sdp | ice}` (Android
//! `WebRtcClient.messageReceived`, which also reads `username` from an
//! offer's `msg`). A chatroulette or calling party knows none of that, so the
//! codec plays the room for it: it takes the room name this client sends
//! (caller) or sends one itself (callee), answers `init` with the other
//! party as a member of its own (id 2 when this client called, 1 when it was
//! called), and turns `msg` offers, answers and candidates into the core's
//! SDP and ICE signals to the call peer and back.

use serde_json::{Map, Value, json};
use switchboard_core::{CallStyle, Payload, RelayTarget, Signal, SignalKind, UserId};

/// The most signals held for the client until it joins the media room
/// (an offer and a burst of trickled candidates fit many times over).
pub(crate) const HELD_SIGNALS: usize = 256;

/// A call with a party of another style, whose media room this socket's
/// codec plays.
#[derive(Debug)]
pub(crate) struct MediaBridge {
    /// The other party.
    pub(crate) peer: UserId,
    /// Whether this socket's phone placed the call.
    caller: bool,
    /// The media room's name: the one this client sent (caller), or the
    /// one the server sent it (callee); `None` until then.
    pub(crate) room: Option<String>,
    /// Whether the client has joined the media room (`init`).
    pub(crate) joined: bool,
    /// Signals from the peer that came before the client joined.
    held: Vec<Signal>,
}

/// What the client's `msg` in a played media room asks for.
#[derive(Debug, PartialEq)]
pub(crate) enum MediaMessage {
    /// Relay this to the call peer.
    Relay(RelayTarget, Signal),
    /// Refused, with the reason for the `error` event.
    Refused(String),
}

impl MediaBridge {
    /// Whether a call with a party of `style` needs its media room played:
    /// every known style but cloudkibo's own (a party on another node, of
    /// unknown style, is taken to play its own part, as before Step 13).
    pub(crate) fn needed(style: Option<CallStyle>) -> bool {
        style.is_some_and(|style| style != CallStyle::MediaRoom)
    }

    /// A call this client placed, answered by `peer`.
    pub(crate) fn for_caller(peer: UserId) -> Self {
        Self { peer, caller: true, room: None, joined: false, held: Vec::new() }
    }

    /// A call from `peer` that this client answered; the server names the
    /// media room (`room`: the call's own room id).
    pub(crate) fn for_callee(peer: UserId, room: String) -> Self {
        Self { peer, caller: false, room: Some(room), joined: false, held: Vec::new() }
    }

    /// This client's member id in the played room: 1 when it called (it
    /// joins first in CloudKibo's flow), 2 when it was called.
    pub(crate) fn me(&self) -> u32 {
        if self.caller { 1 } else { 2 }
    }

    /// The other party's member id.
    pub(crate) fn peer_id(&self) -> u32 {
        if self.caller { 2 } else { 1 }
    }

    /// Whether `init {room}` joins this played room: the room it named,
    /// or any room before it named one (its `init` came before its
    /// `room_name`).
    pub(crate) fn takes_init(&self, room: Option<&str>) -> bool {
        !self.joined && (self.room.is_none() || self.room.as_deref() == room)
    }

    /// The client joined: the signals held for it, as `msg` events, in the
    /// order they came.
    pub(crate) fn join(&mut self, room: Option<String>) -> Vec<Value> {
        self.joined = true;
        if self.room.is_none() {
            self.room = room;
        }
        let held = std::mem::take(&mut self.held);
        held.iter().filter_map(|signal| self.msg(signal)).collect()
    }

    /// A signal from the peer: the `msg` to emit now, or `None` when it is
    /// held until the client joins. `Err` when the hold is full.
    pub(crate) fn peer_signal(&mut self, signal: &Signal) -> Result<Option<Value>, ()> {
        if self.joined {
            return Ok(self.msg(signal));
        }
        if self.held.len() >= HELD_SIGNALS {
            return Err(());
        }
        self.held.push(signal.clone());
        Ok(None)
    }

    /// `msg {to, by, username, type, sdp | ice}` for a signal of the peer.
    /// A custom signal never reaches here: the core refuses it.
    fn msg(&self, signal: &Signal) -> Option<Value> {
        let data: Value = serde_json::from_str(signal.payload.as_str()).ok()?;
        let mut msg = json!({ "to": self.me(), "by": self.peer_id(), "username": self.peer.as_str() });
        match signal.kind {
            SignalKind::Offer | SignalKind::Answer => {
                let kind = if signal.kind == SignalKind::Offer { "offer" } else { "answer" };
                msg["type"] = json!(kind);
                msg["sdp"] = data;
            }
            SignalKind::IceCandidate => {
                let mut ice = Map::new();
                ice.insert("type".into(), json!("candidate"));
                if let Value::Object(fields) = data {
                    ice.extend(fields);
                }
                msg["type"] = json!("ice");
                msg["ice"] = Value::Object(ice);
            }
            SignalKind::Custom(_) => return None,
        }
        Some(msg)
    }

    /// The client's `msg` in the played room, as a relay to the peer: an
    /// offer or answer carries its `sdp` (an `RTCSessionDescriptionInit`),
    /// a candidate its `ice` without CloudKibo's own `type: "candidate"`.
    pub(crate) fn client_msg(&self, data: &Value) -> MediaMessage {
        if data.get("to").and_then(Value::as_u64) != Some(u64::from(self.peer_id())) {
            return MediaMessage::Refused(format!(
                "msg: no peer {} in this room",
                data.get("to").unwrap_or(&Value::Null)
            ));
        }
        let kind = data.get("type").and_then(Value::as_str).unwrap_or_default();
        let (kind, payload) = match kind {
            "offer" | "answer" => {
                let Some(sdp) = data.get("sdp").filter(|sdp| sdp.get("sdp").is_some_and(Value::is_string)) else {
                    return MediaMessage::Refused(format!("msg {kind} needs sdp: {{type, sdp}}"));
                };
                (if kind == "offer" { SignalKind::Offer } else { SignalKind::Answer }, sdp.clone())
            }
            "ice" => {
                let Some(Value::Object(ice)) = data.get("ice") else {
                    return MediaMessage::Refused("msg ice needs ice: {candidate, sdpMid, sdpMLineIndex}".into());
                };
                let mut candidate = ice.clone();
                candidate.remove("type");
                (SignalKind::IceCandidate, Value::Object(candidate))
            }
            other => {
                return MediaMessage::Refused(format!(
                    "{}'s app takes only offers, answers and ice in this call, not {other:?}",
                    self.peer
                ));
            }
        };
        let signal = Signal { kind, payload: Payload::new(payload.to_string()) };
        MediaMessage::Relay(RelayTarget::CallPeer(self.peer.clone()), signal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bob() -> UserId {
        UserId::parse("bob").unwrap()
    }

    #[test]
    fn the_callers_offer_and_candidates_become_core_signals() {
        let bridge = MediaBridge::for_caller(bob());
        let offer = json!({"to": 2, "by": 1, "type": "offer", "sdp": {"type": "offer", "sdp": "v=0"}});
        let MediaMessage::Relay(to, signal) = bridge.client_msg(&offer) else { panic!() };
        assert_eq!(to, RelayTarget::CallPeer(bob()));
        assert_eq!((signal.kind, signal.payload.as_str()), (SignalKind::Offer, r#"{"sdp":"v=0","type":"offer"}"#));
        let ice = json!({"to": 2, "type": "ice", "ice": {"type": "candidate", "candidate": "c", "sdpMid": "0", "sdpMLineIndex": 0}});
        let MediaMessage::Relay(_, signal) = bridge.client_msg(&ice) else { panic!() };
        assert_eq!(signal.kind, SignalKind::IceCandidate);
        assert_eq!(signal.payload.as_str(), r#"{"candidate":"c","sdpMLineIndex":0,"sdpMid":"0"}"#);
        assert!(matches!(bridge.client_msg(&json!({"to": 1, "type": "offer"})), MediaMessage::Refused(_)));
        assert!(matches!(bridge.client_msg(&json!({"to": 2, "type": "chat"})), MediaMessage::Refused(_)));
        assert!(matches!(bridge.client_msg(&json!({"to": 2, "type": "offer", "sdp": {}})), MediaMessage::Refused(_)));
    }

    #[test]
    fn signals_before_the_callee_joins_are_held_then_given_in_order() {
        let mut bridge = MediaBridge::for_callee(bob(), "call-1".into());
        let offer = Signal { kind: SignalKind::Offer, payload: Payload::new(r#"{"type":"offer","sdp":"v=0"}"#) };
        let ice = Signal { kind: SignalKind::IceCandidate, payload: Payload::new(r#"{"candidate":"c"}"#) };
        assert_eq!(bridge.peer_signal(&offer), Ok(None));
        assert_eq!(bridge.peer_signal(&ice), Ok(None));
        assert!(bridge.takes_init(Some("call-1")) && !bridge.takes_init(Some("other")));
        let given = bridge.join(Some("call-1".into()));
        assert_eq!(
            given,
            vec![
                json!({"to": 2, "by": 1, "username": "bob", "type": "offer", "sdp": {"type": "offer", "sdp": "v=0"}}),
                json!({"to": 2, "by": 1, "username": "bob", "type": "ice", "ice": {"type": "candidate", "candidate": "c"}}),
            ]
        );
        assert!(bridge.peer_signal(&ice).unwrap().is_some(), "after the join, at once");
    }

    #[test]
    fn the_hold_is_bounded() {
        let mut bridge = MediaBridge::for_callee(bob(), "call-1".into());
        let ice = Signal { kind: SignalKind::IceCandidate, payload: Payload::new(r#"{"candidate":"c"}"#) };
        for _ in 0..HELD_SIGNALS {
            assert_eq!(bridge.peer_signal(&ice), Ok(None));
        }
        assert_eq!(bridge.peer_signal(&ice), Err(()));
    }
}
