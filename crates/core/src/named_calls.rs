//! 1:1 calls in a calling user's named room (Step 13). rtc-lib calls by
//! joining a room and inviting the callee into it; when the callee's
//! dialect knows only 1:1 calls, that invite is a call: it rings with the
//! ring timeout and the busy rule, the room has two places while the call
//! lasts, relays to the call peer reach the room, and whoever leaves ends
//! the call for the other. The calling side sees its room as always
//! (`room_peer_add`, `room_peer_update`, `room_peer_rm`); the one-to-one
//! side sees a call (`Ringing`, `CallEnded`).

use crate::state::{Deadline, RoomKind};
use crate::{CommandError, Core, EndReason, Event, NamespaceEvent, Payload, Reply, RoomId, SessionId, UserId};

impl Core {
    /// `session` (of user `from`) invites one-to-one user `to` into `room`,
    /// which must hold the inviter alone.
    ///
    /// # Errors
    /// [`CommandError::SelfCall`] for oneself;
    /// [`CommandError::NoSuchRoom`] or [`CommandError::NotInRoom`] unless the
    /// inviter is a member; [`CommandError::NotCarried`] when the room has
    /// other peers (a 1:1 dialect cannot join a group);
    /// [`CommandError::AlreadyInCall`] and [`CommandError::Busy`] by the busy
    /// rule; the place and ring limits.
    pub(crate) fn invite_as_call(
        &mut self,
        session: SessionId,
        from: UserId,
        room: RoomId,
        to: UserId,
        data: Payload,
    ) -> Result<Reply, CommandError> {
        if to == from {
            return Err(CommandError::SelfCall);
        }
        self.check_member(session, &room)?;
        let state = self.rooms.get(&room).ok_or_else(|| CommandError::NoSuchRoom(room.clone()))?;
        if state.kind != RoomKind::Named || self.peers_in(&room, state) != 1 || state.call.is_some() {
            return Err(CommandError::NotCarried { to, what: "an invite into a room with others in it".into() });
        }
        self.check_both_free(session, &from, &to)?;
        self.check_places(session)?;
        self.take_ring(&from)?;
        self.take_room_invite(&room)?;
        self.rooms.start_named_call(&room, from.clone());
        self.tell_of_invitee(&room, &to);
        let rings_until = self.now() + self.config.ring_timeout;
        let invite = self.ring(session, from, to, room.clone(), data, Some(rings_until));
        self.deadlines.set(rings_until, Deadline::Ring(invite));
        Ok(Reply::Calling { invite, room })
    }

    /// After `user` (of `session`) left named room `room`: if the room
    /// carried a call, the call is over. A call still ringing is withdrawn
    /// (the inviter left), and the one-to-one members left behind are told
    /// the call ended and leave too; the room gets its places back.
    pub(crate) fn named_call_left(&mut self, session: SessionId, user: &UserId, room: &RoomId, reason: EndReason) {
        let Some(call) = self.rooms.get(room).and_then(|state| state.call.clone()) else { return };
        let ringing: Vec<_> = self
            .invites
            .pending_in(room)
            .iter()
            .copied()
            .filter(|&id| self.invites.is(id, |i| i.from_session == session))
            .collect();
        for invite in ringing {
            let withdrawn = if reason == EndReason::Hangup { EndReason::Cancelled } else { reason };
            self.withdraw(invite, withdrawn, None);
        }
        self.note_call_ended(room, reason);
        let left_behind: Vec<SessionId> = self
            .rooms
            .get(room)
            .map(|state| {
                state
                    .members()
                    .iter()
                    .map(|m| m.session())
                    .filter(|&s| self.sessions.style(s).is_some_and(crate::CallStyle::one_to_one))
                    .collect()
            })
            .unwrap_or_default();
        for other in left_behind {
            let ended = Event::CallEnded { room: room.clone(), by: user.clone(), caller: call.caller.clone(), reason };
            self.emit(other, ended);
            self.rooms.remove_member(room, other);
            // The room's namespaces see the peer go, as for any leaver.
            if let Some(gone) = self.user_of(other).cloned() {
                self.tell_namespaces_of_room(room, |room| NamespaceEvent::PeerRemoved { room, user: gone.clone() });
            }
        }
        self.named_call_over(room);
    }

    /// The call in `room` is over (answered and left, or unanswered): the
    /// room is an ordinary named room again, with its places back.
    pub(crate) fn named_call_over(&mut self, room: &RoomId) {
        if self.invites.pending_in(room).is_empty() {
            self.rooms.end_named_call(room);
        }
    }

    /// Whether `room` is a named room carrying a call.
    pub(crate) fn is_named_call(&self, room: &RoomId) -> bool {
        self.rooms.get(room).is_some_and(|state| state.call.is_some())
    }

    /// Whether `room` carries a 1:1 call, as a call room or as a calling
    /// user's named room that invited a one-to-one user (Step 13). The
    /// cluster's link carries such a room's ring, relays and end between
    /// nodes, translated, like a call room's.
    pub fn carries_a_call(&self, room: &RoomId) -> bool {
        self.rooms.get(room).is_some_and(|state| state.carries_a_call())
    }
}
