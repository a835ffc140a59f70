//! cloudkibo: the phone-number call flow of seed 000, as CloudKibo's
//! `server/config/socketio.js` and its Android and iOS clients speak it.
//! The server tracks each call in the core (ringing, busy, ring timeout,
//! answered elsewhere) instead of trusting the clients' relayed statuses.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use switchboard_core::{
    Command, CommandError, EndReason, Event, InviteRef, Payload, RelayTarget, Reply, RoomId, RoomRef, Signal,
    SignalKind, UserId,
};

use super::media_bridge::{MediaBridge, MediaMessage};
use super::{
    AckId, Dialect, Pending as AnyPending, SocketIoSession, SocketOut, answer_ack, emit, error, refusal, release,
    text_field,
};
use crate::codec::Effect;

/// The relay kind of a `message` passed on unchanged.
const MESSAGE: &str = "message";
/// The relay kind of a media-room `msg`.
const MSG: &str = "msg";

/// Per-socket cloudkibo state.
#[derive(Debug, Default)]
pub(crate) struct State {
    /// The phone this socket registered.
    phone: Option<UserId>,
    /// The media room joined with `init`.
    media: Option<MediaRoom>,
    /// The call with a party of another dialect whose media room the
    /// codec plays ([`MediaBridge`]), once it is answered.
    bridge: Option<MediaBridge>,
    /// The same for a call ringing this socket, until it is answered.
    offered: Option<MediaBridge>,
}

impl State {
    /// Whether the core accepted this socket's phone.
    pub(crate) fn registered(&self) -> bool {
        self.phone.is_some()
    }
}

/// A media room as this socket knows it. Its peers are named by their
/// member numbers (`id`, as the original server numbered a room's sockets),
/// which this table maps to the peer ids relays are addressed by.
#[derive(Debug)]
struct MediaRoom {
    id: RoomId,
    /// This socket's own number, the `by` of its `msg`s.
    me: u32,
    /// The other members, by number.
    peers: HashMap<u32, Arc<str>>,
}

/// What a reply answers.
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    Register(UserId),
    Call {
        caller: UserId,
        callee: UserId,
    },
    Init {
        ack: AckId,
    },
    /// A `message` status the core acts on: an error means `to` is not a
    /// party of the sender's call.
    CallMessage {
        to: UserId,
    },
    /// `callaccepted` for a call from a party of another dialect: once the
    /// core took it, the server sends the media room's name.
    BridgedAccept {
        to: UserId,
    },
}

pub(crate) fn on_event(
    socket: &mut SocketIoSession,
    event: &str,
    data: &Value,
    ack: AckId,
    out: &mut Vec<Effect<SocketOut>>,
) -> bool {
    if event == "join global chatroom" {
        register(socket, data, out);
        return false;
    }
    let Some(me) = socket.cloudkibo.phone.clone() else {
        out.push(error(format!("{event:?} before \"join global chatroom\"")));
        return false;
    };
    match event {
        "callthisperson" => {
            call(socket, me, data, ack, out);
            false
        }
        "message" => {
            message(socket, me, data, out);
            false
        }
        "init" => init(socket, data, ack, out),
        "msg" => {
            media_message(socket, data, out);
            false
        }
        _ => unreachable!("Dialect::of_event lists the cloudkibo events"),
    }
}

fn register(socket: &mut SocketIoSession, data: &Value, out: &mut Vec<Effect<SocketOut>>) {
    if let Some(phone) = &socket.cloudkibo.phone {
        out.push(error(format!("this socket is already {phone}")));
        return;
    }
    let Some(phone) = data.get("user").and_then(|user| text_field(user, "phone")) else {
        out.push(error("\"join global chatroom\" needs {room, user: {phone, _id}}"));
        return;
    };
    let phone = match UserId::parse(&phone) {
        Ok(phone) => phone,
        Err(failure) => return out.push(error(format!("bad phone: {failure}"))),
    };
    socket.bound = Some(Dialect::Cloudkibo);
    let command = Command::Register { user: Some(phone.clone()), shared: true };
    socket.answered(command, AnyPending::Cloudkibo(Pending::Register(phone)), out);
}

