//! The life of one WebSocket connection, the same for every text dialect:
//! read frames and hand decoded commands to the driver, write the session's
//! events, ping a silent client and drop it when it stays silent, and close
//! with a clear code when the server stops or the client breaks a limit
//! (1008 for one that has not registered within `--register-timeout`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use switchboard_core::SessionId;
use switchboard_dialects::codec::{CLOSE_REPLACED, Codec, Effect, Keepalive, RESUMED_ELSEWHERE_REASON, TextFrame};
use switchboard_dialects::resume::ResumeAsk;
use tokio::sync::mpsc;
use tungstenite::Message;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::protocol::{CloseFrame, WebSocketConfig};

use crate::admission::Admission;
use crate::auth::Grants;
use crate::clock::Clock;
use crate::config::Config;
use crate::driver::DriverHandle;
use crate::guard;
use crate::metrics::{DropCause, Metrics};
use crate::rate::{self, MessageRateLimit};
use crate::session_start::{self, Start};
use crate::stop::{Stop, StopSignal, stopping};
use crate::websocket::ServerSocket;

/// Close codes of RFC 6455 §7.4.1 that the server sends.
mod close_code {
    /// A normal close: the client's own keepalive timeout passed.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The server cannot go on: the task that owns the core has stopped.
    pub const INTERNAL_ERROR: u16 = 1011;
    /// The client broke a rule: it stopped reading its events, or did not
    /// register in time.
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
    /// The node holds `--max-sessions` sessions, or drains: try again later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
}

/// What every connection task shares.
#[derive(Clone)]
pub(crate) struct ConnectionContext {
    pub(crate) driver: DriverHandle,
    pub(crate) clock: Clock,
    /// Shared, not copied: every byte of the context is paid per session.
    pub(crate) limits: Arc<Limits>,
    /// The node's metrics, for what only connections see (drop causes).
    pub(crate) metrics: Arc<Metrics>,
    /// Says why, once the server begins to stop.
    pub(crate) shutdown: StopSignal,
    /// Upgraded and held by every connection task; the server waits, at
    /// shutdown, until every strong sender is dropped (the dropped-sender
    /// trick of mini-redis). Weak here, so that a context kept by a
    /// long-lived handler (socket.io's namespace) does not hold shutdown up.
    pub(crate) alive: mpsc::WeakSender<()>,
}

/// Per-connection bounds, from [`Config`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_frame_bytes: usize,
    pub(crate) ping_after: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
    pub(crate) register_timeout: Duration,
    pub(crate) rate: MessageRateLimit,
}

impl Limits {
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            max_frame_bytes: config.max_frame_bytes,
            ping_after: config.ws_ping_after,
            idle_timeout: config.ws_idle_timeout,
            write_timeout: config.ws_write_timeout,
            register_timeout: config.register_timeout,
            rate: MessageRateLimit::new(config.rate_limit, config.rate_burst, config.rate_abuse_after),
        }
    }

    /// tungstenite's settings: the size limit, and small buffers (its
    /// default 128 KiB read buffer per connection would dominate an idle
    /// session's memory).
    pub(crate) fn websocket_config(&self) -> WebSocketConfig {
        WebSocketConfig::default()
            .max_message_size(Some(self.max_frame_bytes))
            .max_frame_size(Some(self.max_frame_bytes))
            .read_buffer_size(READ_BUFFER_BYTES)
            .write_buffer_size(WRITE_BATCH_BYTES)
    }
}

/// tungstenite's read buffer, allocated for every connection up front and
/// the most it asks of the socket at once. Small, because the socket below
/// it is a [`crate::lazy_read::LazyReadStream`]: that reads up to 64 KiB per
/// syscall and holds what tungstenite has not taken yet only until it does.
/// A message larger than this still arrives whole (tungstenite grows the
/// buffer to the frame's length); it only takes several copies from the
/// read-ahead, none of them a syscall.
pub(crate) const READ_BUFFER_BYTES: usize = 256;

/// Frames are gathered up to this many bytes before tungstenite writes them
/// (and a flush writes the rest), so a batch of relayed messages goes out in
/// one syscall rather than one each.
const WRITE_BATCH_BYTES: usize = 16 * 1024;

