//! Resume on another node (Step 11; docs/cluster.md, "Resume"): a client
//! whose session is held on node A reconnects to node B with its token,
//! which names A (`<node>.<secret>`). The session does not move. B pipes
//! the client's WebSocket to A over the link, frame by frame, and A runs
//! the connection there, as if the client were its own: the same loop
//! (`ws.rs`), the held codec and queue, pings and closes included. B only
//! forwards.
//!
//! A pipe is named by the node that opened it and a number it drew. What
//! crosses is [`PipeMessage`]: `Open` once (the token, the dialect, the
//! client's access token), then WebSocket frames both ways, then `End`.
//! Redis pub/sub keeps one publisher's messages in order, which is all a
//! pipe needs. A pipe to a node taken for dead ends (B closes the client).
//!
//! A socket.io session crosses event by event instead: its events, emits
//! and ack answers are pipe messages of their own (`socketio/piped.rs`).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tungstenite::Message;
use tungstenite::protocol::CloseFrame;

use super::{Cluster, LinkFrame, NodeId};
use crate::auth::{AuthError, Authenticator, Grants};
use crate::driver::split_token;
use crate::websocket::ServerSocket;

/// Frames waiting for one pipe's reader, at most; past it the pipe ends
/// (its client is far behind).
const PIPE_CAPACITY: usize = 512;

/// One message on a pipe.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct PipeMessage {
    /// The node that sent it.
    pub(crate) node: String,
    /// The pipe, numbered by the node that opened it.
    pub(crate) pipe: u64,
    /// The node that opened the pipe: the sender itself, or the receiver.
    pub(crate) opened_by: String,
    pub(crate) op: PipeOp,
}

/// What a pipe carries.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PipeOp {
    /// B to A: a client shows `token` on a connection of `dialect`
    /// (`chatroulette`, `calling`, `ecall`, `socket.io`), with its access
    /// token if it gave one, which A checks as its own connections' are.
    Open { token: String, dialect: String, access_token: Option<String> },
    /// A WebSocket frame, either way.
    Frame(PipeFrame),
    /// The pipe ends. From B, `lost` says whether the client's connection
    /// dropped without a close frame (the session is held again).
    End { lost: bool },
    /// B to A: the socket.io client is still there (every
    /// `--ws-ping-after`): A, which has no socket of its own to watch, takes
    /// a pipe silent past `--ws-idle-timeout` for a lost connection.
    Alive,
    /// B to A: an event of a socket.io client (its first argument as the
    /// client's JSON text), and B's number for its ack callback.
    SioEvent { name: String, data: Result<Box<serde_json::value::RawValue>, String>, ack: u64 },
    /// A to B: emit this event to the socket.io client.
    SioEmit { event: String, args: Vec<serde_json::Value> },
    /// A to B: emit this event with one argument, JSON text written as it
    /// is (a relayed signal, as [`PipeOp::SioEvent`]'s data came in): never
    /// parsed on the way, so a payload `serde_json::Value` would refuse (too
    /// deep, say) cannot fail at the receiver.
    SioEmitRaw { event: String, arg: Box<serde_json::value::RawValue> },
    /// A to B: answer the client's ack callback `ack`.
    SioAck { ack: u64, args: Vec<serde_json::Value> },
    /// A to B: the ack callback `ack` will not be answered.
    SioRelease { ack: u64 },
}

/// A WebSocket frame as it crosses.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum PipeFrame {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

impl From<Message> for PipeFrame {
    fn from(message: Message) -> Self {
        match message {
            Message::Text(text) => PipeFrame::Text(text.as_str().to_owned()),
            Message::Binary(bytes) => PipeFrame::Binary(bytes.to_vec()),
            Message::Ping(bytes) => PipeFrame::Ping(bytes.to_vec()),
            Message::Pong(bytes) => PipeFrame::Pong(bytes.to_vec()),
            Message::Close(frame) => {
                PipeFrame::Close(frame.map(|frame| (u16::from(frame.code), frame.reason.as_str().to_owned())))
            }
            // Never read from a socket: tungstenite hands over whole messages.
            Message::Frame(_) => PipeFrame::Binary(Vec::new()),
        }
    }
}

impl From<PipeFrame> for Message {
    fn from(frame: PipeFrame) -> Self {
        match frame {
            PipeFrame::Text(text) => Message::Text(text.into()),
            PipeFrame::Binary(bytes) => Message::Binary(bytes.into()),
            PipeFrame::Ping(bytes) => Message::Ping(bytes.into()),
            PipeFrame::Pong(bytes) => Message::Pong(bytes.into()),
            PipeFrame::Close(frame) => {
                Message::Close(frame.map(|(code, reason)| CloseFrame { code: code.into(), reason: reason.into() }))
            }
        }
    }
}

/// Open pipes by the node that opened each and its number: the node at the
/// other end, and where its messages go.
type OpenPipes = HashMap<(String, u64), (NodeId, mpsc::Sender<PipeOp>)>;

