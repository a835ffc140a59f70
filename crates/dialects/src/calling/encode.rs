//! Core events to calling frames. Where the seed and the original server
//! name an event differently, both are sent (PROTOCOLS.md: a client that
//! listens only for one family must be told; rtc-lib ignores types it does
//! not know).

use serde_json::{Map, Value};
use switchboard_core::{
    CommandError, NamespaceEvent, NamespaceId, Payload, PeerInfo, PeerStatus, PeerUpdate, RoomId, RoomView, SignalKind,
};

use crate::codec::Frames;
use crate::json::ObjectWriter;

/// A peer's status as others see it: the user's status with the peer
/// status laid over it, key by key (the original's `RoomUser.update_status`).
pub(crate) fn merged(status: &PeerStatus) -> String {
    let mut merged = Map::new();
    for part in [&status.user, &status.peer].into_iter().flatten() {
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(part.as_str()) {
            merged.extend(fields);
        }
    }
    Value::Object(merged).to_string()
}

/// A user's presence status, `{}` until it sets one (the original's
/// `status_handler` initialises it so).
pub(crate) fn presence(status: &Option<Payload>) -> &str {
    status.as_ref().map_or("{}", Payload::as_str)
}

/// `{key: value, ...}` of a room status.
pub(crate) fn room_status(status: &[(std::sync::Arc<str>, Payload)]) -> String {
    status.iter().fold(ObjectWriter::new(), |object, (key, value)| object.raw(key, value.as_str())).finish()
}

/// `{user: {pending, status}, ...}`.
pub(crate) fn peers(peers: &[PeerInfo]) -> String {
    peers
        .iter()
        .fold(ObjectWriter::new(), |object, peer| {
            let entry =
                ObjectWriter::new().boolean("pending", peer.pending).raw("status", &merged(&peer.status)).finish();
            object.raw(peer.user.as_str(), &entry)
        })
        .finish()
}

/// `{room, peers, status}`: the answer to `room_join`.
pub(crate) fn joined(view: &RoomView) -> String {
    ObjectWriter::new()
        .string("room", view.id.as_str())
        .raw("peers", &peers(&view.peers))
        .raw("status", &room_status(&view.status))
        .finish()
}

/// `{status, peers}`: one room of an `ns_subscribe` answer.
pub(crate) fn room_description(view: &RoomView) -> String {
    ObjectWriter::new().raw("status", &room_status(&view.status)).raw("peers", &peers(&view.peers)).finish()
}

fn event(kind: &str) -> ObjectWriter {
    ObjectWriter::new().string("type", kind)
}

pub(crate) fn room_peer_add(room: &RoomId, peer: &PeerInfo) -> String {
    event("room_peer_add")
        .string("room", room.as_str())
        .string("user", peer.user.as_str())
        .boolean("pending", peer.pending)
        .raw("status", &merged(&peer.status))
        .finish()
}

pub(crate) fn room_peer_rm(room: &RoomId, user: &str) -> String {
    event("room_peer_rm").string("room", room.as_str()).string("user", user).finish()
}

pub(crate) fn room_peer_update(room: &RoomId, user: &str, update: &PeerUpdate) -> String {
    with_update(event("room_peer_update").string("room", room.as_str()).string("user", user), update).finish()
}

fn with_update(object: ObjectWriter, update: &PeerUpdate) -> ObjectWriter {
    match update {
        PeerUpdate::Accepted => object.boolean("pending", false),
        PeerUpdate::Status(status) => object.raw("status", &merged(status)),
    }
}

pub(crate) fn room_update(room: &RoomId, status: &[(std::sync::Arc<str>, Payload)]) -> String {
    event("room_update").string("room", room.as_str()).raw("status", &room_status(status)).finish()
}

