//! socket.io transport for the cloudkibo and tringtring dialects
//! (socketioxide with its `v4` feature, so Engine.IO v3 clients —
//! socket.io-client 1.x and 2.x — connect as well as v4 ones).
//!
//! Each socket gets one task that owns its codec state, reading the socket's
//! events and its core events, like a WebSocket connection task. Events reach
//! that task in the order the client sent them: see [`Queued`].
//!
//! Before socketioxide, `edge::socketio_gate` checks every request's `Origin`
//! and gives each Engine.IO session its place under the session caps. A
//! socket that has not registered within `--register-timeout` gets an
//! `error` event and is disconnected; an Engine.IO session that never joins
//! a namespace is closed by socketioxide after the same time
//! (`connect_timeout`, on tokio's clock).
//!
//! When the server checks access tokens, a socket connects to the namespace
//! only with a valid one ([`authenticate`]); otherwise the client gets
//! socket.io's connect error with the reason.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, Event as EventName, SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, FromMessage, FromMessageParts, Value as RawPacket};
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::{DisconnectReason, Socket};
use socketioxide::{SendError, SocketError, SocketIo};
use switchboard_core::SessionId;
use switchboard_dialects::codec::{Codec, Effect};
use switchboard_dialects::resume::ResumeAsk;
use switchboard_dialects::socketio::{AckId, SocketEvent, SocketIoSession, SocketOut};
use tokio::sync::mpsc;

use crate::auth::{AuthError, Authenticator, Grants, request_token};
use crate::guard;
use crate::metrics::DropCause;
use crate::rate;
use crate::session_start::{self, Start};
use crate::ws::ConnectionContext;

/// Events of one socket waiting for its task, at most. A client that sends
/// faster than its task hands them to the core is dropped as a flooder (an
/// `error` event, then a disconnect), never slowed by reordering or losing
/// events silently.
const INBOX_EVENTS: usize = 256;

/// Bytes of events (as their socket.io packets) waiting for one socket's
/// task, at most: with 64 KiB events, [`INBOX_EVENTS`] alone would let one
/// socket hold 16 MiB.
const INBOX_BYTES: usize = 1024 * 1024;

/// Packets socketioxide may hold for one client before it is dropped as too
/// slow.
const MAX_BUFFERED_PACKETS: usize = 256;

/// Core events taken from a session's queue in one turn.
const EVENT_BATCH: usize = 32;

/// How often a disconnect that found the client's packet buffer full is
/// tried again (see [`disconnect`]).
const DISCONNECT_RETRY: Duration = Duration::from_millis(50);

/// How long a disconnect is retried at most. By then socketioxide's own
/// heartbeat (25 s interval, 20 s timeout) has closed a client that does not
/// read, and one that reads has long taken the disconnect packet.
const DISCONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// What the handlers hand to a socket's task.
enum Inbound {
    Event {
        name: String,
        data: Result<Value, String>,
        ack: AckSender,
        bytes: usize,
    },
    /// The socket is gone; `lost` when without the client's disconnect
    /// packet (a dropped transport or a missed heartbeat), which leaves a
    /// resumable session held.
    Gone {
        lost: bool,
    },
}

/// The sending side of a socket's inbox, kept in the socket's extensions so
/// that [`Queued`] can reach it.
#[derive(Clone)]
struct Inbox {
    events: mpsc::Sender<Inbound>,
    /// Bytes of the events queued now.
    bytes: Arc<AtomicUsize>,
    /// Set when an event found the inbox full: the task drops the client.
    overflowed: Arc<AtomicBool>,
}

impl Inbox {
    /// Queues one event, or marks the inbox overflowed.
    fn push(&self, event: Inbound, bytes: usize) {
        if self.overflowed.load(Ordering::Acquire) {
            return; // the client is being dropped; later events go with it
        }
        let over_budget = self.bytes.fetch_add(bytes, Ordering::AcqRel) + bytes > INBOX_BYTES;
        if over_budget || self.events.try_send(event).is_err() {
            self.bytes.fetch_sub(bytes, Ordering::AcqRel);
            self.overflowed.store(true, Ordering::Release);
        }
    }
}

