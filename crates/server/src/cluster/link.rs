//! What crosses Redis between two nodes that share a call, and how it maps
//! to the core on each side.
//!
//! Each node holds a stand-in session (a ghost, `ghosts.rs`) for the other
//! party. When the core tells the stand-in something, [`for_stand_in`]
//! turns it into a [`LinkMessage`] for the other party's node, and there
//! [`LinkMessage::command`] turns it into the command of that node's
//! stand-in for this side: a ring becomes a call, an answer an accept, a
//! relay a relay, and every way a call ends an
//! [`EndCallWith`](switchboard_core::Command::EndCallWith) with its reason.
//! So each core rules on its own party (busy, the ring timeout) and both
//! parties hear only their own dialect's events.
//!
//! JSON, with client payloads kept as raw JSON text: an SDP is not parsed
//! on its way through.

use serde::{Deserialize, Serialize};

use super::proxies::QUIET_TAG;
use serde_json::value::RawValue;
use switchboard_core::{
    Command, CommandError, EndReason, Event, InviteRef, Payload, RelayTarget, RoomId, SessionId, Signal, SignalKind,
    UserId,
};

/// Everything one node says to another.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkFrame {
    /// About a 1:1 call between a user of each node.
    Call(LinkMessage),
    /// A client's connection piped to the node that holds its session
    /// (resume on another node, `pipes.rs`).
    Pipe(super::pipes::PipeMessage),
    /// About a session of one node acting in a room or namespace the
    /// other node holds.
    Proxy(ProxyMessage),
    /// An event for every session of `user` on the receiving node, from a
    /// place the sending node holds: an invite into one of its rooms rings
    /// the user, and what happens to the invite follows.
    UserEvent {
        /// The sending node's id.
        node: String,
        /// The user it is for.
        user: UserId,
        /// The event.
        event: Event,
    },
    /// An ecall message (the message channel to a user, no call needed),
    /// for the receiving node's sessions of `to` (only its device `peer`,
    /// if given) and of `from` but the sender's.
    UserRelay {
        /// The sending node's id.
        node: String,
        /// The sender.
        from: UserId,
        /// The sender's device (peer id).
        from_peer: String,
        /// The receiver.
        to: UserId,
        /// The receiver's device, or all of them.
        peer: Option<String>,
        /// The message.
        signal: Signal,
    },
    /// Asks the receiving node for the messages it holds for `user`, who
    /// has just registered on node `node`.
    Collect {
        /// The node the user is on now.
        node: String,
        /// The user.
        user: UserId,
    },
    /// The sending node has started again under its id, and whatever its
    /// former process's sessions had on the receiving node ends, as for a
    /// node taken for dead. A process killed and restarted at once
    /// (SIGKILL, then a supervisor's restart) announces itself again
    /// before the others miss it, so without this its old sessions' calls
    /// would never end. Sent before the new process serves, so it arrives
    /// before anything of that process (one publisher's order).
    Restarted {
        /// The node's id.
        node: String,
    },
    /// Makes sure a named room exists (tringtring's `POST /r/<id>` on a
    /// node that does not hold the room).
    OpenRoom {
        /// The room.
        room: RoomId,
        /// Its places, if it is made.
        capacity: usize,
    },
}

/// A session of node `node` in a place of the receiving node, or the
/// answer to one.
#[derive(Debug, Serialize, Deserialize)]
pub struct ProxyMessage {
    /// The sending node's id.
    pub node: String,
    /// The session, on whichever node it is connected to.
    pub session: SessionId,
    /// What happened.
    pub op: ProxyOp,
}

/// What a proxied session does, or is told.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProxyOp {
    /// The session's command, for the node that holds its place. Its user
    /// name and peer id make the stand-in there look like it.
    Command {
        /// The request's tag, handed back in the reply.
        tag: u64,
        /// Whether a success is answered.
        reply_on_success: bool,
        /// Whether the reply is dropped (a status change copied to every
        /// node the session acts on, answered by its own node).
        quiet: bool,
        /// The session's registered name, if any.
        user: Option<UserId>,
        /// The session's peer id.
        peer_id: String,
        /// The session's user's presence status, so that the stand-in shows
        /// it in rooms and namespaces there.
        #[serde(default)]
        status: Option<Payload>,
        /// For an invite: the node that holds the invitee, if not the
        /// receiving one, so that a stand-in there rings it.
        #[serde(default)]
        invitee_node: Option<String>,
        /// What it does.
        command: Command,
    },
    /// An event for the session, from the node that holds the place.
    Event(Event),
    /// The session closed.
    Gone,
}