/// When to ping a silent client and when to give up on it.
struct Liveness {
    /// Any frame from the client, pongs included.
    last_heard: Instant,
    next_ping: Instant,
    /// The last message (not control frame) from the client.
    last_message_in: Instant,
    /// The last message to the client.
    last_message_out: Instant,
    /// When the client must have registered by; `None` once it has.
    register_by: Option<Instant>,
    /// When to give back socket buffers a large message or batch grew.
    release_at: Option<Instant>,
}

/// How long a session is idle after a large message or batch before its
/// socket gives back the buffers that grew for it ([`Socket::release_buffers`]).
const RELEASE_AFTER_IDLE: Duration = Duration::from_secs(1);

/// What is due when the connection's timer fires.
enum Due {
    /// Close: the client has been silent too long.
    Close(CloseFrame),
    /// Send a WebSocket ping.
    Ping,
    /// Send the dialect's keepalive message.
    KeepalivePing,
    /// Give back grown socket buffers.
    ReleaseBuffers,
    /// The codec's own timer ([`Codec::deadline`]).
    Codec,
    /// Nothing yet (woken early).
    Nothing,
}

impl Liveness {
    fn new(now: Instant, limits: &Limits) -> Self {
        Self {
            last_heard: now,
            next_ping: now + limits.ping_after,
            last_message_in: now,
            last_message_out: now,
            register_by: Some(now + limits.register_timeout),
            release_at: None,
        }
    }

    fn heard(&mut self, now: Instant, limits: &Limits) {
        self.last_heard = now;
        self.next_ping = now + limits.ping_after;
    }

    fn wake_at(&self, limits: &Limits, keepalive: Keepalive, codec: Option<Instant>) -> Instant {
        let mut at = self.next_ping.min(self.last_heard + limits.idle_timeout);
        if let Some(by) = self.register_by {
            at = at.min(by);
        }
        if let Some(after) = keepalive.ping_after {
            at = at.min(self.last_message_in.max(self.last_message_out) + after);
        }
        if let Some(timeout) = keepalive.timeout {
            at = at.min(self.last_message_in + timeout);
        }
        if let Some(release) = self.release_at {
            at = at.min(release);
        }
        if let Some(codec) = codec {
            at = at.min(codec);
        }
        at
    }

    fn due(&mut self, now: Instant, limits: &Limits, keepalive: Keepalive, codec: Option<Instant>) -> Due {
        if now >= self.last_heard + limits.idle_timeout {
            return Due::Close(close_frame(close_code::GOING_AWAY, IDLE_REASON));
        }
        if self.register_by.is_some_and(|by| now >= by) {
            return Due::Close(close_frame(close_code::POLICY, "not registered within the register timeout"));
        }
        if keepalive.timeout.is_some_and(|timeout| now >= self.last_message_in + timeout) {
            return Due::Close(close_frame(close_code::NORMAL, "remote timeout"));
        }
        if keepalive.ping_after.is_some_and(|after| now >= self.last_message_in.max(self.last_message_out) + after) {
            self.last_message_out = now;
            return Due::KeepalivePing;
        }
        if now >= self.next_ping {
            self.next_ping = now + limits.ping_after / 2;
            return Due::Ping;
        }
        if self.release_at.is_some_and(|at| now >= at) {
            self.release_at = None;
            return Due::ReleaseBuffers;
        }
        if codec.is_some_and(|at| now >= at) {
            return Due::Codec;
        }
        Due::Nothing
    }
}

