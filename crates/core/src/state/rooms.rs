//! Rooms and their members: which sessions are in which room, both ways.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Arc;
use std::time::Instant;

use crate::{InvariantError, Payload, RoomId, SessionId, SessionMap};

/// What kind of room: a 1:1 call ends for both when one party leaves; a named
/// room lives on while members come and go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RoomKind {
    Call,
    Named,
}

/// A joined member of a room.
#[derive(Debug)]
pub(crate) struct Member {
    session: SessionId,
    number: u32,
    /// The peer status it gave in this room.
    pub(crate) status: Option<Payload>,
}

impl Member {
    pub(crate) fn session(&self) -> SessionId {
        self.session
    }

    /// Its number in the room ([`PeerInfo::member`](crate::PeerInfo::member)).
    pub(crate) fn number(&self) -> u32 {
        self.number
    }
}

/// One room. Its members change only through [`Rooms`], which keeps each
/// session's list of rooms beside them; pending invitees are invites
/// ([`Invites::pending_in`](super::Invites::pending_in)), and the namespaces
/// that list it are [`Namespaces`](super::Namespaces)'.
#[derive(Debug)]
pub(crate) struct Room {
    pub(crate) kind: RoomKind,
    /// Places for members and invitees together.
    pub(crate) capacity: usize,
    members: Vec<Member>,
    /// The shared status, in the order keys were first set.
    pub(crate) status: Vec<(Arc<str>, Payload)>,
    /// When an empty named room is deleted (with its deadline).
    pub(crate) expires: Option<Instant>,
    /// The member number the next joiner is given, if no member holds it.
    next_number: u32,
    /// Set while the named room carries a 1:1 call with a user of a
    /// one-to-one dialect ([`NamedCall`]).
    pub(crate) call: Option<NamedCall>,
}

/// A named room in use as a 1:1 call: a calling user invited a user whose
/// dialect knows only 1:1 calls ([`CallStyle::one_to_one`](crate::CallStyle::one_to_one)).
/// The invite rings with the ring timeout and the busy rule, the room has
/// two places while the call lasts, and its end reaches the one-to-one
/// party as the call's end (Step 13).
#[derive(Clone, Debug)]
pub(crate) struct NamedCall {
    /// The calling user who placed the call (cloudkibo names the caller's
    /// phone first).
    pub(crate) caller: crate::UserId,
    /// The room's places before the call, given back when it ends.
    pub(crate) capacity: usize,
}

/// The largest member number: `i32::MAX`, since cloudkibo's Android client
/// reads it as a Java `int`.
const MAX_MEMBER_NUMBER: u32 = i32::MAX as u32;

impl Room {
    /// Members in the order they joined.
    pub(crate) fn members(&self) -> &[Member] {
        &self.members
    }

    pub(crate) fn member(&self, session: SessionId) -> Option<&Member> {
        self.members.iter().find(|member| member.session == session)
    }

    pub(crate) fn member_mut(&mut self, session: SessionId) -> Option<&mut Member> {
        self.members.iter_mut().find(|member| member.session == session)
    }

    pub(crate) fn has_member(&self, session: SessionId) -> bool {
        self.member(session).is_some()
    }

    /// Whether the room carries a 1:1 call: a call room, or a named room
    /// in use as one ([`NamedCall`]).
    pub(crate) fn carries_a_call(&self) -> bool {
        self.kind == RoomKind::Call || self.call.is_some()
    }

    /// A member number no member holds, counting up from 1 and wrapping
    /// below 2^31.
    fn draw_number(&mut self) -> u32 {
        loop {
            let number = self.next_number;
            self.next_number = if number >= MAX_MEMBER_NUMBER { 1 } else { number + 1 };
            if !self.members.iter().any(|member| member.number == number) {
                return number;
            }
        }
    }
}

/// Every room, and every session's rooms: the membership relation, kept both
/// ways and changed only here.
#[derive(Debug, Default)]
pub(crate) struct Rooms {
    rooms: HashMap<RoomId, Room>,
    of_session: SessionMap<Vec<RoomId>>,
    /// How many of `rooms` carry a call ([`Room::carries_a_call`]: call
    /// rooms, and named rooms in use as one): kept here so that a drain can
    /// ask after every input whether any call is left, without a walk over
    /// every room.
    calls: usize,
}

impl Rooms {
    /// Makes an empty room; a room that exists is left as it is.
    pub(crate) fn create(&mut self, room: RoomId, kind: RoomKind, capacity: usize) {
        if let Entry::Vacant(place) = self.rooms.entry(room) {
            place.insert(Room {
                kind,
                capacity,
                members: Vec::new(),
                status: Vec::new(),
                expires: None,
                next_number: 1,
                call: None,
            });
            if kind == RoomKind::Call {
                self.calls += 1;
            }
        }
    }

    pub(crate) fn get(&self, room: &RoomId) -> Option<&Room> {
        self.rooms.get(room)
    }

    /// The room, to change its settings and status; members change through
    /// [`Rooms::add_member`] and [`Rooms::remove_member`].
    pub(crate) fn get_mut(&mut self, room: &RoomId) -> Option<&mut Room> {
        self.rooms.get_mut(room)
    }

    pub(crate) fn contains(&self, room: &RoomId) -> bool {
        self.rooms.contains_key(room)
    }

    pub(crate) fn kind(&self, room: &RoomId) -> Option<RoomKind> {
        self.rooms.get(room).map(|room| room.kind)
    }

