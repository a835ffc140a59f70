//! 1:1 calls: a room of two plus an invite. Calling is inviting into a new
//! room, ringing is the invite delivered, accepting is joining, rejecting is
//! declining, cancelling withdraws the invite, hanging up is leaving.

use std::time::Instant;

use crate::core::{Deadline, Invite, Room, RoomKind};
use crate::{CommandError, Core, EndReason, Event, InviteId, InviteRef, Payload, Reply, RoomId, SessionId, UserId};

impl Core {
    pub(crate) fn call(
        &mut self,
        now: Instant,
        session: SessionId,
        to: UserId,
        data: Payload,
    ) -> Result<Reply, CommandError> {
        let from = self.registered(session)?;
        if to == from {
            return Err(CommandError::SelfCall);
        }
        if !self.users.contains_key(&to) {
            return Err(CommandError::UnknownUser(to));
        }
        if self.is_busy(&from) {
            return Err(CommandError::AlreadyInCall);
        }
        if self.is_busy(&to) {
            return Err(CommandError::Busy(to));
        }

        let room = self.draw_call_room_id();
        let invite = self.next_invite_id();
        let rings_until = now + self.config.ring_timeout;
        self.rooms.insert(
            room.clone(),
            Room { kind: RoomKind::Call, capacity: 2, members: vec![session], ringing: Some(invite), expires: None },
        );
        self.invites.insert(
            invite,
            Invite { room: room.clone(), from_session: session, from: from.clone(), to: to.clone(), rings_until },
        );
        if let Some(state) = self.sessions.get_mut(&session) {
            state.rooms.push(room.clone());
            state.outgoing.push(invite);
        }
        if let Some(state) = self.users.get_mut(&to) {
            state.incoming.push(invite);
        }
        self.set_deadline(rings_until, Deadline::Ring(invite));
        self.emit_to_user(&to, None, Event::Ringing { invite, room: room.clone(), from, data });
        Ok(Reply::Calling { invite, room })
    }

    fn draw_call_room_id(&mut self) -> RoomId {
        loop {
            let room = RoomId::parse(&format!("call-{}", self.draw_uuid())).expect("valid room name");
            if !self.rooms.contains_key(&room) {
                return room;
            }
        }
    }

    pub(crate) fn accept(&mut self, session: SessionId, which: InviteRef) -> Result<Reply, CommandError> {
        let invite = self.incoming_invite(session, &which)?;
        if self.session_in_call(session) {
            return Err(CommandError::AlreadyInCall);
        }
        let by = self.registered(session)?;
        let call = self.take_invite(invite).expect("resolved above");
        if let Some(room) = self.rooms.get_mut(&call.room) {
            room.members.push(session);
        }
        if let Some(state) = self.sessions.get_mut(&session) {
            state.rooms.push(call.room.clone());
        }
        self.emit(call.from_session, Event::CallAccepted { invite, room: call.room, by: by.clone() });
        let stopped = Event::RingingStopped { invite, from: call.from, reason: EndReason::AnsweredElsewhere };
        self.emit_to_user(&by, Some(session), stopped);
        Ok(Reply::Done)
    }

    pub(crate) fn reject(&mut self, session: SessionId, which: InviteRef) -> Result<Reply, CommandError> {
        let invite = self.incoming_invite(session, &which)?;
        let by = self.registered(session)?;
        if let Some(call) = self.invites.get(&invite) {
            let stopped =
                Event::RingingStopped { invite, from: call.from.clone(), reason: EndReason::AnsweredElsewhere };
            self.emit_to_user(&by, Some(session), stopped);
        }
        self.decline(invite, &by, EndReason::Rejected);
        Ok(Reply::Done)
    }

    pub(crate) fn cancel(&mut self, session: SessionId, which: InviteRef) -> Result<Reply, CommandError> {
        let invite = self.outgoing_invite(session, &which)?;
        self.withdraw(invite, EndReason::Cancelled);
        Ok(Reply::Done)
    }

    pub(crate) fn ring_timeout(&mut self, invite: InviteId) {
        let Some(call) = self.take_invite(invite) else { return };
        self.emit(call.from_session, Event::CallDeclined { invite, by: call.to.clone(), reason: EndReason::Timeout });
        self.emit_to_user(
            &call.to,
            None,
            Event::RingingStopped { invite, from: call.from, reason: EndReason::Timeout },
        );
        self.dissolve(&call.room);
    }

    /// The caller's side ends a ringing call: the callee stops ringing.
    pub(crate) fn withdraw(&mut self, invite: InviteId, reason: EndReason) {
        let Some(call) = self.take_invite(invite) else { return };
        self.emit_to_user(&call.to, None, Event::RingingStopped { invite, from: call.from, reason });
        self.dissolve(&call.room);
    }