fn call(socket: &mut SocketIoSession, me: UserId, data: &Value, ack: AckId, out: &mut Vec<Effect<SocketOut>>) {
    let (Some(callerphone), Some(calleephone)) = (text_field(data, "callerphone"), text_field(data, "calleephone"))
    else {
        out.push(error("callthisperson needs {room, callerphone, calleephone}"));
        return;
    };
    // The ack comes first, whatever follows (seed 000).
    out.push(answer_ack(ack, vec![json!({ "status": "ok", "calleephone": calleephone })]));
    if callerphone != me.as_str() {
        out.push(error(format!("callerphone {callerphone} is not this socket's phone {me}")));
        return;
    }
    let callee = match UserId::parse(&calleephone) {
        Ok(callee) => callee,
        Err(failure) => return out.push(error(format!("bad calleephone: {failure}"))),
    };
    let data = Payload::new(json!({ "callerphone": callerphone, "calleephone": calleephone }).to_string());
    let command = Command::Call { to: callee.clone(), data };
    socket.answered(command, AnyPending::Cloudkibo(Pending::Call { caller: me, callee }), out);
}

fn message(socket: &mut SocketIoSession, me: UserId, data: &Value, out: &mut Vec<Effect<SocketOut>>) {
    let (Some(to), Some(msg)) = (text_field(data, "to"), data.get("msg").filter(|msg| msg.is_object())) else {
        out.push(error("message needs {to, msg: {...}}"));
        return;
    };
    let to = match UserId::parse(&to) {
        Ok(to) => to,
        Err(failure) => return out.push(error(format!("bad to: {failure}"))),
    };
    // The phones a call message names must be the two parties.
    for field in ["callerphone", "calleephone"] {
        if let Some(phone) = text_field(msg, field)
            && phone != me.as_str()
            && phone != to.as_str()
        {
            out.push(error(format!("{field} {phone} is neither this socket's phone nor {to}")));
            return;
        }
    }
    let status = msg.get("status").and_then(Value::as_str).unwrap_or_default();
    if let Some(done) = bridged_message(socket, &to, msg, status, out) {
        return done;
    }
    // The statuses that change the call go to the core with the client's
    // msg as their note, so the other party gets it as it was sent.
    let note = Some(Payload::new(msg.to_string()));
    let command = match status {
        "calleeisbusy" => Command::Reject { invite: InviteRef::From(to.clone()), reason: EndReason::Busy, note },
        "callrejected" => Command::Reject { invite: InviteRef::From(to.clone()), reason: EndReason::Rejected, note },
        "callaccepted" => Command::Accept { invite: InviteRef::From(to.clone()), status: None, note },
        "missing" => Command::Cancel { invite: InviteRef::To(to.clone()), note },
        "callended" => Command::Leave { room: RoomRef::CallWith(to.clone()) },
        // calleeisavailable, room_name and the rest pass unchanged.
        _ => {
            let signal = Signal { kind: SignalKind::Custom(MESSAGE.into()), payload: Payload::new(msg.to_string()) };
            Command::Relay { to: RelayTarget::CallPeer(to.clone()), signal }
        }
    };
    socket.answered(command, AnyPending::Cloudkibo(Pending::CallMessage { to }), out);
}