    /// Adds `session` to an existing room it is not in; returns its member
    /// number, or `None` (and changes nothing) otherwise.
    pub(crate) fn add_member(&mut self, room_id: &RoomId, session: SessionId, status: Option<Payload>) -> Option<u32> {
        let room = self.rooms.get_mut(room_id)?;
        if room.has_member(session) {
            return None;
        }
        let number = room.draw_number();
        room.members.push(Member { session, number, status });
        self.of_session.entry(session).or_default().push(room_id.clone());
        Some(number)
    }

    /// Takes `session` out of a room; returns the member number it had.
    pub(crate) fn remove_member(&mut self, room_id: &RoomId, session: SessionId) -> Option<u32> {
        let room = self.rooms.get_mut(room_id)?;
        let at = room.members.iter().position(|member| member.session == session)?;
        let number = room.members.remove(at).number;
        self.forget_membership(session, room_id);
        Some(number)
    }

    /// Deletes a room and every membership of it.
    pub(crate) fn remove(&mut self, room_id: &RoomId) -> Option<Room> {
        let room = self.rooms.remove(room_id)?;
        if room.carries_a_call() {
            self.calls -= 1;
        }
        for member in &room.members {
            self.forget_membership(member.session, room_id);
        }
        Some(room)
    }

    fn forget_membership(&mut self, session: SessionId, room_id: &RoomId) {
        if let Some(rooms) = self.of_session.get_mut(&session) {
            rooms.retain(|r| r != room_id);
            if rooms.is_empty() {
                self.of_session.remove(&session);
            }
        }
    }

    /// The rooms `session` is a member of, in the order it joined them.
    pub(crate) fn of_session(&self, session: SessionId) -> &[RoomId] {
        self.of_session.get(&session).map(Vec::as_slice).unwrap_or_default()
    }

    pub(crate) fn len(&self) -> usize {
        self.rooms.len()
    }

    /// Rooms carrying a 1:1 call, ringing or answered: call rooms, and
    /// named rooms in use as one.
    pub(crate) fn calls(&self) -> usize {
        self.calls
    }

    /// Makes named room `room_id` carry a call placed by `caller` (Step 13), with two places
    /// while it lasts. A room that is not named, or carries a call already,
    /// is left as it is.
    pub(crate) fn start_named_call(&mut self, room_id: &RoomId, caller: crate::UserId) {
        let Some(room) = self.rooms.get_mut(room_id) else { return };
        if room.kind != RoomKind::Named || room.call.is_some() {
            return;
        }
        room.call = Some(NamedCall { caller, capacity: room.capacity });
        room.capacity = 2;
        self.calls += 1;
    }

    /// Ends the call named room `room_id` carries, giving the room its
    /// places back; returns the call, if it carried one.
    pub(crate) fn end_named_call(&mut self, room_id: &RoomId) -> Option<NamedCall> {
        let room = self.rooms.get_mut(room_id)?;
        let call = room.call.take()?;
        room.capacity = call.capacity;
        self.calls -= 1;
        Some(call)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (&RoomId, &Room)> {
        self.rooms.iter()
    }

    /// Sessions that are a member of some room.
    pub(crate) fn sessions(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.of_session.keys().copied()
    }

    /// Membership agrees both ways, each once; member numbers are unique
    /// and in 1..=2^31-1; status keys are unique; the count of rooms
    /// carrying a call is right.
    pub(crate) fn check(&self) -> Result<(), InvariantError> {
        let calls = self.rooms.values().filter(|room| room.carries_a_call()).count();
        if calls != self.calls {
            return Err(InvariantError::Room(format!("{calls} rooms carry a call, counted as {}", self.calls)));
        }
        for (session, rooms) in &self.of_session {
            if rooms.is_empty() {
                return Err(InvariantError::Membership(format!("{session:?} keeps an empty list of rooms")));
            }
            if let Some(room) = super::duplicate(rooms) {
                return Err(InvariantError::Membership(format!("{session:?} lists room {room:?} twice")));
            }
            for room in rooms {
                if !self.rooms.get(room).is_some_and(|state| state.has_member(*session)) {
                    return Err(InvariantError::Membership(format!(
                        "{session:?} lists room {room:?}, which {}",
                        if self.rooms.contains_key(room) { "does not have it as a member" } else { "does not exist" }
                    )));
                }
            }
        }
        for (room_id, room) in &self.rooms {
            if let Some(session) = super::duplicate(room.members.iter().map(|member| &member.session)) {
                return Err(InvariantError::Membership(format!("room {room_id:?} has {session:?} as a member twice")));
            }
            if let Some(member) = room.members.iter().find(|m| !self.of_session(m.session).contains(room_id)) {
                return Err(InvariantError::Membership(format!(
                    "room {room_id:?} has member {:?}, which does not list the room",
                    member.session
                )));
            }
            if let Some(number) = super::duplicate(room.members.iter().map(|member| &member.number)) {
                return Err(InvariantError::Room(format!("room {room_id:?} gives number {number} to two members")));
            }
            if let Some(member) = room.members.iter().find(|m| m.number == 0 || m.number > MAX_MEMBER_NUMBER) {
                return Err(InvariantError::Room(format!(
                    "room {room_id:?} numbers {:?} {}, out of 1..=2^31-1",
                    member.session, member.number
                )));
            }
            if let Some(key) = super::duplicate(room.status.iter().map(|(key, _)| key)) {
                return Err(InvariantError::Room(format!("room {room_id:?} has status key {key:?} twice")));
            }
        }
        Ok(())
    }

    /// Test-only drift: the room forgets `session`, which still lists it.
    #[cfg(test)]
    pub(crate) fn break_membership(&mut self, room: &RoomId, session: SessionId) {
        if let Some(room) = self.rooms.get_mut(room) {
            room.members.retain(|m| m.session != session);
        }
    }
}