/// A socket's inbox receiver, from the connect middleware to the connect
/// handler.
#[derive(Clone)]
struct InboxSlot(Arc<Mutex<Option<mpsc::Receiver<Inbound>>>>);

/// The extractor that queues a socket's events in the order they came.
///
/// socketioxide 0.18 spawns a task for every handler call
/// (`handler/message.rs`), so two events of one socket may run in either
/// order; 200 back-to-back events arrived with up to 42 inversions. It runs
/// extractors before that spawn, synchronously and in arrival order, on both
/// transports. So the event is queued here, in the extractor, and the handler
/// itself has nothing left to do.
struct Queued;

impl FromMessage<LocalAdapter> for Queued {
    type Error = Infallible;

    fn from_message(
        socket: Arc<Socket<LocalAdapter>>,
        mut packet: RawPacket,
        ack_id: Option<i64>,
    ) -> Result<Self, Infallible> {
        let bytes = packet.len();
        let name = EventName::from_message_parts(&socket, &mut packet, &ack_id);
        let Ok(TryData(data)) = TryData::<Value>::from_message_parts(&socket, &mut packet, &ack_id);
        let data = data.map_err(|error| error.to_string());
        let Ok(ack) = AckSender::from_message_parts(&socket, &mut packet, &ack_id);
        let Some(inbox) = socket.extensions.get::<Inbox>() else { return Ok(Queued) };
        let event = match name {
            Ok(EventName(name)) => Inbound::Event { name, data, ack, bytes },
            Err(error) => Inbound::Event { name: String::new(), data: Err(error.to_string()), ack, bytes },
        };
        inbox.push(event, bytes);
        Ok(Queued)
    }
}

/// The socket.io layer, serving namespace `/` at `/socket.io/`; with `auth`,
/// only to sockets with a valid access token.
pub(crate) fn layer(context: ConnectionContext, room_capacity: usize, auth: Option<Authenticator>) -> SocketIoLayer {
    let max_frame_bytes = context.limits.max_frame_bytes;
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(MAX_BUFFERED_PACKETS)
        .connect_timeout(context.limits.register_timeout)
        // Polling bodies (413 when larger) and WebSocket messages alike, so an
        // event over `--max-frame-bytes` is never read whole on either
        // transport; engineioxide's own WebSocket limit is 64 MiB.
        .max_payload(max_frame_bytes as u64)
        .ws_max_message_size(max_frame_bytes)
        .ws_max_frame_size(max_frame_bytes)
        .build_layer();
    let checks_tokens = auth.is_some();
    let metrics = context.metrics.clone();
    let start = move |socket: SocketRef| {
        let context = context.clone();
        async move { start(socket, context, room_capacity, checks_tokens) }
    };
    let authenticate = move |socket: SocketRef, TryData(handshake): TryData<Value>| {
        let (auth, metrics) = (auth.clone(), metrics.clone());
        async move {
            let verdict = authenticate(auth.as_ref(), &socket, handshake.ok());
            if verdict.is_err() {
                metrics.dropped(DropCause::Auth);
            }
            verdict
        }
    };
    // The last middleware added runs first: no handler is attached to a
    // socket that is refused.
    io.ns("/", start.with(attach_handlers).with(authenticate));
    layer
}

