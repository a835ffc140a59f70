//! The `calling` dialect: the JSON calling-signaling protocol (seed
//! `003_6202090c39518291.txt`; original server npm `calling-signaling`
//! 0.1.4, client npm `rtc-lib`).
//!
//! The server greets with `{type: "hello", id, server}`; `id` is the
//! connection's user, a UUID v4. Every request with a `tid` gets one
//! `answer` (`{type: "answer", tid, data}` or `{tid, error}` with the
//! original's error strings); a request without one is carried out
//! unanswered (the seed's rule). Requests are checked as the original did:
//! declared fields of the declared JavaScript types, a numeric `tid`, and no
//! other field.
//!
//! Both naming families work. Requests: `room_peer_status` (original) and
//! `room_peer_update` (seed). Events: every `ns_room_peer_*` is followed by
//! the seed's `ns_room_user_*`, every `ns_user_update` by the seed's
//! `user_update`.
//!
//! Invite handles are per-connection counters from 0, shared by incoming and
//! outgoing invites, as in the original.

mod encode;
mod fields;
mod request;

use std::collections::HashMap;
use std::time::Duration;

use switchboard_core::{Command, CommandError, Event, InviteId, InviteRef, Reply, Request, UserId};

use crate::Incoming;
use crate::codec::{
    CLOSE_REPLACED, CLOSE_RESUME_REFUSED, Codec, Dialect, Effect, Frames, Keepalive, NO_BINARY, REPLACED_REASON,
    RESUME_REFUSED_REASON, TextFrame,
};
use crate::json::ObjectWriter;
use crate::replies::{Answers, NO_LABEL, Replies};
use request::{Action, Checked};

/// The frame `remote_ping` asks for.
pub const PING_FRAME: &str = r#"{"type":"ping"}"#;

/// What a reply answers, to shape its `data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answering {
    Hello,
    Plain,
    Join,
    Subscribe,
    InviteSend,
}

#[derive(Debug)]
struct Pending {
    tid: Option<Box<str>>,
    answering: Answering,
}

/// One calling connection's codec state.
#[derive(Debug)]
pub struct Calling {
    server: String,
    user: Option<UserId>,
    /// Requests waiting for the core's reply.
    replies: Replies<Pending>,
    next_handle: u64,
    /// Each ringing invite's handle on this connection.
    handles: HashMap<InviteId, u64>,
    /// The reverse, with whether this connection sent the invite.
    invites: HashMap<u64, (InviteId, bool)>,
    keepalive: Keepalive,
    /// The registration that opens the session was refused (the server's
    /// authorization check gave it the token's name, which another
    /// connection holds): the client was told, and the connection closes.
    refused: bool,
    /// The resume token that goes in `hello`, until it has gone.
    resume: Option<Box<str>>,
}

/// The close code after a refused opening registration: policy violation.
pub const CLOSE_REFUSED: u16 = 1008;

impl Calling {
    /// A codec for a new connection; `server` goes in `hello`
    /// ("switchboard 0.1.0").
    pub fn new(server: impl Into<String>) -> Self {
        Self {
            server: server.into(),
            user: None,
            replies: Replies::new(),
            next_handle: 0,
            handles: HashMap::new(),
            invites: HashMap::new(),
            keepalive: Keepalive::default(),
            refused: false,
            resume: None,
        }
    }

    /// The command that opens the session: register a drawn user, whose
    /// reply becomes `hello`.
    pub fn open(&mut self) -> (Request, Command) {
        let request = self.track(Some(Box::from("0")), Answering::Hello);
        (request, Command::Register { user: None, shared: false })
    }

    /// The user the connection was given, once `hello` is out.
    pub fn user(&self) -> Option<&UserId> {
        self.user.as_ref()
    }

    /// The timers the client asked for.
    pub fn keepalive(&self) -> Keepalive {
        self.keepalive
    }

    /// Decodes one text frame.
    pub fn decode(&mut self, text: &str) -> Incoming {
        let frame = match request::parse(text) {
            Ok(frame) => frame,
            Err(message) => return Incoming::Answer(encode::error(&message)),
        };
        let checked = match frame.check() {
            Ok(checked) => checked,
            Err(refusal) => return refuse(refusal.tid, &refusal.error),
        };
        let tid = checked.tid().map(Box::from);
        match checked.action() {
            Ok(action) => self.act(&checked, tid, action),
            Err(message) => refuse(tid.as_deref(), &message),
        }
    }

