//! What the core says: one event for one session at a time.

use std::sync::Arc;

use crate::{CallStyle, InviteId, NamespaceId, Payload, RoomId, SessionId, Signal, UserId};

/// One event for one session, drained with
/// [`Core::poll_output`](crate::Core::poll_output). The receiving session's
/// codec encodes it in that session's dialect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Output {
    /// Who receives it.
    pub to: SessionId,
    /// What happened.
    pub event: Event,
}

/// Why a call, an invite or a room membership ended: one list for every
/// dialect, each codec naming them in its own words.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum EndReason {
    /// A party hung up (or left the room).
    Hangup,
    /// The callee declined.
    Rejected,
    /// The callee was already ringing or in a call.
    Busy,
    /// Nobody answered within the ring timeout.
    Timeout,
    /// The caller withdrew the call while it rang.
    Cancelled,
    /// A party's connection closed.
    Disconnected,
    /// Another session of the same user answered (or declined) the call.
    AnsweredElsewhere,
}

impl EndReason {
    /// The reason's standard name, used by dialects that carry it as text:
    /// `hangup`, `rejected`, `busy`, `timeout`, `cancelled`, `disconnected`,
    /// `answered_elsewhere`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Hangup => "hangup",
            EndReason::Rejected => "rejected",
            EndReason::Busy => "busy",
            EndReason::Timeout => "timeout",
            EndReason::Cancelled => "cancelled",
            EndReason::Disconnected => "disconnected",
            EndReason::AnsweredElsewhere => "answered_elsewhere",
        }
    }
}