/// A `message` to the other party of a played media room: the statuses
/// and room name that have no counterpart in its dialect stop here (the
/// core knows the call rings; the codec plays the room), `callaccepted`
/// asks for the room name back, and any other message is refused. `None`
/// when `to` is not such a party: the message goes on as usual.
fn bridged_message(
    socket: &mut SocketIoSession,
    to: &UserId,
    msg: &Value,
    status: &str,
    out: &mut Vec<Effect<SocketOut>>,
) -> Option<()> {
    let state = &mut socket.cloudkibo;
    let is_peer = |bridge: &Option<MediaBridge>| bridge.as_ref().is_some_and(|bridge| bridge.peer == *to);
    if !is_peer(&state.bridge) && !is_peer(&state.offered) {
        return None;
    }
    let kind = msg.get("type").and_then(Value::as_str).unwrap_or_default();
    match (kind, status) {
        ("call", "calleeisavailable") => {}
        ("room_name", _) => match (state.bridge.as_mut(), text_field(msg, "room_name")) {
            (Some(bridge), Some(room)) if bridge.peer == *to && !bridge.joined => bridge.room = Some(room),
            _ => out.push(error("room_name: no answered call with a media room still to name")),
        },
        ("call", "callaccepted") if is_peer(&state.offered) => {
            let command = Command::Accept { invite: InviteRef::From(to.clone()), status: None, note: None };
            socket.answered(command, AnyPending::Cloudkibo(Pending::BridgedAccept { to: to.clone() }), out);
        }
        ("call", "calleeisbusy" | "callrejected" | "missing" | "callended") => {
            state.offered = None;
            if status == "callended" || status == "missing" {
                state.bridge = None;
            }
            return None;
        }
        _ => out.push(error(format!("{to}'s app takes no cloudkibo message {kind:?} {status:?}"))),
    }
    Some(())
}

fn init(socket: &mut SocketIoSession, data: &Value, ack: AckId, out: &mut Vec<Effect<SocketOut>>) -> bool {
    if let Some(bridge) = socket.cloudkibo.bridge.as_mut()
        && bridge.takes_init(text_field(data, "room").as_deref())
    {
        let held = bridge.join(text_field(data, "room"));
        let room = bridge.room.clone().unwrap_or_default();
        out.push(answer_ack(ack, vec![json!(room), json!(bridge.me()), json!(false)]));
        // The member already in the room offers, as CloudKibo's
        // WebRtcClient does on `peer.connected`; the called client waits
        // for the caller's offer instead.
        if bridge.me() == 1 {
            out.push(emit("peer.connected", vec![json!({ "id": bridge.peer_id(), "username": bridge.peer.as_str() })]));
        }
        out.extend(held.into_iter().map(|msg| emit("msg", vec![msg])));
        return false;
    }
    let room = match text_field(data, "room").map(|room| RoomId::parse(&room)).transpose() {
        Ok(room) => room,
        Err(failure) => {
            out.push(error(format!("bad room: {failure}")));
            return false;
        }
    };
    let username = data.get("username").cloned().unwrap_or(Value::Null);
    let status = Some(Payload::new(json!({ "username": username }).to_string()));
    let command = Command::Join { room, create: Some(usize::MAX), status };
    socket.answered(command, AnyPending::Cloudkibo(Pending::Init { ack }), out);
    true
}

fn media_message(socket: &mut SocketIoSession, data: &Value, out: &mut Vec<Effect<SocketOut>>) {
    if let Some(bridge) = socket.cloudkibo.bridge.as_ref().filter(|bridge| bridge.joined) {
        match bridge.client_msg(data) {
            MediaMessage::Relay(to, signal) => socket.quiet(Command::Relay { to, signal }, out),
            MediaMessage::Refused(reason) => out.push(error(reason)),
        }
        return;
    }
    let Some(media) = &socket.cloudkibo.media else {
        out.push(error("msg before init"));
        return;
    };
    let Some(to) = data.get("to").and_then(Value::as_u64) else {
        out.push(error("msg needs {to: id, ...}"));
        return;
    };
    let Some(peer) = u32::try_from(to).ok().and_then(|to| media.peers.get(&to)) else {
        out.push(error(format!("msg: no peer {to} in this room")));
        return;
    };
    let mut payload = data.clone();
    payload["by"] = json!(media.me);
    let signal = Signal { kind: SignalKind::Custom(MSG.into()), payload: Payload::new(payload.to_string()) };
    let to = RelayTarget::Peer { room: media.id.clone(), peer: peer.clone() };
    socket.quiet(Command::Relay { to, signal }, out);
}

