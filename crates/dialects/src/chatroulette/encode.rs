//! Core events to chatroulette frames, in the receiving client's form.
//!
//! Seed form: object payloads (`{"type":"CALL_ACCEPTED","payload":{"by":"bob"}}`).
//! Short form: a bare-string payload as the original code sends
//! (`{"type":"ca","payload":"bob"}`); a reason, which the original never
//! had, rides beside it at the top level (`{"type":"crj","payload":"bob","reason":"busy"}`)
//! so that the original client, which reads only `type` and `payload`, still works.

use switchboard_core::{CommandError, EndReason, Event, Reply, SignalKind, UserId};

use super::types::{Form, MessageType};
use crate::json::ObjectWriter;

/// Encodes `event` for a client that speaks `form`. `request` is the type
/// (as the client spelled it) of the command a reply answers. `None` when
/// the event has no chatroulette form: a success that the dialect does not
/// acknowledge, or a custom event from another dialect.
pub fn encode(form: Form, event: &Event, request: Option<&str>) -> Option<String> {
    let frame = Frame { form };
    Some(match event {
        Event::Reply { result: Ok(Reply::Registered { user, drawn }), .. } => {
            connected(form, user, *drawn, None, false)
        }
        Event::Reply { result: Ok(_), .. } => return None,
        Event::Reply { result: Err(error), .. } => return Some(reply_error(frame, error, request)),
        Event::Ringing { from, .. } => frame.named(MessageType::CallRequested, "from", from, None),
        Event::CallAccepted { by, .. } => frame.named(MessageType::CallAccepted, "by", by, None),
        Event::CallDeclined { by, reason, .. } => {
            let reason = (*reason != EndReason::Rejected).then_some(*reason);
            frame.named(MessageType::CallRejected, "by", by, reason)
        }
        Event::RingingStopped { from, reason, .. } => {
            let reason = (*reason != EndReason::Cancelled).then_some(*reason);
            frame.named(MessageType::CallCancelled, "by", from, reason)
        }
        Event::CallEnded { by, reason, .. } => frame.named(MessageType::CallEnded, "by", by, Some(*reason)),
        Event::Relayed { from, signal, .. } => {
            let (ty, key) = match signal.kind {
                SignalKind::Offer => (MessageType::CallerDescriptorReceived, "sdp"),
                SignalKind::Answer => (MessageType::RecipientDescriptorReceived, "sdp"),
                SignalKind::IceCandidate => (MessageType::IceCandidateReceived, "candidate"),
                SignalKind::Custom(_) => return None,
            };
            let payload = ObjectWriter::with_capacity(signal.payload.len() + from.as_str().len() + 32)
                .string("from", from.as_str())
                .raw(key, signal.payload.as_str())
                .finish();
            frame.with_payload(ty, &payload)
        }
        // Named rooms and namespaces are not part of this dialect.
        Event::PeerJoined { .. }
        | Event::PeerLeft { .. }
        | Event::PeerUpdated { .. }
        | Event::RoomStatusChanged { .. }
        | Event::Namespace { .. }
        | Event::Replaced => return None,
    })
}

/// `CONNECTED` in `form`. Seed: `{"type":"CONNECTED","payload":{"as":USER}}`;
/// short: `{"type":"cd","payload":USER}` for a drawn name, `{"type":"cd"}`
/// for the client's own. With a resume token (Step 11) the seed form adds
/// `"resume"` (and `"resumed":true` on a resume) to the payload, and the
/// short form puts them beside it, as it does `reason`.
pub fn connected(form: Form, user: &UserId, drawn: bool, resume: Option<&str>, resumed: bool) -> String {
    let frame = Frame { form };
    match form {
        Form::Seed => {
            let payload = ObjectWriter::new().string("as", user.as_str()).resume(resume, resumed).finish();
            frame.with_payload(MessageType::Connected, &payload)
        }
        Form::Short if drawn => {
            frame.start(MessageType::Connected).string("payload", user.as_str()).resume(resume, resumed).finish()
        }
        Form::Short => frame.start(MessageType::Connected).resume(resume, resumed).finish(),
    }
}

