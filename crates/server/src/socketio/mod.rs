//! socket.io transport for the cloudkibo and tringtring dialects
//! (socketioxide with its `v4` feature, so Engine.IO v3 clients —
//! socket.io-client 1.x and 2.x — connect as well as v4 ones).
//!
//! Each socket gets one task that owns its codec state, reading the socket's
//! events and its core events, like a WebSocket connection task. Events reach
//! that task in the order the client sent them, with their first argument
//! as the client's JSON text, unparsed: see [`QueueEvents`].
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

use std::convert::Infallible;
use std::marker::PhantomData;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures_channel::mpsc as queue;
use futures_util::SinkExt as _;
use serde_json::Value;
use serde_json::value::RawValue;
use socketioxide::SocketIo;
use socketioxide::adapter::LocalAdapter;
use socketioxide::extract::{AckSender, SocketRef, TryData};
use socketioxide::handler::{ConnectHandler, FromMessageParts, MessageHandler, Value as RawPacket};
use socketioxide::layer::SocketIoLayer;
use socketioxide::socket::{DisconnectReason, Socket};
use switchboard_dialects::resume::ResumeAsk;

use crate::auth::{AuthError, Authenticator, Grants, request_token};
use crate::metrics::DropCause;
use crate::ws::ConnectionContext;
use port::{Ack, Port};

mod packet;
mod piped;
mod port;
mod request_head;
mod task;

pub(crate) use piped::{DIALECT as PIPE_DIALECT, serve_pipe};
pub(crate) use request_head::detach as detach_request_head;

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

/// What the handlers hand to a socket's task.
enum Inbound {
    Event {
        name: String,
        /// The event's first argument, as the client's JSON text.
        data: Result<Box<RawValue>, String>,
        ack: Ack,
        bytes: usize,
    },
    /// The socket is gone; `lost` when without the client's disconnect
    /// packet (a dropped transport or a missed heartbeat), which leaves a
    /// resumable session held.
    Gone { lost: bool },
}

/// A socket's inbox, as its task reads it. futures' bounded channel, as for
/// the core's session queues: it allocates per queued event, where tokio's
/// allocates a first block of 32 slots with the channel, which every idle
/// socket would hold.
type InboxReceiver = queue::Receiver<Inbound>;

/// The sending side of a socket's inbox, kept in the socket's extensions so
/// that [`QueueEvents`] can reach it. The extensions hand out clones, and a
/// futures sender's every clone has a slot of its own beyond the bound, so
/// the one sender is shared behind a lock.
#[derive(Clone)]
struct Inbox {
    events: Arc<Mutex<queue::Sender<Inbound>>>,
    flags: InboxFlags,
}

/// What the task knows of its inbox's fill.
#[derive(Clone, Default)]
struct InboxFlags {
    /// Bytes of the events queued now.
    bytes: Arc<AtomicUsize>,
    /// Set when an event found the inbox full: the task drops the client.
    overflowed: Arc<AtomicBool>,
}

impl Inbox {
    /// Queues one event, or marks the inbox overflowed.
    fn push(&self, event: Inbound, bytes: usize) {
        let flags = &self.flags;
        if flags.overflowed.load(Ordering::Acquire) {
            return; // the client is being dropped; later events go with it
        }
        let over_budget = flags.bytes.fetch_add(bytes, Ordering::AcqRel) + bytes > INBOX_BYTES;
        // Over the budget the event is not queued: the task subtracts the
        // bytes of what it takes, so only queued events may count.
        let queued = !over_budget && self.events.lock().is_ok_and(|mut events| events.try_send(event).is_ok());
        if !queued {
            flags.bytes.fetch_sub(bytes, Ordering::AcqRel);
            flags.overflowed.store(true, Ordering::Release);
        }
    }
}

/// A socket's inbox receiver, from the connect middleware to the connect
/// handler.
#[derive(Clone)]
struct InboxSlot(Arc<Mutex<Option<InboxReceiver>>>);

/// The handler that queues a socket's events, in the order they came, for
/// its task.
///
/// socketioxide 0.18 calls a message handler synchronously, in arrival
/// order, on both transports; its handlers for async closures then spawn a
/// task per call (`handler/message.rs`), so that two events of one socket
/// may run in either order (200 back-to-back events arrived with up to 42
/// inversions) and every event costs a spawn. This handler implements
/// `MessageHandler` itself and does its work in that synchronous call: no
/// spawn, no reordering.
struct QueueEvents;

