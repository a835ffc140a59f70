//! What the core says: one event for one session at a time.

use crate::{InviteId, Payload, RoomId, SessionId, Signal, UserId};

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
pub enum Event {
    /// The answer to one of this session's commands
    /// ([`Request`](crate::Request) says when there is one).
    Reply {
        /// The request's tag, handed back untouched.
        tag: u64,
        /// What came of it.
        result: Result<Reply, CommandError>,
    },
    /// A call rings this session (it goes to every session of the callee).
    Ringing {
        /// The call's invite.
        invite: InviteId,
        /// The call's room.
        room: RoomId,
        /// The caller.
        from: UserId,
        /// The caller's data (opaque).
        data: Payload,
    },
    /// To the caller: the callee answered the call.
    CallAccepted {
        /// The call's invite.
        invite: InviteId,
        /// The call's room, which both parties are now members of.
        room: RoomId,
        /// The callee.
        by: UserId,
    },
    /// To the caller: the call did not connect; the callee declined, was
    /// busy, timed out or went away.
    CallDeclined {
        /// The call's invite.
        invite: InviteId,
        /// The callee.
        by: UserId,
        /// [`EndReason::Rejected`], [`EndReason::Timeout`] or
        /// [`EndReason::Disconnected`].
        reason: EndReason,
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
    },
    /// To the other party: an accepted 1:1 call is over.
    CallEnded {
        /// The call's room, now gone.
        room: RoomId,
        /// The party that ended it.
        by: UserId,
        /// [`EndReason::Hangup`] or [`EndReason::Disconnected`].
        reason: EndReason,
    },
    /// To a room's members: someone joined the (named) room.
    PeerJoined {
        /// The room.
        room: RoomId,
        /// The newcomer.
        user: UserId,
        /// The newcomer's session, for dialects that address peers by
        /// connection (tringtring's `peer_id`).
        session: SessionId,
    },
    /// To a room's members: someone left the (named) room.
    PeerLeft {
        /// The room.
        room: RoomId,
        /// Who left.
        user: UserId,
        /// The leaver's session.
        session: SessionId,
        /// [`EndReason::Hangup`] or [`EndReason::Disconnected`].
        reason: EndReason,
    },
    /// A signal from another party.
    Relayed {
        /// The sender.
        from: UserId,
        /// The message.
        signal: Signal,
    },
}

/// What a successful command gives back.
#[derive(Clone, Debug, PartialEq, Eq)]
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
    /// [`Command::Call`](crate::Command::Call): the call is ringing.
    Calling {
        /// The call's invite.
        invite: InviteId,
        /// The call's room.
        room: RoomId,
    },
    /// [`Command::Join`](crate::Command::Join): the members before this one.
    Joined {
        /// The room.
        room: RoomId,
        /// Its other members, in the order they joined.
        peers: Vec<(UserId, SessionId)>,
    },
}

/// Why a command was refused. The client is told, the state is unchanged,
/// and the session goes on.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
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
    /// The room has no free place.
    #[error("room {0} is full")]
    RoomFull(RoomId),
    /// The session is not a member of the room.
    #[error("you are not in room {0}")]
    NotInRoom(RoomId),
    /// The session is a member of the room already.
    #[error("you are already in room {0}")]
    AlreadyInRoom(RoomId),
    /// The receiver is not a member of the sender's room.
    #[error("{user} is not in room {room}")]
    PeerNotInRoom {
        /// The room.
        room: RoomId,
        /// The receiver named.
        user: UserId,
    },
}
