//! Named rooms: members with their peer status, pending invitees, a shared
//! key-value status, and a grace period before an empty room is deleted.

use std::sync::Arc;

use crate::state::{Deadline, Room, RoomKind};
use crate::{
    CommandError, Core, EndReason, Event, NamespaceEvent, Payload, PeerInfo, PeerStatus, PeerUpdate, Reply, RoomId,
    RoomRef, RoomView, SessionId, UserId,
};

impl Core {
    pub(crate) fn join(
        &mut self,
        session: SessionId,
        room: Option<RoomId>,
        create: Option<usize>,
        status: Option<Payload>,
    ) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        let room_id = match room {
            Some(room) => room,
            None => self.draw_room_id(""),
        };
        // Every check before any change: a refused command changes nothing.
        let new_room = match (self.rooms.get(&room_id), create) {
            (Some(room), _) if room.kind == RoomKind::Call => return Err(CommandError::NoSuchRoom(room_id)),
            (Some(room), _) if self.user_in_room(&user, &room_id, room) => {
                return Err(CommandError::AlreadyInRoom(room_id));
            }
            (Some(room), _) if self.peers_in(&room_id, room) >= room.capacity => {
                return Err(CommandError::RoomFull(room_id));
            }
            (Some(_), _) => None,
            (None, None) => return Err(CommandError::NoSuchRoom(room_id)),
            // A room made with no place has none for its maker either: full,
            // as an existing room of capacity 0 is, and not created.
            // Admitting the joiner would put one member in zero places
            // (`--room-capacity 0` did).
            (None, Some(0)) => return Err(CommandError::RoomFull(room_id)),
            (None, Some(capacity)) => Some(capacity),
        };
        self.check_places(session)?;
        match new_room {
            Some(capacity) => {
                self.take_ring(&user)?;
                self.rooms.create(room_id.clone(), RoomKind::Named, capacity);
            }
            None => self.keep_room(&room_id),
        }
        let mut view = self.room_view(&room_id, Some(&user));
        let number = self.rooms.add_member(&room_id, session, status.clone());
        view.member = number;
        let peer = PeerInfo {
            user: user.clone(),
            member: number,
            peer_id: Some(self.peer_id_of(session)),
            pending: false,
            status: PeerStatus { user: self.status_of(&user).cloned(), peer: status },
        };
        let size = view.peers.len() + 1;
        self.tell_room(&room_id, Some(&user), Event::PeerJoined { room: room_id.clone(), peer: peer.clone(), size });
        self.tell_namespaces_of_room(&room_id, |room| NamespaceEvent::PeerAdded { room, peer: peer.clone() });
        Ok(Reply::Joined(view))
    }

    pub(crate) fn create_room(
        &mut self,
        session: SessionId,
        room: RoomId,
        capacity: usize,
    ) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        match self.rooms.kind(&room) {
            Some(RoomKind::Named) if self.room_is_empty(&room) => {
                if let Some(state) = self.rooms.get_mut(&room) {
                    state.capacity = capacity;
                }
            }
            Some(_) => return Err(CommandError::RoomInUse(room)),
            None => {
                self.take_ring(&user)?;
                self.open_room(room, capacity);
            }
        }
        Ok(Reply::Done)
    }

    /// Creates the named room `room` if it does not exist ([`Input::OpenRoom`](crate::Input::OpenRoom)).
    pub(crate) fn open_room(&mut self, room: RoomId, capacity: usize) {
        if self.rooms.contains(&room) {
            return;
        }
        self.rooms.create(room.clone(), RoomKind::Named, capacity);
        // A created room that nobody joins goes after the grace period.
        self.check_emptied(&room);
    }

    pub(crate) fn leave(&mut self, session: SessionId, which: RoomRef) -> Result<Reply, CommandError> {
        let me = self.registered(session)?;
        match which {
            RoomRef::Id(room) => {
                self.check_member(session, &room)?;
                self.leave_room(session, &room, EndReason::Hangup);
            }
            RoomRef::CallWith(peer) => {
                if let Some((room, _)) = self.accepted_call_with(session, &peer) {
                    self.leave_room(session, &room, EndReason::Hangup);
                } else if let Some(invite) = self.ringing_call_with(session, &peer) {
                    if self.invites.is(invite, |i| i.from_session == session) {
                        self.withdraw(invite, EndReason::Cancelled, None);
                    } else {
                        self.reject_invite(session, invite, &me, EndReason::Rejected, None);
                    }
                } else {
                    return Err(CommandError::NoCallWith(peer));
                }
            }
        }
        Ok(Reply::Done)
    }

    /// Takes `session` out of `room`, whatever kind of room it is.
    pub(crate) fn leave_room(&mut self, session: SessionId, room_id: &RoomId, reason: EndReason) {
        match self.rooms.kind(room_id) {
            None => return,
            Some(RoomKind::Call) => return self.end_call(session, room_id, reason),
            Some(RoomKind::Named) => {}
        }
        let number = self.rooms.remove_member(room_id, session);
        if let Some(user) = self.user_of(session).cloned() {
            if self.is_named_call(room_id) {
                self.named_call_left(session, &user, room_id, reason);
            }
            let peer_id = Some(self.peer_id_of(session));
            let left = Event::PeerLeft { room: room_id.clone(), user: user.clone(), member: number, peer_id, reason };
            self.tell_room(room_id, Some(&user), left);
            self.tell_namespaces_of_room(room_id, |room| NamespaceEvent::PeerRemoved { room, user: user.clone() });
        }
        self.check_emptied(room_id);
    }

    pub(crate) fn set_peer_status(
        &mut self,
        session: SessionId,
        room_id: RoomId,
        status: Option<Payload>,
    ) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        self.check_member(session, &room_id)?;
        let Some(status) = status else { return Ok(Reply::Done) };
        if let Some(member) = self.rooms.get_mut(&room_id).and_then(|room| room.member_mut(session)) {
            member.status = Some(status.clone());
        }
        let update = PeerUpdate::Status(PeerStatus { user: self.status_of(&user).cloned(), peer: Some(status) });
        self.tell_peer_update(&room_id, &user, update);
        Ok(Reply::Done)
    }

    pub(crate) fn set_room_status(
        &mut self,
        session: SessionId,
        room_id: RoomId,
        key: Arc<str>,
        value: Option<Payload>,
        check: Option<Option<Payload>>,
    ) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        self.check_member(session, &room_id)?;
        let Some(room) = self.rooms.get_mut(&room_id) else { return Err(CommandError::NoSuchRoom(room_id)) };
        let current = room.status.iter().position(|(k, _)| *k == key);
        if let Some(expected) = check
            && current.map(|at| &room.status[at].1) != expected.as_ref()
        {
            return Err(CommandError::StatusMismatch);
        }
        match (current, value) {
            (Some(at), Some(value)) => room.status[at].1 = value,
            (None, Some(value)) => room.status.push((key, value)),
            (Some(at), None) => {
                room.status.remove(at);
            }
            (None, None) => {}
        }
        let status = room.status.clone();
        self.tell_room(
            &room_id,
            Some(&user),
            Event::RoomStatusChanged { room: room_id.clone(), status: status.clone() },
        );
        self.tell_namespaces_of_room(&room_id, |room| NamespaceEvent::RoomUpdated { room, status: status.clone() });
        Ok(Reply::Done)
    }

    /// The member check of every room request: the room exists, and the
    /// session is a member, not merely invited.
    pub(crate) fn check_member(&self, session: SessionId, room_id: &RoomId) -> Result<(), CommandError> {
        let room = self.rooms.get(room_id).ok_or_else(|| CommandError::NoSuchRoom(room_id.clone()))?;
        if room.has_member(session) {
            return Ok(());
        }
        let user = self.user_of(session);
        if self.invites.pending_in(room_id).iter().any(|&id| self.invites.is(id, |i| Some(&i.to) == user)) {
            return Err(CommandError::OnlyInvited(room_id.clone()));
        }
        Err(CommandError::NotInRoom(room_id.clone()))
    }

    /// Whether `user` is a member of, or invited to, `room`.
    pub(crate) fn user_in_room(&self, user: &UserId, room_id: &RoomId, room: &Room) -> bool {
        room.members().iter().any(|member| self.user_of(member.session()) == Some(user))
            || self.invites.pending_in(room_id).iter().any(|&id| self.invites.is(id, |i| i.to == *user))
    }

    /// Members and pending invitees of a room: the places taken.
    pub(crate) fn peers_in(&self, room_id: &RoomId, room: &Room) -> usize {
        room.members().len() + self.invites.pending_in(room_id).len()
    }

    /// Whether a room has neither members nor pending invitees.
    pub(crate) fn room_is_empty(&self, room_id: &RoomId) -> bool {
        self.rooms.get(room_id).is_some_and(|room| self.peers_in(room_id, room) == 0)
    }

    /// The room as seen from outside: its peers (without `except`) and status.
    pub(crate) fn room_view(&self, room_id: &RoomId, except: Option<&UserId>) -> RoomView {
        let Some(room) = self.rooms.get(room_id) else {
            return RoomView { id: room_id.clone(), peers: Vec::new(), member: None, status: Vec::new() };
        };
        let members = room.members().iter().filter_map(|member| {
            let user = self.user_of(member.session())?;
            Some(PeerInfo {
                user: user.clone(),
                member: Some(member.number()),
                peer_id: Some(self.peer_id_of(member.session())),
                pending: false,
                status: PeerStatus { user: self.status_of(user).cloned(), peer: member.status.clone() },
            })
        });
        let invited = self.invites.pending_in(room_id).iter().filter_map(|&id| {
            let user = &self.invites.get(id)?.to;
            Some(PeerInfo {
                user: user.clone(),
                member: None,
                peer_id: None,
                pending: true,
                status: PeerStatus { user: self.status_of(user).cloned(), peer: None },
            })
        });
        let peers = members.chain(invited).filter(|peer| Some(&peer.user) != except).collect();
        RoomView { id: room_id.clone(), peers, member: None, status: room.status.clone() }
    }

    /// Sends `event` to every member and invitee of a room but `except`.
    pub(crate) fn tell_room(&mut self, room_id: &RoomId, except: Option<&UserId>, event: Event) {
        let Some(room) = self.rooms.get(room_id) else { return };
        let mut audience: Vec<SessionId> = room
            .members()
            .iter()
            .map(|member| member.session())
            .filter(|&session| except.is_none() || self.user_of(session) != except)
            .collect();
        for &id in self.invites.pending_in(room_id) {
            let Some(invitee) = self.invites.get(id).map(|invite| &invite.to) else { continue };
            if Some(invitee) != except {
                audience.extend(self.users.sessions_of(invitee).iter().copied());
            }
        }
        for session in audience {
            self.emit(session, event.clone());
        }
    }

    /// Tells a room (but the peer itself) and the room's namespaces that a
    /// peer accepted or changed status.
    pub(crate) fn tell_peer_update(&mut self, room: &RoomId, user: &UserId, update: PeerUpdate) {
        let event = Event::PeerUpdated { room: room.clone(), user: user.clone(), update: update.clone() };
        self.tell_room(room, Some(user), event);
        self.tell_namespaces_of_room(room, |room| NamespaceEvent::PeerUpdated {
            room,
            user: user.clone(),
            update: update.clone(),
        });
    }

    /// A room that gained a peer is no longer going to expire.
    pub(crate) fn keep_room(&mut self, room_id: &RoomId) {
        if let Some(at) = self.rooms.get_mut(room_id).and_then(|room| room.expires.take()) {
            self.deadlines.clear(at, Deadline::EmptyRoom(room_id.clone()));
        }
    }

    /// A named room that lost its last peer leaves its namespaces and is
    /// deleted after the grace period, unless someone comes back.
    pub(crate) fn check_emptied(&mut self, room_id: &RoomId) {
        let Some(room) = self.rooms.get(room_id) else { return };
        if room.kind != RoomKind::Named || self.peers_in(room_id, room) > 0 || room.expires.is_some() {
            return;
        }
        self.unlist_room(room_id);
        let at = self.now() + self.config.empty_room_ttl;
        if let Some(room) = self.rooms.get_mut(room_id) {
            room.expires = Some(at);
        }
        self.deadlines.set(at, Deadline::EmptyRoom(room_id.clone()));
    }

    /// Deletes a room, every membership of it and its invite bucket.
    pub(crate) fn delete_room(&mut self, room: &RoomId) {
        // A call that ended has been noted already; one deleted any other
        // way (none is, today) goes without a note rather than linger.
        self.answered.take(room);
        self.rooms.remove(room);
        self.throttles.forget_room(room);
    }

    pub(crate) fn expire_room(&mut self, room_id: RoomId) {
        let now = self.now();
        let expired = self.room_is_empty(&room_id)
            && self.rooms.get(&room_id).is_some_and(|room| room.expires.is_some_and(|at| at <= now));
        if expired {
            // A room registered in a namespace while empty (RegisterRoom
            // takes any named room; check_emptied unlists a room only as it
            // empties) is still listed: unlist it, telling the subscribers,
            // or the namespace would list a room that is gone, and could
            // never be rid of it (UnregisterRoom answers NoSuchRoom).
            self.unlist_room(&room_id);
            self.delete_room(&room_id);
        }
    }
}
