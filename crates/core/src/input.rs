//! What the core is told: connections coming and going, and commands.

use std::sync::Arc;

use crate::{CallStyle, InviteId, NamespaceId, Payload, RoomId, SessionId, Signal, UserId};

/// One input to [`Core::handle_input`](crate::Core::handle_input). The time
/// comes beside it, never from a clock.
#[derive(Clone, Debug)]
pub enum Input {
    /// A connection opened. Commands from a session the core has not been
    /// told of are ignored (that would be a driver bug, not a client's).
    Connected {
        /// The driver's number for the connection.
        session: SessionId,
        /// How the transport names the connection to other clients (a
        /// socket.io `socket.id`); `None` names it by its number.
        peer_id: Option<Arc<str>>,
        /// How its dialect calls ([`CallStyle`]), which decides how a call
        /// with a party of another dialect is carried. `None` for a stand-in
        /// of a session of another node, whose style this node is not told:
        /// it is carried as before any cross-dialect rule (Step 13 applies
        /// to parties on one node; `docs/cluster.md`).
        style: Option<CallStyle>,
    },
    /// The session's dialect became known after it connected (a socket.io
    /// connection is bound to cloudkibo or tringtring by its first event):
    /// its call style from now on. Ignored for a session the core does not
    /// know.
    Styled {
        /// The session.
        session: SessionId,
        /// Its call style.
        style: CallStyle,
    },
    /// A decoded client request.
    Command {
        /// Who sent it.
        session: SessionId,
        /// How to answer it.
        request: Request,
        /// What to do.
        command: Command,
    },
    /// A connection closed, for whatever reason. Ends the session's calls
    /// ([`EndReason::Disconnected`](crate::EndReason::Disconnected)).
    Disconnected {
        /// The session that is gone.
        session: SessionId,
    },
    /// Makes sure a named room exists, outside any session: tringtring's
    /// `POST /r/<room_id>`, the original server's way of creating rooms
    /// (`server.js`). A missing room is created empty with `capacity`
    /// places, and deleted after the empty-room grace period unless someone
    /// joins; a room that exists is left as it is.
    OpenRoom {
        /// The room.
        room: RoomId,
        /// Its places, when it is created.
        capacity: usize,
    },
    /// The driver woke at [`Core::poll_timeout`](crate::Core::poll_timeout).
    /// Deadlines are also checked on every other input.
    Timeout,
}

/// How a command is answered. Every failure is answered with
/// [`Event::Reply`](crate::Event::Reply); a success only when asked, because
/// most dialects say nothing on success (a relay is just delivered).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// Opaque to the core and handed back in the reply, so the codec can tell
    /// which request it answers (a calling `tid`, a chatroulette type).
    pub tag: u64,
    /// Whether a successful command is answered too.
    pub reply_on_success: bool,
}

impl Request {
    /// A request answered only if it fails.
    pub fn quiet(tag: u64) -> Self {
        Self { tag, reply_on_success: false }
    }

    /// A request answered whatever the outcome.
    pub fn answered(tag: u64) -> Self {
        Self { tag, reply_on_success: true }
    }
}

