//! The `ecall` dialect: Wire calling v3's message channel (seed
//! `004_696fd66abb4d81cf.txt`). In Wire the backend delivers each end-to-end
//! encrypted `calling` message to every device of the recipient and to the
//! sender's other devices, and never reads it; switchboard plays that
//! backend, and checks the message's shape since it is not encrypted here.
//!
//! A connection is one device: `/ws/ecall?user=USER&client=CLIENT`.
//!
//! - client → server: `{"type":"calling","to":"bob","content":"<ECallMessage JSON>"}`,
//!   with an optional `"to_client"` to reach one device of `to`;
//! - server → client: `{"type":"calling","from":"alice","from_client":"c1","content":"..."}`;
//! - a refused frame: `{"type":"error","error":"..."}`; the connection stays.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use switchboard_core::{
    Command, CommandError, EndReason, Event, NameError, Payload, RelayTarget, Request, Signal, SignalKind, UserId,
};
use switchboard_ecall::{ECallMessage, MessageType};

pub use bridge::{BRIDGE_CLIENT, GATHERING, RING_TIMEOUT, SDP_WAIT};
use bridge::{Bridges, Step};

mod bridge;
mod candidates;

use crate::Incoming;
use crate::codec::{
    CLOSE_REPLACED, CLOSE_RESUME_REFUSED, Codec, Dialect, Effect, NO_BINARY, REPLACED_REASON, RESUME_REFUSED_REASON,
    TextFrame,
};
use crate::json::ObjectWriter;
use crate::replies::{Answers, Label, NO_LABEL, Replies};

/// The label of a `CANCEL` or `HANGUP` relayed while a `SETUP` offer to
/// the same user waits for its reply: refused as not carried, it withdrew
/// the offer before the bridge took it, and needs no error frame.
const WITHDRAWAL: Label = 1;

/// The label of a command of the bridge: a refused `Command::Call` declines
/// the bridged call.
const BRIDGE_CALL: Label = 2;

/// The label of the bridge's accept of a call from another app: refused,
/// the call was never this device's (another device of the user took it,
/// or the caller gave up), and [`Event::RingingStopped`] says so; the Wire
/// device, which never rang, hears nothing.
const BRIDGE_ACCEPT: Label = 3;

/// The label of the bridge's other commands (ending the call, relaying
/// its SDP): refused because the call ended on the other side first, they
/// need no error frame; any other refusal gets one.
const BRIDGE_END: Label = 4;

/// A `SETUP` offer relayed, waiting for the core's reply: refused as
/// [`CommandError::NotCarried`], it is a call to a user of another app,
/// which the codec's bridge places with its content.
#[derive(Clone, Debug)]
struct PendingOffer {
    /// The user it calls.
    to: UserId,
    /// The `SETUP` content.
    setup: String,
    /// A `CANCEL` or `HANGUP` to `to` came after it: the Wire device gave up
    /// the call before the reply.
    withdrawn: bool,
}

/// The relay kind of a `calling` message.
const CALLING: &str = "calling";

/// Longest client id accepted, in bytes.
pub const MAX_CLIENT_BYTES: usize = 64;

/// Why a device's query was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeviceError {
    /// The user name is not acceptable.
    #[error("bad user: {0}")]
    User(NameError),
    /// The user name holds `/`, which separates user and client in a
    /// device's peer id (`user/client`).
    #[error("bad user: no '/' allowed")]
    UserSlash,
    /// The client id is empty, too long, or holds `/` or a control character.
    #[error("bad client: 1 to {MAX_CLIENT_BYTES} bytes, no '/' or control characters")]
    Client,
    /// The query lacks `user` or `client`, or gives one twice.
    #[error("ecall needs ?user=USER&client=CLIENT, each once")]
    Missing,
    /// A query value is not percent-encoded UTF-8 (`%FF` is not a name:
    /// lossy decoding would make `%FF` and `%FE` the same user).
    #[error("{0} is not percent-encoded UTF-8")]
    Encoding(&'static str),
}