/// One message from a node to another about a call between a user of each.
#[derive(Debug, Serialize, Deserialize)]
pub struct LinkMessage {
    /// The sending node's id.
    pub node: String,
    /// The sender's party (a user of the sending node).
    pub from: String,
    /// The receiver's party (a user of the receiving node).
    pub to: String,
    /// The peer id of the sender's session (a socket.io id), so that its
    /// stand-in there shows the same (cloudkibo's `sendersocket`).
    #[serde(default)]
    pub peer: Option<String>,
    /// How the sender's party's dialect calls, so that its stand-in there
    /// has the same style (Step 13: a cloudkibo phone's codec plays its
    /// media room for a party of another dialect); `None` from a node that
    /// does not say.
    #[serde(default)]
    pub style: Option<switchboard_core::CallStyle>,
    /// What happened.
    pub op: LinkOp,
}

/// What one side of a call did.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkOp {
    /// `from` calls `to`, with the caller's data.
    Call {
        /// The data shown with the ring.
        data: Box<RawValue>,
    },
    /// `from` answered `to`'s call.
    Accept {
        /// The callee's own message with its answer.
        note: Option<Box<RawValue>>,
    },
    /// The call between `from` and `to` ended on `from`'s side.
    End {
        /// Why: an [`EndReason`] name.
        reason: String,
        /// The message with it, if any.
        note: Option<Box<RawValue>>,
    },
    /// `from` relays a signal to `to`.
    Relay {
        /// `offer`, `answer`, `ice_candidate`, or a custom event's name.
        kind: LinkSignal,
        /// The signal's data.
        payload: Box<RawValue>,
    },
}

/// A signal's meaning on the link.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkSignal {
    /// An SDP offer.
    Offer,
    /// An SDP answer.
    Answer,
    /// A trickle ICE candidate.
    IceCandidate,
    /// A dialect's own event, by name.
    Custom(String),
}

/// The tag of a stand-in's call, so that the core's refusal of it can be
/// told from other replies and carried back as the call's end.
pub(crate) const CALL_TAG: u64 = 1;

fn raw(payload: &Payload) -> Box<RawValue> {
    RawValue::from_string(payload.as_str().to_owned()).unwrap_or_else(|_| null())
}

fn null() -> Box<RawValue> {
    RawValue::from_string("null".to_owned()).expect("null is JSON")
}

fn payload(raw: &RawValue) -> Payload {
    Payload::new(raw.get())
}

fn end(reason: EndReason, note: Option<&Payload>) -> LinkOp {
    LinkOp::End { reason: reason.as_str().to_owned(), note: note.map(raw) }
}

/// What the other node must hear of `event`, which the core gave the
/// stand-in of one of its users, and which local user it comes from.
/// `None` for events the link does not carry (a named room's, a
/// namespace's), which stay on this node.
/// `is_call` says whether a room is a 1:1 call's: a ring into a named room
/// (a calling invite) is not carried.
pub(crate) fn for_stand_in(event: &Event, is_call: impl Fn(&RoomId) -> bool) -> Option<(UserId, LinkOp)> {
    Some(match event {
        Event::Ringing { from, data, room, .. } if is_call(&room.id) => {
            (from.clone(), LinkOp::Call { data: raw(data) })
        }
        Event::CallAccepted { by, note, .. } => (by.clone(), LinkOp::Accept { note: note.as_ref().map(raw) }),
        Event::CallDeclined { by, reason, note, .. } => (by.clone(), end(*reason, note.as_ref())),
        Event::RingingStopped { from, reason, note, .. } => (from.clone(), end(*reason, note.as_ref())),
        Event::CallEnded { by, reason, .. } => (by.clone(), end(*reason, None)),
        Event::Relayed { room: Some(room), from, signal, .. } if is_call(room) => {
            let kind = match &signal.kind {
                SignalKind::Offer => LinkSignal::Offer,
                SignalKind::Answer => LinkSignal::Answer,
                SignalKind::IceCandidate => LinkSignal::IceCandidate,
                SignalKind::Custom(name) => LinkSignal::Custom(name.to_string()),
            };
            (from.clone(), LinkOp::Relay { kind, payload: raw(&signal.payload) })
        }
        _ => return None,
    })
}

/// How a stand-in's refused call ends for the caller on the other node:
/// busy when the callee is busy, else as if the callee had gone.
pub(crate) fn refused_call(error: &CommandError) -> LinkOp {
    let reason = match error {
        CommandError::Busy(_) | CommandError::AlreadyInCall => EndReason::Busy,
        _ => EndReason::Disconnected,
    };
    end(reason, None)
}

