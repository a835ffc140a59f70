//! socket.io transport for the cloudkibo and tringtring dialects
//! (socketioxide with its `v4` feature, so Engine.IO v3 clients —
//! socket.io-client 1.x and 2.x — connect as well as v4 ones).
//!
//! socketioxide calls handlers per event; each socket gets one task that
//! owns its codec state, reading the socket's events (forwarded by the
//! handlers over a bounded channel) and its core events, like a WebSocket
//! connection task.

use futures_util::StreamExt;
use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use socketioxide::extract::{AckSender, Event as EventName, SocketRef, TryData};
use socketioxide::handler::ConnectHandler;
use socketioxide::layer::SocketIoLayer;
use socketioxide::{SendError, SocketIo};
use switchboard_dialects::socketio::{AckId, SocketIoSession, SocketOut};
use tokio::sync::mpsc;

use crate::ws::ConnectionContext;

/// Events of one socket waiting for its task. Bounded: a client that floods
/// events waits for its task instead of growing memory.
const INBOX_CAPACITY: usize = 64;

/// Packets socketioxide may hold for one client before it is dropped as too
/// slow.
const MAX_BUFFERED_PACKETS: usize = 256;

/// What the handlers hand to a socket's task.
enum Inbound {
    Event { name: String, data: Result<Value, String>, ack: AckSender },
    Gone,
}

/// A socket's inbox, from the connect middleware to the connect handler.
#[derive(Clone)]
struct InboxSlot(Arc<Mutex<Option<mpsc::Receiver<Inbound>>>>);

/// The socket.io layer, serving namespace `/` at `/socket.io/`.
pub(crate) fn layer(context: ConnectionContext, room_capacity: usize) -> SocketIoLayer {
    let (layer, io) = SocketIo::builder()
        .max_buffer_size(MAX_BUFFERED_PACKETS)
        .max_payload(context.limits.max_frame_bytes as u64)
        .build_layer();
    let start = move |socket: SocketRef| {
        let context = context.clone();
        async move { start(socket, context, room_capacity) }
    };
    io.ns("/", start.with(attach_handlers));
    layer
}

/// Registers the socket's handlers. This runs as a connect middleware,
/// before the server tells the client it is connected: a client that emits
/// at once (socket.io-client 1.x does) would otherwise lose its first events
/// to a socket with no handler yet.
async fn attach_handlers(socket: SocketRef) -> Result<(), Infallible> {
    let (inbox, events) = mpsc::channel(INBOX_CAPACITY);
    let to_task = inbox.clone();
    socket.on_fallback(move |EventName(name): EventName, TryData(data): TryData<Value>, ack: AckSender| {
        let inbox = to_task.clone();
        async move {
            let data = data.map_err(|error| error.to_string());
            let _ = inbox.send(Inbound::Event { name: name.to_string(), data, ack }).await;
        }
    });
    socket.on_disconnect(move || {
        let inbox = inbox.clone();
        async move {
            let _ = inbox.send(Inbound::Gone).await;
        }
    });
    socket.extensions.insert(InboxSlot(Arc::new(Mutex::new(Some(events)))));
    Ok(())
}

/// Starts the socket's task, once it is connected to the namespace.
fn start(socket: SocketRef, context: ConnectionContext, room_capacity: usize) {
    let inbox = socket.extensions.remove::<InboxSlot>().and_then(|slot| slot.0.lock().ok()?.take());
    if let Some(inbox) = inbox {
        tokio::spawn(run(socket, inbox, context, room_capacity));
    }
}

async fn run(
    socket: SocketRef,
    mut inbox: mpsc::Receiver<Inbound>,
    mut context: ConnectionContext,
    room_capacity: usize,
) {
    let Some(_alive) = context.alive.upgrade() else { return };
    let peer_id = socket.id.to_string();
    let Ok((open, mut events)) = context.driver.open(Some(peer_id.as_str().into())).await else { return };
    let session = open.id();
    let mut codec = SocketIoSession::new(session, peer_id, room_capacity);
    let mut acks: HashMap<AckId, AckSender> = HashMap::new();
    let mut next_ack: AckId = 0;
    let mut out = Vec::new();
    tracing::debug!(%session, sid = %socket.id, "socket.io connection");

    'connection: loop {
        let mut ack_done_with = None;
        tokio::select! {
            inbound = inbox.recv() => match inbound {
                Some(Inbound::Event { name, data, ack }) => {
                    next_ack += 1;
                    acks.insert(next_ack, ack);
                    match data {
                        Ok(data) => {
                            if !codec.on_event(&name, &data, next_ack, &mut out) {
                                ack_done_with = Some(next_ack);
                            }
                        }
                        Err(error) => {
                            out.push(switchboard_dialects::socketio::error_event(format!("{name}: unreadable payload: {error}")));
                            ack_done_with = Some(next_ack);
                        }
                    }
                }
                Some(Inbound::Gone) | None => break,
            },
            event = events.next() => match event {
                Some(event) => codec.on_core_event(&event, &mut out),
                None => {
                    tracing::warn!(%session, "dropping a socket.io client that does not read its events");
                    let _ = socket.clone().disconnect();
                    break;
                }
            },
            () = crate::ws::stopping(&mut context.shutdown) => {
                let _ = socket.clone().disconnect();
                break;
            }
        }
        for action in out.drain(..) {
            match action {
                SocketOut::Command(request, command) => {
                    if context.driver.command(session, request, command).await.is_err() {
                        break 'connection;
                    }
                }
                SocketOut::Emit(event, args) => {
                    if let Err(error) = emit(&socket, event, &args) {
                        tracing::warn!(%session, %error, "dropping a socket.io client that cannot take events");
                        let _ = socket.clone().disconnect();
                        break 'connection;
                    }
                }
                SocketOut::Ack(id, args) => {
                    if let Some(ack) = acks.remove(&id) {
                        let _ = send_ack(ack, &args);
                    }
                }
            }
        }
        if let Some(id) = ack_done_with {
            acks.remove(&id);
        }
    }
    open.close().await;
    tracing::debug!(%session, "socket.io connection closed");
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