/// `MessageHandler`'s marker type for [`QueueEvents`]: socketioxide's own
/// impls take tuples of extractors there.
struct Synchronous;

impl MessageHandler<LocalAdapter, PhantomData<Synchronous>> for QueueEvents {
    fn call(&self, socket: Arc<Socket<LocalAdapter>>, mut packet: RawPacket, ack_id: Option<i64>) {
        let bytes = packet.len();
        let Ok(ack) = AckSender::from_message_parts(&socket, &mut packet, &ack_id);
        let Some(inbox) = socket.extensions.get::<Inbox>() else { return };
        let (name, data) = match packet::read(&packet) {
            Ok(event) => (event.name, event.first_argument),
            // The codec answers an event without a name with an error.
            Err(error) => (String::new(), Err(error)),
        };
        inbox.push(Inbound::Event { name, data, ack: Ack::Local(ack), bytes }, bytes);
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
            // For the node a resume is piped to, which checks it too.
            socket.extensions.insert(AccessToken(token));
            Ok(())
        }
        Err(error) => {
            tracing::debug!(sid = %socket.id, %error, "socket.io connection refused");
            Err(error)
        }
    }
}

/// The access token a socket connected with, kept when the server checks
/// tokens.
#[derive(Clone)]
struct AccessToken(String);

/// Registers the socket's handlers. This runs as a connect middleware,
/// before the server tells the client it is connected: a client that emits
/// at once (socket.io-client 1.x does) would otherwise lose its first events
/// to a socket with no handler yet.
async fn attach_handlers(socket: SocketRef) -> Result<(), Infallible> {
    // futures' capacity is the buffer plus one per sender.
    let (events, inbox) = queue::channel(INBOX_EVENTS - 1);
    let shared = Arc::new(Mutex::new(events.clone()));
    socket.extensions.insert(Inbox { events: shared, flags: InboxFlags::default() });
    socket.on_fallback(QueueEvents);
    socket.on_disconnect(move |reason: DisconnectReason| {
        let mut events = events.clone();
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
        port::disconnect(socket);
        return;
    }
    let (Some(inbox), Some(Inbox { flags, .. })) = (inbox, flags) else { return };
    let resume = match ResumeAsk::from_query(socket.req_parts().uri.query().unwrap_or_default()) {
        Ok(resume) => resume,
        Err(error) => {
            let _ = port::emit(&socket, "error", &[serde_json::json!({ "message": error.to_string() })]);
            port::disconnect(socket);
            return;
        }
    };
    // A session held on another node: pipe the socket there.
    if let Some(ResumeAsk::Token(token)) = &resume
        && let Some(cluster) = context.driver.cluster()
        && let Some(node) = cluster.other_node_of_token(token)
    {
        let access_token = socket.extensions.get::<AccessToken>().map(|token| token.0);
        let pipe = (cluster.clone(), node, token.clone(), access_token);
        tokio::spawn(piped::forward(socket, inbox, flags, pipe, context.limits.ping_after));
        return;
    }
    let peer_id = socket.id.to_string();
    let port = Port::Socket(socket);
    tokio::spawn(task::run(port, inbox, flags, context, room_capacity, grants, resume, peer_id));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inbox() -> (Inbox, InboxReceiver) {
        let (events, receiver) = queue::channel(INBOX_EVENTS - 1);
        (Inbox { events: Arc::new(Mutex::new(events)), flags: InboxFlags::default() }, receiver)
    }

    fn event(bytes: usize) -> Inbound {
        Inbound::Event { name: "offer".to_owned(), data: Err(String::new()), ack: Ack::Remote(0), bytes }
    }

    /// The event that breaks the byte budget is not queued, and its bytes
    /// are not counted twice: the task subtracts only what it takes.
    #[test]
    fn an_event_over_the_byte_budget_is_not_queued() {
        let (inbox, mut receiver) = inbox();
        inbox.push(event(100), 100);
        inbox.push(event(INBOX_BYTES), INBOX_BYTES);
        assert!(inbox.flags.overflowed.load(Ordering::Acquire));
        assert_eq!(inbox.flags.bytes.load(Ordering::Acquire), 100, "only the queued event counts");
        assert!(matches!(receiver.try_recv(), Ok(Inbound::Event { bytes: 100, .. })));
        assert!(receiver.try_recv().is_err(), "nothing else was queued");
    }
}
