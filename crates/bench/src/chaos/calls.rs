//! One chaos call: the soak's long-lived call (an SDP each way, then ICE
//! candidates at a steady rate, every message numbered) between a party
//! on one node and a party on another, or on the same, for a while; then
//! hung up. When a party's connection ends under it (its node was
//! killed), the call watches the other party for the dialect's word that
//! its peer is gone, and notes when it came.

use std::time::{Duration, Instant};

use futures_util::SinkExt;
use tokio_tungstenite::tungstenite::Message;

use crate::soak::calls::{Read, Shape, end, message, read};
use crate::soak::ledger::{Stream, Tally};
use crate::target::{Server, Socket, Target, call, keepalive_answer, next_text};

/// A party of a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Caller,
    Callee,
}

/// How a call ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Ending {
    /// Hung up and closed as planned, both parties there to the end.
    HungUp,
    /// Set up, relayed or hung up wrong, with both connections open: a
    /// refusal, a hang-up never heard, a message without its number.
    Failed { error: String },
    /// One party's connection ended under the call, `at_s`; the other
    /// party heard that its peer was gone at `told_at_s`, or not within
    /// the time it was given.
    PartyLost { side: Side, at_s: f64, error: String, told_at_s: Option<f64> },
    /// Both parties' connections ended.
    BothLost { at_s: f64, error: String },
}

/// One call and what became of it; times in seconds since the run began.
#[derive(Clone, Debug)]
pub struct Record {
    pub dialect: Target,
    /// The node each party connected to (an index into the cluster).
    pub caller_node: usize,
    pub callee_node: usize,
    pub started_s: f64,
    pub ended_s: f64,
    pub ending: Ending,
    /// Both directions' messages, as far as the call got.
    pub messages: Tally,
}

impl Record {
    /// The node a party connected to.
    pub fn node_of(&self, side: Side) -> usize {
        match side {
            Side::Caller => self.caller_node,
            Side::Callee => self.callee_node,
        }
    }
}

/// What a chaos call is, beside its parties' names.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    /// Where each party connects.
    pub server: Server,
    pub caller_node: usize,
    pub callee_node: usize,
    /// Time between two messages of one direction.
    pub every: Duration,
    /// How long the call relays before it is hung up.
    pub length: Duration,
    pub shape: Shape,
    /// How long a party whose peer's connection ended waits to be told,
    /// and how long the set-up and the hang-up may take: a step whose
    /// message was lost would wait for ever.
    pub patience: Duration,
    /// When the run began.
    pub began: Instant,
}

/// What a party hears when its peer's session ended without a hang-up,
/// in each dialect; ecall's server holds no call (a Wire client ends it
/// on its own timers), so it hears nothing.
fn peer_gone_markers(target: Target) -> &'static [&'static str] {
    match target {
        Target::Chatroulette => &["CALL_ENDED"],
        Target::Calling | Target::CallingSignaling => &["room_peer_rm"],
        Target::Tringtring | Target::TringtringNode => &["user-left"],
        Target::Matchbox => &["PeerLeft"],
        Target::Cloudkibo => &["callended", "peer.disconnected"],
        Target::Ecall | Target::Baseline => &[],
    }
}

/// Whether the server tells a party in this dialect that its peer left.
pub fn tells_peer_gone(target: Target) -> bool {
    !peer_gone_markers(target).is_empty()
}

/// Runs one call from its set-up to its hang-up, or until a party's
/// connection ends; never fails: what went wrong is its [`Ending`].
pub async fn chaos_call(plan: Plan, caller: &str, callee: &str) -> Record {
    let since = |instant: Instant| instant.duration_since(plan.began).as_secs_f64();
    let started_s = since(Instant::now());
    let record = |ending, messages| Record {
        dialect: plan.server.target,
        caller_node: plan.caller_node,
        callee_node: plan.callee_node,
        started_s,
        ended_s: since(Instant::now()),
        ending,
        messages,
    };
    let target = plan.server.target;
    let mut call = match tokio::time::timeout(plan.patience, call(plan.server, caller, callee)).await {
        Ok(Ok(call)) => call,
        Ok(Err(error)) => return record(Ending::Failed { error: format!("set-up: {error:#}") }, Tally::default()),
        Err(_) => {
            let error = format!("set-up: not done within {:?}", plan.patience);
            return record(Ending::Failed { error }, Tally::default());
        }
    };
    let (mut to_callee, mut to_caller) = (Stream::default(), Stream::default());
    let mut tick = tokio::time::interval(plan.every);
    let length = tokio::time::sleep(plan.length);
    tokio::pin!(length);
    let mut sent = 0;
    let lost = loop {
        tokio::select! {
            _ = &mut length => break None,
            _ = tick.tick() => {
                let to_b = message(&call, true, sent, plan.shape.sdp_size);
                let to_a = message(&call, false, sent, plan.shape.sdp_size);
                if let Err(error) = call.caller.socket.send(Message::text(to_b)).await {
                    break Some((Side::Caller, anyhow::Error::from(error)));
                }
                if let Err(error) = call.callee.socket.send(Message::text(to_a)).await {
                    break Some((Side::Callee, error.into()));
                }
                sent += 1;
            }
            read = read(target, &mut call.callee.socket, None) => match read {
                Ok(Some(Read::Relayed(seq))) => to_callee.receive(seq),
                Ok(_) => {}
                Err(error) => break Some((Side::Callee, error)),
            },
            read = read(target, &mut call.caller.socket, None) => match read {
                Ok(Some(Read::Relayed(seq))) => to_caller.receive(seq),
                Ok(_) => {}
                Err(error) => break Some((Side::Caller, error)),
            },
        }
    };
    let Some((side, error)) = lost else {
        return match tokio::time::timeout(plan.patience, end(call, to_callee, to_caller, sent, plan.shape)).await {
            Ok(Ok(messages)) => record(Ending::HungUp, messages),
            Ok(Err(error)) => record(Ending::Failed { error: format!("hang-up: {error:#}") }, Tally::default()),
            Err(_) => {
                let error = format!("hang-up: not done within {:?}", plan.patience);
                record(Ending::Failed { error }, Tally::default())
            }
        };
    };
    let at_s = since(Instant::now());
    let mut messages = to_callee.finish(sent);
    messages.add(to_caller.finish(sent));
    let error = format!("{error:#}");
    let survivor = match side {
        Side::Caller => &mut call.callee.socket,
        Side::Callee => &mut call.caller.socket,
    };
    let ending = match told(target, survivor, plan.patience).await {
        Ok(told) => Ending::PartyLost { side, at_s, error, told_at_s: told.map(since) },
        Err(_) => Ending::BothLost { at_s, error },
    };
    call.close().await;
    record(ending, messages)
}

/// Reads a party's frames until the dialect's word that its peer is gone
/// (when it came), until `within` passed (`None`), or until its own
/// connection ends (an error).
async fn told(target: Target, socket: &mut Socket, within: Duration) -> anyhow::Result<Option<Instant>> {
    let markers = peer_gone_markers(target);
    let deadline = tokio::time::Instant::now() + if markers.is_empty() { Duration::ZERO } else { within };
    loop {
        let text = match tokio::time::timeout_at(deadline, next_text(socket)).await {
            Ok(text) => text?,
            Err(_) => return Ok(None),
        };
        if markers.iter().any(|marker| text.contains(marker)) {
            return Ok(Some(Instant::now()));
        }
        if let Some(answer) = keepalive_answer(target, &text) {
            socket.send(Message::text(answer)).await?;
        }
    }
}
