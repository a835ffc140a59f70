//! The soak's two kinds of call, in any dialect, over [`crate::target`]:
//! a churned call (connect, register, ring, accept, the SDP offer and
//! answer, ICE candidates both ways, hang up, disconnect) and a long-lived
//! call that keeps relaying until told to stop. Every relayed message
//! carries a sequence number, and the receiving side checks it
//! ([`super::ledger`]).

use std::time::Duration;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

use super::ledger::{Stream, Tally, seq_of, tag};
use crate::target::{Call, Server, Signal, Socket, Target, call, is_relayed, keepalive_answer, sdp};

/// The frame carrying message `seq` of a stream: the SDP offer (or answer)
/// first, then ICE candidates, each with its tag in the text the dialect
/// relays (the SDP, the candidate string).
pub(crate) fn message(call: &Call, from_caller: bool, seq: u64, sdp_size: usize) -> String {
    if seq == 0 {
        let signal = if from_caller { Signal::Offer } else { Signal::Answer };
        call.signal_frame(from_caller, signal, &format!("{}a={}", sdp(sdp_size), tag(seq)))
    } else {
        call.signal_frame(
            from_caller,
            Signal::IceCandidate,
            &format!("{} 1 udp 2122260223 192.0.2.1 {seq} typ host", tag(seq)),
        )
    }
}

/// What a connection did with one frame it read.
pub(crate) enum Read {
    /// A relayed message, with its sequence number.
    Relayed(u64),
    /// Anything else: an answer to its own request, presence, a keepalive
    /// (answered).
    Other,
}

/// Reads one frame, answering a keepalive; `None` when `within` (if
/// given) passed first.
pub(crate) async fn read(
    target: Target,
    socket: &mut Socket,
    within: Option<Duration>,
) -> anyhow::Result<Option<Read>> {
    let next = match within {
        Some(within) => match tokio::time::timeout(within, socket.next()).await {
            Ok(next) => next,
            Err(_) => return Ok(None),
        },
        None => socket.next().await,
    };
    let text = match next {
        Some(Ok(Message::Text(text))) => text,
        Some(Ok(Message::Close(_))) | None => bail!("the server closed the connection"),
        Some(Ok(_)) => return Ok(Some(Read::Other)),
        Some(Err(error)) => return Err(error.into()),
    };
    if let Some(answer) = keepalive_answer(target, &text) {
        socket.send(Message::text(answer)).await?;
        return Ok(Some(Read::Other));
    }
    if !is_relayed(target, &text) {
        return Ok(Some(Read::Other));
    }
    let seq = seq_of(&text).with_context(|| format!("a relayed message without its sequence number: {text}"))?;
    Ok(Some(Read::Relayed(seq)))
}

/// Reads until message `last` of the stream has arrived (anything still
/// missing then is lost: a stream is relayed in order), or until nothing
/// came for `loss_timeout`.
async fn receive_until(
    target: Target,
    socket: &mut Socket,
    stream: &mut Stream,
    last: u64,
    loss_timeout: Duration,
) -> anyhow::Result<()> {
    while !stream.has_reached(last) {
        match read(target, socket, Some(loss_timeout)).await? {
            Some(Read::Relayed(seq)) => stream.receive(seq),
            Some(Read::Other) => {}
            None => break,
        }
    }
    Ok(())
}

/// The shape of the soak's calls.
#[derive(Clone, Copy, Debug)]
pub struct Shape {
    /// ICE candidates each way in a churned call, after the SDP.
    pub candidates: u64,
    /// Bytes of each SDP.
    pub sdp_size: usize,
    /// How long a receiver waits for a message before counting the rest of
    /// its stream lost.
    pub loss_timeout: Duration,
}

/// One churned call between new users `caller` and `callee`, from connect
/// to disconnect; both directions' counts.
pub async fn churned(server: Server, caller: &str, callee: &str, shape: Shape) -> anyhow::Result<Tally> {
    let mut call = call(server, caller, callee).await?;
    let sent = 1 + shape.candidates;
    for seq in 0..sent {
        let frame = message(&call, true, seq, shape.sdp_size);
        call.caller.socket.send(Message::text(frame)).await?;
    }
    for seq in 0..sent {
        let frame = message(&call, false, seq, shape.sdp_size);
        call.callee.socket.send(Message::text(frame)).await?;
    }
    end(call, Stream::default(), Stream::default(), sent, shape).await
}

/// Waits for what is still on its way of `sent` messages each way, hangs
/// up and disconnects; both directions' counts.
pub(crate) async fn end(
    mut call: Call,
    mut to_callee: Stream,
    mut to_caller: Stream,
    sent: u64,
    shape: Shape,
) -> anyhow::Result<Tally> {
    if sent > 0 {
        let target = call.target;
        receive_until(target, &mut call.callee.socket, &mut to_callee, sent - 1, shape.loss_timeout).await?;
        receive_until(target, &mut call.caller.socket, &mut to_caller, sent - 1, shape.loss_timeout).await?;
    }
    call.hang_up().await?;
    call.close().await;
    let mut tally = to_callee.finish(sent);
    tally.add(to_caller.finish(sent));
    Ok(tally)
}

/// How long a long-lived call relays.
#[derive(Clone, Debug)]
pub enum Until {
    /// Until the flag turns true.
    Stopped(watch::Receiver<bool>),
    /// Until each side has sent this many messages.
    Sent(u64),
}

/// A long-lived call: both sides send a message every `every` (the first
/// an SDP, then ICE candidates) until `until`, then wait for what the
/// other sent, hang up and disconnect.
pub async fn long_lived(
    server: Server,
    caller: &str,
    callee: &str,
    every: Duration,
    mut until: Until,
    shape: Shape,
) -> anyhow::Result<Tally> {
    let target = server.target;
    let mut call = call(server, caller, callee).await?;
    let (mut to_callee, mut to_caller) = (Stream::default(), Stream::default());
    let mut tick = tokio::time::interval(every);
    let mut sent = 0;
    loop {
        let done = match &until {
            Until::Sent(count) => sent >= *count,
            Until::Stopped(stop) => *stop.borrow(),
        };
        if done {
            break;
        }
        tokio::select! {
            _ = tick.tick() => {
                let (to_b, to_a) = (message(&call, true, sent, shape.sdp_size), message(&call, false, sent, shape.sdp_size));
                call.caller.socket.send(Message::text(to_b)).await?;
                call.callee.socket.send(Message::text(to_a)).await?;
                sent += 1;
            }
            read = read(target, &mut call.callee.socket, None) => {
                if let Some(Read::Relayed(seq)) = read? { to_callee.receive(seq) }
            }
            read = read(target, &mut call.caller.socket, None) => {
                if let Some(Read::Relayed(seq)) = read? { to_caller.receive(seq) }
            }
            changed = stopped(&mut until) => changed?,
        }
    }
    end(call, to_callee, to_caller, sent, shape).await
}

/// Resolves when the stop flag changes; never for a count.
async fn stopped(until: &mut Until) -> anyhow::Result<()> {
    match until {
        Until::Stopped(stop) => stop.changed().await.context("the soak ended without stopping its calls"),
        Until::Sent(_) => std::future::pending().await,
    }
}
