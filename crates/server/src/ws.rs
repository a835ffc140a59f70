//! The life of one WebSocket connection, the same for every text dialect:
//! read frames and hand decoded commands to the driver, write the session's
//! events, ping a silent client and drop it when it stays silent, and close
//! with a clear code when the server stops or the client breaks a limit.

use std::time::{Duration, Instant};

use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use futures_util::{SinkExt, StreamExt};
use switchboard_core::{Command, Event, Request};
use tokio::sync::{mpsc, watch};

use crate::clock::Clock;
use crate::config::Config;
use crate::driver::DriverHandle;

/// Close codes of RFC 6455 §7.4.1 that the server sends.
mod close_code {
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke a rule: it stopped reading its events.
    pub const POLICY: u16 = 1008;
    /// A message over the size limit.
    pub const TOO_BIG: u16 = 1009;
}

/// What a dialect makes of one text frame.
pub(crate) enum Inbound {
    /// A request for the core.
    Command(Request, Command),
    /// A frame to send straight back (an error).
    Answer(String),
}

/// A dialect spoken over WebSocket text frames, with its per-connection
/// codec state.
pub(crate) trait TextDialect: Send + 'static {
    /// One text frame from the client.
    fn on_text(&mut self, text: &str) -> Inbound;
    /// The answer to a binary frame, which no text dialect accepts.
    fn on_binary(&mut self) -> String;
    /// One core event for this session, or `None` when the dialect has no
    /// form for it.
    fn on_event(&mut self, event: &Event) -> Option<String>;
}

/// What every connection task shares.
#[derive(Clone)]
pub(crate) struct ConnectionContext {
    pub(crate) driver: DriverHandle,
    pub(crate) clock: Clock,
    pub(crate) limits: Limits,
    /// Turns `true` when the server begins to shut down.
    pub(crate) shutdown: watch::Receiver<bool>,
    /// Held by every connection task; the server waits, at shutdown, until
    /// every clone is dropped (the dropped-sender trick of mini-redis).
    pub(crate) alive: mpsc::Sender<()>,
}

/// Per-connection bounds, from [`Config`].
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_frame_bytes: usize,
    pub(crate) ping_after: Duration,
    pub(crate) idle_timeout: Duration,
    pub(crate) write_timeout: Duration,
}

impl Limits {
    pub(crate) fn from_config(config: &Config) -> Self {
        Self {
            max_frame_bytes: config.max_frame_bytes,
            ping_after: config.ws_ping_after,
            idle_timeout: config.ws_idle_timeout,
            write_timeout: config.ws_write_timeout,
        }
    }

    /// Applies the size limit, and small buffers: tungstenite's default
    /// 128 KiB read buffer per connection would dominate an idle session's
    /// memory.
    pub(crate) fn configure(&self, upgrade: WebSocketUpgrade) -> WebSocketUpgrade {
        upgrade
            .max_message_size(self.max_frame_bytes)
            .max_frame_size(self.max_frame_bytes)
            .read_buffer_size(4 * 1024)
            .write_buffer_size(0)
    }
}

/// When to ping a silent client and when to give up on it.
struct Liveness {
    last_heard: Instant,
    next_ping: Instant,
}

impl Liveness {
    fn new(now: Instant, limits: &Limits) -> Self {
        Self { last_heard: now, next_ping: now + limits.ping_after }
    }

    fn heard(&mut self, now: Instant, limits: &Limits) {
        self.last_heard = now;
        self.next_ping = now + limits.ping_after;
    }

    fn wake_at(&self, limits: &Limits) -> Instant {
        self.next_ping.min(self.last_heard + limits.idle_timeout)
    }
}

/// Runs one connection to the end.
pub(crate) async fn run<D: TextDialect>(socket: WebSocket, mut dialect: D, mut context: ConnectionContext) {
    let _alive = context.alive.clone();
    let Ok((session, mut events)) = context.driver.open().await else { return };
    let limits = context.limits;
    let clock = context.clock.clone();
    let (mut sink, mut stream) = socket.split();
    let mut liveness = Liveness::new(clock.now(), &limits);
    tracing::debug!(%session, "connection opened");

    let close: Option<CloseFrame> = loop {
        let outgoing = tokio::select! {
            frame = stream.next() => match frame {
                Some(Ok(message)) => {
                    liveness.heard(clock.now(), &limits);
                    match message {
                        Message::Text(text) => match dialect.on_text(text.as_str()) {
                            Inbound::Command(request, command) => {
                                if context.driver.command(session, request, command).await.is_err() {
                                    break Some(close_frame(close_code::GOING_AWAY, "server stopping"));
                                }
                                None
                            }
                            Inbound::Answer(frame) => Some(frame),
                        },
                        Message::Binary(_) => Some(dialect.on_binary()),
                        Message::Ping(_) | Message::Pong(_) => None,
                        Message::Close(_) => break None,
                    }
                }
                Some(Err(error)) => break read_error(session, error),
                None => break None,
            },
            event = events.recv() => match event {
                Some(event) => dialect.on_event(&event),
                // The driver dropped this session's queue: it fell behind.
                None => break Some(close_frame(close_code::POLICY, "too slow: events not read")),
            },
            () = clock.sleep_until(Some(liveness.wake_at(&limits))) => {
                let now = clock.now();
                if now >= liveness.last_heard + limits.idle_timeout {
                    tracing::debug!(%session, "closing a silent connection");
                    break Some(close_frame(close_code::GOING_AWAY, "idle timeout"));
                }
                liveness.next_ping = now + limits.ping_after / 2;
                if !send(&mut sink, Message::Ping(Default::default()), limits.write_timeout).await {
                    break None;
                }
                None
            },
            () = stopping(&mut context.shutdown) => {
                break Some(close_frame(close_code::GOING_AWAY, "server shutting down"));
            },
        };
        if let Some(text) = outgoing
            && !send(&mut sink, Message::Text(text.into()), limits.write_timeout).await
        {
            break None;
        }
    };

    context.driver.close(session).await;
    if let Some(frame) = close {
        send(&mut sink, Message::Close(Some(frame)), limits.write_timeout).await;
    }
    let _ = tokio::time::timeout(limits.write_timeout, sink.close()).await;
    tracing::debug!(%session, "connection closed");
}

/// Completes once the server begins to shut down (or is gone).
async fn stopping(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stopping| *stopping).await;
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame { code, reason: reason.into() }
}

/// Sends one message; `false` when the client is gone or too slow to take it.
async fn send(
    sink: &mut futures_util::stream::SplitSink<WebSocket, Message>,
    message: Message,
    timeout: Duration,
) -> bool {
    matches!(tokio::time::timeout(timeout, sink.send(message)).await, Ok(Ok(())))
}

/// Maps a read error to the close frame that explains it, if any.
fn read_error(session: switchboard_core::SessionId, error: axum::Error) -> Option<CloseFrame> {
    let error = error.into_inner();
    match error.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => {
            tracing::debug!(%session, "message over the size limit");
            Some(close_frame(close_code::TOO_BIG, "message too big"))
        }
        _ => {
            tracing::debug!(%session, %error, "read failed");
            None
        }
    }
}
