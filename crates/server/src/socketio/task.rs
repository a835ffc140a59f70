//! One socket.io session's task: the same shape as a WebSocket
//! connection's (`ws.rs`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use futures_util::StreamExt as _;
use switchboard_core::SessionId;
use switchboard_dialects::codec::{Codec, Effect};
use switchboard_dialects::resume::ResumeAsk;
use switchboard_dialects::socketio::{AckId, SocketEvent, SocketIoSession, SocketOut};

use super::port::{Ack, EmitFailed, Port};
use super::{INBOX_BYTES, INBOX_EVENTS, Inbound, InboxFlags, InboxReceiver};
use crate::auth::Grants;
use crate::guard;
use crate::metrics::DropCause;
use crate::rate;
use crate::session_start::{self, Start};
use crate::ws::ConnectionContext;

/// The socket's task: the same shape as a WebSocket connection's
/// (`ws.rs`): read an event or take core events, let the codec answer, then
/// carry out its effects in order.
///
/// `port` is the client's socket here, or a pipe to its socket on the node
/// it resumed on (`piped.rs`); `peer_id` is how other clients know it.
#[allow(clippy::too_many_arguments, reason = "one connection's parts, each passed once")]
pub(super) async fn run(
    port: Port,
    mut inbox: InboxReceiver,
    flags: InboxFlags,
    mut context: ConnectionContext,
    room_capacity: usize,
    grants: Option<Arc<Grants>>,
    resume: Option<ResumeAsk>,
    peer_id: String,
) {
    let Some(_alive) = context.alive.upgrade() else { return };
    let resumable = resume.is_some();
    let mut codec = SocketIoSession::new(peer_id.clone(), room_capacity);
    let mut effects = Vec::new();
    let start = session_start::start(
        &context.driver,
        &mut codec,
        (Some(peer_id.as_str().into()), grants.as_deref()),
        resume,
        &mut effects,
    );
    let (open, mut events, place) = match Box::pin(start).await {
        // A resumed session brings its place under the caps, when its
        // socket was let in without one (`edge.rs`).
        Start::Opened(open, events, place) => (open, events, place),
        Start::Refused => {
            carry_out(&port, &context, SessionId::new(0), effects, &mut HashMap::new()).await;
            return;
        }
        Start::DriverGone => return,
    };
    let session = open.id();
    // The sending side stays in the socket's extensions only for `QueueEvents`;
    // this task keeps the flags.
    let InboxFlags { bytes: queued_bytes, overflowed } = flags;
    // Ack callbacks the codec may still answer: each is settled once, by an
    // answer or a release.
    let mut acks: HashMap<AckId, Ack> = HashMap::new();
    let mut rate = context.limits.rate.start(context.clock.now());
    // When the socket must have registered by; `None` once it has (a
    // resumed session has).
    let mut register_by = (!codec.registered()).then(|| context.clock.now() + context.limits.register_timeout);
    let mut dialect_known = Codec::dialect(&codec).is_some();
    tracing::debug!(%session, port = %port, "socket.io connection");
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
            inbound = inbox.next() => match inbound {
                Some(Inbound::Event { name, data, ack, bytes }) => {
                    queued_bytes.fetch_sub(bytes, Ordering::AcqRel);
                    let next_ack = codec.next_ack();
                    acks.insert(next_ack, ack);
                    let data = data.as_deref().map_err(String::as_str);
                    let event = SocketEvent { name: &name, data, ack: next_ack };
                    if !rate::on_client(rate.as_mut(), &context.clock, &mut codec, event, &mut effects) {
                        tracing::warn!(%session, "dropping a socket.io client that keeps sending over its rate limit");
                        context.metrics.dropped(DropCause::RateLimit);
                        let _ = port.emit("error", &[serde_json::json!({ "message": rate::ABUSE_REASON })]);
                        port.disconnect();
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
                Some(event) => taken_over = session_start::encode_batch(&mut codec, &event, &mut events, &mut effects),
                // A newer connection resumed the session: below.
                None if events.detached() => taken_over = true,
                None => {
                    tracing::warn!(%session, "dropping a socket.io client that does not read its events");
                    port.disconnect();
                    break;
                }
            },
            () = context.clock.sleep_until(register_by) => {
                tracing::debug!(%session, "disconnecting a socket.io client that did not register in time");
                context.metrics.dropped(DropCause::Idle);
                let message = format!("not registered within {:?}", context.limits.register_timeout);
                let _ = port.emit("error", &[serde_json::json!({ "message": message })]);
                port.disconnect();
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
        // The first event binds the socket to its dialect; its metrics say so
        // from then on, and the core knows its call style before its first
        // command (the driver's inbox keeps the order).
        if !dialect_known && let Some(dialect) = Codec::dialect(&codec) {
            dialect_known = true;
            let _ = context.driver.set_dialect(session, dialect).await;
        }
        let effects = guard::authorize(grants.as_deref(), &mut codec, effects);
        if !carry_out(&port, &context, session, effects, &mut acks).await {
            break;
        }
        if taken_over {
            tracing::debug!(%session, "a newer connection resumed the session");
            port.disconnect();
            break;
        }
        if stopped {
            port.disconnect();
            break;
        }
        if register_by.is_some() && codec.registered() {
            register_by = None;
        }
        // Checked once the queued events before the overflow are handled, so
        // that they count, in order, and the error comes after their effects.
        if overflowed.load(Ordering::Acquire) {
            tracing::warn!(%session, "dropping a socket.io client that sends events faster than they are handled");
            context.metrics.dropped(DropCause::RateLimit);
            let message = format!("too many events: at most {INBOX_EVENTS} events or {INBOX_BYTES} bytes may wait");
            let _ = port.emit("error", &[serde_json::json!({ "message": message })]);
            port.disconnect();
            break;
        }
    }
    if taken_over || (resumable && lost) {
        Box::pin(open.hold(codec, events, port.place().or(place))).await;
    } else {
        open.close().await;
    }
    tracing::debug!(%session, "socket.io connection closed");
}

/// Carries out one turn's effects in order; `false` when the connection
/// must end (the core is gone, or the client cannot take its events).
async fn carry_out(
    port: &Port,
    context: &ConnectionContext,
    session: SessionId,
    effects: Vec<Effect<SocketOut>>,
    acks: &mut HashMap<AckId, Ack>,
) -> bool {
    for effect in effects {
        match effect {
            Effect::Command(request, command) => {
                if context.driver.command(session, request, command).await.is_err() {
                    port.disconnect();
                    return false;
                }
            }
            Effect::Send(SocketOut::Emit(event, args)) => {
                if !emitted(port, session, port.emit(event, &args)) {
                    return false;
                }
            }
            Effect::Send(SocketOut::EmitRaw(event, arg)) => {
                if !emitted(port, session, port.emit_raw(event, &arg)) {
                    return false;
                }
            }
            Effect::Send(SocketOut::Ack(id, args)) => {
                if let Some(ack) = acks.remove(&id) {
                    port.answer(ack, &args);
                }
            }
            Effect::Send(SocketOut::ReleaseAck(id)) => {
                if let Some(ack) = acks.remove(&id) {
                    port.release(ack);
                }
            }
            Effect::Close(..) => {
                port.disconnect();
                return false;
            }
        }
    }
    true
}

/// Whether an emit went out; if not, the client is disconnected and the
/// connection must end.
fn emitted(port: &Port, session: SessionId, sent: Result<(), EmitFailed>) -> bool {
    let Err(failed) = sent else { return true };
    match failed {
        EmitFailed::Closed => tracing::debug!(%session, "socket.io client closed while events were going out"),
        EmitFailed::Refused(error) => {
            tracing::warn!(%session, %error, "dropping a socket.io client that cannot take events");
        }
    }
    port.disconnect();
    false
}