/// What happened, from the receiving session's point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Event {
    /// The answer to one of this session's commands
    /// ([`Request`](crate::Request) says when there is one).
    Reply {
        /// The request's tag, handed back untouched.
        tag: u64,
        /// What came of it.
        result: Result<Reply, CommandError>,
    },
    /// A call or an invite into a room rings this session (it goes to every
    /// session of the invited user).
    Ringing {
        /// The invite.
        invite: InviteId,
        /// The room, with its peers (the invitee left out) and status.
        room: RoomView,
        /// The caller.
        from: UserId,
        /// The caller's data (opaque).
        data: Payload,
        /// How the caller's dialect calls, for a codec that must translate
        /// for a caller of another style (cloudkibo plays its media room);
        /// `None` when this node was not told (a caller on another node).
        #[cfg_attr(feature = "serde", serde(default))]
        from_style: Option<CallStyle>,
    },
    /// To the caller: the callee answered the call.
    CallAccepted {
        /// The call's invite.
        invite: InviteId,
        /// The call's room, which both parties are now members of.
        room: RoomId,
        /// The callee.
        by: UserId,
        /// The callee's own message with its answer, if its dialect has one.
        note: Option<Payload>,
        /// How the callee's dialect calls (see [`Event::Ringing`]'s
        /// `from_style`).
        #[cfg_attr(feature = "serde", serde(default))]
        by_style: Option<CallStyle>,
    },
    /// To the caller: the call did not connect; the callee declined, was
    /// busy, timed out or went away.
    CallDeclined {
        /// The call's invite.
        invite: InviteId,
        /// The callee.
        by: UserId,
        /// [`EndReason::Rejected`], [`EndReason::Busy`],
        /// [`EndReason::Timeout`] or [`EndReason::Disconnected`].
        reason: EndReason,
        /// The callee's own message with its answer, if its dialect has one.
        note: Option<Payload>,
    },
    /// To a callee's session: the call stopped ringing without this session
    /// answering it.
    RingingStopped {
        /// The call's invite.
        invite: InviteId,
        /// The caller.
        from: UserId,
        /// [`EndReason::Cancelled`], [`EndReason::Timeout`],
        /// [`EndReason::Disconnected`] (the caller's), or
        /// [`EndReason::AnsweredElsewhere`].
        reason: EndReason,
        /// The caller's own message with its cancel, if its dialect has one.
        note: Option<Payload>,
    },
    /// To the other party: an accepted 1:1 call is over.
    CallEnded {
        /// The call's room, now gone.
        room: RoomId,
        /// The party that ended it.
        by: UserId,
        /// The party that placed the call (`by`, or the receiver): cloudkibo
        /// names both phones, caller first.
        caller: UserId,
        /// [`EndReason::Hangup`] or [`EndReason::Disconnected`].
        reason: EndReason,
    },
    /// To a named room's members and invitees: a peer joined, or was invited
    /// (`pending`).
    PeerJoined {
        /// The room.
        room: RoomId,
        /// The newcomer.
        peer: PeerInfo,
        /// Members and invitees of the room, the newcomer included.
        size: usize,
    },
    /// To a named room's members and invitees: a peer left, or its invite
    /// ended.
    PeerLeft {
        /// The room.
        room: RoomId,
        /// Who left.
        user: UserId,
        /// The leaver's member number (`None` for an invitee).
        member: Option<u32>,
        /// The leaver's peer id (`None` for an invitee).
        peer_id: Option<Arc<str>>,
        /// [`EndReason::Hangup`], [`EndReason::Disconnected`], or why the
        /// invite ended.
        reason: EndReason,
    },
    /// To a named room's members and invitees: a peer accepted its invite or
    /// changed its status.
    PeerUpdated {
        /// The room.
        room: RoomId,
        /// The peer.
        user: UserId,
        /// What changed.
        update: PeerUpdate,
    },
    /// To a named room's members and invitees (but the one who set it): the
    /// room's shared status changed. Carries the whole status.
    RoomStatusChanged {
        /// The room.
        room: RoomId,
        /// Every key and its value (JSON), in the order keys were first set.
        status: Vec<(Arc<str>, Payload)>,
    },
    /// A signal from another party.
    Relayed {
        /// The room the two share (a call's room while it rings); `None` on
        /// the ecall message channel, which needs none.
        room: Option<RoomId>,
        /// The sender.
        from: UserId,
        /// The sender's peer id.
        from_peer: Arc<str>,
        /// The sender's peer status in `room` (what it joined with: a
        /// tringtring `peer_name`), for a relay addressed by peer id.
        from_status: Option<Payload>,
        /// The message.
        signal: Signal,
    },
    /// To a session whose peer id a newer connection took: it is closed.
    Replaced,
    /// To a namespace's subscribers: something in its directory changed.
    Namespace {
        /// The namespace.
        namespace: NamespaceId,
        /// What changed.
        event: NamespaceEvent,
    },
}

/// A change in a namespace's directory of users and rooms.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum NamespaceEvent {
    /// A user registered in the namespace.
    UserAdded {
        /// The user.
        user: UserId,
        /// Its presence status.
        status: Option<Payload>,
    },
    /// A registered user changed its status.
    UserUpdated {
        /// The user.
        user: UserId,
        /// Its new status.
        status: Option<Payload>,
    },
    /// A user unregistered or went offline.
    UserRemoved {
        /// The user.
        user: UserId,
    },
    /// A room was registered in the namespace.
    RoomAdded {
        /// The room with its peers and status.
        room: RoomView,
    },
    /// A registered room's status changed.
    RoomUpdated {
        /// The room.
        room: RoomId,
        /// Its whole status.
        status: Vec<(Arc<str>, Payload)>,
    },
    /// A room was unregistered, or emptied.
    RoomRemoved {
        /// The room.
        room: RoomId,
    },
    /// A peer joined, or was invited into, a registered room.
    PeerAdded {
        /// The room.
        room: RoomId,
        /// The peer.
        peer: PeerInfo,
    },
    /// A peer of a registered room accepted or changed status.
    PeerUpdated {
        /// The room.
        room: RoomId,
        /// The peer.
        user: UserId,
        /// What changed.
        update: PeerUpdate,
    },
    /// A peer left a registered room.
    PeerRemoved {
        /// The room.
        room: RoomId,
        /// The peer.
        user: UserId,
    },
}