    fn act(&mut self, checked: &Checked<'_>, tid: Option<Box<str>>, action: Action) -> Incoming {
        match action {
            Action::Command(command) => {
                let answering = match checked.kind {
                    "room_join" => Answering::Join,
                    "ns_subscribe" => Answering::Subscribe,
                    "invite_send" => Answering::InviteSend,
                    _ => Answering::Plain,
                };
                Incoming::Command(self.track(tid, answering), command)
            }
            Action::Handle { handle, outgoing, make, status } => {
                let found = handle.and_then(|h| self.invites.get(&h).filter(|(_, out)| *out == outgoing).map(|_| h));
                match found {
                    Some(handle) => {
                        let (invite, _) = self.invites.remove(&handle).expect("found above");
                        self.handles.remove(&invite);
                        let command = make(InviteRef::Id(invite), status);
                        Incoming::Command(self.track(tid, Answering::Plain), command)
                    }
                    None => refuse(tid.as_deref(), "Invalid invitation handle"),
                }
            }
            Action::RemotePing(ms) => match remote_time(ms) {
                Some(after) => {
                    self.keepalive.ping_after = Some(after);
                    answer_done(tid)
                }
                None => refuse(tid.as_deref(), REMOTE_TIME_REFUSED),
            },
            Action::RemoteTimeout(ms) => match remote_time(ms) {
                Some(timeout) => {
                    self.keepalive.timeout = Some(timeout);
                    answer_done(tid)
                }
                None => refuse(tid.as_deref(), REMOTE_TIME_REFUSED),
            },
        }
    }

    /// A request for the core, remembered until its reply when the reply
    /// matters: it has a `tid`, or its success changes this codec's state.
    fn track(&mut self, tid: Option<Box<str>>, answering: Answering) -> Request {
        if tid.is_none() && answering == Answering::Plain {
            return self.replies.quiet(NO_LABEL);
        }
        self.replies.track(Pending { tid, answering })
    }

    /// Encodes one core event into zero or more frames.
    pub fn encode(&mut self, event: &Event, out: &mut impl Frames) {
        match event {
            Event::Reply { tag, result } => self.encode_reply(*tag, result, out),
            Event::Ringing { invite, room, from, data, .. } => {
                let handle = self.allocate(*invite, false);
                let data = if data.as_str() == "null" { "{}" } else { data.as_str() };
                out.push_frame(
                    ObjectWriter::new()
                        .string("type", "invite_incoming")
                        .number("handle", handle)
                        .string("room", room.id.as_str())
                        .raw("peers", &encode::peers(&room.peers))
                        .raw("status", &encode::room_status(&room.status))
                        .string("sender", from.as_str())
                        .raw("data", data)
                        .finish(),
                );
            }
            Event::CallAccepted { invite, .. } => self.invite_ended(*invite, "invite_response", Some(true), out),
            Event::CallDeclined { invite, .. } => self.invite_ended(*invite, "invite_response", Some(false), out),
            Event::RingingStopped { invite, .. } => self.invite_ended(*invite, "invite_cancelled", None, out),
            Event::CallEnded { room, by, .. } => out.push_frame(encode::room_peer_rm(room, by.as_str())),
            Event::PeerJoined { room, peer, .. } => out.push_frame(encode::room_peer_add(room, peer)),
            Event::PeerLeft { room, user, .. } => out.push_frame(encode::room_peer_rm(room, user.as_str())),
            Event::PeerUpdated { room, user, update } => {
                out.push_frame(encode::room_peer_update(room, user.as_str(), update))
            }
            Event::RoomStatusChanged { room, status } => out.push_frame(encode::room_update(room, status)),
            // A relay outside a room (the ecall message channel) has no calling form.
            Event::Relayed { room: Some(room), from, signal, .. } => {
                out.push_frame(encode::room_peer_from(room, from.as_str(), &signal.kind, &signal.payload));
            }
            Event::Relayed { room: None, .. } | Event::Replaced => {}
            Event::Namespace { namespace, event } => encode::namespace(namespace, event, out),
        }
    }

    fn encode_reply(&mut self, tag: u64, result: &Result<Reply, CommandError>, out: &mut impl Frames) {
        // A quiet request has nobody to tell: it asked for no answer.
        let Answers::Tracked(pending) = self.replies.answer(tag) else { return };
        if pending.answering == Answering::Hello {
            match result {
                Ok(Reply::Registered { user, .. }) => {
                    self.user = Some(user.clone());
                    let resume = self.resume.take();
                    out.push_frame(self.hello(resume.as_deref(), false));
                }
                // A drawn name is never refused; the token's name is when
                // another connection holds it. Without a user there is no
                // session to serve: say why, then close.
                Err(error) => {
                    self.refused = true;
                    out.push_frame(encode::error(&encode::error_text(error)));
                }
                Ok(_) => {}
            }
            return;
        }
        let outcome: Result<Option<String>, String> = match (pending.answering, result) {
            (Answering::InviteSend, Ok(Reply::Calling { invite, .. })) => {
                let handle = self.allocate(*invite, true);
                Ok(Some(ObjectWriter::new().number("handle", handle).finish()))
            }
            (Answering::InviteSend, Err(error @ CommandError::AlreadyInRoom(_))) => {
                // The original had drawn the handle before it found the
                // invitee in the room; later handles keep its numbering.
                self.next_handle += 1;
                Err(encode::error_text(error))
            }
            (Answering::Join, Ok(Reply::Joined(view))) => Ok(Some(encode::joined(view))),
            (Answering::Subscribe, Ok(Reply::Subscribed { users, rooms })) => {
                let users = users
                    .iter()
                    .fold(ObjectWriter::new(), |object, (user, status)| {
                        object.raw(user.as_str(), encode::presence(status))
                    })
                    .finish();
                let rooms = rooms
                    .iter()
                    .fold(ObjectWriter::new(), |object, room| {
                        object.raw(room.id.as_str(), &encode::room_description(room))
                    })
                    .finish();
                Ok(Some(ObjectWriter::new().raw("users", &users).raw("rooms", &rooms).finish()))
            }
            (_, Ok(_)) => Ok(None),
            (_, Err(error)) => Err(encode::error_text(error)),
        };
        if let Some(tid) = pending.tid {
            out.push_frame(encode::answer(&tid, outcome.as_ref().map(Option::as_deref).map_err(String::as_str)));
        }
    }