/// `room_peer_from`: an offer or answer goes out as rtc-lib's `signaling`
/// event, a candidate as `ice_candidate`.
pub(crate) fn room_peer_from(room: &RoomId, from: &str, kind: &SignalKind, data: &Payload) -> String {
    let name = match kind {
        SignalKind::Offer | SignalKind::Answer => "signaling",
        SignalKind::IceCandidate => "ice_candidate",
        SignalKind::Custom(name) => name,
    };
    ObjectWriter::with_capacity(data.len() + 128)
        .string("type", "room_peer_from")
        .string("room", room.as_str())
        .string("user", from)
        .string("event", name)
        .raw("data", data.as_str())
        .finish()
}

/// The frames of a namespace event: the original's name, and the seed's
/// where it differs.
pub(crate) fn namespace(namespace: &NamespaceId, change: &NamespaceEvent, out: &mut impl Frames) {
    let ns = namespace.as_str();
    let start = |kind: &str| event(kind).string("namespace", ns);
    match change {
        NamespaceEvent::UserAdded { user, status } => {
            out.push_frame(start("ns_user_add").string("user", user.as_str()).raw("status", presence(status)).finish());
        }
        NamespaceEvent::UserUpdated { user, status } => {
            for kind in ["ns_user_update", "user_update"] {
                out.push_frame(start(kind).string("user", user.as_str()).raw("status", presence(status)).finish());
            }
        }
        NamespaceEvent::UserRemoved { user } => {
            out.push_frame(start("ns_user_rm").string("user", user.as_str()).finish())
        }
        NamespaceEvent::RoomAdded { room } => out.push_frame(
            start("ns_room_add")
                .string("room", room.id.as_str())
                .raw("status", &room_status(&room.status))
                .raw("peers", &peers(&room.peers))
                .finish(),
        ),
        NamespaceEvent::RoomUpdated { room, status } => out.push_frame(
            start("ns_room_update").string("room", room.as_str()).raw("status", &room_status(status)).finish(),
        ),
        NamespaceEvent::RoomRemoved { room } => {
            out.push_frame(start("ns_room_rm").string("room", room.as_str()).finish())
        }
        NamespaceEvent::PeerAdded { room, peer } => {
            for kind in ["ns_room_peer_add", "ns_room_user_add"] {
                out.push_frame(
                    start(kind)
                        .string("room", room.as_str())
                        .string("user", peer.user.as_str())
                        .raw("status", &merged(&peer.status))
                        .boolean("pending", peer.pending)
                        .finish(),
                );
            }
        }
        NamespaceEvent::PeerUpdated { room, user, update } => {
            for kind in ["ns_room_peer_update", "ns_room_user_update"] {
                let object = start(kind).string("room", room.as_str()).string("user", user.as_str());
                out.push_frame(with_update(object, update).finish());
            }
        }
        NamespaceEvent::PeerRemoved { room, user } => {
            for kind in ["ns_room_peer_rm", "ns_room_user_rm"] {
                out.push_frame(start(kind).string("room", room.as_str()).string("user", user.as_str()).finish());
            }
        }
    }
}

