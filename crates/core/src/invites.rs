//! Ringing calls and invites. A 1:1 call is a room of two plus an invite:
//! calling is inviting into a new room, ringing is the invite delivered,
//! accepting is joining, rejecting is declining, cancelling withdraws the
//! invite, hanging up is leaving. An invite into a named room (calling's
//! `invite_send`) is the same thing without a ring timeout or a busy rule;
//! while it rings the invitee is a pending peer of the room.

use crate::state::{AnsweredCall, Deadline, Invite, RoomKind};
use crate::{
    CallNote, CallOutcome, CallParty, CallStage, CallStyle, CommandError, Core, EndReason, Event, InviteId, InviteRef,
    NamespaceEvent, Payload, PeerInfo, PeerStatus, PeerUpdate, Reply, RoomId, SessionId, UserId,
};

impl Core {
    pub(crate) fn call(&mut self, session: SessionId, to: UserId, data: Payload) -> Result<Reply, CommandError> {
        let from = self.registered(session)?;
        if to == from {
            return Err(CommandError::SelfCall);
        }
        if !self.users.is_online(&to) {
            return Err(CommandError::UnknownUser(to));
        }
        self.check_both_free(session, &from, &to)?;
        self.check_places(session)?;
        self.take_ring(&from)?;
        let room = self.draw_room_id("call-");
        self.rooms.create(room.clone(), RoomKind::Call, 2);
        self.rooms.add_member(&room, session, None);
        let rings_until = self.now() + self.config.ring_timeout;
        let invite = self.ring(session, from, to, room.clone(), data, Some(rings_until));
        self.deadlines.set(rings_until, Deadline::Ring(invite));
        Ok(Reply::Calling { invite, room })
    }

    pub(crate) fn invite(
        &mut self,
        session: SessionId,
        room: RoomId,
        to: UserId,
        data: Payload,
    ) -> Result<Reply, CommandError> {
        let from = self.registered(session)?;
        if !self.users.is_online(&to) {
            return Err(CommandError::UnknownUser(to));
        }
        // A stand-in of another node's session (no style) invites as before.
        if self.sessions.style(session).is_some() && self.user_style(&to).is_some_and(CallStyle::one_to_one) {
            return self.invite_as_call(session, from, room, to, data);
        }
        // Every check before any change: a refused command changes nothing.
        let exists = match self.rooms.get(&room) {
            Some(state) if state.kind == RoomKind::Call => return Err(CommandError::NoSuchRoom(room)),
            Some(state) if self.user_in_room(&to, &room, state) => return Err(CommandError::AlreadyInRoom(room)),
            Some(state) if self.peers_in(&room, state) >= state.capacity => {
                return Err(CommandError::RoomFull(room));
            }
            Some(_) => true,
            None => false,
        };
        self.check_places(session)?;
        // The user's bucket first: the room's is made on first use, and a
        // room that is not made must not keep one.
        self.take_ring(&from)?;
        self.take_room_invite(&room)?;
        if exists {
            self.keep_room(&room);
        } else {
            self.rooms.create(room.clone(), RoomKind::Named, usize::MAX);
        }
        self.tell_of_invitee(&room, &to);
        let invite = self.ring(session, from, to, room.clone(), data, None);
        Ok(Reply::Calling { invite, room })
    }

    /// Tells `room` and the namespaces that list it that `to` is invited:
    /// a pending peer, counted among the room's peers.
    pub(crate) fn tell_of_invitee(&mut self, room: &RoomId, to: &UserId) {
        let peer = PeerInfo {
            user: to.clone(),
            member: None,
            peer_id: None,
            pending: true,
            status: PeerStatus { user: self.status_of(to).cloned(), peer: None },
        };
        let size = self.rooms.get(room).map_or(0, |state| self.peers_in(room, state)) + 1;
        self.tell_room(room, Some(to), Event::PeerJoined { room: room.clone(), peer: peer.clone(), size });
        self.tell_namespaces_of_room(room, |room| NamespaceEvent::PeerAdded { room, peer: peer.clone() });
    }

    /// The busy rule: neither side is ringing or in a call. A callee found
    /// busy is noted as a busy call.
    ///
    /// # Errors
    /// [`CommandError::AlreadyInCall`] for the caller,
    /// [`CommandError::Busy`] for the callee.
    pub(crate) fn check_both_free(
        &mut self,
        session: SessionId,
        from: &UserId,
        to: &UserId,
    ) -> Result<(), CommandError> {
        if self.session_in_call(session) || self.is_busy(from) {
            return Err(CommandError::AlreadyInCall);
        }
        if self.is_busy(to) {
            self.note_busy(session, from.clone(), to);
            return Err(CommandError::Busy(to.clone()));
        }
        Ok(())
    }