/// Runs one connection to the end, driving its dialect's codec: the
/// codec's effects of each turn are checked against the connection's
/// `grants` ([`guard::authorize`]; `None`: the server runs open) and carried
/// out in order after the `select!` ([`carry_out`]).
///
/// A plain function returning an `async move` block, not an `async fn`: an
/// `async fn` stores its arguments twice in its future (rust-lang/rust#62958),
/// and the 368-byte socket twice is memory every idle session pays for.
#[allow(clippy::manual_async_fn, reason = "an async fn would store its arguments twice")]
pub(crate) fn run<S, C>(
    mut socket: S,
    mut codec: C,
    mut context: ConnectionContext,
    admission: Option<Admission>,
    grants: Option<Arc<Grants>>,
    resume: Option<ResumeAsk>,
) -> impl Future<Output = ()> + Send
where
    S: Socket,
    C: for<'a> Codec<Inbound<'a> = TextFrame<'a>, Outbound = String>,
{
    async move {
        // The session's place under the caps, given back when this ends.
        let mut place = admission.map(Arc::new);
        let Some(_alive) = context.alive.upgrade() else { return };
        // The first turn opens the codec, or resumes it.
        let mut effects = Vec::new();
        let resumable = resume.is_some();
        let peer_id = codec.peer_id();
        let start = Box::pin(session_start::start(
            &context.driver,
            &mut codec,
            (peer_id, grants.as_deref()),
            resume,
            &mut effects,
        ));
        let (open, mut events) = match start.await {
            Start::Opened(open, events, adopted) => {
                place = place.or(adopted);
                (open, events)
            }
            Start::Refused => return Box::pin(refuse_resume(socket, effects, context.limits.write_timeout)).await,
            Start::DriverGone => return,
        };
        let session = open.id();
        // Borrowed, not copied: every byte of this future is paid per session.
        let limits = &context.limits;
        let clock = &context.clock;
        let mut liveness = Liveness::new(clock.now(), limits);
        let mut rate = limits.rate.start(clock.now());
        tracing::debug!(%session, "connection opened");
        // The server stops: close once this turn's events are written.
        let mut stopped = false;
        // The connection ended without a clean close: a resumable session
        // is held rather than closed.
        let mut lost = false;
        // A newer connection resumed the session: let go of it.
        let mut taken_over = false;
        // The first turn's effects; every later turn waits for input.
        let mut first_turn = Some(effects);

        let close: Option<CloseFrame> = loop {
            // Allocated only when something comes, and freed once carried
            // out: an idle session holds none of it.
            let mut effects = Vec::new();
            if let Some(first) = first_turn.take() {
                effects = first;
            } else {
                tokio::select! {
                    frame = socket.next() => match frame {
                        Some(Ok(message)) => {
                            let now = clock.now();
                            liveness.heard(now, limits);
                            let frame = match &message {
                                Message::Text(text) => TextFrame::Text(text.as_str()),
                                Message::Binary(_) => TextFrame::Binary,
                                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
                                Message::Close(frame) => {
                                    lost = !is_clean_close(frame.as_ref());
                                    break None;
                                }
                            };
                            liveness.last_message_in = now;
                            codec.at(now);
                            if !rate::on_client(rate.as_mut(), clock, &mut codec, frame, &mut effects) {
                                context.metrics.dropped(DropCause::RateLimit);
                                break Some(close_frame(close_code::POLICY, rate::ABUSE_REASON));
                            }
                        }
                        Some(Err(error)) => {
                            let close = read_error(session, error, &context.metrics);
                            lost = close.is_none();
                            break close;
                        }
                        None => {
                            lost = true;
                            break None;
                        }
                    },
                    // Everything queued at once, so that one write carries it all.
                    event = events.next() => {
                        match event {
                            Some(event) => {
                                codec.at(clock.now());
                                taken_over = session_start::encode_batch(&mut codec, &event, &mut events, &mut effects);
                            }
                            // A newer connection resumed the session: below.
                            None if events.detached() => taken_over = true,
                            // The driver dropped this session's queue: it fell
                            // behind, or the driver itself is gone.
                            None if !context.driver.is_running() => break Some(core_stopped()),
                            None => break Some(close_frame(close_code::POLICY, "too slow: events not read")),
                        }
                    },
                    () = clock.sleep_until(Some(liveness.wake_at(limits, codec.keepalive(), codec.deadline()))) => {
                        let now = clock.now();
                        match liveness.due(now, limits, codec.keepalive(), codec.deadline()) {
                            Due::Close(frame) => {
                                // Silent past the idle timeout: the network
                                // is gone, not the client's wish.
                                lost = frame.reason.as_str() == IDLE_REASON;
                                context.metrics.dropped(DropCause::Idle);
                                tracing::debug!(%session, reason = %frame.reason, "closing a silent connection");
                                break Some(frame);
                            }
                            Due::Ping => {
                                if !send(&mut socket, Message::Ping(Default::default()), limits.write_timeout).await {
                                    lost = true;
                                    break None;
                                }
                            }
                            Due::KeepalivePing => codec.on_keepalive(&mut effects),
                            Due::Codec => {
                                codec.at(now);
                                codec.on_deadline(now, &mut effects);
                            }
                            // Not now (a message only partly arrived): again later.
                            Due::ReleaseBuffers => if !socket.release_buffers() && socket.has_grown() {
                                liveness.release_at = Some(clock.now() + RELEASE_AFTER_IDLE);
                            },
                            Due::Nothing => {}
                        }
                    },
                    stop = stopping(&mut context.shutdown) => match stop {
                        // What the core said before the stop still goes out:
                        // the hang-up that ended a drain, say.
                        Stop::GoingAway => {
                            while let Some(event) = events.try_recv() {
                                codec.on_core(&event, &mut effects);
                            }
                            stopped = true;
                        }
                        Stop::CoreFailed => break Some(core_stopped()),
                    },
                }
            }
            let effects = guard::authorize(grants.as_deref(), &mut codec, effects);
            if effects.iter().any(|effect| matches!(effect, Effect::Send(_))) {
                liveness.last_message_out = clock.now();
            }
            // Boxed: an idle session's future then holds no room for it
            // (160 bytes less per session, for one allocation per turn).
            let carried = Box::pin(carry_out(&mut socket, &context.driver, session, effects, limits));
            if let Carried::Close(close) = carried.await {
                lost |= close.is_none();
                break close;
            }
            if taken_over {
                break Some(close_frame(CLOSE_REPLACED, RESUMED_ELSEWHERE_REASON));
            }
            if stopped {
                break Some(close_frame(close_code::GOING_AWAY, "server shutting down"));
            }
            if liveness.register_by.is_some() && codec.registered() {
                liveness.register_by = None;
            }
            // A large message or batch grew the socket's buffers: given back
            // once the session has been idle for a moment.
            if socket.has_grown() {
                liveness.release_at = Some(clock.now() + RELEASE_AFTER_IDLE);
            }
        };

        if taken_over || (resumable && lost) {
            // Boxed: its state (the codec, moved) would otherwise be room in
            // every session's future.
            Box::pin(open.hold(codec, events, place)).await;
        } else {
            open.close().await;
        }
        // A client closed for what it sent (too fast, too big) is likely
        // still sending: it gets the closing handshake below.
        let still_sending = close
            .as_ref()
            .is_some_and(|f| u16::from(f.code) == close_code::TOO_BIG || f.reason.as_str() == rate::ABUSE_REASON);
        if let Some(frame) = close {
            send(&mut socket, Message::Close(Some(frame)), limits.write_timeout).await;
        }
        let _ = tokio::time::timeout(limits.write_timeout, socket.close()).await;
        // The closing handshake (RFC 6455 section 7), for a client still
        // sending: read on until its close reply, so that what it sent
        // meanwhile does not make the kernel answer with a reset, which would
        // throw away the close frame and the answers before it unread.
        if still_sending {
            let drain = async { while let Some(Ok(_)) = socket.next().await {} };
            // Boxed: rarely needed, and its timer would otherwise be room in
            // every session's future.
            let _ = Box::pin(tokio::time::timeout(limits.write_timeout, drain)).await;
        }
        tracing::debug!(%session, "connection closed");
    }
}

