//! The server's side of a client's WebSocket: the upgrade ([`upgrade`]),
//! and [`ServerSocket`], tungstenite over a [`aligned::FrameAligned`]
//! socket, which gives back the buffers a large frame or batch grew once
//! the session is idle.

pub(crate) mod aligned;
pub(crate) mod upgrade;

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_util::{FutureExt, Sink, SinkExt, Stream};
use hyper::upgrade::Upgraded;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::{Role, WebSocketConfig};
use tungstenite::{Error, Message};

use aligned::FrameAligned;

/// A message or a batch above this many bytes may have grown tungstenite's
/// read or write buffer past what an idle session needs.
const GROWN_BYTES: usize = 1024;

/// A client's WebSocket, as the connection loop reads and writes it: on
/// the upgraded HTTP connection (tests use an in-memory one).
pub(crate) struct ServerSocket<S = TokioIo<Upgraded>> {
    /// `None` only inside [`ServerSocket::release_buffers`].
    stream: Option<WebSocketStream<FrameAligned<S>>>,
    config: WebSocketConfig,
    /// Bytes fed since the last completed flush.
    unflushed: usize,
    /// A large message or batch passed since tungstenite was last built.
    grown: bool,
}

impl<S: AsyncRead + AsyncWrite + Unpin> ServerSocket<S> {
    pub(crate) fn new(io: FrameAligned<S>, config: WebSocketConfig) -> Self {
        Self { stream: Some(build(io, config)), config, unflushed: 0, grown: false }
    }

    fn stream(&mut self) -> Pin<&mut WebSocketStream<FrameAligned<S>>> {
        Pin::new(self.stream.as_mut().expect("a stream outside release_buffers"))
    }

    /// Whether [`ServerSocket::release_buffers`] has anything to give back.
    pub(crate) fn has_grown(&self) -> bool {
        self.grown
    }

    /// Builds tungstenite afresh, so that buffers a large message or batch
    /// grew are freed, when that loses nothing: everything written has been
    /// flushed, and everything tungstenite was given was whole messages
    /// that it has returned. Call it only while the connection is open in
    /// both directions (no close sent or received). Returns whether it did.
    pub(crate) fn release_buffers(&mut self) -> bool {
        if !self.grown || self.unflushed > 0 {
            return false;
        }
        let Some(stream) = self.stream.as_mut() else { return false };
        // What tungstenite queued by itself must be out first: the pong to a
        // ping it has returned, written only at its next read or flush, or
        // the rest of a batch a slow client has not taken yet.
        if !matches!(SinkExt::flush(stream).now_or_never(), Some(Ok(()))) {
            return false;
        }
        let Some(stream) = self.stream.take_if(|stream| stream.get_ref().between_messages()) else {
            return false;
        };
        self.stream = Some(build(stream.into_inner(), self.config));
        self.grown = false;
        true
    }
}

/// tungstenite on `io`, with no handshake (it was the upgrade).
fn build<S: AsyncRead + AsyncWrite + Unpin>(
    io: FrameAligned<S>,
    config: WebSocketConfig,
) -> WebSocketStream<FrameAligned<S>> {
    // Ready at its first poll: skipping the handshake waits for nothing.
    WebSocketStream::from_raw_socket(io, Role::Server, Some(config))
        .now_or_never()
        .expect("a stream without a handshake is ready at once")
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for ServerSocket<S> {
    type Item = Result<Message, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = ready!(self.stream().poll_next(cx));
        if let Some(Ok(message)) = &next
            && message.len() > GROWN_BYTES
        {
            self.grown = true;
        }
        Poll::Ready(next)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Sink<Message> for ServerSocket<S> {
    type Error = Error;

    fn poll_ready(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.stream().poll_ready(cx)
    }

    fn start_send(mut self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        self.unflushed += message.len();
        if self.unflushed > GROWN_BYTES {
            self.grown = true;
        }
        self.stream().start_send(message)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let flushed = ready!(self.stream().poll_flush(cx));
        if flushed.is_ok() {
            self.unflushed = 0;
        }
        Poll::Ready(flushed)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.stream().poll_close(cx)
    }
}

#[cfg(test)]
mod tests;