/// A device as `/ws/ecall?user=USER&client=CLIENT` names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceQuery {
    /// The user, percent-decoded.
    pub user: String,
    /// The client id, percent-decoded.
    pub client: String,
}

impl DeviceQuery {
    /// Parses a URL query (`application/x-www-form-urlencoded`: `&`-separated
    /// `key=value` pairs, `+` for a space, `%XX` escapes), strictly: a value
    /// whose bytes are not UTF-8 is refused, never replaced. Other keys are
    /// ignored.
    ///
    /// # Errors
    /// [`DeviceError::Missing`] without exactly one `user` and one `client`;
    /// [`DeviceError::Encoding`] for a value that does not decode.
    pub fn parse(query: &str) -> Result<Self, DeviceError> {
        let (mut user, mut client) = (None, None);
        for pair in query.split('&').filter(|pair| !pair.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (slot, name) = match key {
                "user" => (&mut user, "user"),
                "client" => (&mut client, "client"),
                _ => continue,
            };
            if slot.is_some() {
                return Err(DeviceError::Missing);
            }
            *slot = Some(crate::resume::form_decode(value).ok_or(DeviceError::Encoding(name))?);
        }
        match (user, client) {
            (Some(user), Some(client)) => Ok(Self { user, client }),
            _ => Err(DeviceError::Missing),
        }
    }
}

/// One device's codec state.
#[derive(Clone, Debug)]
pub struct Ecall {
    user: UserId,
    peer_id: Arc<str>,
    /// A `SETUP` offer's relay is tracked ([`PendingOffer`]). Every other
    /// request is quiet: a failure becomes an error frame as it is, but for
    /// the labelled ones ([`WITHDRAWAL`], [`BRIDGE_CALL`], [`BRIDGE_ACCEPT`],
    /// [`BRIDGE_END`]).
    replies: Replies<PendingOffer>,
    /// Calls with users of other apps.
    bridges: Bridges,
    /// The time of the current turn ([`Codec::at`]).
    now: Option<Instant>,
}

#[derive(Deserialize)]
struct Frame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    to: String,
    content: String,
    #[serde(default)]
    to_client: Option<String>,
}

impl Ecall {
    /// The codec of device `client` of `user`.
    ///
    /// # Errors
    /// [`DeviceError`] for a name switchboard cannot hold.
    pub fn new(user: &str, client: &str) -> Result<Self, DeviceError> {
        let user = UserId::parse(user).map_err(DeviceError::User)?;
        if user.as_str().contains('/') {
            return Err(DeviceError::UserSlash);
        }
        check_client(client)?;
        Ok(Self::with(peer_id(&user, client), user))
    }

    /// The same codec, whose bridge rings the Wire device for `ring` on a
    /// call from another app (`--ring-timeout`; [`RING_TIMEOUT`] unless
    /// told).
    #[must_use]
    pub fn with_ring_timeout(mut self, ring: std::time::Duration) -> Self {
        self.bridges = Bridges::ringing_for(ring);
        self
    }

    /// A codec for a connection that resumes a held device
    /// (`?resume=<token>`, no `user` or `client`): it only answers a refused
    /// resume, and is replaced by the held device's own codec otherwise.
    pub fn resuming() -> Self {
        let user = UserId::parse("resuming").expect("a valid name");
        Self::with(peer_id(&user, "resuming"), user)
    }

    fn with(peer_id: Arc<str>, user: UserId) -> Self {
        Self { peer_id, user, replies: Replies::new(), bridges: Bridges::default(), now: None }
    }

    /// The device's client id.
    fn client(&self) -> &str {
        self.peer_id.rsplit_once('/').map_or(&*self.peer_id, |(_, client)| client)
    }

    /// The current turn's time. A transport always gives it first; a bare
    /// codec (a unit test, a fuzz target) that never did reads the clock.
    fn now(&self) -> Instant {
        self.now.unwrap_or_else(Instant::now)
    }

    /// The device's peer id, `user/client`: a second connection with the
    /// same one replaces the first.
    pub fn peer_id(&self) -> Arc<str> {
        self.peer_id.clone()
    }