/// The token of a socket: its handshake's `auth: {token}` (socket.io v3 and
/// v4 clients), else its first request's `Authorization: Bearer` header or
/// `?access_token=` (every client: socket.io-client 1.x and 2.x have only
/// these). A valid one's grants go in the socket's extensions; a missing or
/// invalid one is refused, and socketioxide sends the reason as the connect
/// error (`connect_error` in socket.io-client 3+, `error` in 1.x and 2.x).
/// The server running open, every socket passes.
fn authenticate(auth: Option<&Authenticator>, socket: &SocketRef, handshake: Option<Value>) -> Result<(), AuthError> {
    let Some(auth) = auth else { return Ok(()) };
    let from_handshake = match handshake.as_ref().and_then(|handshake| handshake.get("token")) {
        Some(Value::String(token)) => Some(token.clone()),
        Some(_) => return Err(AuthError::Malformed),
        None => None,
    };
    let parts = socket.req_parts();
    let token =
        from_handshake.or_else(|| request_token(parts.uri.query(), &parts.headers)).ok_or(AuthError::Missing)?;
    match auth.verify(&token) {
        Ok(grants) => {
            socket.extensions.insert(Arc::new(grants));
            Ok(())
        }
        Err(error) => {
            tracing::debug!(sid = %socket.id, %error, "socket.io connection refused");
            Err(error)
        }
    }
}

/// Registers the socket's handlers. This runs as a connect middleware,
/// before the server tells the client it is connected: a client that emits
/// at once (socket.io-client 1.x does) would otherwise lose its first events
/// to a socket with no handler yet.
async fn attach_handlers(socket: SocketRef) -> Result<(), Infallible> {
    let (events, inbox) = mpsc::channel(INBOX_EVENTS);
    socket.extensions.insert(Inbox {
        events: events.clone(),
        bytes: Arc::new(AtomicUsize::new(0)),
        overflowed: Arc::new(AtomicBool::new(false)),
    });
    socket.on_fallback(async |_: Queued| {});
    socket.on_disconnect(move |reason: DisconnectReason| {
        let events = events.clone();
        let lost = matches!(
            reason,
            DisconnectReason::TransportClose | DisconnectReason::TransportError | DisconnectReason::HeartbeatTimeout
        );
        async move {
            let _ = events.send(Inbound::Gone { lost }).await;
        }
    });
    socket.extensions.insert(InboxSlot(Arc::new(Mutex::new(Some(inbox)))));
    Ok(())
}

/// Starts the socket's task, once it is connected to the namespace.
fn start(socket: SocketRef, context: ConnectionContext, room_capacity: usize, checks_tokens: bool) {
    let inbox = socket.extensions.remove::<InboxSlot>().and_then(|slot| slot.0.lock().ok()?.take());
    let flags = socket.extensions.get::<Inbox>();
    let grants = socket.extensions.remove::<Arc<Grants>>();
    if checks_tokens && grants.is_none() {
        // Never so (`authenticate` let it in with its grants), but a socket
        // without them must not be served.
        disconnect(socket);
        return;
    }
    if let (Some(inbox), Some(flags)) = (inbox, flags) {
        tokio::spawn(run(socket, inbox, flags, context, room_capacity, grants));
    }
}

