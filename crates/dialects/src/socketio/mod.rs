//! The socket.io dialects, `cloudkibo` (seed 000) and `tringtring` (seed
//! 001), which share one socket.io namespace. A socket is bound to one of
//! them by the first event that registers it; from then on the other
//! dialect's events are refused with an `error` event `{message}`.
//!
//! The codec works on socket.io events as JSON and knows nothing of
//! socket.io itself: the transport hands it `(event, data, ack id)`, the
//! data as the client's raw JSON text, and carries out what it returns
//! ([`SocketOut`]). A relayed SDP or ICE candidate is never parsed into a
//! `serde_json::Value` on its way through (DESIGN.md), as in the WebSocket
//! codecs: tringtring's `offer`, `answer` and `ice-candidate` are read with
//! borrowed fields, and the receiver's event is written around the payload
//! text ([`SocketOut::EmitRaw`]).

mod cloudkibo;
mod media_bridge;
mod tringtring;

use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_core::{Command, CommandError, Event};

use crate::codec::{self, Codec, Effect};
use crate::replies::{Answers, NO_LABEL, Replies};

/// An ack callback of one client event, numbered by the transport.
pub type AckId = u64;

/// One event from the client, as the transport read it.
#[derive(Clone, Copy, Debug)]
pub struct SocketEvent<'a> {
    /// The event's name.
    pub name: &'a str,
    /// Its first argument as the client's JSON text, or why it could not
    /// be read (an event with no argument, say).
    pub data: Result<&'a RawValue, &'a str>,
    /// Its ack callback, numbered by the transport (whether or not the
    /// client gave one).
    pub ack: AckId,
}

/// A message to the client. Every client event's ack is settled exactly
/// once, by [`SocketOut::Ack`] or [`SocketOut::ReleaseAck`], so the
/// transport holds an ack callback only while an answer may still come.
#[derive(Clone, Debug)]
pub enum SocketOut {
    /// Emit `event` with these arguments to the socket.
    Emit(&'static str, Vec<Value>),
    /// Emit `event` with this one argument, JSON text written as it is: a
    /// relayed signal, whose SDP or ICE candidate the codec did not parse.
    EmitRaw(&'static str, Box<RawValue>),
    /// Answer the client's ack callback with these arguments (a no-op when
    /// the client gave none).
    Ack(AckId, Vec<Value>),
    /// This ack callback will not be answered.
    ReleaseAck(AckId),
}

/// `Effect::Send(SocketOut::Emit(..))`.
pub(crate) fn emit(event: &'static str, args: Vec<Value>) -> Effect<SocketOut> {
    Effect::Send(SocketOut::Emit(event, args))
}

/// `Effect::Send(SocketOut::Ack(..))`.
pub(crate) fn answer_ack(id: AckId, args: Vec<Value>) -> Effect<SocketOut> {
    Effect::Send(SocketOut::Ack(id, args))
}

/// `Effect::Send(SocketOut::ReleaseAck(..))`.
pub(crate) fn release(id: AckId) -> Effect<SocketOut> {
    Effect::Send(SocketOut::ReleaseAck(id))
}

/// Which dialect a socket speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// The phone-number call flow (seed 000).
    Cloudkibo,
    /// The two-person room app (seed 001).
    Tringtring,
}

impl Dialect {
    fn of_event(event: &str) -> Option<Dialect> {
        match event {
            "join global chatroom" | "callthisperson" | "message" | "init" | "msg" => Some(Dialect::Cloudkibo),
            "create-room" | "join" | "offer" | "answer" | "ice-candidate" | "cut-the-call" => Some(Dialect::Tringtring),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Dialect::Cloudkibo => "cloudkibo",
            Dialect::Tringtring => "tringtring",
        }
    }
}

/// What a reply answers.
#[derive(Clone, Debug)]
enum Pending {
    Cloudkibo(cloudkibo::Pending),
    Tringtring(tringtring::Pending),
}

/// One socket's codec state.
#[derive(Debug)]
pub struct SocketIoSession {
    peer_id: String,
    /// The last ack number given ([`SocketIoSession::next_ack`]).
    last_ack: AckId,
    bound: Option<Dialect>,
    replies: Replies<Pending>,
    cloudkibo: cloudkibo::State,
    tringtring: tringtring::State,
}

impl SocketIoSession {
    /// The codec of the socket whose socket.io id is `peer_id`.
    /// `room_capacity` is the size of tringtring rooms (2 by default).
    pub fn new(peer_id: impl Into<String>, room_capacity: usize) -> Self {
        Self {
            peer_id: peer_id.into(),
            last_ack: 0,
            bound: None,
            replies: Replies::new(),
            cloudkibo: cloudkibo::State::default(),
            tringtring: tringtring::State::new(room_capacity),
        }
    }

    /// A number for the next client event's ack callback. The codec keeps
    /// the count, so that numbers never repeat across a resume: an answer
    /// the core gives after it (a `create-room` sent before the drop) must
    /// not reach a callback of the new connection.
    pub fn next_ack(&mut self) -> AckId {
        self.last_ack += 1;
        self.last_ack
    }