/// The calling dialect's words for each refusal: the original
/// calling-signaling server's strings where it had the refusal, and
/// switchboard's own words, written here, for the rest. A match with no
/// catch-all, so that a refusal the core adds does not compile here until
/// this dialect is given its words, and the core's `Display` text never
/// reaches the wire: rewording the core must not change this protocol.
pub(crate) fn error_text(error: &CommandError) -> String {
    match error {
        // The original server's strings.
        CommandError::NotInRoom(_) => "You are not in the room".into(),
        CommandError::OnlyInvited(_) => "You are only invited to the room".into(),
        CommandError::AlreadyInRoom(_) => "User is already in room".into(),
        CommandError::UnknownUser(_) | CommandError::PeerNotInRoom { .. } => "Unknown recipient".into(),
        CommandError::PeerPending(_) => "Recipient is pending".into(),
        CommandError::StatusMismatch => "Status not in expected state".into(),
        CommandError::NoSuchRoom(_) => "Room does not exist".into(),
        CommandError::NoSuchNamespace(_) => "Namespace does not exist".into(),
        CommandError::NoSuchInvite => "Invalid invitation handle".into(),
        CommandError::AlreadySubscribed(_) => "User was already subscribed to that namespace".into(),
        CommandError::NotSubscribed(_) => "User was not subscribed to namespace".into(),
        CommandError::AlreadyInNamespace(_) => "User was already registered to that namespace".into(),
        CommandError::NotInNamespace(_) => "User was not registered to namespace".into(),
        CommandError::RoomAlreadyInNamespace { .. } => "Room was already registered to that namespace".into(),
        CommandError::RoomNotInNamespace { .. } => "Room was not registered to namespace".into(),
        // Refusals the original never had.
        CommandError::NotRegistered => "register first".into(),
        CommandError::NotCarried { to, what } => format!("{to}'s app cannot take {what}"),
        CommandError::AlreadyRegistered(user) => format!("this connection is already registered as {user}"),
        CommandError::NameTaken(user) => format!("the name {user} is taken"),
        CommandError::Busy(user) => format!("{user} is busy"),
        CommandError::AlreadyInCall => "you are already ringing or in a call".into(),
        CommandError::SelfCall => "you cannot call yourself".into(),
        CommandError::NoCallWith(user) => format!("you have no call with {user}"),
        CommandError::RoomInUse(room) => format!("room {room} is in use"),
        CommandError::RoomFull(room) => format!("room {room} is full"),
        CommandError::UnknownPeer(peer) => format!("no peer {peer} in this room"),
        CommandError::MailboxFull(user) => format!("{user} is offline and has too many messages waiting"),
        CommandError::TooManyRooms(max) => format!("you are in {max} rooms, the most allowed"),
        CommandError::TooManyNamespaces(max) => format!("already in {max} namespaces, the most allowed"),
        CommandError::TooManyMailboxes(max) => {
            format!("you have messages waiting for {max} offline users, the most allowed")
        }
        CommandError::RingLimit => "too many calls and invites; wait and try again".into(),
        CommandError::RateLimited => "too many messages; slow down".into(),
        CommandError::NameNotGranted(user) => format!("your token does not grant the name {user}"),
        CommandError::RoomNotGranted(Some(room)) => format!("your token does not grant room {room}"),
        CommandError::RoomNotGranted(None) => "your token does not grant a new room".into(),
        CommandError::Draining => "Server is shutting down, reconnect and try again".into(),
        CommandError::ClusterUnavailable => "Cluster is unreachable, try again in a moment".into(),
    }
}

/// `{type: "answer", tid, data}`, `{type: "answer", tid}` or
/// `{type: "answer", tid, error}`.
pub(crate) fn answer(tid: &str, outcome: Result<Option<&str>, &str>) -> String {
    let object = event("answer").raw("tid", tid);
    match outcome {
        Ok(Some(data)) => object.raw("data", data),
        Ok(None) => object,
        Err(error) => object.string("error", error),
    }
    .finish()
}

/// `{type: "error", error}`: a frame that is not a request at all.
pub(crate) fn error(message: &str) -> String {
    event("error").string("error", message).finish()
}

#[cfg(test)]
mod tests {
    use switchboard_core::{CommandError, RoomId, UserId};

    use super::error_text;

    #[test]
    fn refusals_are_worded_in_the_calling_dialects_own_words() {
        let bob = || UserId::parse("bob").unwrap();
        let room = || RoomId::parse("r1").unwrap();
        // The original server's strings.
        assert_eq!(error_text(&CommandError::UnknownUser(bob())), "Unknown recipient");
        assert_eq!(error_text(&CommandError::PeerNotInRoom { room: room(), user: bob() }), "Unknown recipient");
        assert_eq!(error_text(&CommandError::NotInRoom(room())), "You are not in the room");
        // switchboard's words for the refusals the original never had.
        assert_eq!(error_text(&CommandError::Busy(bob())), "bob is busy");
        assert_eq!(error_text(&CommandError::RoomFull(room())), "room r1 is full");
    }
}
