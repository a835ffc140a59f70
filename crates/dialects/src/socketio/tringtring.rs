//! tringtring: the two-person room app of seed 001, as Tring-Tring's
//! `server.js` and `public/js/videocall.js` speak it. Peers are named by
//! their socket.io ids; a socket registers a drawn user on its first event.

use std::borrow::Cow;
use std::sync::Arc;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use switchboard_core::{
    Command, CommandError, Event, Payload, RelayTarget, Reply, RoomId, RoomRef, Signal, SignalKind,
};

use super::{
    AckId, Dialect, Pending as AnyPending, SocketIoSession, SocketOut, answer_ack, emit, error, parsed, refusal,
    release, text_field,
};
use crate::codec::Effect;
use crate::json::ObjectWriter;

/// Per-socket tringtring state.
#[derive(Debug)]
pub(crate) struct State {
    capacity: usize,
    /// The room joined, once joined.
    room: Option<RoomId>,
}

impl State {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, room: None }
    }
}

/// What a reply answers.
#[derive(Clone, Debug)]
pub(crate) enum Pending {
    Create { ack: AckId, room: RoomId },
    Join { ack: AckId },
}

pub(crate) fn on_event(
    socket: &mut SocketIoSession,
    event: &str,
    data: &RawValue,
    ack: AckId,
    out: &mut Vec<Effect<SocketOut>>,
) -> bool {
    if socket.bound.is_none() {
        // The first tringtring event binds the socket and gives it a user.
        // Shared: nobody ever sees a tringtring user's name (peers are
        // socket ids), so a user whose name is given (the `sub` of its
        // token, when the server checks tokens) may have several sockets.
        socket.bound = Some(Dialect::Tringtring);
        socket.quiet(Command::Register { user: None, shared: true }, out);
    }
    if let "offer" | "answer" | "ice-candidate" = event {
        relay(socket, event, data, out);
        return false;
    }
    let Some(data) = parsed(event, data, out) else { return false };
    let data = &data;
    match event {
        "create-room" => {
            let Some(room) = room_of(data, out) else { return false };
            let command = Command::CreateRoom { room: room.clone(), capacity: socket.tringtring.capacity };
            socket.answered(command, AnyPending::Tringtring(Pending::Create { ack, room }), out);
            true
        }
        "join" => {
            let Some(room) = room_of(data, out) else { return false };
            let name = data.get("peer_name").and_then(Value::as_str).unwrap_or_default().to_owned();
            let status = Some(Payload::new(json!({ "peer_name": name }).to_string()));
            // The original server made rooms in its HTTP handler and its
            // pages only `join`: a room that does not exist yet is made here.
            let command = Command::Join { room: Some(room), create: Some(socket.tringtring.capacity), status };
            socket.answered(command, AnyPending::Tringtring(Pending::Join { ack }), out);
            true
        }
        "cut-the-call" => {
            match socket.tringtring.room.take() {
                Some(room) => socket.quiet(Command::Leave { room: RoomRef::Id(room) }, out),
                None => out.push(error("cut-the-call outside a room")),
            }
            false
        }
        _ => unreachable!("Dialect::of_event lists the tringtring events"),
    }
}

fn room_of(data: &Value, out: &mut Vec<Effect<SocketOut>>) -> Option<RoomId> {
    let parsed = text_field(data, "room_id").map(|room| RoomId::parse(&room));
    match parsed {
        Some(Ok(room)) => Some(room),
        Some(Err(failure)) => {
            out.push(error(format!("bad room_id: {failure}")));
            None
        }
        None => {
            out.push(error("room_id is missing"));
            None
        }
    }
}

/// The fields of a relayed signal that the server reads; the rest of the
/// event (the original client's `from`, `type`) is not needed, since the
/// receiver's event is written anew.
#[derive(Deserialize)]
struct RelayFields<'a> {
    #[serde(borrow, default)]
    to: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    sdp: Option<&'a RawValue>,
    /// `null` is a candidate too (the end of candidates), unlike a missing one.
    #[serde(borrow, default, deserialize_with = "present")]
    candidate: Option<&'a RawValue>,
}

/// A field that is there, `null` or not; serde's `Option` takes `null` for
/// a missing field.
fn present<'de, D: serde::Deserializer<'de>>(field: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(field).map(Some)
}

/// What an `offer`'s or `answer`'s `sdp` must hold when it is a description
/// object.
#[derive(Deserialize)]
struct Description<'a> {
    #[serde(borrow)]
    sdp: &'a RawValue,
}