    /// Records an invite and rings every session of the invitee.
    pub(crate) fn ring(
        &mut self,
        session: SessionId,
        from: UserId,
        to: UserId,
        room: RoomId,
        data: Payload,
        rings_until: Option<std::time::Instant>,
    ) -> InviteId {
        let view = self.room_view(&room, Some(&to));
        let call = self.draw_call_id();
        let caller = CallParty { session: Some(session), user: from.clone() };
        let callee = self.callee(&to, None);
        self.note_call(CallNote { call, caller, callee, stage: CallStage::Ringing });
        let invite = self.invites.insert(Invite {
            room,
            from_session: session,
            from: from.clone(),
            to: to.clone(),
            rings_until,
            call,
            rang_at: self.now(),
        });
        let from_style = self.sessions.style(session);
        self.emit_to_user(&to, None, Event::Ringing { invite, room: view, from, data, from_style });
        invite
    }

    pub(crate) fn draw_room_id(&mut self, prefix: &str) -> RoomId {
        loop {
            let room = RoomId::parse(&format!("{prefix}{}", self.draw_uuid())).expect("valid room name");
            if !self.rooms.contains(&room) {
                return room;
            }
        }
    }

    pub(crate) fn accept(
        &mut self,
        session: SessionId,
        which: InviteRef,
        status: Option<Payload>,
        note: Option<Payload>,
    ) -> Result<Reply, CommandError> {
        let invite = self.incoming_invite(session, &which)?;
        let kind = self.invites.get(invite).and_then(|i| self.rooms.kind(&i.room));
        let is_call = self.is_call_invite(invite);
        if is_call && self.session_in_call(session) {
            return Err(CommandError::AlreadyInCall);
        }
        let by = self.registered(session)?;
        self.check_places(session)?;
        let Some(call) = self.take_invite(invite) else { return Err(CommandError::NoSuchInvite) };
        self.rooms.add_member(&call.room, session, status.clone());
        let callee = self.note_ring_end(&call, CallOutcome::Answered, Some(session));
        // A 1:1 call, in a call room or in a named room carrying it.
        if is_call {
            let caller = CallParty { session: Some(call.from_session), user: call.from.clone() };
            let answered_at = self.now();
            let rang = answered_at.saturating_duration_since(call.rang_at);
            let answered = AnsweredCall { call: call.call, caller, callee, rang, answered_at, first_ice: None };
            self.answered.insert(call.room.clone(), answered);
        }
        let by_style = self.sessions.style(session);
        let accepted = Event::CallAccepted { invite, room: call.room.clone(), by: by.clone(), note, by_style };
        self.emit(call.from_session, accepted);
        let stopped =
            Event::RingingStopped { invite, from: call.from, reason: EndReason::AnsweredElsewhere, note: None };
        self.emit_to_user(&by, Some(session), stopped);
        if kind == Some(RoomKind::Named) {
            // In the original's order: the room hears "no longer pending"
            // then the status; namespaces the status then "accepted".
            let room = call.room;
            let update = PeerUpdate::Status(PeerStatus { user: self.status_of(&by).cloned(), peer: status });
            let accepted = Event::PeerUpdated { room: room.clone(), user: by.clone(), update: PeerUpdate::Accepted };
            self.tell_room(&room, Some(&by), accepted);
            self.tell_peer_update(&room, &by, update);
            self.tell_namespaces_of_room(&room, |room| NamespaceEvent::PeerUpdated {
                room,
                user: by.clone(),
                update: PeerUpdate::Accepted,
            });
        }
        Ok(Reply::Done)
    }

    pub(crate) fn reject(
        &mut self,
        session: SessionId,
        which: InviteRef,
        reason: EndReason,
        note: Option<Payload>,
    ) -> Result<Reply, CommandError> {
        let invite = self.incoming_invite(session, &which)?;
        let by = self.registered(session)?;
        self.reject_invite(session, invite, &by, reason, note);
        Ok(Reply::Done)
    }

    /// The callee's session declines: its other sessions stop ringing and the
    /// caller is told why.
    pub(crate) fn reject_invite(
        &mut self,
        session: SessionId,
        invite: InviteId,
        by: &UserId,
        reason: EndReason,
        note: Option<Payload>,
    ) {
        if let Some(call) = self.invites.get(invite) {
            let stopped = Event::RingingStopped {
                invite,
                from: call.from.clone(),
                reason: EndReason::AnsweredElsewhere,
                note: None,
            };
            self.emit_to_user(by, Some(session), stopped);
        }
        self.decline(invite, by, Some(session), reason, note);
    }

    pub(crate) fn cancel(
        &mut self,
        session: SessionId,
        which: InviteRef,
        note: Option<Payload>,
    ) -> Result<Reply, CommandError> {
        let invite = self.outgoing_invite(session, &which)?;
        self.withdraw(invite, EndReason::Cancelled, note);
        Ok(Reply::Done)
    }