/// What a connection runs on: a client's WebSocket, or a pipe to the
/// client's WebSocket on another node (`cluster/pipes.rs`).
pub(crate) trait Socket:
    futures_util::Stream<Item = Result<Message, tungstenite::Error>>
    + futures_util::Sink<Message, Error = tungstenite::Error>
    + Unpin
    + Send
    + 'static
{
    /// Whether a large message or batch grew buffers that
    /// [`Socket::release_buffers`] could give back.
    fn has_grown(&self) -> bool {
        false
    }

    /// Gives back grown buffers, if that loses nothing now; whether it did.
    fn release_buffers(&mut self) -> bool {
        false
    }
}

impl Socket for ServerSocket {
    fn has_grown(&self) -> bool {
        ServerSocket::has_grown(self)
    }

    fn release_buffers(&mut self) -> bool {
        ServerSocket::release_buffers(self)
    }
}

/// The reason of the close for a client silent past `--ws-idle-timeout`.
const IDLE_REASON: &str = "idle timeout";

/// Whether a client's close frame ends its session at once: code 1000, or
/// no code at all (a plain `close()`). Anything else (1001 from a page
/// that reloads, say) leaves a resumable session held.
fn is_clean_close(frame: Option<&CloseFrame>) -> bool {
    frame.is_none_or(|frame| u16::from(frame.code) == close_code::NORMAL)
}

