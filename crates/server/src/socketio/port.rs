//! Where a socket.io session's task writes: the client's socket on this
//! node, or a pipe to the node the client resumed on (`piped.rs`), which
//! emits, answers and disconnects there.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use serde_json::value::RawValue;
use socketioxide::extract::{AckSender, SocketRef};
use socketioxide::{SendError, SocketError};

use crate::admission::Admission;
use crate::cluster::pipes::{PipeEnd, PipeOp};

/// How often a disconnect that found the client's packet buffer full is
/// tried again (see [`disconnect`]).
const DISCONNECT_RETRY: Duration = Duration::from_millis(50);

/// How long a disconnect is retried at most. By then socketioxide's own
/// heartbeat (25 s interval, 20 s timeout) has closed a client that does not
/// read, and one that reads has long taken the disconnect packet.
const DISCONNECT_PATIENCE: Duration = Duration::from_secs(60);

/// The client's end, as the task sees it.
pub(super) enum Port {
    /// A socket on this node.
    Socket(SocketRef),
    /// A socket on the node the client resumed on.
    Pipe(PipeEnd),
}

/// A client event's ack callback: socketioxide's, or the number the node
/// that holds the socket gave it.
pub(super) enum Ack {
    Local(AckSender),
    Remote(u64),
}

impl std::fmt::Display for Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Port::Socket(socket) => write!(f, "{}", socket.id),
            Port::Pipe(_) => f.write_str("a pipe to another node"),
        }
    }
}

/// Why an event did not go to the client.
#[derive(Debug)]
pub(super) enum EmitFailed {
    /// Its connection had already closed: it is leaving anyway (its
    /// disconnect is on the way), an everyday race, not a fault.
    Closed,
    /// It cannot take more (its queue, or the link to its node, is full).
    Refused(String),
}

impl Port {
    /// Emits `event` with `args` to the client.
    ///
    /// # Errors
    /// When the client cannot take it (its buffer is full, or the link to
    /// its node is).
    pub(super) fn emit(&self, event: &str, args: &[Value]) -> Result<(), EmitFailed> {
        match self {
            Port::Socket(socket) => emit(socket, event, args).map_err(emit_failed),
            Port::Pipe(end) => send(end, PipeOp::SioEmit { event: event.to_owned(), args: args.to_vec() }),
        }
    }

    /// Emits `event` with one argument, JSON text written as it is (a
    /// relayed signal).
    ///
    /// # Errors
    /// As [`Port::emit`].
    pub(super) fn emit_raw(&self, event: &str, arg: &RawValue) -> Result<(), EmitFailed> {
        match self {
            Port::Socket(socket) => socket.emit(event, arg).map_err(emit_failed),
            Port::Pipe(end) => send(end, PipeOp::SioEmitRaw { event: event.to_owned(), arg: arg.to_owned() }),
        }
    }

    /// Answers an ack callback (a client gone meanwhile is no error).
    pub(super) fn answer(&self, ack: Ack, args: &[Value]) {
        match (self, ack) {
            (_, Ack::Local(ack)) => {
                let _ = send_ack(ack, args);
            }
            (Port::Pipe(end), Ack::Remote(ack)) => {
                end.send(PipeOp::SioAck { ack, args: args.to_vec() });
            }
            (Port::Socket(_), Ack::Remote(_)) => {}
        }
    }

    /// An ack callback that will not be answered.
    pub(super) fn release(&self, ack: Ack) {
        if let (Port::Pipe(end), Ack::Remote(ack)) = (self, ack) {
            end.send(PipeOp::SioRelease { ack });
        }
    }

    /// The socket's place under the session caps, held by its Engine.IO
    /// session (`edge.rs`); none for a pipe, whose client is counted where
    /// it is connected.
    pub(super) fn place(&self) -> Option<Arc<Admission>> {
        match self {
            Port::Socket(socket) => crate::edge::place_of(&socket.req_parts().extensions),
            Port::Pipe(_) => None,
        }
    }

    /// Disconnects the client.
    pub(super) fn disconnect(&self) {
        match self {
            Port::Socket(socket) => disconnect(socket.clone()),
            Port::Pipe(end) => {
                end.send(PipeOp::End { lost: false });
            }
        }
    }
}

/// Sends an emit down the pipe to the client's node.
fn send(end: &PipeEnd, op: PipeOp) -> Result<(), EmitFailed> {
    if end.send(op) { Ok(()) } else { Err(EmitFailed::Refused("the link to the client's node is full".to_owned())) }
}

fn emit_failed(error: SendError) -> EmitFailed {
    match error {
        SendError::Socket(SocketError::Closed) => EmitFailed::Closed,
        other => EmitFailed::Refused(other.to_string()),
    }
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
pub(super) fn disconnect(socket: SocketRef) {
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
pub(super) fn emit(socket: &SocketRef, event: &str, args: &[Value]) -> Result<(), SendError> {
    match args {
        [] => socket.emit(event, &()),
        [one] => socket.emit(event, one),
        [a, b] => socket.emit(event, &(a, b)),
        [a, b, c, ..] => socket.emit(event, &(a, b, c)),
    }
}

pub(super) fn send_ack(ack: AckSender, args: &[Value]) -> Result<(), SendError> {
    match args {
        [] => ack.send(&()),
        [one] => ack.send(one),
        [a, b] => ack.send(&(a, b)),
        [a, b, c, ..] => ack.send(&(a, b, c)),
    }
}