    pub(crate) fn end_call_with(
        &mut self,
        session: SessionId,
        peer: UserId,
        reason: EndReason,
        note: Option<Payload>,
    ) -> Result<Reply, CommandError> {
        let me = self.registered(session)?;
        if let Some(invite) = self.ringing_call_with(session, &peer) {
            if self.invites.is(invite, |call| call.from_session == session) {
                self.withdraw(invite, reason, note);
            } else {
                self.reject_invite(session, invite, &me, reason, note);
            }
            return Ok(Reply::Done);
        }
        let (room, _) = self.accepted_call_with(session, &peer).ok_or(CommandError::NoCallWith(peer))?;
        self.leave_room(session, &room, reason);
        Ok(Reply::Done)
    }

    pub(crate) fn ring_timeout(&mut self, invite: InviteId) {
        let Some(call) = self.take_invite(invite) else { return };
        self.note_ring_end(&call, CallOutcome::Timeout, None);
        let declined = Event::CallDeclined { invite, by: call.to.clone(), reason: EndReason::Timeout, note: None };
        self.emit(call.from_session, declined);
        let stopped = Event::RingingStopped { invite, from: call.from.clone(), reason: EndReason::Timeout, note: None };
        self.emit_to_user(&call.to, None, stopped);
        self.invite_gone(&call, EndReason::Timeout);
    }

    /// The caller's side ends a ringing invite: the invitee stops ringing.
    pub(crate) fn withdraw(&mut self, invite: InviteId, reason: EndReason, note: Option<Payload>) {
        let Some(call) = self.take_invite(invite) else { return };
        self.note_ring_end(&call, CallOutcome::unanswered(reason), None);
        let stopped = Event::RingingStopped { invite, from: call.from.clone(), reason, note };
        self.emit_to_user(&call.to, None, stopped);
        self.invite_gone(&call, reason);
    }

    /// The invitee's side ends a ringing invite (from `session`, when one of
    /// its sessions declined): the caller is told why.
    pub(crate) fn decline(
        &mut self,
        invite: InviteId,
        by: &UserId,
        session: Option<SessionId>,
        reason: EndReason,
        note: Option<Payload>,
    ) {
        let Some(call) = self.take_invite(invite) else { return };
        self.note_ring_end(&call, CallOutcome::unanswered(reason), session);
        self.emit(call.from_session, Event::CallDeclined { invite, by: by.clone(), reason, note });
        self.invite_gone(&call, reason);
    }

    /// After an invite ended unanswered: a call room is dissolved; a named
    /// room loses its pending peer.
    fn invite_gone(&mut self, call: &Invite, reason: EndReason) {
        let Some(kind) = self.rooms.kind(&call.room) else { return };
        match kind {
            RoomKind::Call => self.delete_room(&call.room),
            RoomKind::Named => {
                let left = Event::PeerLeft {
                    room: call.room.clone(),
                    user: call.to.clone(),
                    member: None,
                    peer_id: None,
                    reason,
                };
                self.tell_room(&call.room, Some(&call.to), left);
                self.tell_namespaces_of_room(&call.room, |room| NamespaceEvent::PeerRemoved {
                    room,
                    user: call.to.clone(),
                });
                self.named_call_over(&call.room);
                self.check_emptied(&call.room);
            }
        }
    }

    /// A party leaves a call room: a ringing call is withdrawn, an accepted
    /// one ends for the other party too.
    pub(crate) fn end_call(&mut self, session: SessionId, room: &RoomId, reason: EndReason) {
        let Some(state) = self.rooms.get(room) else { return };
        if let Some(&invite) = self.invites.pending_in(room).first() {
            let withdrawn = if reason == EndReason::Hangup { EndReason::Cancelled } else { reason };
            self.withdraw(invite, withdrawn, None);
            return;
        }
        let others: Vec<SessionId> =
            state.members().iter().map(|member| member.session()).filter(|&s| s != session).collect();
        // The caller is the call room's first member: `call` puts it there.
        let caller = state.members().first().and_then(|member| self.user_of(member.session())).cloned();
        if let (Some(by), Some(caller)) = (self.user_of(session).cloned(), caller) {
            for other in others {
                let ended = Event::CallEnded { room: room.clone(), by: by.clone(), caller: caller.clone(), reason };
                self.emit(other, ended);
            }
        }
        self.note_call_ended(room, reason);
        self.delete_room(room);
    }

    /// Notes the end of the answered call in `room`, if it has one.
    pub(crate) fn note_call_ended(&mut self, room: &RoomId, reason: EndReason) {
        if let Some(call) = self.answered.take(room) {
            let lasted = self.now().saturating_duration_since(call.answered_at);
            let stage = CallStage::Ended { reason, rang: call.rang, lasted, first_ice: call.first_ice };
            self.note_call(CallNote { call: call.call, caller: call.caller, callee: call.callee, stage });
        }
    }