    /// The dialect the socket is bound to, once it is.
    pub fn dialect(&self) -> Option<Dialect> {
        self.bound
    }

    /// One event from the client: its name, its first argument, and its ack.
    /// Returns whether the ack will be answered later; if not,
    /// [`Codec::on_client`] releases it.
    fn on_event(&mut self, event: &str, data: &RawValue, ack: AckId, out: &mut Vec<Effect<SocketOut>>) -> bool {
        let Some(dialect) = Dialect::of_event(event) else {
            out.push(error(format!("unknown event {event:?}")));
            return false;
        };
        match self.bound {
            Some(bound) if bound != dialect => {
                let message =
                    format!("{event:?} is a {} event, and this socket speaks {}", dialect.name(), bound.name());
                out.push(error(message));
                false
            }
            _ => match dialect {
                Dialect::Cloudkibo => match parsed(event, data, out) {
                    Some(data) => cloudkibo::on_event(self, event, &data, ack, out),
                    None => false,
                },
                Dialect::Tringtring => tringtring::on_event(self, event, data, ack, out),
            },
        }
    }

    /// One core event for this socket.
    fn on_core_event(&mut self, event: &Event, out: &mut Vec<Effect<SocketOut>>) {
        if let Event::Reply { tag, result } = event {
            match self.replies.answer(*tag) {
                Answers::Tracked(Pending::Cloudkibo(pending)) => cloudkibo::on_reply(self, pending, result, out),
                Answers::Tracked(Pending::Tringtring(pending)) => tringtring::on_reply(self, pending, result, out),
                Answers::Quiet(_) | Answers::Unknown => {
                    if let Err(failure) = result {
                        out.push(error(refusal(failure)));
                    }
                }
            }
            return;
        }
        match self.bound {
            Some(Dialect::Cloudkibo) => cloudkibo::on_core_event(self, event, out),
            Some(Dialect::Tringtring) => tringtring::on_core_event(self, event, out),
            None => {}
        }
    }

    /// A command whose failure becomes an `error` event and whose success is
    /// silent.
    fn quiet(&mut self, command: Command, out: &mut Vec<Effect<SocketOut>>) {
        out.push(Effect::Command(self.replies.quiet(NO_LABEL), command));
    }

    /// A command whose reply goes to `on_reply` with `pending`.
    fn answered(&mut self, command: Command, pending: Pending, out: &mut Vec<Effect<SocketOut>>) {
        out.push(Effect::Command(self.replies.track(pending), command));
    }
}

/// A socket.io connection, of either socket.io dialect.
impl Codec for SocketIoSession {
    fn dialect(&self) -> Option<codec::Dialect> {
        self.dialect().map(|dialect| match dialect {
            Dialect::Cloudkibo => codec::Dialect::Cloudkibo,
            Dialect::Tringtring => codec::Dialect::Tringtring,
        })
    }

    type Inbound<'a> = SocketEvent<'a>;
    type Outbound = SocketOut;

    fn on_client(&mut self, event: SocketEvent<'_>, out: &mut Vec<Effect<SocketOut>>) {
        let kept = match event.data {
            Ok(data) => self.on_event(event.name, data, event.ack, out),
            Err(unreadable) => {
                out.push(unreadable_payload(event.name, unreadable));
                false
            }
        };
        if !kept {
            out.push(release(event.ack));
        }
    }

    fn on_core(&mut self, event: &Event, out: &mut Vec<Effect<SocketOut>>) {
        self.on_core_event(event, out);
    }

    /// A `session` event, `{resume: TOKEN}`: neither original protocol has
    /// a greeting to carry it.
    fn offer_resume(&mut self, token: Box<str>, out: &mut Vec<Effect<SocketOut>>) {
        out.push(emit("session", vec![json!({ "resume": &*token })]));
    }

    /// `session {resume: TOKEN, resumed: true}`.
    fn resumed(&mut self, token: Box<str>, out: &mut Vec<Effect<SocketOut>>) {
        out.push(emit("session", vec![json!({ "resume": &*token, "resumed": true })]));
    }

    /// socket.io has no close codes: the `error` event carries the code,
    /// `{message, code: 4004}`, and the socket is disconnected.
    fn resume_refused(&mut self, out: &mut Vec<Effect<SocketOut>>) {
        let refusal = json!({ "message": codec::RESUME_REFUSED_REASON, "code": codec::CLOSE_RESUME_REFUSED });
        out.push(emit("error", vec![refusal]));
        out.push(Effect::Close(codec::CLOSE_RESUME_REFUSED, codec::RESUME_REFUSED_REASON));
    }