/// A peer's status as others see it: the user's presence status with the
/// status it gave in this room laid over it, key by key. The core keeps both
/// as opaque JSON; the codec merges them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeerStatus {
    /// The user's presence status.
    pub user: Option<Payload>,
    /// The status given on joining, accepting, or with a peer status request.
    pub peer: Option<Payload>,
}

/// One peer of a room.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PeerInfo {
    /// The peer's user.
    pub user: UserId,
    /// Its number in the room, once it has joined (`None` while only
    /// invited): given on joining, from 1, and held by no other member while
    /// it stays. cloudkibo's `id` of a media room's peer, as the original
    /// server numbered the sockets of a room.
    pub member: Option<u32>,
    /// Its session's peer id, once it has joined.
    pub peer_id: Option<Arc<str>>,
    /// Whether it is only invited.
    pub pending: bool,
    /// Its status.
    pub status: PeerStatus,
}

/// What changed about a peer.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum PeerUpdate {
    /// It accepted its invite: it is no longer pending.
    Accepted,
    /// Its status changed.
    Status(PeerStatus),
}

/// A room as a newcomer or a namespace subscriber sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RoomView {
    /// The room.
    pub id: RoomId,
    /// Its peers in the order they came.
    pub peers: Vec<PeerInfo>,
    /// In the reply to a join: the joiner's own member number
    /// ([`PeerInfo::member`]); `None` in every other view.
    pub member: Option<u32>,
    /// Its shared status, key by key.
    pub status: Vec<(Arc<str>, Payload)>,
}

/// What a successful command gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Reply {
    /// Done; nothing to report.
    Done,
    /// [`Command::Register`](crate::Command::Register): the session's name,
    /// and whether the core drew it.
    Registered {
        /// The name now held.
        user: UserId,
        /// `true` when the client asked for none.
        drawn: bool,
    },
    /// [`Command::Call`](crate::Command::Call) or
    /// [`Command::Invite`](crate::Command::Invite): the invite is ringing.
    Calling {
        /// The invite.
        invite: InviteId,
        /// The room.
        room: RoomId,
    },
    /// [`Command::Join`](crate::Command::Join): the room as the newcomer
    /// finds it (itself left out of the peers).
    Joined(RoomView),
    /// [`Command::Subscribe`](crate::Command::Subscribe): the namespace's
    /// registered users and rooms.
    Subscribed {
        /// Registered users and their status.
        users: Vec<(UserId, Option<Payload>)>,
        /// Registered rooms.
        rooms: Vec<RoomView>,
    },
}