/// `offer` / `answer` `{from: {name, id}, to, type, sdp: {type, sdp}}` and
/// `ice-candidate` `{from, to, candidate}`: relayed to `to` in the room. The
/// SDP or candidate goes to the core as the client's JSON text.
fn relay(socket: &mut SocketIoSession, event: &str, data: &RawValue, out: &mut Vec<Effect<SocketOut>>) {
    let Some(room) = socket.tringtring.room.clone() else {
        out.push(error(format!("{event} outside a room")));
        return;
    };
    // An object only: serde's derived struct would also take an array by
    // position.
    let fields = data.get().starts_with('{').then(|| serde_json::from_str(data.get()));
    let Some(Ok(RelayFields { to: Some(to), sdp, candidate })) = fields else {
        out.push(error(format!("{event} needs a peer id in \"to\"")));
        return;
    };
    let (kind, payload) = match event {
        "ice-candidate" => match candidate.map(RawValue::get) {
            Some(candidate) if candidate.starts_with('{') || candidate == "null" => {
                (SignalKind::IceCandidate, candidate.to_owned())
            }
            _ => return out.push(error("ice-candidate needs {from, to, candidate}")),
        },
        _ => {
            // The original client sends `sdp: pc.localDescription`, which is
            // `{type, sdp}` as JSON; a bare SDP string is taken too.
            let description = match sdp {
                Some(sdp) if sdp.get().starts_with('{') && is_description(sdp) => sdp.get().to_owned(),
                Some(sdp) if sdp.get().starts_with('"') => ObjectWriter::with_capacity(sdp.get().len() + 20)
                    .string("type", event)
                    .raw("sdp", sdp.get())
                    .finish(),
                _ => return out.push(error(format!("{event} needs {{from, to, type, sdp}}"))),
            };
            let kind = if event == "offer" { SignalKind::Offer } else { SignalKind::Answer };
            (kind, description)
        }
    };
    let signal = Signal { kind, payload: Payload::new(payload) };
    socket.quiet(Command::Relay { to: RelayTarget::Peer { room, peer: Arc::from(&*to) }, signal }, out);
}

/// Whether a description object has its `sdp` as a string.
fn is_description(description: &RawValue) -> bool {
    serde_json::from_str::<Description<'_>>(description.get())
        .is_ok_and(|description| description.sdp.get().starts_with('"'))
}

pub(crate) fn on_reply(
    socket: &mut SocketIoSession,
    pending: Pending,
    result: &Result<Reply, CommandError>,
    out: &mut Vec<Effect<SocketOut>>,
) {
    match (pending, result) {
        (Pending::Create { ack, room }, Ok(_)) => {
            let redirect = json!({ "status": true, "url_extend": format!("r/{room}") });
            out.push(emit("redirect", vec![redirect.clone()]));
            out.push(answer_ack(ack, vec![redirect]));
        }
        (Pending::Create { ack, room }, Err(failure)) => {
            let message = match failure {
                CommandError::RoomInUse(_) => format!("room {room} is in use; create another"),
                other => refusal(other),
            };
            let redirect = json!({ "status": false, "error": message });
            out.push(emit("redirect", vec![redirect.clone()]));
            out.push(answer_ack(ack, vec![redirect]));
        }
        (Pending::Join { ack }, Ok(Reply::Joined(view))) => {
            socket.tringtring.room = Some(view.id.clone());
            let mut peers = Vec::new();
            for peer in &view.peers {
                let Some(id) = &peer.peer_id else { continue };
                let name = peer_name(peer.status.peer.as_ref());
                peers.push(json!({ "peer_name": name, "peer_id": &**id }));
            }
            out.push(answer_ack(ack, vec![json!({ "room_id": view.id.as_str(), "peers": peers })]));
        }
        // A join refused: the original answered no ack, so none is answered.
        (Pending::Join { ack }, Err(CommandError::RoomFull(_))) => {
            out.push(emit("full-room", vec![]));
            out.push(release(ack));
        }
        (Pending::Join { ack }, Err(failure)) => {
            out.push(error(refusal(failure)));
            out.push(release(ack));
        }
        (Pending::Join { ack }, Ok(_)) => out.push(release(ack)),
    }
}

fn peer_name(status: Option<&Payload>) -> String {
    status
        .and_then(|status| serde_json::from_str::<Value>(status.as_str()).ok())
        .and_then(|status| status.get("peer_name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

pub(crate) fn on_core_event(socket: &mut SocketIoSession, event: &Event, out: &mut Vec<Effect<SocketOut>>) {
    match event {
        Event::PeerJoined { peer, size, .. } => {
            let Some(id) = &peer.peer_id else { return };
            let name = peer_name(peer.status.peer.as_ref());
            let arrived = json!({ "peer_name": name, "peer_id": &**id, "room_size": size });
            // The seed's name and the original's, together.
            out.push(emit("user-arrived", vec![arrived.clone()]));
            out.push(emit("user-joined", vec![arrived]));
        }
        Event::PeerLeft { peer_id: Some(id), .. } => {
            out.push(emit("user-left", vec![json!({ "peer_id": &**id })]));
        }
        Event::Relayed { from_peer, from_status, signal, .. } => {
            let payload = signal.payload.as_str();
            let frame = ObjectWriter::with_capacity(payload.len() + 128);
            let (name, frame) = match signal.kind {
                SignalKind::Offer | SignalKind::Answer => {
                    let kind = if signal.kind == SignalKind::Offer { "offer" } else { "answer" };
                    let from = ObjectWriter::new()
                        .string("name", &peer_name(from_status.as_ref()))
                        .string("id", from_peer)
                        .finish();
                    // `type` is the event's kind (`offer` or `answer`), as the
                    // original client sets it; `sdp` is the description
                    // object as the sender gave it, its own `type` with it.
                    let frame = frame.raw("from", &from).string("to", &socket.peer_id).string("type", kind);
                    (kind, frame.raw("sdp", payload))
                }
                SignalKind::IceCandidate => {
                    let frame = frame.string("from", from_peer).string("to", &socket.peer_id);
                    ("ice-candidate", frame.raw("candidate", payload))
                }
                SignalKind::Custom(_) => return,
            };
            match RawValue::from_string(frame.finish()) {
                Ok(frame) => out.push(Effect::Send(SocketOut::EmitRaw(name, frame))),
                // Never so: a payload is one JSON value (`Payload::new`).
                Err(_) => out.push(error(format!("a relayed {name} could not be written"))),
            }
        }
        _ => {}
    }
}