    /// The callee's side ends a ringing call: the caller is told why.
    pub(crate) fn decline(&mut self, invite: InviteId, by: &UserId, reason: EndReason) {
        let Some(call) = self.take_invite(invite) else { return };
        self.emit(call.from_session, Event::CallDeclined { invite, by: by.clone(), reason });
        self.dissolve(&call.room);
    }

    /// A party leaves a call room: a ringing call is withdrawn, an accepted
    /// one ends for the other party too.
    pub(crate) fn end_call(&mut self, session: SessionId, room: &RoomId, reason: EndReason) {
        let Some(state) = self.rooms.get(room) else { return };
        if let Some(invite) = state.ringing {
            let withdrawn = if reason == EndReason::Hangup { EndReason::Cancelled } else { reason };
            self.withdraw(invite, withdrawn);
            return;
        }
        let others: Vec<SessionId> = state.members.iter().copied().filter(|&s| s != session).collect();
        if let Some(by) = self.user_of(session).cloned() {
            for other in others {
                self.emit(other, Event::CallEnded { room: room.clone(), by: by.clone(), reason });
            }
        }
        self.dissolve(room);
    }

    /// Deletes a call room and every membership of it.
    fn dissolve(&mut self, room: &RoomId) {
        let Some(state) = self.rooms.remove(room) else { return };
        for member in state.members {
            if let Some(session) = self.sessions.get_mut(&member) {
                session.rooms.retain(|r| r != room);
            }
        }
    }

    /// Removes a ringing call and every reference to it.
    fn take_invite(&mut self, invite: InviteId) -> Option<Invite> {
        let call = self.invites.remove(&invite)?;
        self.clear_deadline(call.rings_until, Deadline::Ring(invite));
        if let Some(state) = self.users.get_mut(&call.to) {
            state.incoming.retain(|&i| i != invite);
        }
        if let Some(state) = self.sessions.get_mut(&call.from_session) {
            state.outgoing.retain(|&i| i != invite);
        }
        if let Some(room) = self.rooms.get_mut(&call.room) {
            room.ringing = None;
        }
        Some(call)
    }

    /// A call ringing this session's user.
    fn incoming_invite(&self, session: SessionId, which: &InviteRef) -> Result<InviteId, CommandError> {
        let user = self.registered(session)?;
        let found = match which {
            InviteRef::Id(id) => self.invites.get(id).filter(|call| call.to == user).map(|_| *id),
            InviteRef::From(caller) => self
                .users
                .get(&user)
                .and_then(|state| state.incoming.iter().copied().find(|id| self.invites[id].from == *caller)),
            InviteRef::To(_) => None,
        };
        found.ok_or(CommandError::NoSuchInvite)
    }

    /// A call this session is making.
    fn outgoing_invite(&self, session: SessionId, which: &InviteRef) -> Result<InviteId, CommandError> {
        self.registered(session)?;
        let outgoing = self.sessions.get(&session).map(|s| s.outgoing.as_slice()).unwrap_or_default();
        let found = match which {
            InviteRef::Id(id) => outgoing.iter().copied().find(|i| i == id),
            InviteRef::To(callee) => outgoing.iter().copied().find(|id| self.invites[id].to == *callee),
            InviteRef::From(_) => None,
        };
        found.ok_or(CommandError::NoSuchInvite)
    }

    /// The call room this session shares with `peer` and the peer's member
    /// session, if the call was accepted.
    pub(crate) fn accepted_call_with(&self, session: SessionId, peer: &UserId) -> Option<(RoomId, SessionId)> {
        let state = self.sessions.get(&session)?;
        state.rooms.iter().find_map(|room_id| {
            let room = self.rooms.get(room_id).filter(|room| room.kind == RoomKind::Call)?;
            let other = room.members.iter().copied().find(|&s| s != session && self.user_of(s) == Some(peer))?;
            Some((room_id.clone(), other))
        })
    }

    /// A ringing call between this session and `peer`, either way.
    pub(crate) fn ringing_call_with(&self, session: SessionId, peer: &UserId) -> Option<InviteId> {
        let outgoing = self.sessions.get(&session)?.outgoing.iter().copied();
        let mine = self.user_of(session)?;
        let incoming = self.users.get(mine).map(|u| u.incoming.as_slice()).unwrap_or_default().iter().copied();
        outgoing
            .filter(|id| self.invites[id].to == *peer)
            .chain(incoming.filter(|id| self.invites[id].from == *peer))
            .next()
    }
}