/// Why a command was refused. The client is told, the state is unchanged,
/// and the session goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum CommandError {
    /// The command needs a registered user and the session has none.
    #[error("register first")]
    NotRegistered,
    /// The session registered already.
    #[error("this connection is already registered as {0}")]
    AlreadyRegistered(UserId),
    /// Another session holds that name.
    #[error("the name {0} is taken")]
    NameTaken(UserId),
    /// No online user of that name.
    #[error("no user {0} is online")]
    UnknownUser(UserId),
    /// The callee is ringing or in a call.
    #[error("{0} is busy")]
    Busy(UserId),
    /// The caller is ringing or in a call already.
    #[error("you are already ringing or in a call")]
    AlreadyInCall,
    /// A user called themself.
    #[error("you cannot call yourself")]
    SelfCall,
    /// No ringing call matches.
    #[error("no such ringing call")]
    NoSuchInvite,
    /// No call (ringing or accepted) with that user.
    #[error("you have no call with {0}")]
    NoCallWith(UserId),
    /// The room does not exist.
    #[error("room {0} does not exist")]
    NoSuchRoom(RoomId),
    /// The room has peers, so it cannot be created anew.
    #[error("room {0} is in use")]
    RoomInUse(RoomId),
    /// The room has no free place.
    #[error("room {0} is full")]
    RoomFull(RoomId),
    /// The session is not a member of the room.
    #[error("you are not in room {0}")]
    NotInRoom(RoomId),
    /// The session is a member of the room already.
    #[error("you are already in room {0}")]
    AlreadyInRoom(RoomId),
    /// The session is only invited to the room, not a member yet.
    #[error("you are only invited to room {0}")]
    OnlyInvited(RoomId),
    /// The receiver is not a member of the sender's room.
    #[error("{user} is not in room {room}")]
    PeerNotInRoom {
        /// The room.
        room: RoomId,
        /// The receiver named.
        user: UserId,
    },
    /// No member of the sender's room has that peer id.
    #[error("no peer {0} in this room")]
    UnknownPeer(Arc<str>),
    /// The receiver has no session and its held messages fill its mailbox.
    #[error("{0} is offline and has too many messages waiting")]
    MailboxFull(UserId),
    /// The session is in, or has invites pending into, as many rooms as
    /// [`CoreConfig::rooms_per_session`](crate::CoreConfig::rooms_per_session)
    /// allows (the number).
    #[error("you are in {0} rooms, the most allowed")]
    TooManyRooms(usize),
    /// The session, user or room is in as many namespaces as
    /// [`CoreConfig::namespaces_per_entry`](crate::CoreConfig::namespaces_per_entry)
    /// allows (the number).
    #[error("already in {0} namespaces, the most allowed")]
    TooManyNamespaces(usize),
    /// The sender holds messages for as many offline users as
    /// [`CoreConfig::mailboxes_per_sender`](crate::CoreConfig::mailboxes_per_sender)
    /// allows (the number).
    #[error("you have messages waiting for {0} offline users, the most allowed")]
    TooManyMailboxes(usize),
    /// The user rang (called, invited, made a room) faster than
    /// [`CoreConfig::ring_rate`](crate::CoreConfig::ring_rate), or the room
    /// was invited into faster than
    /// [`CoreConfig::room_invite_rate`](crate::CoreConfig::room_invite_rate).
    #[error("too many calls and invites; wait and try again")]
    RingLimit,
    /// The connection sent messages faster than its rate limit; the message
    /// was dropped (the server's per-connection limit, not the core's).
    #[error("too many messages; slow down")]
    RateLimited,
    /// The receiver is only invited to the room.
    #[error("{0} has not accepted the invite yet")]
    PeerPending(UserId),
    /// A compare-and-set of the room status found another value.
    #[error("the room status is not in the expected state")]
    StatusMismatch,
    /// No such namespace.
    #[error("namespace {0} does not exist")]
    NoSuchNamespace(NamespaceId),
    /// The session subscribed to the namespace already.
    #[error("you are already subscribed to namespace {0}")]
    AlreadySubscribed(NamespaceId),
    /// The session is not subscribed to the namespace.
    #[error("you are not subscribed to namespace {0}")]
    NotSubscribed(NamespaceId),
    /// The user registered in the namespace already.
    #[error("you are already registered in namespace {0}")]
    AlreadyInNamespace(NamespaceId),
    /// The user is not registered in the namespace.
    #[error("you are not registered in namespace {0}")]
    NotInNamespace(NamespaceId),
    /// The room is registered in the namespace already.
    #[error("room {room} is already registered in namespace {namespace}")]
    RoomAlreadyInNamespace {
        /// The namespace.
        namespace: NamespaceId,
        /// The room.
        room: RoomId,
    },
    /// The room is not registered in the namespace.
    #[error("room {room} is not registered in namespace {namespace}")]
    RoomNotInNamespace {
        /// The namespace.
        namespace: NamespaceId,
        /// The room.
        room: RoomId,
    },
    /// The connection's credentials (its token's `sub`) name another user:
    /// it may not register under this name. Made by the server's
    /// authorization check, never by the core.
    #[error("your credentials do not grant the name {0}")]
    NameNotGranted(UserId),
    /// The connection's credentials list the named rooms it may create,
    /// join or invite into (its token's `rooms` claim), and this one is not
    /// among them; `None`: a new room whose name the server would draw.
    /// Made by the server's authorization check, never by the core.
    #[error("your credentials do not grant {}", room_words(.0.as_ref()))]
    RoomNotGranted(Option<RoomId>),
    /// The node is draining before it stops (SIGTERM): calls in progress
    /// go on, but no new call, invite or room is started here. The client
    /// should try again once it has reconnected, to another node. Made by
    /// the server's driver, never by the core.
    #[error("the server is shutting down; call again in a moment")]
    Draining,
    /// The receiver's dialect has no form for what was sent, so nothing
    /// was sent (Step 13: a cross-dialect gap is refused, never dropped in
    /// silence). `what` says what, in a few words ("custom event chat").
    #[error("{to}'s app cannot take {what}")]
    NotCarried {
        /// The receiver.
        to: UserId,
        /// What it cannot take.
        what: Arc<str>,
    },
    /// The request needs the cluster's Redis (a name claimed across nodes,
    /// a user on another node) and Redis cannot be reached. Calls wholly on
    /// this node go on; the client may try again in a few seconds. Made by
    /// the server's cluster link, never by the core (`docs/cluster.md`).
    #[error("the cluster is unreachable; try again in a moment")]
    ClusterUnavailable,
}