    /// `{type: "hello", id, server}`, with `resume` (and `resumed: true`
    /// on a resume) when the client asked for a resume token (Step 11).
    fn hello(&self, resume: Option<&str>, resumed: bool) -> String {
        let id = self.user.as_ref().map_or("", UserId::as_str);
        let hello = ObjectWriter::new().string("type", "hello").string("id", id).string("server", &self.server);
        hello.resume(resume, resumed).finish()
    }

    fn allocate(&mut self, invite: InviteId, outgoing: bool) -> u64 {
        let handle = self.next_handle;
        self.next_handle += 1;
        self.handles.insert(invite, handle);
        self.invites.insert(handle, (invite, outgoing));
        handle
    }

    fn invite_ended(&mut self, invite: InviteId, kind: &str, accepted: Option<bool>, out: &mut impl Frames) {
        let Some(handle) = self.handles.remove(&invite) else { return };
        self.invites.remove(&handle);
        let mut frame = ObjectWriter::new().string("type", kind).number("handle", handle);
        if let Some(accepted) = accepted {
            frame = frame.boolean("accepted", accepted);
        }
        out.push_frame(frame.finish());
    }
}

/// A calling connection over WebSocket text frames.
impl Codec for Calling {
    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Calling)
    }

    type Inbound<'a> = TextFrame<'a>;
    type Outbound = String;

    fn open(&mut self, out: &mut Vec<Effect<String>>) {
        let (request, command) = Calling::open(self);
        out.push(Effect::Command(request, command));
    }

    fn on_client(&mut self, message: TextFrame<'_>, out: &mut Vec<Effect<String>>) {
        match message {
            TextFrame::Text(text) => out.extend(self.decode(text).into_effect()),
            TextFrame::Binary => out.push(Effect::Send(encode::error(NO_BINARY))),
        }
    }

    fn on_core(&mut self, event: &Event, out: &mut Vec<Effect<String>>) {
        if let Event::Replaced = event {
            return out.push(Effect::Close(CLOSE_REPLACED, REPLACED_REASON));
        }
        self.encode(event, out);
        if std::mem::take(&mut self.refused) {
            out.push(Effect::Close(CLOSE_REFUSED, "registration refused"));
        }
    }

    /// From the start: the connection registers a drawn user as it opens.
    fn registered(&self) -> bool {
        true
    }

    fn keepalive(&self) -> Keepalive {
        self.keepalive
    }

    /// The token rides in `hello`, which answers the opening registration.
    fn offer_resume(&mut self, token: Box<str>, _: &mut Vec<Effect<String>>) {
        self.resume = Some(token);
    }

    /// `hello {id: the same id, server, resume, resumed: true}`.
    fn resumed(&mut self, token: Box<str>, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(self.hello(Some(&token), true)));
    }

    fn resume_refused(&mut self, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(encode::error(RESUME_REFUSED_REASON)));
        out.push(Effect::Close(CLOSE_RESUME_REFUSED, RESUME_REFUSED_REASON));
    }

    fn on_keepalive(&mut self, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(PING_FRAME.to_owned()));
    }
}

fn refuse(tid: Option<&str>, error: &str) -> Incoming {
    match tid {
        Some(tid) => Incoming::Answer(encode::answer(tid, Err(error))),
        None => Incoming::Nothing,
    }
}

fn answer_done(tid: Option<Box<str>>) -> Incoming {
    match tid {
        Some(tid) => Incoming::Answer(encode::answer(&tid, Ok(None))),
        None => Incoming::Nothing,
    }
}

/// The `time` that `remote_ping` and `remote_timeout` accept, in
/// milliseconds: 1 s to 1 h. The original passed any number to `setTimeout`,
/// which Node runs after 1 ms when the number is out of its range, so a
/// client could have the server ping it a thousand times a second.
pub const REMOTE_TIME_MS: std::ops::RangeInclusive<f64> = 1_000.0..=3_600_000.0;

/// The answer to a `time` outside [`REMOTE_TIME_MS`]: the original's error
/// for a field of the wrong kind.
const REMOTE_TIME_REFUSED: &str = "Type mismatch in message";

/// `time` as a duration, when it is in [`REMOTE_TIME_MS`] (NaN is not).
fn remote_time(ms: f64) -> Option<Duration> {
    // In range, so the cast neither saturates nor loses more than a fraction of a millisecond.
    REMOTE_TIME_MS.contains(&ms).then(|| Duration::from_millis(ms as u64))
}
