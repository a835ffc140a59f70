//! The contract every dialect's codec keeps, whatever carries it.
//!
//! A codec holds one connection's dialect state and does no I/O. It has two
//! entry points: a message from the client ([`Codec::on_client`]) and an
//! event of the core for this session ([`Codec::on_core`]). Each pushes
//! [`Effect`]s, which the transport carries out in order once the codec has
//! returned: a command for the core, a message for the client, a close.
//! A WebSocket dialect's messages are text frames ([`TextFrame`], `String`);
//! the socket.io dialects' are socket.io events and emits.

use std::sync::Arc;
use std::time::{Duration, Instant};

use switchboard_core::{CallStyle, Command, Event, Request};

/// What a codec asks its transport to do, in order.
#[derive(Debug)]
pub enum Effect<M> {
    /// Hand this command to the core.
    Command(Request, Command),
    /// Send this message to the client.
    Send(M),
    /// Close the connection with this WebSocket close code and reason,
    /// after the messages before it.
    Close(u16, &'static str),
}

/// Close code 4001 (private use): the same device connected again
/// ([`Event::Replaced`]).
pub const CLOSE_REPLACED: u16 = 4001;

/// The reason that goes with [`CLOSE_REPLACED`].
pub const REPLACED_REASON: &str = "replaced by a newer connection of this client";

/// Close code 4004 (private use): a resume token that names no held
/// session (wrong, used or expired), after the dialect's error.
pub const CLOSE_RESUME_REFUSED: u16 = 4004;

/// The reason that goes with [`CLOSE_RESUME_REFUSED`], and the text of the
/// dialect's error before it.
pub const RESUME_REFUSED_REASON: &str = "resume refused: the token is wrong, used or expired";

/// Close code 4001 with this reason: another connection resumed this
/// session, which goes on there.
pub const RESUMED_ELSEWHERE_REASON: &str = "resumed by a newer connection";

/// What every text dialect answers a binary frame with.
pub const NO_BINARY: &str = "binary frames are not part of this dialect: send JSON text";

/// A message from a WebSocket client.
#[derive(Clone, Copy, Debug)]
pub enum TextFrame<'a> {
    /// A text frame.
    Text(&'a str),
    /// A binary frame, which no text dialect has.
    Binary,
}

/// Timers a client asked for on top of the WebSocket heartbeat (calling's
/// `remote_ping` and `remote_timeout`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Keepalive {
    /// Ask for [`Codec::on_keepalive`] after this long without traffic
    /// either way.
    pub ping_after: Option<Duration>,
    /// Close the connection after this long without a message from it.
    pub timeout: Option<Duration>,
}

/// Where a text codec writes frames: a plain list, or straight into the
/// effects of the turn (no list in between, so no allocation per event).
pub trait Frames {
    /// Adds one frame for the client.
    fn push_frame(&mut self, frame: String);
}

impl Frames for Vec<String> {
    fn push_frame(&mut self, frame: String) {
        self.push(frame);
    }
}

impl Frames for Vec<Effect<String>> {
    fn push_frame(&mut self, frame: String) {
        self.push(Effect::Send(frame));
    }
}

/// The dialect a connection speaks, as metrics and logs name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// Seed 002, over WebSocket.
    Chatroulette,
    /// Seed 003 (calling-signaling, rtc-lib), over WebSocket.
    Calling,
    /// Wire's ECall, over WebSocket.
    Ecall,
    /// Seed 000, over socket.io.
    Cloudkibo,
    /// Seed 001, over socket.io.
    Tringtring,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 5] =
        [Dialect::Chatroulette, Dialect::Calling, Dialect::Ecall, Dialect::Cloudkibo, Dialect::Tringtring];

    /// The dialect's name, a metric label value: `chatroulette`, `calling`,
    /// `ecall`, `cloudkibo`, `tringtring`.
    pub fn as_str(self) -> &'static str {
        match self {
            Dialect::Chatroulette => "chatroulette",
            Dialect::Calling => "calling",
            Dialect::Ecall => "ecall",
            Dialect::Cloudkibo => "cloudkibo",
            Dialect::Tringtring => "tringtring",
        }
    }

    /// How the dialect calls (Step 13): calling and tringtring have named
    /// rooms, chatroulette relays SDP and ICE in 1:1 calls, cloudkibo
    /// negotiates media in a room of its own, and ecall devices exchange
    /// ECall messages.
    pub fn call_style(self) -> CallStyle {
        match self {
            Dialect::Calling | Dialect::Tringtring => CallStyle::Rooms,
            Dialect::Chatroulette => CallStyle::Signals,
            Dialect::Cloudkibo => CallStyle::MediaRoom,
            Dialect::Ecall => CallStyle::Messages,
        }
    }

    /// The transport it runs on: `websocket` or `socket.io`.
    pub fn transport(self) -> &'static str {
        match self {
            Dialect::Chatroulette | Dialect::Calling | Dialect::Ecall => "websocket",
            Dialect::Cloudkibo | Dialect::Tringtring => "socket.io",
        }
    }
}