impl CommandError {
    /// The error's kind in snake case (`busy`, `room_full`, `rate_limited`,
    /// …): a bounded label for metrics and logs, free of the names and ids
    /// the message carries.
    pub fn kind(&self) -> &'static str {
        match self {
            CommandError::NotRegistered => "not_registered",
            CommandError::AlreadyRegistered(_) => "already_registered",
            CommandError::NameTaken(_) => "name_taken",
            CommandError::UnknownUser(_) => "unknown_user",
            CommandError::Busy(_) => "busy",
            CommandError::AlreadyInCall => "already_in_call",
            CommandError::SelfCall => "self_call",
            CommandError::NoSuchInvite => "no_such_invite",
            CommandError::NoCallWith(_) => "no_call_with",
            CommandError::NoSuchRoom(_) => "no_such_room",
            CommandError::RoomInUse(_) => "room_in_use",
            CommandError::RoomFull(_) => "room_full",
            CommandError::NotInRoom(_) => "not_in_room",
            CommandError::AlreadyInRoom(_) => "already_in_room",
            CommandError::OnlyInvited(_) => "only_invited",
            CommandError::PeerNotInRoom { .. } => "peer_not_in_room",
            CommandError::UnknownPeer(_) => "unknown_peer",
            CommandError::MailboxFull(_) => "mailbox_full",
            CommandError::TooManyRooms(_) => "too_many_rooms",
            CommandError::TooManyNamespaces(_) => "too_many_namespaces",
            CommandError::TooManyMailboxes(_) => "too_many_mailboxes",
            CommandError::RingLimit => "ring_limit",
            CommandError::RateLimited => "rate_limited",
            CommandError::PeerPending(_) => "peer_pending",
            CommandError::StatusMismatch => "status_mismatch",
            CommandError::NoSuchNamespace(_) => "no_such_namespace",
            CommandError::AlreadySubscribed(_) => "already_subscribed",
            CommandError::NotSubscribed(_) => "not_subscribed",
            CommandError::AlreadyInNamespace(_) => "already_in_namespace",
            CommandError::NotInNamespace(_) => "not_in_namespace",
            CommandError::RoomAlreadyInNamespace { .. } => "room_already_in_namespace",
            CommandError::RoomNotInNamespace { .. } => "room_not_in_namespace",
            CommandError::NameNotGranted(_) => "name_not_granted",
            CommandError::RoomNotGranted(_) => "room_not_granted",
            CommandError::Draining => "draining",
            CommandError::NotCarried { .. } => "not_carried",
            CommandError::ClusterUnavailable => "cluster_unavailable",
        }
    }
}

/// The room of a [`CommandError::RoomNotGranted`], in words.
fn room_words(room: Option<&RoomId>) -> String {
    match room {
        Some(room) => format!("room {room}"),
        None => "a new room".to_owned(),
    }
}