pub(crate) fn on_reply(
    socket: &mut SocketIoSession,
    pending: Pending,
    result: &Result<Reply, CommandError>,
    out: &mut Vec<Effect<SocketOut>>,
) {
    match (pending, result) {
        (Pending::Register(phone), Ok(_)) => {
            socket.cloudkibo.phone = Some(phone);
            // switchboard keeps no contact lists: nobody to list.
            out.push(emit("youareonline", vec![json!([])]));
        }
        (Pending::Register(_), Err(failure)) => {
            socket.bound = None;
            out.push(error(refusal(failure)));
        }
        (Pending::Call { caller, callee }, Err(CommandError::UnknownUser(_))) => {
            let msg =
                json!({ "callerphone": caller.as_str(), "calleephone": callee.as_str(), "status": "calleeoffline" });
            let mut message = msg.clone();
            message["msg"] = msg;
            message["type"] = json!("call");
            out.push(emit("message", vec![message]));
        }
        // A draining node takes no new call: the original client knows no
        // such refusal, and busy is what tells its user to call later.
        (
            Pending::Call { caller, callee },
            Err(CommandError::Busy(_) | CommandError::Draining | CommandError::ClusterUnavailable),
        ) => {
            out.push(status(&caller, &callee, "calleeisbusy"));
        }
        (Pending::Init { ack }, Ok(Reply::Joined(view))) => {
            let me = view.member.unwrap_or_default();
            let peers = view.peers.iter().filter_map(|peer| Some((peer.member?, peer.peer_id.clone()?))).collect();
            socket.cloudkibo.media = Some(MediaRoom { id: view.id.clone(), me, peers });
            out.push(answer_ack(ack, vec![json!(view.id.as_str()), json!(me), json!(false)]));
        }
        (Pending::BridgedAccept { to }, Ok(_)) => {
            let Some(bridge) = socket.cloudkibo.offered.take().filter(|bridge| bridge.peer == to) else { return };
            let me = socket.cloudkibo.phone.clone().unwrap_or_else(|| to.clone());
            let room = bridge.room.clone().unwrap_or_default();
            socket.cloudkibo.bridge = Some(bridge);
            // As the CloudKibo caller sends it (Android `sendRoomNameToCallee`).
            let message = json!({ "callerphone": to.as_str(), "calleephone": me.as_str(), "type": "room_name", "room_name": room });
            out.push(emit("message", vec![message]));
        }
        (Pending::BridgedAccept { to }, Err(failure)) => {
            socket.cloudkibo.offered = None;
            out.push(error(format!("{to}: {}", refusal(failure))));
        }
        (Pending::CallMessage { to }, Err(_)) => {
            out.push(error(format!("{to} is not a party of a call with this socket")));
        }
        // An init refused (a bad room, say): its ack is never answered.
        (Pending::Init { ack }, Err(failure)) => {
            out.push(error(refusal(failure)));
            out.push(release(ack));
        }
        (_, Err(failure)) => out.push(error(refusal(failure))),
        (Pending::Init { ack }, Ok(_)) => out.push(release(ack)),
        (_, Ok(_)) => {}
    }
}

/// The other party's own `msg`, relayed as it was sent.
fn noted(note: &Option<Payload>) -> Option<Effect<SocketOut>> {
    let msg = serde_json::from_str(note.as_ref()?.as_str()).ok()?;
    Some(emit("message", vec![msg]))
}

/// `{callerphone, calleephone, type: "call", status}`, as the callee's
/// client sends them and the server makes them.
fn status(caller: &UserId, callee: &UserId, status: &str) -> Effect<SocketOut> {
    let message =
        json!({ "callerphone": caller.as_str(), "calleephone": callee.as_str(), "type": "call", "status": status });
    emit("message", vec![message])
}