/// One connection's codec.
pub trait Codec: Send + 'static {
    /// The dialect it speaks; `None` until it is known (a socket.io
    /// connection is bound to cloudkibo or tringtring by its first event).
    fn dialect(&self) -> Option<Dialect>;

    /// A message from the client.
    type Inbound<'a>;
    /// A message to the client.
    type Outbound: Send + 'static;

    /// How the transport names this connection to other clients (ecall's
    /// `user/client`); `None` lets the core name it.
    fn peer_id(&self) -> Option<Arc<str>> {
        None
    }

    /// The connection opened (calling registers a drawn user and greets).
    fn open(&mut self, out: &mut Vec<Effect<Self::Outbound>>) {
        let _ = out;
    }

    /// One message from the client.
    fn on_client(&mut self, message: Self::Inbound<'_>, out: &mut Vec<Effect<Self::Outbound>>);

    /// One core event for this session.
    fn on_core(&mut self, event: &Event, out: &mut Vec<Effect<Self::Outbound>>);

    /// Whether the core has accepted this connection's registration (its
    /// dialect's way of saying who it is). A transport closes a connection
    /// that is not registered within its register timeout. A dialect whose
    /// connections register as they open (calling, ecall) is registered from
    /// the start. No default: each dialect must say what registering means.
    fn registered(&self) -> bool;

    /// The timers the client asked for.
    fn keepalive(&self) -> Keepalive {
        Keepalive::default()
    }

    /// The session may be resumed (the client asked with `resume=1`): its
    /// first message carries `token` (Step 11). chatroulette puts it in
    /// `CONNECTED`, calling in `hello`, ecall and the socket.io dialects send
    /// `{"type":"session","resume":token}` (socket.io: a `session` event)
    /// at once. Called in the first turn, after [`Codec::open`].
    fn offer_resume(&mut self, token: Box<str>, out: &mut Vec<Effect<Self::Outbound>>);

    /// A new connection resumed this (held) session: the dialect's first
    /// message, saying so with `resumed: true` and the next `token`. The
    /// events queued while the client was away follow it.
    fn resumed(&mut self, token: Box<str>, out: &mut Vec<Effect<Self::Outbound>>);

    /// The client asked to resume with a token that names no held session:
    /// the dialect's error ([`RESUME_REFUSED_REASON`]), then a close with
    /// [`CLOSE_RESUME_REFUSED`].
    fn resume_refused(&mut self, out: &mut Vec<Effect<Self::Outbound>>);

    /// [`Keepalive::ping_after`] passed: the keepalive message is due.
    fn on_keepalive(&mut self, out: &mut Vec<Effect<Self::Outbound>>) {
        let _ = out;
    }

    /// The time of the turn about to run, on the server's clock, given
    /// before its [`on_client`](Self::on_client) and
    /// [`on_core`](Self::on_core) calls: a codec with a timer of its own
    /// (ecall's bridge gathering ICE candidates) takes the time from here,
    /// not from a clock, and stays sans-IO. (ecall reads the clock only
    /// when it was never told, as a bare codec in a unit test is not.)
    fn at(&mut self, now: Instant) {
        let _ = now;
    }

    /// When the codec wants [`on_deadline`](Self::on_deadline), if ever.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The server's clock reached [`deadline`](Self::deadline) (`now`, at
    /// or after it).
    fn on_deadline(&mut self, now: Instant, out: &mut Vec<Effect<Self::Outbound>>) {
        let _ = (now, out);
    }
}