    /// The command that opens the device: its user, shared by its devices.
    pub fn open(&mut self) -> (Request, Command) {
        (self.replies.quiet(NO_LABEL), Command::Register { user: Some(self.user.clone()), shared: true })
    }

    /// Decodes one text frame for the message channel. A message to a user
    /// whose call with this device is bridged ([`bridge`]) is not a relay:
    /// [`Codec::on_client`] hands it to the bridge instead.
    pub fn decode(&mut self, text: &str) -> Incoming {
        let frame: Frame<'_> = match serde_json::from_str(text) {
            Ok(frame) => frame,
            Err(error) => {
                let shape = "a frame is {\"type\":\"calling\",\"to\":USER,\"content\":STRING[,\"to_client\":CLIENT]}";
                return Incoming::Answer(error_frame(&format!("{shape}: {error}")));
            }
        };
        if frame.kind != CALLING {
            return Incoming::Answer(error_frame(&format!("unknown type {:?}", frame.kind)));
        }
        let to = match UserId::parse(&frame.to) {
            Ok(to) => to,
            Err(error) => return Incoming::Answer(error_frame(&format!("bad to: {error}"))),
        };
        let message = match ECallMessage::parse(&frame.content) {
            Ok(message) => message,
            Err(error) => return Incoming::Answer(error_frame(&format!("bad content: {error}"))),
        };
        let peer = match frame.to_client {
            Some(client) => match check_client(&client) {
                Ok(()) => Some(peer_id(&to, &client)),
                Err(error) => return Incoming::Answer(error_frame(&error.to_string())),
            },
            None => None,
        };
        // The content travels as a JSON string, written back untouched.
        let payload = Payload::new(serde_json::to_string(&frame.content).expect("a string serialises"));
        let signal = Signal { kind: SignalKind::Custom(CALLING.into()), payload };
        let request = if message.kind == MessageType::Setup && !message.resp && peer.is_none() {
            self.replies.track(PendingOffer { to: to.clone(), setup: frame.content, withdrawn: false })
        } else if matches!(message.kind, MessageType::Cancel | MessageType::Hangup) && !message.resp {
            let mut withdrew = false;
            for offer in self.replies.waiting_mut().filter(|offer| offer.to == to) {
                offer.withdrawn = true;
                withdrew = true;
            }
            self.replies.quiet(if withdrew { WITHDRAWAL } else { NO_LABEL })
        } else {
            self.replies.quiet(NO_LABEL)
        };
        let relay = Command::Relay { to: RelayTarget::User { user: to, peer }, signal };
        Incoming::Command(request, relay)
    }

    /// The user a frame is addressed to, when its call is bridged: then the
    /// frame is the bridge's, unless it offers a new call after the last
    /// one ended.
    fn bridged_to(&self, text: &str) -> Option<(UserId, String)> {
        // Most devices bridge nothing: their frames are parsed once, by
        // `decode`, not here first.
        if self.bridges.is_empty() {
            return None;
        }
        let frame: Frame<'_> = serde_json::from_str(text).ok()?;
        let to = UserId::parse(&frame.to).ok()?;
        if frame.kind != CALLING || !self.bridges.has(&to) {
            return None;
        }
        if frame.to_client.as_deref().is_some_and(|client| client != BRIDGE_CLIENT) {
            return None;
        }
        let offer = ECallMessage::parse(&frame.content).is_ok_and(|m| m.kind == MessageType::Setup && !m.resp);
        if offer && self.bridges.ended(self.user.as_str(), &to) {
            return None;
        }
        Some((to, frame.content))
    }

    /// Carries out what the bridge asks.
    fn steps(&mut self, steps: Vec<Step>, out: &mut Vec<Effect<String>>) {
        for step in steps {
            match step {
                Step::Frame(frame) => out.push(Effect::Send(frame)),
                Step::Refuse(reason) => out.push(Effect::Send(error_frame(&reason))),
                Step::Command(command) => {
                    let label = match command {
                        Command::Call { .. } => BRIDGE_CALL,
                        Command::Accept { .. } => BRIDGE_ACCEPT,
                        _ => BRIDGE_END,
                    };
                    let request = self.replies.quiet(label);
                    if let Command::Call { to, .. } = &command {
                        self.bridges.placed(to, request.tag);
                    }
                    out.push(Effect::Command(request, command));
                }
            }
        }
    }

    /// A core event about a bridged call, carried out; `false` when the
    /// event is not one.
    fn on_bridged(&mut self, event: &Event, out: &mut Vec<Effect<String>>) -> bool {
        let (now, user, client) = (self.now(), self.user.as_str().to_owned(), self.client().to_owned());
        let steps = match event {
            // A `SETUP` offer reached a Wire device.
            Event::Reply { tag, result: Ok(_) } => {
                self.replies.answer(*tag);
                Vec::new()
            }
            Event::Reply { tag, result: Err(error) } => match (self.replies.answer(*tag), error) {
                (Answers::Tracked(offer), CommandError::NotCarried { to, .. }) if offer.to == *to => {
                    if offer.withdrawn {
                        return true;
                    }
                    let mut steps = Vec::new();
                    self.bridges.start(now, (&user, &client), offer.to, &offer.setup, &mut steps);
                    steps
                }
                (Answers::Quiet(WITHDRAWAL), CommandError::NotCarried { .. }) => Vec::new(),
                (Answers::Quiet(BRIDGE_CALL), _) => match self.bridges.placed_with(*tag) {
                    Some(peer) => {
                        let mut steps = self.bridges.declined(now, &user, &peer);
                        steps.push(Step::Refuse(refusal(error)));
                        steps
                    }
                    None => return false,
                },
                // Taken by another device of the user, or given up by the
                // caller: `RingingStopped` says so. Any other refusal leaves
                // the call ringing in the core until its ring timeout.
                (Answers::Quiet(BRIDGE_ACCEPT), _) => Vec::new(),
                (Answers::Quiet(BRIDGE_END), CommandError::NoCallWith(_) | CommandError::NoSuchInvite) => Vec::new(),
                _ => return false,
            },
            // Only a user of another app rings a Wire device in the core:
            // Wire devices ring each other with ECall messages.
            Event::Ringing { invite, from, .. } => self.bridges.called(now, &user, from.clone(), *invite),
            Event::RingingStopped { from, .. } if self.bridges.has(from) => {
                self.bridges.ringing_stopped(from);
                Vec::new()
            }
            Event::CallAccepted { by, .. } if self.bridges.has(by) => self.bridges.accepted(now, by),
            Event::CallDeclined { by, reason, .. } if self.bridges.has(by) => {
                let mut steps = self.bridges.declined(now, &user, by);
                // Busy as a refused call says it (on one node), so busy
                // found by the callee's node (across nodes) says it too.
                if *reason == EndReason::Busy {
                    steps.push(Step::Refuse(refusal(&CommandError::Busy(by.clone()))));
                }
                steps
            }
            Event::CallEnded { by, .. } if self.bridges.has(by) => self.bridges.ended_by_peer(now, &user, by),
            Event::Relayed { room: Some(_), from, signal, .. } if self.bridges.has(from) => {
                self.bridges.signal(now, &user, from, signal)
            }
            _ => return false,
        };
        self.steps(steps, out);
        true
    }

    /// Encodes one core event, if the dialect has a form for it.
    pub fn encode(&self, event: &Event) -> Option<String> {
        match event {
            Event::Relayed { room: None, from, from_peer, signal, .. }
                if signal.kind == SignalKind::Custom(CALLING.into()) =>
            {
                // Neither part may hold '/', so the one '/' splits them.
                let client = from_peer.rsplit_once('/').map_or(&**from_peer, |(_, client)| client);
                let frame = ObjectWriter::with_capacity(signal.payload.len() + 64)
                    .string("type", CALLING)
                    .string("from", from.as_str())
                    .string("from_client", client)
                    .raw("content", signal.payload.as_str())
                    .finish();
                Some(frame)
            }
            Event::Reply { result: Err(error), .. } => Some(error_frame(&refusal(error))),
            _ => None,
        }
    }
}