/// Answers a resume with a token that names no held session: the
/// dialect's error, then close 4004. No session was opened.
async fn refuse_resume(mut socket: impl Socket, effects: Vec<Effect<String>>, write_timeout: Duration) {
    for message in frames_of(effects) {
        if !send(&mut socket, message, write_timeout).await {
            return;
        }
    }
    let _ = tokio::time::timeout(write_timeout, socket.close()).await;
}

/// The frames and close of a codec's `effects` (a refusal's), as messages.
pub(crate) fn frames_of(effects: Vec<Effect<String>>) -> Vec<Message> {
    effects
        .into_iter()
        .filter_map(|effect| match effect {
            Effect::Send(frame) => Some(Message::Text(frame.into())),
            Effect::Close(code, reason) => Some(Message::Close(Some(close_frame(code, reason)))),
            Effect::Command(..) => None,
        })
        .collect()
}

/// A WebSocket the node has no place for (full, or draining): closed at
/// once with 1013 (try again later) and `reason`, before any session is
/// made.
pub(crate) async fn try_again_later(mut socket: ServerSocket, write_timeout: Duration, reason: &'static str) {
    let frame = close_frame(close_code::TRY_AGAIN_LATER, reason);
    send(&mut socket, Message::Close(Some(frame)), write_timeout).await;
    let _ = tokio::time::timeout(write_timeout, socket.close()).await;
}

/// What the connection does once a turn's effects are carried out.
enum Carried {
    /// Read on.
    GoOn,
    /// Close: with this frame, or without one (the client is gone).
    Close(Option<CloseFrame>),
}

/// Carries out one turn's effects in order: commands go to the driver, and
/// frames are fed to the socket as they come (tungstenite gathers them up to
/// [`WRITE_BATCH_BYTES`]) and flushed once at the end, before anything that
/// closes.
#[allow(clippy::manual_async_fn, reason = "an async fn would store its arguments twice")]
fn carry_out<'a>(
    socket: &'a mut impl Socket,
    driver: &'a DriverHandle,
    session: SessionId,
    effects: Vec<Effect<String>>,
    limits: &'a Limits,
) -> impl Future<Output = Carried> + Send + 'a {
    async move {
        // One deadline for the turn's writes, which go out as one batch:
        // read from the clock once, not once per frame.
        let mut write_by = None;
        let mut closing = None;
        for effect in effects {
            match effect {
                // The driver outlives every connection unless it failed.
                Effect::Command(request, command) => {
                    if driver.command(session, request, command).await.is_err() {
                        closing = Some(core_stopped());
                        break;
                    }
                }
                Effect::Send(frame) => {
                    let deadline = *write_by.get_or_insert_with(|| tokio::time::Instant::now() + limits.write_timeout);
                    let feed = socket.feed(Message::Text(frame.into()));
                    if !matches!(tokio::time::timeout_at(deadline, feed).await, Ok(Ok(()))) {
                        return Carried::Close(None);
                    }
                }
                Effect::Close(code, reason) => {
                    closing = Some(close_frame(code, reason));
                    break;
                }
            }
        }
        // What came before a close still goes out.
        if let Some(deadline) = write_by
            && !matches!(tokio::time::timeout_at(deadline, socket.flush()).await, Ok(Ok(())))
        {
            return Carried::Close(None);
        }
        match closing {
            Some(frame) => Carried::Close(Some(frame)),
            None => Carried::GoOn,
        }
    }
}

/// The close frame when the core has stopped and nobody can be served.
fn core_stopped() -> CloseFrame {
    close_frame(close_code::INTERNAL_ERROR, "signaling core stopped")
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame { code: CloseCode::from(code), reason: reason.into() }
}

/// Sends one message; `false` when the client is gone or too slow to take it.
async fn send(socket: &mut impl Socket, message: Message, timeout: Duration) -> bool {
    matches!(tokio::time::timeout(timeout, socket.send(message)).await, Ok(Ok(())))
}

/// Maps a read error to the close frame that explains it, if any.
fn read_error(
    session: switchboard_core::SessionId,
    error: tungstenite::Error,
    metrics: &Metrics,
) -> Option<CloseFrame> {
    match error {
        tungstenite::Error::Capacity(_) => {
            metrics.dropped(DropCause::FrameTooLarge);
            tracing::debug!(%session, "message over the size limit");
            Some(close_frame(close_code::TOO_BIG, "message too big"))
        }
        _ => {
            tracing::debug!(%session, %error, "read failed");
            None
        }
    }
}