/// A client request, already decoded from its dialect.
#[derive(Clone, Debug)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Command {
    /// Claims a user name for this session (chatroulette `CONNECT`, cloudkibo
    /// `join global chatroom`, calling's implicit identity). `None` draws an
    /// unguessable name (a UUID v4). A name held by another session is
    /// refused ([`CommandError::NameTaken`](crate::CommandError::NameTaken))
    /// unless both registrations are `shared`, and a session registers once.
    Register {
        /// The wanted name, or `None` for a drawn one.
        user: Option<UserId>,
        /// Whether several sessions may hold the name (a cloudkibo phone on
        /// several devices). All of them ring for a call.
        shared: bool,
    },
    /// Sets the user's presence status, an opaque JSON object. Namespaces
    /// the user is registered in and rooms it is a peer of are told.
    SetStatus {
        /// The new status.
        status: Payload,
    },
    /// Answers at once, after every event caused by earlier commands (the
    /// calling `ping`; clients use it to know those events have arrived).
    Ping,
    /// Rings `to` in a new 1:1 call: a room of capacity 2 that the caller
    /// joins, and an invite to `to` that rings every session of `to` until it
    /// is answered, cancelled, or the ring timeout passes. Refused when either
    /// side is busy (ringing or in a call).
    Call {
        /// The callee.
        to: UserId,
        /// Data shown with the ringing call (opaque).
        data: Payload,
    },
    /// Invites `to` into a named room, created when it does not exist. The
    /// invitee becomes a pending peer of the room and every session of it
    /// rings; there is no ring timeout and no busy rule (calling
    /// `invite_send`). The inviter need not be a member.
    Invite {
        /// The room.
        room: RoomId,
        /// The invitee.
        to: UserId,
        /// Data shown with the invite (opaque).
        data: Payload,
    },
    /// Answers a ringing call or invite: the session joins the room; the
    /// caller is told, and the callee's other sessions stop ringing.
    Accept {
        /// Which call.
        invite: InviteRef,
        /// The peer status to join the room with (named rooms).
        status: Option<Payload>,
        /// The client's own message with the answer, handed to the caller
        /// in [`Event::CallAccepted`](crate::Event::CallAccepted) (a
        /// cloudkibo `msg`); opaque.
        note: Option<Payload>,
    },
    /// Declines a ringing call.
    Reject {
        /// Which call.
        invite: InviteRef,
        /// [`EndReason::Rejected`](crate::EndReason::Rejected), or
        /// [`EndReason::Busy`](crate::EndReason::Busy) when the callee's
        /// client says it is busy (cloudkibo `calleeisbusy`).
        reason: crate::EndReason,
        /// The client's own message, handed to the caller in
        /// [`Event::CallDeclined`](crate::Event::CallDeclined).
        note: Option<Payload>,
    },
    /// The caller withdraws a ringing call
    /// ([`EndReason::Cancelled`](crate::EndReason::Cancelled)).
    Cancel {
        /// Which call.
        invite: InviteRef,
        /// The client's own message, handed to the callee in
        /// [`Event::RingingStopped`](crate::Event::RingingStopped).
        note: Option<Payload>,
    },
    /// Ends the 1:1 call between this session and `peer`, ringing or
    /// accepted, for a reason the other party's side decided: the cluster
    /// link's way of carrying a hang-up, a cancel, a decline, a ring timeout
    /// or a disconnect from the node that holds the other party
    /// (`docs/cluster.md`). A ringing call this session makes is withdrawn
    /// (the callee hears [`Event::RingingStopped`](crate::Event::RingingStopped)
    /// with `reason`); one ringing this session is declined (the caller
    /// hears [`Event::CallDeclined`](crate::Event::CallDeclined)); an accepted
    /// one ends ([`Event::CallEnded`](crate::Event::CallEnded)). No clients'
    /// dialect decodes to it. Refused with
    /// [`CommandError::NoCallWith`](crate::CommandError::NoCallWith) when
    /// there is no such call (it ended on this side first).
    EndCallWith {
        /// The other party.
        peer: UserId,
        /// Why the call ended.
        reason: crate::EndReason,
        /// The other party's own message with it, if its dialect has one.
        note: Option<Payload>,
    },
    /// Creates a named room (tringtring `create-room`). A room that exists
    /// but is empty is taken over; one with peers is refused
    /// ([`CommandError::RoomInUse`](crate::CommandError::RoomInUse)).
    CreateRoom {
        /// The room.
        room: RoomId,
        /// Its places.
        capacity: usize,
    },
    /// Joins a named room, creating it when `create` gives a capacity.
    Join {
        /// The room; `None` joins a new room with a drawn name (UUID v4).
        room: Option<RoomId>,
        /// `Some(capacity)`: create the room with that many places if it does
        /// not exist. `None`: the room must exist.
        create: Option<usize>,
        /// The peer status to join with.
        status: Option<Payload>,
    },
    /// Sets this session's peer status in a room it is a member of; `None`
    /// changes nothing but still checks membership.
    SetPeerStatus {
        /// The room.
        room: RoomId,
        /// The new peer status.
        status: Option<Payload>,
    },
    /// Sets one key of a room's shared status (calling `room_status`).
    SetRoomStatus {
        /// The room, which this session must be a member of.
        room: RoomId,
        /// The key.
        key: Arc<str>,
        /// The new value (JSON), or `None` to remove the key.
        value: Option<Payload>,
        /// Compare-and-set: `Some(expected)` refuses the change unless the
        /// key's value is `expected` (`None`: the key is unset). Codecs pass
        /// canonical JSON, so equal values are equal texts.
        #[cfg_attr(feature = "serde", serde(with = "compare_and_set"))]
        check: Option<Option<Payload>>,
    },
    /// Subscribes to a namespace's directory (created if needed); the reply
    /// lists its users and rooms.
    Subscribe {
        /// The namespace.
        namespace: NamespaceId,
    },
    /// Ends a subscription.
    Unsubscribe {
        /// The namespace.
        namespace: NamespaceId,
    },
    /// Lists the user in a namespace (created if needed).
    RegisterUser {
        /// The namespace.
        namespace: NamespaceId,
    },
    /// Takes the user out of a namespace.
    UnregisterUser {
        /// The namespace.
        namespace: NamespaceId,
    },
    /// Lists an existing room in a namespace (created if needed). Any user
    /// may do so. An emptied room leaves its namespaces by itself.
    RegisterRoom {
        /// The namespace.
        namespace: NamespaceId,
        /// The room.
        room: RoomId,
    },
    /// Takes a room out of a namespace.
    UnregisterRoom {
        /// The namespace.
        namespace: NamespaceId,
        /// The room.
        room: RoomId,
    },
    /// Leaves a room. Leaving a 1:1 call is hanging up: it ends the call for
    /// both parties.
    Leave {
        /// Which room.
        room: RoomRef,
    },
    /// Sends a signal (SDP, ICE candidate, custom event) to another party.
    /// Allowed only between the two parties of a ringing or accepted call
    /// (trickle ICE may start before the answer), or between members of the
    /// same room.
    Relay {
        /// Who receives it.
        to: RelayTarget,
        /// What is sent.
        signal: Signal,
    },
}