impl LinkMessage {
    /// The command the receiving node's stand-in for `from` gives its core,
    /// with the request's tag (a refusal of anything but the call itself
    /// is a race with the call's end here, and is dropped: [`QUIET_TAG`]); `None` when the message names no valid user
    /// or reason (a node of another version), which is dropped.
    pub(crate) fn command(&self) -> Option<(u64, Command)> {
        let to = UserId::parse(&self.to).ok()?;
        Some(match &self.op {
            LinkOp::Call { data } => (CALL_TAG, Command::Call { to, data: payload(data) }),
            LinkOp::Accept { note } => {
                let note = note.as_deref().map(payload);
                (QUIET_TAG, Command::Accept { invite: InviteRef::From(to), status: None, note })
            }
            LinkOp::End { reason, note } => {
                let reason = reason_named(reason)?;
                (QUIET_TAG, Command::EndCallWith { peer: to, reason, note: note.as_deref().map(payload) })
            }
            LinkOp::Relay { kind, payload: data } => {
                let kind = match kind {
                    LinkSignal::Offer => SignalKind::Offer,
                    LinkSignal::Answer => SignalKind::Answer,
                    LinkSignal::IceCandidate => SignalKind::IceCandidate,
                    LinkSignal::Custom(name) => SignalKind::Custom(name.as_str().into()),
                };
                let signal = Signal { kind, payload: payload(data) };
                (QUIET_TAG, Command::Relay { to: RelayTarget::CallPeer(to), signal })
            }
        })
    }
}

fn reason_named(name: &str) -> Option<EndReason> {
    [
        EndReason::Hangup,
        EndReason::Rejected,
        EndReason::Busy,
        EndReason::Timeout,
        EndReason::Cancelled,
        EndReason::Disconnected,
        EndReason::AnsweredElsewhere,
    ]
    .into_iter()
    .find(|reason| reason.as_str() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserId {
        UserId::parse(name).unwrap()
    }

    /// Every event the link carries comes out on the other side as the
    /// command that makes the other core say the same to its own party.
    #[test]
    fn each_carried_event_becomes_the_matching_command() {
        let offer = Signal { kind: SignalKind::Offer, payload: Payload::new(r#"{"type":"offer","sdp":"v=0"}"#) };
        let relayed = Event::Relayed {
            room: Some(switchboard_core::RoomId::parse("call-1").unwrap()),
            from: user("alice"),
            from_peer: "p".into(),
            from_status: None,
            signal: offer.clone(),
        };
        let hung_up = Event::CallEnded {
            room: switchboard_core::RoomId::parse("call-1").unwrap(),
            by: user("alice"),
            caller: user("alice"),
            reason: EndReason::Hangup,
        };
        for (event, expected) in [
            (relayed, Command::Relay { to: RelayTarget::CallPeer(user("alice")), signal: offer }),
            (hung_up, Command::EndCallWith { peer: user("alice"), reason: EndReason::Hangup, note: None }),
        ] {
            let (from, op) = for_stand_in(&event, |_| true).expect("carried");
            assert_eq!(from, user("alice"));
            // Across the wire: JSON there and back.
            let message =
                LinkMessage { node: "a".into(), from: "alice".into(), to: "alice".into(), peer: None, style: None, op };
            let text = serde_json::to_string(&message).unwrap();
            let message: LinkMessage = serde_json::from_str(&text).unwrap();
            let (_, command) = message.command().expect("valid");
            assert_eq!(format!("{command:?}"), format!("{expected:?}"), "{text}");
        }
    }

    #[test]
    fn a_message_with_an_unknown_reason_is_dropped() {
        let op = LinkOp::End { reason: "exploded".into(), note: None };
        let message =
            LinkMessage { node: "a".into(), from: "alice".into(), to: "bob".into(), peer: None, style: None, op };
        assert!(message.command().is_none());
    }

    /// A style's name in Redis (`names.rs`) is its JSON on the link, so a
    /// style read from either means the same.
    #[test]
    fn a_style_is_named_as_its_json() {
        for style in switchboard_core::CallStyle::ALL {
            assert_eq!(serde_json::to_string(&style).unwrap(), format!("\"{}\"", style.as_str()));
        }
    }

    /// A relayed socket.io signal crosses a pipe as the sender's text: a
    /// payload nested deeper than `serde_json::Value` takes (128) arrives as
    /// it was sent, where parsing it on the way had failed at the receiver.
    #[test]
    fn a_piped_raw_emit_crosses_as_text_however_deep() {
        use crate::cluster::pipes::{PipeMessage, PipeOp};
        let deep = format!("{{\"candidate\":{}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(serde_json::from_str::<serde_json::Value>(&deep).is_err(), "too deep for a Value");
        let arg = RawValue::from_string(deep.clone()).unwrap();
        let op = PipeOp::SioEmitRaw { event: "ice-candidate".into(), arg };
        let frame = LinkFrame::Pipe(PipeMessage { node: "a".into(), pipe: 1, opened_by: "b".into(), op });
        let bytes = serde_json::to_vec(&frame).unwrap();
        let Ok(LinkFrame::Pipe(PipeMessage { op: PipeOp::SioEmitRaw { event, arg }, .. })) =
            serde_json::from_slice::<LinkFrame>(&bytes)
        else {
            panic!("not a raw emit: {}", String::from_utf8_lossy(&bytes));
        };
        assert_eq!((event.as_str(), arg.get()), ("ice-candidate", deep.as_str()));
    }
}