pub(crate) fn on_core_event(socket: &mut SocketIoSession, event: &Event, out: &mut Vec<Effect<SocketOut>>) {
    let Some(me) = socket.cloudkibo.phone.clone() else { return };
    match event {
        Event::Ringing { room, from, from_style, .. } => {
            socket.cloudkibo.offered = MediaBridge::needed(*from_style)
                .then(|| MediaBridge::for_callee(from.clone(), room.id.as_str().to_owned()));
            let sender = room.peers.first().and_then(|peer| peer.peer_id.as_deref()).unwrap_or_default();
            let payload = json!({ "callerphone": from.as_str(), "calleephone": me.as_str(), "sendersocket": sender });
            out.push(emit("areyoufreeforcall", vec![payload]));
        }
        Event::CallAccepted { by, note, by_style, .. } => {
            socket.cloudkibo.bridge = MediaBridge::needed(*by_style).then(|| MediaBridge::for_caller(by.clone()));
            out.push(noted(note).unwrap_or_else(|| status(&me, by, "callaccepted")))
        }
        Event::CallDeclined { by, reason, note, .. } => {
            let word = match reason {
                EndReason::Busy => "calleeisbusy",
                EndReason::Timeout => "noanswer",
                EndReason::Disconnected => "calleeoffline",
                _ => "callrejected",
            };
            out.push(noted(note).unwrap_or_else(|| status(&me, by, word)));
        }
        Event::RingingStopped { from, note, .. } => {
            if socket.cloudkibo.offered.as_ref().is_some_and(|bridge| bridge.peer == *from) {
                socket.cloudkibo.offered = None;
            }
            out.push(noted(note).unwrap_or_else(|| status(from, &me, "missing")));
        }
        Event::CallEnded { by, caller, reason, .. } => {
            if let Some(bridge) = socket.cloudkibo.bridge.take().filter(|bridge| bridge.joined) {
                out.push(emit("peer.disconnected", vec![json!({ "id": bridge.peer_id() })]));
            }
            // The receiver is one party and `by` the other.
            let callee = if *caller == me { by } else { &me };
            let Effect::Send(SocketOut::Emit(name, mut args)) = status(caller, callee, "callended") else {
                unreachable!()
            };
            args[0]["reason"] = json!(reason.as_str());
            out.push(emit(name, args));
        }
        Event::PeerJoined { room, peer, .. } => {
            let username = peer
                .status
                .peer
                .as_ref()
                .and_then(|status| serde_json::from_str::<Value>(status.as_str()).ok())
                .and_then(|status| status.get("username").cloned())
                .unwrap_or(Value::Null);
            if let (Some(media), Some(number), Some(peer_id)) =
                (socket.cloudkibo.media.as_mut(), peer.member, &peer.peer_id)
                && media.id == *room
            {
                media.peers.insert(number, peer_id.clone());
            }
            out.push(emit("peer.connected", vec![json!({ "id": peer.member, "username": username })]));
        }
        Event::PeerLeft { room, member, .. } => {
            if let (Some(media), Some(number)) = (socket.cloudkibo.media.as_mut(), member)
                && media.id == *room
            {
                media.peers.remove(number);
            }
            out.push(emit("peer.disconnected", vec![json!({ "id": member })]));
        }
        Event::Relayed { signal, .. } => match &signal.kind {
            SignalKind::Custom(kind) if &**kind == MESSAGE || &**kind == MSG => {
                let name = if &**kind == MESSAGE { "message" } else { "msg" };
                let payload = serde_json::from_str(signal.payload.as_str()).unwrap_or(Value::Null);
                out.push(emit(name, vec![payload]));
            }
            // SDP and ICE of a played media room's peer become its `msg`s.
            _ => {
                let Event::Relayed { from, .. } = event else { unreachable!() };
                // While the call rings, a caller's early offer or trickled
                // candidates wait in the ring's bridge, carried into the
                // call's when it is answered.
                let state = &mut socket.cloudkibo;
                let bridge = match (&mut state.bridge, &mut state.offered) {
                    (Some(bridge), _) if bridge.peer == *from => bridge,
                    (_, Some(ringing)) if ringing.peer == *from => ringing,
                    _ => return,
                };
                match bridge.peer_signal(signal) {
                    Ok(Some(msg)) => out.push(emit("msg", vec![msg])),
                    Ok(None) => {}
                    Err(()) => out.push(error(format!(
                        "{from} sent more than {} signals before this socket joined the media room",
                        super::media_bridge::HELD_SIGNALS
                    ))),
                }
            }
        },
        _ => {}
    }
}