/// The error frame in `form`: `{"type":"ERROR","payload":{"message":…,"request":…}}`
/// in the seed form, `{"type":"er",…}` with the same payload in the short form
/// (see [`MessageType::Error`] for why the short form has its own code).
pub fn error_frame(form: Form, message: &str, request: Option<&str>) -> String {
    let mut payload = ObjectWriter::new().string("message", message);
    if let Some(request) = request {
        payload = payload.string("request", request);
    }
    Frame { form }.with_payload(MessageType::Error, &payload.finish())
}

/// Chatroulette's answer to each refusal, in this dialect's own words. A
/// match with no catch-all, so that a refusal the core adds does not compile
/// here until chatroulette is given its words, and the core's `Display` text
/// never reaches the wire: rewording the core must not change this protocol.
/// Three refusals have frames of their own, as the original sends them; the
/// others become an error frame with this message.
fn reply_error(frame: Frame, error: &CommandError, request: Option<&str>) -> String {
    let message = match error {
        // The original sends these two with no payload at all.
        CommandError::NameTaken(user) => return frame.seed_only(MessageType::UsernameTaken, "as", user),
        // A name the client's token does not grant is, to the client, a name
        // it cannot have: the one CONNECT refusal the original client knows.
        CommandError::NameNotGranted(user) => return frame.seed_only(MessageType::UsernameTaken, "as", user),
        CommandError::UnknownUser(user) => return frame.seed_only(MessageType::UnknownRecipient, "to", user),
        CommandError::Busy(user) => return frame.named(MessageType::CallRejected, "by", user, Some(EndReason::Busy)),
        CommandError::NotRegistered => "send CONNECT first".to_owned(),
        CommandError::NotCarried { to, what } => format!("{to}'s app cannot take {what}"),
        CommandError::AlreadyRegistered(user) => format!("this connection is already connected as {user}"),
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
        CommandError::RoomNotGranted(Some(room)) => format!("your token does not grant room {room}"),
        CommandError::RoomNotGranted(None) => "your token does not grant a new room".to_owned(),
        CommandError::Draining => "the server is shutting down: reconnect and call again".to_owned(),
        CommandError::ClusterUnavailable => "the cluster is unreachable: try again in a moment".to_owned(),
    };
    error_frame(frame.form, &message, request)
}

/// Writes frames in one form.
#[derive(Clone, Copy)]
struct Frame {
    form: Form,
}

impl Frame {
    fn start(self, ty: MessageType) -> ObjectWriter {
        ObjectWriter::new().string("type", ty.name(self.form))
    }

    fn empty(self, ty: MessageType) -> String {
        self.start(ty).finish()
    }

    fn with_payload(self, ty: MessageType, payload: &str) -> String {
        self.start(ty).raw("payload", payload).finish()
    }

    /// Seed: `{"type":T,"payload":{key:value[,"reason":R]}}`.
    fn object(self, ty: MessageType, key: &str, value: &str, reason: Option<EndReason>) -> String {
        let mut payload = ObjectWriter::new().string(key, value);
        if let Some(reason) = reason {
            payload = payload.string("reason", reason.as_str());
        }
        self.with_payload(ty, &payload.finish())
    }

    /// Short: `{"type":t,"payload":value[,"reason":R]}`.
    fn bare(self, ty: MessageType, value: &str, reason: Option<EndReason>) -> String {
        let mut frame = self.start(ty).string("payload", value);
        if let Some(reason) = reason {
            frame = frame.string("reason", reason.as_str());
        }
        frame.finish()
    }

    /// Seed: `{"type":T,"payload":{key:value}}`; short: `{"type":t}`.
    fn seed_only(self, ty: MessageType, key: &str, user: &UserId) -> String {
        match self.form {
            Form::Seed => self.object(ty, key, user.as_str(), None),
            Form::Short => self.empty(ty),
        }
    }

    /// A frame naming one user, in the client's form.
    fn named(self, ty: MessageType, key: &str, user: &UserId, reason: Option<EndReason>) -> String {
        match self.form {
            Form::Seed => self.object(ty, key, user.as_str(), reason),
            Form::Short => self.bare(ty, user.as_str(), reason),
        }
    }
}