    /// cloudkibo: once the core accepted its `join global chatroom` phone;
    /// tringtring: from its first event, which registers a drawn user.
    fn registered(&self) -> bool {
        match self.bound {
            Some(Dialect::Cloudkibo) => self.cloudkibo.registered(),
            Some(Dialect::Tringtring) => true,
            None => false,
        }
    }
}

/// An event's data as a JSON value, for the events that are not relayed
/// signals; `None`, with an `error` event out, when serde_json's value
/// cannot hold it (nested deeper than 128, a number out of range, a lone
/// surrogate), though the transport found it well-formed.
pub(crate) fn parsed(event: &str, data: &RawValue, out: &mut Vec<Effect<SocketOut>>) -> Option<Value> {
    match serde_json::from_str(data.get()) {
        Ok(value) => Some(value),
        Err(unreadable) => {
            out.push(unreadable_payload(event, &unreadable.to_string()));
            None
        }
    }
}

fn unreadable_payload(event: &str, why: &str) -> Effect<SocketOut> {
    error(format!("{event}: unreadable payload: {why}"))
}

pub(crate) fn error(message: impl Into<String>) -> Effect<SocketOut> {
    emit("error", vec![json!({ "message": message.into() })])
}

/// A name from a payload field that may be a string or a number (room ids
/// and phone numbers come both ways).
pub(crate) fn text_field(data: &Value, field: &str) -> Option<String> {
    match data.get(field)? {
        Value::String(text) if !text.is_empty() => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// The socket.io dialects' words for each refusal, shared by cloudkibo and
/// tringtring (their one `error` event, and tringtring's failed
/// `create-room`). A match with no catch-all, so that a refusal the core adds
/// does not compile here until these dialects are given its words, and the
/// core's `Display` text never reaches the wire: rewording the core must not
/// change these protocols.
pub(crate) fn refusal(failure: &CommandError) -> String {
    match failure {
        CommandError::NotRegistered => "register first".to_owned(),
        CommandError::NotCarried { to, what } => format!("{to}'s app cannot take {what}"),
        CommandError::AlreadyRegistered(user) => format!("this connection is already registered as {user}"),
        CommandError::NameTaken(user) => format!("the name {user} is taken"),
        CommandError::UnknownUser(user) => format!("no user {user} is online"),
        CommandError::Busy(user) => format!("{user} is busy"),
        CommandError::AlreadyInCall => "you are already ringing or in a call".to_owned(),
        CommandError::SelfCall => "you cannot call yourself".to_owned(),
        CommandError::NoSuchInvite => "no such ringing call".to_owned(),
        CommandError::NoCallWith(user) => format!("you have no call with {user}"),
        CommandError::NoSuchRoom(room) => format!("room {room} does not exist"),
        CommandError::RoomInUse(room) => format!("room {room} is in use"),
        CommandError::RoomFull(room) => format!("room {room} is full"),
        CommandError::NotInRoom(room) => format!("you are not in room {room}"),
        CommandError::AlreadyInRoom(room) => format!("you are already in room {room}"),
        CommandError::OnlyInvited(room) => format!("you are only invited to room {room}"),
        CommandError::PeerNotInRoom { room, user } => format!("{user} is not in room {room}"),
        CommandError::UnknownPeer(peer) => format!("no peer {peer} in this room"),
        CommandError::MailboxFull(user) => format!("{user} is offline and has too many messages waiting"),
        CommandError::TooManyRooms(max) => format!("you are in {max} rooms, the most allowed"),
        CommandError::TooManyNamespaces(max) => format!("already in {max} namespaces, the most allowed"),
        CommandError::TooManyMailboxes(max) => {
            format!("you have messages waiting for {max} offline users, the most allowed")
        }
        CommandError::RingLimit => "too many calls and invites; wait and try again".to_owned(),
        CommandError::RateLimited => "too many messages; slow down".to_owned(),
        CommandError::PeerPending(user) => format!("{user} has not accepted the invite yet"),
        CommandError::StatusMismatch => "the room status is not in the expected state".to_owned(),
        CommandError::NoSuchNamespace(namespace) => format!("namespace {namespace} does not exist"),
        CommandError::AlreadySubscribed(namespace) => format!("you are already subscribed to namespace {namespace}"),
        CommandError::NotSubscribed(namespace) => format!("you are not subscribed to namespace {namespace}"),
        CommandError::AlreadyInNamespace(namespace) => format!("you are already registered in namespace {namespace}"),
        CommandError::NotInNamespace(namespace) => format!("you are not registered in namespace {namespace}"),
        CommandError::RoomAlreadyInNamespace { namespace, room } => {
            format!("room {room} is already registered in namespace {namespace}")
        }
        CommandError::RoomNotInNamespace { namespace, room } => {
            format!("room {room} is not registered in namespace {namespace}")
        }
        CommandError::NameNotGranted(user) => format!("your token does not grant the name {user}"),
        CommandError::RoomNotGranted(Some(room)) => format!("your token does not grant room {room}"),
        CommandError::RoomNotGranted(None) => "your token does not grant a new room".to_owned(),
        CommandError::Draining => "the server is shutting down; reconnect and try again".to_owned(),
        CommandError::ClusterUnavailable => "the cluster is unreachable; try again in a moment".to_owned(),
    }
}
