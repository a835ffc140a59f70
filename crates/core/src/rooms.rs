//! Named rooms with a capacity: members come and go, and an empty room is
//! kept for a while before it is deleted.

use std::time::Instant;

use crate::core::{Deadline, Room, RoomKind};
use crate::{CommandError, Core, EndReason, Event, Reply, RoomId, RoomRef, SessionId};

impl Core {
    pub(crate) fn join(
        &mut self,
        session: SessionId,
        room_id: RoomId,
        create: Option<usize>,
    ) -> Result<Reply, CommandError> {
        let user = self.registered(session)?;
        if self.sessions.get(&session).is_some_and(|s| s.rooms.contains(&room_id)) {
            return Err(CommandError::AlreadyInRoom(room_id));
        }
        let room = match (self.rooms.get_mut(&room_id), create) {
            (Some(room), _) if room.kind == RoomKind::Named => room,
            (Some(_), _) | (None, None) => return Err(CommandError::NoSuchRoom(room_id)),
            (None, Some(capacity)) => self.rooms.entry(room_id.clone()).or_insert(Room {
                kind: RoomKind::Named,
                capacity,
                members: Vec::new(),
                ringing: None,
                expires: None,
            }),
        };
        if room.members.len() >= room.capacity {
            return Err(CommandError::RoomFull(room_id));
        }
        let expired_deadline = room.expires.take();
        let before = room.members.clone();
        room.members.push(session);
        if let Some(at) = expired_deadline {
            self.clear_deadline(at, Deadline::EmptyRoom(room_id.clone()));
        }
        if let Some(state) = self.sessions.get_mut(&session) {
            state.rooms.push(room_id.clone());
        }
        let mut peers = Vec::with_capacity(before.len());
        for member in before {
            if let Some(peer) = self.user_of(member).cloned() {
                peers.push((peer, member));
            }
            self.emit(member, Event::PeerJoined { room: room_id.clone(), user: user.clone(), session });
        }
        Ok(Reply::Joined { room: room_id, peers })
    }

    pub(crate) fn leave(&mut self, now: Instant, session: SessionId, which: RoomRef) -> Result<Reply, CommandError> {
        let me = self.registered(session)?;
        match which {
            RoomRef::Id(room) => {
                if !self.sessions.get(&session).is_some_and(|s| s.rooms.contains(&room)) {
                    return Err(CommandError::NotInRoom(room));
                }
                self.leave_room(now, session, &room, EndReason::Hangup);
            }
            RoomRef::CallWith(peer) => {
                if let Some((room, _)) = self.accepted_call_with(session, &peer) {
                    self.end_call(session, &room, EndReason::Hangup);
                } else if let Some(invite) = self.ringing_call_with(session, &peer) {
                    if self.invites[&invite].from_session == session {
                        self.withdraw(invite, EndReason::Cancelled);
                    } else {
                        let from = self.invites[&invite].from.clone();
                        let stopped = Event::RingingStopped { invite, from, reason: EndReason::AnsweredElsewhere };
                        self.emit_to_user(&me, Some(session), stopped);
                        self.decline(invite, &me, EndReason::Rejected);
                    }
                } else {
                    return Err(CommandError::NoCallWith(peer));
                }
            }
        }
        Ok(Reply::Done)
    }

    /// Takes `session` out of `room`, whatever kind of room it is.
    pub(crate) fn leave_room(&mut self, now: Instant, session: SessionId, room_id: &RoomId, reason: EndReason) {
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        if room.kind == RoomKind::Call {
            self.end_call(session, room_id, reason);
            return;
        }
        room.members.retain(|&s| s != session);
        let remaining = room.members.clone();
        if remaining.is_empty() {
            let at = now + self.config.empty_room_ttl;
            room.expires = Some(at);
            self.set_deadline(at, Deadline::EmptyRoom(room_id.clone()));
        }
        if let Some(state) = self.sessions.get_mut(&session) {
            state.rooms.retain(|r| r != room_id);
        }
        if let Some(user) = self.user_of(session).cloned() {
            for member in remaining {
                let event = Event::PeerLeft { room: room_id.clone(), user: user.clone(), session, reason };
                self.emit(member, event);
            }
        }
    }

    pub(crate) fn expire_room(&mut self, now: Instant, room_id: RoomId) {
        let expired = self
            .rooms
            .get(&room_id)
            .is_some_and(|room| room.members.is_empty() && room.expires.is_some_and(|at| at <= now));
        if expired {
            self.rooms.remove(&room_id);
        }
    }
}