/// An ecall device over WebSocket text frames.
impl Codec for Ecall {
    fn dialect(&self) -> Option<Dialect> {
        Some(Dialect::Ecall)
    }

    type Inbound<'a> = TextFrame<'a>;
    type Outbound = String;

    fn peer_id(&self) -> Option<Arc<str>> {
        Some(Ecall::peer_id(self))
    }

    fn open(&mut self, out: &mut Vec<Effect<String>>) {
        let (request, command) = Ecall::open(self);
        out.push(Effect::Command(request, command));
    }

    fn on_client(&mut self, message: TextFrame<'_>, out: &mut Vec<Effect<String>>) {
        match message {
            TextFrame::Text(text) => match self.bridged_to(text) {
                Some((peer, content)) => {
                    let (now, user, client) = (self.now(), self.user.as_str().to_owned(), self.client().to_owned());
                    let steps = self.bridges.on_wire_message(now, (&user, &client), &peer, &content);
                    self.steps(steps, out);
                }
                None => out.extend(self.decode(text).into_effect()),
            },
            TextFrame::Binary => out.push(Effect::Send(error_frame(NO_BINARY))),
        }
    }

    fn on_core(&mut self, event: &Event, out: &mut Vec<Effect<String>>) {
        if let Event::Replaced = event {
            return out.push(Effect::Close(CLOSE_REPLACED, REPLACED_REASON));
        }
        if self.on_bridged(event, out) {
            return;
        }
        if let Some(frame) = self.encode(event) {
            out.push(Effect::Send(frame));
        }
    }