/// The pipes open on this node: where each one's incoming messages go.
#[derive(Default)]
pub(super) struct Pipes {
    open: Mutex<OpenPipes>,
    acceptor: std::sync::OnceLock<PipeAcceptor>,
}

impl std::fmt::Debug for Pipes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pipes")
    }
}

impl Pipes {
    fn open(&self) -> std::sync::MutexGuard<'_, OpenPipes> {
        self.open.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A pipe opened on another node, for this node to serve: the session's
/// connection runs here, on `end` and `incoming`.
pub(crate) struct PipeOpened {
    pub(crate) token: String,
    /// `chatroulette`, `calling`, `ecall`, or `socket.io`.
    pub(crate) dialect: String,
    pub(crate) access_token: Option<String>,
    pub(crate) end: PipeEnd,
    pub(crate) incoming: mpsc::Receiver<PipeOp>,
}

impl PipeOpened {
    /// The grants of the client's access token, checked as this node checks
    /// its own connections' (`auth`: `None` when it checks none).
    ///
    /// # Errors
    /// The token is missing or refused: the pipe is to end.
    pub(crate) fn grants(&self, auth: Option<&Authenticator>) -> Result<Option<Arc<Grants>>, AuthError> {
        let Some(auth) = auth else { return Ok(None) };
        let token = self.access_token.as_deref().ok_or(AuthError::Missing)?;
        Ok(Some(Arc::new(auth.verify(token)?)))
    }
}

/// This node's sending end of a pipe. Dropping it ends the pipe: the other
/// end hears `End` (once, whichever way this end stopped) and the pipe is
/// forgotten.
pub(crate) struct PipeEnd {
    cluster: Cluster,
    /// The node at the other end.
    peer: NodeId,
    pipe: u64,
    opened_by: String,
    ended: std::sync::atomic::AtomicBool,
}

impl PipeEnd {
    /// Sends `op` to the other end; `false` when the link's queue is full
    /// (the message is lost, and counted). Nothing goes after an `End`.
    pub(crate) fn send(&self, op: PipeOp) -> bool {
        if let PipeOp::End { .. } = op
            && self.ended.swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            return true;
        }
        self.cluster.send_on_pipe(&self.peer, self.pipe, &self.opened_by, op)
    }
}

impl Drop for PipeEnd {
    fn drop(&mut self) {
        // This end stopped without a word (its task ended, or the pipe fell
        // far behind): to the other end, a lost connection.
        self.send(PipeOp::End { lost: true });
        self.cluster.forget_pipe(&self.opened_by, self.pipe);
    }
}

/// What this node does with a pipe another node opens: start the held
/// session's connection on it (set by the application, which has what a
/// connection needs).
pub(crate) type PipeAcceptor = Box<dyn Fn(PipeOpened) + Send + Sync>;

impl Cluster {
    /// Registers pipe `pipe` of `opened_by` with `peer` at its other end:
    /// this node's end of it, and where its messages arrive.
    fn register_pipe(&self, opened_by: String, pipe: u64, peer: NodeId) -> (PipeEnd, mpsc::Receiver<PipeOp>) {
        let (sender, receiver) = mpsc::channel(PIPE_CAPACITY);
        self.inner.pipes.open().insert((opened_by.clone(), pipe), (peer.clone(), sender));
        let end = PipeEnd { cluster: self.clone(), peer, pipe, opened_by, ended: Default::default() };
        (end, receiver)
    }

    fn forget_pipe(&self, opened_by: &str, pipe: u64) {
        self.inner.pipes.open().remove(&(opened_by.to_owned(), pipe));
    }

    /// Ends every pipe with `node`, taken for dead: their readers see the
    /// end (the client's connection closes, or the session is held again).
    pub(super) fn end_pipes_with(&self, node: &NodeId) {
        self.inner.pipes.open().retain(|_, (peer, _)| peer != node);
    }

    /// Takes a pipe message from another node.
    pub(super) fn take_pipe_message(&self, message: PipeMessage) {
        let PipeMessage { node, pipe, opened_by, op } = message;
        if let PipeOp::Open { token, dialect, access_token } = op {
            let Ok(from) = NodeId::parse(&node) else { return };
            let (end, incoming) = self.register_pipe(opened_by, pipe, from);
            if let Some(accept) = self.inner.pipes.acceptor.get() {
                accept(PipeOpened { token, dialect, access_token, end, incoming });
            }
            return;
        }
        let sender = self.inner.pipes.open().get(&(opened_by.clone(), pipe)).map(|(_, sender)| sender.clone());
        if let Some(sender) = sender
            && sender.try_send(op).is_err()
        {
            // Far behind: the pipe ends rather than grow.
            self.forget_pipe(&opened_by, pipe);
        }
    }

    /// Sets what this node does with pipes other nodes open.
    pub(crate) fn accept_pipes(&self, acceptor: PipeAcceptor) {
        let _ = self.inner.pipes.acceptor.set(acceptor);
    }