/// The socket's task: the same shape as a WebSocket connection's
/// (`ws.rs`): read an event or take core events, let the codec answer, then
/// carry out its effects in order.
async fn run(
    socket: SocketRef,
    mut inbox: mpsc::Receiver<Inbound>,
    flags: Inbox,
    mut context: ConnectionContext,
    room_capacity: usize,
    grants: Option<Arc<Grants>>,
) {
    let Some(_alive) = context.alive.upgrade() else { return };
    let peer_id = socket.id.to_string();
    let resume = match ResumeAsk::from_query(socket.req_parts().uri.query().unwrap_or_default()) {
        Ok(resume) => resume,
        Err(error) => {
            let _ = emit(&socket, "error", &[serde_json::json!({ "message": error.to_string() })]);
            disconnect(socket);
            return;
        }
    };
    let resumable = resume.is_some();
    let mut codec = SocketIoSession::new(peer_id.clone(), room_capacity);
    let mut effects = Vec::new();
    let start = session_start::start(&context.driver, &mut codec, Some(peer_id.as_str().into()), resume, &mut effects);
    let (open, mut events) = match Box::pin(start).await {
        Start::Opened(open, events) => (open, events),
        Start::Refused => {
            carry_out(&socket, &context, SessionId::new(0), effects, &mut HashMap::new()).await;
            return;
        }
        Start::DriverGone => return,
    };
    let session = open.id();
    // The sending side stays in the socket's extensions only for `Queued`;
    // this task keeps the flags.
    let Inbox { bytes: queued_bytes, overflowed, .. } = flags;
    // Ack callbacks the codec may still answer: each is settled once, by an
    // answer or a release.
    let mut acks: HashMap<AckId, AckSender> = HashMap::new();
    let mut next_ack: AckId = 0;
    let mut rate = context.limits.rate.start(context.clock.now());
    // When the socket must have registered by; `None` once it has (a
    // resumed session has).
    let mut register_by = (!codec.registered()).then(|| context.clock.now() + context.limits.register_timeout);
    let mut dialect_known = Codec::dialect(&codec).is_some();
    tracing::debug!(%session, sid = %socket.id, "socket.io connection");
    let mut stopped = false;
    // The transport dropped without the client's disconnect packet.
    let mut lost = false;
    // A newer connection resumed the session: let go of it.
    let mut taken_over = false;
    // The first turn carries out the greeting, if any.
    let mut first_turn = Some(effects);

    loop {
        let mut effects = Vec::new();
        if let Some(first) = first_turn.take() {
            effects = first;
        } else {
            tokio::select! {
            inbound = inbox.recv() => match inbound {
                Some(Inbound::Event { name, data, ack, bytes }) => {
                    queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    next_ack += 1;
                    acks.insert(next_ack, ack);
                    let data = data.as_ref().map_err(String::as_str);
                    let event = SocketEvent { name: &name, data, ack: next_ack };
                    if !rate::on_client(rate.as_mut(), &context.clock, &mut codec, event, &mut effects) {
                        tracing::warn!(%session, "dropping a socket.io client that keeps sending over its rate limit");
                        context.metrics.dropped(DropCause::RateLimit);
                        let _ = emit(&socket, "error", &[serde_json::json!({ "message": rate::ABUSE_REASON })]);
                        disconnect(socket.clone());
                        break;
                    }
                }
                Some(Inbound::Gone { lost: dropped }) => {
                    lost = dropped;
                    break;
                }
                None => break,
            },
            event = events.next() => match event {
                Some(event) => {
                    codec.on_core(&event, &mut effects);
                    let mut taken = 1;
                    while taken < EVENT_BATCH && let Some(event) = events.try_recv() {
                        codec.on_core(&event, &mut effects);
                        taken += 1;
                    }
                    // What came before the word to let go is this socket's
                    // to emit, then it lets go.
                    taken_over = events.detached();
                }
                None if events.detached() => {
                    taken_over = true;
                    tracing::debug!(%session, "a newer connection resumed the session");
                    disconnect(socket.clone());
                    break;
                }
                None => {
                    tracing::warn!(%session, "dropping a socket.io client that does not read its events");
                    disconnect(socket.clone());
                    break;
                }
            },
            () = context.clock.sleep_until(register_by) => {
                tracing::debug!(%session, "disconnecting a socket.io client that did not register in time");
                context.metrics.dropped(DropCause::Idle);
                let message = format!("not registered within {:?}", context.limits.register_timeout);
                let _ = emit(&socket, "error", &[serde_json::json!({ "message": message })]);
                disconnect(socket.clone());
                break;
            }
            // What the core said before the stop still goes out (the
            // hang-up that ended a drain, say), then the disconnect.
            _ = crate::stop::stopping(&mut context.shutdown) => {
                while let Some(event) = events.try_recv() {
                    codec.on_core(&event, &mut effects);
                }
                stopped = true;
            }
            }
        }
        let effects = guard::authorize(grants.as_deref(), &mut codec, effects);
        if !carry_out(&socket, &context, session, effects, &mut acks).await {
            break;
        }
        if taken_over {
            tracing::debug!(%session, "a newer connection resumed the session");
            disconnect(socket.clone());
            break;
        }
        if stopped {
            disconnect(socket.clone());
            break;
        }
        if register_by.is_some() && codec.registered() {
            register_by = None;
        }
        // The first event binds the socket to its dialect; its metrics say so from then on.
        if !dialect_known && let Some(dialect) = Codec::dialect(&codec) {
            dialect_known = true;
            let _ = context.driver.set_dialect(session, dialect).await;
        }
        // Checked once the queued events before the overflow are handled, so
        // that they count, in order, and the error comes after their effects.
        if overflowed.load(Ordering::Acquire) {
            tracing::warn!(%session, "dropping a socket.io client that sends events faster than they are handled");
            context.metrics.dropped(DropCause::RateLimit);
            let message = format!("too many events: at most {INBOX_EVENTS} events or {INBOX_BYTES} bytes may wait");
            let _ = emit(&socket, "error", &[serde_json::json!({ "message": message })]);
            disconnect(socket.clone());
            break;
        }
    }
    if taken_over || (resumable && lost) {
        Box::pin(open.hold(codec, events)).await;
    } else {
        open.close().await;
    }
    tracing::debug!(%session, "socket.io connection closed");
}