    fn at(&mut self, now: Instant) {
        self.now = Some(now);
    }

    fn deadline(&self) -> Option<Instant> {
        self.bridges.deadline()
    }

    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Effect<String>>) {
        let steps = self.bridges.on_deadline(now, self.user.as_str());
        self.steps(steps, out);
    }

    /// From the start: the device's user is registered as it connects.
    fn registered(&self) -> bool {
        true
    }

    /// A first frame of its own: ECall has no greeting to carry it.
    fn offer_resume(&mut self, token: Box<str>, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(session_frame(&token, false)));
    }

    fn resumed(&mut self, token: Box<str>, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(session_frame(&token, true)));
    }

    fn resume_refused(&mut self, out: &mut Vec<Effect<String>>) {
        out.push(Effect::Send(error_frame(RESUME_REFUSED_REASON)));
        out.push(Effect::Close(CLOSE_RESUME_REFUSED, RESUME_REFUSED_REASON));
    }
}

/// `{"type":"session","resume":TOKEN}`, with `"resumed":true` on a resume
/// (Step 11).
pub fn session_frame(token: &str, resumed: bool) -> String {
    ObjectWriter::new().string("type", "session").resume(Some(token), resumed).finish()
}

/// `{"type":"error","error":...}`.
pub fn error_frame(message: &str) -> String {
    ObjectWriter::new().string("type", "error").string("error", message).finish()
}

/// The ecall dialect's words for each refusal, sent in its `error` frame. A
/// match with no catch-all, so that a refusal the core adds does not compile
/// here until ecall is given its words, and the core's `Display` text never
/// reaches the wire: rewording the core must not change this protocol.
fn refusal(error: &CommandError) -> String {
    match error {
        CommandError::UnknownPeer(peer) => format!("no connected client {peer}"),
        CommandError::NotRegistered => "register first".to_owned(),
        CommandError::NotCarried { to, what } => format!("{to} is not a Wire client: its app cannot take {what}"),
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
        CommandError::Draining => "the server is shutting down; reconnect and call again".to_owned(),
        CommandError::ClusterUnavailable => "the cluster is unreachable; try again in a moment".to_owned(),
    }
}

fn check_client(client: &str) -> Result<(), DeviceError> {
    let ok = !client.is_empty()
        && client.len() <= MAX_CLIENT_BYTES
        && !client.contains('/')
        && !client.chars().any(char::is_control);
    if ok { Ok(()) } else { Err(DeviceError::Client) }
}

fn peer_id(user: &UserId, client: &str) -> Arc<str> {
    Arc::from(format!("{user}/{client}"))
}
