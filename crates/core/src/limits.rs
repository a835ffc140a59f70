//! The bounds on what one session or user may hold or start, so that no
//! client can grow the server's memory without limit or ring others faster
//! than a person would: places (rooms and pending invites) per session, and
//! the ring rates. Namespace and mailbox bounds sit where those are kept
//! (`namespaces.rs`, `state/mailboxes.rs`).

use crate::{CommandError, Core, RoomId, SessionId, UserId};

impl Core {
    /// Whether `session` may take one more place: a room it joins or is in,
    /// or an invite it sends.
    ///
    /// # Errors
    /// [`CommandError::TooManyRooms`] when it holds
    /// [`CoreConfig::rooms_per_session`](crate::CoreConfig::rooms_per_session) already.
    pub(crate) fn check_places(&self, session: SessionId) -> Result<(), CommandError> {
        let max = self.config.rooms_per_session;
        let held = self.rooms.of_session(session).len() + self.invites.outgoing(session).len();
        if held >= max { Err(CommandError::TooManyRooms(max)) } else { Ok(()) }
    }

    /// Takes one ring (a call, an invite, a room made) from `user`'s bucket.
    ///
    /// # Errors
    /// [`CommandError::RingLimit`] when the bucket is empty.
    pub(crate) fn take_ring(&mut self, user: &UserId) -> Result<(), CommandError> {
        let now = self.now();
        if self.throttles.ring(user, now) { Ok(()) } else { Err(CommandError::RingLimit) }
    }

    /// Takes one invite into `room` from the room's bucket.
    ///
    /// # Errors
    /// [`CommandError::RingLimit`] when the bucket is empty.
    pub(crate) fn take_room_invite(&mut self, room: &RoomId) -> Result<(), CommandError> {
        let now = self.now();
        if self.throttles.invite_into(room, now) { Ok(()) } else { Err(CommandError::RingLimit) }
    }
}