    /// A callee as a call party: `session` when one of its sessions acted,
    /// else the first session its user has, if any.
    fn callee(&self, user: &UserId, session: Option<SessionId>) -> CallParty {
        let session = session.or_else(|| self.users.sessions_of(user).first().copied());
        CallParty { session, user: user.clone() }
    }

    /// Notes how `call`'s ringing ended, and returns the callee party.
    fn note_ring_end(&mut self, call: &Invite, outcome: CallOutcome, session: Option<SessionId>) -> CallParty {
        let callee = self.callee(&call.to, session);
        let rang = self.now().saturating_duration_since(call.rang_at);
        let caller = CallParty { session: Some(call.from_session), user: call.from.clone() };
        let stage = CallStage::RingEnded { outcome, rang };
        self.note_call(CallNote { call: call.call, caller, callee: callee.clone(), stage });
        callee
    }

    /// A call refused before it rang because `to` was busy: one note, with
    /// an id of its own.
    pub(crate) fn note_busy(&mut self, session: SessionId, from: UserId, to: &UserId) {
        let call = self.draw_call_id();
        let caller = CallParty { session: Some(session), user: from };
        let callee = self.callee(to, None);
        let stage = CallStage::RingEnded { outcome: CallOutcome::Busy, rang: std::time::Duration::ZERO };
        self.note_call(CallNote { call, caller, callee, stage });
    }

    /// Removes a ringing invite, every reference to it and its ring timeout.
    fn take_invite(&mut self, invite: InviteId) -> Option<Invite> {
        let call = self.invites.take(invite)?;
        if let Some(at) = call.rings_until {
            self.deadlines.clear(at, Deadline::Ring(invite));
        }
        Some(call)
    }

    /// An invite ringing this session's user.
    fn incoming_invite(&self, session: SessionId, which: &InviteRef) -> Result<InviteId, CommandError> {
        let user = self.registered(session)?;
        let found = match which {
            InviteRef::Id(id) => self.invites.get(*id).filter(|call| call.to == user).map(|_| *id),
            InviteRef::From(caller) => {
                self.invites.incoming(&user).iter().copied().find(|&id| self.invites.is(id, |i| i.from == *caller))
            }
            InviteRef::To(_) => None,
        };
        found.ok_or(CommandError::NoSuchInvite)
    }

    /// An invite this session made.
    fn outgoing_invite(&self, session: SessionId, which: &InviteRef) -> Result<InviteId, CommandError> {
        self.registered(session)?;
        let outgoing = self.invites.outgoing(session);
        let found = match which {
            InviteRef::Id(id) => outgoing.iter().copied().find(|i| i == id),
            InviteRef::To(callee) => outgoing.iter().copied().find(|&id| self.invites.is(id, |i| i.to == *callee)),
            InviteRef::From(_) => None,
        };
        found.ok_or(CommandError::NoSuchInvite)
    }

    /// Whether an invite is a 1:1 call (and so counts for the busy rule): a
    /// call rings until its ring timeout, an invite into a named room until
    /// it is answered, unless it calls a one-to-one user
    /// ([`Core::invite_as_call`]).
    pub(crate) fn is_call_invite(&self, invite: InviteId) -> bool {
        self.invites.get(invite).is_some_and(|call| call.rings_until.is_some())
    }

    /// The call room this session shares with `peer` and the peer's member
    /// session, if the call was accepted: a 1:1 call's room, or a named room
    /// carrying a call ([`Core::invite_as_call`]).
    pub(crate) fn accepted_call_with(&self, session: SessionId, peer: &UserId) -> Option<(RoomId, SessionId)> {
        self.rooms.of_session(session).iter().find_map(|room_id| {
            let room = self.rooms.get(room_id).filter(|room| room.carries_a_call())?;
            let other = room
                .members()
                .iter()
                .map(|member| member.session())
                .find(|&s| s != session && self.user_of(s) == Some(peer))?;
            Some((room_id.clone(), other))
        })
    }

    /// A ringing 1:1 call between this session and `peer`, either way.
    pub(crate) fn ringing_call_with(&self, session: SessionId, peer: &UserId) -> Option<InviteId> {
        let outgoing = self.invites.outgoing(session).iter().copied();
        let mine = self.user_of(session)?;
        let incoming = self.invites.incoming(mine).iter().copied();
        outgoing
            .filter(|&id| self.invites.is(id, |i| i.to == *peer))
            .chain(incoming.filter(|&id| self.invites.is(id, |i| i.from == *peer)))
            .find(|&id| self.is_call_invite(id))
    }
}