/// Carries out one turn's effects in order; `false` when the connection
/// must end (the core is gone, or the client cannot take its events).
async fn carry_out(
    socket: &SocketRef,
    context: &ConnectionContext,
    session: SessionId,
    effects: Vec<Effect<SocketOut>>,
    acks: &mut HashMap<AckId, AckSender>,
) -> bool {
    for effect in effects {
        match effect {
            Effect::Command(request, command) => {
                if context.driver.command(session, request, command).await.is_err() {
                    disconnect(socket.clone());
                    return false;
                }
            }
            Effect::Send(SocketOut::Emit(event, args)) => {
                if let Err(error) = emit(socket, event, &args) {
                    tracing::warn!(%session, %error, "dropping a socket.io client that cannot take events");
                    disconnect(socket.clone());
                    return false;
                }
            }
            Effect::Send(SocketOut::Ack(id, args)) => {
                if let Some(ack) = acks.remove(&id) {
                    let _ = send_ack(ack, &args);
                }
            }
            Effect::Send(SocketOut::ReleaseAck(id)) => {
                acks.remove(&id);
            }
            Effect::Close(..) => {
                disconnect(socket.clone());
                return false;
            }
        }
    }
    true
}

/// Disconnects the client so that it sees `disconnect`, on every transport.
///
/// socketioxide's `disconnect` sends a disconnect packet and gives up, the
/// socket left open, when the client's packet buffer is full, which is
/// exactly when a slow client is dropped. The client would never hear of it
/// and believe itself online. So a full buffer is tried again until the
/// packet fits (the client read some) or the transport is closed
/// (socketioxide's heartbeat closes a client that stopped reading, because
/// its ping does not fit either).
fn disconnect(socket: SocketRef) {
    if !matches!(socket.clone().disconnect(), Err(SocketError::InternalChannelFull)) {
        return;
    }
    tokio::spawn(async move {
        let deadline = tokio::time::Instant::now() + DISCONNECT_PATIENCE;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(DISCONNECT_RETRY).await;
            if !matches!(socket.clone().disconnect(), Err(SocketError::InternalChannelFull)) {
                return;
            }
        }
        tracing::warn!(sid = %socket.id, "a dropped socket.io client's disconnect never fitted its buffer");
    });
}

/// Emits an event with zero to three arguments (a tuple goes out as that
/// many socket.io arguments).
fn emit(socket: &SocketRef, event: &str, args: &[Value]) -> Result<(), SendError> {
    match args {
        [] => socket.emit(event, &()),
        [one] => socket.emit(event, one),
        [a, b] => socket.emit(event, &(a, b)),
        [a, b, c, ..] => socket.emit(event, &(a, b, c)),
    }
}

fn send_ack(ack: AckSender, args: &[Value]) -> Result<(), SendError> {
    match args {
        [] => ack.send(&()),
        [one] => ack.send(one),
        [a, b] => ack.send(&(a, b)),
        [a, b, c, ..] => ack.send(&(a, b, c)),
    }
}