/// Names a ringing call, by handle or by the other party.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum InviteRef {
    /// By the core's id.
    Id(InviteId),
    /// The call ringing this session's user, from this caller (chatroulette
    /// `ACCEPT_CALL {from}`).
    From(UserId),
    /// The call this session is making to this callee (`CANCEL_CALL {to}`).
    To(UserId),
}

/// Names a room, by id or by the other party of a 1:1 call.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RoomRef {
    /// By name.
    Id(RoomId),
    /// The call (ringing or accepted) between this session and that user.
    CallWith(UserId),
}

/// The receiver of a relay.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum RelayTarget {
    /// The other party of this session's call with that user, ringing or
    /// accepted.
    CallPeer(UserId),
    /// Every session of `user` that is a member of `room`, which the sender
    /// must be a member of too.
    RoomMember {
        /// The shared room.
        room: RoomId,
        /// The receiving member.
        user: UserId,
    },
    /// The member of `room` with this peer id (a socket.io `socket.id`).
    Peer {
        /// The shared room.
        room: RoomId,
        /// The receiver's peer id.
        peer: Arc<str>,
    },
    /// Every session of `user` (or only its session with peer id `peer`),
    /// and every other session of the sender's own user: the ecall dialect's
    /// message channel, which plays the Wire backend delivering end-to-end
    /// encrypted messages between users (seed 004). No call or room is
    /// needed. A user with no session gets the message when one connects,
    /// if that happens within the ring timeout.
    User {
        /// The receiving user.
        user: UserId,
        /// One of its sessions, by peer id (`user/client`), or all.
        peer: Option<Arc<str>>,
    },
}

/// `SetRoomStatus::check` on the cluster link: serde would write both
/// `None` (no check) and `Some(None)` (the key must be unset) as `null`.
#[cfg(feature = "serde")]
mod compare_and_set {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::Payload;

    #[derive(Serialize, Deserialize)]
    #[serde(rename_all = "snake_case")]
    enum Check {
        None,
        Unset,
        Is(Payload),
    }

    pub(super) fn serialize<S: Serializer>(check: &Option<Option<Payload>>, serializer: S) -> Result<S::Ok, S::Error> {
        match check {
            None => Check::None,
            Some(None) => Check::Unset,
            Some(Some(value)) => Check::Is(value.clone()),
        }
        .serialize(serializer)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<Payload>>, D::Error> {
        Ok(match Check::deserialize(deserializer)? {
            Check::None => None,
            Check::Unset => Some(None),
            Check::Is(value) => Some(Some(value)),
        })
    }
}