    fn send_on_pipe(&self, peer: &NodeId, pipe: u64, opened_by: &str, op: PipeOp) -> bool {
        let message = PipeMessage { node: self.node().to_string(), pipe, opened_by: opened_by.to_owned(), op };
        self.send(peer, &LinkFrame::Pipe(message))
    }

    /// Opens a pipe to `node` for a client that resumes there: `Open` goes
    /// out, and the other end's messages arrive on the receiver.
    pub(crate) fn open_pipe(
        &self,
        node: &NodeId,
        token: String,
        dialect: &str,
        access_token: Option<String>,
    ) -> (PipeEnd, mpsc::Receiver<PipeOp>) {
        let mut bytes = [0; 8];
        getrandom::fill(&mut bytes).expect("the operating system's random generator works");
        let pipe = u64::from_le_bytes(bytes);
        let (end, incoming) = self.register_pipe(self.node().to_string(), pipe, node.clone());
        end.send(PipeOp::Open { token, dialect: dialect.to_owned(), access_token });
        (end, incoming)
    }

    /// Whether `node` announces itself now (`sb:node:<id>` exists): a pipe
    /// goes only to a live node. `false` when Redis cannot say.
    pub(crate) async fn node_alive(&self, node: &NodeId) -> bool {
        let exists: redis::RedisResult<bool> =
            redis::cmd("EXISTS").arg(super::names::node_key(node)).query_async(&mut self.redis()).await;
        self.heard(exists).unwrap_or(false)
    }

    /// The node a resume token names, when it is another node of this
    /// cluster (`driver/resume.rs`, [`split_token`]).
    pub(crate) fn other_node_of_token(&self, token: &str) -> Option<NodeId> {
        let node = NodeId::parse(split_token(token).0?).ok()?;
        (node != *self.node()).then_some(node)
    }
}

/// This node's end of a pipe another node opened: a WebSocket as the
/// connection loop sees it, whose frames come from and go to the client
/// on the other node.
pub(crate) struct PipedSocket {
    end: PipeEnd,
    incoming: mpsc::Receiver<PipeOp>,
}

impl PipedSocket {
    pub(crate) fn new(end: PipeEnd, incoming: mpsc::Receiver<PipeOp>) -> Self {
        Self { end, incoming }
    }
}

impl Stream for PipedSocket {
    type Item = Result<Message, tungstenite::Error>;

    fn poll_next(mut self: Pin<&mut Self>, context: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match self.incoming.poll_recv(context) {
            Poll::Ready(Some(PipeOp::Frame(frame))) => Poll::Ready(Some(Ok(frame.into()))),
            // The client's connection on the other node dropped: as a
            // dropped socket here.
            Poll::Ready(Some(_) | None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl crate::ws::Socket for PipedSocket {}

impl Sink<Message> for PipedSocket {
    type Error = tungstenite::Error;

    fn poll_ready(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Self::Error> {
        if self.end.send(PipeOp::Frame(message.into())) {
            Ok(())
        } else {
            Err(tungstenite::Error::Io(std::io::Error::other("the link to the client's node is full")))
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    /// The connection here is over: the other node closes the client's.
    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.end.send(PipeOp::End { lost: false });
        Poll::Ready(Ok(()))
    }
}

/// B's side: pipes the client's `socket` to `node`, which holds the session
/// `token` names, until either side ends. `refusal` is the dialect's answer
/// to a token that resumes nothing, sent when `node` is not alive. Until
/// `node` has said something (its greeting or its refusal, within
/// `patience`), nothing is read from the client: a client of a node that
/// does not answer cannot stream frames into the link.
pub(crate) async fn forward(
    mut socket: ServerSocket,
    cluster: Cluster,
    node: NodeId,
    (token, dialect, access_token): (String, &'static str, Option<String>),
    refusal: Vec<Message>,
    patience: std::time::Duration,
) {
    if !cluster.node_alive(&node).await {
        for message in refusal {
            if socket.send(message).await.is_err() {
                break;
            }
        }
        let _ = socket.close().await;
        return;
    }
    let (end, mut incoming) = cluster.open_pipe(&node, token, dialect, access_token);
    match tokio::time::timeout(patience, incoming.recv()).await {
        Ok(Some(PipeOp::Frame(frame))) => {
            if socket.send(frame.into()).await.is_err() {
                return; // the end's drop says the client is gone
            }
        }
        _ => {
            let _ = socket.close().await;
            return;
        }
    }
    loop {
        tokio::select! {
            message = socket.next() => match message {
                // A close frame too: the far end answers it, then ends.
                Some(Ok(message)) => {
                    end.send(PipeOp::Frame(message.into()));
                }
                Some(Err(_)) | None => {
                    end.send(PipeOp::End { lost: true });
                    break;
                }
            },
            op = incoming.recv() => match op {
                Some(PipeOp::Frame(frame)) => {
                    if socket.send(frame.into()).await.is_err() {
                        end.send(PipeOp::End { lost: true });
                        break;
                    }
                }
                _ => break,
            },
        }
    }
    drop(end);
    let _ = socket.close().await;
}
