//! socket.io sessions resumed on another node (docs/cluster.md, "Resume"):
//! node B, where the client reconnected, hands the socket's events to
//! node A, which holds the session, and carries out what A's task says to
//! the client: emits, ack answers, the disconnect. A runs the session's
//! task as it would for a socket of its own (`task.rs`), on a
//! [`Port::Pipe`].

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Duration;

use futures_util::{SinkExt as _, StreamExt as _};
use socketioxide::extract::{AckSender, SocketRef};
use switchboard_dialects::codec::{Codec, Effect};
use switchboard_dialects::resume::ResumeAsk;
use switchboard_dialects::socketio::{SocketIoSession, SocketOut};

use super::port::{self, Ack, Port};
use super::{INBOX_EVENTS, Inbound, InboxFlags, InboxReceiver, task};
use crate::auth::Authenticator;
use crate::cluster::pipes::{PipeEnd, PipeOp, PipeOpened};
use crate::cluster::{Cluster, NodeId};
use crate::metrics::DropCause;
use crate::ws::ConnectionContext;

/// The dialect name a socket.io pipe opens with.
pub(crate) const DIALECT: &str = "socket.io";

/// B's side: forwards the client's events to the session's node, and does
/// what that node says, until either side ends; says the client is still
/// there every `alive_every`. A token of a node that is not alive is refused
/// here.
pub(super) async fn forward(
    socket: SocketRef,
    mut inbox: InboxReceiver,
    flags: InboxFlags,
    (cluster, node, token, access_token): (Cluster, NodeId, String, Option<String>),
    alive_every: Duration,
) {
    if !cluster.node_alive(&node).await {
        let mut refusal = Vec::new();
        SocketIoSession::new(String::new(), 0).resume_refused(&mut refusal);
        for effect in refusal {
            if let Effect::Send(SocketOut::Emit(event, args)) = effect {
                let _ = port::emit(&socket, event, &args);
            }
        }
        port::disconnect(socket);
        return;
    }
    let (end, mut incoming) = cluster.open_pipe(&node, token, DIALECT, access_token);
    // The client's ack callbacks, by the number they cross with.
    let mut acks: HashMap<u64, AckSender> = HashMap::new();
    let mut next_ack = 0;
    let mut alive = tokio::time::interval(alive_every);
    alive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = alive.tick() => {
                end.send(PipeOp::Alive);
            }
            inbound = inbox.next() => match inbound {
                Some(Inbound::Event { name, data, ack, bytes }) => {
                    flags.bytes.fetch_sub(bytes, Ordering::AcqRel);
                    next_ack += 1;
                    if let Ack::Local(ack) = ack {
                        acks.insert(next_ack, ack);
                    }
                    end.send(PipeOp::SioEvent { name, data, ack: next_ack });
                    if flags.overflowed.load(Ordering::Acquire) {
                        let message = format!("too many events: at most {INBOX_EVENTS} events may wait");
                        let _ = port::emit(&socket, "error", &[serde_json::json!({ "message": message })]);
                        end.send(PipeOp::End { lost: false });
                        port::disconnect(socket.clone());
                        break;
                    }
                }
                Some(Inbound::Gone { lost }) => {
                    end.send(PipeOp::End { lost });
                    break;
                }
                None => {
                    end.send(PipeOp::End { lost: true });
                    break;
                }
            },
            op = incoming.recv() => match op {
                Some(PipeOp::SioEmit { event, args }) => {
                    if port::emit(&socket, &event, &args).is_err() {
                        drop_client(&end, &socket);
                        break;
                    }
                }
                Some(PipeOp::SioEmitRaw { event, arg }) => {
                    if socket.emit(&event, &arg).is_err() {
                        drop_client(&end, &socket);
                        break;
                    }
                }
                Some(PipeOp::SioAck { ack, args }) => {
                    if let Some(ack) = acks.remove(&ack) {
                        let _ = port::send_ack(ack, &args);
                    }
                }
                Some(PipeOp::SioRelease { ack }) => {
                    acks.remove(&ack);
                }
                // The session's node ended it, or is gone.
                _ => {
                    port::disconnect(socket.clone());
                    break;
                }
            },
        }
    }
}

/// B's side, when the client cannot take an emit (its buffer is full): A
/// holds the session as lost, and the client is disconnected.
fn drop_client(end: &PipeEnd, socket: &SocketRef) {
    end.send(PipeOp::End { lost: true });
    port::disconnect(socket.clone());
}

/// A's side: serves a socket.io session that a client resumes through
/// another node. Its access token, when this node checks them, is checked
/// as at a handshake; a refused one ends the pipe.
pub(crate) async fn serve_pipe(
    opened: PipeOpened,
    context: ConnectionContext,
    auth: Option<Authenticator>,
    room_capacity: usize,
) {
    let grants = opened.grants(auth.as_ref());
    let PipeOpened { token, end, mut incoming, .. } = opened;
    let Ok(grants) = grants else {
        context.metrics.dropped(DropCause::Auth);
        end.send(PipeOp::End { lost: false });
        return;
    };
    // The pipe's messages as the task's inbox. A pipe silent past the idle
    // timeout (its `End` lost on the way, say) is a lost socket.
    let (mut events, inbox) = futures_channel::mpsc::channel(INBOX_EVENTS - 1);
    let silence = context.limits.idle_timeout;
    tokio::spawn(async move {
        while let Ok(Some(op)) = tokio::time::timeout(silence, incoming.recv()).await {
            let inbound = match op {
                PipeOp::SioEvent { name, data, ack } => Inbound::Event { name, data, ack: Ack::Remote(ack), bytes: 0 },
                PipeOp::End { lost } => Inbound::Gone { lost },
                _ => continue,
            };
            let gone = matches!(inbound, Inbound::Gone { .. });
            if events.send(inbound).await.is_err() || gone {
                return;
            }
        }
        let _ = events.send(Inbound::Gone { lost: true }).await;
    });
    let resume = Some(ResumeAsk::Token(token));
    let port = Port::Pipe(end);
    task::run(port, inbox, InboxFlags::default(), context, room_capacity, grants, resume, String::new()).await;
}
